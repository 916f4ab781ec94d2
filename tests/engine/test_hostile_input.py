"""Hostile and huge input (issue 17 parts 2 and 6): crafted PNGs (EXIF bombs, garbage EXIF,
decompression bombs, huge widths) and WAVs (hours long, lying headers) get one clear line from the
CLI and a non-zero exit, never a traceback; the input file is untouched; and long input that is
accepted runs in bounded memory. The nastiest cases run in a subprocess under an address-space
limit (``RLIMIT_AS``) of a few hundred MB above what the imported libraries already map."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from engine.audio.io import read_audio
from engine.audio.limits import MAX_IMAGE_PIXELS, ResourceLimitError, check_prompt, load_image
from engine.audio.spectrogram import (
    PRESETS,
    ExifTag,
    SpectrogramExifError,
    SpectrogramParams,
    image_from_audio,
    mel_from_image,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and sparse files: Linux")

ROOT = Path(__file__).resolve().parents[2]
MB = 1 << 20

# Imports everything first, then allows only BUDGET bytes of address space beyond what is mapped,
# and runs each CLI command line of the JSON list in turn (stderr of each captured on its own).
HARNESS = r"""
import contextlib, io, json, os, resource, sys
import torch, torchaudio, scipy.signal, soundfile, PIL.Image
torch.set_num_threads(1)
import engine.audio.spectrogram, engine.audio.inversion, engine.cli
torch.stft(torch.zeros(1, 4096), 1024, window=torch.hann_window(1024), return_complex=True)  # warm the FFT
mapped = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (mapped + int(sys.argv[1]), resource.RLIM_INFINITY))
results = []
for argv in json.loads(sys.argv[2]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = engine.cli.main(argv)
    results.append({"status": status, "stderr": err.getvalue()})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"results": results, "peak_rss": peak}))
"""


def run_cli_limited(commands: list[list[str]], budget_bytes: int) -> list[dict]:
    """Run CLI command lines in one subprocess under ``RLIMIT_AS`` = what is mapped + ``budget_bytes``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, str(budget_bytes), json.dumps(commands)],
        capture_output=True, text=True, env=env, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]  # the process itself survived every command
    return json.loads(done.stdout.splitlines()[-1])["results"]


def run_cli(argv: list[str], capsys) -> dict:
    """Run one CLI command line in this process."""
    from engine.cli import main

    capsys.readouterr()
    status = main(argv)
    return {"status": status, "stderr": capsys.readouterr().err}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error_line(result: dict) -> str:
    """The CLI's one error line (asserting exit status 1, exactly one line and no traceback)."""
    assert result["status"] == 1, result
    assert "Traceback" not in result["stderr"], result["stderr"][-2000:]
    lines = result["stderr"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("specdiff-cli: error: "), lines
    return lines[0]


def save_with_exif(image: Image.Image, path: Path, exif: dict[int, object] | bytes | None) -> Path:
    """Save ``image`` as PNG with ``exif`` (tags, raw bytes, or none)."""
    if isinstance(exif, dict):
        tags = image.getexif()
        tags.update(exif.items())
        exif = tags
    image.save(path, **({} if exif is None else {"exif": exif}))
    return path


def spectrogram_png(path: Path, exif: dict[int, object] | bytes | None, width: int = 64, height: int = 512) -> Path:
    pixels = np.full((height, width, 3), 255, dtype=np.uint8)
    pixels[height // 2, :, :] = 0  # one tone
    return save_with_exif(Image.fromarray(pixels), path, exif)


def riffusion_exif(**changes: object) -> dict[int, object]:
    exif = dict(PRESETS["riffusion"].to_exif())
    exif[ExifTag.MAX_VALUE.value] = 1e6
    for name, value in changes.items():
        exif[ExifTag[name].value] = value
    return exif


# ----------------------------------------------------------------------------- PNGs through the CLI

EXIF_BOMBS = {
    # tag changed -> the tag the message must name
    "n_fft 2**20 with a 1-sample hop": (
        {"STEP_SIZE_MS": 1 / 44.1, "PADDED_DURATION_MS": 2**20 / 44.1}, "STEP_SIZE_MS (11010)"),
    "n_fft 2**20": ({"PADDED_DURATION_MS": 2**20 / 44.1}, "PADDED_DURATION_MS (11030)"),
    "100 000 mel bins": ({"NUM_FREQUENCIES": 100_000}, "NUM_FREQUENCIES (11040)"),
    "a 1 GHz sample rate": ({"SAMPLE_RATE": 10**9}, "SAMPLE_RATE (11000)"),
    "a zero window": ({"WINDOW_DURATION_MS": 0}, "WINDOW_DURATION_MS (11020)"),
    "power 1e-9": ({"POWER_FOR_IMAGE": 1e-9}, "POWER_FOR_IMAGE (11070)"),
    "a text sample rate": ({"SAMPLE_RATE": "lots"}, "SAMPLE_RATE (11000)"),
    "an infinite max value": ({"MAX_VALUE": float("inf")}, "MAX_VALUE (11080)"),
}


@pytest.mark.parametrize("case", list(EXIF_BOMBS))
def test_exif_bombs_are_refused_naming_the_tag(case, tmp_path, capsys):
    changes, tag = EXIF_BOMBS[case]
    source = spectrogram_png(tmp_path / "bomb.png", riffusion_exif(**changes))
    before = digest(source)
    line = error_line(run_cli(["to-audio", str(source), "-o", str(tmp_path / "out.wav")], capsys))
    assert tag in line, line
    assert digest(source) == before
    assert not (tmp_path / "out.wav").exists()


def test_garbage_exif_is_one_clear_line(tmp_path, capsys):
    source = spectrogram_png(tmp_path / "garbage.png", b"Exif\x00\x00this is not a TIFF header at all")
    with Image.open(source) as opened, pytest.raises(SpectrogramExifError, match="EXIF block is unreadable"):
        mel_from_image(opened)
    before = digest(source)
    line = error_line(run_cli(["to-audio", str(source), "-o", str(tmp_path / "out.wav")], capsys))
    assert "EXIF block is unreadable" in line
    assert digest(source) == before


def _bilevel_png(path: Path, width: int, height: int, exif: dict[int, object] | None = None) -> Path:
    # 1 bit per pixel: cheap to make, tiny on disk.
    return save_with_exif(Image.new("1", (width, height), 1), path, exif)


@pytest.mark.parametrize("damage", ["truncated", "not an image"])
def test_damaged_images_are_one_clear_line(damage, tmp_path, capsys):
    source = spectrogram_png(tmp_path / "damaged.png", riffusion_exif(), width=256)
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"RIFF" + os.urandom(4000))
    before = digest(source)
    line = error_line(run_cli(["to-audio", str(source), "-o", str(tmp_path / "out.wav")], capsys))
    assert str(source) in line or "image" in line
    assert digest(source) == before


# ----------------------------------------------------------------------------- WAVs through the CLI


def sparse_wav(path: Path, seconds: float, rate: int, channels: int = 1) -> Path:
    """A valid 16-bit WAV of silence, ``seconds`` long, as a sparse file (no disk blocks for the data)."""
    frames = int(seconds * rate)
    data_bytes = frames * channels * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_bytes)
    return path


