"""Loudness and true peak (engine.audio.loudness) against the standard's reference signals, and the
landing of edits (engine.pipelines.landing): the clip's rate and channels, untouched samples exact,
new audio at the loudness around it and never above full scale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.audio.loudness import (
    CEILING_DBTP,
    MAX_EDIT_BOOST_DB,
    TARGET_LUFS,
    apply_gain,
    gain_to_target,
    integrated_loudness,
    level_to_target,
    matching_gain,
    true_peak_dbtp,
)
from engine.audio.splice import jump_ratio
from engine.pipelines.landing import (
    land_extension,
    land_region,
    land_whole,
    resample_span,
    spans_at_rate,
    working_copy,
    working_length,
)


def sine(freq_hz: float, seconds: float, rate: int, dbfs: float, channels: int = 1, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    tone = 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq_hz * t + phase)
    return np.repeat(tone[None, :], channels, axis=0).astype(np.float32)


def noise(seconds: float, rate: int, rms: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rms * rng.standard_normal((channels, int(round(seconds * rate))))).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# BS.1770 / EBU Tech 3341 reference values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dbfs", [-23.0, -33.0])
def test_ebu_3341_stereo_1khz_sine_reads_its_level(dbfs):
    # Tech 3341 cases 1 and 2: a 1 kHz sine at -23 (-33) dBFS in both channels is -23 (-33) LUFS, +-0.1.
    assert integrated_loudness(sine(1000, 20, 48000, dbfs, channels=2), 48000) == pytest.approx(dbfs, abs=0.1)


def test_full_scale_997_hz_mono_sine_is_minus_3_lufs():
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS.
    assert integrated_loudness(sine(997, 5, 48000, 0.0), 48000) == pytest.approx(-3.01, abs=0.1)


def test_gating_ignores_silence_and_quiet_passages():
    rate = 48000
    # Tech 3341 case 3: -36 / -23 / -36 dBFS for 10 / 60 / 10 s reads -23 LUFS (the relative gate).
    quiet, loud = sine(1000, 10, rate, -36.0, 2), sine(1000, 60, rate, -23.0, 2)
    assert integrated_loudness(np.concatenate([quiet, loud, quiet], axis=1), rate) == pytest.approx(-23.0, abs=0.1)
    # Silence around a tone does not lower its loudness (the absolute gate); silence alone is -inf.
    padded = np.concatenate([np.zeros((1, 5 * rate), np.float32), sine(1000, 5, rate, -20.0)], axis=1)
    assert integrated_loudness(padded, rate) == pytest.approx(integrated_loudness(sine(1000, 5, rate, -20.0), rate), abs=0.2)
    assert integrated_loudness(np.zeros((2, rate), np.float32), rate) == -math.inf


def test_short_audio_is_measured_as_one_block():
    tone = sine(1000, 0.1, 48000, -23.0, 2)
    assert integrated_loudness(tone, 48000) == pytest.approx(-23.0, abs=0.3)


def test_true_peak_finds_the_peak_between_samples():
    # A sine at a quarter of the rate, sampled 45 degrees off its crests: samples reach -3 dBFS,
    # the waveform 0 dBTP (Tech 3341's true-peak idea).
    tone = sine(12000, 1, 48000, 0.0, phase=np.pi / 4)
    assert 20 * np.log10(np.abs(tone).max()) == pytest.approx(-3.01, abs=0.05)
    assert true_peak_dbtp(tone) == pytest.approx(0.0, abs=0.5)
    assert true_peak_dbtp(np.zeros((1, 100), np.float32)) == -math.inf


# ---------------------------------------------------------------------------------------------
# Gains
# ---------------------------------------------------------------------------------------------


def test_a_generated_clip_lands_at_the_target_under_the_ceiling():
    rate = 22050
    for clip in (noise(2, rate, 3.0), sine(440, 2, rate, 15.0), noise(2, rate, 1e-3)):  # loud, very loud, quiet
        out, report = level_to_target(clip, rate)
        assert integrated_loudness(out, rate) == pytest.approx(TARGET_LUFS, abs=0.1)
        assert true_peak_dbtp(out) <= CEILING_DBTP + 1e-3
        assert report.loudness_lufs == pytest.approx(TARGET_LUFS, abs=0.1)
        np.testing.assert_array_equal(apply_gain(clip, report.gain_db), out)  # the recorded gain is the gain


def test_an_impulsive_clip_stops_at_the_true_peak_ceiling():
    rate = 22050
    clicks = np.zeros((1, 2 * rate), np.float32)
    clicks[0, :: rate // 4] = 1.0  # 4 clicks per second: a huge crest factor
    out, report = level_to_target(clicks, rate)
    assert true_peak_dbtp(out) == pytest.approx(CEILING_DBTP, abs=0.01)
    assert report.loudness_lufs < TARGET_LUFS  # quieter than the target rather than clipped
    assert gain_to_target(np.zeros((1, 100), np.float32), rate) == 0.0


def test_matching_gain_meets_the_surroundings_within_limits():
    rate = 22050
    around = integrated_loudness(sine(300, 3, rate, -20.0), rate)
    loud = noise(1, rate, 2.0)  # +25 dB over full scale RMS: what Vary used to land
    gain = matching_gain(loud, around, rate)
    assert integrated_loudness(apply_gain(loud, gain), rate) == pytest.approx(around, abs=0.1)
    quiet = noise(1, rate, 1e-3)
    assert matching_gain(quiet, around, rate) == MAX_EDIT_BOOST_DB  # an edit that removes a sound stays quiet
    # Silent surroundings: the generation target.
    assert integrated_loudness(apply_gain(loud, matching_gain(loud, -math.inf, rate)), rate) == pytest.approx(
        TARGET_LUFS, abs=0.1)
    assert matching_gain(np.zeros((1, rate), np.float32), around, rate) == 0.0


# ---------------------------------------------------------------------------------------------
# Landing at the clip's rate
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clip_rate", [44100, 48000, 22050])
def test_resample_span_agrees_with_resampling_everything(clip_rate):
    work_rate = 22050
    work = noise(1.0, work_rate, 0.2, channels=2)
    from engine.audio.io import resample

    whole = resample(work, work_rate, clip_rate)
    lo, hi = clip_rate // 3, clip_rate // 2
    np.testing.assert_allclose(resample_span(work, work_rate, clip_rate, lo, hi), whole[:, lo:hi], atol=2e-3)
    assert working_length(clip_rate, clip_rate, work_rate) == working_copy(whole[:, :clip_rate], clip_rate, work_rate).shape[1]


def test_an_inpainted_span_comes_back_at_the_clip_rate_matched_and_exact_elsewhere():
    clip_rate, work_rate = 44100, 22050
    original = np.concatenate([sine(330, 3, clip_rate, -20.0), sine(550, 3, clip_rate, -26.0)])  # stereo
    work = working_copy(original, clip_rate, work_rate)
    spans = np.zeros(work.shape[1], bool)
    spans[work_rate : 2 * work_rate] = True  # 1 s to 2 s
    edited = work.copy()
    edited[:, spans] = noise(1, work_rate, 4.0, channels=2)  # far above full scale
    out, report = land_region(original, clip_rate, edited, spans, work_rate, 0.02)

    assert out.shape == original.shape and out.dtype == np.float32
    keep = ~spans_at_rate(spans, work_rate, clip_rate, original.shape[1])
    assert keep.sum() == 2 * clip_rate
    np.testing.assert_array_equal(out[:, keep], original[:, keep])
    inner = out[:, int(1.05 * clip_rate) : int(1.95 * clip_rate)]
    assert np.abs(out).max() <= 1.0 and true_peak_dbtp(inner) <= CEILING_DBTP + 1e-3
    assert integrated_loudness(inner, clip_rate) == pytest.approx(integrated_loudness(original, clip_rate), abs=1.5)
    assert report.gain_db < -20


def test_an_extension_comes_back_at_the_clip_rate_with_the_clip_exact():
    clip_rate, work_rate = 48000, 22050
    original = sine(220, 2, clip_rate, -14.0, channels=2)
    work = working_copy(original, clip_rate, work_rate)
    left_work, right_work = work_rate // 2, work_rate  # 0.5 s left, 1 s right
    extended = np.concatenate([noise(0.5, work_rate, 3.0, 2), work, noise(1, work_rate, 0.003, 2)], axis=1)
    out, start, levels = land_extension(original, clip_rate, extended, work_rate, left_work, 0.5, 1.0)

    assert start == clip_rate // 2 and out.shape == (2, int(3.5 * clip_rate))
    np.testing.assert_array_equal(out[:, start : start + original.shape[1]], original)
    assert np.abs(out).max() <= 1.0
    clip_lufs = integrated_loudness(original, clip_rate)
    assert integrated_loudness(out[:, : start - 2400], clip_rate) == pytest.approx(clip_lufs, abs=1.0)
    assert levels["left"]["gain_db"] < -20
    assert levels["right"]["gain_db"] == MAX_EDIT_BOOST_DB  # a near-silent continuation is raised, within limits
    assert jump_ratio(out, start) < 3.0


def test_a_whole_result_comes_back_at_the_clip_rate_length_and_loudness():
    clip_rate, work_rate = 44100, 22050
    original = sine(440, 1.5, clip_rate, -12.0, channels=2)
    edited = noise(1.5, work_rate, 5.0, channels=2)
    out, report = land_whole(original, clip_rate, edited, work_rate)
    assert out.shape == original.shape
    assert integrated_loudness(out, clip_rate) == pytest.approx(integrated_loudness(original, clip_rate), abs=1.0)
    assert true_peak_dbtp(out) <= CEILING_DBTP + 1e-3


def test_true_peak_of_long_audio_is_found_across_blocks():
    rate = 48000
    long = noise(12, rate, 0.05, channels=2)  # longer than one true-peak block
    long[1, 262143 : 262147] = sine(12000, 1, rate, 0.0, phase=np.pi / 4)[0, :4]  # an inter-sample peak on a block seam
    from scipy.signal import resample_poly

    whole = float(np.max(np.abs(resample_poly(long.astype(np.float64), 4, 1, axis=1))))
    assert 20 * np.log10(whole) == pytest.approx(true_peak_dbtp(long), abs=1e-6)


def test_streamed_loudness_equals_pyloudnorms_over_many_chunks():
    import pyloudnorm

    rate = 44100
    rng = np.random.default_rng(3)
    audio = rng.standard_normal((2, 14 * rate)) * np.linspace(0.01, 0.5, 14 * rate)
    audio[:, 3 * rate : 6 * rate] = 0.0  # gated out
    expected = pyloudnorm.Meter(rate).integrated_loudness(audio.T)
    assert integrated_loudness(audio.astype(np.float32), rate) == pytest.approx(expected, abs=1e-3)
