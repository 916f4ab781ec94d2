"""Keep audio below full scale before it is written to a fixed-point file: a peak report, a
true-peak-safe normalising gain, and a look-ahead brick-wall limiter.

    report = peak_report(mix)                      # sample and true peak, whether PCM would clip
    safe, gain_db = normalize_true_peak(mix)       # one gain: true peak at CEILING_DBTP
    safe = limit(mix, 44100)                       # loud parts only: true peak <= CEILING_DBTP
    gain_db, blocks = normalize_true_peak_blocks(plan.render, plan.frames)  # hours, block by block
    blocks = limit_blocks(plan.render, plan.frames, 44100)                  # the same, limited

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.audio.loudness import CEILING_DBTP, TRUE_PEAK_OVERSAMPLING, TruePeakMeter, true_peak

#: How long before a peak the limiter starts turning down (seconds).
LOOKAHEAD_S = 0.005
#: How long the gain reduction holds after a peak before ramping back (seconds).
HOLD_S = 0.05
#: Internal headroom under the ceiling, so the ramps' own inter-sample overshoot stays below it.
_MARGIN_DB = 0.1
#: Frames per block when a long signal is normalised or limited block by block.
BLOCK_FRAMES = 1 << 16
#: ``read(first, count) -> (channels, count)``: random access to a long signal's frames.
Reader = Callable[[int, int], np.ndarray]


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
    gain_db, blocks = normalize_true_peak_blocks(_reader(array), array.shape[1], ceiling_dbtp,
                                                 block_frames=max(1, array.shape[1]))
    return _joined(blocks, array.shape[0]), gain_db


def normalize_true_peak_blocks(read: Reader, frames: int, ceiling_dbtp: float = CEILING_DBTP, *,
                               block_frames: int = BLOCK_FRAMES) -> tuple[float, Iterator[np.ndarray]]:
    """:func:`normalize_true_peak` of a long signal read in blocks (``read(first, count)`` gives
    frames ``first .. first + count`` as ``(channels, count)``): the gain in dB, measured over
    the whole signal first (one pass), and the scaled blocks (a second pass), each equal to the
    same frames of the whole-array result. Memory: one block.

    Raises:
        ValueError: non-finite samples (while measuring).
    """
    peak = _stream_true_peak(_blocks(read, frames, block_frames))
    gain_db = 0.0 if peak == 0 else ceiling_dbtp - 20 * math.log10(peak)

    def scaled() -> Iterator[np.ndarray]:
        factor = 10 ** (gain_db / 20)
        for block in _blocks(read, frames, block_frames):
            yield (block.astype(np.float64) * factor).astype(np.float32) if peak else block.copy()

    return gain_db, scaled()


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
    blocks = limit_blocks(_reader(array), array.shape[1], sample_rate_hz, ceiling_dbtp, lookahead_s=lookahead_s,
                          hold_s=hold_s, block_frames=max(1, array.shape[1]))
    return _joined(blocks, array.shape[0])


def limit_blocks(
    read: Reader,
    frames: int,
    sample_rate_hz: int,
    ceiling_dbtp: float = CEILING_DBTP,
    *,
    lookahead_s: float = LOOKAHEAD_S,
    hold_s: float = HOLD_S,
    block_frames: int = BLOCK_FRAMES,
) -> Iterator[np.ndarray]:
    """:func:`limit` of a long signal read in blocks (``read(first, count)`` gives frames
    ``first .. first + count`` as ``(channels, count)``), yielded in blocks of ``block_frames``.

    Bit-identical to the whole-array result: each block is computed from the frames it depends
    on (the look-ahead, the hold and the oversampling filter's reach on both sides), and the
    moving average's running sum is carried from block to block. Three passes over the source
    (its true peak; the limited signal's true peak for the final trim; the output), memory of
    one block and its margins.

    Raises:
        ValueError: bad rate or times at once; non-finite samples while measuring.
    """
    if not sample_rate_hz > 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz!r}.")
    if not (lookahead_s > 0 and hold_s >= 0):
        raise ValueError(f"lookahead_s must be > 0 and hold_s >= 0, got {lookahead_s!r} and {hold_s!r}.")
    if not block_frames >= 1:
        raise ValueError(f"block_frames must be >= 1, got {block_frames!r}.")
    ceiling = 10 ** (ceiling_dbtp / 20)
    if frames == 0 or _stream_true_peak(_blocks(read, frames, block_frames)) <= ceiling:
        return (block.copy() for block in _blocks(read, frames, block_frames))
    shape = _LimiterShape(ceiling_dbtp, sample_rate_hz, lookahead_s, hold_s)
    # The ramps are smooth, so their own overshoot is far inside the margin; a last static
    # trim keeps the promise even for pathological input.
    peak = _stream_true_peak(shape.limited(read, frames, block_frames))
    trim = ceiling / peak if peak > ceiling else None
    return (((block * trim) if trim is not None else block).astype(np.float32)
            for block in shape.limited(read, frames, block_frames))



def _reader(array: np.ndarray) -> Reader:
    return lambda first, count: array[:, first : first + count]


def _blocks(read: Reader, frames: int, block_frames: int) -> Iterator[np.ndarray]:
    for first in range(0, frames, block_frames):
        yield np.asarray(read(first, min(block_frames, frames - first)), dtype=np.float32)


def _joined(blocks: Iterator[np.ndarray], channels: int) -> np.ndarray:
    parts = list(blocks)
    return np.concatenate(parts, axis=1) if parts else np.zeros((channels, 0), np.float32)


def _stream_true_peak(blocks: Iterator[np.ndarray]) -> float:
    meter = TruePeakMeter()
    for block in blocks:
        meter.feed(block)
    return meter.finish()


class _LimiterShape:
    """The limiter's gain, computed block by block.

    For every sample, the gain that keeps the true peak at the target (``required``), a sliding
    minimum over ``[n - hold, n + ahead]`` (``held``) and a causal moving average of ``held`` over
    ``[n - ahead, n]`` (the first sample's value standing in before the start). ``required`` at
    ``n`` depends on the samples within the oversampling filter's reach (and one more on each
    side), so a block's gain needs ``hold + ahead + 1 + margin`` frames before it and
    ``ahead + 1 + margin`` after; the moving average is a difference of running sums (whose
    rounding depends on everything before), so the running sum is carried across blocks.
    """

    _MARGIN = 256  # oversampling context: far beyond resample_poly's filter (40 taps at 4x)

    def __init__(self, ceiling_dbtp: float, sample_rate_hz: int, lookahead_s: float, hold_s: float) -> None:
        self.target = 10 ** ((ceiling_dbtp - _MARGIN_DB) / 20)
        self.ahead = max(1, int(round(lookahead_s * sample_rate_hz)))
        self.hold = int(round(hold_s * sample_rate_hz))

    def limited(self, read: Reader, frames: int, block_frames: int) -> Iterator[np.ndarray]:
        """The limited signal (float64, before the final trim) in blocks."""
        from scipy.ndimage import minimum_filter1d

        ahead, hold = self.ahead, self.hold
        before = hold + ahead + 1 + self._MARGIN
        after = ahead + 1 + self._MARGIN
        size = hold + ahead + 1
        tail: np.ndarray | None = None  # the last ahead + 1 running sums
        for first in range(0, frames, block_frames):
            stop = min(first + block_frames, frames)
            lo, hi = max(0, first - before), min(frames, stop + after)
            segment = np.asarray(read(lo, hi - lo), dtype=np.float32)
            required = np.minimum(1.0, self.target / np.maximum(_true_peak_envelope(segment), 1e-12))
            # Minimum over [n - hold, n + ahead]: size hold + ahead + 1, shifted so it looks ahead.
            held = minimum_filter1d(required, size=size, mode="nearest", origin=hold - size // 2)
            held, required = held[first - lo : stop - lo], required[first - lo : stop - lo]
            # Mean over [n - ahead, n]: running sums of the held gain, padded before the start.
            if tail is None:
                sums = np.concatenate([[0.0], np.cumsum(np.concatenate([np.full(ahead, held[0]), held]))])
            else:
                sums = np.concatenate([tail, np.cumsum(np.concatenate([tail[-1:], held]))[1:]])
            gain = (sums[ahead + 1 :] - sums[: stop - first]) / (ahead + 1)
            tail = sums[-(ahead + 1) :]
            gain = np.minimum(gain, required)  # rounding in the sums must not lift it above the need
            yield segment[:, first - lo : stop - lo].astype(np.float64) * gain


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
