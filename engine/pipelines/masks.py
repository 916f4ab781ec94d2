"""Edit regions as masks on a spectrogram: seconds -> samples -> image columns, time x frequency
boxes and painted masks -> bool masks in mel order, and feathering.

Geometry (Riffusion's, see engine.audio.spectrogram): image column ``j`` is the STFT frame centred
at sample ``j * hop_length`` and covers samples ``[j * hop, (j + 1) * hop)``. Masks are in mel
order (``mask[mel_bin, column]``, bin 0 lowest, like ``mel_from_audio``); Hz -> mel bins is
:mod:`engine.audio.mel_scale`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.audio.mel_scale import bins_for_band


def sample_index(seconds: float, sample_rate_hz: int) -> int:
    """The sample at ``seconds`` (rounded to the nearest sample)."""
    return int(round(float(seconds) * sample_rate_hz))


def columns_for_samples(start_sample: int, end_sample: int, hop_length: int) -> tuple[int, int]:
    """Image columns ``[lo, hi)`` that cover samples ``[start_sample, end_sample)``."""
    return start_sample // hop_length, -(-end_sample // hop_length)


def mask_from_boxes(
    params: Any,
    columns: int,
    boxes: Sequence[tuple[float, float, float | None, float | None]],
    *,
    column_offset: int = 0,
) -> np.ndarray:
    """A bool mask ``(num_frequencies, columns)`` in mel order: the union of time x frequency boxes.

    Each box is ``(start_s, end_s, fmin_hz, fmax_hz)`` in clip time; ``fmin_hz``/``fmax_hz`` None
    means the bottom/top of the spectrogram. ``column_offset`` shifts the boxes right by that
    many columns (the clip's position on a padded canvas).
    Raises ValueError for a box with no mel bin in its band.
    """
    mask = np.zeros((params.num_frequencies, columns), dtype=bool)
    for start_s, end_s, fmin_hz, fmax_hz in boxes:
        c_lo, c_hi = columns_for_samples(
            sample_index(start_s, params.sample_rate), sample_index(end_s, params.sample_rate), params.hop_length
        )
        b_lo, b_hi = bins_for_band(params, fmin_hz, fmax_hz)
        mask[b_lo:b_hi, max(c_lo + column_offset, 0) : min(c_hi + column_offset, columns)] = True
    return mask


def painted_mask(mask: np.ndarray, params: Any, clip_columns: int) -> np.ndarray:
    """A caller's painted mask ``(num_frequencies, clip_columns or +1)`` in [0, 1] -> bool, binarised at 0.5.

    Rows are mel bins (row 0 lowest, like ``mel_from_audio``); columns are the clip's image
    columns (``samples // hop_length``; one extra trailing frame, as ``mel_from_audio`` returns,
    is accepted and ignored). Raises ValueError for another shape or an empty mask.
    """
    array = np.asarray(mask, dtype=np.float32)
    expected = (params.num_frequencies, clip_columns)
    if array.ndim != 2 or array.shape[0] != expected[0] or array.shape[1] not in (clip_columns, clip_columns + 1):
        raise ValueError(
            f"`mask` has shape {array.shape}; expected {expected} (mel bins x columns of this clip's "
            f"spectrogram, {params.hop_length} samples per column)."
        )
    binary = array[:, :clip_columns] >= 0.5
    if not binary.any():
        raise ValueError("`mask` marks nothing to regenerate (no value >= 0.5).")
    return binary


def feather(binary: np.ndarray, feather_px: int) -> np.ndarray:
    """Soft mask in [0, 1] that ramps *inwards* from the edge of ``binary`` over ``feather_px`` pixels.

    Pixels outside ``binary`` stay exactly 0, so compositing through the result leaves them
    untouched; a pixel ``d`` pixels inside the edge gets ``min(d / (feather_px + 1), 1)``. Edges on
    the border of the array are not feathered (a full-height band is not faded at the top).
    """
    binary = np.asarray(binary, dtype=bool)
    if feather_px <= 0 or not binary.any():
        return binary.astype(np.float32)
    from scipy.ndimage import distance_transform_edt

    # Pad with "inside" so the array's border does not count as an edge.
    padded = np.pad(binary, feather_px + 1, mode="edge")
    distance = distance_transform_edt(padded)[feather_px + 1 : -feather_px - 1, feather_px + 1 : -feather_px - 1]
    soft = np.minimum(distance / (feather_px + 1), 1.0)
    return np.where(binary, soft, 0.0).astype(np.float32)
