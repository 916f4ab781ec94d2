"""Clip and track edits from the keyboard and menus: split at the playhead, duplicate, delete,
track properties. Every edit is an undo command (one group per action)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6 import QtGui
from PySide6.QtCore import Qt

from app.model.commands import CommandGroup, DuplicateClip, RemoveClip, SetTrackProperty, SplitClip
from app.model.project import Clip

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline


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

        self.zoom_in_action = action("Zoom in", ["+", "=", "Ctrl++", "Ctrl+="], self.zoom_in)
        self.zoom_out_action = action("Zoom out", ["-", "Ctrl+-"], self.zoom_out)
        self.zoom_fit_action = action("Zoom to fit", ["Ctrl+0"], self.zoom_to_fit)
        self.split_action = action("Split at playhead", ["S"], self.split_at_playhead)
        self.duplicate_action = action("Duplicate clip", ["Ctrl+D"], self.duplicate_selected)
        self.delete_action = action("Delete clip", ["Del", "Backspace"], self.delete_selected)
        self.snap_action = action("Snap", ["N"], lambda: self.set_snap_enabled(not self._snap_enabled))
        self.snap_action.setCheckable(True)
        self.snap_action.setChecked(self._snap_enabled)

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
        self._push_group("Split clips", [SplitClip(self.project, c.id, at) for c in clips])

    def duplicate_selected(self: QtTimeline) -> None:
        """Duplicate the selected clips (each right after itself); the copies become selected."""
        commands = [DuplicateClip(self.project, c.id) for c in self.project.selected_clips()]
        self._push_group("Duplicate clips", commands)
        if commands:
            ids = frozenset(cmd.copy.id for cmd in commands)
            self.project.set_selection(self.project.selection.with_changes(clip_ids=ids))

    def delete_selected(self: QtTimeline) -> None:
        """Delete the selected clips."""
        commands = [RemoveClip(self.project, c.id) for c in self.project.selected_clips()]
        self._push_group("Delete clips", commands)

    def _set_track_property(self: QtTimeline, track_id: str, name: str, value: Any) -> None:
        track = self.project.track(track_id)
        if getattr(track, name) != value:
            self.undo_stack.push_command(SetTrackProperty(self.project, track_id, name, value))

    def _select_track(self: QtTimeline, track_id: str) -> None:
        self.project.set_selection(self.project.selection.with_changes(track_id=track_id))

