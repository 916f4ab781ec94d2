"""Loudness (ITU-R BS.1770 / EBU R128) and true peak: every job's new audio lands at a sane level.

    lufs = integrated_loudness(audio, 22050)          # gated LUFS, -inf for silence
    peak = true_peak_dbtp(audio, 22050)               # 4x oversampled peak, dBTP
    gain_db = gain_to_target(audio, 22050)            # -> TARGET_LUFS, capped by CEILING_DBTP
    gain_db = matching_gain(new, reference_lufs, 22050)  # -> the loudness around an edit, capped too

The integrated loudness is BS.1770-4's: K-weighting, 400 ms blocks with 75 % overlap, the
absolute (-70 LUFS) and relative (-10 LU) gates (``pyloudnorm``). Audio shorter than one block is
measured as one block of its own length. True peak is the largest magnitude of the signal
oversampled 4x (BS.1770's annex 2, with a polyphase low-pass), which catches the inter-sample
peaks a DAC or a lossy encoder would reach.

The gains are plain numbers (dB) so a recipe can record what was applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Integrated loudness every generated clip is brought to (LUFS).
TARGET_LUFS = -18.0
#: No new material's true peak goes above this (dBTP).
CEILING_DBTP = -1.0
#: An edit quieter than its surroundings is raised by at most this much (an edit that removes a
#: sound stays quiet); louder edits are always brought down.
MAX_EDIT_BOOST_DB = 12.0
#: Below this a signal counts as silence (BS.1770's absolute gate).
SILENCE_LUFS = -70.0
#: Oversampling factor of the true-peak measurement.
TRUE_PEAK_OVERSAMPLING = 4

_BLOCK_S = 0.4


def _as_channels(audio: Any) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"expected audio shaped (channels, samples), got shape {array.shape}.")
    return array


def integrated_loudness(audio: Any, sample_rate_hz: int) -> float:
    """Gated integrated loudness of ``audio`` (channels, samples) in LUFS; ``-inf`` for silence.

    Channels are weighted as BS.1770 orders them (L, R, C at 1, surrounds at 1.41); at most the
    first five count. Audio shorter than 400 ms is measured as a single block.
    """
    import pyloudnorm

    array = _as_channels(audio)[:5]
    samples = array.shape[1]
    if samples < 2 or not np.any(array):
        return -math.inf
    block_s = min(_BLOCK_S, (samples - 1) / sample_rate_hz)
    meter = pyloudnorm.Meter(int(sample_rate_hz), block_size=block_s)
    value = float(meter.integrated_loudness(array.T))
    return value if math.isfinite(value) and value >= SILENCE_LUFS else -math.inf


def true_peak(audio: Any) -> float:
    """The true peak of ``audio`` (linear, not dB): the largest magnitude oversampled 4x."""
    from scipy.signal import resample_poly

    array = _as_channels(audio)
    if array.size == 0:
        return 0.0
    sample_peak = float(np.max(np.abs(array)))
    if sample_peak == 0.0:
        return 0.0
    oversampled = resample_poly(array, TRUE_PEAK_OVERSAMPLING, 1, axis=1)
    return max(sample_peak, float(np.max(np.abs(oversampled))))


def true_peak_dbtp(audio: Any) -> float:
    """:func:`true_peak` in dBTP (``-inf`` for silence)."""
    peak = true_peak(audio)
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def _ceiling_gain(audio: Any, ceiling_dbtp: float) -> float:
    """The most gain (dB) that keeps ``audio``'s true peak at or below ``ceiling_dbtp``."""
    peak = true_peak_dbtp(audio)
    return math.inf if peak == -math.inf else ceiling_dbtp - peak


def gain_to_target(audio: Any, sample_rate_hz: int, target_lufs: float = TARGET_LUFS,
                   ceiling_dbtp: float = CEILING_DBTP) -> float:
    """Gain in dB that brings ``audio`` to ``target_lufs``, lowered if its true peak would pass
    ``ceiling_dbtp`` (so an impulsive sound ends up quieter than the target). 0 for silence."""
    loudness = integrated_loudness(audio, sample_rate_hz)
    if loudness == -math.inf:
        return 0.0
    return min(target_lufs - loudness, _ceiling_gain(audio, ceiling_dbtp))


def matching_gain(new: Any, reference_lufs: float, sample_rate_hz: int, *, target_lufs: float = TARGET_LUFS,
                  ceiling_dbtp: float = CEILING_DBTP, max_boost_db: float = MAX_EDIT_BOOST_DB) -> float:
    """Gain in dB that brings ``new`` (an edit's new audio) to ``reference_lufs`` (the loudness of
    the untouched audio around it), raising it by at most ``max_boost_db``, capped by the
    true-peak ceiling. A silent reference (``-inf``) means the generation target. Silent new
    audio: 0."""
    loudness = integrated_loudness(new, sample_rate_hz)
    if loudness == -math.inf:
        return 0.0
    reference = target_lufs if reference_lufs == -math.inf else reference_lufs
    return min(reference - loudness, max_boost_db, _ceiling_gain(new, ceiling_dbtp))


def apply_gain(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """``audio`` times ``gain_db`` as float32 (a copy; the same array's values for 0 dB)."""
    if gain_db == 0.0:
        return np.array(audio, dtype=np.float32)
    return (np.asarray(audio, dtype=np.float64) * 10.0 ** (gain_db / 20.0)).astype(np.float32)


@dataclass(frozen=True)
class LevelReport:
    """What levelling did, for a recipe's ``extra["level"]`` (JSON-able through :meth:`to_json`)."""

    gain_db: float
    loudness_lufs: float  # of the new audio after the gain (-inf for silence)
    true_peak_dbtp: float  # of the new audio after the gain
    reference_lufs: float  # what it was matched to (the target, or the surroundings)

    def to_json(self) -> dict[str, float | None]:
        def number(value: float) -> float | None:
            return round(value, 3) if math.isfinite(value) else None

        return {"gain_db": float(self.gain_db), "loudness_lufs": number(self.loudness_lufs),
                "true_peak_dbtp": number(self.true_peak_dbtp), "reference_lufs": number(self.reference_lufs)}


def level_to_target(audio: np.ndarray, sample_rate_hz: int, target_lufs: float = TARGET_LUFS,
                    ceiling_dbtp: float = CEILING_DBTP) -> tuple[np.ndarray, LevelReport]:
    """A generated clip at ``target_lufs`` (true peak at most ``ceiling_dbtp``) and what was done."""
    gain_db = gain_to_target(audio, sample_rate_hz, target_lufs, ceiling_dbtp)
    out = apply_gain(audio, gain_db)
    return out, LevelReport(gain_db, integrated_loudness(out, sample_rate_hz), true_peak_dbtp(out), target_lufs)
