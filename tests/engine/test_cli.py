"""specdiff-cli: generate, models, to-image / to-audio, and one-line errors on bad input (CPU, tiny model)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from assets.make_tiny_sd import TINY_SD_DIR, make_hub_cache_entry
from PIL import Image

from engine.audio.io import read_audio, write_audio
from engine.audio.spectrogram import get_preset, samples_for_width
from engine.cli import ProgressBar, main, numbered_paths, read_recipe
from engine.specs import Progress

ROOT = Path(__file__).resolve().parents[2]
TINY = str(TINY_SD_DIR)
GENERATE = ["--steps", "2", "--duration", "0.64", "--device", "cpu", "--offline"]


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments):
    assert status != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("specdiff-cli: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_generate_writes_wavs_with_recipes_and_images(capsys, tmp_path):
    out = tmp_path / "clip.wav"
    status, stdout, err = run_cli(capsys, "generate", "jazz piano", "-o", out, "--model", TINY, "--seed", "11",
                                  "--variations", "2", "--image", tmp_path / "clip.png",
                                  "--cache-dir", tmp_path / "hub", *GENERATE)
    assert status == 0, err
    assert err == ""  # no bar when stderr is not a terminal, no library chatter
    paths = [tmp_path / "clip_1.wav", tmp_path / "clip_2.wav"]
    assert not out.exists()
    for seed, path in zip((11, 12), paths):
        audio, rate = read_audio(path)
        assert rate == 44100
        assert audio.shape == (1, samples_for_width(get_preset("riffusion"), 64))
        assert np.abs(audio).max() > 0.1
        recipe = read_recipe(path)
        assert (recipe.params["prompt"], recipe.seed, recipe.params["num_inference_steps"]) == ("jazz piano", seed, 2)
        assert recipe.model_id == str(TINY_SD_DIR.resolve()) and recipe.facts["width"] == 64
        assert f"{path}  seed {seed}  0.64 s" in stdout
    image = Image.open(tmp_path / "clip_2.png")
    assert image.size == (64, 512)
    assert 11000 in image.getexif()  # the spectrogram parameters travel with the picture


def test_same_command_gives_the_same_file(capsys, tmp_path):
    for name in ("a.wav", "b.wav"):
        status, _, err = run_cli(capsys, "generate", "bass", "-o", tmp_path / name, "--model", TINY, "--seed", "5",
                                 "--scheduler", "ddim", "--cache-dir", tmp_path / "hub", *GENERATE)
        assert status == 0, err
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_to_image_and_back_keeps_a_tone(capsys, tmp_path):
    rate = 44100
    t = np.arange(int(1.0 * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    write_audio(tmp_path / "tone.wav", np.stack([tone, tone]), rate)

    status, stdout, err = run_cli(capsys, "to-image", tmp_path / "tone.wav", "-o", tmp_path / "tone.png")
    assert status == 0, err
    assert Image.open(tmp_path / "tone.png").size == (100, 512)  # 1 s at 10 ms per column
    status, stdout, err = run_cli(capsys, "to-audio", tmp_path / "tone.png", "-o", tmp_path / "back.wav",
                                  "--iters", "16")
    assert status == 0, err
    audio, back_rate = read_audio(tmp_path / "back.wav")
    assert back_rate == rate and audio.shape == (1, 100 * 441)
    spectrum = np.abs(np.fft.rfft(audio[0]))
    peak_hz = np.argmax(spectrum) * rate / audio.shape[1]
    assert abs(peak_hz - 440.0) < 10.0


def test_to_image_stereo_and_resampling(capsys, tmp_path):
    rate = 22050
    left = np.sin(2 * np.pi * 300.0 * np.arange(rate // 2) / rate).astype(np.float32)
    write_audio(tmp_path / "st.wav", np.stack([left, np.zeros_like(left)]), rate)
    status, stdout, err = run_cli(capsys, "to-image", tmp_path / "st.wav", "-o", tmp_path / "st.png", "--stereo")
    assert status == 0, err
    assert "resampled from 22050 Hz" in stdout
    pixels = np.asarray(Image.open(tmp_path / "st.png").convert("RGB"))
    assert (pixels[..., 2] == 255).all() and (pixels[..., 1] < 255).any()  # right channel silent (white)


def test_models_list_and_rm_on_a_cache(capsys, tmp_path):
    cache = tmp_path / "hub"
    make_hub_cache_entry(cache, "org/tiny-sd", TINY_SD_DIR, commit="e" * 40)
    status, stdout, _ = run_cli(capsys, "models", "list", "--cache-dir", cache)
    lines = {line.split()[0]: line for line in stdout.splitlines()}
    assert status == 0 and "shipped pipeline  Starter model" in lines["builtin:starter"]  # always there
    assert "pipeline" in lines["org/tiny-sd"]
    status, stdout, err = run_cli(capsys, "generate", "x", "-o", tmp_path / "x.wav", "--model", "org/tiny-sd",
                                  "--cache-dir", cache, *GENERATE)
    assert status == 0, err
    assert read_recipe(tmp_path / "x.wav").model_revision == "e" * 40
    status, stdout, _ = run_cli(capsys, "models", "rm", "org/tiny-sd", "--cache-dir", cache)
    assert status == 0 and "Deleted org/tiny-sd" in stdout
    status, stdout, _ = run_cli(capsys, "models", "list", "--cache-dir", cache)
    assert "builtin:starter " in stdout and "org/tiny-sd" not in stdout and "No downloaded models" in stdout


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["to-image", "{tmp}/missing.wav", "-o", "{tmp}/x.png"], ["missing.wav", "does not exist"]),
        (["to-image", "{tmp}/corrupt.wav", "-o", "{tmp}/x.png"], ["corrupt.wav", "cannot be read as audio"]),
        (["to-audio", "{tmp}/corrupt.png", "-o", "{tmp}/x.wav"], ["corrupt.png", "is not a readable image"]),
        (["to-audio", "{tmp}/tone.png", "-o", "{tmp}/x.wav", "--iters", "-3"], ["--iters must be between 1"]),
        (["to-image", "{tmp}/tone.wav", "-o", "{tmp}/x.png", "--preset", "nope"], ["unknown spectrogram preset 'nope'"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--model", "nobody/nothing", "--cache-dir", "{tmp}/hub", *GENERATE],
         ["'nobody/nothing' is not downloaded", "specdiff-cli models pull nobody/nothing"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--model", "{tmp}/no-model", *GENERATE], ["no-model", "does not exist"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--steps", "0"], ["`num_inference_steps` must be between 1 and 1000"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--duration", "-1"], ["`duration_s` must be between"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--guidance", "nan"], ["`guidance_scale` must be a finite number"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--scheduler", "heun"], ["`scheduler` must be one of"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--variations", "100"], ["`num_variations` must be between 1 and 16"]),
        (["generate", "x", "-o", "{tmp}/x.wav", "--steps", "many"], ["--steps: invalid int value: 'many'"]),
        (["generate", "x", "-o", "{tmp}/x.mp3"], ["must end in .wav"]),
        (["generate", "y" * 900, "-o", "{tmp}/x.wav", "--negative", "z" * 200], ["1100 bytes; at most 1000 fit"]),
        (["generate", "x", "-o", "{tmp}/no-dir/x.wav"], ["does not exist"]),
        (["generate", "x"], ["the following arguments are required: -o/--output"]),
        (["models", "rm", "org/absent", "--cache-dir", "{tmp}/hub"], ["'org/absent' is not in the cache"]),
        (["models", "pull", "org/absent", "--offline", "--cache-dir", "{tmp}/hub"], ["Offline mode is on"]),
        (["models", "pull", "not a repo"], ["must be a hub repo id like 'org/name'"]),
        (["unknown-command"], ["invalid choice: 'unknown-command'"]),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(capsys, tmp_path, argv, fragments):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    write_audio(tmp_path / "tone.wav", np.zeros((1, 4410), np.float32) + 0.1, 44100)
    Image.new("RGB", (8, 512), "white").save(tmp_path / "tone.png")
    status, _, err = run_cli(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert_one_line_error(status, err, *[f.format(tmp=tmp_path) for f in fragments])
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.png").exists()


def test_installed_entry_point_reports_errors_without_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "to-image", str(tmp_path / "nope.wav"), "-o",
                           str(tmp_path / "x.png")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"specdiff-cli: error: the audio file '{tmp_path / 'nope.wav'}' does not exist or is not a file."


def test_progress_bar_follows_stages_and_steps():
    stream = io.StringIO()
    bar = ProgressBar(enabled=True, file=stream)
    bar(Progress("load", message="Loading x"))
    for step in (1, 2, 3):
        bar(Progress("denoise", step, 3, message="Variation 2/4"))
    bar(Progress("download", bytes_done=5_000_000, bytes_total=10_000_000, message="Downloading"))
    bar.close()
    text = stream.getvalue()
    assert "load..." in text and "Variation 2/4 denoise" in text and "3/3" in text and "5.00M/10.0M" in text


def test_numbered_paths():
    assert numbered_paths(Path("out.wav"), 1) == [Path("out.wav")]
    assert numbered_paths(Path("d/out.wav"), 3) == [Path("d/out_1.wav"), Path("d/out_2.wav"), Path("d/out_3.wav")]


def test_wav_recipe_metadata_is_read_back(tmp_path):
    soundfile.write(tmp_path / "plain.wav", np.zeros(100, np.float32), 44100)
    with pytest.raises(ValueError, match="carries no recipe"):
        read_recipe(tmp_path / "plain.wav")


def test_generate_without_a_model_uses_starter_model_2_and_its_settings(capsys, tmp_path):
    """A fresh machine (empty hub cache, offline): the shipped starter model 2, in its own 2.56 s
    'starter2' spectrogram with its recommended steps; flags still override the recommendation."""
    from engine.models.catalog import STARTER2_MODEL_ID
    from engine.training import starter_metrics

    out = tmp_path / "sweep.wav"
    status, stdout, err = run_cli(capsys, "generate", "a rising sweep", "-o", out, "--seed", "0",
                                  "--cache-dir", tmp_path / "hub", "--device", "cpu", "--offline")
    assert status == 0, err
    audio, rate = read_audio(out)
    recipe = read_recipe(out)
    # Its card ends its pipeline with the shipped upsampler: full band at 44.1 kHz.
    assert rate == 44100 and audio.shape[1] == 2 * samples_for_width(get_preset("starter2"), 128)
    assert recipe.model_id == STARTER2_MODEL_ID and recipe.params["num_inference_steps"] == 20
    assert recipe.params["upsampler"] == "builtin:upsampler"
    assert recipe.params["guidance_scale"] == 5.0 and "2.56 s" in stdout
    assert starter_metrics.centroid_slope_octaves_per_s(audio, rate) > 0.2
    status, _, err = run_cli(capsys, "generate", "a rising sweep", "-o", out, "--seed", "0", "--steps", "3",
                             "--duration", "1.28", "--overwrite", "--cache-dir", tmp_path / "hub", "--device", "cpu", "--offline")
    assert status == 0, err
    assert read_recipe(out).params["num_inference_steps"] == 3 and read_audio(out)[0].shape[1] == 2 * samples_for_width(
        get_preset("starter2"), 64)
