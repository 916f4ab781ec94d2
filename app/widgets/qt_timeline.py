"""QtTimeline: tracks of clips with waveforms and spectrograms, zoom/scroll/overview, selections and
clip editing through undo commands.

The view holds ``project`` and ``undo_stack`` and listens to ``project.events``; it never edits the
model except through commands (move, trim, split, duplicate, delete) and the two non-undoable
setters (selection, playhead). Spectrogram images are computed on a worker thread
(:mod:`app.plot_items.spectrogram_compute`) and arrive by a signal; until then the waveform shows.

Gestures on a lane (tool "edit"): drag a clip to move it (also to another track), drag its edges
to trim, drag on empty space (or shift-drag anywhere) to select a time range, alt-drag (or any drag
with the "box" tool) to select a time x frequency box on the spectrogram, click to seek,
double-click a clip to activate it. Wheel scrolls, ctrl+wheel zooms around the pointer, middle-drag
pans; keys: +/- zoom, S split at the playhead, Ctrl+D duplicate, Del delete.

Tool "mask": left drags and clicks on a lane (over clips or not) become :class:`MaskGesture` values
handed to ``mask_handler.mask_gesture(gesture)`` (the mask painter of app/widgets/qt_mask_tools.py);
the timeline itself knows nothing about masks. ``add_clip_decorator(fn)`` lets a tool add children
(the mask overlay) to every clip item the lanes create.
"""

from __future__ import annotations

import logging
import math
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from app.model.commands import CommandGroup, DuplicateClip, MoveClip, RemoveClip, SplitClip, TrimClip
from app.model.project import Clip, Project, Selection, Track
from app.plot_items.axes import FrequencyScale, MelFrequencyAxis, TimeAxis
from app.plot_items.clip_item import VIEW_MODES, ClipItem, LaneLayout
from app.plot_items.envelope import EnvelopePyramid
from app.plot_items.spectrogram_compute import SpectrogramJob
from app.plot_items.spectrogram_item import SpectrogramImage

log = logging.getLogger(__name__)

