"""Where edit results land: each lands as one undo step that replaces a clip's audio (its mask
moving with its sound) or adds clips on tracks (new tracks below as needed).

Used by the task modules' ``land`` functions (``tools.landing``) on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.model.commands import AddClip, AddTrack, Command, CommandGroup, MoveClip, ReplaceClipAudio
from app.model.mask import MaskStore
from app.model.mask_commands import SetMask
from app.model.project import Clip, Project, Track
from app.tasks import Plan


class Landing:
    """Puts task results into ``project`` through ``undo_stack``; ``show(text)`` tells the user."""

    def __init__(self, project: Project, undo_stack: Any, masks: MaskStore, show: Callable[[str], None]) -> None:
        self.project = project
        self.undo_stack = undo_stack
        self.masks = masks
        self.show = show

    def push(self, text: str, commands: list[Command]) -> None:
        self.undo_stack.push_command(commands[0] if len(commands) == 1 else CommandGroup(self.project, text, commands))

    def replace(self, clip: Clip, result: Any, text: str, *, keep_trim: bool,
                new_start_s: float | None = None, mask_shift_s: float = 0.0) -> list[str]:
        """One undo step: the clip gets the result's audio (its trim kept, or the whole new audio),
        moves to ``new_start_s``, and its mask moves ``mask_shift_s`` seconds with its sound."""
        offset_s, duration_s = (clip.offset_s, clip.duration_s) if keep_trim else (0.0, None)
        if keep_trim and result.sample_rate_hz != clip.sample_rate_hz and duration_s is not None:
            duration_s = min(duration_s, result.audio.shape[1] / result.sample_rate_hz - offset_s)
        commands: list[Command] = [ReplaceClipAudio(
            self.project, clip.id, result.audio, sample_rate_hz=result.sample_rate_hz, image=result.image,
            recipe=result.recipe, offset_s=offset_s, duration_s=duration_s, text=text)]
        if new_start_s is not None and abs(new_start_s - clip.start_s) > 1e-12:
            commands.append(MoveClip(self.project, clip.id, new_start_s))
        mask = self.masks.get(clip.id)
        if not mask.is_empty and mask_shift_s != 0:
            commands.append(SetMask(self.project, self.masks, clip.id, mask.shifted(mask_shift_s), text="Move mask"))
        self.push(text, commands)
        return [clip.id]

    def land_extension(self, clip: Clip, result: Any, text: str) -> list[str]:
        """The extended audio replaces the clip; the original samples stay where they were on the
        timeline (a left extension moves the clip's start left by the added seconds)."""
        added = int(result.recipe.extra.get("offset_samples", 0)) / result.sample_rate_hz
        new_start = clip.start_s - added
        if new_start < 0:
            self.show(f"The clip cannot start before 0 s: its audio now starts {-new_start:.2f} s later.")
        return self.replace(clip, result, text, keep_trim=False, new_start_s=max(0.0, new_start),
                            mask_shift_s=added - clip.offset_s)

    def add_clips(self, text: str, base_track_id: str | None, clips: list[Clip]) -> list[str]:
        """One undo step named ``text``: clip ``i`` on the ``i``-th track from ``base_track_id``
        (tracks added below as needed; a new track when ``base_track_id`` is None). Generations
        and the edits that make new clips land through here."""
        tracks = list(self.project.tracks)
        commands: list[Command] = []
        if base_track_id is None or not any(t.id == base_track_id for t in tracks):
            base = len(tracks)
        else:
            base = [t.id for t in tracks].index(base_track_id)
        for i, clip in enumerate(clips):
            if base + i >= len(tracks):
                track = Track(name=f"Track {len(tracks) + 1}")
                commands.append(AddTrack(self.project, track))
                tracks.append(track)
            commands.append(AddClip(self.project, tracks[base + i], clip))
        self.undo_stack.push_command(CommandGroup(self.project, text, commands))
        return [c.id for c in clips]

    def land_as_new_clips(self, plan: Plan, results: list[Any]) -> list[str]:
        """Results of an edit whose clip changed while it ran: new clips on a new track."""
        start_s = plan.extra.get("start_s", 0.0)
        clips = [Clip(name=f"{plan.extra.get('name', 'Edit')} ({plan.kind})", audio=r.audio,
                      sample_rate_hz=r.sample_rate_hz, start_s=max(0.0, start_s), recipe=r.recipe, image=r.image)
                 for r in results]
        return self.add_clips(f"{plan.kind.capitalize()} (new clip)", None, clips)
