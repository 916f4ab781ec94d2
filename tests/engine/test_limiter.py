"""The export safety net: a true-peak-safe normalising gain and a look-ahead limiter that turn
down only what would clip."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.limiter import limit, normalize_true_peak, peak_report
from engine.audio.loudness import true_peak_dbtp

RATE = 44100


def tone(hz: float, seconds: float, amplitude: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_peak_report_says_when_a_fixed_point_file_would_clip():
    loud = peak_report(tone(440, 0.1, 1.6)[None])
    assert loud.clips_fixed_point and loud.sample_peak_dbfs == pytest.approx(20 * np.log10(1.6), abs=0.01)
    quiet = peak_report(tone(440, 0.1, 0.9)[None])
    assert not quiet.clips_fixed_point
    # A full-scale tone at a quarter of the rate, phased between samples: its samples stay
    # below 1 while the waveform between them (what a DAC draws) goes over.
    t = np.arange(4000)
    between = (np.sin(2 * np.pi * t / 4 + np.pi / 4) * 1.05).astype(np.float32)[None]
    report = peak_report(between)
    assert report.sample_peak < 0.75 and report.true_peak > 1.0


def test_normalise_puts_the_true_peak_at_the_ceiling():
    audio = np.stack([tone(440, 0.5, 3.0), tone(660, 0.5, 1.5)])
    out, gain_db = normalize_true_peak(audio, -1.0)
    assert true_peak_dbtp(out) == pytest.approx(-1.0, abs=0.01)
    assert gain_db == pytest.approx(-1.0 - true_peak_dbtp(audio), abs=1e-6)
    np.testing.assert_allclose(out[1] / out[0].max(), audio[1] / audio[0].max(), rtol=1e-5, atol=1e-6)  # one gain
    silent, gain = normalize_true_peak(np.zeros((1, 100), np.float32))
    assert gain == 0.0 and not silent.any()


def test_limiter_turns_down_only_the_loud_part():
    """A quiet tone, then a burst at 3x full scale, then the quiet tone again: the burst comes
    out at the ceiling without clipping its shape, the quiet parts away from it are untouched."""
    quiet = tone(220, 1.0, 0.3)
    loud = tone(220, 0.5, 3.0)
    audio = np.concatenate([quiet, loud, quiet])[None]
    out = limit(audio, RATE, -1.0)
    assert out.dtype == np.float32 and out.shape == audio.shape
    assert true_peak_dbtp(out) <= -1.0 + 1e-3
    # Untouched outside the look-ahead (5 ms) before and the hold and ramp (55 ms) after the burst.
    before, after = RATE - int(0.006 * RATE), int(1.5 * RATE) + int(0.056 * RATE)
    np.testing.assert_array_equal(out[:, :before], audio[:, :before])
    np.testing.assert_array_equal(out[:, after:], audio[:, after:])
    # Inside the burst the waveform is the input scaled, not squared off.
    middle = slice(int(1.1 * RATE), int(1.4 * RATE))
    ratio = out[0, middle] / np.where(np.abs(audio[0, middle]) > 0.5, audio[0, middle], np.nan)
    assert np.nanmax(ratio) - np.nanmin(ratio) < 1e-3
    assert np.nanmean(ratio) == pytest.approx(10 ** (-1.1 / 20) / 3.0, rel=0.01)


def test_limiter_catches_a_single_sample_spike_and_links_the_channels():
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2, RATE)) * 0.05).astype(np.float32)
    audio[0, RATE // 2] = 4.0
    out = limit(audio, RATE, -1.0)
    assert true_peak_dbtp(out) <= -1.0 + 1e-3
    # One gain for both channels: the right channel is turned down where the left peaked.
    window = slice(RATE // 2 - 100, RATE // 2 + 100)
    gains = out[:, window] / audio[:, window]
    np.testing.assert_allclose(gains[0], gains[1], rtol=1e-4)
    assert gains[1].min() < 0.5
    np.testing.assert_array_equal(out[:, : RATE // 4], audio[:, : RATE // 4])


def test_audio_below_the_ceiling_is_returned_unchanged():
    audio = np.stack([tone(440, 0.3, 0.5), tone(550, 0.3, 0.8)])
    np.testing.assert_array_equal(limit(audio, RATE, -1.0), audio)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="NaN"):
        limit(np.array([[0.0, np.nan]], np.float32), RATE)
    with pytest.raises(ValueError, match="sample_rate_hz"):
        limit(np.zeros((1, 10), np.float32), 0)


def _bursty(seconds: float = 2.0, rate: int = 22050) -> np.ndarray:
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((2, int(seconds * rate))) * 0.3).astype(np.float32)
    audio[:, 20000:20100] *= 8  # a burst, a lone spike, a spike on one channel
    audio[:, 30000] += 3.0
    audio[0, 40000:40010] = 2.5
    return audio


@pytest.mark.parametrize("block_frames", [7, 221, 1000, 4096])
def test_the_limiter_block_by_block_gives_the_whole_array_result_bit_for_bit(block_frames):
    """Blocks shorter than the look-ahead, blocks cutting through a burst, and a last short block:
    the look-ahead, the hold and the running sum carry across, so every sample is the same."""
    from engine.audio.limiter import limit_blocks

    audio = _bursty()[:, :12000] if block_frames == 7 else _bursty()
    rate = 22050
    whole = limit(audio, rate)
    reads = []

    def read(first, count):
        reads.append(count)
        return audio[:, first : first + count]

    blocks = list(limit_blocks(read, audio.shape[1], rate, block_frames=block_frames))
    assert all(b.shape[1] <= block_frames for b in blocks) and all(b.dtype == np.float32 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)
    assert not np.array_equal(whole, audio) and true_peak_dbtp(whole) <= -1.0 + 1e-3
    # Memory of a block: never more than the block and its margins is read at once.
    assert max(reads) <= block_frames + int(0.005 * rate) * 2 + int(0.05 * rate) + 2 * 256 + 2


def test_normalising_and_measuring_block_by_block_match_the_whole_array():
    from engine.audio.limiter import normalize_true_peak_blocks
    from engine.audio.loudness import TruePeakMeter, true_peak

    audio = _bursty()
    for block_frames in (5, 300, 65536):
        meter = TruePeakMeter()
        for first in range(0, audio.shape[1], block_frames):
            meter.feed(audio[:, first : first + block_frames])
        assert meter.finish() == true_peak(audio)
    whole, gain_db = normalize_true_peak(audio)
    streamed_gain, blocks = normalize_true_peak_blocks(lambda f, n: audio[:, f : f + n], audio.shape[1],
                                                       block_frames=1234)
    assert streamed_gain == gain_db
    np.testing.assert_array_equal(np.concatenate(list(blocks), axis=1), whole)
    meter = TruePeakMeter()
    with pytest.raises(ValueError, match="NaN"):
        meter.feed(np.array([[0.1, np.nan]], np.float32))
