"""The AudioToken-style adapter (issue 16 part 2, SD target): a clip -> pseudo-words in SD 1.5's text
space, trained with SD frozen. Tiny random-weight SD components built from configs with SD's real
geometry (tests/assets/tiny-sd: the VAE downsamples by 8, CLIP text encoder with 77 positions),
loaded through the real store path with no network; the audio encoder is the shipped starter
picture model's.

A random tiny UNet barely reads its text (its cross-attention adds little to its residual
stream: a perfect prompt would lower its loss by a fraction of a percent), so the tests use a copy
of tiny-sd whose cross-attention output is scaled up 30 times: the text then matters as it does
in a trained SD, and what the adapter learns shows in the loss and in the pictures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from assets.make_tiny_sd import TINY_SD_DIR
from PIL import Image

from engine.cli import main
from engine.pictures.png import read_png_recipe

RATE = 22050
ROOT = Path(__file__).resolve().parents[2]
TRAIN = ("--size", "64", "--batch", "2", "--lr", "1e-3", "--seed", "1", "--offline", "--device", "cpu")
DRAW = ("--steps", "3", "--size", "64", "--offline", "--device", "cpu")


def tone(hz: float = 440.0, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None, :]


def beat(seconds: float = 2.0) -> np.ndarray:
    noise = np.random.default_rng(0).standard_normal(int(seconds * RATE))
    return (0.3 * noise * (np.arange(noise.size) % 5000 < 800)).astype(np.float32)[None, :]


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory) -> Path:
    """tiny-sd with its UNet's cross-attention output (attn2.to_out) scaled up 30 times."""
    import shutil

    from diffusers import UNet2DConditionModel

    folder = tmp_path_factory.mktemp("adapter") / "text-minded-tiny-sd"
    shutil.copytree(TINY_SD_DIR, folder)
    unet = UNet2DConditionModel.from_pretrained(TINY_SD_DIR, subfolder="unet")
    with torch.no_grad():
        for name, module in unet.named_modules():
            if name.endswith("attn2.to_out.0"):
                module.weight.mul_(30.0)
                module.bias.mul_(30.0)
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory) -> Path:
    """A small picture model with random weights (seeded) whose audio encoder hears for the unit
    tests, so their figures do not move when the shipped starter picture model is retrained."""
    from engine.pictures.model import PictureModel, PictureModelCard, PictureModelConfig, save_picture_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("adapter") / "random-picture-model"
    config = PictureModelConfig(encoder_width=8, tokens=2, token_dim=16, block_out_channels=(8, 16, 16),
                                norm_num_groups=4)
    return save_picture_model(PictureModel(config), folder, PictureModelCard(title="random encoder"), half=False)


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory) -> Path:
    """A CLAP model (transformers' ClapModel, HTSAT audio tower and RoBERTa text tower) with random
    weights at a tiny width, laid out as laion/clap-htsat-unfused is (its feature extractor's
    settings: 48 kHz, 10 s, 64 mel bins, rand_trunc/repeatpad)."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    folder = tmp_path_factory.mktemp("adapter") / "tiny-clap"
    audio = dict(depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1], patch_embeds_hidden_size=8, hidden_size=64,
                 projection_dim=16)
    text = dict(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=1, intermediate_size=20,
                projection_dim=16, max_position_embeddings=40)
    torch.manual_seed(0)
    ClapModel(ClapConfig(text_config=text, audio_config=audio, projection_dim=16)).save_pretrained(folder)
    ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad").save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    """Two (sound, picture) pairs: a tone with a left-white picture, a beat with a bottom-blue one."""
    folder = tmp_path_factory.mktemp("adapter") / "pairs"
    folder.mkdir()
    left, bottom = np.zeros((80, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)
    left[:, :32], bottom[32:] = 255, (0, 0, 255)
    for name, audio, picture in (("tone", tone(), left), ("beat", beat(), bottom)):
        soundfile.write(folder / f"{name}.wav", audio.T, RATE)
        Image.fromarray(picture).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="module")
def adapter_dir(sd_dir, pairs, tmp_path_factory) -> Path:
    """An adapter trained through `specdiff-cli train-pictures --base <SD folder>` (20 steps, a
    checkpoint at 10)."""
    out = tmp_path_factory.mktemp("adapter") / "mine"
    status = main([str(a) for a in ("train-pictures", pairs, "-o", out, "--steps", "20", "--checkpoint-every", "10",
                                    "-q", "--base", sd_dir, *TRAIN)])
    assert status == 0
    return out


def sd_state(pipe) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": value.clone() for name in ("unet", "vae", "text_encoder")
            for key, value in getattr(pipe, name).state_dict().items()}


def test_a_pseudo_word_enters_the_prompt_exactly_where_a_word_would(tmp_path):
    """Put a real word's input embedding in the placeholder's slot and the text encoder gives the
    prompt with that word, to the bit; two placeholders and several tokens each take their slots."""
    from engine.models.loading import load_pipeline
    from engine.models.store import ModelStore
    from engine.pictures.adapter import encode_plain, encode_with_audio, prompt_ids, slot_token

    pipe = load_pipeline(ModelStore(cache_dir=tmp_path / "hub", offline=True).resolve(str(TINY_SD_DIR))).pipeline
    tokenizer, text_encoder = pipe.tokenizer, pipe.text_encoder
    piano_id, piano_ids = slot_token(tokenizer, "piano")
    assert piano_ids == [piano_id]  # one token in the tiny vocabulary
    slot_id, _ = slot_token(tokenizer, "sound")
    ids, slots = prompt_ids(tokenizer, "a photo of <audio>", "<audio>", 1, slot_id)
    assert ids.shape == (1, 77) and ids[0, 0] == tokenizer.bos_token_id and ids[0, slots[0] + 1] == tokenizer.eos_token_id
    word = text_encoder.get_input_embeddings().weight[piano_id][None, None, :]
    with torch.no_grad():
        assert torch.equal(encode_with_audio(text_encoder, ids, slots, word), encode_plain(pipe, "a photo of piano"))
        ids2, slots2 = prompt_ids(tokenizer, "<audio> jazz <audio>", "<audio>", 2, slot_id)
        assert len(slots2) == 4 and slots2[:2] == [1, 2]
        two = torch.cat([word, word], dim=1)
        assert torch.equal(encode_with_audio(text_encoder, ids2, slots2, two),
                           encode_plain(pipe, "piano piano jazz piano piano"))
    with pytest.raises(ValueError, match="has no <audio>"):
        prompt_ids(tokenizer, "a photo", "<audio>", 1, slot_id)
    with pytest.raises(ValueError, match="shorten it"):
        prompt_ids(tokenizer, "jazz " * 80 + "<audio>", "<audio>", 1, slot_id)


def test_training_lowers_the_loss_and_changes_only_the_embedder(sd_dir, encoder_dir, pairs, tmp_path):
    """SD's UNet, VAE and text encoder stay bit-identical; the embedder learns; the denoising loss
    at fixed draws goes down; the adapter saved and loaded back through `illustrate` draws exactly
    the picture the trained adapter drew in memory."""
    from engine.api import Engine, EngineSettings
    from engine.models.loading import load_pipeline
    from engine.models.store import ModelStore
    from engine.pictures.adapter import SAMPLE_STEPS, TEMPLATE, AdapterCard, AdapterTrainer, new_adapter, save_adapter
    from engine.pictures.video import square_picture
    from engine.tasks.illustrate import IllustrateJob
    from engine.tasks.train_pictures import TrainPicturesJob

    store = ModelStore(cache_dir=tmp_path / "hub", offline=True)
    loaded = load_pipeline(store.resolve(str(sd_dir)))
    adapter = new_adapter(str(encoder_dir), store, token_dim=32, tokens=1, template=TEMPLATE, seed=1)
    clips = np.stack([adapter.prepare(tone(), RATE), adapter.prepare(beat(), RATE)])
    pictures = [square_picture(np.asarray(Image.open(pairs / f"{name}.png").convert("RGB")), 64)
                for name in ("tone", "beat")]
    spec = TrainPicturesJob(pairs_dir=str(pairs), output_dir=str(tmp_path / "out"), base=str(sd_dir), size=64,
                            num_steps=30, batch_size=2, learning_rate=1e-3, seed=1)
    trainer = AdapterTrainer(spec, loaded, adapter, adapter.embed_audio(clips), pictures)
    sd_before = sd_state(loaded.pipeline)
    embedder_before = {k: v.clone() for k, v in trainer.embedder.state_dict().items()}
    before = trainer.evaluate()
    for _ in range(30):
        trainer.train_step()
    after = trainer.evaluate()
    assert after < before * 0.99, (before, after)  # 1.6% lower here, at the same draws
    sd_after = sd_state(loaded.pipeline)
    assert sd_after.keys() == sd_before.keys()
    assert all(torch.equal(sd_before[k], sd_after[k]) for k in sd_before)
    changed = [k for k, v in trainer.embedder.state_dict().items() if not torch.equal(v, embedder_before[k])]
    assert {"fc1.weight", "fc2.weight"} <= set(changed) and "init" not in changed
    assert all(not p.requires_grad for name in ("unet", "vae", "text_encoder")
               for p in getattr(loaded.pipeline, name).parameters())

    in_memory = trainer.draw(0)
    folder = save_adapter(trainer.adapter, tmp_path / "saved", AdapterCard(base_model=str(sd_dir)))
    with Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path / "hub"))) as engine:
        drawn = engine.run(IllustrateJob(audio=tone(), sample_rate_hz=RATE, model=str(folder), seed=0, style="",
                                         num_inference_steps=SAMPLE_STEPS, guidance_scale=7.5, scheduler="ddim",
                                         width=64, height=64))[0]
    assert np.array_equal(np.asarray(drawn.pictures[0]), in_memory)


def test_gradient_checkpointing_trains_the_same_embedder(sd_dir, encoder_dir, pairs, tmp_path):
    """The GPU path recomputes the frozen UNet's activations in the backward pass (checked here on
    the CPU): the losses and the embedder come out as without it."""
    from engine.models.loading import load_pipeline
    from engine.models.store import ModelStore
    from engine.pictures.adapter import TEMPLATE, AdapterTrainer, new_adapter
    from engine.tasks.train_pictures import TrainPicturesJob

    store = ModelStore(cache_dir=tmp_path / "hub", offline=True)
    spec = TrainPicturesJob(pairs_dir=str(pairs), output_dir=str(tmp_path / "out"), base=str(sd_dir), size=64,
                            num_steps=3, batch_size=2, learning_rate=1e-3, seed=1)
    runs = []
    for checkpointing in (False, True):
        loaded = load_pipeline(store.resolve(str(sd_dir)))
        adapter = new_adapter(str(encoder_dir), store, token_dim=32, tokens=1, template=TEMPLATE, seed=1)
        trainer = AdapterTrainer(spec, loaded, adapter, torch.randn(2, 128, generator=torch.Generator().manual_seed(0)),
                                 [np.full((64, 64, 3), 200, np.uint8), np.zeros((64, 64, 3), np.uint8)],
                                 gradient_checkpointing=checkpointing)
        assert loaded.pipeline.unet.is_gradient_checkpointing == checkpointing
        runs.append(([trainer.train_step() for _ in range(3)], trainer.embedder.state_dict()))
    (plain, plain_state), (checked, checked_state) = runs
    assert np.allclose(plain, checked, rtol=1e-5, atol=0)
    assert all(torch.allclose(plain_state[k], checked_state[k], rtol=1e-4, atol=1e-7) for k in plain_state)
    assert not torch.equal(plain_state["fc2.weight"], torch.zeros_like(plain_state["fc2.weight"]))


def test_train_pictures_with_an_sd_base_writes_an_adapter_folder(sd_dir, adapter_dir):
    folder = adapter_dir
    data = json.loads((folder / "audio_adapter.json").read_text())
    card, config = data["card"], data["config"]
    assert data["format"] == "specdiff-audio-adapter"
    assert card["base_model"] == str(sd_dir.resolve()) and card["audio_encoder"] == "builtin:pictures"
    assert config["tokens"] == 1 and config["template"] == "a photo of <audio>" and config["token_dim"] == 32
    training = card["training"]
    assert (training["steps"], training["size"], training["batch_size"], training["pairs"]) == (20, 64, 2, 2)
    before, after = training["loss_fixed_draws_before_after"]
    assert after < before
    assert (folder / "adapter.safetensors").stat().st_size < 2_000_000  # the embedder and the small encoder only
    assert (folder / "checkpoints" / "step-00000010" / "state.pt").is_file()
    readme = (folder / "README.md").read_text()
    assert "illustrate" in readme and "1 pseudo-word(s) in place of `<audio>`" in readme


def test_the_adapters_pictures_change_with_the_sound(sd_dir, adapter_dir, capsys, tmp_path):
    folder = adapter_dir
    pictures = {}
    for name, audio in (("tone", tone()), ("beat", beat()), ("tone2", tone())):
        soundfile.write(tmp_path / f"{name}.wav", audio.T, RATE)
        status, out, err = run_cli(capsys, "illustrate", tmp_path / f"{name}.wav", "-o", tmp_path / f"{name}.png",
                                   "--model", folder, "--seed", "4", "--style", "", *DRAW)
        assert status == 0, err
        assert "prompt: a photo of <audio>" in out
        pictures[name] = np.asarray(Image.open(tmp_path / f"{name}.png"), dtype=np.int16)
    assert np.array_equal(pictures["tone"], pictures["tone2"])
    assert np.abs(pictures["tone"] - pictures["beat"]).mean() > 0.5  # same seed, another sound: another picture
    recipe = read_png_recipe(tmp_path / "beat.png")
    assert (recipe.task, recipe.seed, recipe.model_id) == ("illustrate", 4, str(folder))
    assert recipe.facts["path"] == "adapter" and recipe.facts["base_model"] == str(sd_dir.resolve())
    status, _, err = run_cli(capsys, "regenerate", tmp_path / "beat.png", "-o", tmp_path / "again.png", "--offline",
                             "--device", "cpu")
    assert status == 0, err
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "beat.png").read_bytes()


def test_the_picture_tabs_settings_draw_with_an_adapter_folder(adapter_dir, tmp_path):
    """What the app's Picture tab sends for a typed folder (its words, empty style and tagger left
    to the engine's defaults, a size, several pictures) draws with the adapter."""
    from engine.api import Engine, EngineSettings, task

    folder = adapter_dir
    values = {"model": str(folder), "prompt": "at night", "width": 64, "height": 64, "num_variations": 2, "seed": 7,
              "num_inference_steps": 3, "guidance_scale": None}
    with Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path / "hub"))) as engine:
        results = engine.run(task("illustrate").spec(audio=tone(), sample_rate_hz=RATE, **values))
    assert len(results) == 2 and results[0].recipe.seed == 7 and results[1].recipe.seed != 7
    facts = results[0].recipe.facts
    assert facts["prompt"] == "a photo of <audio>, at night, concept art, detailed, soft light"
    assert facts["guidance"] == 7.5 and results[0].pictures[0].size == (64, 64)
    assert not np.array_equal(np.asarray(results[0].pictures[0]), np.asarray(results[1].pictures[0]))


