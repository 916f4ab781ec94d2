"""QtTimeline: tracks of clips with waveforms and spectrograms, zoom/scroll/overview, selections and
clip editing through undo commands.

The view holds ``project`` and ``undo_stack`` and listens to ``project.events``; it never edits the
model except through commands (move, trim, split, duplicate, delete) and the two non-undoable
setters (selection, playhead). Spectrogram images are computed on a worker thread
(:mod:`app.widgets.timeline.visuals`) and arrive by a signal; until then the waveform shows.

The widget is put together here from the seams in :mod:`app.widgets.timeline`: lanes and their
headers, the visuals cache, the viewport (zoom, scroll), snapping, gestures (see
:mod:`app.widgets.timeline.gestures` for what each mouse gesture does) and edit actions (keys:
+/- zoom, S split at the playhead, Ctrl+D duplicate, Del delete).

Tool "mask": left drags and clicks on a lane (over clips or not) become :class:`MaskGesture` values
handed to ``mask_handler.mask_gesture(gesture)`` (the mask painter of app/widgets/qt_mask_tools.py);
the timeline itself knows nothing about masks. ``add_clip_decorator(fn)`` lets a tool add children
(the mask overlay) to every clip item the lanes create.
"""

from __future__ import annotations

import time
from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from app.model.project import Clip, Project, Selection, Track
from app.plot_items.axes import FrequencyScale, TimeAxis
from app.plot_items.clip_item import VIEW_MODES, ClipItem, LaneLayout
from app.plot_items.envelope import EnvelopePyramid
from app.plot_items.spectrogram_item import (
    COLORMAP_NAME,
    COLORMAPS,
    DISPLAY_RANGE_DB,
    MIN_SHOWN_RANGE_DB,
    SpectrogramImage,
    spectrogram_lut,
)
from app.widgets.flow_layout import FlowLayout
from app.widgets.spin_boxes import SpinBox
from app.widgets.timeline.edit_actions import EditActionsMixin
from app.widgets.timeline.gestures import GesturesMixin, MaskGesture
from app.widgets.timeline.lanes import (
    AXIS_WIDTH_PX,
    PLAYHEAD_PEN,
    SELECTION_BRUSH,
    TRACK_COLORS,
    TimelineViewBox,
    TrackLane,
    make_plot,
)
from app.widgets.timeline.overview import TimelineOverview
from app.widgets.timeline.snapping import SnappingMixin
from app.widgets.timeline.track_header import COMPACT_BELOW_PX, compact_header_width_px, header_width_px
from app.widgets.timeline.viewport import DEFAULT_VISIBLE_S, ViewportMixin
from app.widgets.timeline.visuals import VisualsCache, prepare_pyramids

__all__ = ["QtTimeline", "MaskGesture", "TOOLS"]

#: What the lanes say while the project has no clips.
EMPTY_HINT = ("No sound yet. Type a prompt in the Prompt panel and press Generate (Ctrl+Enter), "
              "or drop audio files here (File > Import…, Ctrl+I).")

RULER_HEIGHT_PX = 30
TOOLS = ("edit", "box", "mask")
#: A clip gets its detailed item (waveform, spectrogram, overlays) while it is in view and at least
#: DETAIL_MIN_PX wide on screen; narrower ones are blocks on their lane's ClipsLayer.
DETAIL_MIN_PX = 10.0
#: Detailed items are made in batches: at least DETAIL_MIN_BATCH, then until DETAIL_BATCH_MS have
#: passed, one batch per event-loop turn (no GUI stall over ~100 ms however many are due). One
#: turn of the loop may run two batches, a spectrogram batch and a paint back to back: at 25 ms a
#: batch, opening 100 clips stalled 107-124 ms wall (98-116 ms CPU) on a quiet machine; at 10 ms,
#: 58-76 ms.
DETAIL_MIN_BATCH = 1
DETAIL_BATCH_MS = 10.0
#: ... and never more than DETAIL_MAX_BATCH items in one turn (a bound that holds on any machine).
DETAIL_MAX_BATCH = 16
#: A new document's lanes are brought in line with its tracks one step per event-loop turn: one
#: lane made (20-30 ms: its plot, axis and header) or given to a track (its blocks and labels), or
#: up to LANE_CLEAR_BATCH detailed items of the old document taken off a lane about to be reused,
#: or one lane no track needs dropped. The swap itself only hides the old lanes and fills the
#: overview, so no turn of an open stalls the GUI however many tracks and clips come.
LANE_CLEAR_BATCH = 16
#: A spectrogram that arrives is given to the detailed items showing its audio this many per
#: event-loop turn (1-2 ms each: a loop chopped into slices puts one audio under every item in
#: view, 26 of them took 40 ms in one turn); ``spectrogram_computed`` waits for the last of them.
SPECTROGRAM_BATCH = 8


def _stack_z(seq: int) -> float:
    """z of a detailed clip item: later (added or changed) clips on top, all between 1 and 2."""
    return 1.0 + min(seq, 999_999) / 1_000_000

