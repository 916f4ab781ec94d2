"""The train_lora task (issue 13): through the engine's worker and specdiff-cli train-lora, on the
tiny model. A generation submitted during training finishes first; a paused run keeps its model
and ends with the weights of an uninterrupted one; a run stopped after a checkpoint resumes bit for
bit; the estimate comes before training; bad data and settings give one-line messages."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from safetensors import safe_open
from test_worker import Recorder

from engine.api import (
    Engine,
    EngineSettings,
    JobCancelled,
    JobFinished,
    JobPaused,
    JobProgress,
    JobResumed,
    spec_from_recipe,
)
from engine.tasks.train_lora import TrainLoraJob
from engine.training.lora import read_lora_info
from engine.training.lora_config import Estimate

TINY_SD = Path(__file__).resolve().parents[1] / "assets" / "tiny-sd"
SR = 22050
#: The tiny model has no card: it is told its spectrogram (64 x 64 'starter' images).
TINY = dict(spectrogram_preset="starter", duration_s=1.28, height=64)
FAST = dict(rank=4, alpha=8.0, learning_rate=2e-2, batch_size=2, device="cpu", num_threads=1,
            validation_fraction=0.2, sample_steps=2)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sounds")
    t = np.arange(int(1.5 * SR)) / SR
    for i in range(5):
        sf.write(str(folder / f"tone_{i}.wav"), 0.5 * np.sin(2 * np.pi * (300 + 60 * i) * t), SR)
    return folder


def job(sounds, out, **kw):
    args = dict(output=str(out), model=str(TINY_SD), data_dir=str(sounds), trigger="zorb", num_steps=6,
                checkpoint_every=2, settings=dict(FAST, **kw.pop("settings", {})), **TINY)
    args.update(kw)
    return TrainLoraJob(**args)


class Events(Recorder):
    def wait(self, predicate, timeout=300):
        self.wait_for(predicate, timeout)

    def steps(self, job_id):
        return [e.progress.step for e in self.of(job_id, JobProgress) if e.progress.stage == "train"]


def tensors(path):
    with safe_open(str(path), framework="pt") as handle:
        return {key: handle.get_tensor(key) for key in handle.keys()}


def assert_same_weights(a, b):
    ta, tb = tensors(a), tensors(b)
    assert sorted(ta) == sorted(tb)
    for key in ta:
        assert (ta[key] == tb[key]).all(), key


@pytest.fixture(scope="module")
def engine():
    events = Events()
    eng = Engine(EngineSettings(device="cpu", offline=True), events)
    eng.events = events
    yield eng
    eng.shutdown()


@pytest.fixture(scope="module")
def uninterrupted(engine, sounds, tmp_path_factory):
    out = tmp_path_factory.mktemp("plain") / "zorb.safetensors"
    (result,) = engine.run(job(sounds, out), timeout_s=600)
    return result, out


def test_the_task_trains_a_lora_with_its_recipe_and_losses(uninterrupted):
    result, out = uninterrupted
    assert result.files == (out,) and out.is_file()
    facts = result.recipe.facts
    assert facts["steps"] == 6 and facts["final_loss"] < facts["initial_loss"]
    assert result.recipe.task == "train_lora" and result.recipe.params["settings"]["rank"] == 4
    again = spec_from_recipe(result.recipe, overrides={"output": str(out.with_name("again.safetensors"))})
    assert isinstance(again, TrainLoraJob) and again.config == TrainLoraJob(output=str(out), model=str(TINY_SD),
                                                                              data_dir="x", settings=again.settings).config
    assert again.trigger == "zorb" and again.num_steps == 6 and again.height == 64
    assert read_lora_info(out)["trigger_words"] == ["zorb"]


def test_a_generation_submitted_during_training_finishes_first_and_pause_keeps_the_result(
        engine, sounds, uninterrupted, tmp_path):
    from engine.api import GenerateJob

    events = engine.events
    out = tmp_path / "paused.safetensors"
    train = engine.submit(job(sounds, out))
    events.wait(lambda evs: len(events.steps(train)) >= 2)
    assert engine.pause(train)
    events.wait(lambda evs: events.of(train, JobPaused))
    at_pause = len(events.steps(train))
    generation = engine.submit(GenerateJob("zorb", model=str(TINY_SD), seed=1, num_inference_steps=2,
                                           duration_s=0.64))
    events.wait(lambda evs: events.of(generation, JobFinished))
    assert len(events.steps(train)) == at_pause  # paused: no step while the generation ran
    assert not events.of(train, JobFinished)
    assert engine.resume(train)
    events.wait(lambda evs: events.of(train, JobFinished))
    assert events.of(train, JobResumed)
    finished = [e.job_id for e in events.events if isinstance(e, JobFinished)]
    assert finished.index(generation) < finished.index(train)
    assert events.steps(train) == [1, 2, 3, 4, 5, 6]
    assert_same_weights(out, uninterrupted[1])  # a pause changes nothing in the result

    # Without a pause too: a generation submitted while training runs is served between its steps.
    train = engine.submit(job(sounds, tmp_path / "again.safetensors", num_steps=40, checkpoint_every=0))
    events.wait(lambda evs: len(events.steps(train)) >= 1)
    generation = engine.submit(GenerateJob("zorb", model=str(TINY_SD), seed=2, num_inference_steps=2,
                                           duration_s=0.64))
    events.wait(lambda evs: events.of(generation, JobFinished))
    assert not events.of(train, JobFinished) and len(events.steps(train)) < 40
    engine.cancel(train)
    events.wait(lambda evs: events.of(train, JobCancelled))


def test_a_run_stopped_after_a_checkpoint_resumes_bit_for_bit(engine, sounds, uninterrupted, tmp_path):
    events = engine.events
    out = tmp_path / "crashed.safetensors"
    first = engine.submit(job(sounds, out))
    events.wait(lambda evs: any(e.progress.stage == "checkpoint" for e in events.of(first, JobProgress)))
    engine.cancel(first)  # as a crash would: the run ends between checkpoints
    events.wait(lambda evs: events.of(first, JobCancelled))
    assert not out.exists()
    (result,) = engine.run(job(sounds, out, resume=True), timeout_s=600)
    assert result.recipe.facts["steps"] == 6
    assert_same_weights(out, uninterrupted[1])


def test_an_incomplete_checkpoint_is_never_resumed(engine, sounds, uninterrupted, tmp_path):
    out = tmp_path / "half.safetensors"
    spec = job(sounds, out)
    engine.run(spec, timeout_s=600)
    # Checkpoints of steps 2 and 4 were kept; a crash while writing step 4's leaves it unmarked.
    (Path(spec.output_dir) / "checkpoints" / "step-00000004" / "complete").unlink()
    steps = []
    engine.run(job(sounds, out, resume=True), lambda p: steps.append(p.step) if p.stage == "train" else None,
               timeout_s=600)
    assert steps == [3, 4, 5, 6]
    assert_same_weights(out, uninterrupted[1])


def test_the_estimate_comes_before_training(engine, sounds, tmp_path):
    estimate = engine.run(job(sounds, tmp_path / "e.safetensors", estimate_only=True), timeout_s=600)
    assert isinstance(estimate, Estimate)
    assert estimate.total_steps == 6 and estimate.step_s > 0 and estimate.peak_memory_bytes > 0
    assert "6 steps" in estimate.describe() and not (tmp_path / "e.safetensors").exists()
    costs = {what: n for what, n, _wall, _cpu in estimate.costs}
    # Before a run: loading again, both losses at the start and the end, the base model's samples too.
    assert costs["setup"] == 1 and costs["train_evaluations"] == 2 and costs["generations"] == 2
    assert estimate.steps_left == 6 and estimate.timed_steps >= 10


def test_bad_data_and_settings_give_one_line_messages(engine, tmp_path):
    from engine.api import JobFailedError

    def fails(folder, match):
        with pytest.raises(JobFailedError, match=match) as error:
            engine.run(job(folder, tmp_path / "x.safetensors"), timeout_s=600)
        assert "\n" not in str(error.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    fails(empty, "holds no audio files")
    no_audio = tmp_path / "no_audio"  # files, but none of them sound
    no_audio.mkdir()
    (no_audio / "notes.txt").write_text("a kick drum")
    (no_audio / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    fails(no_audio, "holds no audio files")
    silent = tmp_path / "silent"
    silent.mkdir()
    for i in range(2):
        sf.write(str(silent / f"quiet_{i}.wav"), np.zeros(SR), SR)
    fails(silent, "silent")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.wav").write_bytes(b"RIFF nonsense")
    (broken / "notes.txt").write_text("not audio")
    fails(broken, "a.wav")
    with pytest.raises(ValueError, match="must end in .safetensors"):
        job(empty, tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="Unknown training preset 'huge'"):
        job(empty, tmp_path / "x.safetensors", preset="huge")
    with pytest.raises(ValueError, match="Unknown LoRA training settings"):
        job(empty, tmp_path / "x.safetensors", settings={"rnak": 4})
    with pytest.raises(ValueError, match="No sounds to train on"):
        TrainLoraJob(output=str(tmp_path / "x.safetensors"), model=str(TINY_SD))


def test_the_command_line_trains_and_refuses_bad_data_in_one_line(sounds, tmp_path, capsys):
    from engine.cli import main

    out = tmp_path / "cli.safetensors"
    common = ["--model", str(TINY_SD), "--spectrogram-preset", "starter", "--duration", "1.28", "--height", "64",
              "--threads", "1", "--device", "cpu", "--offline"]
    data = tmp_path / "data"  # the sounds and a file that is not audio: skipped, and the user told which
    shutil.copytree(sounds, data)
    (data / "broken.wav").write_bytes(b"RIFF nonsense")
    assert main(["train-lora", str(data), "-o", str(out), "--steps", "2", "--rank", "2", "--trigger", "beepo",
                 "--format", "kohya", *common]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert printed.startswith(f"Wrote {out}: 2 steps, training loss ")
    assert "; 5 sounds, 1 skipped: broken.wav (" in printed
    assert "dataset: 5 sounds, skipped 1 (broken.wav: " in captured.err  # before the run, too
    # stderr is not a terminal here: training still reports its progress, as lines with the loss
    assert [line.split(",")[0] for line in captured.err.splitlines() if line.startswith("train:")] == [
        "train: step 1/2", "train: step 2/2"]
    assert "train: step 2/2, loss " in captured.err
    (estimate,) = [line for line in captured.err.splitlines() if line.startswith("estimate:")]
    assert estimate.startswith("estimate: 2 steps (each clip seen") and "CPU time" in estimate  # before step 1
    advice = captured.err.splitlines()[captured.err.splitlines().index(estimate) + 1]  # the line to act on
    assert captured.err.index("estimate:") < captured.err.index("train: step 1/2")
    info = read_lora_info(out)
    assert info["format"] == "kohya" and info["settings"]["rank"] == 2 and info["settings"]["alpha"] == 2.0
    assert info["trigger_words"] == ["beepo"]
    # 2 steps of 4 clips (the preset's batch) over 4 training clips: the estimate says that is short
    assert advice.startswith("Each clip is seen only 2 times") and "underfit" in advice
    # An estimate of a long run (nothing trained): far more showings than peers use, and a length advised
    assert main(["train-lora", str(sounds), "-o", str(out), "--steps", "2400", "--batch-size", "2", "--estimate",
                 *common]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("2400 steps (each clip seen 1200.0 times)")
    assert "Each clip is seen 1200 times, more than the 100-400 times" in printed
    assert "about 400 steps would show each clip 200 times" in printed
    (tmp_path / "empty").mkdir()
    assert main(["train-lora", str(tmp_path / "empty"), "-o", str(tmp_path / "x.safetensors"), *common]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds no audio files" in error
    assert main(["train-lora", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.safetensors"), *common]) == 2
    assert "does not exist" in capsys.readouterr().err
    # Absurd numbers are refused in one line naming the flag the user typed (not the spec's field)
    for flags, said in ((["--steps", "0"], "--steps must be at least 1, got 0"),  # was: the preset's 900 steps
                        (["--batch-size", "0"], "--batch-size must be a positive number"),
                        (["--lr", "5"], "--lr 5 is far too high"),
                        (["--duration", "1000"], "--duration must be between"),
                        (["--threads", "0"], "--threads must be a positive integer")):
        assert main(["train-lora", str(sounds), "-o", str(tmp_path / "x.safetensors"), *common, *flags]) == 2, flags
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and said in error and "`" not in error, error
    # A base model that is not there, or not a model: said before the sounds are read or a spectrogram asked for
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    for model, said in ((str(not_a_model), "is not a complete diffusers Stable Diffusion pipeline"),
                        ("nobody/nothing", "Model 'nobody/nothing' is not downloaded")):
        assert main(["train-lora", str(sounds), "-o", str(tmp_path / "x.safetensors"), "--model", model,
                     "--device", "cpu", "--offline"]) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and said in error and "spectrogram" not in error, error
    assert main(["train-lora", str(sounds), "-o", str(tmp_path / "x.safetensors"), "--resume", *common]) == 1
    assert "Nothing to resume" in capsys.readouterr().err


def test_quiet_hides_the_progress_but_not_skipped_files_advice_or_the_output(sounds, tmp_path, capsys):
    """`train-lora -q` used to drop the dataset line (which files were skipped, and why) and the
    estimate's advice with the progress: a user saw only the result. Now only the step lines go."""
    from engine.cli import main

    data = tmp_path / "data"
    shutil.copytree(sounds, data)
    (data / "broken.wav").write_bytes(b"RIFF nonsense")
    out = tmp_path / "quiet.safetensors"
    assert main(["train-lora", str(data), "-o", str(out), "--steps", "2", "--rank", "2", "-q", "--model", str(TINY_SD),
                 "--spectrogram-preset", "starter", "--duration", "1.28", "--height", "64", "--threads", "1",
                 "--device", "cpu", "--offline"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"Wrote {out}: 2 steps") and out.is_file()  # the output path, on stdout
    err = captured.err.splitlines()
    assert not any(line.startswith("train:") for line in err), captured.err  # no progress
    (dataset,) = [line for line in err if line.startswith("dataset:")]
    assert dataset.startswith("dataset: 5 sounds, skipped 1 (broken.wav: ")
    (estimate,) = [line for line in err if line.startswith("estimate:")]
    advice = err[err.index(estimate) + 1]
    assert advice.startswith("Each clip is seen only 2 times") and "underfit" in advice
    # On a terminal -q draws no bar either, and the same lines still print
    from engine.cli.common import ProgressBar
    from engine.specs import Progress

    screen = io.StringIO()
    bar = ProgressBar(enabled=False, file=screen)
    for event in (Progress("dataset", 1, 1, "4 sounds, skipped 1 (a.wav: not audio)"),
                  Progress("load", 0, 0, "Loading"), Progress("train", 1, 900, "step 1")):
        bar(event)
    bar.close()
    assert screen.getvalue() == "dataset: 4 sounds, skipped 1 (a.wav: not audio)\n"


def test_a_rank_wider_than_the_model_is_refused_before_the_sounds_are_read(sounds, tmp_path, capsys):
    """The rank of a LoRA cannot usefully exceed the widest layer it adapts (the smaller of its in
    and out sizes): 64 for the starter model, 32 for the tiny model. --rank above it is one line
    naming the largest useful rank, before the dataset is read or the model loaded."""
    from engine.cli import main
    from engine.models.catalog import STARTER_MODEL_ID
    from engine.training.lora import rank_limit

    assert rank_limit(STARTER_MODEL_ID) == rank_limit(STARTER_MODEL_ID, train_text_encoder=True) == 64
    assert rank_limit(str(TINY_SD)) == 32
    # read from the configs, it is what the loaded layers say (what the trainer refuses a rank by)
    from engine.models.loading import load_pipeline
    from engine.models.policy import LoadPolicy
    from engine.training.lora import TEXT_TARGETS, UNET_TARGETS, _layer_width, resolve_model

    for model in (STARTER_MODEL_ID, str(TINY_SD)):
        pipe = load_pipeline(resolve_model(model), LoadPolicy(device="cpu", precision="fp32")).pipeline
        assert rank_limit(model) == _layer_width(pipe.unet, UNET_TARGETS)
        assert rank_limit(model, train_text_encoder=True) == max(_layer_width(pipe.unet, UNET_TARGETS),
                                                                 _layer_width(pipe.text_encoder, TEXT_TARGETS))
    capsys.readouterr()  # the libraries' notes while loading
    for model, rank, limit in ((STARTER_MODEL_ID, 65, 64), (str(TINY_SD), 33, 32)):
        assert main(["train-lora", str(sounds), "-o", str(tmp_path / "x.safetensors"), "--model", model, "--rank",
                     str(rank), "--offline", "-q"]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and f"--rank {rank} is more than the model can use" in error, error
        assert f"is {limit} wide" in error and f"use --rank {limit} or less" in error and "dataset" not in error
    assert not (tmp_path / "x.training").exists()


def test_a_gpu_preset_on_a_machine_without_one_names_the_cpu_preset(sounds, tmp_path, capsys):
    import torch

    from engine.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main(["train-lora", str(sounds), "-o", str(tmp_path / "x.safetensors"), "--preset", "gpu-8gb",
                 "--offline"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "the gpu-8gb preset trains on a CUDA GPU" in error
    assert "--preset cpu-starter" in error and "settings" not in error.split("(")[0]


def test_ctrl_c_says_whether_resume_goes_on_and_from_which_step(sounds, tmp_path):
    """What a user reads after Ctrl-C in specdiff-cli train-lora (the job is cancelled within a
    step; its complete checkpoints stay): where --resume goes on from, or that there is nothing yet."""
    from engine.cli.commands import interrupted_message

    spec = job(sounds, tmp_path / "z.safetensors", num_steps=300, checkpoint_every=100)
    assert interrupted_message(spec) == ("interrupted before the first checkpoint (one every 100 steps): nothing to "
                                         "resume, the run starts over")
    spec.save_checkpoint(100, lambda folder: (folder / "state.pt").write_bytes(b"state"))
    (tmp_path / "z.training" / "checkpoints" / "step-00000200").mkdir()  # being written when stopped: not complete
    assert interrupted_message(spec) == (f"interrupted; the checkpoint after step 100 of 300 is in "
                                         f"'{tmp_path / 'z.training'}': the same command with --resume goes on from it")
    from engine.api import GenerateJob

    assert interrupted_message(GenerateJob("zorb")) == "interrupted"


def test_a_new_run_over_an_unfinished_one_asks_for_resume_or_overwrite(sounds, tmp_path, capsys):
    """Running the command again without --resume deleted the unfinished run's checkpoints."""
    from engine.cli import main

    out = tmp_path / "z.safetensors"
    spec = job(sounds, out, num_steps=300, checkpoint_every=100)
    spec.save_checkpoint(100, lambda folder: (folder / "state.pt").write_bytes(b"state"))
    command = ["train-lora", str(sounds), "-o", str(out), "--model", str(TINY_SD), "--steps", "300", "--offline"]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds checkpoints of an earlier run (the newest after step 100)" in error
    assert "pass --resume to go on from it, or --overwrite to start over" in error
    assert (tmp_path / "z.training" / "checkpoints" / "step-00000100" / "state.pt").is_file()  # kept


def test_a_terminal_shows_the_dataset_and_the_estimate_as_lines_above_the_bar():
    """On a terminal the bar's label was all a user saw of the skipped files and of the estimate
    (with its advice on the run's length); they are lines above the bar now, as in a log."""
    from engine.cli.common import ProgressBar
    from engine.specs import Progress

    screen = io.StringIO()
    bar = ProgressBar(enabled=True, file=screen)
    for event in (Progress("dataset", 0, 1, "Reading the sounds"),
                  Progress("dataset", 1, 1, "4 sounds, skipped 1 (a.wav: not audio)"),
                  Progress("load", 0, 0, "Loading"),
                  Progress("estimate", 0, 900, "900 steps ... Each clip is seen 1200 times"),
                  Progress("train", 1, 900, "step 1")):
        bar(event)
    bar.close()
    lines = screen.getvalue().replace("\r", "\n").splitlines()
    assert "dataset: 4 sounds, skipped 1 (a.wav: not audio)" in lines
    assert "estimate: 900 steps ... Each clip is seen 1200 times" in lines
    assert not any("Reading the sounds" in line for line in lines)  # a label, as before


def test_the_starter_model_learns_and_its_lora_changes_a_starter_generation(engine, tmp_path):
    """The shipped starter model (its card names its spectrogram): 12 steps on four beeps lower the
    training loss, and the LoRA changes what the trigger word generates."""
    from engine.api import GenerateJob
    from engine.models.catalog import STARTER_MODEL_DIR

    folder = tmp_path / "beeps"
    folder.mkdir()
    t = np.arange(3 * SR) / SR
    for i in range(4):
        sf.write(str(folder / f"beep_{i}.wav"), 0.5 * np.sin(2 * np.pi * (500 + 50 * i) * t), SR)
    spec = TrainLoraJob(output=str(tmp_path / "bip.safetensors"), model=str(STARTER_MODEL_DIR), data_dir=str(folder),
                        trigger="bip", num_steps=12, checkpoint_every=0,
                        settings=dict(learning_rate=5e-3, batch_size=2, validation_fraction=0.25, sample_steps=2,
                                      sample_every=0))
    (result,) = engine.run(spec, timeout_s=600)
    facts = result.recipe.facts
    assert facts["final_loss"] < facts["initial_loss"] and facts["dataset"]["num_examples"] == 4

    def generate(loras=()):
        job = GenerateJob("bip", model=str(STARTER_MODEL_DIR), seed=3, num_inference_steps=4, duration_s=2.56,
                          spectrogram_preset="starter", loras=loras)
        return engine.run(job, timeout_s=600)[0].audio

    assert not np.array_equal(generate(), generate(((str(result.files[0]), 1.0),)))