def test_huge_inputs_are_refused_up_front_within_200_mb(tmp_path):
    """The issue's worst cases, in one process allowed 200 MB beyond its libraries: each is refused
    from its header or its EXIF before any big allocation, in one line, and nothing is written."""
    issue_bomb = spectrogram_png(tmp_path / "bomb.png", riffusion_exif(**EXIF_BOMBS["n_fft 2**20 with a 1-sample hop"][0]))
    # 300 000 columns x 512 rows: 154 megapixels, 460 MB as RGB, in a file of a few kB.
    wide = _bilevel_png(tmp_path / "wide.png", 300_000, 512, riffusion_exif())
    pillow_bomb = _bilevel_png(tmp_path / "pillow-bomb.png", 20_000, 10_000)  # past Pillow's own limit
    two_hours = sparse_wav(tmp_path / "two-hours.wav", 2 * 3600, 44100)  # 635 MB of samples, 0 on disk
    inputs = [issue_bomb, wide, pillow_bomb, two_hours]
    assert all(path.stat().st_size < 1 * MB or path is two_hours for path in inputs)
    before = [digest(path) for path in inputs]
    commands = [[cmd, str(path), "-o", str(tmp_path / f"out{i}.{ext}")] for i, (cmd, path, ext) in enumerate([
        ("to-audio", issue_bomb, "wav"), ("to-audio", wide, "wav"), ("to-audio", pillow_bomb, "wav"),
        ("to-image", two_hours, "png"),
    ])]
    bomb, too_wide, too_big, too_long = (error_line(r) for r in run_cli_limited(commands, 200 * MB))
    assert "STEP_SIZE_MS (11010)" in bomb
    assert "300000x512 px = 153.6 megapixels; the limit is 262144 columns" in too_wide, too_wide
    assert "too large to decode" in too_big, too_big
    assert "720000x512 px" in too_long and "2:00:00 of audio" in too_long and "at most 43:41" in too_long, too_long
    assert [digest(path) for path in inputs] == before
    assert not list(tmp_path.glob("out*"))
    with pytest.raises(ResourceLimitError, match="megapixels"):
        load_image(wide)


