"""Loudness (ITU-R BS.1770 / EBU R128) and true peak: every job's new audio lands at a sane level.

    lufs = integrated_loudness(audio, 22050)          # gated LUFS, -inf for silence
    peak = true_peak_dbtp(audio, 22050)               # 4x oversampled peak, dBTP
    gain_db = gain_to_target(audio, 22050)            # -> TARGET_LUFS, capped by CEILING_DBTP
    gain_db = matching_gain(new, reference_lufs, 22050)  # -> the loudness around an edit, capped too

The integrated loudness is BS.1770-4's: K-weighting, 400 ms blocks with 75 % overlap, the
absolute (-70 LUFS) and relative (-10 LU) gates, computed as ``pyloudnorm`` does (its filter
coefficients, its block placement; equal to its result) but streamed in chunks, so a ten-minute
clip needs no extra copies of itself. Audio shorter than one block is measured as one block of
its own length. True peak is the largest magnitude of the signal
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
#: True peak is computed over blocks of this many samples, each with this margin on both sides.
_TRUE_PEAK_BLOCK = 1 << 18
_TRUE_PEAK_MARGIN = 256
#: The loudness filters run over chunks of this many samples.
_LOUDNESS_CHUNK = 1 << 18


def _as_channels(audio: Any) -> np.ndarray:
    """``audio`` as a (channels, samples) array (no copy)."""
    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"expected audio shaped (channels, samples), got shape {array.shape}.")
    return array


def _block_energies(audio: Any, sample_rate_hz: int, block_s: float) -> np.ndarray:
    """Mean square of the K-weighted signal per gating block (blocks of ``block_s``, 75 % overlap),
    ``(channels, blocks)``, exactly as ``pyloudnorm.Meter.integrated_loudness`` places them.

    The K-weighting filters (``pyloudnorm``'s coefficients for the rate) run over chunks with
    their state carried, and only running sums at the block edges are kept, so memory does not
    grow with the length of the audio.
    """
    import pyloudnorm
    from scipy.signal import lfilter

    source = np.asarray(audio)
    channels, samples = source.shape
    stages = list(pyloudnorm.Meter(int(sample_rate_hz), block_size=block_s)._filters.values())
    count = int(np.round((samples / sample_rate_hz - block_s) / (block_s * 0.25))) + 1
    starts = np.array([int(block_s * (j * 0.25) * sample_rate_hz) for j in range(count)])
    ends = np.array([int(block_s * (j * 0.25 + 1) * sample_rate_hz) for j in range(count)])
    edges = np.unique(np.concatenate([starts, np.minimum(ends, samples)]))
    totals = np.zeros((channels, edges.size))
    states = [np.zeros((channels, max(len(stage.a), len(stage.b)) - 1)) for stage in stages]
    running = np.zeros(channels)
    done = 0
    for start in range(0, samples, _LOUDNESS_CHUNK):
        chunk = np.asarray(source[:, start : start + _LOUDNESS_CHUNK], dtype=np.float64)
        for index, stage in enumerate(stages):
            chunk, states[index] = lfilter(stage.b, stage.a, chunk, axis=1, zi=states[index])
            chunk *= stage.passband_gain
        cumulative = running[:, None] + np.cumsum(chunk * chunk, axis=1)
        stop = start + chunk.shape[1]
        here = (edges > start) & (edges <= stop)
        totals[:, here] = cumulative[:, edges[here] - start - 1]
        running = cumulative[:, -1]
        done = stop
    totals[:, edges == 0] = 0.0
    totals[:, edges > done] = running[:, None]
    at = {int(edge): i for i, edge in enumerate(edges)}
    sums = totals[:, [at[int(min(e, samples))] for e in ends]] - totals[:, [at[int(s)] for s in starts]]
    return sums / (block_s * sample_rate_hz)


def integrated_loudness(audio: Any, sample_rate_hz: int) -> float:
    """Gated integrated loudness of ``audio`` (channels, samples) in LUFS; ``-inf`` for silence.

    Channels are weighted as BS.1770 orders them (L, R, C at 1, surrounds at 1.41); at most the
    first five count. Audio shorter than 400 ms is measured as a single block.
    """
    array = _as_channels(audio)[:5]
    samples = array.shape[1]
    if samples < 2 or not np.any(array):
        return -math.inf
    block_s = min(_BLOCK_S, (samples - 1) / sample_rate_hz)
    weights = np.array([1.0, 1.0, 1.0, 1.41, 1.41])[: array.shape[0], None]
    power = (weights * _block_energies(array, sample_rate_hz, block_s)).sum(axis=0)
    with np.errstate(divide="ignore"):
        blocks = -0.691 + 10.0 * np.log10(power)
    gated = power[blocks >= SILENCE_LUFS]  # the absolute gate
    if gated.size == 0:
        return -math.inf
    relative = -0.691 + 10.0 * np.log10(gated.mean()) - 10.0
    kept = power[(blocks >= SILENCE_LUFS) & (blocks > relative)]  # and the relative one
    value = -0.691 + 10.0 * math.log10(kept.mean()) if kept.size else -math.inf
    return value if value >= SILENCE_LUFS else -math.inf


class TruePeakMeter:
    """The true peak of audio fed in consecutive blocks (:meth:`feed`), read from :attr:`peak`
    after :meth:`finish`: the same value :func:`true_peak` gives for the blocks joined.

    Each block is oversampled with the last ``_TRUE_PEAK_MARGIN`` samples before it in front
    (wider than the filter), and its last ``_TRUE_PEAK_MARGIN`` samples are measured with the
    next block (or at the end, as the signal's own edge), so memory is one block and a margin.
    """

    def __init__(self) -> None:
        self.peak = 0.0
        self._held: np.ndarray | None = None  # samples not measured yet, with their left margin
        self._lead = 0  # how many of _held's first samples are margin only (already measured)

    def feed(self, block: Any) -> None:
        block = _as_channels(block)
        if block.shape[1] == 0:
            return
        if not np.isfinite(block).all():
            raise ValueError("audio contains NaN or infinite samples.")
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        joined = block if self._held is None else np.concatenate([self._held, block], axis=1)
        keep = _TRUE_PEAK_MARGIN  # the last samples wait for their right margin
        if joined.shape[1] - self._lead > 2 * keep:
            self._measure(joined, self._lead, joined.shape[1] - keep)
            joined, self._lead = joined[:, -2 * keep :], keep
        self._held = joined

    def finish(self) -> float:
        """Measure what is held (the signal ends there) and return the peak."""
        if self._held is not None and self._held.shape[1] > self._lead:
            self._measure(self._held, self._lead, self._held.shape[1])
        self._held, self._lead = None, 0
        return self.peak

    def _measure(self, joined: np.ndarray, first: int, stop: int) -> None:
        """Oversampled peak of ``joined[:, first:stop]`` (``joined`` holds its margins)."""
        from scipy.signal import resample_poly

        if self.peak == 0.0 and not np.any(joined):
            return
        factor = TRUE_PEAK_OVERSAMPLING
        for start in range(first, stop, _TRUE_PEAK_BLOCK):
            end = min(start + _TRUE_PEAK_BLOCK, stop)
            lo, hi = max(start - _TRUE_PEAK_MARGIN, 0), min(end + _TRUE_PEAK_MARGIN, joined.shape[1])
            piece = np.asarray(joined[:, lo:hi], dtype=np.float64)
            if not np.any(piece):
                continue
            oversampled = resample_poly(piece, factor, 1, axis=1)
            inner = oversampled[:, (start - lo) * factor : (end - lo) * factor]
            self.peak = max(self.peak, float(np.max(np.abs(inner))))


def true_peak(audio: Any) -> float:
    """The true peak of ``audio`` (linear, not dB): the largest magnitude oversampled 4x.

    Long audio is oversampled in blocks (each with a margin wider than the filter, whose
    oversampled samples are dropped), so memory stays bounded.
    """
    array = _as_channels(audio)
    if array.size == 0 or not np.any(array):
        return 0.0
    meter = TruePeakMeter()
    meter._measure(array, 0, array.shape[1])
    meter.peak = max(meter.peak, float(np.max(np.abs(array))))
    return meter.peak


def true_peak_dbtp(audio: Any) -> float:
    """:func:`true_peak` in dBTP (``-inf`` for silence)."""
    peak = true_peak(audio)
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def _ceiling_gain(audio: Any, ceiling_dbtp: float) -> float:
    """The most gain (dB) that keeps ``audio``'s true peak at or below ``ceiling_dbtp``."""
    peak = true_peak_dbtp(audio)
    return math.inf if peak == -math.inf else ceiling_dbtp - peak


def peak_guard_gain(new: Any, original: Any, *, most_dbtp: float = math.inf) -> float:
    """Gain in dB (<= 0) that keeps ``new``'s true peak at or below the higher of the ceiling and
    ``original``'s own true peak (so audio that already went above the ceiling is not turned
    down for it), that allowance capped at ``most_dbtp``. 0 when ``new`` is under it or silent."""
    allowed = min(most_dbtp, max(CEILING_DBTP, true_peak_dbtp(original)))
    return min(0.0, allowed - true_peak_dbtp(new))


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
