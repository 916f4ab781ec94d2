"""Every edit keeps the clip's sample rate and channels and lands at the loudness around it, through
the real Engine with the tiny SD model (CPU; its spectrogram preset runs at 44.1 kHz, the clips
here are 48 kHz stereo and 22.05 kHz mono)."""

from __future__ import annotations

import numpy as np
import pytest
from test_inpaint import FAST, engine, make_clip, run_job  # noqa: F401 (engine: fixture)

from engine.api import ExtendJob, InpaintJob, LoopJob, VaryJob, spec_from_recipe
from engine.audio.io import resample
from engine.audio.loudness import CEILING_DBTP, MAX_EDIT_BOOST_DB, integrated_loudness, true_peak_dbtp

CLIP_RATE = 48000


@pytest.fixture(scope="module")
def clip():
    """2.5 s of stereo music at 48 kHz."""
    return resample(make_clip(2.5, channels=2), 44100, CLIP_RATE)


def matched(level: dict, measured: float, reference: float) -> bool:
    """The new audio is within 1.5 LU of its reference, or the gain stopped at a limit."""
    capped = level["gain_db"] == MAX_EDIT_BOOST_DB or level["true_peak_dbtp"] == pytest.approx(CEILING_DBTP, abs=0.01)
    return abs(measured - reference) <= 1.5 or capped


def test_inpaint_keeps_rate_channels_and_every_untouched_sample(engine, clip):
    spec = InpaintJob(audio=clip, sample_rate_hz=CLIP_RATE, start_s=1.0, end_s=1.6, prompt="horn", seed=3, **FAST)
    (result,) = run_job(engine, spec)
    assert (result.sample_rate_hz, result.audio.shape) == (CLIP_RATE, clip.shape)
    lo, hi = CLIP_RATE, int(1.6 * CLIP_RATE)
    np.testing.assert_array_equal(result.audio[:, :lo], clip[:, :lo])
    np.testing.assert_array_equal(result.audio[:, hi:], clip[:, hi:])
    assert np.abs(result.audio).max() <= 1.0
    new = result.audio[:, lo:hi]
    assert np.abs(new - clip[:, lo:hi]).max() > 0.01  # something was repainted
    assert not np.array_equal(new[0], new[1])  # stereo stays stereo: the channels keep their own audio
    level = result.recipe.facts["level"]
    assert matched(level, integrated_loudness(new, CLIP_RATE), integrated_loudness(clip, CLIP_RATE))
    # The recipe regenerates it from the clip as it is (48 kHz), gain included.
    (again,) = run_job(engine, spec_from_recipe(result.recipe, {"audio": (clip, CLIP_RATE)}))
    np.testing.assert_array_equal(again.audio, result.audio)
    assert again.recipe.facts["level"] == level


def test_extend_keeps_rate_channels_and_the_clip(engine, clip):
    spec = ExtendJob(audio=clip, sample_rate_hz=CLIP_RATE, left_s=0.5, right_s=1.0, seed=4, window_s=1.28,
                     context_s=0.5, **FAST)
    (result,) = run_job(engine, spec)
    left = result.recipe.facts["offset_samples"]
    assert (result.sample_rate_hz, left) == (CLIP_RATE, CLIP_RATE // 2)
    assert result.audio.shape == (2, clip.shape[1] + int(1.5 * CLIP_RATE))
    np.testing.assert_array_equal(result.audio[:, left : left + clip.shape[1]], clip)
    assert np.abs(result.audio).max() <= 1.0
    for side, new in (("left", result.audio[:, :left]), ("right", result.audio[:, left + clip.shape[1] :])):
        level = result.recipe.facts["level"][side]
        assert true_peak_dbtp(new) <= CEILING_DBTP + 1e-3
        assert matched(level, integrated_loudness(new, CLIP_RATE), level["reference_lufs"])


def test_loop_keeps_rate_channels_and_everything_outside_the_band(engine, clip):
    spec = LoopJob(audio=clip, sample_rate_hz=CLIP_RATE, seam_s=0.4, seed=5, window_s=1.28, **FAST)
    (result,) = run_job(engine, spec)
    assert (result.sample_rate_hz, result.audio.shape) == (CLIP_RATE, clip.shape)
    lo, hi = result.recipe.facts["band_samples"]  # the band wraps around the loop's end
    assert hi < lo
    np.testing.assert_array_equal(result.audio[:, hi:lo], clip[:, hi:lo])
    assert np.abs(result.audio).max() <= 1.0


def test_variation_keeps_rate_channels_and_loudness(engine, clip):
    spec = VaryJob(audio=clip, sample_rate_hz=CLIP_RATE, strength=0.6, seed=6, window_s=1.28, **FAST)
    (result,) = run_job(engine, spec)
    assert (result.sample_rate_hz, result.audio.shape) == (CLIP_RATE, clip.shape)
    assert true_peak_dbtp(result.audio) <= CEILING_DBTP + 1e-3
    assert matched(result.recipe.facts["level"], integrated_loudness(result.audio, CLIP_RATE),
                   integrated_loudness(clip, CLIP_RATE))


def test_a_low_rate_mono_clip_stays_low_rate_mono(engine):
    clip = resample(make_clip(1.5), 44100, 22050)
    spec = InpaintJob(audio=clip, sample_rate_hz=22050, start_s=0.5, end_s=1.0, seed=7, **FAST)
    (result,) = run_job(engine, spec)
    assert (result.sample_rate_hz, result.audio.shape) == (22050, clip.shape)
    keep = np.ones(clip.shape[1], bool)
    keep[11025:22050] = False
    np.testing.assert_array_equal(result.audio[:, keep], clip[:, keep])


def test_a_painted_mask_is_drawn_on_the_working_copys_columns(engine, clip):
    from engine.pipelines.landing import working_length

    hop = 441  # the riffusion preset's, at 44.1 kHz
    columns = working_length(clip.shape[1], CLIP_RATE, 44100) // hop
    mask = np.zeros((64, columns), np.float32)
    mask[10:30, 100:140] = 1.0  # 1.0 s to 1.4 s, a band of mel rows
    (result,) = run_job(engine, InpaintJob(audio=clip, sample_rate_hz=CLIP_RATE, mask=mask, seed=8, **FAST))
    assert (result.sample_rate_hz, result.audio.shape) == (CLIP_RATE, clip.shape)
    lo, hi = CLIP_RATE, int(1.4 * CLIP_RATE)
    np.testing.assert_array_equal(result.audio[:, :lo], clip[:, :lo])
    np.testing.assert_array_equal(result.audio[:, hi:], clip[:, hi:])
    assert not np.array_equal(result.audio[:, lo:hi], clip[:, lo:hi])
    assert np.abs(result.audio).max() <= 1.0
