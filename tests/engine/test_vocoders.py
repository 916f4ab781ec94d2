"""Vocoders are a kind of model: the registry, the store's vocoder kind, BigVGAN's real loading path
(hub pickle read weights-only, then a safetensors copy; a tiny random-weight generator from
tests/assets, no network), the choice per job, recorded in recipes and regenerated bit for bit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from assets.make_tiny_sd import TINY_SD_DIR

from engine.audio.params import get_preset
from engine.models.errors import ModelError, NotADiffusersModelError
from engine.models.store import ModelStore, plan_vocoder_files
from engine.recipes import Recipe
from engine.specs import GenerationJob
from engine.tasks.generate import GenerateJob
from engine.vocoders import DEFAULT_VOCODER, check_vocoder_name, find_vocoder, vocoder_names, vocoder_status
from engine.vocoders.factory import SAFETENSORS_COPY, make_vocoder, resynthesise_region, unload_vocoders

TINY_BIGVGAN_DIR = Path(__file__).resolve().parents[1] / "assets" / "tiny-bigvgan"
REPO = "nvidia/tiny-bigvgan-test"


def tone_mel(params, seconds=1.0, hz=440.0):
    from engine.audio.spectrogram import mel_from_audio

    t = np.arange(int(params.sample_rate * seconds)) / params.sample_rate
    return torch.from_numpy(mel_from_audio((0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None], params))


@pytest.fixture(autouse=True)
def _fresh_cache():
    unload_vocoders()
    yield
    unload_vocoders()


def fake_hub_cache(root: Path, pickle_payload=None) -> Path:
    """A hub cache holding REPO as NVIDIA publishes BigVGAN: config.json, the generator's pickle
    (``{"generator": weight-normalised state}``) and a discriminator/optimizer pickle we never fetch."""
    from safetensors.torch import load_file

    snapshot = root / ("models--" + REPO.replace("/", "--")) / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (root / ("models--" + REPO.replace("/", "--")) / "refs").mkdir()
    (root / ("models--" + REPO.replace("/", "--")) / "refs" / "main").write_text("a" * 40)
    shutil.copy(TINY_BIGVGAN_DIR / "config.json", snapshot / "config.json")
    state = load_file(str(TINY_BIGVGAN_DIR / "bigvgan_generator.safetensors"))
    torch.save(pickle_payload if pickle_payload is not None else {"generator": state}, snapshot / "bigvgan_generator.pt")
    torch.save({"optim_g": {}}, snapshot / "bigvgan_discriminator_optimizer.pt")
    return snapshot


def test_registry_names_and_checks():
    assert vocoder_names()[0] == DEFAULT_VOCODER == "griffin-lim"
    big = find_vocoder("bigvgan-v2")
    assert big.source == "nvidia/bigvgan_v2_44khz_128band_512x" and big.license == "MIT"
    check_vocoder_name("bigvgan-v2")
    check_vocoder_name(str(TINY_BIGVGAN_DIR))
    check_vocoder_name("builtin:some-vocoder")
    with pytest.raises(ValueError, match="unknown vocoder 'hifigan'; known: griffin-lim, bigvgan-v2"):
        check_vocoder_name("hifigan")
    with pytest.raises(ValueError, match="unknown vocoder"):
        GenerateJob(prompt="x", vocoder="hifigan")
    assert vocoder_status(find_vocoder("griffin-lim"), None) == "built in"
    assert vocoder_status(big, ModelStore(Path("/nonexistent-cache"), offline=True)) == "downloadable"


def test_every_generation_job_records_its_vocoder_and_reads_it_back():
    spec = GenerateJob(prompt="x", seed=1, vocoder="bigvgan-v2")
    recipe = spec.make_recipe(seed=1, model_id="m")
    assert recipe.vocoder == "bigvgan-v2" and "vocoder" not in recipe.params
    again = GenerateJob.from_recipe(Recipe.from_json(recipe.to_json()))
    assert again.vocoder == "bigvgan-v2"
    assert GenerateJob.from_recipe(GenerateJob(prompt="x", seed=1).make_recipe(seed=1)).vocoder == DEFAULT_VOCODER
    assert "vocoder" in {f for f in GenerationJob.__dataclass_fields__}


def test_store_finds_vocoder_folders_and_tells_kinds_apart():
    store = ModelStore(Path("/nonexistent-cache"), offline=True)
    resolved = store.resolve(TINY_BIGVGAN_DIR, kind="vocoder")
    assert resolved.path == TINY_BIGVGAN_DIR and resolved.source == "local"
    with pytest.raises(NotADiffusersModelError, match="is not a complete vocoder model: missing config.json"):
        store.resolve(TINY_SD_DIR, kind="vocoder")
    with pytest.raises(NotADiffusersModelError, match="not a vocoder this version can run"):
        make_vocoder(str(TINY_SD_DIR / "unet"), store=store)  # a config and safetensors, but a UNet
    with pytest.raises(NotADiffusersModelError, match="Stable Diffusion pipeline"):
        store.resolve(TINY_BIGVGAN_DIR)  # not an SD pipeline
    with pytest.raises(ValueError, match="unknown model kind"):
        store.resolve(TINY_BIGVGAN_DIR, kind="tagger")
    # NVIDIA's repository layout: the generator's pickle, never the discriminator's and optimizer's.
    plan = plan_vocoder_files(["config.json", "bigvgan_generator.pt", "bigvgan_discriminator_optimizer.pt", "README.md"])
    assert plan.files == ("config.json", "bigvgan_generator.pt") and plan.complete


def test_hub_pickle_is_read_weights_only_and_kept_as_safetensors(tmp_path):
    snapshot = fake_hub_cache(tmp_path)
    store = ModelStore(tmp_path, offline=True)
    assert store.is_downloaded(REPO, kind="vocoder") and not store.is_downloaded(REPO)
    params = get_preset("starter")
    mel = tone_mel(params)
    first = make_vocoder(REPO, n_iter=2, store=store)
    assert (snapshot / SAFETENSORS_COPY).is_file()  # later loads read safetensors
    wave = first(mel, params, generator=torch.Generator().manual_seed(3))
    unload_vocoders()
    (snapshot / "bigvgan_generator.pt").unlink()
    second = make_vocoder(REPO, n_iter=2, store=store)
    again = second(mel, params, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, wave, rtol=0, atol=1e-6)
    # The asset (weight-normalised safetensors) gives the same generator.
    third = make_vocoder(str(TINY_BIGVGAN_DIR), n_iter=2, store=store)
    torch.testing.assert_close(third(mel, params, generator=torch.Generator().manual_seed(3)), wave, rtol=0, atol=1e-6)


class _NotWeights:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_pickle_that_is_not_plain_weights_is_refused(tmp_path, capsys):
    fake_hub_cache(tmp_path, pickle_payload={"generator": _NotWeights()})
    with pytest.raises(ModelError, match="weights only"):
        make_vocoder(REPO, n_iter=2, store=ModelStore(tmp_path, offline=True))
    assert "code ran" not in capsys.readouterr().out


def test_missing_hub_vocoder_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelError, match="nvidia/bigvgan_v2_44khz_128band_512x"):
        make_vocoder("bigvgan-v2", store=ModelStore(tmp_path, offline=True))


def test_neural_vocoder_keeps_length_rate_seed_and_silence():
    params = get_preset("starter")
    vocoder = make_vocoder(str(TINY_BIGVGAN_DIR), n_iter=2)
    mel = tone_mel(params, seconds=0.7)
    frames = mel.shape[-1]
    a = vocoder(mel, params, generator=torch.Generator().manual_seed(1))
    b = vocoder(mel, params, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, frames * params.hop_length) and torch.equal(a, b) and float(a.abs().max()) > 0
    odd = vocoder(mel, params, num_samples=frames * params.hop_length - 7, generator=torch.Generator().manual_seed(1))
    assert odd.shape[-1] == frames * params.hop_length - 7
    assert not vocoder.resynthesise(torch.zeros(1, 5000), params.sample_rate).any()


def test_resynthesising_an_edit_touches_only_its_new_samples():
    params = get_preset("starter")
    vocoder = make_vocoder(str(TINY_BIGVGAN_DIR), n_iter=2)
    rng = np.random.default_rng(0)
    audio = (0.2 * rng.standard_normal((2, 8000))).astype(np.float32)
    region = np.zeros(8000, dtype=bool)
    region[3000:5000] = True
    out = resynthesise_region(vocoder, audio, region, params.sample_rate, 100)
    np.testing.assert_array_equal(out[:, ~region], audio[:, ~region])
    assert not np.array_equal(out[:, 3200:4800], audio[:, 3200:4800])
    assert resynthesise_region(make_vocoder(), audio, region, params.sample_rate, 100) is audio


def test_cli_generate_and_inpaint_with_a_vocoder_folder_regenerate_bit_identically(tmp_path, capsys):
    from test_cli import run_cli
    from test_inpaint import RATE, make_clip

    from engine.audio.io import read_audio, write_audio
    from engine.cli import read_recipe

    wav = tmp_path / "in.wav"
    write_audio(wav, make_clip(0.8, channels=1), RATE, subtype="PCM_16")
    common = ["--model", str(TINY_SD_DIR), "--device", "cpu", "--offline", "-q", "--vocoder", str(TINY_BIGVGAN_DIR)]
    runs = {
        "generate": ["generate", "jazz piano", "--seed", "11", "--steps", "2", "--duration", "0.64", *common],
        "inpaint": ["inpaint", wav, "--start", "0.3", "--end", "0.5", "--prompt", "horn", "--seed", "3", "--steps", "2",
                    "--window", "0.64", "--height", "64", "--gl-iters", "2", *common],
    }
    for task, argv in runs.items():
        out = tmp_path / f"{task}.wav"
        status, _, err = run_cli(capsys, *argv, "-o", out)
        assert status == 0, err
        recipe = read_recipe(out)
        assert recipe.vocoder == str(TINY_BIGVGAN_DIR)
        again = tmp_path / f"{task}_again.wav"
        status, _, err = run_cli(capsys, "regenerate", out, "-o", again, "--offline", "-q")
        assert status == 0, err
        np.testing.assert_array_equal(read_audio(again)[0], read_audio(out)[0])
    # Outside the inpainted span the clip is untouched (bit-identical after 16-bit files).
    original, _ = read_audio(wav)
    edited, _ = read_audio(tmp_path / "inpaint.wav")
    np.testing.assert_array_equal(edited[:, : int(0.2 * RATE)], original[:, : int(0.2 * RATE)])


def test_cli_refuses_an_unknown_vocoder_in_one_line(capsys, tmp_path):
    from test_cli import assert_one_line_error, run_cli

    # (an output folder that exists: the test had named /tmp/x, which a clean machine lacks)
    status, _, err = run_cli(capsys, "generate", "x", "-o", str(tmp_path / "out.wav"), "--model", str(TINY_SD_DIR),
                             "--vocoder", "hifigan", "--offline", "-q")
    assert_one_line_error(status, err, "unknown vocoder 'hifigan'")


def test_vocode_a_clip_and_a_png_and_regenerate_them(tmp_path, capsys):
    from test_cli import run_cli

    from engine.audio.io import read_audio, write_audio
    from engine.cli import read_recipe

    rate = 22050
    t = np.arange(rate) / rate
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
    wav, png = tmp_path / "in.wav", tmp_path / "in.png"
    write_audio(wav, stereo, rate, subtype="PCM_16")
    assert run_cli(capsys, "to-image", wav, "-o", png)[0] == 0
    runs = {"clip": [wav, "--preset", "riffusion"], "png": [png, "--vocoder", str(TINY_BIGVGAN_DIR)]}
    for name, argv in runs.items():
        out = tmp_path / f"{name}.wav"
        status, _, err = run_cli(capsys, "vocode", *argv, "--gl-iters", "4", "-o", out, "-q")
        assert status == 0, err
        recipe = read_recipe(out)
        assert recipe.task == "vocode" and recipe.model_id is None
        again = tmp_path / f"{name}_again.wav"
        status, _, err = run_cli(capsys, "regenerate", out, "-o", again, "-q")
        assert status == 0, err
        np.testing.assert_array_equal(read_audio(again)[0], read_audio(out)[0])
    # The clip keeps its rate, length and channels, and each channel's tone survives the round trip.
    audio, out_rate = read_audio(tmp_path / "clip.wav")
    assert out_rate == rate and audio.shape == stereo.shape
    for channel, hz in zip(audio, (440, 660)):
        spectrum = np.abs(np.fft.rfft(channel))
        assert abs(np.argmax(spectrum) * rate / channel.size - hz) < 3
    assert read_recipe(tmp_path / "png.wav").vocoder == str(TINY_BIGVGAN_DIR)


def test_vocode_bad_input_is_one_line(tmp_path, capsys):
    from test_cli import assert_one_line_error, run_cli

    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    assert_one_line_error(*run_cli(capsys, "vocode", text, "-o", tmp_path / "o.wav")[::2], "is not a PNG file")
    status, _, err = run_cli(capsys, "vocode", text.with_name("in.wav"), "-o", tmp_path / "o.wav", "--vocoder", "bigvgan-v2")
    assert_one_line_error(status, err)


def test_vocoders_command_lists_what_is_offline_and_downloadable(tmp_path, capsys):
    from test_cli import run_cli

    status, out, _ = run_cli(capsys, "vocoders", "--offline", "--cache-dir", tmp_path)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("griffin-lim  Griffin-Lim  available offline  no weights")
    assert lines[1].startswith("bigvgan-v2  BigVGAN-v2 44 kHz  downloadable  489 MB  MIT")
    fake_hub_cache(tmp_path)  # another repo: bigvgan-v2 stays downloadable
    assert "bigvgan-v2  BigVGAN-v2 44 kHz  downloadable" in run_cli(capsys, "vocoders", "--offline", "--cache-dir", tmp_path)[1]


def test_long_audio_is_synthesised_in_chunks_without_seams(monkeypatch):
    import engine.vocoders.factory as factory

    vocoder = make_vocoder(str(TINY_BIGVGAN_DIR), n_iter=2)
    rng = np.random.default_rng(3)
    wave = torch.from_numpy((0.2 * rng.standard_normal((1, 44100))).astype(np.float32))
    whole = vocoder.resynthesise(wave, 44100)
    monkeypatch.setattr(factory, "CHUNK_FRAMES", 12)  # seven chunks, six seams
    chunked = vocoder.resynthesise(wave, 44100)
    assert chunked.shape == whole.shape
    assert float((chunked - whole).abs().max()) < 1e-3 * float(whole.abs().max())


def test_a_hub_vocoder_downloads_only_its_generator_and_loads(tmp_path):
    """The real download path against a local stand-in for the hub: config.json and the generator's
    pickle come down, the discriminator/optimizer state and the README do not."""
    import io

    from safetensors.torch import load_file
    from test_model_store import FakeHub

    state = load_file(str(TINY_BIGVGAN_DIR / "bigvgan_generator.safetensors"))
    pickled = io.BytesIO()
    torch.save({"generator": state}, pickled)
    files = {"config.json": (TINY_BIGVGAN_DIR / "config.json").read_bytes(), "bigvgan_generator.pt": pickled.getvalue(),
             "bigvgan_discriminator_optimizer.pt": b"d" * 50_000, "README.md": b"# BigVGAN"}
    hub = FakeHub({REPO: files})
    try:
        store = ModelStore(tmp_path / "hub", endpoint=hub.url)
        vocoder = make_vocoder(REPO, n_iter=2, store=store, download=True)
        assert hub.fetched() == {"config.json", "bigvgan_generator.pt"}
        params = get_preset("starter")
        wave = vocoder(tone_mel(params, seconds=0.3), params, generator=torch.Generator().manual_seed(0))
        assert wave.shape[-1] > 0 and float(wave.abs().max()) > 0
        resolved = store.resolve(REPO, kind="vocoder")
        assert (resolved.path / SAFETENSORS_COPY).is_file()
    finally:
        hub.close()


def test_unloading_models_drops_a_loaded_vocoder():
    from types import SimpleNamespace

    import engine.vocoders.factory as factory
    from engine.tasks.unload_models import run as run_unload

    make_vocoder(str(TINY_BIGVGAN_DIR))
    assert len(factory._cache) == 1
    job = run_unload(None, SimpleNamespace(pipelines=SimpleNamespace(unload=lambda: 0)))
    with pytest.raises(StopIteration):
        while True:
            next(job)
    assert len(factory._cache) == 0
