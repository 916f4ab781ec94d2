"""Undoable edits of a :class:`~app.model.project.Project`. Qt-free.

Each command captures what it needs when built, checks its arguments, and does its work in
``redo()`` (called once when pushed) and reverses it exactly in ``undo()``: the same clip objects,
the same arrays, the same list positions come back. ``app/undo.py`` wraps them in QUndoCommands;
tests drive them directly.

    cmd = MoveClip(project, clip.id, new_start_s=2.0)
    cmd.redo(); cmd.undo()

``id`` >= 0 and ``merge_with(other)`` let consecutive edits of the same thing (a drag, a gain
slider) collapse into one undo step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.model.project import Clip, Project, Track

# Merge ids (QUndoCommand.id): commands with the same id may merge.
MOVE_CLIP_ID = 1
TRIM_CLIP_ID = 2
SET_TRACK_PROPERTY_ID = 3
SET_CLIP_PROPERTY_ID = 4


class Command:
    """Base of the model's undoable commands."""

    id = -1  # no merging

    def __init__(self, project: Project, text: str) -> None:
        if not isinstance(project, Project):
            raise ValueError(f"{type(self).__name__}: expected a Project, got {type(project).__name__}")
        self.project = project
        self.text = text
        self.done = False

    def redo(self) -> None:
        self._redo()
        self.done = True

    def undo(self) -> None:
        self._undo()
        self.done = False

    def merge_with(self, other: Command) -> bool:
        """Absorb ``other`` (already applied) into this one; True if merged."""
        return False

    def _redo(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _undo(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.text!r}>"


class CommandGroup(Command):
    """Several commands as one undo step (one generation adding a clip per variation)."""

    def __init__(self, project: Project, text: str, commands: list[Command]) -> None:
        super().__init__(project, text)
        if not commands:
            raise ValueError(f"{text!r}: a command group needs at least one command")
        self.commands = list(commands)

    def _redo(self) -> None:
        done: list[Command] = []
        try:
            for cmd in self.commands:
                cmd.redo()
                done.append(cmd)
        except Exception:
            for cmd in reversed(done):  # all or nothing
                cmd.undo()
            raise

    def _undo(self) -> None:
        for cmd in reversed(self.commands):
            cmd.undo()


class AddClip(Command):
    """Put a clip on a track.

    ``track`` is a track id (checked now) or a :class:`Track` object, which may be one that an
    earlier command of the same :class:`CommandGroup` adds.
    """

    def __init__(self, project: Project, track: str | Track, clip: Clip, *, text: str | None = None) -> None:
        super().__init__(project, text or f"Add clip {clip.name!r}")
        if isinstance(track, Track):
            self.track_id = track.id
        else:
            project.track(track)  # raises KeyError for an unknown track now, not at redo
            self.track_id = track
        if project.has_clip(clip.id):
            raise ValueError(f"clip {clip.id!r} is already in the project")
        self.clip = clip

    def _redo(self) -> None:
        self.project.add_clip(self.track_id, self.clip)

    def _undo(self) -> None:
        self.project.remove_clip(self.clip.id)


class RemoveClip(Command):
    """Delete a clip; undo puts it back at the same position in its track."""

    def __init__(self, project: Project, clip_id: str) -> None:
        track, clip = project.find_clip(clip_id)
        super().__init__(project, f"Delete clip {clip.name!r}")
        self.clip = clip
        self.track_id = track.id
        self.index = track.clips.index(clip)

    def _redo(self) -> None:
        track, _ = self.project.find_clip(self.clip.id)
        self.track_id, self.index = track.id, track.clips.index(self.clip)
        self.project.remove_clip(self.clip.id)

    def _undo(self) -> None:
        self.project.add_clip(self.track_id, self.clip, index=self.index)


class MoveClip(Command):
    """Move a clip in time and optionally to another track. Consecutive moves of one clip merge."""

    id = MOVE_CLIP_ID

    def __init__(self, project: Project, clip_id: str, new_start_s: float, new_track_id: str | Track | None = None) -> None:
        track, clip = project.find_clip(clip_id)
        super().__init__(project, f"Move clip {clip.name!r}")
        if isinstance(new_track_id, Track):  # may be one an earlier command of the same group adds
            new_track_id = new_track_id.id
        elif new_track_id is not None:
            project.track(new_track_id)
        if not isinstance(new_start_s, (int, float)) or not np.isfinite(new_start_s) or new_start_s < 0:
            raise ValueError(f"MoveClip: `new_start_s` must be a finite number >= 0, got {new_start_s!r}.")
        self.clip_id = clip_id
        self.old_start_s = clip.start_s
        self.old_track_id = track.id
        self.old_index = track.clips.index(clip)
        self.new_start_s = float(new_start_s)
        self.new_track_id = new_track_id or track.id

    def _redo(self) -> None:
        self._place(self.new_track_id, self.new_start_s, None)

    def _undo(self) -> None:
        self._place(self.old_track_id, self.old_start_s, self.old_index)

    def _place(self, track_id: str, start_s: float, index: int | None) -> None:
        track, clip = self.project.find_clip(self.clip_id)
        if track.id != track_id:
            selection = self.project.selection
            self.project.remove_clip(self.clip_id)  # drops it from the selection...
            clip.start_s = start_s
            self.project.add_clip(track_id, clip, index=index)
            if self.clip_id in selection.clip_ids:  # ...which a move should not do
                self.project.set_selection(selection)
        else:
            self.project.update_clip(self.clip_id, start_s=start_s)

    def merge_with(self, other: Command) -> bool:
        if not isinstance(other, MoveClip) or other.clip_id != self.clip_id:
            return False
        self.new_start_s = other.new_start_s
        self.new_track_id = other.new_track_id
        return True


class TrimClip(Command):
    """Set a clip's audible range inside its audio (``offset_s``, ``duration_s``).

    By default the audio stays where it is on the timeline: trimming the left edge by ``d``
    seconds also moves ``start_s`` by ``d``. Pass ``start_s`` to place it explicitly.
    """

    id = TRIM_CLIP_ID

    def __init__(
        self,
        project: Project,
        clip_id: str,
        offset_s: float,
        duration_s: float | None,
        *,
        start_s: float | None = None,
    ) -> None:
        _, clip = project.find_clip(clip_id)
        super().__init__(project, f"Trim clip {clip.name!r}")
        self.clip_id = clip_id
        self.old = {"offset_s": clip.offset_s, "duration_s": clip.duration_s, "start_s": clip.start_s}
        if start_s is None:
            start_s = max(0.0, clip.start_s + (float(offset_s) - clip.offset_s))
        self.new = {"offset_s": offset_s, "duration_s": duration_s, "start_s": start_s}
        # Check now so a bad trim fails when built, not inside the undo stack.
        clip.copy(**self.new)

    def _redo(self) -> None:
        self.project.update_clip(self.clip_id, **self.new)

    def _undo(self) -> None:
        self.project.update_clip(self.clip_id, **self.old)

    def merge_with(self, other: Command) -> bool:
        if not isinstance(other, TrimClip) or other.clip_id != self.clip_id:
            return False
        self.new = dict(other.new)
        return True


class SplitClip(Command):
    """Cut a clip in two at timeline time ``at_s``: the clip keeps the left part, a new clip
    (sharing the same audio array) holds the right part on the same track."""

    def __init__(self, project: Project, clip_id: str, at_s: float) -> None:
        track, clip = project.find_clip(clip_id)
        super().__init__(project, f"Split clip {clip.name!r}")
        if not isinstance(at_s, (int, float)) or not clip.start_s < at_s < clip.end_s:
            raise ValueError(
                f"SplitClip: `at_s` must lie strictly inside the clip ({clip.start_s:.3f} to "
                f"{clip.end_s:.3f} s), got {at_s!r}."
            )
        self.clip_id = clip_id
        self.track_id = track.id
        self.old_duration_s = clip.duration_s
        sr = clip.sample_rate_hz
        # Cut on a sample boundary so the two parts together are exactly the original samples.
        first, stop = clip.sample_range()
        cut = first + int(round((at_s - clip.start_s) * sr))
        cut = min(max(cut, first + 1), stop - 1)
        left_s = (cut - first) / sr
        self.left_duration_s = left_s
        self.right = clip.copy(
            name=clip.name,
            start_s=clip.start_s + left_s,
            offset_s=cut / sr,
            duration_s=(stop - cut) / sr,
        )

    def _redo(self) -> None:
        self.project.update_clip(self.clip_id, duration_s=self.left_duration_s)
        self.project.add_clip(self.track_id, self.right)

    def _undo(self) -> None:
        self.project.remove_clip(self.right.id)
        self.project.update_clip(self.clip_id, duration_s=self.old_duration_s)


class DuplicateClip(Command):
    """Copy a clip (sharing its audio); by default right after the original on the same track."""

    def __init__(
        self, project: Project, clip_id: str, *, start_s: float | None = None, track_id: str | None = None
    ) -> None:
        track, clip = project.find_clip(clip_id)
        super().__init__(project, f"Duplicate clip {clip.name!r}")
        self.track_id = track_id or track.id
        project.track(self.track_id)
        self.copy = clip.copy(start_s=clip.end_s if start_s is None else start_s)

    def _redo(self) -> None:
        self.project.add_clip(self.track_id, self.copy)

    def _undo(self) -> None:
        self.project.remove_clip(self.copy.id)


class AddTrack(Command):
    """Add a track (a new empty one unless given), at ``index`` (default last)."""

    def __init__(self, project: Project, track: Track | None = None, index: int | None = None) -> None:
        track = track or Track(name=f"Track {len(project.tracks) + 1}")
        super().__init__(project, f"Add track {track.name!r}")
        if index is not None and not 0 <= index <= len(project.tracks):
            raise IndexError(f"AddTrack: index {index} out of range 0..{len(project.tracks)}")
        self.track = track
        self.index = index

    def _redo(self) -> None:
        self.project.add_track(self.track, self.index)

    def _undo(self) -> None:
        self.project.remove_track(self.track.id)


class RemoveTrack(Command):
    """Delete a track with its clips; undo restores it at the same index with the same clips."""

    def __init__(self, project: Project, track_id: str) -> None:
        track = project.track(track_id)
        super().__init__(project, f"Delete track {track.name!r}")
        self.track = track
        self.index = project.tracks.index(track)

    def _redo(self) -> None:
        self.index, _ = self.project.remove_track(self.track.id)

    def _undo(self) -> None:
        self.project.add_track(self.track, self.index)


class MoveTrack(Command):
    """Put a track at position ``index`` (its clips go with it); undo puts it back."""

    def __init__(self, project: Project, track_id: str, index: int) -> None:
        track = project.track(track_id)
        super().__init__(project, f"Move track {track.name!r}")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(project.tracks):
            raise IndexError(f"MoveTrack: index {index!r} out of range 0..{len(project.tracks) - 1}")
        self.track_id = track_id
        self.old_index = project.track_index(track_id)
        self.new_index = index

    def _redo(self) -> None:
        self.project.move_track(self.track_id, self.new_index)

    def _undo(self) -> None:
        self.project.move_track(self.track_id, self.old_index)


_TRACK_PROPERTIES = ("name", "gain_db", "mute", "solo")


class SetTrackProperty(Command):
    """Set a track's name, gain_db, mute or solo. Consecutive sets of one property merge."""

    id = SET_TRACK_PROPERTY_ID

    def __init__(self, project: Project, track_id: str, name: str, value: Any) -> None:
        track = project.track(track_id)
        if name not in _TRACK_PROPERTIES:
            raise ValueError(f"SetTrackProperty: `name` must be one of {', '.join(_TRACK_PROPERTIES)}, got {name!r}.")
        label = {"gain_db": "gain", "name": "name"}.get(name, name)
        super().__init__(project, f"Set {label} of {track.name!r}")
        self.track_id = track_id
        self.name = name
        self.old_value = getattr(track, name)
        self.value = value
        Track(**{name: value})  # checks the value now

    def _redo(self) -> None:
        self.project.update_track(self.track_id, **{self.name: self.value})

    def _undo(self) -> None:
        self.project.update_track(self.track_id, **{self.name: self.old_value})

    def merge_with(self, other: Command) -> bool:
        if not isinstance(other, SetTrackProperty) or (other.track_id, other.name) != (self.track_id, self.name):
            return False
        self.value = other.value
        return True


_CLIP_PROPERTIES = ("name", "gain_db", "source_path")


class SetClipProperty(Command):
    """Set a clip's name, gain_db or source_path. Consecutive sets of one property merge."""

    id = SET_CLIP_PROPERTY_ID

    def __init__(self, project: Project, clip_id: str, name: str, value: Any) -> None:
        _, clip = project.find_clip(clip_id)
        if name not in _CLIP_PROPERTIES:
            raise ValueError(f"SetClipProperty: `name` must be one of {', '.join(_CLIP_PROPERTIES)}, got {name!r}.")
        super().__init__(project, f"Set {name.removesuffix('_db')} of {clip.name!r}")
        self.clip_id = clip_id
        self.name = name
        self.old_value = getattr(clip, name)
        self.value = value
        clip.copy(**{name: value})

    def _redo(self) -> None:
        self.project.update_clip(self.clip_id, **{self.name: self.value})

    def _undo(self) -> None:
        self.project.update_clip(self.clip_id, **{self.name: self.old_value})

    def merge_with(self, other: Command) -> bool:
        if not isinstance(other, SetClipProperty) or (other.clip_id, other.name) != (self.clip_id, self.name):
            return False
        self.value = other.value
        return True


class ReplaceClipAudio(Command):
    """Give a clip new audio (an edit's result), optionally with a new rate, image, recipe and
    trim; undo hands back the old array and fields. Fields not given keep their value except the
    trim, which resets to the whole new audio unless ``offset_s``/``duration_s`` are given."""

    _UNSET: Any = object()

    def __init__(
        self,
        project: Project,
        clip_id: str,
        audio: np.ndarray,
        *,
        sample_rate_hz: int | None = None,
        image: Any = _UNSET,
        recipe: Any = _UNSET,
        offset_s: float = 0.0,
        duration_s: float | None = None,
        text: str | None = None,
    ) -> None:
        _, clip = project.find_clip(clip_id)
        super().__init__(project, text or f"Edit audio of {clip.name!r}")
        self.clip_id = clip_id
        keys = ("audio", "sample_rate_hz", "image", "recipe", "offset_s", "duration_s")
        self.old = {k: getattr(clip, k) for k in keys}
        self.new: dict[str, Any] = {
            "audio": audio,
            "sample_rate_hz": sample_rate_hz or clip.sample_rate_hz,
            "offset_s": offset_s,
            "duration_s": duration_s,
        }
        if image is not self._UNSET:
            self.new["image"] = image
        if recipe is not self._UNSET:
            self.new["recipe"] = recipe
        clip.copy(**self.new)  # checks shape, dtype, rate and trim now

    def _redo(self) -> None:
        self.project.update_clip(self.clip_id, **self.new)

    def _undo(self) -> None:
        self.project.update_clip(self.clip_id, **self.old)
