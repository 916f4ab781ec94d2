"""ClipsLayer: every clip of one track drawn as a block in one paint call.

A lane shows a clip in detail (a :class:`~app.plot_items.clip_item.ClipItem` with its waveform,
spectrogram and overlays) only while the clip is in view and wide enough on screen to show
anything; the layer draws all the others as coloured blocks (fill, border, selection) from cached
rectangles, so a lane of thousands of clips costs one item and one paint call. The overview
uses one layer per track row. A block under the pointer is found by
:meth:`ClipsLayer.block_at` (the topmost: the most recently added or changed clip).

The layer holds the model's :class:`~app.model.project.Clip` objects by reference and builds its
rectangles from their ``start_s`` and ``length_s`` after every change it is told of (the timeline
calls :meth:`set_block` or :meth:`changed` after a clip moved or was trimmed).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui
from PySide6.QtCore import Qt

from app.model.project import Clip

#: Clicks within this many pixels of a block that is narrower than that pick it.
PICK_SLOP_PX = 2.0
#: Layers at least this many device pixels high are painted as rows of pixels (ClipsLayer._paint_rows).
ROWS_MIN_HEIGHT_PX = 5


def _premultiplied(color: QtGui.QColor, alpha: np.ndarray | float | None = None) -> np.ndarray | np.uint32:
    """``color`` at ``alpha`` (its own when None; an array gives one pixel per value) as
    premultiplied ARGB32 pixels."""
    a = np.asarray(color.alphaF() if alpha is None else alpha, np.float64)
    channels = [np.round(a * 255.0)] + [np.round(a * c) for c in (color.red(), color.green(), color.blue())]
    a8, r, g, b = (np.clip(c, 0, 255).astype(np.uint32) for c in channels)
    pixels = (a8 << 24) | (r << 16) | (g << 8) | b
    return pixels if pixels.ndim else np.uint32(pixels)


class ClipsLayer(pg.GraphicsObject):
    """The blocks of one track's clips between ``y0`` and ``y1`` (plot units).

    Args:
        color: the track's colour.
        handler: gets ``layer_click_event(layer, ev)`` and ``layer_drag_event(layer, ev)``
            (the timeline); None for a layer that takes no mouse input (the overview).
    """

    def __init__(self, color: QtGui.QColor, handler=None) -> None:
        super().__init__()
        self.handler = handler
        self.blocks: dict[str, tuple[Clip, int]] = {}  # clip id -> (clip, stacking sequence)
        self.hidden: set[str] = set()  # drawn by their own ClipItem
        self.selected: frozenset[str] = frozenset()
        self._y = (0.0, 1.0)
        self._end_s = 0.0
        self._cached: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.set_color(color)
        self.setZValue(0.5)
        if handler is None:
            self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    # -- content ---------------------------------------------------------------------------------

    def set_color(self, color: QtGui.QColor) -> None:
        self.color = QtGui.QColor(color)
        fill = QtGui.QColor(self.color)
        fill.setAlpha(110)
        self._brush = QtGui.QBrush(fill)
        self._pen = QtGui.QPen(self.color.lighter(130), 1)
        self._pen.setCosmetic(True)
        self._selected_pen = QtGui.QPen(QtGui.QColor(255, 255, 255), 2)
        self._selected_pen.setCosmetic(True)
        self.update()

    def set_block(self, clip: Clip, seq: int) -> None:
        """Add or refresh a clip's block (``seq`` orders stacking: higher is on top)."""
        known = self.blocks.pop(clip.id, None) is not None
        self.blocks[clip.id] = (clip, seq)  # dict order = stacking order
        if known:
            self.changed()  # it may have moved or shrunk
        elif clip.end_s > self._end_s:
            self.prepareGeometryChange()
            self._end_s = clip.end_s
        self.update()

    def set_blocks(self, entries: list[tuple[Clip, int]]) -> None:
        """Add or refresh many blocks at once (a new document): one extent, one update."""
        for clip, seq in entries:
            self.blocks.pop(clip.id, None)
            self.blocks[clip.id] = (clip, seq)
        self.changed()

    def remove_block(self, clip_id: str) -> None:
        entry = self.blocks.pop(clip_id, None)
        if entry is not None:
            self.hidden.discard(clip_id)
            if entry[0].end_s >= self._end_s:
                self.changed()
            self.update()

    def clear(self) -> None:
        self.blocks.clear()
        self.hidden.clear()
        self.changed()

    def set_hidden(self, clip_id: str, hidden: bool) -> None:
        if hidden:
            self.hidden.add(clip_id)
        else:
            self.hidden.discard(clip_id)
        self.update()

    def set_selected(self, clip_ids: frozenset[str]) -> None:
        if clip_ids != self.selected:
            self.selected = clip_ids
            self.update()

    def set_y_range(self, y0: float, y1: float) -> None:
        if (y0, y1) != self._y:
            self.prepareGeometryChange()
            self._y = (float(y0), float(y1))
            self.update()

    def changed(self) -> None:
        """A clip's position or length changed (or one came or went): recompute the extent."""
        end = max((clip.end_s for clip, _ in self.blocks.values()), default=0.0)
        if end != self._end_s:
            self.prepareGeometryChange()
            self._end_s = end
        self.update()

    @property
    def end_s(self) -> float:
        """Where the last block ends (0 with none)."""
        return self._end_s

    def label_rows(self) -> dict[str, int]:
        """A line for each clip's name such that clips that overlap in time never share one
        (interval partitioning, earliest start first; touching clips do not overlap)."""
        rows: dict[str, int] = {}
        ends: list[float] = []  # per line, where its last clip ends
        for clip_id, (clip, _) in sorted(self.blocks.items(), key=lambda kv: (kv[1][0].start_s, kv[1][1])):
            start = clip.start_s
            row = next((r for r, end in enumerate(ends) if end <= start + 1e-9), len(ends))
            if row == len(ends):
                ends.append(clip.end_s)
            else:
                ends[row] = clip.end_s
            rows[clip_id] = row
        return rows

    def block_at(self, t_s: float) -> Clip | None:
        """The topmost clip drawn by this layer (not hidden) under time ``t_s``, or None."""
        slop = PICK_SLOP_PX * (self.pixelWidth() or 0.0)
        best: Clip | None = None
        for clip_id, (clip, _) in self.blocks.items():
            if clip_id in self.hidden:
                continue
            start, end = clip.start_s, clip.end_s
            if end - start < 2 * slop:
                start, end = start - slop, end + slop
            if start <= t_s < end:
                best = clip  # later entries are on top
        return best

    # -- painting --------------------------------------------------------------------------------

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt API
        y0, y1 = self._y
        return QtCore.QRectF(0.0, y0, max(self._end_s, 1e-9), y1 - y0)

    def _spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The blocks' (starts, ends, selected) in stacking order, rebuilt only after a change: a
        repaint (scrolling, the playhead moving) runs no Python loop over clips."""
        if self._cached is None:
            shown = [(clip.start_s, clip.length_s, clip_id in self.selected)
                     for clip_id, (clip, _) in self.blocks.items() if clip_id not in self.hidden]
            spans = np.array([(start, length) for start, length, _ in shown], dtype=np.float64).reshape(-1, 2)
            chosen = np.array([flag for _, _, flag in shown], dtype=bool)
            self._cached = (spans[:, 0], spans[:, 0] + spans[:, 1], chosen)
        return self._cached

    def update(self, *args) -> None:
        self._cached = None
        super().update(*args)

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        if not self.blocks:
            return
        starts, ends, chosen = self._spans()
        if not len(starts):
            return
        transform = painter.transform()
        if transform.type().value > QtGui.QTransform.TransformationType.TxScale.value:
            return self._paint_in_item_space(painter, starts, ends, chosen)
        # Whole device pixels with no transform: the raster engine's fast path for axis-aligned
        # rectangles (a scaled painter strokes every rectangle as a path), blocks out of the
        # device culled, blocks that land on the same pixels drawn once.
        sx, dx, sy, dy = transform.m11(), transform.dx(), transform.m22(), transform.dy()
        ya, yb = self._y[0] * sy + dy, self._y[1] * sy + dy
        top, height = int(round(min(ya, yb))), max(1, int(round(abs(yb - ya))) - 1)
        lefts = np.round(starts * sx + dx)  # touching clips share their border pixel
        rights = np.maximum(lefts + 1, np.round(ends * sx + dx))
        width = painter.viewport().right() + 1
        shown = (rights >= -2) & (lefts <= width + 2)
        if height >= ROWS_MIN_HEIGHT_PX and width > 0:
            return self._paint_rows(painter, lefts[shown], rights[shown], chosen[shown], top, height, width)
        painter.save()
        try:
            painter.resetTransform()
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
            painter.setBrush(self._brush)
            for mask, pen in ((shown & ~chosen, self._pen), (shown & chosen, self._selected_pen)):
                if not mask.any():
                    continue
                left = np.clip(lefts[mask], -4, width + 4).astype(np.int64)
                right = np.clip(rights[mask], -4, width + 4).astype(np.int64)
                pairs = np.unique(np.stack([left, right - left], axis=1), axis=0) if len(left) > 1 else np.stack(
                    [left, right - left], axis=1)
                painter.setPen(pen)
                painter.drawRects([QtCore.QRect(int(x), top, int(w), height) for x, w in pairs.tolist()])
        finally:
            painter.restore()

    def _paint_rows(self, painter: QtGui.QPainter, lefts: np.ndarray, rights: np.ndarray, chosen: np.ndarray,
                    top: int, height: int, width: int) -> None:
        """The blocks as five rows of pixels, stretched down the lane: every block spans the
        layer's height, so the picture is the same from one row to the next except the top and
        bottom borders. The rows are composed with numpy (fills by how many blocks cover a column,
        borders over them, the selection's white 2 px outline last) and drawn as one small image:
        a handful of image draws per paint instead of hundreds of translucent rectangles, each
        a run of narrow spans (5-10 ms for a lane of 500 clips, every time the playhead moved)."""
        columns = width + 2  # device columns -1 .. width
        left = np.clip(lefts, -1, width).astype(np.int64) + 1
        right = np.clip(rights, -1, width).astype(np.int64) + 1

        def covered(mask: np.ndarray, extra: int) -> np.ndarray:
            """How many of the ``mask`` blocks cover each column (left .. right - 1 + extra)."""
            steps = np.zeros(columns + 2, np.int64)
            np.add.at(steps, left[mask], 1)
            np.add.at(steps, np.minimum(right[mask] + extra, columns + 1), -1)
            return np.cumsum(steps)[:columns]

        fills = covered(np.ones(len(left), bool), 0)
        alpha = 1.0 - (1.0 - self._brush.color().alphaF()) ** fills  # n translucent fills, one over another
        middle = _premultiplied(self._brush.color(), alpha)
        plain, selected = ~chosen, chosen
        pen, white = _premultiplied(self._pen.color()), _premultiplied(self._selected_pen.color())
        middle[np.concatenate([left[plain], right[plain]])] = pen
        edge = np.zeros(columns, np.uint32)  # the top and bottom border rows
        edge[covered(plain, 1) > 0] = pen
        inner = middle.copy()  # the rows next to them: the selection's outline is 2 px
        if selected.any():
            ends = np.concatenate([left[selected], left[selected] + 1, right[selected] - 1, right[selected]])
            middle[np.clip(ends, 0, columns - 1)] = white
            across = covered(selected, 1) > 0
            edge[across] = white
            inner[:] = middle
            inner[across] = white
        rows = np.ascontiguousarray(np.stack([edge, inner, middle])[:, 1 : width + 1])
        image = QtGui.QImage(rows.data, width, 3, width * 4, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        painter.save()
        try:
            painter.resetTransform()
            painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            bottom = top + height
            for y0, y1, source in ((top, top, 0), (top + 1, top + 1, 1), (top + 2, bottom - 2, 2),
                                   (bottom - 1, bottom - 1, 1), (bottom, bottom, 0)):
                painter.drawImage(QtCore.QRect(0, y0, width, y1 - y0 + 1), image, QtCore.QRect(0, source, width, 1))
        finally:
            painter.restore()

    def _paint_in_item_space(self, painter: QtGui.QPainter, starts: np.ndarray, ends: np.ndarray,
                             chosen: np.ndarray) -> None:
        """A rotated or projective painter (never in the timeline): plain rectangles in item space."""
        y0, y1 = self._y
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        painter.setBrush(self._brush)
        for mask, pen in ((~chosen, self._pen), (chosen, self._selected_pen)):
            if mask.any():
                painter.setPen(pen)
                painter.drawRects([QtCore.QRectF(a, y0, b - a, y1 - y0) for a, b in zip(starts[mask], ends[mask])])

    # -- mouse -----------------------------------------------------------------------------------

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if self.handler is None:
            ev.ignore()
            return
        self.handler.layer_click_event(self, ev)

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if self.handler is None:
            ev.ignore()
            return
        self.handler.layer_drag_event(self, ev)
