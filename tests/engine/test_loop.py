"""Seamless loops through the real Engine with the tiny SD model (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from test_inpaint import FAST, RATE, engine, run_job  # noqa: F401 (engine: fixture)

from engine.api import LoopJob, spec_from_recipe
from engine.audio.splice import jump_ratio


def broken_loop(seconds: float) -> np.ndarray:
    """A tone whose length is not a whole number of periods: looping it clicks at the wrap."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.4 * np.sin(2 * np.pi * 110.0 * t + 0.5) + 0.2 * np.sin(2 * np.pi * 275.0 * t)
    return np.stack([tone, 0.9 * tone]).astype(np.float32)


def wrap_jump(audio: np.ndarray) -> float:
    """The jump from the last sample back to the first, as heard when the clip loops."""
    return jump_ratio(np.concatenate([audio, audio], axis=1), audio.shape[1])


@pytest.fixture(scope="module")
def looped(engine):
    clip = broken_loop(2.987)
    (result,) = run_job(engine, LoopJob(audio=clip, sample_rate_hz=RATE, seam_s=0.5, prompt="drum loop", seed=4,
                                        window_s=2.56, **FAST))
    return clip, result


def test_the_wrap_point_becomes_continuous(looped):
    clip, result = looped
    assert wrap_jump(clip) > 5  # the input clicks when looped
    assert result.audio.shape == clip.shape
    assert wrap_jump(result.audio) < 3.0


def test_only_the_band_around_the_wrap_changes(looped):
    clip, result = looped
    band_lo, band_hi = result.recipe.facts["band_samples"]  # the band wraps: [band_lo, end) + [0, band_hi)
    assert band_hi < band_lo
    assert (clip.shape[1] - band_lo) + band_hi == pytest.approx(0.5 * RATE, abs=2)
    assert np.array_equal(result.audio[:, band_hi:band_lo], clip[:, band_hi:band_lo])
    assert not np.array_equal(result.audio[:, :band_hi], clip[:, :band_hi])
    for edge in (band_hi, band_lo):
        assert jump_ratio(result.audio, edge) < 3.0


def test_a_range_of_a_clip_becomes_the_loop_and_regenerates_from_its_recipe(engine):
    clip = broken_loop(3.5)
    spec = LoopJob(audio=clip, sample_rate_hz=RATE, start_s=0.5, end_s=2.913, seam_s=0.4, seed=8, window_s=2.56,
                   **FAST)
    (result,) = run_job(engine, spec)
    loop = clip[:, int(0.5 * RATE) : int(round(2.913 * RATE))]
    assert result.audio.shape == loop.shape
    assert wrap_jump(loop) > 5 and wrap_jump(result.audio) < 3.0
    (again,) = run_job(engine, spec_from_recipe(result.recipe, {"audio": (clip, RATE)}))
    assert np.array_equal(again.audio, result.audio)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(seam_s=1.5), "at least twice `seam_s`"),
        (dict(start_s=1.0, end_s=0.5), "must be after `start_s`"),
        (dict(end_s=5.0), "past the end"),
        (dict(seam_s=0.0), "`seam_s` must be between"),
    ],
)
def test_absurd_loops_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoopJob(audio=broken_loop(2.0), sample_rate_hz=RATE, **kwargs)
