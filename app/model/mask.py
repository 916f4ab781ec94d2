"""Painted masks on a clip's spectrogram, kept in seconds and Hz (Qt-free).

A :class:`Mask` is an immutable list of operations applied in order to an all-zero canvas:
brush strokes (paint or erase, with a size and a hardness), rectangles (time x frequency),
full-height time bands, full-width frequency bands, and invert. Clearing empties the list.

Coordinates are *clip-audio* coordinates: seconds from the first sample of the clip's audio
array (not the timeline: moving a clip moves its mask with it; trimming hides part of the audio
and the mask stays on the sound it was painted on) and Hz. A brush's size is stored as a radius
in seconds and in mel (htk), fixed when the stroke is painted, so a stroke keeps its shape on the
sound whatever the zoom, the window size or the lane height later are.

:meth:`Mask.rasterise` turns a mask into values in [0, 1] on any :class:`MaskGrid`: the engine's
``InpaintJob.mask`` layout (:meth:`MaskGrid.for_job`: mel bins x spectrogram columns, row 0 the
lowest frequency) or a coarse display grid for the overlay. Operations combine with max (paint)
and min (erase), so painting a stroke segment by segment gives exactly the whole stroke.

:class:`MaskStore` holds the mask of each clip (by clip id) with a ``mask_changed`` event; only
the commands of app/model/mask_commands.py change it (``set_mask``), except loading a project.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Union

import numpy as np

from app.model.events import Event, EventGroup
from engine.audio.mel_scale import hz_to_mel  # noqa: F401 - HTK mel: brush sizes are measured on it (re-exported)

#: Feather radius (spectrogram pixels) of a new mask: the InpaintJob default.
DEFAULT_FEATHER_PX = 4
MAX_FEATHER_PX = 64
#: Version of the JSON form written by :meth:`Mask.to_dict`.
MASK_FORMAT_VERSION = 1
#: Pixels x segments one vectorised step of a stroke may compute (about 16 MB of float64).
STROKE_CHUNK_WORK = 2_000_000
#: Below this much work a chunk grows freely (Python overhead per chunk dominates).
STROKE_SMALL_WORK = 50_000


def _short(value: Any, most: int = 60) -> str:
    """``repr(value)`` cut to ``most`` characters, for messages about values read from a file."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


def _number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: `{name}` must be a number, got {_short(value)}.")
    if isinstance(value, (int, np.integer)) and abs(value) > 1e300 or not math.isfinite(value):
        raise ValueError(f"{owner}: `{name}` must be a finite number, got {str(value)[:30]}.")
    return float(value)


def _span(owner: str, lo_name: str, lo: Any, hi_name: str, hi: Any) -> tuple[float, float]:
    lo, hi = _number(owner, lo_name, lo), _number(owner, hi_name, hi)
    if not lo < hi:
        raise ValueError(f"{owner}: `{lo_name}` ({lo}) must be less than `{hi_name}` ({hi}).")
    return lo, hi


def _band(owner: str, fmin_hz: Any, fmax_hz: Any) -> tuple[float, float]:
    lo, hi = _span(owner, "fmin_hz", fmin_hz, "fmax_hz", fmax_hz)
    if lo < 0:
        raise ValueError(f"{owner}: `fmin_hz` must be >= 0 Hz, got {lo}.")
    return lo, hi


