"""Where new clips land on the timeline (generations, edits that make new clips, imports). Qt-free.

One rule for every landing path (the main window's generations, the edit tools' new clips,
imports):

- A clip lands on the target track at the wanted time (the playhead) when that span is free,
  else right after the last clip of that track: never over an existing clip.
- Several clips in ``"sequence"`` (imported files) land one after another the same way, as one
  run.
- Several clips in ``"stack"`` (the variations of one job) share one start: the first on the
  target track (as a single clip would land), each other one on the next track below where its
  span is free; tracks are added at the bottom as needed. With ``keep_start`` they all start at
  the wanted time (variations of a clip line up under it).
- ``new_track=True`` (the user asked for it) puts them on new tracks at the wanted time.

:func:`plan_landing` decides; :func:`landing_commands` turns the decision into undo commands
(new tracks first, then the clips, placed). The caller pushes them as one undo step and selects
and shows the new clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.model.commands import AddClip, AddTrack, Command
from app.model.project import Clip, Project, Track

ARRANGEMENTS = ("sequence", "stack")
#: Clips touching end to start do not overlap (times are float seconds).
TOUCH_S = 1e-9


@dataclass(frozen=True)
class Placement:
    """Where each clip goes: ``slots[i] = (track, start_s)``; ``new_tracks`` are the tracks to
    add (at the bottom, in order) before the clips."""

    slots: list[tuple[Track, float]]
    new_tracks: list[Track] = field(default_factory=list)


def span_is_free(track: Track, start_s: float, end_s: float) -> bool:
    """True when no clip of ``track`` overlaps ``start_s .. end_s``."""
    return all(c.end_s <= start_s + TOUCH_S or c.start_s >= end_s - TOUCH_S for c in track.clips)


def free_start(track: Track, want_s: float, length_s: float) -> float:
    """``want_s`` when ``want_s .. want_s + length_s`` is free on ``track``, else the end of its
    last clip (always free)."""
    want_s = max(0.0, float(want_s))
    if span_is_free(track, want_s, want_s + length_s):
        return want_s
    return track.end_s


def _new_track(project: Project, added: list[Track]) -> Track:
    track = Track(name=f"Track {len(project.tracks) + len(added) + 1}")
    added.append(track)
    return track


def plan_landing(
    project: Project,
    lengths_s: Sequence[float],
    *,
    track_id: str | None,
    at_s: float,
    arrangement: str = "sequence",
    new_track: bool = False,
    keep_start: bool = False,
) -> Placement:
    """Decide where clips of ``lengths_s`` seconds land (see the module docstring).

    ``track_id``: the target track (None, or a track that is gone: the selected track, else the
    first; a new track when the project has none). ``at_s``: the wanted start (the playhead).
    ``keep_start`` (stacks): every clip starts at ``at_s`` exactly, on the first track from the
    target down that is free there (variations of a clip line up with it).
    Raises ValueError for an unknown arrangement or no clips.
    """
    if arrangement not in ARRANGEMENTS:
        raise ValueError(f"`arrangement` must be one of {ARRANGEMENTS}, got {arrangement!r}.")
    if not lengths_s:
        raise ValueError("plan_landing: no clips to place.")
    lengths = [max(0.0, float(n)) for n in lengths_s]
    at_s = max(0.0, float(at_s))
    added: list[Track] = []
    target = None
    if track_id is not None:
        target = next((t for t in project.tracks if t.id == track_id), None)
    if target is None:
        target = project.selected_track()
    if new_track or target is None:
        target = _new_track(project, added)

    if arrangement == "sequence":
        start = free_start(target, at_s, sum(lengths))
        slots = []
        for length in lengths:
            slots.append((target, start))
            start += length
        return Placement(slots, added)

    # "stack": one start for all, each clip on the first track from the target down where its
    # span is free (the target first: at the wanted time if free, else after its last clip).
    tracks = project.tracks[project.tracks.index(target):] if target in project.tracks else [target]
    if keep_start:
        start, candidates, slots = at_s, list(tracks), []
    else:
        start = free_start(target, at_s, lengths[0])
        candidates, slots = list(tracks[1:]), [(target, start)]
        lengths = lengths[1:]
    for length in lengths:
        track = next((t for t in candidates if span_is_free(t, start, start + length)), None)
        if track is None:
            track = _new_track(project, added)
        else:
            candidates.remove(track)
        slots.append((track, start))
    return Placement(slots, added)


def landing_commands(project: Project, clips: Sequence[Clip], placement: Placement) -> list[Command]:
    """Undo commands that add ``placement.new_tracks`` and put ``clips[i]`` at ``placement.slots[i]``
    (its ``start_s`` is set here)."""
    if len(clips) != len(placement.slots):
        raise ValueError(f"landing_commands: {len(clips)} clips for {len(placement.slots)} places.")
    commands: list[Command] = [AddTrack(project, track) for track in placement.new_tracks]
    for clip, (track, start_s) in zip(clips, placement.slots):
        clip.start_s = start_s
        commands.append(AddClip(project, track, clip))
    return commands
