"""LoRA training on the tiny model: the loss drops, the file loads in plain diffusers (both layouts,
at the trained alpha), resume after a stop equals an uninterrupted run bit for bit, settings come
back from the file, and cancelling stops within a step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from engine.specs import collect_progress
from engine.training.lora import (
    LoraTrainConfig,
    LoraTrainer,
    LoraTrainingError,
    config_from_lora,
    list_checkpoints,
    min_snr_weights,
    preset_config,
    read_lora_info,
    save_lora,
    torch_threads,
    train_lora,
)
from engine.training.lora_data import Clip, LoraDataError, build_dataset, make_target

TINY_SD = Path(__file__).resolve().parents[1] / "assets" / "tiny-sd"
SR = 22050


@pytest.fixture(scope="module")
def dataset():
    target = make_target("starter", 1.28, height=64)  # 64 x 64 images: 8 x 8 latents
    t = np.arange(int(1.5 * SR)) / SR
    clips = [Clip(f"c{i}", (0.5 * np.sin(2 * np.pi * (300 + 60 * i) * t)).astype(np.float32), SR, f"tone {i}")
             for i in range(5)]
    return build_dataset(None, target, clips=clips, trigger="zorb")


# Rank 4 with alpha 8: a file that loaded at alpha = rank would give another output.
FAST = dict(rank=4, alpha=8.0, learning_rate=2e-2, batch_size=2, device="cpu", num_threads=1, validation_fraction=0.2)


drain = collect_progress


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "zorb.safetensors"
    config = LoraTrainConfig(max_steps=6, checkpoint_every=2, sample_every=3, validation_every=4,
                             validation_prompts=("zorb, tone 2",), sample_steps=2, **FAST)
    result, events = drain(train_lora(str(TINY_SD), dataset, out, config))
    return result, events, out, config


def sd_pipe():
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(TINY_SD), safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(pipe, prompt="zorb, tone 2"):
    with torch_threads(1):  # two threads on a busy 2-core machine spin-wait for seconds per step
        return pipe(prompt, num_inference_steps=2, height=64, width=64, guidance_scale=5.0,
                    generator=torch.Generator().manual_seed(0), output_type="np").images[0]


def test_training_lowers_the_loss_and_reports_progress(trained):
    result, events, out, config = trained
    assert result.steps == 6 and out.is_file()
    assert result.final_loss < result.initial_loss  # the same fixed noise and timesteps before and after
    stages = [e.stage for e in events]
    assert stages.count("train") == 6 and "estimate" in stages and "checkpoint" in stages
    train_events = [e for e in events if e.stage == "train"]
    assert [e.step for e in train_events] == list(range(1, 7)) and all(np.isfinite(e.loss) for e in train_events)
    estimate = next(e.estimate for e in events if e.stage == "estimate")
    assert estimate.total_steps == 6 and estimate.step_s > 0 and estimate.peak_memory_bytes > 0
    assert estimate.times_each_clip_seen == pytest.approx(6 * 2 / 4)  # 4 training clips, 1 held out
    validations = [e.validation_loss for e in events if e.stage == "validate"]
    assert validations[0] is not None and validations[-1] is not None
    samples = [s for e in events if e.stage == "sample" for s in e.samples]
    assert [s.step for s in samples] == [3, 6]
    first, last = samples
    assert first.image.shape == (64, 64, 3) and first.audio.ndim == 2 and first.sample_rate_hz == SR
    np.testing.assert_array_equal(first.base_image, last.base_image)  # the base model's output stays
    assert not np.array_equal(last.image, last.base_image)  # the LoRA changes it


def test_the_estimate_is_steps_times_a_timed_step_plus_the_costs_the_run_then_has(trained):
    """The estimate's model (steps left x the mean timed step + count x each timed cost) holds, its
    counts are what the run did after it, and it timed several steps after a warm-up."""
    _result, events, _out, config = trained
    at = next(i for i, e in enumerate(events) if e.stage == "estimate")
    estimate = events[at].estimate
    costs = {what: (n, wall, cpu) for what, n, wall, cpu in estimate.costs}
    assert estimate.steps_left == 6 and estimate.warmup_steps == 2 and estimate.timed_steps >= 10
    assert estimate.seconds == pytest.approx(6 * estimate.step_s + sum(n * w for n, w, _c in costs.values()))
    assert estimate.cpu_seconds == pytest.approx(6 * estimate.step_cpu_s + sum(n * c for n, _w, c in costs.values()))
    assert estimate.seconds_low <= estimate.seconds <= estimate.seconds_high
    assert estimate.cpu_clock == "thread" and estimate.threads == 1  # num_threads=1: this thread's CPU time
    assert estimate.process_peak_bytes > estimate.peak_memory_bytes  # measured: torch itself, the model, the run
    # the figure a user must have free comes first, the run's own tensors after it
    assert "B peak memory on cpu (this process's measured peak so far, the model and torch included" in \
        estimate.describe()
    after = events[at + 1:]
    validate = [e for e in after if e.stage == "validate"]
    rounds = [e for e in after if e.stage == "sample"]
    assert validate[0].step == 0  # the starting losses: measured before the estimate, not counted again
    assert costs["validation_evaluations"][0] == len(validate) - 1 == 2  # at step 4 and at the end
    assert costs["train_evaluations"][0] == 1  # at the end
    assert costs["generations"][0] == sum(len(e.samples) for e in rounds) == 2  # steps 3 and 6; base cached
    assert costs["checkpoints"][0] == sum(e.stage == "checkpoint" for e in after) == 2  # steps 2 and 4
    assert costs["saves"][0] == 1 and "setup" not in costs  # loading is over when a run estimates
    text = estimate.describe()
    assert text.startswith("6 steps (each clip seen 3.0 times)") and "wall time" in text and "CPU time" in text
    assert f"timed {estimate.timed_steps} steps after 2 warm-up" in text


def test_step_timing_drops_the_warm_up_and_reports_the_spread():
    from engine.training.lora_config import Estimate, StepTiming

    walls = [0.0, 5.0, 9.0, 10.0, 12.0, 13.0, 15.0]  # two slow warm-up steps, then 1, 2, 1, 2 s
    cpus = [0.0, 4.0, 8.0, 9.0, 10.0, 11.0, 12.0]
    timing = StepTiming.from_clocks(walls, cpus, 2)
    assert timing.wall_s == (1.0, 2.0, 1.0, 2.0) and timing.mean_wall_s == 1.5 and timing.mean_cpu_s == 1.0
    assert timing.spread_wall_s == pytest.approx(np.std([1, 2, 1, 2], ddof=1))
    estimate = Estimate.build(total_steps=100, steps_left=90, timing=timing, costs=(("generations", 3, 2.0, 1.0),),
                              peak_memory_bytes=1, trainable_parameters=1, times_each_clip_seen=1.0, device="cpu")
    assert estimate.seconds == 90 * 1.5 + 6.0 and estimate.cpu_seconds == 90 * 1.0 + 3.0
    assert estimate.seconds_high - estimate.seconds == pytest.approx(90 * timing.spread_wall_s)
    assert estimate.busy == 1.5 and "busy" not in estimate.describe()
    from dataclasses import replace

    assert replace(estimate, step_s=6.0).busy == 6.0 and "The machine is busy" in replace(estimate, step_s=6.0).describe()
    assert replace(estimate, step_s=6.0, device="cuda:0").busy == 0.0  # a GPU step: CPU time says nothing of load
    with pytest.raises(ValueError):
        StepTiming.from_clocks([0.0, 1.0], [0.0, 1.0], 2)


def test_time_steps_times_enough_steps_after_the_warm_up(text_encoder_trainer):
    ticks = iter(range(1000))
    timing = text_encoder_trainer.time_steps(clock=lambda: float(next(ticks)))  # one "second" per step
    assert timing.warmup_steps == 2 and timing.count == 10 and timing.mean_wall_s == 1.0
    long = iter(range(0, 100000, 7))
    timing = text_encoder_trainer.time_steps(clock=lambda: float(next(long)), max_seconds=30.0)
    assert timing.count == 5  # 7 s steps: stops at 30 s (35 s), below the minimum of 10 steps
    fast = iter(np.arange(0, 100, 0.01))
    assert text_encoder_trainer.time_steps(clock=lambda: float(next(fast))).count == 50  # at most max_steps


@pytest.fixture(scope="module")
def text_encoder_trainer(dataset):
    """Two steps on the UNet and the text encoder."""
    trainer = LoraTrainer(str(TINY_SD), dataset, LoraTrainConfig(max_steps=2, train_text_encoder=True, **FAST))
    with torch_threads(1):
        trainer.setup()
        trainer.train_step()
        trainer.train_step()
    return trainer


@pytest.mark.parametrize("fmt", ["diffusers", "kohya"])
def test_the_lora_loads_in_plain_diffusers_and_changes_the_output(text_encoder_trainer, tmp_path, fmt):
    trainer = text_encoder_trainer
    path = save_lora(trainer, tmp_path / f"lora_{fmt}.safetensors", fmt)
    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
        if fmt == "kohya":
            assert any(k.startswith("lora_unet_") for k in keys) and any(k.startswith("lora_te_") for k in keys)
            alphas = [k for k in keys if k.endswith(".alpha")]
            assert alphas and all(float(handle.get_tensor(k)) == 8.0 for k in alphas)  # the true alpha, not the rank
        else:
            assert any(k.startswith("unet.") for k in keys) and any(k.startswith("text_encoder.") for k in keys)
    pipe = sd_pipe()
    base = generate(pipe)
    pipe.load_lora_weights(str(path.parent), weight_name=path.name)
    with_lora = generate(pipe)
    assert np.abs(with_lora - base).max() > 1e-3
    # ... and exactly what the trained model itself makes (so alpha and both modules loaded right).
    from diffusers import StableDiffusionPipeline

    trainer.unet.eval()
    trainer.text_encoder.eval()
    own = StableDiffusionPipeline(vae=trainer.vae, text_encoder=trainer.text_encoder, tokenizer=trainer.pipe.tokenizer,
                                  unet=trainer.unet, scheduler=pipe.scheduler, safety_checker=None,
                                  feature_extractor=None, requires_safety_checker=False)
    own.set_progress_bar_config(disable=True)
    np.testing.assert_allclose(with_lora, generate(own), atol=1e-5)


def test_the_file_carries_its_settings_and_a_new_run_starts_from_them(trained):
    result, _, out, config = trained
    info = read_lora_info(out)
    assert info["base_model"] == str(TINY_SD) and info["trigger_words"] == ["zorb"]
    assert info["dataset"]["num_examples"] == 5 and info["dataset"]["num_validation"] == 1
    assert info["steps"] == 6
    again = config_from_lora(out, max_steps=10)
    assert again == LoraTrainConfig.from_json({**config.to_json(), "max_steps": 10})


def test_resume_after_a_stop_equals_an_uninterrupted_run(trained, dataset, tmp_path):
    _, _, uninterrupted, config = trained
    out = tmp_path / "resumed.safetensors"
    stopped = train_lora(str(TINY_SD), dataset, out, config)
    for event in stopped:  # stop the run right after its first checkpoint (as a crash would)
        if event.stage == "checkpoint":
            break
    stopped.close()
    assert not out.exists() and [p.parent.name for p in list_checkpoints(tmp_path / "resumed.training")] == [
        "step-00000002"
    ]
    result, events = drain(train_lora(str(TINY_SD), dataset, out, config, resume=True))
    assert [e.step for e in events if e.stage == "train"] == [3, 4, 5, 6]
    with safe_open(str(uninterrupted), framework="pt") as a, safe_open(str(out), framework="pt") as b:
        assert sorted(a.keys()) == sorted(b.keys())
        for key in a.keys():
            assert torch.equal(a.get_tensor(key), b.get_tensor(key)), key


def test_a_new_run_deletes_an_earlier_runs_checkpoints_only_says_so_and_a_resume_goes_on_with_it(
        trained, dataset, tmp_path):
    import shutil

    _, _, uninterrupted, config = trained
    run_dir = tmp_path / "again.training"
    shutil.copytree(uninterrupted.with_name("zorb.training"), run_dir)  # a finished earlier run's checkpoints
    old_steps = [int(p.parent.name[5:]) for p in list_checkpoints(run_dir)]
    assert old_steps[-1] == 4
    (run_dir / "checkpoints" / "notes.txt").write_text("the good one was step 4\n")  # the user's, not the run's
    out = tmp_path / "again.safetensors"
    stopped, said = train_lora(str(TINY_SD), dataset, out, config), []
    for event in stopped:  # a new run, stopped right after its first checkpoint
        said.append(event.message)
        if event.stage == "checkpoint":
            break
    stopped.close()
    assert [m for m in said if m.startswith("Deleted")] == [
        f"Deleted the {len(old_steps)} checkpoints an earlier run left in '{run_dir / 'checkpoints'}' (the newest "
        "after step 4): this new run starts from step 0"]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["notes.txt", "step-00000002"]
    assert (run_dir / "checkpoints" / "notes.txt").read_text() == "the good one was step 4\n"

    # The resume goes on from the new run's step 2 (not the old run's step 4), deletes nothing, and
    # ends bit for bit where the uninterrupted run does.
    result, events = drain(train_lora(str(TINY_SD), dataset, out, config, resume=True))
    assert [e.step for e in events if e.stage == "train"] == [3, 4, 5, 6]
    assert not any(e.message.startswith("Deleted") for e in events)
    assert (run_dir / "checkpoints" / "notes.txt").is_file()
    with safe_open(str(uninterrupted), framework="pt") as a, safe_open(str(out), framework="pt") as b:
        assert all(torch.equal(a.get_tensor(key), b.get_tensor(key)) for key in a.keys())


def test_resume_refuses_other_settings_and_missing_checkpoints(dataset, tmp_path):
    with pytest.raises(LoraTrainingError, match="Nothing to resume"):
        drain(train_lora(str(TINY_SD), dataset, tmp_path / "x.safetensors", LoraTrainConfig(max_steps=1, **FAST),
                         resume=True))


def test_cancel_stops_within_a_step_and_threads_are_restored(dataset, tmp_path):
    class Cancelled(Exception):
        pass

    class Ctx:
        cancelled = False

        def check_cancelled(self):
            if self.cancelled:
                raise Cancelled

    ctx = Ctx()
    threads = torch.get_num_threads()
    run = train_lora(str(TINY_SD), dataset, tmp_path / "c.safetensors",
                     LoraTrainConfig(max_steps=50, **{**FAST, "num_threads": max(1, threads - 1) if threads > 1 else 2}),
                     ctx=ctx)
    steps = []
    with pytest.raises(Cancelled):
        for event in run:
            assert torch.get_num_threads() == threads  # the job's setting never leaks to the consumer
            if event.stage == "train":
                steps.append(event.step)
                if event.step == 2:
                    ctx.cancelled = True
    assert steps == [1, 2]
    assert torch.get_num_threads() == threads


def test_min_snr_weights_follow_diffusers_for_epsilon_and_v():
    from diffusers import DDPMScheduler

    t = torch.tensor([0, 100, 500, 999])
    for prediction in ("epsilon", "v_prediction"):
        scheduler = DDPMScheduler(prediction_type=prediction)
        alphas = scheduler.alphas_cumprod[t]
        snr = alphas / (1 - alphas)
        expected = torch.minimum(snr, torch.full_like(snr, 5.0)) / (snr if prediction == "epsilon" else snr + 1)
        torch.testing.assert_close(min_snr_weights(scheduler, t, 5.0), expected)
    # epsilon: full weight where the SNR is below gamma (noisy steps), gamma / SNR above it
    assert float(min_snr_weights(DDPMScheduler(), torch.tensor([999]), 5.0)) == pytest.approx(1.0)


def test_settings_are_checked_with_clear_messages(dataset, tmp_path):
    with pytest.raises(LoraTrainingError, match="`rank` must be a positive number"):
        LoraTrainConfig(rank=0)
    with pytest.raises(LoraTrainingError, match="Unknown training preset 'huge'"):
        preset_config("huge")
    with pytest.raises(LoraTrainingError, match="must end in .safetensors"):
        drain(train_lora(str(TINY_SD), dataset, tmp_path / "x.ckpt", LoraTrainConfig(**FAST)))
    # Absurd settings a user may type: a learning rate no trainer uses (or not a number), a rank
    # wider than the model's layers (refused before the adapters take memory).
    with pytest.raises(LoraTrainingError, match="`learning_rate` 5 is far too high: LoRA trainers use 1e-5 to 1e-3"):
        LoraTrainConfig(learning_rate=5.0)
    with pytest.raises(LoraTrainingError, match="`learning_rate` must be a positive number, got inf"):
        LoraTrainConfig(learning_rate=float("inf"))
    with pytest.raises(LoraTrainingError, match=r"rank of 64 is more than this model's attention layers are wide \(32\)"):
        drain(train_lora(str(TINY_SD), dataset, tmp_path / "wide.safetensors", LoraTrainConfig(**{**FAST, "rank": 64})))
    assert not (tmp_path / "wide.safetensors").exists()
    config = preset_config("gpu-8gb")
    assert config.gradient_checkpointing and config.mixed_precision == "fp16"
    assert LoraTrainConfig(epochs=3, batch_size=2, gradient_accumulation_steps=2).total_steps(10) == 8  # ceil(30/4)


def test_a_folder_job_reports_skipped_files_and_its_lora_applies_in_the_engine(tmp_path):
    import soundfile as sf

    from engine.pipelines.generate import apply_loras, remove_loras
    from engine.tasks.train_lora import TrainLoraJob
    from engine.training.lora import run_train_lora

    data = tmp_path / "sounds"
    data.mkdir()
    t = np.arange(int(1.5 * SR)) / SR
    for i in range(3):
        sf.write(str(data / f"s{i}.wav"), 0.5 * np.sin(2 * np.pi * (400 + 100 * i) * t), SR)
    (data / "broken.wav").write_bytes(b"not audio")
    (data / "metadata.csv").write_text("file_name,text\ns0.wav,a low beep\n", encoding="utf-8")
    job = TrainLoraJob(output=str(tmp_path / "beep.safetensors"), model=str(TINY_SD), data_dir=str(data),
                       trigger="beepo", spectrogram_preset="starter", duration_s=1.28, height=64, num_steps=2,
                       settings=dict(sample_steps=2, **{**FAST, "validation_fraction": 0.0}))
    (result,), events = drain(run_train_lora(job))
    assert [s.prompt for e in events if e.stage == "sample" for s in e.samples] == ["beepo"]  # the trigger by default
    report = [e.message for e in events if e.stage == "dataset"][-1]
    assert report.startswith("3 sounds, skipped 1 (broken.wav:")
    (path,) = result.files
    assert read_lora_info(path)["dataset"]["captions"] == ["beepo, a low beep", "beepo, s1", "beepo, s2"]
    assert result.recipe.task == "train_lora" and result.recipe.facts["steps"] == 2
    from engine.models.loading import load_pipeline
    from engine.models.policy import LoadPolicy
    from engine.models.store import ModelStore

    loaded = load_pipeline(ModelStore().resolve(str(TINY_SD)), LoadPolicy(device="cpu", precision="fp32"))
    base = loaded.pipeline.unet.state_dict()["down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight"].clone()
    names = apply_loras(loaded.pipeline, ((str(path), 1.0),))
    assert names and any("lora" in k for k in loaded.pipeline.unet.state_dict())
    remove_loras(loaded.pipeline, names)
    assert torch.equal(loaded.pipeline.unet.state_dict()["down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight"], base)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoraDataError, match="holds no audio files"):
        drain(run_train_lora(TrainLoraJob(output=str(tmp_path / "x.safetensors"), model=str(TINY_SD),
                                          data_dir=str(tmp_path / "empty"), spectrogram_preset="starter",
                                          duration_s=1.28, height=64)))