# ---------------------------------------------------------------------------------------------
# Shapes (frozen values; ``erase`` True removes instead of adding)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stroke:
    """A brush stroke through ``points`` ``((seconds, Hz), ...)``.

    The brush is an ellipse of ``radius_s`` seconds by ``radius_mel`` (htk mel); ``hardness`` in
    [0, 1] is the fraction of the radius painted at full strength, the rest falls off linearly
    to 0 at the edge (1 = a hard edge).
    """

    points: tuple[tuple[float, float], ...]
    radius_s: float
    radius_mel: float
    hardness: float = 1.0
    erase: bool = False

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("Stroke: `points` must hold at least one (seconds, Hz) point.")
        points = []
        for i, point in enumerate(self.points):
            if len(point) != 2:
                raise ValueError(f"Stroke: points[{i}] must be (seconds, Hz), got {_short(point)}.")
            t, hz = _number("Stroke", f"points[{i}] seconds", point[0]), _number("Stroke", f"points[{i}] Hz", point[1])
            if hz < 0:
                raise ValueError(f"Stroke: points[{i}] Hz must be >= 0, got {hz}.")
            points.append((t, hz))
        object.__setattr__(self, "points", tuple(points))
        for name in ("radius_s", "radius_mel"):
            if _number("Stroke", name, getattr(self, name)) <= 0:
                raise ValueError(f"Stroke: `{name}` must be > 0, got {getattr(self, name)}.")
        hardness = _number("Stroke", "hardness", self.hardness)
        if not 0 <= hardness <= 1:
            raise ValueError(f"Stroke: `hardness` must be between 0 and 1, got {hardness}.")
        object.__setattr__(self, "erase", bool(self.erase))

    def with_point(self, t_s: float, hz: float) -> Stroke:
        return replace(self, points=(*self.points, (t_s, hz)))

    def shifted(self, dt_s: float) -> Stroke:
        return replace(self, points=tuple((t + dt_s, hz) for t, hz in self.points))


@dataclass(frozen=True)
class Rect:
    """A rectangle ``start_s``..``end_s`` x ``fmin_hz``..``fmax_hz``."""

    start_s: float
    end_s: float
    fmin_hz: float
    fmax_hz: float
    erase: bool = False

    def __post_init__(self) -> None:
        _span("Rect", "start_s", self.start_s, "end_s", self.end_s)
        _band("Rect", self.fmin_hz, self.fmax_hz)

    def shifted(self, dt_s: float) -> Rect:
        return replace(self, start_s=self.start_s + dt_s, end_s=self.end_s + dt_s)