AXIS_WIDTH_PX = 52
HEADER_WIDTH_PX = 150
LANE_HEIGHT_PX = {"waveform": 96, "spectrogram": 140, "both": 200}
RULER_HEIGHT_PX = 30
OVERVIEW_HEIGHT_PX = 56
MIN_VISIBLE_S = 0.005
MAX_VISIBLE_S = 4 * 3600.0
DEFAULT_VISIBLE_S = 30.0
#: Zoom factor of one wheel notch and of one +/- key press.
ZOOM_STEP = 1.25
KEY_ZOOM_STEP = 1.5
#: One wheel notch scrolls this fraction of the visible span.
SCROLL_FRACTION = 0.1
#: Snap distance in screen pixels, and the smallest grid spacing.
SNAP_PX = 8
GRID_MIN_PX = 40
#: Clips with more values (channels x samples) get their envelope pyramid computed on the worker
#: (a 10-minute stereo clip takes about half a second); smaller ones at once (< ~50 ms).
PYRAMID_SYNC_MAX_VALUES = 4_000_000
TOOLS = ("edit", "box", "mask")
TRACK_COLORS = ("#3f8fd2", "#d2803f", "#53b36a", "#b455c2", "#c9b33c", "#4fb8b2", "#d25c5c")
SELECTION_BRUSH = (120, 170, 255, 45)
BOX_PEN = (140, 200, 255)
PLAYHEAD_PEN = (255, 90, 60)


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= raw."""
    if raw <= 0:
        return 1.0
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = m * 10.0**exp
        if step >= raw - 1e-12:
            return step
    return 10.0 ** (exp + 1)


@dataclass(frozen=True)
class MaskGesture:
    """One step of a left-button gesture on a lane while the "mask" tool is on.

    ``phase``: "start", "move", "finish" (a drag) or "click". Times are timeline seconds; ``hz`` is
    the frequency under the pointer (clamped into the spectrogram band) and ``in_band`` says whether
    the pointer is over the spectrogram band at all. ``s_per_px`` / ``y_per_px`` are the size of a
    screen pixel in seconds and in lane y units (mel), so a brush size in pixels can be converted.
    """

    phase: str
    track_id: str
    time_s: float
    hz: float
    in_band: bool
    start_time_s: float
    start_hz: float
    s_per_px: float
    y_per_px: float
    modifiers: Any = None


@dataclass
class _Visuals:
    """Per audio array (shared by clips cut from the same audio: splits, duplicates, undo)."""

    audio_ref: weakref.ref
    pyramid: EnvelopePyramid | None = None
    spectrogram: SpectrogramImage | None = None
    job: SpectrogramJob | None = None


class _TimelineViewBox(pg.ViewBox):
    """A ViewBox whose mouse gestures go to the timeline (no pyqtgraph pan/zoom/menu)."""

    def __init__(self, timeline: QtTimeline, role: str, lane: _TrackLane | None = None) -> None:
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


def _make_plot(viewbox: pg.ViewBox, left: pg.AxisItem | None, bottom: pg.AxisItem | None) -> pg.PlotWidget:
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


class _TrackHeader(QtWidgets.QFrame):
    """Name, mute, solo and gain of one track; edits go through SetTrackProperty commands."""

    def __init__(self, timeline: QtTimeline, track: Track) -> None:
        super().__init__()
        self._timeline = weakref.proxy(timeline)
        self.track_id = track.id
        self.setFixedWidth(HEADER_WIDTH_PX)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.name_label = QtWidgets.QLabel()
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.mute_button = QtWidgets.QToolButton(text="M", checkable=True, toolTip="Mute this track")
        self.solo_button = QtWidgets.QToolButton(text="S", checkable=True, toolTip="Solo this track")
        self.gain_spin = QtWidgets.QDoubleSpinBox(
            minimum=-60.0, maximum=12.0, singleStep=0.5, decimals=1, suffix=" dB", toolTip="Track gain"
        )
        self.gain_spin.setKeyboardTracking(False)
        for button in (self.mute_button, self.solo_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.mute_button)
        row.addWidget(self.solo_button)
        row.addWidget(self.gain_spin, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.name_label)
        layout.addLayout(row)
        layout.addStretch(1)
        self.sync(track)
        self.mute_button.toggled.connect(lambda on: self._timeline._set_track_property(self.track_id, "mute", on))
        self.solo_button.toggled.connect(lambda on: self._timeline._set_track_property(self.track_id, "solo", on))
        self.gain_spin.valueChanged.connect(
            lambda v: self._timeline._set_track_property(self.track_id, "gain_db", float(v))
        )

    def sync(self, track: Track) -> None:
        for widget, value in (
            (self.mute_button, track.mute),
            (self.solo_button, track.solo),
            (self.gain_spin, track.gain_db),
        ):
            widget.blockSignals(True)
            if isinstance(widget, QtWidgets.QDoubleSpinBox):
                widget.setValue(value)
            else:
                widget.setChecked(value)
            widget.blockSignals(False)
        self.name_label.setText(track.name)
        self.name_label.setToolTip(track.name)

    def set_selected(self, selected: bool) -> None:
        role = QtGui.QPalette.ColorRole.Window
        base = QtWidgets.QApplication.palette()
        palette = self.palette()
        palette.setColor(role, base.color(QtGui.QPalette.ColorRole.Highlight).darker(250) if selected else base.color(role))
        self.setPalette(palette)

    def mousePressEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self._timeline._select_track(self.track_id)
        super().mousePressEvent(ev)


class _TrackLane:
    """The widgets and items of one track: header, plot, clip items, overlays."""

    def __init__(self, timeline: QtTimeline, track: Track, layout: LaneLayout) -> None:
        self.track_id = track.id
        self.header = _TrackHeader(timeline, track)
        self.axis = MelFrequencyAxis(layout.scale)
        self.viewbox = _TimelineViewBox(timeline, "lane", self)
        self.plot = _make_plot(self.viewbox, self.axis, None)
        self.row = QtWidgets.QWidget()
        row_layout = QtWidgets.QHBoxLayout(self.row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(0)
        row_layout.addWidget(self.header)
        row_layout.addWidget(self.plot, 1)
        self.clip_items: dict[str, ClipItem] = {}
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
        for item in self.clip_items.values():
            item.set_layout(layout)


class QtTimeline(QtWidgets.QWidget):
    """The timeline view of a :class:`~app.model.project.Project`.

    Args:
        project: the document (held, listened to; edited only through commands).
        undo_stack: an :class:`app.undo.UndoStack`; edits are pushed with ``push_command``.

    Signals:
        clip_activated(str clip_id): a clip was double-clicked.
        seek_requested(float seconds): the user clicked or scrubbed to a time (the project's
            playhead has already moved there).
        view_range_changed(float start_s, float end_s): the visible time range changed.
        spectrogram_computed(str clip_id): a clip's spectrogram image is complete.
        spectrogram_failed(str clip_id, str reason): it could not be computed (the waveform stays).
        tool_changed(str tool): "edit", "box" or "mask".
    """

    clip_activated = Signal(str)
    seek_requested = Signal(float)
    view_range_changed = Signal(float, float)
    spectrogram_computed = Signal(str)
    spectrogram_failed = Signal(str, str)
    tool_changed = Signal(str)
    clip_dragged_out = Signal(str, str)  # clip id, path of the WAV file the drag carries
    drag_out_failed = Signal(str)
    _spectrogram_progressed = Signal(object, bool)
    _pyramid_computed = Signal(object, object)

    def __init__(self, project: Project, undo_stack, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.undo_stack = undo_stack
        self._view_mode = "both"
        self._tool = "edit"
        self._snap_enabled = True
        self.follow_playhead = True
        self._scale = FrequencyScale()
        self._view = (0.0, DEFAULT_VISIBLE_S)
        self._syncing = False
        self._lanes: list[_TrackLane] = []
        self._visuals: dict[int, _Visuals] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="specdiff-spectrogram")
        self._drag: dict[str, Any] | None = None
        self._overview_items: dict[str, ClipItem] = {}
        self._clip_decorators: list = []
        #: Receives MaskGesture values while the "mask" tool is on (see app/widgets/qt_mask_tools.py).
        self.mask_handler: Any = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._spectrogram_progressed.connect(self._on_spectrogram_progressed)
        self._pyramid_computed.connect(self._on_pyramid_computed)
        self._build_ui()
        self._build_actions()
        self._connect_project()
        self._rebuild()
        self.set_visible_range(0.0, DEFAULT_VISIBLE_S)

    # ================================================================= construction

    def _build_ui(self) -> None:
        self.mode_combo = QtWidgets.QComboBox()
        self.mode_combo.addItems(["Waveform", "Spectrogram", "Both"])
        self.mode_combo.setCurrentIndex(VIEW_MODES.index(self._view_mode))
        self.mode_combo.setToolTip("Show waveforms, spectrograms or both")
        self.mode_combo.currentIndexChanged.connect(lambda i: self.set_view_mode(VIEW_MODES[i]))
        self.box_tool_button = QtWidgets.QToolButton(text="Box select", checkable=True)
        self.box_tool_button.setToolTip("Drag to select a time x frequency box (or hold Alt while dragging)")
        self.box_tool_button.toggled.connect(lambda on: self.set_tool("box" if on else "edit"))
        self.snap_button = QtWidgets.QToolButton(text="Snap", checkable=True, checked=self._snap_enabled)
        self.snap_button.setToolTip("Snap clip edges to other clips, the playhead and the grid")
        self.snap_button.toggled.connect(self.set_snap_enabled)
        toolbar = QtWidgets.QHBoxLayout()
        toolbar.setContentsMargins(4, 2, 4, 2)
        toolbar.addWidget(QtWidgets.QLabel("View:"))
        toolbar.addWidget(self.mode_combo)
        toolbar.addWidget(self.box_tool_button)
        toolbar.addWidget(self.snap_button)
        toolbar.addStretch(1)
        self._toolbar_layout = toolbar
        for widget in (self.mode_combo, self.box_tool_button, self.snap_button):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        scroll_extent = self.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent)

        def padded(widget: QtWidgets.QWidget, left: int) -> QtWidgets.QWidget:
            row = QtWidgets.QWidget()
            lay = QtWidgets.QHBoxLayout(row)
            lay.setContentsMargins(left, 0, scroll_extent, 0)
            lay.setSpacing(0)
            lay.addWidget(widget)
            return row

        self.ruler_viewbox = _TimelineViewBox(self, "ruler")
        self.ruler = _make_plot(self.ruler_viewbox, None, None)
        self.ruler.getPlotItem().setAxisItems({"top": TimeAxis("top")})
        self.ruler.getPlotItem().showAxis("top")
        self.ruler.setFixedHeight(RULER_HEIGHT_PX)
        self.ruler_viewbox.setYRange(0, 1, padding=0)
        self.ruler_playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_PEN, width=2))
        self.ruler_viewbox.addItem(self.ruler_playhead, ignoreBounds=True)
        self.ruler_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(SELECTION_BRUSH))
        self.ruler_region.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        for line in self.ruler_region.lines:
            line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.ruler_region.setVisible(False)
        self.ruler_viewbox.addItem(self.ruler_region, ignoreBounds=True)

        self._lanes_widget = QtWidgets.QWidget()
        self._lanes_layout = QtWidgets.QVBoxLayout(self._lanes_widget)
        self._lanes_layout.setContentsMargins(0, 0, 0, 0)
        self._lanes_layout.setSpacing(1)
        self._lanes_layout.addStretch(1)
        self.lanes_scroll = QtWidgets.QScrollArea()
        self.lanes_scroll.setWidgetResizable(True)
        self.lanes_scroll.setWidget(self._lanes_widget)
        self.lanes_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.lanes_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lanes_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)

        self.scrollbar = QtWidgets.QScrollBar(Qt.Orientation.Horizontal)
        self.scrollbar.valueChanged.connect(self._on_scrollbar_value_changed)

        self.overview_viewbox = _TimelineViewBox(self, "overview")
        self.overview = _make_plot(self.overview_viewbox, None, TimeAxis("bottom"))
        self.overview.setFixedHeight(OVERVIEW_HEIGHT_PX)
        self.overview_region = pg.LinearRegionItem(brush=pg.mkBrush(255, 255, 255, 40))
        self.overview_region.setZValue(20)
        self.overview_region.sigRegionChanged.connect(self._on_overview_region_changed)
        self.overview_viewbox.addItem(self.overview_region, ignoreBounds=True)
        self.overview_playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_PEN, width=1))
        self.overview_playhead.setZValue(30)
        self.overview_viewbox.addItem(self.overview_playhead, ignoreBounds=True)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(toolbar)
        layout.addWidget(padded(self.ruler, HEADER_WIDTH_PX))
        layout.addWidget(self.lanes_scroll, 1)
        layout.addWidget(padded(self.scrollbar, HEADER_WIDTH_PX + AXIS_WIDTH_PX))
        layout.addWidget(padded(self.overview, HEADER_WIDTH_PX))

    def _build_actions(self) -> None:
        def action(text: str, shortcuts, slot, tip: str = "") -> QtGui.QAction:
            act = QtGui.QAction(text, self)
            act.setShortcuts([QtGui.QKeySequence(s) for s in shortcuts])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(tip or text)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.zoom_in_action = action("Zoom in", ["+", "=", "Ctrl++", "Ctrl+="], self.zoom_in)
        self.zoom_out_action = action("Zoom out", ["-", "Ctrl+-"], self.zoom_out)
        self.zoom_fit_action = action("Zoom to fit", ["Ctrl+0"], self.zoom_to_fit)
        self.split_action = action("Split at playhead", ["S"], self.split_at_playhead)
        self.duplicate_action = action("Duplicate clip", ["Ctrl+D"], self.duplicate_selected)
        self.delete_action = action("Delete clip", ["Del", "Backspace"], self.delete_selected)
        self.snap_action = action("Snap", ["N"], lambda: self.set_snap_enabled(not self._snap_enabled))
        self.snap_action.setCheckable(True)
        self.snap_action.setChecked(self._snap_enabled)

    def timeline_actions(self) -> list[QtGui.QAction]:
        """The timeline's actions (with their shortcuts), for the main window's menus. Add these
        very objects to menus rather than new actions with the same keys (Qt would find the
        shortcut ambiguous and fire neither)."""
        return [
            self.zoom_in_action,
            self.zoom_out_action,
            self.zoom_fit_action,
            self.split_action,
            self.duplicate_action,
            self.delete_action,
            self.snap_action,
        ]

    # ================================================================= project wiring

    def _connect_project(self) -> None:
        events = self.project.events
        handlers = (
            (events.track_added, self._on_project_track_added),
            (events.track_removed, self._on_project_track_removed),
            (events.track_changed, self._on_project_track_changed),
            (events.clip_added, self._on_project_clip_added),
            (events.clip_removed, self._on_project_clip_removed),
            (events.clip_changed, self._on_project_clip_changed),
            (events.selection_changed, self._on_project_selection_changed),
            (events.playhead_moved, self._on_project_playhead_moved),
            (events.project_reset, self._on_project_reset),
        )
        for event, handler in handlers:
            event.connect(handler)
        # Disconnect when the widget goes away without keeping it alive from the model.
        pairs = [(event, handler) for event, handler in handlers]
        self.destroyed.connect(lambda *_: [event.disconnect(h) for event, h in pairs])
        self._event_pairs = pairs

    def shutdown(self) -> None:
        """Stop listening to the project and stop the spectrogram worker (waits for it)."""
        for event, handler in getattr(self, "_event_pairs", []):
            event.disconnect(handler)
        self._event_pairs = []
        for visuals in self._visuals.values():
            if visuals.job is not None:
                visuals.job.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(ev)

    def _rebuild(self) -> None:
        for lane in list(self._lanes):
            self._remove_lane(lane)
        self._update_scale()
        for track in self.project.tracks:
            self._on_project_track_added(track)
            for clip in track.clips:
                self._on_project_clip_added(track, clip)
        self._on_project_selection_changed(self.project.selection)
        self._on_project_playhead_moved(self.project.playhead_s)

    def _layout(self) -> LaneLayout:
        return LaneLayout(self._view_mode, self._scale)

    def _update_scale(self) -> None:
        """The frequency span covering every clip's spectrogram (0-10 kHz htk, Riffusion's, until
        one is known)."""
        spans = []
        for clip in self.project.clips():
            visuals = self._visuals.get(id(clip.audio))
            image = visuals.spectrogram if visuals is not None else None
            if image is not None:
                spans.append((image.f_min_hz, image.f_max_hz, image.mel_scale))
        if spans:
            scale = FrequencyScale(min(s[0] for s in spans), max(s[1] for s in spans), spans[0][2])
        else:
            scale = FrequencyScale()
        if scale != self._scale:
            self._scale = scale
            layout = self._layout()
            for lane in self._lanes:
                lane.apply_layout(layout)
                self._sync_selection_overlays(lane, self.project.selection)

    def _lane(self, track_id: str) -> _TrackLane | None:
        for lane in self._lanes:
            if lane.track_id == track_id:
                return lane
        return None

    def _on_project_track_added(self, track: Track) -> None:
        lane = _TrackLane(self, track, self._layout())
        index = self.project.tracks.index(track)
        self._lanes.insert(index, lane)
        self._lanes_layout.insertWidget(index, lane.row)
        lane.viewbox.setXRange(*self._view, padding=0.0)
        lane.playhead.setValue(self.project.playhead_s)
        self._sync_selection_overlays(lane, self.project.selection)
        self._apply_tool_cursor(lane)

    def _remove_lane(self, lane: _TrackLane) -> None:
        for clip_id in list(lane.clip_items):
            self._remove_clip_item(lane, clip_id)
        self._lanes.remove(lane)
        self._lanes_layout.removeWidget(lane.row)
        lane.row.setParent(None)
        lane.row.deleteLater()

    def _on_project_track_removed(self, track: Track) -> None:
        lane = self._lane(track.id)
        if lane is not None:
            self._remove_lane(lane)
        self._update_overview()

    def _on_project_track_changed(self, track: Track) -> None:
        lane = self._lane(track.id)
        if lane is not None:
            lane.header.sync(track)

    def _track_color(self, track_id: str) -> QtGui.QColor:
        ids = [t.id for t in self.project.tracks]
        index = ids.index(track_id) if track_id in ids else 0
        return QtGui.QColor(TRACK_COLORS[index % len(TRACK_COLORS)])

    def _visuals_for(self, clip: Clip) -> _Visuals:
        key = id(clip.audio)
        visuals = self._visuals.get(key)
        if visuals is not None and visuals.audio_ref() is clip.audio:
            return visuals
        visuals = _Visuals(audio_ref=weakref.ref(clip.audio))
        self._visuals[key] = visuals
        if clip.audio.size <= PYRAMID_SYNC_MAX_VALUES:
            visuals.pyramid = EnvelopePyramid(clip.audio)
        else:
            audio, computed = clip.audio, self._pyramid_computed

            def compute() -> None:  # worker thread; the result crosses back as a queued signal
                try:
                    pyramid = EnvelopePyramid(audio)
                except Exception:  # the clip stays without a waveform; nothing else breaks
                    log.exception("could not compute the waveform envelope of clip %r", clip.name)
                    return
                computed.emit(key, pyramid)

            self._executor.submit(compute)
        self._drop_dead_visuals()
        return visuals

    def _on_pyramid_computed(self, key: int, pyramid: EnvelopePyramid) -> None:
        visuals = self._visuals.get(key)
        if visuals is None or visuals.pyramid is not None:
            return
        visuals.pyramid = pyramid
        for item in self._items_showing(key):
            item.set_pyramid(pyramid)
        for item in self._overview_items.values():
            if item.audio_key == key:
                item.set_pyramid(pyramid)

    def _drop_dead_visuals(self) -> None:
        for key, visuals in list(self._visuals.items()):
            if visuals.audio_ref() is None:
                if visuals.job is not None:
                    visuals.job.cancel()
                del self._visuals[key]

    def _on_project_clip_added(self, track: Track, clip: Clip) -> None:
        lane = self._lane(track.id)
        if lane is None:
            return
        if clip.id in lane.clip_items:
            self._remove_clip_item(lane, clip.id)
        visuals = self._visuals_for(clip)
        item = ClipItem(clip, track.id, visuals.pyramid, lane.layout, self._track_color(track.id), handler=self)
        lane.clip_items[clip.id] = item
        lane.viewbox.addItem(item, ignoreBounds=True)
        item.set_selected(clip.id in self.project.selection.clip_ids)
        self._ensure_spectrogram(clip, visuals)
        item.set_spectrogram(visuals.spectrogram)
        for decorate in self._clip_decorators:
            decorate(item, clip)
        item.refresh_children()
        self._update_scale()
        self._update_overview()

    def _remove_clip_item(self, lane: _TrackLane, clip_id: str) -> None:
        item = lane.clip_items.pop(clip_id, None)
        if item is not None:
            item.detach()
            lane.viewbox.removeItem(item)

    def _on_project_clip_removed(self, track: Track, clip: Clip) -> None:
        lane = self._lane(track.id)
        if lane is not None:
            self._remove_clip_item(lane, clip.id)
        self._update_overview()

    def _on_project_clip_changed(self, clip: Clip) -> None:
        try:
            track, _ = self.project.find_clip(clip.id)
        except KeyError:
            return
        lane = self._lane(track.id)
        if lane is None:
            return
        item = lane.clip_items.get(clip.id)
        visuals = self._visuals_for(clip)
        if item is None or item.audio_key != id(clip.audio) or item.total_samples != clip.audio.shape[1]:
            self._on_project_clip_added(track, clip)  # new audio: new item
            return
        item.sync_from_clip(clip)
        self._update_overview()

    def _on_project_selection_changed(self, selection: Selection) -> None:
        for lane in self._lanes:
            self._sync_selection_overlays(lane, selection)
            lane.header.set_selected(selection.track_id == lane.track_id)
        if selection.has_time_range:
            self.ruler_region.setRegion((selection.start_s, selection.end_s))
        self.ruler_region.setVisible(selection.has_time_range)

    def _sync_selection_overlays(self, lane: _TrackLane, selection: Selection) -> None:
        for clip_id, item in lane.clip_items.items():
            item.set_selected(clip_id in selection.clip_ids)
        has_box = selection.has_time_range and selection.has_freq_band and selection.track_id == lane.track_id
        show_box = has_box and lane.layout.spectrogram_band is not None
        if show_box:
            y0 = self._scale.y_of_hz(max(selection.freq_lo_hz, self._scale.f_min_hz))
            y1 = self._scale.y_of_hz(min(selection.freq_hi_hz, self._scale.f_max_hz))
            lane.box.setRect(QtCore.QRectF(selection.start_s, y0, selection.end_s - selection.start_s, y1 - y0))
        lane.box.setVisible(show_box)
        show_region = selection.has_time_range and not has_box
        if show_region:
            lane.time_region.setRegion((selection.start_s, selection.end_s))
        lane.time_region.setVisible(show_region)

    def _on_project_playhead_moved(self, seconds: float) -> None:
        for lane in self._lanes:
            lane.playhead.setValue(seconds)
        self.ruler_playhead.setValue(seconds)
        self.overview_playhead.setValue(seconds)
        if self.follow_playhead and self._drag is None:
            start, end = self._view
            span = end - start
            if seconds > end or seconds < start:
                self.set_visible_range(max(0.0, seconds - 0.05 * span), max(0.0, seconds - 0.05 * span) + span)

    def _on_project_reset(self, project: Project) -> None:
        self._rebuild()
        self.zoom_to_fit()

    # ================================================================= spectrograms

    def _ensure_spectrogram(self, clip: Clip, visuals: _Visuals) -> None:
        if visuals.spectrogram is not None or visuals.job is not None:
            return
        job = SpectrogramJob(clip.audio, clip.sample_rate_hz, clip.spectrogram_preset)
        visuals.job = job
        token = (id(clip.audio), clip.id)
        progressed = self._spectrogram_progressed
        job.on_progress = lambda done: progressed.emit(token, done)  # worker thread -> queued
        self._executor.submit(job.run)

    def _items_showing(self, key: int) -> list[ClipItem]:
        """The lanes' items showing the audio array with this key."""
        return [item for lane in self._lanes for item in lane.clip_items.values() if item.audio_key == key]

    def _on_spectrogram_progressed(self, token: tuple[int, str], done: bool) -> None:
        key, clip_id = token
        visuals = self._visuals.get(key)
        if visuals is None or visuals.job is None:
            return
        job = visuals.job
        if done:
            visuals.job = None
            if job.error is not None:
                # Keep showing the waveform; say why in the lanes' tooltip.
                self.spectrogram_failed.emit(clip_id, job.error)
                return
            job.publish_levels()
        if job.image is None:
            return
        if visuals.spectrogram is None:
            visuals.spectrogram = job.image
            for item in self._items_showing(key):
                item.set_spectrogram(job.image)
            self._update_scale()
        visuals.spectrogram.notify()
        for item in self._items_showing(key):
            item.refresh_children()
        if done:
            self.spectrogram_computed.emit(clip_id)

    def spectrogram_pending(self) -> bool:
        """True while a spectrogram is still being computed."""
        return any(v.job is not None for v in self._visuals.values())

    # ================================================================= view range

    def visible_range(self) -> tuple[float, float]:
        """The time range shown, ``(start_s, end_s)``."""
        return self._view

    def _content_end_s(self) -> float:
        return max(self.project.duration_s, 1.0)

    def set_visible_range(self, start_s: float, end_s: float) -> None:
        """Show ``start_s .. end_s`` (clamped: span between 5 ms and 4 h, start >= 0)."""
        span = min(max(float(end_s) - float(start_s), MIN_VISIBLE_S), MAX_VISIBLE_S)
        start = max(0.0, float(start_s))
        end = start + span
        if self._syncing:
            return
        self._syncing = True
        try:
            self._view = (start, end)
            for lane in self._lanes:
                lane.viewbox.setXRange(start, end, padding=0.0)
            self.ruler_viewbox.setXRange(start, end, padding=0.0)
            self._update_overview_range()
            self.overview_region.setRegion((start, end))
            total = max(self._content_end_s() * 1.05, end)
            self.scrollbar.setRange(0, max(0, int(round((total - span) * 1000))))
            self.scrollbar.setPageStep(max(1, int(round(span * 1000))))
            self.scrollbar.setSingleStep(max(1, int(round(span * 100))))
            self.scrollbar.setValue(int(round(start * 1000)))
        finally:
            self._syncing = False
        self.view_range_changed.emit(start, end)

    def zoom(self, factor: float, anchor_s: float | None = None) -> None:
        """Zoom in by ``factor`` (> 1 in, < 1 out) keeping ``anchor_s`` (default the centre) in place."""
        start, end = self._view
        span = end - start
        if anchor_s is None:
            anchor_s = start + span / 2
        new_span = min(max(span / factor, MIN_VISIBLE_S), MAX_VISIBLE_S)
        fraction = (anchor_s - start) / span if span > 0 else 0.5
        new_start = anchor_s - fraction * new_span
        self.set_visible_range(new_start, new_start + new_span)

    def _key_zoom_anchor(self) -> float | None:
        start, end = self._view
        playhead = self.project.playhead_s
        return playhead if start <= playhead <= end else None

    def zoom_in(self) -> None:
        self.zoom(KEY_ZOOM_STEP, self._key_zoom_anchor())

    def zoom_out(self) -> None:
        self.zoom(1.0 / KEY_ZOOM_STEP, self._key_zoom_anchor())

    def zoom_to_fit(self) -> None:
        self.set_visible_range(0.0, self._content_end_s() * 1.02)

    def scroll_by(self, seconds: float) -> None:
        start, end = self._view
        self.set_visible_range(start + seconds, end + seconds)

    def _on_scrollbar_value_changed(self, value: int) -> None:
        if self._syncing:
            return
        start, end = self._view
        self.set_visible_range(value / 1000.0, value / 1000.0 + (end - start))

    def _on_overview_region_changed(self) -> None:
        if self._syncing:
            return
        lo, hi = self.overview_region.getRegion()
        self.set_visible_range(lo, hi)

    def _update_overview_range(self) -> None:
        total = max(self._content_end_s() * 1.02, self._view[1])
        self.overview_viewbox.setXRange(0.0, total, padding=0.0)

    def _update_overview(self) -> None:
        """Rebuild the overview's clip items (cheap: coarse envelopes)."""
        vb = self.overview_viewbox
        for item in self._overview_items.values():
            item.detach()
            vb.removeItem(item)
        self._overview_items.clear()
        layout = LaneLayout("waveform", self._scale)
        n = max(1, len(self.project.tracks))
        for index, track in enumerate(self.project.tracks):
            for clip in track.clips:
                visuals = self._visuals_for(clip)
                item = ClipItem(clip, track.id, visuals.pyramid, layout, self._track_color(track.id), handler=None)
                item.show_name = False
                item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                item.setAcceptHoverEvents(False)
                item.setTransform(QtGui.QTransform.fromTranslate(0, -(index + 1) * layout.height * 1.1))
                vb.addItem(item, ignoreBounds=True)
                self._overview_items[clip.id] = item
                item.refresh_children()
        vb.setYRange(-n * layout.height * 1.1, 0, padding=0.02)
        if not self._syncing:
            start, end = self._view
            self._syncing = True
            try:
                self._update_overview_range()
                total = max(self._content_end_s() * 1.05, end)
                self.scrollbar.setRange(0, max(0, int(round((total - (end - start)) * 1000))))
            finally:
                self._syncing = False

    # ================================================================= modes, tool, snapping

    @property
    def view_mode(self) -> str:
        return self._view_mode

    def set_view_mode(self, mode: str) -> None:
        """'waveform', 'spectrogram' or 'both'."""
        if mode not in VIEW_MODES:
            raise ValueError(f"view mode must be one of {VIEW_MODES}, got {mode!r}.")
        if mode == self._view_mode:
            return
        self._view_mode = mode
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(VIEW_MODES.index(mode))
        self.mode_combo.blockSignals(False)
        layout = self._layout()
        for lane in self._lanes:
            lane.apply_layout(layout)
            self._sync_selection_overlays(lane, self.project.selection)

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        """'edit' (drags move/trim clips, select time), 'box' (drags select time x frequency) or
        'mask' (drags and clicks go to ``mask_handler``)."""
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)}, got {tool!r}.")
        self._tool = tool
        self.box_tool_button.blockSignals(True)
        self.box_tool_button.setChecked(tool == "box")
        self.box_tool_button.blockSignals(False)
        for lane in self._lanes:
            self._apply_tool_cursor(lane)
        self.tool_changed.emit(tool)

    def _apply_tool_cursor(self, lane: _TrackLane) -> None:
        lane.plot.viewport().setCursor(Qt.CursorShape.CrossCursor if self._tool == "mask" else Qt.CursorShape.ArrowCursor)

    def add_clip_decorator(self, decorate) -> None:
        """Call ``decorate(clip_item, clip)`` for every clip item of the lanes, now and whenever
        one is created (a new clip, new audio, a track rebuilt)."""
        self._clip_decorators.append(decorate)
        for lane in self._lanes:
            for clip_id, item in lane.clip_items.items():
                try:
                    _, clip = self.project.find_clip(clip_id)
                except KeyError:
                    continue
                decorate(item, clip)

    @property
    def snap_enabled(self) -> bool:
        return self._snap_enabled

    def set_snap_enabled(self, enabled: bool) -> None:
        self._snap_enabled = bool(enabled)
        for widget in (self.snap_button, self.snap_action):
            widget.blockSignals(True)
            widget.setChecked(self._snap_enabled)
            widget.blockSignals(False)

    def _px_per_s(self) -> float:
        start, end = self._view
        width = self._lanes[0].viewbox.width() if self._lanes else self.ruler_viewbox.width()
        return max(width, 1.0) / (end - start)

    def grid_step_s(self) -> float:
        """Grid spacing for snapping: a 1-2-5 step at least GRID_MIN_PX wide."""
        return _nice_step(GRID_MIN_PX / self._px_per_s())

    def snap_candidates(self, exclude_clip_id: str | None) -> list[float]:
        times = [self.project.playhead_s, 0.0]
        for clip in self.project.clips():
            if clip.id != exclude_clip_id:
                times.extend((clip.start_s, clip.end_s))
        return times

    def snap_time(self, t: float, exclude_clip_id: str | None = None) -> float:
        """``t`` moved onto the nearest clip edge, the playhead or a grid line within SNAP_PX
        (unchanged when snapping is off or nothing is near)."""
        return t + self._snap_delta([t], exclude_clip_id)

    def _snap_delta(self, edges: list[float], exclude_clip_id: str | None) -> float:
        if not self._snap_enabled:
            return 0.0
        tolerance = SNAP_PX / self._px_per_s()
        step = self.grid_step_s()
        best: float | None = None
        candidates = self.snap_candidates(exclude_clip_id)
        for edge in edges:
            near = candidates + [round(edge / step) * step]
            for c in near:
                d = c - edge
                if abs(d) <= tolerance and (best is None or abs(d) < abs(best)):
                    best = d
        return 0.0 if best is None else best

    # ================================================================= gestures

    def _scene_to_time(self, viewbox: pg.ViewBox, scene_pos: QtCore.QPointF) -> float:
        return float(viewbox.mapSceneToView(scene_pos).x())

    def _lane_at_global(self, global_pos: QtCore.QPoint) -> _TrackLane | None:
        for lane in self._lanes:
            local = lane.plot.mapFromGlobal(global_pos)
            if 0 <= local.y() < lane.plot.height():
                return lane
        return None

    def _seek(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.project.set_playhead(seconds)
        self.seek_requested.emit(seconds)

    def _view_wheel_event(self, viewbox: _TimelineViewBox, ev) -> None:
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta == 0:
            ev.ignore()
            return
        notches = delta / 120.0
        modifiers = ev.modifiers()
        if modifiers & Qt.KeyboardModifier.ControlModifier or viewbox.role == "overview":
            anchor = self._scene_to_time(viewbox, ev.scenePos())
            self.zoom(ZOOM_STEP**notches, anchor)
        elif modifiers & Qt.KeyboardModifier.ShiftModifier and viewbox.role == "lane":
            ev.ignore()  # let the lanes' scroll area scroll tracks
            return
        else:
            start, end = self._view
            self.scroll_by(-notches * SCROLL_FRACTION * (end - start))
        ev.accept()

    def _view_click_event(self, viewbox: _TimelineViewBox, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if viewbox.role == "lane" and self._mask_mode():
            self._mask_gesture(viewbox.lane, ev, "click")
            return
        t = self._scene_to_time(viewbox, ev.scenePos())
        if viewbox.role == "overview":
            start, end = self._view
            span = end - start
            self.set_visible_range(t - span / 2, t + span / 2)
            return
        if viewbox.role == "lane" and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            anchor = self.project.playhead_s
            if abs(t - anchor) > 0:
                lo, hi = sorted((max(0.0, anchor), max(0.0, t)))
                self.project.set_selection(
                    self.project.selection.with_changes(
                        start_s=lo, end_s=hi, freq_lo_hz=None, freq_hi_hz=None, track_id=viewbox.lane.track_id
                    )
                )
            return
        if viewbox.role == "lane":
            self.project.set_selection(Selection(track_id=viewbox.lane.track_id))
        self.setFocus()
        self._seek(t)

    def _view_drag_event(self, viewbox: _TimelineViewBox, ev) -> None:
        button = ev.button()
        if button == Qt.MouseButton.MiddleButton:
            self._pan_drag(viewbox, ev)
            return
        if button != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if viewbox.role == "ruler":
            self._seek(self._scene_to_time(viewbox, ev.scenePos()))
            return
        if viewbox.role == "overview":
            t = self._scene_to_time(viewbox, ev.scenePos())
            start, end = self._view
            self.set_visible_range(t - (end - start) / 2, t + (end - start) / 2)
            return
        if self._mask_mode():
            phase = "start" if ev.isStart() else "finish" if ev.isFinish() else "move"
            self._mask_gesture(viewbox.lane, ev, phase)
            return
        if self._wants_box(ev):
            self._box_drag(viewbox.lane, ev)
        else:
            self._time_drag(viewbox.lane, ev)

    def _mask_mode(self) -> bool:
        return self._tool == "mask" and self.mask_handler is not None

    def _mask_gesture(self, lane: _TrackLane, ev, phase: str) -> None:
        """Hand a left-button gesture on ``lane`` to the mask handler as a MaskGesture."""
        vb = lane.viewbox
        band = lane.layout.spectrogram_band
        point = vb.mapSceneToView(ev.scenePos())
        down = vb.mapSceneToView(ev.buttonDownScenePos()) if phase != "click" else point
        base = band[0] if band is not None else 0.0
        in_band = band is not None and band[0] <= point.y() <= band[1]
        px = vb.viewPixelSize()
        gesture = MaskGesture(
            phase=phase,
            track_id=lane.track_id,
            time_s=float(point.x()),
            hz=self._scale.hz_of_y(point.y() - base),
            in_band=in_band,
            start_time_s=float(down.x()),
            start_hz=self._scale.hz_of_y(down.y() - base),
            s_per_px=float(px[0]),
            y_per_px=float(px[1]),
            modifiers=ev.modifiers(),
        )
        self.mask_handler.mask_gesture(gesture)

    def _wants_box(self, ev) -> bool:
        if self._view_mode == "waveform":
            return False
        return self._tool == "box" or bool(ev.modifiers() & Qt.KeyboardModifier.AltModifier)

    def _pan_drag(self, viewbox: _TimelineViewBox, ev) -> None:
        ev.accept()
        if ev.isStart():
            self._drag = {"kind": "pan", "view": self._view}
        if self._drag is None or self._drag.get("kind") != "pan":
            return
        # The content follows the pointer: shift the view by the pointer's last step in seconds.
        step_s = viewbox.mapSceneToView(ev.scenePos()).x() - viewbox.mapSceneToView(ev.lastScenePos()).x()
        s0, s1 = self._view
        self.set_visible_range(s0 - step_s, s1 - step_s)
        if ev.isFinish():
            self._drag = None

    def _time_drag(self, lane: _TrackLane, ev) -> None:
        t0 = max(0.0, self._scene_to_time(lane.viewbox, ev.buttonDownScenePos()))
        t1 = max(0.0, self._scene_to_time(lane.viewbox, ev.scenePos()))
        if ev.isStart():
            self._drag = {"kind": "time"}
        lo, hi = sorted((t0, t1))
        if hi - lo > 0:
            self.project.set_selection(
                self.project.selection.with_changes(
                    start_s=lo, end_s=hi, freq_lo_hz=None, freq_hi_hz=None, track_id=lane.track_id
                )
            )
        if ev.isFinish():
            self._drag = None

    def _box_drag(self, lane: _TrackLane, ev) -> None:
        p0 = lane.viewbox.mapSceneToView(ev.buttonDownScenePos())
        p1 = lane.viewbox.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._drag = {"kind": "box"}
        lo_t, hi_t = sorted((max(0.0, p0.x()), max(0.0, p1.x())))
        band = lane.layout.spectrogram_band
        y_lo, y_hi = sorted((p0.y(), p1.y()))
        y_lo, y_hi = max(y_lo, band[0]), min(y_hi, band[1])
        f_lo = self._scale.hz_of_y(y_lo - band[0])
        f_hi = self._scale.hz_of_y(y_hi - band[0])
        if hi_t > lo_t and f_hi > f_lo:
            self.project.set_selection(
                self.project.selection.with_changes(
                    start_s=lo_t, end_s=hi_t, freq_lo_hz=f_lo, freq_hi_hz=f_hi, track_id=lane.track_id
                )
            )
        if ev.isFinish():
            self._drag = None

    # -- clip gestures (called by ClipItem) ------------------------------------------------------

    def clip_hover(self, item: ClipItem, zone: str | None) -> None:
        pass

    def clip_click_event(self, item: ClipItem, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if self._mask_mode():
            lane = self._lane(item.track_id)
            if lane is not None:
                self._mask_gesture(lane, ev, "click")
            return
        if ev.double():
            self.clip_activated.emit(item.clip_id)
            return
        lane = self._lane(item.track_id)
        modifiers = ev.modifiers()
        selection = self.project.selection
        if modifiers & Qt.KeyboardModifier.ShiftModifier and lane is not None:
            self._view_click_event(lane.viewbox, ev)
            return
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            ids = set(selection.clip_ids) ^ {item.clip_id}
        else:
            ids = {item.clip_id}
        self.project.set_selection(selection.with_changes(clip_ids=frozenset(ids), track_id=item.track_id))
        self.setFocus()
        if lane is not None:
            self._seek(self._scene_to_time(lane.viewbox, ev.scenePos()))

    def clip_drag_event(self, item: ClipItem, ev) -> None:
        lane = self._lane(item.track_id)
        if lane is None or ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart() and self._mask_mode():
            ev.ignore()  # the lane's view box takes it and hands it to the mask handler
            return
        if ev.isStart() and (self._wants_box(ev) or ev.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            ev.ignore()  # the lane's view box takes it: time or box selection over the clip
            return
        ev.accept()
        t_down = self._scene_to_time(lane.viewbox, ev.buttonDownScenePos())
        t_now = self._scene_to_time(lane.viewbox, ev.scenePos())
        if ev.isStart():
            _, clip = self.project.find_clip(item.clip_id)
            zone = item.zone_at(t_down - item.start_s)
            self._drag = {
                "kind": {"body": "move", "left": "trim-left", "right": "trim-right"}[zone],
                "item": item,
                "start_s": clip.start_s,
                "offset_s": clip.offset_s,
                "length_s": clip.length_s,
                "total_s": clip.total_s,
                "min_len_s": max(1.0 / clip.sample_rate_hz, 0.001),
                "target": lane,
            }
            if item.clip_id not in self.project.selection.clip_ids:
                self.project.set_selection(
                    self.project.selection.with_changes(clip_ids=frozenset({item.clip_id}), track_id=item.track_id)
                )
        drag = self._drag
        if drag is None or drag.get("item") is not item:
            return
        delta = t_now - t_down
        preview = self._clip_drag_geometry(drag, delta)
        item.set_geometry(*preview)
        if drag["kind"] == "move" and self._outside_window(ev.screenPos()):
            # Dragged out of the timeline: the clip leaves as a WAV file (file managers, DAWs)
            # instead of moving. The internal move is abandoned; the model never changed.
            for other in self._lanes:
                other.ghost.setVisible(False)
            self._drag = None
            item.set_geometry(drag["start_s"], drag["offset_s"], drag["length_s"])
            QtCore.QTimer.singleShot(0, lambda clip_id=item.clip_id: self.start_clip_drag_out(clip_id))
            return
        if drag["kind"] == "move":
            screen = ev.screenPos()
            target = self._lane_at_global(QtCore.QPoint(int(screen.x()), int(screen.y()))) or drag["target"]
            for other in self._lanes:
                other.ghost.setVisible(False)
            if target is not None and target is not lane:
                y0, y1 = target.layout.y_range
                target.ghost.setRect(QtCore.QRectF(preview[0], y0, preview[2], y1 - y0))
                target.ghost.setVisible(True)
            drag["target"] = target or lane
        if ev.isFinish():
            for other in self._lanes:
                other.ghost.setVisible(False)
            self._drag = None
            self._commit_clip_drag(item, drag, preview)

    def _outside_window(self, screen_pos: QtCore.QPointF) -> bool:
        point = QtCore.QPoint(int(screen_pos.x()), int(screen_pos.y()))
        return not self.rect().contains(self.mapFromGlobal(point))

    def start_clip_drag_out(self, clip_id: str) -> Qt.DropAction | None:
        """Start a system drag carrying the clip as a WAV file (see ``app.io_actions.clip_drag_mime``).

        Returns the drop action (``None`` if the clip is gone or the file could not be written)."""
        from app.io_actions import clip_drag_mime

        if not self.project.has_clip(clip_id):
            return None
        _, clip = self.project.find_clip(clip_id)
        try:
            mime = clip_drag_mime(clip)
        except Exception as exc:  # disk full, permissions: say so, lose nothing
            log.warning("could not write %s for dragging: %s", clip.name, exc)
            self.drag_out_failed.emit(f"Could not drag {clip.name} out: {exc}")
            return None
        drag = QtGui.QDrag(self)
        drag.setMimeData(mime)
        self.clip_dragged_out.emit(clip_id, mime.urls()[0].toLocalFile())
        return drag.exec(Qt.DropAction.CopyAction)

    def _clip_drag_geometry(self, drag: dict[str, Any], delta: float) -> tuple[float, float, float]:
        """(start_s, offset_s, length_s) the dragged clip would have, snapped and clamped."""
        start, offset, length = drag["start_s"], drag["offset_s"], drag["length_s"]
        clip_id = drag["item"].clip_id
        kind = drag["kind"]
        if kind == "move":
            new_start = max(0.0, start + delta)
            new_start += self._snap_delta([new_start, new_start + length], clip_id)
            return max(0.0, new_start), offset, length
        if kind == "trim-left":
            d = delta
            edge = start + d
            edge += self._snap_delta([edge], clip_id)
            d = edge - start
            d = max(d, -offset, -start)  # not before the audio's first sample nor time 0
            d = min(d, length - drag["min_len_s"])
            return start + d, offset + d, length - d
        # trim-right
        end = start + length + delta
        end += self._snap_delta([end], clip_id)
        new_length = min(max(end - start, drag["min_len_s"]), drag["total_s"] - offset)
        return start, offset, new_length

    def _commit_clip_drag(self, item: ClipItem, drag: dict[str, Any], geometry: tuple[float, float, float]) -> None:
        start, offset, length = geometry
        clip_id = item.clip_id
        try:
            _, clip = self.project.find_clip(clip_id)
        except KeyError:
            return
        command = None
        if drag["kind"] == "move":
            target = drag["target"]
            new_track = target.track_id if target is not None and target.track_id != item.track_id else None
            if new_track is not None or abs(start - clip.start_s) > 1e-9:
                command = MoveClip(self.project, clip_id, start, new_track)
        else:
            full = abs(offset + length - clip.total_s) < 0.5 / clip.sample_rate_hz
            duration = None if full else length
            if abs(offset - clip.offset_s) > 1e-9 or duration != clip.duration_s:
                command = TrimClip(self.project, clip_id, offset, duration, start_s=start)
        if command is None:
            item.sync_from_clip(clip)
            return
        # One drag is one undo step: a group (merge id -1) keeps MoveClip/TrimClip from merging
        # with the previous drag of the same clip.
        command = CommandGroup(self.project, command.text, [command])
        try:
            self.undo_stack.push_command(command)
        except ValueError:
            item.sync_from_clip(clip)
            raise

    # ================================================================= edit actions

    def _target_clips(self, at_s: float | None = None) -> list[Clip]:
        """Selected clips; with none selected, the clips under ``at_s`` on the selected track
        (on every track when no track is selected)."""
        clips = self.project.selected_clips()
        if clips or at_s is None:
            return clips
        track_id = self.project.selection.track_id
        return [
            c
            for t in self.project.tracks
            if track_id is None or t.id == track_id
            for c in t.clips
            if c.start_s < at_s < c.end_s
        ]

    def _push_group(self, text: str, commands: list) -> None:
        if not commands:
            return
        command = commands[0] if len(commands) == 1 else CommandGroup(self.project, text, commands)
        self.undo_stack.push_command(command)

    def split_at_playhead(self) -> None:
        """Split the selected clips (or the clips under the playhead) at the playhead."""
        at = self.project.playhead_s
        clips = [c for c in self._target_clips(at) if c.start_s < at < c.end_s]
        self._push_group("Split clips", [SplitClip(self.project, c.id, at) for c in clips])

    def duplicate_selected(self) -> None:
        """Duplicate the selected clips (each right after itself); the copies become selected."""
        commands = [DuplicateClip(self.project, c.id) for c in self.project.selected_clips()]
        self._push_group("Duplicate clips", commands)
        if commands:
            ids = frozenset(cmd.copy.id for cmd in commands)
            self.project.set_selection(self.project.selection.with_changes(clip_ids=ids))

    def delete_selected(self) -> None:
        """Delete the selected clips."""
        commands = [RemoveClip(self.project, c.id) for c in self.project.selected_clips()]
        self._push_group("Delete clips", commands)

    def _set_track_property(self, track_id: str, name: str, value: Any) -> None:
        from app.model.commands import SetTrackProperty

        track = self.project.track(track_id)
        if getattr(track, name) != value:
            self.undo_stack.push_command(SetTrackProperty(self.project, track_id, name, value))

    def _select_track(self, track_id: str) -> None:
        self.project.set_selection(self.project.selection.with_changes(track_id=track_id))

    # ================================================================= introspection (tests, tools)

    def lane_count(self) -> int:
        return len(self._lanes)

    def clip_item(self, clip_id: str) -> ClipItem | None:
        for lane in self._lanes:
            if clip_id in lane.clip_items:
                return lane.clip_items[clip_id]
        return None

    def lane_for_track(self, track_id: str) -> _TrackLane | None:
        return self._lane(track_id)

    def lanes(self) -> list[_TrackLane]:
        return list(self._lanes)

    @property
    def frequency_scale(self) -> FrequencyScale:
        return self._scale

    def overview_range(self) -> tuple[float, float]:
        lo, hi = self.overview_region.getRegion()
        return float(lo), float(hi)

    def set_overview_range(self, start_s: float, end_s: float) -> None:
        """Move the overview's region (as dragging it does); the detail view follows."""
        self.overview_region.setRegion((start_s, end_s))

    def clip_ids_shown(self) -> set[str]:
        return {cid for lane in self._lanes for cid in lane.clip_items}
