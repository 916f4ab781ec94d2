"""Min/max envelope pyramid of a clip's audio (numpy only: compute apart from painting).

A clip's samples are reduced once into levels of (min, max) per block, each level ``FACTOR``
times coarser than the one below. Drawing any visible range then reads only the blocks of the
level just finer than a pixel, so a 10-minute clip pans and zooms at the cost of the pixel width,
never of the sample count (pyqtgraph's ``examples/hdf5.py`` idea, with the reduction precomputed).
Channels are combined: a column's min is the min over channels, its max the max, so a burst in
either channel shows.
"""

from __future__ import annotations

import numpy as np

#: Samples per block of the finest precomputed level.
BASE_BLOCK_SAMPLES = 16
#: Each level's blocks hold this many blocks of the level below.
FACTOR = 4
#: Levels stop once they are at most this many blocks long.
MIN_LEVEL_BLOCKS = 256


def _reduce_blocks(lo: np.ndarray, hi: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Min of ``lo`` and max of ``hi`` over groups of ``factor`` (the last group may be short).

    Powers of two are reduced by pairwise halving, which numpy runs about twice as fast as a
    reduction along a short last axis.
    """
    n = lo.shape[0]
    full = (n // factor) * factor
    if factor & (factor - 1) == 0:
        out_lo, out_hi, step = lo[:full], hi[:full], factor
        while step > 1:
            out_lo = np.minimum(out_lo[0::2], out_lo[1::2])
            out_hi = np.maximum(out_hi[0::2], out_hi[1::2])
            step //= 2
    else:
        out_lo = lo[:full].reshape(-1, factor).min(axis=1)
        out_hi = hi[:full].reshape(-1, factor).max(axis=1)
    if full < n:
        out_lo = np.concatenate([out_lo, [lo[full:].min()]])
        out_hi = np.concatenate([out_hi, [hi[full:].max()]])
    return out_lo, out_hi


class EnvelopePyramid:
    """Multi-resolution min/max of ``audio`` (channels, samples).

    Args:
        audio: float array (channels, samples); read once here, never kept.

    Attributes:
        samples: number of samples per channel.
        levels: list of ``(block_samples, mins, maxs)``, finest first.
    """

    def __init__(self, audio: np.ndarray) -> None:
        if not isinstance(audio, np.ndarray) or audio.ndim != 2 or audio.shape[1] == 0:
            raise ValueError(
                f"EnvelopePyramid: `audio` must be a non-empty (channels, samples) array, got "
                f"shape {getattr(audio, 'shape', None)}."
            )
        self.samples = int(audio.shape[1])
        self._audio = audio  # kept by reference for the sample-level views (arrays are immutable)
        if audio.shape[0] == 1:
            lo, hi = _reduce_blocks(audio[0], audio[0], BASE_BLOCK_SAMPLES)
        else:
            # Halve each channel once, then combine: no full-length temporaries.
            halves = [_reduce_blocks(channel, channel, 2) for channel in audio]
            lo = np.minimum.reduce([h[0] for h in halves])
            hi = np.maximum.reduce([h[1] for h in halves])
            lo, hi = _reduce_blocks(lo, hi, BASE_BLOCK_SAMPLES // 2)
        self.levels: list[tuple[int, np.ndarray, np.ndarray]] = [
            (BASE_BLOCK_SAMPLES, lo.astype(np.float32), hi.astype(np.float32))
        ]
        block = BASE_BLOCK_SAMPLES
        while lo.shape[0] > MIN_LEVEL_BLOCKS:
            lo, hi = _reduce_blocks(lo, hi, FACTOR)
            block *= FACTOR
            self.levels.append((block, lo.astype(np.float32), hi.astype(np.float32)))

    @property
    def nbytes(self) -> int:
        return sum(lo.nbytes + hi.nbytes for _, lo, hi in self.levels)

    def envelope(self, first: int, stop: int, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The envelope of samples ``first:stop`` in about ``columns`` to ``2 * columns`` columns.

        Returns:
            ``(x, lo, hi)``: ``x`` the sample index (float64) where each column starts, ``lo``
            and ``hi`` its min and max (float32). When fewer than two samples fall in a column,
            the samples themselves are returned (``lo`` == min over channels, ``hi`` == max).
            Empty arrays when the range is empty.
        """
        first = max(0, int(first))
        stop = min(self.samples, int(stop))
        columns = max(1, int(columns))
        if stop <= first:
            empty = np.zeros(0, np.float32)
            return np.zeros(0), empty, empty
        n = stop - first
        per_column = n / columns
        if per_column < BASE_BLOCK_SAMPLES:
            audio = self._audio[:, first:stop]
            lo, hi = audio.min(axis=0), audio.max(axis=0)
            group = int(per_column)  # 1 when under two samples fall in a column: draw the samples
            x0 = first
            if group > 1:
                lo, hi = _reduce_blocks(lo, hi, group)
            return x0 + np.arange(lo.shape[0], dtype=np.float64) * group, lo, hi
        # The coarsest level whose blocks are at most one column wide.
        block, mins, maxs = self.levels[0]
        for level in self.levels[1:]:
            if level[0] > per_column:
                break
            block, mins, maxs = level
        b0 = first // block
        b1 = -(-stop // block)
        lo, hi = mins[b0:b1], maxs[b0:b1]
        group = max(1, lo.shape[0] // columns)
        if group > 1:
            lo, hi = _reduce_blocks(lo, hi, group)
        x = (b0 + np.arange(lo.shape[0], dtype=np.float64) * group) * block
        return x, lo, hi