@dataclass(frozen=True)
class TimeBand:
    """Every frequency from ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float
    erase: bool = False

    def __post_init__(self) -> None:
        _span("TimeBand", "start_s", self.start_s, "end_s", self.end_s)

    def shifted(self, dt_s: float) -> TimeBand:
        return replace(self, start_s=self.start_s + dt_s, end_s=self.end_s + dt_s)


@dataclass(frozen=True)
class FreqBand:
    """``fmin_hz`` to ``fmax_hz`` over the whole clip."""

    fmin_hz: float
    fmax_hz: float
    erase: bool = False

    def __post_init__(self) -> None:
        _band("FreqBand", self.fmin_hz, self.fmax_hz)

    def shifted(self, dt_s: float) -> FreqBand:
        return self


@dataclass(frozen=True)
class Invert:
    """Swap masked and unmasked (of everything painted before it)."""

    erase: bool = False

    def shifted(self, dt_s: float) -> Invert:
        return self


Shape = Union[Stroke, Rect, TimeBand, FreqBand, Invert]
_KINDS: dict[str, type] = {"stroke": Stroke, "rect": Rect, "time_band": TimeBand, "freq_band": FreqBand, "invert": Invert}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


# ---------------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MaskGrid:
    """Where a mask is sampled: ``columns`` of ``column_s`` seconds from the audio's first sample
    (column ``j`` covers ``[j, j + 1) * column_s``) by rows centred on ``row_hz`` (ascending)."""

    columns: int
    column_s: float
    row_hz: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.columns, int) or self.columns < 0:
            raise ValueError(f"MaskGrid: `columns` must be an integer >= 0, got {_short(self.columns)}.")
        if not self.column_s > 0:
            raise ValueError(f"MaskGrid: `column_s` must be > 0 seconds, got {_short(self.column_s)}.")
        rows = np.asarray(self.row_hz, dtype=np.float64)
        if rows.ndim != 1 or rows.size == 0 or np.any(np.diff(rows) <= 0):
            raise ValueError("MaskGrid: `row_hz` must be a non-empty ascending 1-D array of Hz.")
        object.__setattr__(self, "row_hz", rows)
        object.__setattr__(self, "_row_mel", hz_to_mel(rows))

    @property
    def rows(self) -> int:
        return int(self.row_hz.size)

    @property
    def row_mel(self) -> np.ndarray:
        return self._row_mel  # type: ignore[attr-defined]

    @classmethod
    def for_job(cls, samples: int, params: Any) -> MaskGrid:
        """The ``InpaintJob.mask`` layout for a clip of ``samples`` samples under ``params`` (an
        ``engine.audio.spectrogram.SpectrogramParams``): ``params.num_frequencies`` mel bins
        (row 0 lowest, centred where the engine's filterbank puts them) by ``samples //
        hop_length`` columns of ``hop_length`` samples."""
        from engine.api import mel_bin_frequencies  # the engine's own bin centres (numpy only)

        return cls(int(samples) // params.hop_length, params.hop_length / params.sample_rate,
                   mel_bin_frequencies(params))

    def column_range(self, start_s: float, end_s: float) -> tuple[int, int]:
        """Columns ``[lo, hi)`` that overlap ``[start_s, end_s)`` (clipped to the grid)."""
        lo = math.floor(start_s / self.column_s + 1e-9)
        hi = math.ceil(end_s / self.column_s - 1e-9)
        return max(0, min(lo, self.columns)), max(0, min(hi, self.columns))

    def row_range(self, fmin_hz: float, fmax_hz: float) -> tuple[int, int]:
        """Rows ``[lo, hi)`` whose centre lies in ``[fmin_hz, fmax_hz]``."""
        lo = int(np.searchsorted(self.row_hz, fmin_hz, side="left"))
        hi = int(np.searchsorted(self.row_hz, fmax_hz, side="right"))
        return lo, max(lo, hi)


# ---------------------------------------------------------------------------------------------
# Rasterising
# ---------------------------------------------------------------------------------------------


def _combine(region: np.ndarray, values: np.ndarray | float, erase: bool) -> None:
    if erase:
        np.minimum(region, 1.0 - values, out=region)
    else:
        np.maximum(region, values, out=region)


def _brush(distance: np.ndarray, hardness: float) -> np.ndarray:
    """Brush strength at a normalised distance (1 = the edge of the ellipse)."""
    if hardness >= 1.0:
        return (distance <= 1.0).astype(np.float32)
    return np.clip((1.0 - distance) / (1.0 - hardness), 0.0, 1.0).astype(np.float32)


def apply_shape(canvas: np.ndarray, grid: MaskGrid, shape: Shape, *, first_segment: int = 0) -> None:
    """Apply one shape to ``canvas`` ``(grid.rows, grid.columns)`` float32 in place.

    For a stroke, ``first_segment`` skips the segments before it (a stroke being painted adds
    only its newest segment; max/min make that exactly the whole stroke)."""
    if isinstance(shape, Invert):
        np.subtract(1.0, canvas, out=canvas)
        return
    if isinstance(shape, Stroke):
        _apply_stroke(canvas, grid, shape, first_segment)
        return
    if isinstance(shape, FreqBand):
        c0, c1 = 0, grid.columns
    else:
        c0, c1 = grid.column_range(shape.start_s, shape.end_s)
    if isinstance(shape, TimeBand):
        r0, r1 = 0, grid.rows
    else:
        r0, r1 = grid.row_range(shape.fmin_hz, shape.fmax_hz)
    if c1 > c0 and r1 > r0:
        _combine(canvas[r0:r1, c0:c1], 1.0, shape.erase)


def _apply_stroke(canvas: np.ndarray, grid: MaskGrid, stroke: Stroke, first_segment: int) -> None:
    """Draw the stroke's segments from ``first_segment`` on, a chunk of neighbouring segments at a
    time: one vectorised distance computation per chunk over the chunk's bounding box."""
    rs, rm = stroke.radius_s, stroke.radius_mel
    pts = np.asarray(stroke.points, dtype=np.float64)
    pts[:, 1] = hz_to_mel(pts[:, 1])
    if len(pts) == 1:
        a = b = pts
    else:
        a, b = pts[max(0, first_segment) : -1], pts[max(0, first_segment) + 1 :]
    if len(a) == 0:
        return
    # Bounding boxes of the segments' brush ellipses, in grid columns and rows.
    c_lo = np.floor((np.minimum(a[:, 0], b[:, 0]) - rs) / grid.column_s + 1e-9).clip(0, grid.columns).astype(int)
    c_hi = np.ceil((np.maximum(a[:, 0], b[:, 0]) + rs) / grid.column_s - 1e-9).clip(0, grid.columns).astype(int)
    r_lo = np.searchsorted(grid.row_mel, np.minimum(a[:, 1], b[:, 1]) - rm, side="left")
    r_hi = np.searchsorted(grid.row_mel, np.maximum(a[:, 1], b[:, 1]) + rm, side="right")
    start = 0
    while start < len(a):
        end = start + 1
        box = [c_lo[start], c_hi[start], r_lo[start], r_hi[start]]
        own = (box[1] - box[0]) * (box[3] - box[2])  # the segments' own pixels, summed
        while end < len(a):
            # Grow the chunk while its work (box pixels x segments) stays small, and not much more
            # than the segments' own boxes (a stroke that jumps far gets chunks of its own).
            grown = [min(box[0], c_lo[end]), max(box[1], c_hi[end]), min(box[2], r_lo[end]), max(box[3], r_hi[end])]
            own_next = own + (c_hi[end] - c_lo[end]) * (r_hi[end] - r_lo[end])
            work = (grown[1] - grown[0]) * (grown[3] - grown[2]) * (end + 1 - start)
            if work > STROKE_CHUNK_WORK or work > max(4 * own_next, STROKE_SMALL_WORK):
                break
            box, own, end = grown, own_next, end + 1
        c0, c1, r0, r1 = (int(v) for v in box)
        if c1 > c0 and r1 > r0:
            # Distances in brush units (radii of seconds across, radii of mel up), to the nearest segment.
            x = ((np.arange(c0, c1) + 0.5) * grid.column_s / rs)[None, None, :]
            y = (grid.row_mel[r0:r1] / rm)[None, :, None]
            ax, ay = (a[start:end, 0] / rs)[:, None, None], (a[start:end, 1] / rm)[:, None, None]
            dx, dy = (b[start:end, 0] / rs)[:, None, None] - ax, (b[start:end, 1] / rm)[:, None, None] - ay
            length2 = dx * dx + dy * dy
            u = np.clip(((x - ax) * dx + (y - ay) * dy) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
            distance = np.hypot(x - (ax + u * dx), y - (ay + u * dy)).min(axis=0)
            _combine(canvas[r0:r1, c0:c1], _brush(distance, stroke.hardness), stroke.erase)
        start = end


# ---------------------------------------------------------------------------------------------
# The mask
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mask:
    """The operations painted on one clip, in order, and the feather radius the edits use.

    ``feather_px`` (0 to 64 spectrogram pixels) softens the mask's edges inwards when the mask is
    used (``InpaintJob.feather_px``). Immutable: every edit returns a new Mask.
    """

    shapes: tuple[Shape, ...] = ()
    feather_px: int = DEFAULT_FEATHER_PX

    def __post_init__(self) -> None:
        object.__setattr__(self, "shapes", tuple(self.shapes))
        for i, shape in enumerate(self.shapes):
            if type(shape) not in _KIND_OF:
                raise ValueError(f"Mask: shapes[{i}] must be a Stroke, Rect, TimeBand, FreqBand or Invert, got {_short(shape)}.")
        if isinstance(self.feather_px, bool) or not isinstance(self.feather_px, (int, np.integer)):
            raise ValueError(f"Mask: `feather_px` must be an integer, got {_short(self.feather_px)}.")
        if not 0 <= self.feather_px <= MAX_FEATHER_PX:
            raise ValueError(f"Mask: `feather_px` must be between 0 and {MAX_FEATHER_PX}, got {self.feather_px}.")
        object.__setattr__(self, "feather_px", int(self.feather_px))

    @property
    def is_empty(self) -> bool:
        """True when nothing was painted (an inverted empty mask is not empty: it covers everything)."""
        return not self.shapes

    def with_shape(self, shape: Shape) -> Mask:
        return replace(self, shapes=(*self.shapes, shape))

    def inverted(self) -> Mask:
        return self.with_shape(Invert())

    def cleared(self) -> Mask:
        return replace(self, shapes=())

    def with_feather(self, feather_px: int) -> Mask:
        return replace(self, feather_px=feather_px)

    def shifted(self, dt_s: float) -> Mask:
        """The mask ``dt_s`` seconds later in the clip's audio (after audio was added in front)."""
        if dt_s == 0:
            return self
        return replace(self, shapes=tuple(shape.shifted(dt_s) for shape in self.shapes))

    def rasterise(self, grid: MaskGrid) -> np.ndarray:
        """Values in [0, 1], float32 ``(grid.rows, grid.columns)``, row 0 the lowest frequency."""
        canvas = np.zeros((grid.rows, grid.columns), dtype=np.float32)
        for shape in self.shapes:
            apply_shape(canvas, grid, shape)
        return canvas

    def job_mask(self, samples: int, params: Any) -> np.ndarray:
        """The ``InpaintJob.mask`` for a clip of ``samples`` samples under SpectrogramParams ``params``."""
        return self.rasterise(MaskGrid.for_job(samples, params))

    def boxes(self, duration_s: float) -> tuple[tuple[float, float, float | None, float | None], ...] | None:
        """The mask as ``InpaintJob.boxes`` when it is a plain union of painted rectangles and bands
        (the edit then replaces exactly their seconds), clipped to ``0..duration_s``; None when it
        holds strokes, erasing or inverting, or nothing inside the clip."""
        boxes = []
        for shape in self.shapes:
            if shape.erase or isinstance(shape, (Stroke, Invert)):
                return None
            if isinstance(shape, FreqBand):
                start, end, fmin, fmax = 0.0, duration_s, shape.fmin_hz, shape.fmax_hz
            elif isinstance(shape, TimeBand):
                start, end, fmin, fmax = shape.start_s, shape.end_s, None, None
            else:
                start, end, fmin, fmax = shape.start_s, shape.end_s, shape.fmin_hz, shape.fmax_hz
            start, end = max(0.0, start), min(duration_s, end)
            if end > start:
                boxes.append((start, end, fmin, fmax))
        return tuple(boxes) or None

    # -- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        shapes = []
        for shape in self.shapes:
            entry: dict[str, Any] = {"kind": _KIND_OF[type(shape)]}
            for name in shape.__dataclass_fields__:
                value = getattr(shape, name)
                entry[name] = [list(p) for p in value] if name == "points" else value
            shapes.append(entry)
        return {"version": MASK_FORMAT_VERSION, "feather_px": self.feather_px, "shapes": shapes}

    @classmethod
    def from_dict(cls, data: Any) -> Mask:
        """Raises ValueError saying what is wrong with ``data``."""
        if not isinstance(data, dict):
            raise ValueError(f"a mask must be a JSON object, got {type(data).__name__}.")
        version = data.get("version", MASK_FORMAT_VERSION)
        if not isinstance(version, int) or version > MASK_FORMAT_VERSION:
            raise ValueError(f"this mask was saved by a newer version (mask format {_short(version)}); "
                             f"this version reads format {MASK_FORMAT_VERSION}.")
        raw_shapes = data.get("shapes", [])
        if not isinstance(raw_shapes, list):
            raise ValueError(f"a mask's `shapes` must be a list, got {type(raw_shapes).__name__}.")
        shapes = []
        for i, entry in enumerate(raw_shapes):
            kind_name = entry.get("kind") if isinstance(entry, dict) else None
            if not isinstance(kind_name, str) or kind_name not in _KINDS:
                raise ValueError(f"mask shape {i} has no known kind (expected one of {sorted(_KINDS)}): {_short(entry, 80)}.")
            kind = _KINDS[kind_name]
            args = {k: v for k, v in entry.items() if k != "kind"}
            unknown = set(args) - set(kind.__dataclass_fields__)
            if unknown:
                raise ValueError(f"mask shape {i} ({kind_name}) has unknown fields {sorted(unknown)[:10]}.")
            try:
                if "points" in args:
                    args["points"] = tuple(tuple(p) for p in args["points"])
                shapes.append(kind(**args))
            except TypeError as exc:
                raise ValueError(f"mask shape {i} ({kind_name}): {str(exc)[:120]}") from None
        return cls(tuple(shapes), data.get("feather_px", DEFAULT_FEATHER_PX))


EMPTY_MASK = Mask()


class MaskEvents(EventGroup):
    """mask_changed(clip_id, mask); masks_reset() (all masks replaced: a project was loaded)."""

    names = ("mask_changed", "masks_reset")
    mask_changed: Event
    masks_reset: Event


class MaskStore:
    """The mask of every clip, by clip id. Masks of clips that are deleted are kept, so undoing the
    deletion brings the mask back; :meth:`for_project` picks those of clips still present."""

    def __init__(self) -> None:
        self.events = MaskEvents()
        self._masks: dict[str, Mask] = {}

    def get(self, clip_id: str) -> Mask:
        """The clip's mask (an empty one if it has none)."""
        return self._masks.get(clip_id, EMPTY_MASK)

    def set_mask(self, clip_id: str, mask: Mask) -> None:
        """Replace a clip's mask (for commands); emits mask_changed(clip_id, mask) if it differs."""
        if not isinstance(mask, Mask):
            raise ValueError(f"expected a Mask, got {type(mask).__name__}")
        if self.get(clip_id) == mask:
            return
        if mask == EMPTY_MASK:
            self._masks.pop(clip_id, None)
        else:
            self._masks[clip_id] = mask
        self.events.mask_changed.emit(clip_id, mask)

    def replace_all(self, masks: dict[str, Mask]) -> None:
        """Forget every mask and take ``masks`` (a project was opened); emits masks_reset."""
        self._masks = {cid: m for cid, m in masks.items() if m != EMPTY_MASK}
        self.events.masks_reset.emit()

    def for_project(self, project: Any) -> dict[str, Mask]:
        """Masks of the clips in ``project`` (what a project file stores)."""
        return {clip.id: self._masks[clip.id] for clip in project.clips() if clip.id in self._masks}

    def to_dict(self, project: Any) -> dict[str, Any]:
        return {cid: mask.to_dict() for cid, mask in self.for_project(project).items()}

    @staticmethod
    def masks_from_dict(data: Any) -> dict[str, Mask]:
        """Parse :meth:`to_dict`'s output; raises ValueError naming the clip whose mask is bad."""
        if not isinstance(data, dict):
            raise ValueError(f"masks must be a JSON object of clip id -> mask, got {type(data).__name__}.")
        masks = {}
        for clip_id, entry in data.items():
            try:
                masks[str(clip_id)] = Mask.from_dict(entry)
            except ValueError as exc:
                raise ValueError(f"the mask of clip {_short(clip_id)} is damaged: {exc}") from None
        return masks

    def __len__(self) -> int:
        return len(self._masks)