#: The view row's spectrogram controls (greyed, with a reason, while only waveforms show).
COLOURS_TIP = "Spectrogram colours"
RANGE_TIP = "Spectrogram range: how many dB below full scale are shown (quieter is dark)"


class QtTimeline(ViewportMixin, SnappingMixin, GesturesMixin, EditActionsMixin, QtWidgets.QWidget):
    """The timeline view of a :class:`~app.model.project.Project`.

    Args:
        project: the document (held, listened to; edited only through commands).
        undo_stack: an :class:`app.undo.UndoStack`; edits are pushed with ``push_command``.

    Signals:
        clip_activated(str clip_id): a clip was double-clicked.
        seek_requested(float seconds): the user clicked or scrubbed to a time (the project's
            playhead has already moved there).
        view_range_changed(float start_s, float end_s): the visible time range changed.
        spectrogram_computed(str clip_id): a clip's spectrogram image is complete (and every item
            showing its audio has it; see SPECTROGRAM_BATCH).
        spectrogram_failed(str clip_id, str reason): it could not be computed (the waveform stays).
        tool_changed(str tool): "edit", "box" or "mask".
        spectrogram_style_changed(str colormap, float range_db): the spectrograms' colours changed.
        nothing_to_do(str why): a clip or track action (split, duplicate, delete, rename, move)
            had nothing to act on; says what to select first.
        rebuild_progressed(int done, int total): detailed clip items made so far (after a new
            document or a big zoom change); rebuild_finished(): all of them
            (see :meth:`rebuild_pending`). After a new document the overview shows every clip at
            once and the lanes come one per event-loop turn; every clip of a lane shows as a
            block until its detailed item is made.
    """

    clip_activated = Signal(str)
    seek_requested = Signal(float)
    view_range_changed = Signal(float, float)
    spectrogram_computed = Signal(str)
    spectrogram_failed = Signal(str, str)
    tool_changed = Signal(str)
    clip_dragged_out = Signal(str, str)  # clip id, path of the WAV file the drag carries
    drag_out_failed = Signal(str)
    nothing_to_do = Signal(str)
    spectrogram_style_changed = Signal(str, float)  # colour map, range in dB
    rebuild_progressed = Signal(int, int)  # detailed clip items made, to make
    rebuild_finished = Signal()

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
        self._lanes: list[TrackLane] = []
        self._lanes_by_id: dict[str, TrackLane] = {}
        self._track_colors: dict[str, QtGui.QColor] = {}
        #: Lane items by audio array (id) and clip id: who shows a spectrogram when it arrives.
        self._key_items: dict[int, dict[str, ClipItem]] = {}
        self._seq = 0  # stacking sequence of clip blocks and items
        self._details_scheduled = False
        self._details_total = 0
        self._rebuilding = False
        #: Lanes of an earlier document not given to a track yet (hidden), and whether lanes are
        #: still to be brought in line with the tracks (see LANE_CLEAR_BATCH).
        self._spare_lanes: list[TrackLane] = []
        self._lanes_pending = False
        self._lane_timer = QtCore.QTimer(self)  # a child: it dies with the widget, never fires after
        self._lane_timer.setSingleShot(True)
        self._lane_timer.setInterval(0)
        self._lane_timer.timeout.connect(self._on_lane_timer)
        #: Items still to be given their audio's spectrogram, (audio key, clip id) in arrival
        #: order, and the finished spectrograms (key -> clip ids) told once those are given.
        self._spectrograms_due: dict[tuple[int, str], None] = {}
        self._finished_due: dict[int, list[str]] = {}
        self._spectrogram_timer = QtCore.QTimer(self)
        self._spectrogram_timer.setSingleShot(True)
        self._spectrogram_timer.setInterval(0)
        self._spectrogram_timer.timeout.connect(self._give_spectrograms)
        self.visuals = VisualsCache(self)
        self._spectrogram_style = (COLORMAP_NAME, DISPLAY_RANGE_DB)
        self._spectrogram_lut = spectrogram_lut(*self._spectrogram_style)
        self._drag: dict[str, Any] | None = None
        self._clip_decorators: list = []
        #: Receives MaskGesture values while the "mask" tool is on (see app/widgets/qt_mask_tools.py).
        self.mask_handler: Any = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.visuals.pyramid_ready.connect(self._on_visuals_pyramid_ready)
        self.visuals.spectrogram_started.connect(self._on_visuals_spectrogram_started)
        self.visuals.spectrogram_updated.connect(self._on_visuals_spectrogram_updated)
        self.visuals.spectrogram_finished.connect(self._on_visuals_spectrogram_finished)
        self.visuals.spectrogram_failed.connect(self.spectrogram_failed)
        self._build_ui()
        self._build_actions()
        self._connect_project()
        self._rebuild()
        self._finish_lanes()  # a new widget shows its project's lanes from the start
        self._show_empty_hint()
        self.set_visible_range(0.0, DEFAULT_VISIBLE_S)

    # ================================================================= construction

    def _build_ui(self) -> None:
        self.header_width = header_width_px()
        #: Whether the track headers are compact (a timeline under COMPACT_BELOW_PX wide).
        self.compact_headers = False
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
        # The view row wraps onto a second row in a narrow window instead of setting the window's
        # minimum width (it alone held the centre at 540 px); each label stays with its field.
        toolbar_row = QtWidgets.QWidget()
        toolbar = FlowLayout(toolbar_row)
        toolbar.setContentsMargins(4, 2, 4, 2)

        def labelled(text: str, field: QtWidgets.QWidget) -> QtWidgets.QWidget:
            pair = QtWidgets.QWidget()
            pair_layout = QtWidgets.QHBoxLayout(pair)
            pair_layout.setContentsMargins(0, 0, 0, 0)
            pair_layout.setSpacing(4)
            pair_layout.addWidget(QtWidgets.QLabel(text, buddy=field))
            pair_layout.addWidget(field)
            return pair

        toolbar.addWidget(labelled("View:", self.mode_combo))
        toolbar.addWidget(self.box_tool_button)
        toolbar.addWidget(self.snap_button)
        self.colormap_combo = QtWidgets.QComboBox(toolTip=COLOURS_TIP)
        for name, label in COLORMAPS.items():
            self.colormap_combo.addItem(label, name)
        self.colormap_combo.setCurrentIndex(self.colormap_combo.findData(self._spectrogram_style[0]))
        self.colormap_combo.currentIndexChanged.connect(
            lambda i: self.set_spectrogram_style(self.colormap_combo.itemData(i), self._spectrogram_style[1])
        )
        self.range_spin = SpinBox(
            minimum=int(MIN_SHOWN_RANGE_DB), maximum=int(DISPLAY_RANGE_DB), singleStep=5, suffix=" dB",
            toolTip=RANGE_TIP,
        )
        self.range_spin.setValue(int(self._spectrogram_style[1]))
        self.range_spin.valueChanged.connect(lambda v: self.set_spectrogram_style(self._spectrogram_style[0], float(v)))
        toolbar.addWidget(labelled("Colours:", self.colormap_combo))
        toolbar.addWidget(labelled("Range:", self.range_spin))
        self._toolbar_layout = toolbar
        for widget in (self.mode_combo, self.box_tool_button, self.snap_button, self.colormap_combo):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        scroll_extent = self.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent)

        def padded(widget: QtWidgets.QWidget, left: int) -> QtWidgets.QWidget:
            row = QtWidgets.QWidget()
            lay = QtWidgets.QHBoxLayout(row)
            lay.setContentsMargins(left, 0, scroll_extent, 0)
            lay.setSpacing(0)
            lay.addWidget(widget)
            return row

        self.ruler_viewbox = TimelineViewBox(self, "ruler")
        self.ruler = make_plot(self.ruler_viewbox, None, None)
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
        # An empty project said nothing: a black lane, and no word of how sound gets in.
        self.empty_hint = QtWidgets.QLabel(EMPTY_HINT)
        self.empty_hint.setObjectName("hintLabel")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setContentsMargins(12, 24, 12, 12)
        self._lanes_layout.addWidget(self.empty_hint)
        self._lanes_layout.addStretch(1)
        self.lanes_scroll = QtWidgets.QScrollArea()
        self.lanes_scroll.setWidgetResizable(True)
        self.lanes_scroll.setWidget(self._lanes_widget)
        self.lanes_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.lanes_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lanes_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)

        self.scrollbar = QtWidgets.QScrollBar(Qt.Orientation.Horizontal)
        self.scrollbar.valueChanged.connect(self._on_scrollbar_value_changed)

        self._overview = TimelineOverview(self)
        self.overview_viewbox = self._overview.viewbox
        self.overview = self._overview.plot
        self.overview_region = self._overview.region
        self.overview_region.sigRegionChanged.connect(self._on_overview_region_changed)
        self.overview_playhead = self._overview.playhead

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(toolbar_row)
        ruler_row = padded(self.ruler, self.header_width)
        scrollbar_row = padded(self.scrollbar, self.header_width + AXIS_WIDTH_PX)
        overview_row = padded(self.overview, self.header_width)
        #: The rows set off by the headers' width, and by how much more than it.
        self._header_gaps = ((ruler_row, 0), (scrollbar_row, AXIS_WIDTH_PX), (overview_row, 0))
        layout.addWidget(ruler_row)
        layout.addWidget(self.lanes_scroll, 1)
        layout.addWidget(scrollbar_row)
        layout.addWidget(overview_row)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._set_compact_headers(self.width() < COMPACT_BELOW_PX)

    def _set_compact_headers(self, compact: bool) -> None:
        """Narrow (compact) or wide track headers, and the ruler, scroll bar and overview set off
        to match."""
        if compact == self.compact_headers:
            return
        self.compact_headers = compact
        self.header_width = compact_header_width_px() if compact else header_width_px()
        for lane in [*self._lanes, *self._spare_lanes]:
            lane.header.set_compact(compact, self.header_width)
        for row, extra in self._header_gaps:
            margins = row.layout().contentsMargins()
            row.layout().setContentsMargins(self.header_width + extra, 0, margins.right(), 0)


    # ================================================================= project wiring

    def _connect_project(self) -> None:
        events = self.project.events
        handlers = (
            (events.track_added, self._on_project_track_added),
            (events.track_removed, self._on_project_track_removed),
            (events.track_changed, self._on_project_track_changed),
            (events.track_moved, self._on_project_track_moved),
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
        self._lane_timer.stop()
        self._spectrogram_timer.stop()
        self._lanes_pending = self._details_scheduled = False  # what was still to draw is dropped
        self._spectrograms_due.clear()
        self._finished_due.clear()
        self.visuals.shutdown()

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(ev)

    @staticmethod
    def prepare(project: Project, progress=None) -> Any:
        """Any thread: what drawing ``project`` needs that can be computed ahead (the waveform
        envelopes of its audio). ``progress(done, total)`` is called as it goes. Hand the result to
        :meth:`adopt` on the GUI thread before the project is swapped in."""
        return prepare_pyramids(project.clips(), progress)

    def adopt(self, prepared: Any) -> None:
        """Take what :meth:`prepare` computed (GUI thread)."""
        self.visuals.adopt(prepared)

    def _rebuild(self) -> None:
        """Show the project's document afresh (a new one was swapped in). In this call only what
        is cheap: the old lanes are hidden (kept, to be given to the new tracks: a lane's plot is
        costly to make), the overview gets every clip as a block, the extent and view follow.
        The lanes come afterwards, one step per event-loop turn (:meth:`_lane_step`), then the
        detailed items of the clips in view in batches (:meth:`_sync_details`), so opening a big
        project never stalls the GUI. A rebuild still under way when another document comes is
        simply overtaken: every step works from the project as it is then."""
        for lane in self._lanes:
            for clip_id, item in lane.clip_items.items():
                self._forget_item(clip_id, item)  # bookkeeping now; off the scene with the lane's next use
            lane.stale_items.extend(lane.clip_items.values())
            lane.clip_items.clear()
            lane.layer.clear()
            lane.row.hide()
            self._spare_lanes.append(lane)
        self._lanes.clear()
        self._lanes_by_id.clear()
        self._overview.clear()
        self._track_colors.clear()
        for index, track in enumerate(self.project.tracks):
            self._new_track_color(track.id, index)
        self._place_overview_rows()
        for track in self.project.tracks:
            entries = []
            for clip in track.clips:  # blocks only, in one go per track
                self._seq += 1
                entries.append((clip, self._seq))
            self._overview.set_clips(track.id, entries)
        self._update_scale()
        self._update_extent()
        self._details_total = 0
        self._rebuilding = True
        self._lanes_pending = True
        self._lane_timer.start()
        self._on_project_selection_changed(self.project.selection)
        self._on_project_playhead_moved(self.project.playhead_s)

    def rebuild_pending(self) -> bool:
        """True while a new document's lanes or detailed clip items are still being made (after a
        new document or a big zoom change); the overview shows every clip meanwhile."""
        return self._lanes_pending or self._details_scheduled

    def _on_lane_timer(self) -> None:
        if not self._lanes_pending or not self._event_pairs:  # overtaken, or after shutdown()
            return
        if self._lane_step():
            self._lane_timer.start()  # the next step on the next event-loop turn
        else:
            self._lanes_done()

    def _finish_lanes(self) -> None:
        """Take every lane step now (a new widget; a caller that needs a clip's item at once)."""
        self._lane_timer.stop()
        while self._lanes_pending:
            if not self._lane_step():
                self._lanes_done()

    def _lane_step(self) -> bool:
        """One bounded step towards a lane for each track, in the tracks' order (see
        LANE_CLEAR_BATCH). False when the lanes match the tracks and no spare lane is left."""
        track = next((t for t in self.project.tracks if t.id not in self._lanes_by_id), None)
        if track is None:
            if not self._spare_lanes:
                return False
            self._remove_lane(self._spare_lanes.pop(0))
            return True
        if self._spare_lanes:
            lane = self._spare_lanes[0]
            if lane.stale_items:
                batch, lane.stale_items = lane.stale_items[:LANE_CLEAR_BATCH], lane.stale_items[LANE_CLEAR_BATCH:]
                for item in batch:
                    lane.viewbox.removeItem(item)
                return True
            self._spare_lanes.pop(0)
            lane.retarget(track, self._track_color(track.id))
            lane.apply_layout(self._layout())
            self._insert_lane(lane)
            self._setup_lane(lane)
        else:
            lane = self._add_lane(track)
        row = self._overview.rows.get(track.id)
        lane.layer.set_blocks(list(row.blocks.values()) if row is not None else [])
        self._relabel(lane)
        lane.row.show()
        return True

    def _lanes_done(self) -> None:
        """Every track has its lane: the selection shows on them, the detailed items come next."""
        self._lanes_pending = False
        self._update_scale()
        self._update_extent()
        self._on_project_selection_changed(self.project.selection)
        self._rebuilding = True
        self._details_scheduled = False
        self._schedule_details()

    # ================================================================= detail (what is in view)

    def _wants_detail(self, clip: Clip, lo: float, hi: float, px_per_s: float, min_px: float) -> bool:
        return clip.start_s < hi and clip.end_s > lo and clip.length_s * px_per_s >= min_px

    def _sync_details(self) -> None:
        """Give the clips in view (and wide enough on screen) their detailed items and take them
        from clips far out of view or too narrow: at least DETAIL_MIN_BATCH per call, then until
        DETAIL_BATCH_MS have passed; the rest on the next event-loop turn."""
        self._details_scheduled = False
        start, end = self._view
        span = end - start
        px_per_s = self._px_per_s()
        keep_lo, keep_hi = start - span, end + span
        dragged = self._drag.get("item") if self._drag else None
        wanted: list[tuple[TrackLane, Clip]] = []
        for lane in self._lanes:
            for clip_id, item in list(lane.clip_items.items()):
                clip = lane.layer.blocks.get(clip_id, (None,))[0]
                if item is dragged:
                    continue
                if clip is None or not self._wants_detail(clip, keep_lo, keep_hi, px_per_s, DETAIL_MIN_PX / 2):
                    self._remove_clip_item(lane, clip_id)
            for clip_id, (clip, _) in lane.layer.blocks.items():
                if clip_id not in lane.clip_items and self._wants_detail(clip, start, end, px_per_s, DETAIL_MIN_PX):
                    wanted.append((lane, clip))
        if not wanted:
            self._details_done()
            return
        self._details_total = max(self._details_total, len(wanted))
        t0 = time.perf_counter()
        made = 0
        for lane, clip in wanted:
            if made >= DETAIL_MAX_BATCH or (
                made >= DETAIL_MIN_BATCH and (time.perf_counter() - t0) * 1000 >= DETAIL_BATCH_MS
            ):
                break
            self._add_clip_item(lane, clip)
            made += 1
        self._update_scale()
        left = len(wanted) - made
        self.rebuild_progressed.emit(self._details_total - left, self._details_total)
        if left:
            self._schedule_details()
        else:
            self._details_done()

    def _details_done(self) -> None:
        """Every clip in view has its detail: tell whoever waits for a rebuild or a batch."""
        if self._lanes_pending:
            return  # the rest of the lanes first; _lanes_done schedules the details again
        if self._details_total or self._rebuilding:
            self.rebuild_progressed.emit(self._details_total, self._details_total)
            self._details_total = 0
            self._rebuilding = False
            self.rebuild_finished.emit()

    def _schedule_details(self) -> None:
        if not self._details_scheduled:
            self._details_scheduled = True
            QtCore.QTimer.singleShot(0, self._sync_details_if_scheduled)

    def _sync_details_if_scheduled(self) -> None:
        if self._details_scheduled and self._event_pairs and not self._lanes_pending:  # not after shutdown()
            self._sync_details()

    def _sync_clip_detail(self, lane: TrackLane, clip: Clip) -> None:
        """One clip came or changed: detail it now if it is in view and wide, else drop its item."""
        start, end = self._view
        if self._wants_detail(clip, start, end, self._px_per_s(), DETAIL_MIN_PX):
            if clip.id not in lane.clip_items:
                self._add_clip_item(lane, clip)
        elif clip.id in lane.clip_items and not (self._drag and self._drag.get("item") is lane.clip_items[clip.id]):
            span = end - start
            if not self._wants_detail(clip, start - span, end + span, self._px_per_s(), DETAIL_MIN_PX / 2):
                self._remove_clip_item(lane, clip.id)

    # ================================================================= lanes and clips

    def _layout(self) -> LaneLayout:
        return LaneLayout(self._view_mode, self._scale)

    def _update_scale(self) -> None:
        """The frequency span covering every detailed clip's spectrogram (0-10 kHz htk,
        Riffusion's, until one is known). One step per distinct audio array shown."""
        spans = []
        for key in self._key_items:
            visuals = self.visuals.get(key)
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

    def _lane(self, track_id: str) -> TrackLane | None:
        return self._lanes_by_id.get(track_id)

    def _new_track_color(self, track_id: str, index: int) -> QtGui.QColor:
        return self._track_colors.setdefault(track_id, QtGui.QColor(TRACK_COLORS[index % len(TRACK_COLORS)]))

    def _add_lane(self, track: Track) -> TrackLane:
        index = self.project.tracks.index(track)
        lane = TrackLane(self, track, self._layout(), self._new_track_color(track.id, index))
        lane.viewbox.sigResized.connect(self._schedule_details)
        self._insert_lane(lane)
        self._setup_lane(lane)
        return lane

    def _insert_lane(self, lane: TrackLane) -> None:
        """Put ``lane`` (showing its track) among the lanes in the tracks' order, and its row
        before the next lane's row (hidden spare rows of an earlier document may sit between)."""
        order = {track.id: index for index, track in enumerate(self.project.tracks)}
        if lane in self._lanes:
            self._lanes.remove(lane)
        position = sum(1 for other in self._lanes if order.get(other.track_id, -1) < order[lane.track_id])
        self._lanes.insert(position, lane)
        self._lanes_by_id[lane.track_id] = lane
        self._lanes_layout.removeWidget(lane.row)
        following = self._lanes[position + 1].row if position + 1 < len(self._lanes) else None
        at = self._lanes_layout.indexOf(following if following is not None else self.empty_hint)
        self._lanes_layout.insertWidget(at, lane.row)

    def _setup_lane(self, lane: TrackLane) -> None:
        lane.viewbox.setXRange(*self._view, padding=0.0)
        lane.playhead.setValue(self.project.playhead_s)
        self._sync_selection_overlays(lane, self.project.selection)
        self._apply_tool_cursor(lane)

    def _place_overview_rows(self) -> None:
        self._overview.place_tracks([(t.id, self._track_color(t.id)) for t in self.project.tracks])

    def _on_project_track_added(self, track: Track) -> None:
        if self._lanes_pending:  # the lane comes with the next steps; the overview shows it now
            self._new_track_color(track.id, self.project.tracks.index(track))
            self._place_overview_rows()
            for clip in track.clips:
                self._seq += 1
                self._overview.set_clip(track.id, clip, self._seq)
            self._update_extent()
            return
        lane = self._add_lane(track)
        self._place_overview_rows()
        for clip in track.clips:  # a track comes back with its clips (undo of a delete)
            self._add_block(lane, clip)
        self._relabel(lane)
        self._update_extent()

    def _remove_lane(self, lane: TrackLane) -> None:
        # The lane's scene goes with its widget: no item-by-item removal (thousands of items
        # would stall the GUI), only the bookkeeping and the items' listeners.
        for clip_id, item in lane.clip_items.items():
            self._forget_item(clip_id, item)
        lane.clip_items.clear()
        lane.stale_items.clear()
        if lane in self._lanes:
            self._lanes.remove(lane)
        if self._lanes_by_id.get(lane.track_id) is lane:
            del self._lanes_by_id[lane.track_id]
        self._lanes_layout.removeWidget(lane.row)
        lane.row.setParent(None)
        lane.row.deleteLater()

    def _on_project_track_removed(self, track: Track) -> None:
        lane = self._lane(track.id)
        if lane is not None:
            self._remove_lane(lane)
        self._track_colors.pop(track.id, None)
        self._place_overview_rows()
        self._update_scale()
        self._update_extent()

    def set_track_levels(self, levels: dict[str, list[float]]) -> None:
        """Feed the track headers' meters: {track_id: [left, right] peak}; an empty dict (playback
        stopped) empties every meter (their clip lights stay until clicked)."""
        for lane in self._lanes:
            if lane.track_id in levels:
                lane.header.meter.set_levels(levels[lane.track_id])
            elif not levels:
                lane.header.meter.clear_levels()

    def _on_project_track_changed(self, track: Track) -> None:
        lane = self._lane(track.id)
        if lane is not None:
            lane.header.sync(track)

    def _on_project_track_moved(self, track: Track, index: int) -> None:
        lane = self._lane(track.id)
        if lane is not None:
            self._insert_lane(lane)
        self._place_overview_rows()

    def _track_color(self, track_id: str) -> QtGui.QColor:
        """A track's colour: given by its position when its lane was made, kept after that."""
        color = self._track_colors.get(track_id)
        return QtGui.QColor(color) if color is not None else QtGui.QColor(TRACK_COLORS[0])

    def _on_visuals_pyramid_ready(self, key: int, pyramid: EnvelopePyramid) -> None:
        for item in self._items_showing(key):
            item.set_pyramid(pyramid)

    def _add_block(self, lane: TrackLane, clip: Clip) -> None:
        """The clip's block on its lane's layer and in the overview (on top of the others)."""
        self._seq += 1
        lane.layer.set_block(clip, self._seq)
        self._overview.set_clip(lane.track_id, clip, self._seq)
        item = lane.clip_items.get(clip.id)
        if item is not None:
            item.setZValue(_stack_z(self._seq))

    def _relabel(self, lane: TrackLane) -> None:
        """Give overlapping clips of ``lane`` different lines for their names."""
        lane.label_rows = lane.layer.label_rows()
        for clip_id, item in lane.clip_items.items():
            item.set_label_row(lane.label_rows.get(clip_id, 0))

    def _add_clip_item(self, lane: TrackLane, clip: Clip) -> ClipItem:
        """The clip's detailed item on ``lane`` (replacing one it has)."""
        if clip.id in lane.clip_items:
            self._remove_clip_item(lane, clip.id)
        visuals = self.visuals.for_clip(clip)
        item = ClipItem(clip, lane.track_id, visuals.pyramid, lane.layout, lane.color, handler=self)
        item.spectrogram_lut = self._spectrogram_lut
        item.setZValue(_stack_z(lane.layer.blocks.get(clip.id, (None, self._seq))[1]))
        lane.clip_items[clip.id] = item
        item.set_label_row(lane.label_rows.get(clip.id, 0))
        lane.layer.set_hidden(clip.id, True)
        self._key_items.setdefault(item.audio_key, {})[clip.id] = item
        lane.viewbox.addItem(item, ignoreBounds=True)
        item.set_selected(clip.id in self.project.selection.clip_ids)
        self.visuals.ensure_spectrogram(clip, visuals)
        item.set_spectrogram(visuals.spectrogram)
        for decorate in self._clip_decorators:
            decorate(item, clip)
        item.refresh_children()
        return item

    def _remove_clip_item(self, lane: TrackLane, clip_id: str) -> None:
        item = lane.clip_items.pop(clip_id, None)
        lane.layer.set_hidden(clip_id, False)
        if item is not None:
            self._forget_item(clip_id, item)
            lane.viewbox.removeItem(item)

    def _forget_item(self, clip_id: str, item: ClipItem) -> None:
        """Drop a detailed item from the bookkeeping and release its listeners."""
        shown = self._key_items.get(item.audio_key)
        if shown is not None:
            shown.pop(clip_id, None)
            if not shown:
                del self._key_items[item.audio_key]
        item.detach()

    def _on_project_clip_added(self, track: Track, clip: Clip) -> None:
        self.empty_hint.hide()
        lane = self._lane(track.id)
        if lane is None:  # its lane is still to come (it takes its blocks from the overview)
            self._seq += 1
            self._overview.set_clip(track.id, clip, self._seq)
            self._update_extent()
            return
        self._add_block(lane, clip)
        if clip.id in lane.clip_items:  # the same clip again (redo): fresh item
            self._remove_clip_item(lane, clip.id)
        self._relabel(lane)
        self._sync_clip_detail(lane, clip)
        self._update_scale()
        self._update_extent()

    def _show_empty_hint(self) -> None:
        self.empty_hint.setVisible(not any(track.clips for track in self.project.tracks))

    def _on_project_clip_removed(self, track: Track, clip: Clip) -> None:
        self._show_empty_hint()
        lane = self._lane(track.id)
        if lane is not None:
            self._remove_clip_item(lane, clip.id)
            lane.layer.remove_block(clip.id)
            self._relabel(lane)
        self._overview.remove_clip(track.id, clip.id)
        self._update_scale()
        self._update_extent()

    def _on_project_clip_changed(self, clip: Clip) -> None:
        try:
            track, _ = self.project.find_clip(clip.id)
        except KeyError:
            return
        lane = self._lane(track.id)
        if lane is None:  # its lane is still to come
            self._seq += 1
            self._overview.set_clip(track.id, clip, self._seq)
            self._update_extent()
            return
        self._add_block(lane, clip)  # on top: the clip the user just changed
        item = lane.clip_items.get(clip.id)
        if item is not None:
            if item.audio_key != id(clip.audio) or item.total_samples != clip.audio.shape[1]:
                self._remove_clip_item(lane, clip.id)  # new audio: new item
            else:
                item.sync_from_clip(clip)
        self._relabel(lane)
        self._sync_clip_detail(lane, clip)
        self._update_scale()
        self._update_extent()

    def _on_project_selection_changed(self, selection: Selection) -> None:
        for lane in self._lanes:
            self._sync_selection_overlays(lane, selection)
            lane.header.set_selected(selection.track_id == lane.track_id)
        if selection.has_time_range:
            self.ruler_region.setRegion((selection.start_s, selection.end_s))
        self.ruler_region.setVisible(selection.has_time_range)

    def _sync_selection_overlays(self, lane: TrackLane, selection: Selection) -> None:
        lane.layer.set_selected(selection.clip_ids)
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
        self._show_empty_hint()
        self._rebuild()
        self.zoom_to_fit()

    # ================================================================= spectrograms

    def _items_showing(self, key: int) -> list[ClipItem]:
        """The lanes' detailed items showing the audio array with this key."""
        return list(self._key_items.get(key, {}).values())

    def _on_visuals_spectrogram_started(self, key: int, image: SpectrogramImage) -> None:
        for clip_id in self._key_items.get(key, {}):
            self._spectrograms_due[(key, clip_id)] = None
        self._update_scale()
        self._spectrogram_timer.start()  # a batch per turn from the timer (not in this queued call)

    def _give_spectrograms(self) -> None:
        """Give up to SPECTROGRAM_BATCH due items their audio's spectrogram; the rest on the next
        turn. A finished spectrogram is told (spectrogram_computed) once none of its items waits."""
        given = 0
        while self._spectrograms_due and given < SPECTROGRAM_BATCH:
            key, clip_id = next(iter(self._spectrograms_due))
            del self._spectrograms_due[(key, clip_id)]
            item = self._key_items.get(key, {}).get(clip_id)
            visuals = self.visuals.get(key)
            image = visuals.spectrogram if visuals is not None else None
            if item is None or image is None or (item.spectrogram is not None and item.spectrogram.image is image):
                continue  # gone, or made since with the image
            item.set_spectrogram(image)
            given += 1
        waiting = {key for key, _ in self._spectrograms_due}
        for key in [k for k in self._finished_due if k not in waiting]:
            for clip_id in self._finished_due.pop(key):
                self.spectrogram_computed.emit(clip_id)
        if self._spectrograms_due and self._event_pairs:
            self._spectrogram_timer.start()

    def _on_visuals_spectrogram_finished(self, key: int, clip_id: str) -> None:
        if any(due_key == key for due_key, _ in self._spectrograms_due):
            self._finished_due.setdefault(key, []).append(clip_id)
        else:
            self.spectrogram_computed.emit(clip_id)

    def _on_visuals_spectrogram_updated(self, key: int) -> None:
        for item in self._items_showing(key):
            item.refresh_children()

    def spectrogram_pending(self) -> bool:
        """True while a spectrogram is still being computed or given to the items showing it."""
        return self.visuals.pending() or bool(self._spectrograms_due)

    def _update_extent(self) -> None:
        """The overview's time range and the scroll bar's range after the project's end moved."""
        if self._syncing:
            return
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
        self._follow_view_mode()

    def _follow_view_mode(self) -> None:
        """Colours and Range act on spectrograms: greyed, saying why, while only waveforms show
        (they changed nothing visible there)."""
        shows = self._view_mode != "waveform"
        for widget, tip in ((self.colormap_combo, COLOURS_TIP), (self.range_spin, RANGE_TIP)):
            widget.setEnabled(shows)
            widget.setToolTip(tip if shows else f"{tip}. The view shows waveforms only: pick Spectrogram or "
                                                "Both in View to see them.")

    @property
    def spectrogram_style(self) -> tuple[str, float]:
        """``(colour map, range in dB)`` of the spectrograms."""
        return self._spectrogram_style

    def set_spectrogram_style(self, colormap: str, range_db: float) -> None:
        """Recolour every spectrogram now: a colour map of ``COLORMAPS`` spread over the top
        ``range_db`` dB (20-90). Raises ValueError for anything else. Emits
        spectrogram_style_changed when it changed."""
        lut = spectrogram_lut(colormap, range_db)
        style = (colormap, float(range_db))
        with QtCore.QSignalBlocker(self.colormap_combo), QtCore.QSignalBlocker(self.range_spin):
            self.colormap_combo.setCurrentIndex(self.colormap_combo.findData(colormap))
            self.range_spin.setValue(int(round(range_db)))
        if style == self._spectrogram_style:
            return
        self._spectrogram_style, self._spectrogram_lut = style, lut
        for lane in self._lanes:
            for item in lane.clip_items.values():
                item.set_spectrogram_lut(lut)
        self.spectrogram_style_changed.emit(*style)

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

    def _apply_tool_cursor(self, lane: TrackLane) -> None:
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


    # ================================================================= introspection (tests, tools)

    def lane_count(self) -> int:
        return len(self._lanes)

    def clip_item(self, clip_id: str) -> ClipItem | None:
        """The clip's detailed item, made now if the clip is drawn only as a block (None if the
        timeline does not show the clip). A lane still to come after a new document is made now."""
        if self._lanes_pending and not any(clip_id in lane.layer.blocks for lane in self._lanes):
            self._finish_lanes()
        for lane in self._lanes:
            item = lane.clip_items.get(clip_id)
            if item is not None:
                return item
            block = lane.layer.blocks.get(clip_id)
            if block is not None:
                return self._add_clip_item(lane, block[0])
        return None

    def lane_for_track(self, track_id: str) -> TrackLane | None:
        return self._lane(track_id)

    def lanes(self) -> list[TrackLane]:
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
        """Every clip the lanes show (in detail or as a block)."""
        return {cid for lane in self._lanes for cid in lane.layer.blocks}

    def detailed_clip_ids(self) -> set[str]:
        """The clips shown in detail now (in view and wide enough on screen)."""
        return {cid for lane in self._lanes for cid in lane.clip_items}

    def overview_clips(self) -> dict[str, tuple[int, float, float]]:
        """What the overview shows: clip id -> (track row, start_s, end_s)."""
        return self._overview.clips()