def test_an_adapter_can_hear_through_clap(sd_dir, pairs, tiny_clap, capsys, tmp_path):
    """--audio-encoder naming a CLAP model: its audio tower (frozen, not copied) hears the loudest
    10 s at 48 kHz; the adapter folder names it and illustrate finds it again."""
    out = tmp_path / "clap-adapter"
    status, stdout, err = run_cli(capsys, "train-pictures", pairs, "-o", out, "--steps", "4", "--base", sd_dir,
                                  "--audio-encoder", tiny_clap, "--tokens", "2", "--template", "<audio>, a painting",
                                  *TRAIN)
    assert status == 0, err
    config = json.loads((out / "audio_adapter.json").read_text())["config"]
    assert (config["encoder"], config["clap_model"], config["embed_dim"]) == ("clap", str(tiny_clap.resolve()), 16)
    assert (config["tokens"], config["template"]) == (2, "<audio>, a painting")
    assert (out / "adapter.safetensors").stat().st_size < 1_000_000  # the embedder only
    pictures = []
    for name in ("tone", "beat"):
        status, _, err = run_cli(capsys, "illustrate", pairs / f"{name}.wav", "-o", tmp_path / f"{name}.png",
                                 "--model", out, "--seed", "2", *DRAW)
        assert status == 0, err
        pictures.append(np.asarray(Image.open(tmp_path / f"{name}.png"), dtype=np.int16))
    assert not np.array_equal(*pictures)
    status, _, err = run_cli(capsys, "train-pictures", pairs, "-o", tmp_path / "x", "--base", sd_dir, *TRAIN,
                             "--audio-encoder", "laion/clap-htsat-unfused", "--cache-dir", tmp_path / "hub")
    assert status == 1 and "'laion/clap-htsat-unfused' is not downloaded" in err and len(err.strip().splitlines()) == 1


