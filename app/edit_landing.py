"""Where results land: each lands as one undo step that replaces a clip's audio (its mask moving
with its sound) or adds clips where :mod:`app.model.placement` says (never over another clip).

Every landing path goes through here on the GUI thread: the task modules' ``land`` functions
(``tools.landing``), the main window's generations and imports. :meth:`Landing.show_landed`
then selects the result and scrolls the timeline to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.model.commands import AddTrack, Command, CommandGroup, MoveClip, ReplaceClipAudio
from app.model.mask import MaskStore
from app.model.mask_commands import SetMask
from app.model.placement import TOUCH_S, landing_commands, plan_landing, span_is_free
from app.model.project import Clip, Project, Selection, Track
from app.tasks import Plan


#: The setting (app.settings.AppSettings key) behind Edit > Results on a New Track.
RESULTS_ON_NEW_TRACK_KEY = "results_on_new_track"


class Landing:
    """Puts task results into ``project`` through ``undo_stack``; ``show(text)`` tells the user."""

    def __init__(self, project: Project, undo_stack: Any, masks: MaskStore, show: Callable[[str], None], *,
                 reveal: Callable[[list[str]], None] | None = None,
                 new_track: Callable[[], bool] | None = None) -> None:
        self.project = project
        self.undo_stack = undo_stack
        self.masks = masks
        self.show = show
        #: Scrolls the timeline to clips (``QtTimeline.reveal_clips``); a no-op without one.
        self.reveal: Callable[[list[str]], None] = reveal or (lambda clip_ids: None)
        #: Whether the user asked for results on a new track (Edit > Results on a New Track).
        self.new_track: Callable[[], bool] = new_track or (lambda: False)

    def push(self, text: str, commands: list[Command]) -> None:
        self.undo_stack.push_command(commands[0] if len(commands) == 1 else CommandGroup(self.project, text, commands))

    def replace(self, clip: Clip, result: Any, text: str, *, keep_trim: bool,
                new_start_s: float | None = None, mask_shift_s: float = 0.0,
                to_track: Track | None = None) -> list[str]:
        """One undo step: the clip gets the result's audio (its trim kept, or the whole new audio),
        moves to ``new_start_s`` (and to ``to_track``, added first when it is a new one), and its
        mask moves ``mask_shift_s`` seconds with its sound."""
        offset_s, duration_s = (clip.offset_s, clip.duration_s) if keep_trim else (0.0, None)
        if keep_trim and result.sample_rate_hz != clip.sample_rate_hz and duration_s is not None:
            duration_s = min(duration_s, result.audio.shape[1] / result.sample_rate_hz - offset_s)
        commands: list[Command] = [ReplaceClipAudio(
            self.project, clip.id, result.audio, sample_rate_hz=result.sample_rate_hz, image=result.image,
            recipe=result.recipe, offset_s=offset_s, duration_s=duration_s, text=text)]
        if to_track is not None:
            if to_track not in self.project.tracks:
                commands.insert(0, AddTrack(self.project, to_track))
            start_s = clip.start_s if new_start_s is None else new_start_s
            commands.append(MoveClip(self.project, clip.id, start_s, to_track))
        elif new_start_s is not None and abs(new_start_s - clip.start_s) > 1e-12:
            commands.append(MoveClip(self.project, clip.id, new_start_s))
        mask = self.masks.get(clip.id)
        if not mask.is_empty and mask_shift_s != 0:
            commands.append(SetMask(self.project, self.masks, clip.id, mask.shifted(mask_shift_s), text="Move mask"))
        self.push(text, commands)
        return [clip.id]

    def land_extension(self, clip: Clip, result: Any, text: str) -> list[str]:
        """The extended audio replaces the clip; the original samples stay where they were on the
        timeline (a left extension moves the clip's start left by the added seconds)."""
        added = int(result.recipe.facts.get("offset_samples", 0)) / result.sample_rate_hz
        new_start = clip.start_s - added
        if new_start < 0:
            self.show(f"The clip cannot start before 0 s: its audio now starts {-new_start:.2f} s later.")
        start = max(0.0, new_start)
        to_track = self._track_for_grown_clip(clip, start, start + result.audio.shape[1] / result.sample_rate_hz)
        return self.replace(clip, result, text, keep_trim=False, new_start_s=start,
                            mask_shift_s=added - clip.offset_s, to_track=to_track)

    def _track_for_grown_clip(self, clip: Clip, start_s: float, end_s: float) -> Track | None:
        """None when ``clip`` can grow to ``start_s .. end_s`` where it is; else (it would cover
        a neighbour) the first track below free there, or a new one, and the user is told."""
        track, _ = self.project.find_clip(clip.id)
        if all(c.id == clip.id or c.end_s <= start_s + TOUCH_S or c.start_s >= end_s - TOUCH_S for c in track.clips):
            return None
        below = self.project.tracks[self.project.tracks.index(track) + 1:]
        dest = next((t for t in below if span_is_free(t, start_s, end_s)), None)
        dest = dest or Track(name=f"Track {len(self.project.tracks) + 1}")
        self.show(f"The extended clip would cover the next clip on {track.name}, so it moved to {dest.name}.")
        return dest

    def add_clips(self, text: str, track_id: str | None, clips: list[Clip], *, arrangement: str = "stack",
                  new_track: bool | None = None, keep_start: bool = False) -> list[str]:
        """One undo step named ``text`` adding ``clips`` where :mod:`app.model.placement` says:
        on ``track_id`` (None: the selected track) at the first clip's ``start_s`` (the playhead
        when the job started) if that is free, else after the track's last clip; a ``"stack"``
        (variations) shares that start on the tracks below where free, a ``"sequence"``
        (imports) follows on; never over another clip; new tracks as needed, or for all of them
        when ``new_track`` (default: the user's choice, ``self.new_track()``). The first new
        clip is then selected and shown (:meth:`show_landed`)."""
        if new_track is None:
            new_track = self.new_track()
        placement = plan_landing(self.project, [c.length_s for c in clips], track_id=track_id,
                                 at_s=clips[0].start_s, arrangement=arrangement, new_track=new_track,
                                 keep_start=keep_start)
        commands = landing_commands(self.project, clips, placement)
        self.undo_stack.push_command(CommandGroup(self.project, text, commands))
        ids = [c.id for c in clips]
        self.show_landed(ids)
        return ids

    def show_landed(self, clip_ids: list[str]) -> None:
        """Select the first landed clip that is still there and scroll the views to it."""
        present = [cid for cid in clip_ids if self.project.has_clip(cid)]
        if not present:
            return
        track, _ = self.project.find_clip(present[0])
        self.project.set_selection(Selection(clip_ids=frozenset({present[0]}), track_id=track.id))
        self.reveal(present)

    def land_as_new_clips(self, plan: Plan, results: list[Any]) -> list[str]:
        """Results of an edit whose clip changed while it ran: new clips on a new track."""
        start_s = plan.extra.get("start_s", 0.0)
        clips = [Clip(name=f"{plan.extra.get('name', 'Edit')} ({plan.kind})", audio=r.audio,
                      sample_rate_hz=r.sample_rate_hz, start_s=max(0.0, start_s), recipe=r.recipe, image=r.image)
                 for r in results]
        return self.add_clips(f"{plan.kind.capitalize()} (new clip)", None, clips, new_track=True)
