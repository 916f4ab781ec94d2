"""The upsample task: the input's low band survives, the missing band is filled, chunk seams are
continuous, recipes regenerate bit-identically, bad input gets one clear line or a noted no-op.

The tiny random-weight upsampler (tests/assets/tiny-upsampler, made by make_tiny_upsampler.py)
goes through the real loading path; the shipped offline model (builtin:upsampler) is checked
for what a user hears: band-limited white noise comes back white.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine.api as api
from engine.api import AudioInput, Engine, EngineSettings, Recipe
from engine.upsample.dsp import detect_cutoff_hz, log_spectral_distance, spectral_flatness
from engine.upsample.models import UpsamplerError, load_upsampler
from engine.specs import collect_progress
from engine.upsample.run import upsample_clip

ASSETS = Path(__file__).resolve().parents[1] / "assets"
TINY = str(ASSETS / "tiny-upsampler")


drive = collect_progress  # run a job generator to its end: (its value, its progress reports)


def band_limited(signal: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """``signal`` with every FFT bin at or above ``cutoff_hz`` zeroed (a brick-wall low-pass)."""
    spectrum = np.fft.rfft(signal, axis=-1)
    spectrum[..., np.fft.rfftfreq(signal.shape[-1], 1 / rate) >= cutoff_hz] = 0
    return np.fft.irfft(spectrum, n=signal.shape[-1], axis=-1).astype(np.float32)


def music(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic notes plus noise bursts, (1, samples) float32, full band."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    out = np.zeros_like(t)
    for i, f0 in enumerate((196.0, 293.7, 440.0)):
        env = np.exp(-((t - 0.4 * i) % 1.2) * 3)
        out += sum(env * np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 30) if f0 * k < rate / 2)
    out += np.repeat(rng.standard_normal(len(t) // 2205 + 1) > 1.5, 2205)[: len(t)] * rng.standard_normal(len(t))
    return (0.3 * out / np.abs(out).max())[None, :].astype(np.float32)


def low_band(audio: np.ndarray, rate: int, top_hz: float, n: int | None = None) -> np.ndarray:
    return band_limited(audio[..., :n] if n else audio, rate, top_hz)


def test_the_tiny_model_loads_through_the_real_path_and_bad_folders_say_why(tmp_path):
    upsampler = load_upsampler(TINY)
    assert upsampler.kind == "spectral" and upsampler.sample_rate_hz == 22050
    assert load_upsampler(TINY) is upsampler  # cached
    with pytest.raises(UpsamplerError, match="is not an upsampler folder"):
        load_upsampler(str(tmp_path))
    with pytest.raises(UpsamplerError, match="'builtin:nope' is not an upsampler that ships with this version"):
        load_upsampler("builtin:nope")
    (tmp_path / "upsampler.json").write_text('{"kind": "spectral", "config": {"hidden": 8}}')
    with pytest.raises(UpsamplerError, match="has no model.safetensors"):
        load_upsampler(str(tmp_path))


def test_the_low_band_is_kept_and_the_band_above_the_cutoff_is_filled():
    rate = 22050
    original = music(rate, 2.0)
    clip = band_limited(original, rate, 3000.0)
    assert 2900 < detect_cutoff_hz(clip, rate) < 3200
    out, _ = drive(upsample_clip(load_upsampler(TINY), clip, rate))
    assert out.sample_rate_hz == rate and out.audio.shape == clip.shape and not out.note
    assert 2900 < out.facts["cutoff_hz"] < 3200
    # Below the cutoff the output is the input (the low band is never regenerated) ...
    # (compared away from the ends, where the brick-wall test filter wraps around)
    keep, want = low_band(out.audio, rate, 2900.0), low_band(clip, rate, 2900.0)
    middle = slice(rate // 10, -rate // 10)
    np.testing.assert_allclose(keep[:, middle], want[:, middle], atol=2e-3 * np.abs(clip).max())
    # ... and above it there is sound where the input had none.
    high = out.audio - band_limited(out.audio, rate, 3200.0)
    assert np.sqrt(np.mean(high**2)) > 1e-3 * np.sqrt(np.mean(clip**2))


def test_the_shipped_model_makes_band_limited_white_noise_white_again():
    rng = np.random.default_rng(3)
    rate = 22050
    noise = (0.1 * rng.standard_normal((1, rate * 2))).astype(np.float32)
    clip = band_limited(noise, rate, 4000.0)  # what the starter model's "white noise" looks like
    assert spectral_flatness(clip, rate) < 0.05
    out, _ = drive(upsample_clip(load_upsampler("builtin:upsampler"), clip, rate, output_rate_hz=rate))
    assert out.sample_rate_hz == rate
    assert spectral_flatness(out.audio, rate) >= 0.3
    assert log_spectral_distance(noise, out.audio, rate) < 0.7 * log_spectral_distance(noise, clip, rate)


def test_chunk_seams_are_continuous():
    rate = 22050
    clip = band_limited(music(rate, 6.0, seed=1), rate, 3000.0)
    upsampler = load_upsampler(TINY)
    whole, _ = drive(upsample_clip(upsampler, clip, rate, chunk_s=60.0))
    chunked, reports = drive(upsample_clip(upsampler, clip, rate, chunk_s=2.0, overlap_s=0.5))
    assert chunked.facts["chunks"] == 4 and whole.facts["chunks"] == 1
    assert [r.step for r in reports if r.total][:4] == [0, 1, 2, 3]  # a progress report (cancel point) a chunk
    # Chunked and whole agree everywhere, seams included (chunks start on the STFT's frame grid,
    # so the crossfaded overlaps hold the same sound) ...
    assert np.abs(chunked.audio - whole.audio).max() < 1e-3 * np.abs(whole.audio).max()
    # ... and no seam steps more from one sample to the next than the music itself does.
    step = np.abs(np.diff(chunked.audio[0]))
    for seam in (int(1.5 * rate), int(3.0 * rate), int(4.5 * rate)):
        assert step[seam - 2000 : seam + 2000].max() <= 1.2 * np.abs(np.diff(whole.audio[0]))[seam - 2000 : seam + 2000].max()


def test_the_task_runs_through_the_engine_and_regenerates_bit_identically():
    rate = 22050
    clip = band_limited(music(rate, 1.5, seed=2), rate, 3000.0)
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        (result,) = engine.run(api.UpsampleJob(audio=clip, sample_rate_hz=rate, model=TINY, output_rate_hz=44100))
        recipe = Recipe.from_json(result.recipe.to_json())
        assert recipe.task == "upsample" and recipe.model_id == TINY and 2900 < recipe.facts["cutoff_hz"] < 3200
        assert result.sample_rate_hz == 44100 and result.audio.shape == (1, int(1.5 * 44100))
        (again,) = engine.run(api.spec_from_recipe(recipe, {"audio": AudioInput(clip, rate)}))
    np.testing.assert_array_equal(again.audio, result.audio)


def test_a_range_is_upsampled_at_the_clip_rate_the_rest_stays_exact_and_the_cli_regenerates_it(tmp_path):
    from engine.audio.io import read_audio, write_audio
    from engine.cli import main

    rate = 22050
    clip = band_limited(music(rate, 2.0, seed=5), rate, 3000.0)
    a, b = int(0.5 * rate), int(1.5 * rate)
    source = tmp_path / "in.wav"
    write_audio(source, clip, rate, subtype="FLOAT")
    assert main(["upsample", str(source), "-o", str(tmp_path / "up.wav"), "--model", TINY, "--start", "0.5",
                 "--end", "1.5", "-q"]) == 0
    audio, out_rate = read_audio(tmp_path / "up.wav")
    assert out_rate == rate and audio.shape == clip.shape  # the clip's rate and length
    np.testing.assert_array_equal(audio[:, :a], clip[:, :a])
    np.testing.assert_array_equal(audio[:, b:], clip[:, b:])
    inside = np.abs(np.fft.rfft(audio[0, a + 1000 : b - 1000]))
    freqs = np.fft.rfftfreq(b - a - 2000, 1 / rate)
    assert inside[freqs > 4000].mean() > 1e-3 * inside.mean()  # the band above 3 kHz is filled
    assert main(["regenerate", str(tmp_path / "up.wav"), "-o", str(tmp_path / "again.wav"), "-q"]) == 0
    np.testing.assert_array_equal(read_audio(tmp_path / "again.wav")[0], audio)
    with pytest.raises(ValueError, match="needs both `start_s` and `end_s`"):
        api.UpsampleJob(audio=clip, sample_rate_hz=rate, model=TINY, start_s=0.5)
    with pytest.raises(ValueError, match="keeps the clip's rate"):
        api.UpsampleJob(audio=clip, sample_rate_hz=rate, model=TINY, start_s=0.5, end_s=1.0, output_rate_hz=44100)
    with pytest.raises(ValueError, match="past the end"):
        api.UpsampleJob(audio=clip, sample_rate_hz=rate, model=TINY, start_s=0.5, end_s=3.0)


def test_bad_input_gets_one_line_or_a_noted_no_op():
    upsampler = load_upsampler(TINY)
    rate = 22050
    with pytest.raises(ValueError, match="the clip is 45 ms long; upsampling needs at least 100 ms"):
        drive(upsample_clip(upsampler, np.ones((1, 1000), np.float32) * 0.1, rate))
    silent, _ = drive(upsample_clip(upsampler, np.zeros((2, rate), np.float32), rate))
    assert "silent" in silent.note and silent.facts["passed_through"] and silent.audio.shape == (2, rate)
    assert not silent.audio.any()
    full = music(rate, 1.0)
    same, _ = drive(upsample_clip(upsampler, full, rate))
    assert "already reaches" in same.note and same.facts["passed_through"]
    np.testing.assert_array_equal(same.audio, full)
    # Another rate is resampled to the model's, the cutoff found there (8 kHz audio stops at 4 kHz).
    low_rate = band_limited(music(8000, 1.0), 8000, 3500.0)
    out, _ = drive(upsample_clip(upsampler, low_rate, 8000))
    assert out.sample_rate_hz == 22050 and 3300 < out.facts["cutoff_hz"] < 4000
    with pytest.raises(ValueError, match="output_rate_hz"):
        api.UpsampleJob(audio=full, sample_rate_hz=rate, model=TINY, output_rate_hz=100)


def test_the_cli_upsamples_a_file_and_regenerates_it(tmp_path, capsys):
    from engine.audio.io import read_audio, write_audio
    from engine.cli import main

    rate = 22050
    source = tmp_path / "in.wav"
    write_audio(source, band_limited(music(rate, 1.0, seed=4), rate, 3000.0), rate, subtype="FLOAT")
    assert main(["upsample", str(source), "-o", str(tmp_path / "up.wav"), "--model", TINY, "--rate", "44100", "-q"]) == 0
    audio, out_rate = read_audio(tmp_path / "up.wav")
    assert out_rate == 44100 and audio.shape == (1, 44100)
    assert main(["regenerate", str(tmp_path / "up.wav"), "-o", str(tmp_path / "again.wav"), "-q"]) == 0
    np.testing.assert_array_equal(read_audio(tmp_path / "again.wav")[0], audio)
    # A full-band file is a no-op with a note; a missing model is one line.
    write_audio(tmp_path / "full.wav", music(rate, 1.0), rate, subtype="FLOAT")
    capsys.readouterr()
    assert main(["upsample", str(tmp_path / "full.wav"), "-o", str(tmp_path / "same.wav"), "--model", TINY, "-q"]) == 0
    assert "note: The clip already reaches" in capsys.readouterr().out
    assert main(["upsample", str(source), "-o", str(tmp_path / "x.wav"), "--model", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not an upsampler folder" in err[0]


def test_the_restored_band_never_makes_a_file_clip(tmp_path):
    """Loud band-limited white noise (-4 dBTP) gains the whole band above 4 kHz: the shipped
    upsampler's output is lowered to stay under -1 dBTP, so the 16-bit file does not clip; a
    quiet clip that stays under the ceiling keeps its low band exactly."""
    from engine.audio.io import read_audio, write_audio
    from engine.audio.loudness import true_peak_dbtp
    from engine.cli import main

    rate = 22050
    noise = band_limited(np.random.default_rng(3).standard_normal((1, 2 * rate)), rate, 4000.0)
    loud = (noise * 10 ** (-4 / 20) / np.abs(noise).max()).astype(np.float32)
    write_audio(tmp_path / "loud.wav", loud, rate, subtype="FLOAT")
    assert main(["upsample", str(tmp_path / "loud.wav"), "-o", str(tmp_path / "up.wav"), "--subtype", "PCM_16", "-q"]) == 0
    audio, out_rate = read_audio(tmp_path / "up.wav")
    assert out_rate == 44100 and np.abs(audio).max() < 0.95 and true_peak_dbtp(audio) <= -0.9
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        (result,) = engine.run(api.UpsampleJob(audio=loud, sample_rate_hz=rate))
        assert result.recipe.facts["gain_db"] < 0 and true_peak_dbtp(result.audio) <= -0.99
        quiet = (loud * 0.05).astype(np.float32)
        (kept,) = engine.run(api.UpsampleJob(audio=quiet, sample_rate_hz=rate))
    assert "gain_db" not in kept.recipe.facts


TINY_DIFFUSION = str(ASSETS / "tiny-diffusion-upsampler")


def test_the_diffusion_upsampler_keeps_the_low_band_and_its_seed_regenerates_it():
    rate = 22050
    clip = band_limited(music(rate, 1.0, seed=5), rate, 3000.0)
    upsampler = load_upsampler(TINY_DIFFUSION)
    assert upsampler.kind == "diffusion"
    one, reports = drive(upsample_clip(upsampler, clip, rate, seed=1, steps=2))
    two, _ = drive(upsample_clip(upsampler, clip, rate, seed=2, steps=2))
    middle = slice(rate // 10, -rate // 10)
    for out in (one, two):
        np.testing.assert_allclose(low_band(out.audio, rate, 2900.0)[:, middle], low_band(clip, rate, 2900.0)[:, middle],
                                   atol=2e-3 * np.abs(clip).max())
    assert not np.array_equal(one.audio, two.audio)  # the seed draws the band above the cutoff
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        (result,) = engine.run(api.UpsampleJob(audio=clip, sample_rate_hz=rate, model=TINY_DIFFUSION, seed=1, steps=2))
        (again,) = engine.run(api.spec_from_recipe(result.recipe, {"audio": AudioInput(clip, rate)}))
    # The task is the sampler's output, lowered if it would pass the true-peak ceiling (the tiny
    # random model draws a loud band).
    from engine.tasks.upsample import below_ceiling

    np.testing.assert_array_equal(result.audio, below_ceiling(clip, one.audio)[0])
    np.testing.assert_array_equal(again.audio, result.audio)


@pytest.mark.parametrize("kind", ["spectral", "diffusion"])
def test_the_training_command_trains_on_a_folder_and_is_reproducible(tmp_path, kind):
    from engine.audio.io import write_audio
    from engine.training.train_upsampler import main

    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(3):
        write_audio(folder / f"{i}.wav", music(44100, 2.7, seed=i), 44100, subtype="FLOAT")
    small = ["--kind", kind, "--audio", str(folder), "--steps", "2", "--batch-size", "2", "--hidden", "8",
             "--layers", "2", "--crop-frames", "16", "--crop-samples", "4096", "--diffusion-channels", "8", "16",
             "--log-every", "1"]
    for name in ("a", "b"):
        assert main(["--out", str(tmp_path / name), *small]) == 0
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    upsampler = load_upsampler(str(tmp_path / "a"))
    assert upsampler.kind == kind and upsampler.card["training"]["data"]["folder"] == str(folder.resolve())
    clip = band_limited(music(44100, 0.5), 44100, 4000.0)
    out, _ = drive(upsample_clip(upsampler, clip, 44100, steps=1))
    assert out.audio.shape == clip.shape and np.isfinite(out.audio).all()


def test_the_starter_model_generates_full_band_sound_by_default(tmp_path, capsys):
    """A fresh install: `generate` with the starter follows its card, whose pipeline ends with the
    shipped upsampler; `--upsampler none` switches it off."""
    from engine.audio.io import read_audio
    from engine.cli import main
    from engine.models.catalog import model_hints

    assert model_hints("builtin:starter").upsampler == "builtin:upsampler"
    out = tmp_path / "noise.wav"
    assert main(["generate", "white noise", "-o", str(out), "--model", "builtin:starter", "--seed", "1", "-q"]) == 0
    audio, rate = read_audio(out)
    assert rate == 44100 and audio.shape[1] == int(2.56 * 44100)
    assert spectral_flatness(audio, rate) >= 0.3  # the starter alone: < 0.01 over the full band
    assert spectral_flatness(audio, rate, top_hz=4000.0) >= 0.3  # its own band is still white
    recipe = Recipe.from_json(read_audio_recipe(out))
    assert recipe.params["upsampler"] == "builtin:upsampler" and recipe.facts["upsample"]["cutoff_hz"] > 3500
    assert main(["regenerate", str(out), "-o", str(tmp_path / "again.wav"), "-q"]) == 0
    np.testing.assert_array_equal(read_audio(tmp_path / "again.wav")[0], audio)


def read_audio_recipe(path) -> str:
    from engine.audio.io import read_audio_metadata
    from engine.cli.common import RECIPE_METADATA_KEY

    return read_audio_metadata(path)[RECIPE_METADATA_KEY]


def test_generate_can_switch_the_upsampler_off_or_name_another(tmp_path):
    from engine.cli.commands import build_parser
    from engine.cli.common import CliError, CliRun
    from engine.tasks.generate import spec_from_args

    def spec(*extra):
        args = build_parser().parse_args(["generate", "white noise", "-o", str(tmp_path / "x.wav"),
                                          "--model", "builtin:starter", *extra])
        return spec_from_args(args, CliRun(args))

    assert spec().upsampler == "builtin:upsampler"
    assert spec("--upsampler", "none").upsampler == ""
    assert spec("--upsampler", TINY).upsampler == TINY
    with pytest.raises(CliError, match="is not an upsampler folder"):
        spec("--upsampler", str(tmp_path))


def test_an_upsampler_is_a_kind_of_model_the_store_finds_in_the_hub_cache(tmp_path):
    """A hub repo with upsampler.json + model.safetensors resolves from the cache (never downloaded
    here); a repo that is not cached says how to get it; builtin:upsampler is a shipped model."""
    import shutil

    from engine.models.catalog import builtin_model_dir
    from engine.models.store import ModelStore

    repo = "someone/tiny-upsampler"
    root = tmp_path / "hub" / ("models--" + repo.replace("/", "--"))
    snapshot = root / "snapshots" / ("b" * 40)
    snapshot.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("b" * 40)
    for name in ("upsampler.json", "model.safetensors"):
        shutil.copy(Path(TINY) / name, snapshot / name)
    store = ModelStore(tmp_path / "hub", offline=True)
    upsampler = load_upsampler(repo, store)
    assert upsampler.kind == "spectral" and upsampler.sample_rate_hz == 22050
    with pytest.raises(UpsamplerError, match="someone/other"):
        load_upsampler("someone/other", store)
    (snapshot / "model.safetensors").unlink()
    with pytest.raises(UpsamplerError, match="model.safetensors"):
        load_upsampler(repo, ModelStore(tmp_path / "hub", offline=True))
    assert builtin_model_dir("builtin:upsampler").name == "upsampler"