def test_videos_train_an_adapter_that_hears_through_clap_with_samples_at_checkpoints(sd_dir, pairs, tiny_clap,
                                                                                     tmp_path):
    """A folder with a video and a pair: the video's frames at the adapter's size with the 10 s
    around each (decoded at 16 kHz, heard by CLAP at 48 kHz); the training monitor's samples."""
    import shutil

    from test_pictures_video import make_video

    from engine.models.store import ModelStore
    from engine.pictures.training import PictureTrainingProgress
    from engine.specs import collect_progress
    from engine.tasks.train_pictures import TrainPicturesJob, run
    from engine.worker import JobContext

    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("tone.wav", "tone.png"):
        shutil.copy(pairs / name, folder / name)
    make_video(folder / "street.mp4", segments=2)
    spec = TrainPicturesJob(pairs_dir=str(folder), output_dir=str(tmp_path / "out"), base=str(sd_dir), size=64,
                            audio_encoder=str(tiny_clap), num_steps=3, checkpoint_every=2, batch_size=2,
                            learning_rate=1e-3, seed=0, frame_every_s=2.0)
    store = ModelStore(cache_dir=tmp_path / "hub", offline=True)
    (result,), reports = collect_progress(run(spec, JobContext(job_id=1, store=store, pipelines=None, settings=None)))
    assert result.recipe.facts["pairs"] == 4 and result.recipe.facts["pairs_from_videos"] == 3  # frames at 1, 3, 5 s
    (sampled,) = [r for r in reports if isinstance(r, PictureTrainingProgress) and r.stage == "sample"]
    assert [s.prompt for s in sampled.samples] == ["tone.wav", "street.mp4 at 3.0 s"]
    for sample in sampled.samples:
        assert sample.image.shape == sample.base_image.shape == (64, 64, 3)
        assert sample.audio.shape == (1, 480000) and sample.sample_rate_hz == 48000
    assert json.loads((tmp_path / "out" / "audio_adapter.json").read_text())["config"]["encoder"] == "clap"


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(sd_dir, adapter_dir, pairs, capsys, tmp_path):
    folder = adapter_dir
    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    import shutil

    shutil.copytree(folder / "checkpoints" / "step-00000010", resumed / "checkpoints" / "step-00000010")
    status, out, err = run_cli(capsys, "train-pictures", pairs, "-o", resumed, "--steps", "20", "--resume",
                               "--checkpoint-every", "10", "-q", "--base", sd_dir, *TRAIN)
    assert status == 0, err
    assert (resumed / "adapter.safetensors").read_bytes() == (folder / "adapter.safetensors").read_bytes()


