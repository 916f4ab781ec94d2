"""The overview strip under the lanes: every clip of every track drawn small (coarse envelopes,
no names, no mouse), the playhead, and a region that shows and moves the visible range."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6 import QtGui
from PySide6.QtCore import Qt

from app.model.project import Project
from app.plot_items.axes import FrequencyScale, TimeAxis
from app.plot_items.clip_item import ClipItem, LaneLayout
from app.widgets.timeline.lanes import PLAYHEAD_PEN, TimelineViewBox, make_plot
from app.widgets.timeline.visuals import VisualsCache

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

OVERVIEW_HEIGHT_PX = 56


class TimelineOverview:
    """The overview's plot, region, playhead and clip items (keyed by clip id)."""

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
        self.items: dict[str, ClipItem] = {}

    def rebuild(
        self, project: Project, visuals: VisualsCache, scale: FrequencyScale, color_of: Callable[[str], QtGui.QColor]
    ) -> None:
        """Rebuild the overview's clip items (cheap: coarse envelopes)."""
        vb = self.viewbox
        for item in self.items.values():
            item.detach()
            vb.removeItem(item)
        self.items.clear()
        layout = LaneLayout("waveform", scale)
        n = max(1, len(project.tracks))
        for index, track in enumerate(project.tracks):
            for clip in track.clips:
                pyramid = visuals.for_clip(clip).pyramid
                item = ClipItem(clip, track.id, pyramid, layout, color_of(track.id), handler=None)
                item.show_name = False
                item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                item.setAcceptHoverEvents(False)
                item.setTransform(QtGui.QTransform.fromTranslate(0, -(index + 1) * layout.height * 1.1))
                vb.addItem(item, ignoreBounds=True)
                self.items[clip.id] = item
                item.refresh_children()
        vb.setYRange(-n * layout.height * 1.1, 0, padding=0.02)