def test_ten_minutes_to_an_image_and_back_run_in_bounded_memory(tmp_path):
    """10 minutes at the starter model's 128 rows: 30 000 columns. One-piece analysis (a 530 MB
    STFT, ~1.1 GB with its magnitude) and one-piece Griffin-Lim do not fit the 600 MB allowed."""
    rate = 22050
    t = np.arange(600 * rate) / rate
    # A tone gliding between 100 and 500 Hz once a minute (phase = the integral of the frequency).
    phase = 2 * np.pi * (300 * t - 200 * 60 / (2 * np.pi) * np.cos(2 * np.pi * t / 60))
    tone = (0.5 * np.sin(phase)).astype(np.float32)
    source = tmp_path / "ten-minutes.wav"
    sf.write(source, tone, rate, subtype="PCM_16")
    del t, phase, tone
    image_path, back = tmp_path / "ten-minutes.png", tmp_path / "back.wav"
    results = run_cli_limited([
        ["to-image", str(source), "-o", str(image_path), "--preset", "starter"],
        ["to-audio", str(image_path), "-o", str(back), "--iters", "2"],
    ], 600 * MB)
    assert [r["status"] for r in results] == [0, 0], results
    with Image.open(image_path) as image:
        assert image.size == (30_000, 128)
    audio, back_rate = sf.read(back, dtype="float32")
    assert back_rate == rate and audio.shape[0] == 30_000 * 441
    # The sweeping tone is there at the end as at the start: no chunk dropped out.
    assert np.abs(audio[: rate]).max() > 0.3 and np.abs(audio[-rate:]).max() > 0.3


def test_audio_longer_than_the_limit_is_refused_from_the_header(tmp_path):
    source = sparse_wav(tmp_path / "long.wav", 10, 8000, channels=2)
    with pytest.raises(ResourceLimitError, match=r"10\.0 s of audio \(2 channel\(s\) at 8000 Hz.*at most 5\.0 s"):
        read_audio(source, max_duration_s=5)
    audio, rate = read_audio(source)
    assert audio.shape == (2, 80_000) and rate == 8000 and not audio.any()


def test_a_wav_header_that_claims_more_data_than_the_file_holds_reads_what_is_there(tmp_path):
    source = tmp_path / "lying.wav"
    sf.write(source, np.full(1000, 0.25, dtype=np.float32), 44100, subtype="PCM_16")
    data = bytearray(source.read_bytes())
    at = data.find(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0x7FFFFFF0)  # "2 GB of samples follow"
    source.write_bytes(bytes(data))
    audio, _ = read_audio(source)
    assert audio.shape == (1, 1000)
    np.testing.assert_allclose(audio, 0.25, atol=1e-4)


@pytest.mark.parametrize(("seconds", "rate", "channels", "needle"), [
    (1.0, 999, 1, "sample rate"),  # below 1 kHz
    (0.01, 44100, 65, "channels"),  # more than 8 channels
])
def test_odd_wav_headers_are_one_clear_line(seconds, rate, channels, needle, tmp_path, capsys):
    source = sparse_wav(tmp_path / "odd.wav", seconds, rate, channels)
    before = digest(source)
    line = error_line(run_cli(["to-image", str(source), "-o", str(tmp_path / "out.png")], capsys))
    assert needle in line, line
    assert digest(source) == before


# ----------------------------------------------------------------------------- in-process limits


def test_an_image_wider_than_the_limit_is_refused_before_any_work():
    params = PRESETS["riffusion"]
    audio = np.zeros((1, 44100), dtype=np.float32)
    columns = MAX_IMAGE_PIXELS // params.num_frequencies + 8
    with pytest.raises(ResourceLimitError, match=r"at most 43:41 at 10 ms per column"):
        image_from_audio(audio, params, width=columns)


def test_params_refuse_sizes_that_would_explode():
    with pytest.raises(ValueError, match="step_size_ms"):
        SpectrogramParams(step_size_ms=1 / 44.1)
    with pytest.raises(ValueError, match="padded_duration_ms"):
        SpectrogramParams(padded_duration_ms=2**20 / 44.1)
    with pytest.raises(ValueError, match="num_frequencies"):
        SpectrogramParams(padded_duration_ms=1000, num_frequencies=4096)
    for preset in PRESETS.values():  # every shipped preset is well inside the ranges
        SpectrogramParams.from_dict(preset.to_dict())


def test_prompts_have_a_length_limit():
    from engine.api import GenerateJob

    with pytest.raises(ValueError, match="`prompt` is 5000 characters long; at most 2000"):
        GenerateJob("x" * 5000)
    with pytest.raises(ValueError, match="`negative_prompt`"):
        GenerateJob("x", negative_prompt="y" * 2001)
    check_prompt("a warm pad")


def test_requests_beyond_the_memory_available_are_refused_with_the_estimate(tmp_path, monkeypatch):
    import engine.audio.limits as limits
    from engine.audio.spectrogram import check_audio_for_image

    monkeypatch.setattr(limits, "available_memory_bytes", lambda: 500 * 10**6)
    source = sparse_wav(tmp_path / "hour.wav", 3600, 44100, channels=2)  # 1.3 GB as float32
    with pytest.raises(ResourceLimitError, match=r"reading .*hour\.wav \(1:00:00\) would need about 1\.3 GB "
                                                 r"of memory and 500\.0 MB is available"):
        read_audio(source)
    # 40 minutes at Riffusion's settings fit the size limit but not 500 MB.
    with pytest.raises(ResourceLimitError, match=r"240000x512 px spectrogram image of 40:00 would need about"):
        check_audio_for_image(40 * 60 * 44100, 44100, PRESETS["riffusion"])
    assert check_audio_for_image(44100, 44100, PRESETS["riffusion"]) == 100  # small requests pass