def test_bad_input_gives_one_clear_line(adapter_dir, pairs, capsys, tmp_path):
    folder = adapter_dir
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(RATE * 2, np.float32), RATE)
    status, _, err = run_cli(capsys, "illustrate", silent, "-o", tmp_path / "p.png", "--model", folder, *DRAW)
    assert status == 1 and "silent" in err and len(err.strip().splitlines()) == 1
    short = tmp_path / "short.wav"
    soundfile.write(short, tone(seconds=0.1).T, RATE)
    status, _, err = run_cli(capsys, "illustrate", short, "-o", tmp_path / "p.png", "--model", folder, *DRAW)
    assert status == 1 and "at least 0.25 s" in err and len(err.strip().splitlines()) == 1
    # The base model: not downloaded (offline), or a folder that is gone.
    status, _, err = run_cli(capsys, "train-pictures", pairs, "-o", tmp_path / "x", "--steps", "2",
                             *TRAIN, "--base", "someone/an-sd-model", "--cache-dir", tmp_path / "hub")
    assert status == 1 and "'someone/an-sd-model' is not downloaded" in err and len(err.strip().splitlines()) == 1
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("audio_adapter.json", "adapter.safetensors"):
        (moved / name).write_bytes((folder / name).read_bytes())
    data = json.loads((moved / "audio_adapter.json").read_text())
    data["card"]["base_model"] = str(tmp_path / "sd-that-was-deleted")
    (moved / "audio_adapter.json").write_text(json.dumps(data))
    status, _, err = run_cli(capsys, "illustrate", pairs / "tone.wav", "-o", tmp_path / "p.png", "--model", moved, *DRAW)
    assert status == 1 and "sd-that-was-deleted" in err and len(err.strip().splitlines()) == 1
    status, _, err = run_cli(capsys, "train-pictures", pairs, "-o", tmp_path / "y", "--base", TINY_SD_DIR, *TRAIN,
                             "--template", "a photo")
    assert status == 2 and "<audio>" in err


