"""A track's row on the timeline: its header, its plot (a view box whose mouse gestures go to the
timeline), its clip items and its overlays (playhead, time selection, box, drag ghost)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt

from app.model.project import Track
from app.plot_items.axes import MelFrequencyAxis
from app.plot_items.clip_item import ClipItem, LaneLayout
from app.widgets.timeline.clips_layer import ClipsLayer
from app.widgets.timeline.track_header import TrackHeader

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

AXIS_WIDTH_PX = 52
LANE_HEIGHT_PX = {"waveform": 96, "spectrogram": 140, "both": 200}
TRACK_COLORS = ("#3f8fd2", "#d2803f", "#53b36a", "#b455c2", "#c9b33c", "#4fb8b2", "#d25c5c")
SELECTION_BRUSH = (120, 170, 255, 45)
BOX_PEN = (140, 200, 255)
PLAYHEAD_PEN = (255, 90, 60)


class TimelineViewBox(pg.ViewBox):
    """A ViewBox whose mouse gestures go to the timeline (no pyqtgraph pan/zoom/menu)."""

    def __init__(self, timeline: QtTimeline, role: str, lane: TrackLane | None = None) -> None:
        super().__init__(enableMenu=False, defaultPadding=0.0)
        self._timeline = weakref.proxy(timeline)
        self.role = role
        self.lane = lane
        self.setMouseEnabled(False, False)
        self.disableAutoRange()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph API
        self._timeline._view_drag_event(self, ev)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        self._timeline._view_click_event(self, ev)

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 - Qt API
        self._timeline._view_wheel_event(self, ev)


def make_plot(viewbox: pg.ViewBox, left: pg.AxisItem | None, bottom: pg.AxisItem | None) -> pg.PlotWidget:
    axis_items = {}
    if left is not None:
        axis_items["left"] = left
    if bottom is not None:
        axis_items["bottom"] = bottom
    plot = pg.PlotWidget(viewBox=viewbox, axisItems=axis_items)
    item = plot.getPlotItem()
    item.hideButtons()
    item.setMenuEnabled(False)
    item.layout.setContentsMargins(0, 0, 0, 0)
    left_axis = item.getAxis("left")
    left_axis.setWidth(AXIS_WIDTH_PX)
    if left is None:
        left_axis.setStyle(showValues=False)
        left_axis.setTicks([[], []])
    if bottom is None:
        item.hideAxis("bottom")
    plot.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    plot.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    plot.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return plot


class TrackLane:
    """The widgets and items of one track: header, plot, clip items, overlays."""

    def __init__(self, timeline: QtTimeline, track: Track, layout: LaneLayout, color: QtGui.QColor) -> None:
        self.track_id = track.id
        self.color = QtGui.QColor(color)
        self.header = TrackHeader(timeline, track, timeline.header_width)
        self.header.set_compact(timeline.compact_headers, timeline.header_width)
        self.axis = MelFrequencyAxis(layout.scale)
        self.viewbox = TimelineViewBox(timeline, "lane", self)
        self.plot = make_plot(self.viewbox, self.axis, None)
        self.row = QtWidgets.QWidget()
        row_layout = QtWidgets.QHBoxLayout(self.row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(0)
        row_layout.addWidget(self.header)
        row_layout.addWidget(self.plot, 1)
        #: Clips shown in detail (in view and wide enough); the layer draws every other clip.
        self.clip_items: dict[str, ClipItem] = {}
        #: Detailed items of an earlier document's clips, still on the scene of this hidden lane
        #: until it is given to a new track (taken off a batch per event-loop turn).
        self.stale_items: list[ClipItem] = []
        self.layer = ClipsLayer(self.color, handler=timeline)
        self.label_rows: dict[str, int] = {}  # clip id -> the line its name is drawn on
        self.viewbox.addItem(self.layer, ignoreBounds=True)
        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_PEN, width=1))
        self.playhead.setZValue(30)
        self.viewbox.addItem(self.playhead, ignoreBounds=True)
        self.time_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(SELECTION_BRUSH))
        self.time_region.setZValue(20)
        for line in self.time_region.lines:
            line.setPen(pg.mkPen((150, 190, 255, 160)))
            line.setHoverPen(pg.mkPen((150, 190, 255, 160)))
        self.time_region.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        for line in self.time_region.lines:
            line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.viewbox.addItem(self.time_region, ignoreBounds=True)
        self.time_region.setVisible(False)
        self.box = QtWidgets.QGraphicsRectItem()
        box_pen = pg.mkPen(BOX_PEN, width=1.5)
        box_pen.setCosmetic(True)
        self.box.setPen(box_pen)
        self.box.setBrush(pg.mkBrush(120, 170, 255, 40))
        self.box.setZValue(25)
        self.viewbox.addItem(self.box, ignoreBounds=True)
        self.box.setVisible(False)
        self.ghost = QtWidgets.QGraphicsRectItem()
        ghost_pen = pg.mkPen((255, 255, 255, 200), width=1, style=Qt.PenStyle.DashLine)
        ghost_pen.setCosmetic(True)
        self.ghost.setPen(ghost_pen)
        self.ghost.setBrush(pg.mkBrush(255, 255, 255, 30))
        self.ghost.setZValue(15)
        self.viewbox.addItem(self.ghost, ignoreBounds=True)
        self.ghost.setVisible(False)
        self.apply_layout(layout)

    def retarget(self, track: Track, color: QtGui.QColor) -> None:
        """Show another track (a new document reuses the lanes it has); the caller has taken the
        clip items off already."""
        self.header._finish_rename(keep=False)  # an edit of the old track's name ends here
        self.track_id = track.id
        self.color = QtGui.QColor(color)
        self.header.track_id = track.id
        self.header.sync(track)
        clear = getattr(self.header.meter, "clear_levels", None)
        if callable(clear):
            clear()
        self.layer.clear()
        self.layer.set_color(color)
        self.label_rows = {}

    def apply_layout(self, layout: LaneLayout) -> None:
        self.layout = layout
        self.plot.setFixedHeight(LANE_HEIGHT_PX[layout.mode])
        self.header.setFixedHeight(LANE_HEIGHT_PX[layout.mode])
        self.axis.configure(
            layout.scale,
            show_frequency=layout.spectrogram_band is not None,
            waveform_band=layout.waveform_band,
        )
        self.viewbox.setYRange(*layout.y_range, padding=0.0)
        self.layer.set_y_range(*layout.y_range)
        for item in self.clip_items.values():
            item.set_layout(layout)

