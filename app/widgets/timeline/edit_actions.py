"""Clip and track edits from the keyboard and menus: split at the playhead, duplicate, delete;
track properties, rename, move and delete; zoom to the selection. Every edit is an undo command
(one group per action)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui
from PySide6.QtCore import Qt

from app.model.commands import (
    CommandGroup,
    DuplicateClip,
    MoveTrack,
    RemoveClip,
    RemoveTrack,
    SetTrackProperty,
    SplitClip,
)
from app.model.project import Clip

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline


NO_CLIP_SELECTED = "Nothing to {what}: select a clip first (click it on the timeline)."
NO_TRACK_SELECTED = "Nothing to {what}: select a track first (click its name or a clip on it)."
NOTHING_TO_ZOOM_TO = "Nothing to zoom to: select a clip or a time range first (click a clip, or shift-drag on a lane)."


class EditActionsMixin:
    """QtTimeline's actions (with their shortcuts) and the edits they run."""

    def _build_actions(self: QtTimeline) -> None:
        def action(text: str, shortcuts, slot, tip: str = "") -> QtGui.QAction:
            act = QtGui.QAction(text, self)
            act.setShortcuts([QtGui.QKeySequence(s) for s in shortcuts])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(tip or text)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.zoom_in_action = action("Zoom In", ["+", "=", "Ctrl++", "Ctrl+="], self.zoom_in)
        self.zoom_out_action = action("Zoom Out", ["-", "Ctrl+-"], self.zoom_out)
        self.zoom_fit_action = action("Zoom to Fit", ["Ctrl+0"], self.zoom_to_fit)
        self.zoom_selection_action = action(
            "Zoom to Selection", ["Z"],
            lambda: self.zoom_to_selection() or self.nothing_to_do.emit(NOTHING_TO_ZOOM_TO),  # Z did nothing, silently
            "Show the selected time range or clips",
        )
        self.split_action = action("Split at Playhead", ["S"], self.split_at_playhead)
        self.duplicate_action = action("Duplicate Clip", ["Ctrl+D"], self.duplicate_selected)
        self.delete_action = action("Delete Clip", ["Del", "Backspace"], self.delete_selected)
        self.snap_action = action("Snap", ["N"], lambda: self.set_snap_enabled(not self._snap_enabled))
        self.snap_action.setCheckable(True)
        self.snap_action.setChecked(self._snap_enabled)
        selected = self._selected_track_id
        self.rename_track_action = action("Rename Track…", ["F2"], lambda: self.start_track_rename(selected()))
        self.move_track_up_action = action(
            "Move Track Up", ["Ctrl+Shift+Up"], lambda: self._move_selected_track(-1)
        )
        self.move_track_down_action = action(
            "Move Track Down", ["Ctrl+Shift+Down"], lambda: self._move_selected_track(1)
        )
        self.delete_track_action = action("Delete Track", [], lambda: self.delete_track(selected()))

    def timeline_actions(self: QtTimeline) -> list[QtGui.QAction]:
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
            self.zoom_selection_action,
            self.rename_track_action,
            self.move_track_up_action,
            self.move_track_down_action,
            self.delete_track_action,
        ]

    def _target_clips(self: QtTimeline, at_s: float | None = None) -> list[Clip]:
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

    def _push_group(self: QtTimeline, text: str, commands: list) -> None:
        if not commands:
            return
        command = commands[0] if len(commands) == 1 else CommandGroup(self.project, text, commands)
        self.undo_stack.push_command(command)

    def split_at_playhead(self: QtTimeline) -> None:
        """Split the selected clips (or the clips under the playhead) at the playhead."""
        at = self.project.playhead_s
        clips = [c for c in self._target_clips(at) if c.start_s < at < c.end_s]
        if not clips:
            self.nothing_to_do.emit("Nothing to split: put the playhead inside a clip (click the ruler over it).")
        self._push_group("Split clips", [SplitClip(self.project, c.id, at) for c in clips])

    def duplicate_selected(self: QtTimeline) -> None:
        """Duplicate the selected clips (each right after itself); the copies become selected."""
        commands = [DuplicateClip(self.project, c.id) for c in self.project.selected_clips()]
        if not commands:
            self.nothing_to_do.emit(NO_CLIP_SELECTED.format(what="duplicate"))
        self._push_group("Duplicate clips", commands)
        if commands:
            ids = frozenset(cmd.copy.id for cmd in commands)
            self.project.set_selection(self.project.selection.with_changes(clip_ids=ids))

    def delete_selected(self: QtTimeline) -> None:
        """Delete the selected clips."""
        commands = [RemoveClip(self.project, c.id) for c in self.project.selected_clips()]
        if not commands:
            self.nothing_to_do.emit(NO_CLIP_SELECTED.format(what="delete"))
        self._push_group("Delete clips", commands)

    def _set_track_property(self: QtTimeline, track_id: str, name: str, value: Any) -> None:
        track = self.project.track(track_id)
        if getattr(track, name) != value:
            self.undo_stack.push_command(SetTrackProperty(self.project, track_id, name, value))

    # -- tracks ----------------------------------------------------------------------------------

    def _selected_track_id(self: QtTimeline) -> str | None:
        track = self.project.selected_track()
        return track.id if track is not None else None

    def rename_track(self: QtTimeline, track_id: str | None, name: str) -> bool:
        """Rename a track (one undo step); an empty name or the same name changes nothing."""
        name = name.strip()
        if track_id is None or not name or not any(t.id == track_id for t in self.project.tracks):
            return False
        if self.project.track(track_id).name == name:
            return False
        self.undo_stack.push_command(SetTrackProperty(self.project, track_id, "name", name))
        return True

    def start_track_rename(self: QtTimeline, track_id: str | None) -> None:
        """Open the name editor in the track's header (F2, the header's menu, a double click)."""
        lane = self._lane(track_id) if track_id is not None else None
        if lane is not None:
            lane.header.start_rename()
        else:
            self.nothing_to_do.emit(NO_TRACK_SELECTED.format(what="rename"))

    def delete_track(self: QtTimeline, track_id: str | None) -> bool:
        """Delete a track with its clips (one undo step)."""
        if track_id is None or not any(t.id == track_id for t in self.project.tracks):
            self.nothing_to_do.emit(NO_TRACK_SELECTED.format(what="delete"))
            return False
        self.undo_stack.push_command(RemoveTrack(self.project, track_id))
        return True

    def move_track(self: QtTimeline, track_id: str | None, index: int) -> bool:
        """Put a track at position ``index`` (clamped; one undo step); False if it did not move."""
        if track_id is None or not any(t.id == track_id for t in self.project.tracks):
            return False
        index = min(max(int(index), 0), len(self.project.tracks) - 1)
        if index == self.project.track_index(track_id):
            return False
        self.undo_stack.push_command(MoveTrack(self.project, track_id, index))
        return True

    def _move_selected_track(self: QtTimeline, step: int) -> None:
        track_id = self._selected_track_id()
        if track_id is None:
            self.nothing_to_do.emit(NO_TRACK_SELECTED.format(what="move"))
        elif not self.move_track(track_id, self.project.track_index(track_id) + step):
            where = "top" if step < 0 else "bottom"
            self.nothing_to_do.emit(f"{self.project.track(track_id).name!r} is already the {where} track.")

    def drop_track(self: QtTimeline, track_id: str, global_pos: QtCore.QPoint) -> bool:
        """A header dragged and let go at ``global_pos``: the track moves to the lane there."""
        for index, lane in enumerate(self._lanes):
            local = lane.row.mapFromGlobal(global_pos)
            if 0 <= local.y() < lane.row.height():
                return self.move_track(track_id, index)
        if self._lanes and self._lanes[-1].row.mapFromGlobal(global_pos).y() >= 0:
            return self.move_track(track_id, len(self._lanes) - 1)  # below the last lane
        return False

    def _select_track(self: QtTimeline, track_id: str) -> None:
        self.project.set_selection(self.project.selection.with_changes(track_id=track_id))

