"""The overview strip under the lanes: every clip of every track as a small block (one
:class:`~app.widgets.timeline.clips_layer.ClipsLayer` per track row), the playhead, and a region
that shows and moves the visible range.

Updated clip by clip (add, remove, change) and track by track (order), never rebuilt whole: a
project of thousands of clips costs one block per change and one paint call per track.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6 import QtGui

from app.model.project import Clip
from app.plot_items.axes import TimeAxis
from app.widgets.timeline.clips_layer import ClipsLayer
from app.widgets.timeline.lanes import PLAYHEAD_PEN, TimelineViewBox, make_plot

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

OVERVIEW_HEIGHT_PX = 56
#: Rows are one unit high and this far apart (a small gap between tracks).
ROW_PITCH = 1.1


class TimelineOverview:
    """The overview's plot, region, playhead and one row of blocks per track."""

    def __init__(self, timeline: QtTimeline) -> None:
        self.viewbox = TimelineViewBox(timeline, "overview")
        self.plot = make_plot(self.viewbox, None, TimeAxis("bottom"))
        self.plot.setFixedHeight(OVERVIEW_HEIGHT_PX)
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(255, 255, 255, 40))
        self.region.setZValue(20)
        self.viewbox.addItem(self.region, ignoreBounds=True)
        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_PEN, width=1))
        self.playhead.setZValue(30)
        self.viewbox.addItem(self.playhead, ignoreBounds=True)
        self.rows: dict[str, ClipsLayer] = {}  # track id -> its row, in track order

    def clear(self) -> None:
        for layer in self.rows.values():
            self.viewbox.removeItem(layer)
        self.rows.clear()

    def place_tracks(self, tracks: list[tuple[str, QtGui.QColor]]) -> None:
        """The tracks (id, colour) top to bottom: rows are added, dropped and moved to match."""
        wanted = [track_id for track_id, _ in tracks]
        for track_id in [t for t in self.rows if t not in wanted]:
            self.viewbox.removeItem(self.rows.pop(track_id))
        rows: dict[str, ClipsLayer] = {}
        for index, (track_id, color) in enumerate(tracks):
            layer = self.rows.get(track_id)
            if layer is None:
                layer = ClipsLayer(color)
                self.viewbox.addItem(layer, ignoreBounds=True)
            top = -index * ROW_PITCH
            layer.set_y_range(top - 1.0, top)
            rows[track_id] = layer
        self.rows = rows
        self.viewbox.setYRange(-max(1, len(rows)) * ROW_PITCH, 0.0, padding=0.02)

    def set_clip(self, track_id: str, clip: Clip, seq: int) -> None:
        layer = self.rows.get(track_id)
        if layer is not None:
            layer.set_block(clip, seq)

    def set_clips(self, track_id: str, entries: list[tuple[Clip, int]]) -> None:
        """Many clips of one track at once (a new document): they replace the row's blocks."""
        layer = self.rows.get(track_id)
        if layer is not None:
            layer.blocks.clear()
            layer.hidden.clear()
            layer.set_blocks(entries)

    def remove_clip(self, track_id: str, clip_id: str) -> None:
        layer = self.rows.get(track_id)
        if layer is not None:
            layer.remove_block(clip_id)

    def changed(self, track_id: str) -> None:
        layer = self.rows.get(track_id)
        if layer is not None:
            layer.changed()

    def clips(self) -> dict[str, tuple[int, float, float]]:
        """What the overview shows: clip id -> (row, start_s, end_s) (tests, tools)."""
        return {
            clip_id: (row, clip.start_s, clip.end_s)
            for row, layer in enumerate(self.rows.values())
            for clip_id, (clip, _) in layer.blocks.items()
        }
