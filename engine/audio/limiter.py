"""Keep audio below full scale before it is written to a fixed-point file: a peak report, a
true-peak-safe normalising gain, and a look-ahead brick-wall limiter.

    report = peak_report(mix)                      # sample and true peak, whether PCM would clip
    safe, gain_db = normalize_true_peak(mix)       # one gain: true peak at CEILING_DBTP
    safe = limit(mix, 44100)                       # loud parts only: true peak <= CEILING_DBTP

The limiter computes, for every sample, the gain that keeps the true peak (4x oversampled, as
:mod:`engine.audio.loudness` measures it) at the ceiling, then shapes it so it never exceeds
that gain anywhere: a sliding minimum over ``[n - hold, n + lookahead]`` followed by a moving
average over the ``lookahead`` samples before ``n``. Every sample in the average's window has
``n`` inside its minimum's window, so the averaged gain is at most the required one: the gain
ramps down over ``lookahead`` before a peak, holds for ``hold`` after it and ramps back up. Both
channels get the same gain (the stereo image stays). Audio whose true peak is already below the
ceiling is returned unchanged, and samples far from any peak keep a gain of exactly 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.audio.loudness import CEILING_DBTP, TRUE_PEAK_OVERSAMPLING, true_peak

#: How long before a peak the limiter starts turning down (seconds).
LOOKAHEAD_S = 0.005
#: How long the gain reduction holds after a peak before ramping back (seconds).
HOLD_S = 0.05
#: Internal headroom under the ceiling, so the ramps' own inter-sample overshoot stays below it.
_MARGIN_DB = 0.1


@dataclass(frozen=True)
class PeakReport:
    """Peaks of a signal about to be written: linear magnitudes and in dBFS / dBTP."""

    sample_peak: float
    true_peak: float

    @property
    def sample_peak_dbfs(self) -> float:
        return 20 * math.log10(self.sample_peak) if self.sample_peak > 0 else -math.inf

    @property
    def true_peak_dbtp(self) -> float:
        return 20 * math.log10(self.true_peak) if self.true_peak > 0 else -math.inf

    @property
    def clips_fixed_point(self) -> bool:
        """Whether a 16- or 24-bit file would clip it (a sample beyond full scale)."""
        return self.sample_peak > 1.0


def _as_2d(audio: np.ndarray) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise ValueError(f"audio must be shaped (channels, samples), got {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError("audio contains NaN or infinite samples.")
    return array


def peak_report(audio: np.ndarray) -> PeakReport:
    """Sample peak and true peak of ``audio`` ``(channels, samples)``."""
    array = _as_2d(audio)
    sample_peak = float(np.max(np.abs(array))) if array.size else 0.0
    return PeakReport(sample_peak, true_peak(array) if sample_peak > 0 else 0.0)


def normalize_true_peak(audio: np.ndarray, ceiling_dbtp: float = CEILING_DBTP) -> tuple[np.ndarray, float]:
    """``audio`` scaled by one gain so its true peak sits at ``ceiling_dbtp`` (louder or quieter),
    and that gain in dB. Silence comes back unchanged with 0 dB."""
    array = _as_2d(audio)
    peak = true_peak(array)
    if peak == 0:
        return array.copy(), 0.0
    gain_db = ceiling_dbtp - 20 * math.log10(peak)
    return (array.astype(np.float64) * 10 ** (gain_db / 20)).astype(np.float32), gain_db


def _true_peak_envelope(array: np.ndarray) -> np.ndarray:
    """Per sample, the largest magnitude of the 4x oversampled signal from the previous sample
    to the next one (all channels): what the true peak is made of near that sample."""
    from scipy.ndimage import maximum_filter1d
    from scipy.signal import resample_poly

    n = array.shape[1]
    over = np.abs(resample_poly(array.astype(np.float64), TRUE_PEAK_OVERSAMPLING, 1, axis=1)).max(axis=0)
    over = over[: n * TRUE_PEAK_OVERSAMPLING].reshape(n, TRUE_PEAK_OVERSAMPLING).max(axis=1)
    sample = np.abs(array).max(axis=0).astype(np.float64)
    return maximum_filter1d(np.maximum(over, sample), size=3, mode="nearest")


def limit(
    audio: np.ndarray,
    sample_rate_hz: int,
    ceiling_dbtp: float = CEILING_DBTP,
    *,
    lookahead_s: float = LOOKAHEAD_S,
    hold_s: float = HOLD_S,
) -> np.ndarray:
    """``audio`` ``(channels, samples)`` with its loud parts turned down so its true peak is at
    most ``ceiling_dbtp``; quieter parts are untouched (gain exactly 1). float32 out.

    Raises:
        ValueError: a bad shape, non-finite samples, rate or times.
    """
    array = _as_2d(audio)
    if not sample_rate_hz > 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz!r}.")
    if not (lookahead_s > 0 and hold_s >= 0):
        raise ValueError(f"lookahead_s must be > 0 and hold_s >= 0, got {lookahead_s!r} and {hold_s!r}.")
    ceiling = 10 ** (ceiling_dbtp / 20)
    if array.size == 0 or true_peak(array) <= ceiling:
        return array.copy()
    from scipy.ndimage import minimum_filter1d

    target = 10 ** ((ceiling_dbtp - _MARGIN_DB) / 20)
    envelope = _true_peak_envelope(array)
    required = np.minimum(1.0, target / np.maximum(envelope, 1e-12))
    ahead = max(1, int(round(lookahead_s * sample_rate_hz)))
    hold = int(round(hold_s * sample_rate_hz))
    # Minimum over [n - hold, n + ahead]: size hold + ahead + 1, shifted so it looks ahead.
    size = hold + ahead + 1
    held = minimum_filter1d(required, size=size, mode="nearest", origin=hold - size // 2)
    # Mean over [n - ahead, n] (a causal moving average of the held gain).
    padded = np.concatenate([np.full(ahead, held[0]), held])
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])
    gain = (cumulative[ahead + 1:] - cumulative[: len(held)]) / (ahead + 1)
    gain = np.minimum(gain, required)  # rounding in the sums must not lift it above the need
    out = array.astype(np.float64) * gain
    # The ramps are smooth, so their own overshoot is far inside the margin; a last static
    # trim keeps the promise even for pathological input.
    peak = true_peak(out)
    if peak > ceiling:
        out *= ceiling / peak
    return out.astype(np.float32)