def test_running_out_of_gpu_memory_while_training_says_what_to_lower(sd_dir, pairs, tmp_path, monkeypatch):
    """A CUDA out-of-memory error in a training step (raised here by hand: no GPU in the tests)
    reaches the user as one line naming the batch and size to lower, not the generation hints."""
    from engine.api import Engine, EngineSettings, JobFailedError
    from engine.pictures.adapter import AdapterTrainer
    from engine.tasks.train_pictures import TrainPicturesJob

    def out_of_memory(self, index):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(AdapterTrainer, "loss", out_of_memory)
    spec = TrainPicturesJob(pairs_dir=str(pairs), output_dir=str(tmp_path / "out"), base=str(sd_dir), size=64,
                            num_steps=2, batch_size=2, seed=0)
    with Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path / "hub"))) as engine:
        with pytest.raises(JobFailedError) as failed:
            engine.run(spec)
    message = str(failed.value)
    assert "Out of GPU memory training the adapter at 64 px with 2 pairs a step" in message and "--batch" in message
    assert "variations" not in message and len(message.splitlines()) == 1
    assert not (tmp_path / "out" / "adapter.safetensors").exists()


def test_adapter_bench_times_training_and_sampling_against_the_plain_pipeline_on_a_cpu():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_pictures_adapter.py"), "--device", "cpu",
                           "--geometry", "tiny", "--size", "64", "--steps", "2", "--train-steps", "2", "--pictures", "1"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out, number = proc.stdout, r"[0-9]+(?:\.[0-9]+)?"
    training = re.search(rf"^  ours, adapter training: ({number}) steps/s", out, re.M)
    ours = re.search(rf"^  ours, illustrate with the adapter: ({number}) s per picture", out, re.M)
    reference = re.search(rf"^  reference, diffusers pipeline: ({number}) s per picture", out, re.M)
    ratio = re.search(rf"^  ratio ours / reference: time ({number})", out, re.M)
    assert training and ours and reference and ratio, out
    assert min(float(m.group(1)) for m in (training, ours, reference, ratio)) > 0
    assert "peak GPU memory: not measured" in out and "GiB" not in out
