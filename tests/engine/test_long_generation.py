"""Long text-to-audio (issue 17): past engine.audio.limits.WHOLE_MAX_S a clip is drawn window by
window with bounded memory, progress per window and cancel between (and within) windows.

The tests shrink the limits (monkeypatch) so a 1.6 s clip of the tiny model is four windows;
bench/bench_hostile_memory.py measures the real 600 s case."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from assets.make_tiny_sd import TINY_SD_DIR

from engine.api import Engine, EngineSettings, GenerateJob, JobCancelledError, spec_from_recipe
from engine.audio import limits
from engine.audio.loudness import apply_gain
from engine.audio.spectrogram import audio_from_image, get_preset
from engine.pipelines.generate import long_windows
from engine.specs import MAX_DURATION_S

ROOT = Path(__file__).resolve().parents[2]
JOB = dict(prompt="rain on a tin roof", model=str(TINY_SD_DIR), seed=5, num_inference_steps=2, guidance_scale=5.0)


@pytest.fixture
def small_windows(monkeypatch):
    """Windows of 64 columns (0.64 s) seeing 16 columns of context, past 0.64 s."""
    monkeypatch.setattr(limits, "WHOLE_MAX_S", 0.64)
    monkeypatch.setattr(limits, "LONG_WINDOW_S", 0.64)
    monkeypatch.setattr(limits, "LONG_CONTEXT_S", 0.16)


@pytest.fixture(scope="module")
def engine():
    eng = Engine(EngineSettings(device="cpu", offline=True))
    yield eng
    eng.shutdown()


def test_the_window_count_the_app_shows_is_the_engines_plan():
    for preset in ("riffusion", "starter"):
        params = get_preset(preset)
        for seconds in (5.12, limits.WHOLE_MAX_S, 30.5, 61.0, 250.0, MAX_DURATION_S):
            tiles = long_windows(GenerateJob(duration_s=seconds, **JOB), params)
            assert limits.generation_windows(seconds, params) == max(1, len(tiles))
    # The longest clip: 600 s of Riffusion's 10 ms columns in windows of 10.24 s.
    tiles = long_windows(GenerateJob(duration_s=MAX_DURATION_S, **JOB), get_preset("riffusion"))
    assert len(tiles) == 79 and {t.width for t in tiles} == {1024}
    assert tiles[0].active_lo == 0 and tiles[-1].active_hi == 60000
    for before, after in zip(tiles, tiles[1:]):  # every column once; each window sees the one before
        assert after.active_lo == before.active_hi
        assert after.window_start <= after.active_lo - 256 - 8


def test_a_long_clip_is_drawn_window_by_window_decodes_from_its_image_and_regenerates(engine, small_windows):
    progress = []
    (result,) = engine.run(GenerateJob(duration_s=1.6, **JOB), progress.append, timeout_s=600)

    params = get_preset("riffusion")
    assert result.audio.shape == (1, 160 * params.hop_length) and result.image.size == (160, 512)
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0.05
    tiles = [p for p in progress if p.stage == "tile"]
    assert [(p.step, p.total) for p in tiles] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert len([p for p in progress if p.stage == "denoise" and p.step == 2]) == 4  # two steps per window
    assert len(result.recipe.facts["tiles"]) == 4
    # Every column was drawn (no white left), and the audio is exactly what the saved image decodes to.
    pixels = np.asarray(result.image)
    assert (pixels[..., 0] < 255).any(axis=0).all()
    audio, _ = audio_from_image(result.image, generator=torch.Generator("cpu").manual_seed(JOB["seed"]))
    np.testing.assert_array_equal(apply_gain(audio, result.recipe.facts["level"]["gain_db"]), result.audio)

    (again,) = engine.run(spec_from_recipe(result.recipe), timeout_s=600)
    np.testing.assert_array_equal(again.audio, result.audio)


def test_cancel_between_windows_stops_the_job_and_delivers_nothing(engine, small_windows):
    seen = []

    def on_progress(progress):
        seen.append(progress)
        if progress.stage == "tile" and progress.step == 1:
            engine.cancel(job_id[0])

    job_id = [None]
    real_submit = engine.submit

    def submit(spec):
        job_id[0] = real_submit(spec)
        return job_id[0]

    engine.submit = submit
    try:
        with pytest.raises(JobCancelledError):
            engine.run(GenerateJob(duration_s=1.6, **JOB), on_progress, timeout_s=600)
    finally:
        del engine.submit
    after = seen[[i for i, p in enumerate(seen) if p.stage == "tile" and p.step == 1][0] + 1:]
    assert len([p for p in after if p.stage == "denoise"]) <= 1  # within a step of window 2
    assert not [p for p in after if p.stage == "invert"]


PEAK = r"""
import sys
sys.path.insert(0, "tests")
import torch
torch.set_num_threads(1)
from assets.make_tiny_sd import TINY_SD_DIR
from engine.api import Engine, EngineSettings, GenerateJob
from engine.audio import limits
limits.WHOLE_MAX_S, limits.LONG_WINDOW_S, limits.LONG_CONTEXT_S = 1.28, 1.28, 0.32
engine = Engine(EngineSettings(device="cpu", offline=True))
job = dict(prompt="x", model=str(TINY_SD_DIR), seed=1, num_inference_steps=1, spectrogram_preset="starter")
engine.run(GenerateJob(duration_s=0.64, **job), timeout_s=600)  # loads the model, warms the allocators
def hwm():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024
before = hwm()
(result,) = engine.run(GenerateJob(duration_s=float(sys.argv[1]), **job), timeout_s=600)
print(hwm() - before, len(result.recipe.facts["tiles"]), result.audio.nbytes)
engine.shutdown()
"""


def test_memory_of_a_long_clip_grows_with_its_audio_not_with_its_windows():
    """A clip 4 times longer (3 times the windows) costs little more than its own audio and pixels:
    each window is one window's work, whatever the clip's length."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    peaks = {}
    for seconds in (2.56, 10.24):
        out = subprocess.run([sys.executable, "-c", PEAK, str(seconds)], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=900, check=True)
        growth, windows, audio_bytes = (int(x) for x in out.stdout.split())
        peaks[seconds] = (growth, windows, audio_bytes)
    (short, short_windows, _), (long, long_windows_, long_audio) = peaks[2.56], peaks[10.24]
    assert long_windows_ >= 3 * short_windows
    # 10 s at 22.05 kHz is 0.9 MB of float32, its image 0.2 MB; inversion works on chunks.
    assert long - short < 40 * long_audio + 64 * 2**20
