"""The document: tracks holding clips on a timeline, the selection and the playhead. Qt-free.

Views hold a :class:`Project` and listen to ``project.events``; they never mutate it directly.
Every user edit is a command (app/model/commands.py) that calls the low-level mutators here,
which check their input and emit the matching event. Times are seconds on the timeline; audio
arrays are float32 ``(channels, samples)`` and treated as immutable (an edit replaces the array,
it never writes into it), so undo can hand back the very same arrays.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from app.model.events import ProjectEvents
from engine.specs import Recipe

DEFAULT_SAMPLE_RATE_HZ = 44100
MAX_CHANNELS = 2
#: Sample rates a clip may have (the engine reads files from 1 kHz to 768 kHz).
MIN_SAMPLE_RATE_HZ = 1000
MAX_SAMPLE_RATE_HZ = 768000
#: Gains a clip or a track may have (a -60..+12 dB control, with room for scripts).
MIN_GAIN_DB = -150.0
MAX_GAIN_DB = 60.0
#: The timeline is 24 hours long: clips start and the playhead stays within it.
MAX_TIMELINE_S = 24 * 3600.0
#: Longest clip, track or project name, in characters.
MAX_NAME_CHARS = 1000
MAX_PATH_CHARS = 4096
MAX_PRESET_CHARS = 100


def new_id() -> str:
    """A fresh unique id (uuid4 hex) for a clip or a track."""
    return uuid.uuid4().hex


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"`{name}` must be a number, got {_short(value)}.")
    if isinstance(value, (int, np.integer)) and abs(value) > 1e300 or not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {str(value)[:30]}.")
    return float(value)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (error messages stay one short line)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _gain(owner: str, value: Any) -> float:
    gain = _finite("gain_db", value)
    if not MIN_GAIN_DB <= gain <= MAX_GAIN_DB:
        raise ValueError(f"{owner}: `gain_db` must be between {MIN_GAIN_DB:g} and {MAX_GAIN_DB:g} dB, got {gain:g}.")
    return gain


def _text(owner: str, name: str, value: Any, *, optional: bool = False, limit: int = MAX_NAME_CHARS) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ValueError(f"{owner}: `{name}` must be a string, got {_short(value)}.")
    if len(value) > limit:
        raise ValueError(f"{owner}: `{name}` is {len(value)} characters long; at most {limit} are allowed.")


@dataclass(eq=False, kw_only=True)
class Clip:
    """A piece of audio placed on a track.

    ``audio`` is float32 ``(channels, samples)`` at ``sample_rate_hz``; ``start_s`` is where the
    audible part begins on the timeline; ``offset_s`` is the first audible second inside
    ``audio`` (left trim) and ``duration_s`` the audible length (None: to the end of ``audio``).
    ``recipe`` and ``image`` are set for generated clips. Raises ValueError on bad values.
    """

    id: str = field(default_factory=new_id)
    name: str = "Clip"
    audio: np.ndarray
    sample_rate_hz: int
    start_s: float = 0.0
    offset_s: float = 0.0
    duration_s: float | None = None
    gain_db: float = 0.0
    recipe: Recipe | None = None
    image: Any = None  # PIL.Image.Image of the spectrogram, for generated clips
    source_path: str | None = None
    spectrogram_preset: str = "riffusion"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raises ValueError naming the field and what was expected."""
        _text("clip", "id", self.id)
        _text("clip", "name", self.name)
        audio = self.audio
        if not isinstance(audio, np.ndarray):
            raise ValueError(f"clip {self.name!r}: `audio` must be a numpy array, got {type(audio).__name__}.")
        if audio.ndim != 2 or not 1 <= audio.shape[0] <= MAX_CHANNELS:
            raise ValueError(
                f"clip {self.name!r}: `audio` must have shape (channels, samples) with 1 or 2 channels, "
                f"got shape {audio.shape}."
            )
        if audio.dtype != np.float32:
            raise ValueError(f"clip {self.name!r}: `audio` must be float32, got {audio.dtype}.")
        if audio.shape[1] == 0:
            raise ValueError(f"clip {self.name!r}: `audio` has no samples.")
        sr = self.sample_rate_hz
        if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)):
            raise ValueError(f"clip {self.name!r}: `sample_rate_hz` must be an integer, got {sr!r}.")
        if not MIN_SAMPLE_RATE_HZ <= sr <= MAX_SAMPLE_RATE_HZ:
            raise ValueError(
                f"clip {self.name!r}: `sample_rate_hz` must be between {MIN_SAMPLE_RATE_HZ} and "
                f"{MAX_SAMPLE_RATE_HZ} Hz, got {sr}."
            )
        self.sample_rate_hz = int(sr)
        self.start_s = _finite("start_s", self.start_s)
        if not 0 <= self.start_s <= MAX_TIMELINE_S:
            raise ValueError(
                f"clip {self.name!r}: `start_s` must be between 0 and {MAX_TIMELINE_S:g} s (24 hours), got {self.start_s:g}."
            )
        self.offset_s = _finite("offset_s", self.offset_s)
        total_s = audio.shape[1] / sr
        if not 0 <= self.offset_s < total_s:
            raise ValueError(
                f"clip {self.name!r}: `offset_s` must be within the audio (0 to {total_s:.6f} s), "
                f"got {self.offset_s}."
            )
        if self.duration_s is not None:
            self.duration_s = _finite("duration_s", self.duration_s)
            if self.duration_s <= 0:
                raise ValueError(f"clip {self.name!r}: `duration_s` must be > 0, got {self.duration_s}.")
            # Half a sample of slack: trims are computed in seconds.
            if self.offset_s + self.duration_s > total_s + 0.5 / sr:
                raise ValueError(
                    f"clip {self.name!r}: `offset_s` + `duration_s` ({self.offset_s + self.duration_s:.6f} s) "
                    f"runs past the end of the audio ({total_s:.6f} s)."
                )
        self.gain_db = _gain(f"clip {self.name!r}", self.gain_db)
        if self.recipe is not None and not isinstance(self.recipe, Recipe):
            raise ValueError(f"clip {self.name!r}: `recipe` must be an engine.specs.Recipe or None.")
        _text(f"clip {self.name!r}", "source_path", self.source_path, optional=True, limit=MAX_PATH_CHARS)
        _text(f"clip {self.name!r}", "spectrogram_preset", self.spectrogram_preset, limit=MAX_PRESET_CHARS)

    # -- derived ---------------------------------------------------------------------------

    @property
    def channels(self) -> int:
        return int(self.audio.shape[0])

    @property
    def total_s(self) -> float:
        """Length of the whole underlying audio, trimmed or not."""
        return self.audio.shape[1] / self.sample_rate_hz

    def sample_range(self) -> tuple[int, int]:
        """``(first, stop)``: sample indices of the audible part, ``stop`` exclusive."""
        n = self.audio.shape[1]
        first = min(int(round(self.offset_s * self.sample_rate_hz)), n - 1)
        if self.duration_s is None:
            return first, n
        stop = first + int(round(self.duration_s * self.sample_rate_hz))
        return first, max(first + 1, min(stop, n))

    @property
    def length_s(self) -> float:
        """Audible length in seconds."""
        if self.duration_s is None:
            return self.total_s - self.offset_s
        return self.duration_s

    @property
    def end_s(self) -> float:
        return self.start_s + self.length_s

    def audible_audio(self) -> np.ndarray:
        """A read-only view of the audible samples, ``(channels, samples)`` float32."""
        first, stop = self.sample_range()
        view = self.audio[:, first:stop]
        view.flags.writeable = False
        return view

    def copy(self, **changes: Any) -> Clip:
        """A new clip (new id unless given) sharing this clip's audio array and image."""
        changes.setdefault("id", new_id())
        return replace(self, **changes)

    def state(self) -> dict[str, Any]:
        """Every field by name (arrays and images by reference): what undo restores."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        return (
            f"Clip({self.name!r}, id={self.id[:8]}, start_s={self.start_s:.3f}, "
            f"length_s={self.length_s:.3f}, {self.channels}ch@{self.sample_rate_hz})"
        )


@dataclass(eq=False, kw_only=True)
class Track:
    """A row of the timeline. Clips may overlap; they mix."""

    id: str = field(default_factory=new_id)
    name: str = "Track"
    gain_db: float = 0.0
    mute: bool = False
    solo: bool = False
    clips: list[Clip] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _text("track", "id", self.id)
        _text("track", "name", self.name)
        self.gain_db = _gain(f"track {self.name!r}", self.gain_db)
        for flag in ("mute", "solo"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"track `{flag}` must be True or False, got {getattr(self, flag)!r}.")

    def clip(self, clip_id: str) -> Clip | None:
        for clip in self.clips:
            if clip.id == clip_id:
                return clip
        return None

    @property
    def end_s(self) -> float:
        return max((c.end_s for c in self.clips), default=0.0)

    def __repr__(self) -> str:
        return f"Track({self.name!r}, id={self.id[:8]}, {len(self.clips)} clips)"


@dataclass(frozen=True)
class Selection:
    """What the user selected: an optional time range, an optional frequency band, clips, a track.

    An immutable value; the project holds the current one. ``start_s``/``end_s`` are both None
    (no time range) or both set with ``start_s < end_s``; the same for ``freq_lo_hz``/``freq_hi_hz``
    (None = the full height).
    """

    start_s: float | None = None
    end_s: float | None = None
    freq_lo_hz: float | None = None
    freq_hi_hz: float | None = None
    clip_ids: frozenset[str] = frozenset()
    track_id: str | None = None

    def __post_init__(self) -> None:
        for lo, hi, what in (("start_s", "end_s", "time range"), ("freq_lo_hz", "freq_hi_hz", "frequency band")):
            a, b = getattr(self, lo), getattr(self, hi)
            if (a is None) != (b is None):
                raise ValueError(f"selection {what}: `{lo}` and `{hi}` must both be set or both be None.")
            if a is not None:
                a, b = _finite(lo, a), _finite(hi, b)
                if not a < b:
                    raise ValueError(f"selection {what}: `{lo}` ({a}) must be less than `{hi}` ({b}).")
                if a < 0:
                    raise ValueError(f"selection {what}: `{lo}` must be >= 0, got {a}.")
        if not isinstance(self.clip_ids, frozenset):
            object.__setattr__(self, "clip_ids", frozenset(self.clip_ids))

    @property
    def has_time_range(self) -> bool:
        return self.start_s is not None

    @property
    def has_freq_band(self) -> bool:
        return self.freq_lo_hz is not None

    def with_changes(self, **changes: Any) -> Selection:
        return replace(self, **changes)


def _set_checked(obj: Clip | Track, changes: dict[str, Any]) -> None:
    """Set attributes, then validate; on ValueError put every attribute back and re-raise."""
    before = {name: getattr(obj, name) for name in changes}
    try:
        for name, value in changes.items():
            setattr(obj, name, value)
        obj.validate()
    except ValueError:
        for name, value in before.items():
            setattr(obj, name, value)
        raise


class Project:
    """Tracks, sample rate, playhead, selection and file path, with :class:`ProjectEvents`.

    The mutators (``add_track``, ``remove_track``, ``move_track``, ``add_clip``, ``remove_clip``,
    ``update_clip``, ``update_track``) are for commands only: calling them directly bypasses undo.
    ``set_selection`` and ``set_playhead`` are not undoable and may be called by views.
    """

    def __init__(self, *, sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ, tracks: list[Track] | None = None) -> None:
        if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, int):
            raise ValueError(f"project `sample_rate_hz` must be an integer, got {sample_rate_hz!r}.")
        if not MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
            raise ValueError(
                f"project `sample_rate_hz` must be between {MIN_SAMPLE_RATE_HZ} and {MAX_SAMPLE_RATE_HZ}, "
                f"got {sample_rate_hz}."
            )
        self.events = ProjectEvents()
        self.sample_rate_hz = sample_rate_hz
        self.tracks: list[Track] = []
        self.playhead_s = 0.0
        self.selection = Selection()
        self.path: str | None = None
        #: The inputs of the jobs that made clips, by their recipe fingerprint (sha256): a clip's
        #: ``(audio, sample_rate_hz)``, or a file's bytes (the spectrogram PNG a clip was vocoded
        #: from), so Regenerate can rerun them (:meth:`inputs_for`). Saved with the project, each
        #: once; arrays are immutable like the clips'.
        self.inputs: dict[str, tuple[np.ndarray, int] | bytes] = {}
        #: Pictures made from clips (:class:`app.model.pictures.Picture`), in the order they
        #: were made; each names its clip by id. Changed by the commands of app.model.pictures.
        self.pictures: list[Any] = []
        for track in tracks or ():
            self.add_track(track)

    @classmethod
    def with_track(cls, name: str = "Track 1", **kwargs: Any) -> Project:
        """A new project holding one empty track (what File > New gives)."""
        project = cls(**kwargs)
        project.add_track(Track(name=name))
        return project

    # -- inputs of edits -------------------------------------------------------------------

    def remember_inputs(self, spec: Any, recipes: list[Recipe], reuse: tuple[np.ndarray | None, ...] = ()) -> None:
        """Keep the inputs of ``spec`` (a job that made results with ``recipes``) under the
        fingerprints the recipes record, so those results can be regenerated: a clip's audio (1-2
        channels, float32) or a file's bytes (a spectrogram PNG); anything else is not kept. An
        array of ``reuse`` (the clip's audio the job was planned from) holding the same samples is
        kept instead of the spec's copy, so the input costs no memory while the clip or its undo
        step holds that array."""
        values = spec.input_values() if callable(getattr(spec, "input_values", None)) else {}
        for name, value in values.items():
            if isinstance(value, bytes):
                for sha in {r.inputs.get(name, {}).get("sha256") for r in recipes}:
                    if isinstance(sha, str) and sha and sha not in self.inputs:
                        self.inputs[sha] = value
                continue
            try:
                audio, rate = value
            except (TypeError, ValueError):
                continue
            if not (isinstance(audio, np.ndarray) and audio.ndim == 2 and audio.dtype == np.float32
                    and 1 <= audio.shape[0] <= MAX_CHANNELS and MIN_SAMPLE_RATE_HZ <= int(rate) <= MAX_SAMPLE_RATE_HZ):
                continue
            shas = [sha for sha in (r.inputs.get(name, {}).get("sha256") for r in recipes)
                    if isinstance(sha, str) and sha and sha not in self.inputs]
            if not shas:
                continue
            same = next((a for a in reuse if isinstance(a, np.ndarray) and a.shape == audio.shape
                         and a.dtype == audio.dtype and np.array_equal(a, audio)), None)
            for sha in shas:
                self.inputs[sha] = (audio if same is None else same, int(rate))

    def inputs_for(self, recipe: Recipe) -> dict[str, tuple[np.ndarray, int] | bytes] | None:
        """The inputs ``recipe`` was made from, by name (``{}`` for a recipe without inputs), or
        None when one of them is not kept (an edit from before inputs were saved, an imported
        file whose recorded input was gone: :meth:`missing_inputs` says which)."""
        found = {}
        for name, record in recipe.inputs.items():
            value = self.inputs.get(record.get("sha256") or "")
            if value is None:
                return None
            found[name] = value
        return found

    def missing_inputs(self, recipe: Recipe) -> dict[str, dict[str, Any]]:
        """The records (fingerprint, shape, path hint) of ``recipe``'s inputs the project does not keep."""
        return {name: dict(record) for name, record in recipe.inputs.items()
                if (record.get("sha256") or "") not in self.inputs}

    def referenced_inputs(self) -> dict[str, tuple[np.ndarray, int] | bytes]:
        """The kept inputs some clip's or picture's recipe names (what a save writes)."""
        used = {}
        recipes = [clip.recipe for clip in self.clips()] + [picture.recipe for picture in self.pictures]
        for recipe in recipes:
            if recipe is not None:
                for record in recipe.inputs.values():
                    sha = record.get("sha256")
                    if sha in self.inputs:
                        used[sha] = self.inputs[sha]
        return used

    # -- lookups ---------------------------------------------------------------------------

    def track(self, track_id: str) -> Track:
        """The track with this id; raises KeyError naming the id if there is none."""
        for track in self.tracks:
            if track.id == track_id:
                return track
        raise KeyError(f"no track with id {track_id!r} in the project")

    def track_index(self, track_id: str) -> int:
        return self.tracks.index(self.track(track_id))

    def find_clip(self, clip_id: str) -> tuple[Track, Clip]:
        """``(track, clip)`` for a clip id; raises KeyError naming the id if there is none."""
        for track in self.tracks:
            for clip in track.clips:
                if clip.id == clip_id:
                    return track, clip
        raise KeyError(f"no clip with id {clip_id!r} in the project")

    def has_clip(self, clip_id: str) -> bool:
        return any(clip.id == clip_id for track in self.tracks for clip in track.clips)

    def clips(self) -> list[Clip]:
        """Every clip, track by track."""
        return [clip for track in self.tracks for clip in track.clips]

    @property
    def duration_s(self) -> float:
        """End of the last clip (0 for an empty project)."""
        return max((track.end_s for track in self.tracks), default=0.0)

    def selected_track(self) -> Track | None:
        """The selected track, else the track of the first selected clip, else the first track."""
        sel = self.selection
        if sel.track_id is not None:
            try:
                return self.track(sel.track_id)
            except KeyError:
                pass
        for clip_id in sorted(sel.clip_ids):
            if self.has_clip(clip_id):
                return self.find_clip(clip_id)[0]
        return self.tracks[0] if self.tracks else None

    def selected_clips(self) -> list[Clip]:
        """Selected clips in timeline order (track order, then start time)."""
        ids = self.selection.clip_ids
        return [c for t in self.tracks for c in sorted(t.clips, key=lambda c: c.start_s) if c.id in ids]

    # -- low-level mutators (commands only) ---------------------------------------------------

    def add_track(self, track: Track, index: int | None = None) -> None:
        """Insert ``track`` (at ``index``, default last). Emits track_added(track) for the empty
        track, then clip_added(track, clip) for each clip it holds."""
        if not isinstance(track, Track):
            raise ValueError(f"expected a Track, got {type(track).__name__}")
        if any(t.id == track.id for t in self.tracks):
            raise ValueError(f"a track with id {track.id!r} is already in the project")
        present = {c.id for t in self.tracks for c in t.clips}  # once per track, not per clip
        for clip in track.clips:
            if clip.id in present:
                raise ValueError(f"clip {clip.id!r} of track {track.name!r} is already in the project")
        clips = list(track.clips)
        track.clips.clear()
        if index is None:
            index = len(self.tracks)
        if not 0 <= index <= len(self.tracks):
            raise IndexError(f"track index {index} out of range 0..{len(self.tracks)}")
        self.tracks.insert(index, track)
        self.events.track_added.emit(track)
        for clip in clips:
            track.clips.append(clip)
            self.events.clip_added.emit(track, clip)

    def remove_track(self, track_id: str) -> tuple[int, Track]:
        """Remove a track with its clips; returns ``(index, track)`` (clips still in it).
        Emits clip_removed for each clip, then track_removed(track)."""
        track = self.track(track_id)
        index = self.tracks.index(track)
        clips = list(track.clips)
        self._drop_from_selection({c.id for c in clips}, track_id)
        for clip in reversed(clips):
            track.clips.remove(clip)
            self.events.clip_removed.emit(track, clip)
        track.clips.extend(clips)
        del self.tracks[index]
        self.events.track_removed.emit(track)
        return index, track

    def move_track(self, track_id: str, index: int) -> int:
        """Put a track at position ``index`` (its clips with it); returns its old index.
        Emits track_moved(track, index) if it moved."""
        track = self.track(track_id)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.tracks):
            raise IndexError(f"track index {index!r} out of range 0..{len(self.tracks) - 1}")
        old = self.tracks.index(track)
        if old != index:
            del self.tracks[old]
            self.tracks.insert(index, track)
            self.events.track_moved.emit(track, index)
        return old

    def add_clip(self, track_id: str, clip: Clip, index: int | None = None) -> None:
        """Put ``clip`` on a track (at list position ``index``, default last). Emits clip_added."""
        if not isinstance(clip, Clip):
            raise ValueError(f"expected a Clip, got {type(clip).__name__}")
        if self.has_clip(clip.id):
            raise ValueError(f"clip {clip.id!r} is already in the project")
        track = self.track(track_id)
        if index is None:
            index = len(track.clips)
        track.clips.insert(index, clip)
        self.events.clip_added.emit(track, clip)

    def remove_clip(self, clip_id: str) -> tuple[Track, Clip]:
        """Take a clip off its track; returns ``(track, clip)``. Emits clip_removed."""
        track, clip = self.find_clip(clip_id)
        track.clips.remove(clip)
        self._drop_from_selection({clip_id}, None)
        self.events.clip_removed.emit(track, clip)
        return track, clip

    def update_clip(self, clip_id: str, **changes: Any) -> Clip:
        """Set clip fields (``start_s``, ``offset_s``, ``duration_s``, ``gain_db``, ``name``, ``audio``,
        ...). All changes are checked together; on a bad value nothing changes and ValueError is raised.
        Emits clip_changed(clip)."""
        _, clip = self.find_clip(clip_id)
        names = {f.name for f in fields(Clip)}
        unknown = set(changes) - names
        if unknown or "id" in changes:
            raise ValueError(f"cannot set clip field(s) {sorted(unknown | ({'id'} & set(changes)))}")
        _set_checked(clip, changes)
        self.events.clip_changed.emit(clip)
        return clip

    def update_track(self, track_id: str, **changes: Any) -> Track:
        """Set track fields (``name``, ``gain_db``, ``mute``, ``solo``). Emits track_changed(track)."""
        track = self.track(track_id)
        allowed = {"name", "gain_db", "mute", "solo"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot set track field(s) {sorted(unknown)}; expected some of {sorted(allowed)}")
        _set_checked(track, changes)
        self.events.track_changed.emit(track)
        return track

    def picture(self, picture_id: str) -> Any:
        """The picture with this id; raises KeyError naming the id if there is none."""
        for picture in self.pictures:
            if picture.id == picture_id:
                return picture
        raise KeyError(f"no picture with id {picture_id!r} in the project")

    def add_picture(self, picture: Any, index: int | None = None) -> None:
        """Put a picture into the gallery (at ``index``, default last). Emits picture_added."""
        from app.model.pictures import Picture

        if not isinstance(picture, Picture):
            raise ValueError(f"expected a Picture, got {type(picture).__name__}")
        if any(p.id == picture.id for p in self.pictures):
            raise ValueError(f"picture {picture.id!r} is already in the project")
        self.pictures.insert(len(self.pictures) if index is None else index, picture)
        self.events.picture_added.emit(picture)

    def remove_picture(self, picture_id: str) -> tuple[int, Any]:
        """Take a picture out of the gallery; returns ``(index, picture)``. Emits picture_removed."""
        picture = self.picture(picture_id)
        index = self.pictures.index(picture)
        del self.pictures[index]
        self.events.picture_removed.emit(picture)
        return index, picture

    # -- not undoable -----------------------------------------------------------------------

    def set_selection(self, selection: Selection) -> None:
        """Replace the selection; emits selection_changed if it differs."""
        if not isinstance(selection, Selection):
            raise ValueError(f"expected a Selection, got {type(selection).__name__}")
        if selection != self.selection:
            self.selection = selection
            self.events.selection_changed.emit(selection)

    def set_playhead(self, seconds: float) -> None:
        """Move the playhead (clamped at 0); emits playhead_moved if it moved."""
        seconds = min(MAX_TIMELINE_S, max(0.0, _finite("playhead_s", seconds)))
        if seconds != self.playhead_s:
            self.playhead_s = seconds
            self.events.playhead_moved.emit(seconds)

    def replace_contents(self, other: Project) -> None:
        """Become ``other`` (File > New / Open) while views keep holding this object.

        Resets selection and playhead (with their events), takes over ``other``'s sample rate,
        path, tracks, kept inputs and pictures (``other`` is left empty), then emits project_reset(self)
        once: no track, clip or picture events, so swapping in thousands of clips costs each view one rebuild.
        """
        self.set_selection(Selection())
        self.set_playhead(0.0)
        self.sample_rate_hz = other.sample_rate_hz
        self.path = other.path
        self.tracks[:] = other.tracks
        self.inputs = other.inputs
        self.pictures = other.pictures
        other.tracks.clear()
        other.inputs = {}
        other.pictures = []
        self.events.project_reset.emit(self)

    def _drop_from_selection(self, clip_ids: set[str], track_id: str | None) -> None:
        sel = self.selection
        changes: dict[str, Any] = {}
        if sel.clip_ids & clip_ids:
            changes["clip_ids"] = sel.clip_ids - clip_ids
        if track_id is not None and sel.track_id == track_id:
            changes["track_id"] = None
        if changes:
            self.set_selection(sel.with_changes(**changes))

    def __repr__(self) -> str:
        return f"Project({len(self.tracks)} tracks, {len(self.clips())} clips, {self.sample_rate_hz} Hz)"
