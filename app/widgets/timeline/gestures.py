"""Mouse gestures on the timeline: on the lanes, ruler and overview (through their view boxes) and
on clip items (which hand their events here).

Tool "edit": drag a clip to move it (also to another track, or out of the window as a WAV file),
drag its edges to trim, drag on empty space (or shift-drag anywhere) to select a time range,
alt-drag (or any drag with the "box" tool) to select a time x frequency box, click to seek,
double-click a clip to activate it. Wheel scrolls, ctrl+wheel zooms around the pointer,
middle-drag pans. Tool "mask": left drags and clicks on a lane become :class:`MaskGesture` values
for ``mask_handler``. Moves and trims become one undo command per drag.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6 import QtCore, QtGui
from PySide6.QtCore import Qt

from app.model.commands import CommandGroup, MoveClip, TrimClip
from app.model.project import Selection
from app.plot_items.clip_item import ClipItem
from app.widgets.timeline.viewport import SCROLL_FRACTION, ZOOM_STEP

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline
    from app.widgets.timeline.clips_layer import ClipsLayer
    from app.widgets.timeline.lanes import TimelineViewBox, TrackLane

log = logging.getLogger(__name__)


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



class GesturesMixin:
    """QtTimeline's mouse handling; the drag in progress is ``self._drag`` (a dict, or None)."""

    def _scene_to_time(self: QtTimeline, viewbox: pg.ViewBox, scene_pos: QtCore.QPointF) -> float:
        return float(viewbox.mapSceneToView(scene_pos).x())

    def _lane_at_global(self: QtTimeline, global_pos: QtCore.QPoint) -> TrackLane | None:
        for lane in self._lanes:
            local = lane.plot.mapFromGlobal(global_pos)
            if 0 <= local.y() < lane.plot.height():
                return lane
        return None

    def _seek(self: QtTimeline, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.project.set_playhead(seconds)
        self.seek_requested.emit(seconds)

    def _view_wheel_event(self: QtTimeline, viewbox: TimelineViewBox, ev) -> None:
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

    def _view_click_event(self: QtTimeline, viewbox: TimelineViewBox, ev) -> None:
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

    def _view_drag_event(self: QtTimeline, viewbox: TimelineViewBox, ev) -> None:
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

    def _mask_mode(self: QtTimeline) -> bool:
        return self._tool == "mask" and self.mask_handler is not None

    def _mask_gesture(self: QtTimeline, lane: TrackLane, ev, phase: str) -> None:
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

    def _wants_box(self: QtTimeline, ev) -> bool:
        if self._view_mode == "waveform":
            return False
        return self._tool == "box" or bool(ev.modifiers() & Qt.KeyboardModifier.AltModifier)

    def _pan_drag(self: QtTimeline, viewbox: TimelineViewBox, ev) -> None:
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

    def _time_drag(self: QtTimeline, lane: TrackLane, ev) -> None:
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

    def _box_drag(self: QtTimeline, lane: TrackLane, ev) -> None:
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

    def clip_hover(self: QtTimeline, item: ClipItem, zone: str | None) -> None:
        pass

    # -- gestures on clips drawn as blocks (called by ClipsLayer) --------------------------------

    def _layer_clip_item(self: QtTimeline, layer: ClipsLayer, ev) -> ClipItem | None:
        """The detailed item of the block under the press (made now), or None over empty space."""
        lane = next((lane for lane in self._lanes if lane.layer is layer), None)
        if lane is None:
            return None
        pos = ev.buttonDownPos() if hasattr(ev, "buttonDownPos") else ev.pos()
        clip = layer.block_at(float(layer.mapToView(pos).x()))
        return None if clip is None else self._add_clip_item(lane, clip)

    def layer_click_event(self: QtTimeline, layer: ClipsLayer, ev) -> None:
        item = self._layer_clip_item(layer, ev) if ev.button() == Qt.MouseButton.LeftButton else None
        if item is None:
            ev.ignore()  # empty space: the lane's view box takes it
            return
        self.clip_click_event(item, ev)

    def layer_drag_event(self: QtTimeline, layer: ClipsLayer, ev) -> None:
        if ev.isStart():
            item = self._layer_clip_item(layer, ev) if ev.button() == Qt.MouseButton.LeftButton else None
            self._layer_drag_item = item
        item = getattr(self, "_layer_drag_item", None)
        if item is None:
            ev.ignore()
            return
        self.clip_drag_event(item, ev)
        if ev.isFinish():
            self._layer_drag_item = None

    def clip_click_event(self: QtTimeline, item: ClipItem, ev) -> None:
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

    def clip_drag_event(self: QtTimeline, item: ClipItem, ev) -> None:
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

    def _outside_window(self: QtTimeline, screen_pos: QtCore.QPointF) -> bool:
        point = QtCore.QPoint(int(screen_pos.x()), int(screen_pos.y()))
        return not self.rect().contains(self.mapFromGlobal(point))

    def start_clip_drag_out(self: QtTimeline, clip_id: str) -> Qt.DropAction | None:
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

    def _clip_drag_geometry(self: QtTimeline, drag: dict[str, Any], delta: float) -> tuple[float, float, float]:
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

    def _commit_clip_drag(self: QtTimeline, item: ClipItem, drag: dict[str, Any], geometry: tuple[float, float, float]) -> None:
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
