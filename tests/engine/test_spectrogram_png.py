"""Spectrogram PNGs written in chunks (issue 17 part 2): the same picture as the whole-array path,
memory that does not grow with the file, and a refusal with the estimate before any work."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from engine.audio.io import resample, to_channels
from engine.audio.limits import ResourceLimitError
from engine.audio.spectrogram import get_preset, image_from_audio
from engine.audio.spectrogram_png import (
    array_reader,
    audio_file_reader,
    check_png_export,
    export_spectrogram_png,
    resampled_reader,
)

ROOT = Path(__file__).resolve().parents[2]


def _music(seconds: float, rate: int, channels: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    right = 0.3 * np.sin(2 * np.pi * (200 + 50 * t) * t)
    return np.stack([left, right][:channels]).astype(np.float32)


@pytest.mark.parametrize("preset, stereo, rate", [("starter", False, 44100), ("riffusion", True, 44100),
                                                   ("riffusion", False, 48000)])
def test_the_png_written_in_chunks_is_the_whole_image_pixel_for_pixel(tmp_path, preset, stereo, rate):
    params = dataclasses.replace(get_preset(preset), stereo=stereo)
    audio = _music(6.3, rate, 2)
    sf.write(tmp_path / "in.wav", audio.T, rate, subtype="FLOAT")
    # The CLI mixes a file down before resampling it (as it did); the app resamples its mix.
    cli_whole = image_from_audio(resample(to_channels(audio, 2 if stereo else 1), rate, params.sample_rate), params)
    app_whole = image_from_audio(resample(audio, rate, params.sample_rate), params)

    with audio_file_reader(tmp_path / "in.wav", params) as (read, samples):  # the CLI's path: the file in blocks
        export_spectrogram_png(lambda lo, hi: read(lo, hi), samples, params.sample_rate, params, tmp_path / "a.png")
    export_spectrogram_png(array_reader(audio), audio.shape[1], rate, params, tmp_path / "b.png")  # the app's
    for name, whole in (("a.png", cli_whole), ("b.png", app_whole)):
        with Image.open(tmp_path / name) as image:
            assert image.size == whole.size and image.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(image), np.asarray(whole))
            assert dict(image.getexif()) == dict(whole.getexif())  # the parameters and MAX_VALUE
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no scratch left


def test_block_resampling_equals_resampling_the_whole():
    audio = _music(3.0, 44100, 2)
    read, length = resampled_reader(array_reader(audio), audio.shape[1], 44100, 22050)
    whole = resample(audio, 44100, 22050)
    assert length == whole.shape[1]
    for lo, hi in ((0, 17), (5000, 5001), (12345, 40000), (length - 9, length)):
        np.testing.assert_allclose(read(lo, hi), whole[:, lo:hi], atol=1e-7)


def test_too_large_or_no_disk_space_is_refused_before_any_work_with_the_estimate(tmp_path, monkeypatch):
    params = get_preset("riffusion")
    with pytest.raises(ResourceLimitError, match=r"2:00:00 of audio.*at most 43:41"):
        check_png_export(7200 * 44100, 44100, params, tmp_path / "x.png")
    assert check_png_export(60 * 44100, 44100, params, tmp_path / "x.png") == 6000
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _path: shutil._ntuple_diskusage(10**12, 10**12 - 10**6, 10**6))
    with pytest.raises(ResourceLimitError, match=r"6000x512 px spectrogram image of 1:00 needs about 21\.5 MB of "
                                                 r"disk space .* and 1\.0 MB is free"):
        check_png_export(60 * 44100, 44100, params, tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


PEAK = r"""
import struct, sys
import engine.cli
def wav(path, seconds):  # 16-bit mono at 44.1 kHz: a tone, written a second at a time
    import numpy as np, soundfile as sf
    with sf.SoundFile(path, "w", 44100, 1, subtype="PCM_16") as f:
        for second in range(int(seconds)):
            t = second + np.arange(44100) / 44100
            f.write((0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32))
def hwm():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024
folder = sys.argv[1]
wav(folder + "/short.wav", 60)
assert engine.cli.main(["to-image", folder + "/short.wav", "-o", folder + "/short.png", "--preset", "starter"]) == 0
wav(folder + "/long.wav", float(sys.argv[2]))
before = hwm()
assert engine.cli.main(["to-image", folder + "/long.wav", "-o", folder + "/long.png", "--preset", "starter"]) == 0
print(hwm() - before)
"""


def test_to_image_of_a_long_file_reads_it_in_blocks_and_memory_does_not_grow_with_it(tmp_path):
    """5 minutes at 44.1 kHz is 53 MB as float32 (the old path held it, its resampled copy, the
    float mel and the pixels twice: about 120 MB); in chunks the peak after a 1-minute file grows by
    under 40 MB whatever the length (17-42 MB measured for 2-10 minutes: allocator slack; the old
    path grew by 106 MB for 5 minutes)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", PEAK, str(tmp_path), "300"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    growth = int(out.stdout.split()[-1])
    assert growth < 40 * 2**20, f"peak grew by {growth / 2**20:.1f} MB"
    with Image.open(tmp_path / "long.png") as image:
        assert image.size == (15000, 128)
        row = np.asarray(image)[:, 7500, 0]
    # The 330 Hz tone is the darkest row of the middle column (row 0 is the top of the picture).
    from engine.audio.mel_scale import mel_bin_frequencies

    tone_bin = int(np.abs(mel_bin_frequencies(get_preset("starter")) - 330).argmin())
    assert abs(int(row.argmin()) - (127 - tone_bin)) <= 1
