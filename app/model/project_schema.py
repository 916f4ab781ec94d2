"""What a project file (``.sdproj``) may hold: its limits and the schema of ``project.json``.
Qt-free and without I/O; :mod:`app.model.persistence` reads the zip and calls these checks.

Everything a file decides the size of is bounded before it is allocated (:class:`FileLimits`):
members of the zip, the JSON's size and nesting, track and clip counts, text lengths, recipe
sizes, image pixels, and the memory the audio and images need against what the machine has
free. :func:`check_manifest` checks the type, range and finiteness of every field of
``project.json`` and returns plain checked values. Every problem is a :class:`ProjectFileError`
whose one-line message names the file, the field (``tracks[0].clips[3].name``) and what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from app.model.project import (
    MAX_GAIN_DB,
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    MAX_PRESET_CHARS,
    MAX_SAMPLE_RATE_HZ,
    MAX_TIMELINE_S,
    MIN_GAIN_DB,
    MIN_SAMPLE_RATE_HZ,
)

FORMAT_NAME = "specdiff-project"
FORMAT_VERSION = 1
MiB = 1 << 20
GiB = 1 << 30
#: Longest clip or track id, in characters (ours are 32 hex digits).
MAX_ID_CHARS = 200
#: The share of the free memory a project's audio and images may take.
MEMORY_SHARE = 0.8


class ProjectFileError(ValueError):
    """A project file is missing, not a project, from a newer version, damaged or too big."""


@dataclass(frozen=True)
class FileLimits:
    """How big each part of a project file may be. The defaults fit hours of stereo audio in
    tens of thousands of clips; a file beyond them is refused before anything is inflated, and
    audio and images must also fit in the memory that is free (:meth:`memory_budget`)."""

    #: Members of the zip, and the size of its central directory (read before anything else).
    members: int = 200_000
    directory_bytes: int = 64 * MiB
    #: Uncompressed bytes of ``project.json``, ``masks.json``, one audio member, one image member.
    #: (16 MB of JSON is 50 000 clips; parsed, the worst such JSON takes about 20 times that.)
    manifest_bytes: int = 16 * MiB
    masks_bytes: int = 16 * MiB
    audio_member_bytes: int = 8 * GiB
    image_member_bytes: int = 256 * MiB
    #: Uncompressed bytes of all members together, as the zip declares them.
    total_bytes: int = 64 * GiB
    #: Width x height of one spectrogram image.
    image_pixels: int = 64_000_000
    #: Nesting of objects and lists in the JSON members, and how many there may be (counted
    #: before parsing: a few MB of ``{},{},...`` would otherwise parse into gigabytes).
    json_depth: int = 32
    json_containers: int = 2_000_000
    tracks: int = 1000
    clips: int = 50_000
    #: Pictures made from clips (``pictures/NNNN.png``): how many, and each one's bytes and pixels.
    pictures: int = 10_000
    picture_member_bytes: int = 64 * MiB
    picture_pixels: int = 4096 * 4096
    #: A clip's recipe, as compact JSON.
    recipe_bytes: int = 256 * 1024
    #: Memory the decoded audio and images may take; None: a share of what is free now.
    memory_bytes: int | None = None

    def memory_budget(self) -> int:
        return self.memory_bytes if self.memory_bytes is not None else free_memory_bytes()


DEFAULT_LIMITS = FileLimits()


def free_memory_bytes() -> int:
    """:data:`MEMORY_SHARE` of the memory this process can still take: the machine's available
    memory, and the room left under an address-space limit (``ulimit -v``) if one is set."""
    import psutil

    free = psutil.virtual_memory().available
    try:
        import resource
    except ImportError:  # Windows: no address-space limits
        return int(free * MEMORY_SHARE)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        free = min(free, max(0, soft - psutil.Process(os.getpid()).memory_info().vms))
    return int(free * MEMORY_SHARE)


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 kB``, ``7 bytes`` (decimal units)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def _describe(value: Any) -> str:
    """A short description of a JSON value for messages: its kind, and the value when short."""
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
    text = json.dumps(value, allow_nan=True) if not isinstance(value, (dict, list)) else ""
    return f"{kind} ({text[:40]}{'...' if len(text) > 40 else ''})" if text else kind


def _number_text(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"a {len(str(abs(value)))}-digit integer"
    return f"{value:g}"


class Fields:
    """Checks for the fields of one file: each failure is a ProjectFileError naming the file."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, field: str, problem: str) -> NoReturn:
        raise ProjectFileError(f"'{self.file}': {field} {problem}")

    def get(self, obj: dict, key: str, field: str, default: Any = ...) -> Any:
        if key in obj:
            return obj[key]
        if default is ...:
            self.fail(f"{field}.{key}" if field else key, "is missing.")
        return default

    def object(self, value: Any, field: str) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"must be a JSON object, got {_describe(value)}.")
        return value

    def list(self, value: Any, field: str, most: int) -> list:
        if not isinstance(value, list):
            self.fail(field, f"must be a list, got {_describe(value)}.")
        if len(value) > most:
            self.fail(field, f"holds {len(value)} entries; at most {most} are allowed.")
        return value

    def text(self, value: Any, field: str, most: int, *, optional: bool = False, empty: bool = True) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            self.fail(field, f"must be a string, got {_describe(value)}.")
        if len(value) > most:
            self.fail(field, f"is {len(value)} characters long; at most {most} are allowed.")
        if not value and not empty:
            self.fail(field, "must not be empty.")
        return value

    def number(self, value: Any, field: str, lo: float, hi: float, unit: str = "", *, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"must be a number, got {_describe(value)}.")
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(field, f"must be a finite number, got {value}.")
        if not lo <= value <= hi:
            self.fail(field, f"must be between {lo:g} and {hi:g}{unit}, got {_number_text(value)}.")
        return float(value)

    def integer(self, value: Any, field: str, lo: int, hi: int, unit: str = "") -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be an integer, got {_describe(value)}.")
        if not lo <= value <= hi:
            self.fail(field, f"must be between {lo} and {hi}{unit}, got {_number_text(value)}.")
        return value

    def flag(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, got {_describe(value)}.")
        return value

    def unique_id(self, obj: dict, field: str, seen: set[str], what: str) -> str:
        """``obj["id"]``: a non-empty string no earlier ``what`` had (added to ``seen``)."""
        value = self.text(self.get(obj, "id", field), f"{field}.id", MAX_ID_CHARS, empty=False)
        if value in seen:
            self.fail(f"{field}.id", f"{_describe(value)} is the id of an earlier {what} too.")
        seen.add(value)
        return value

    def member(self, value: Any, field: str, folder: str, members: set[str]) -> str:
        name = self.text(value, field, MAX_PATH_CHARS)
        if not name.startswith(folder) or ".." in name.split("/") or "\\" in name:
            self.fail(field, f"must name a member under {folder}, got {_describe(value)}.")
        if name not in members:
            self.fail(field, f"names {_describe(name)}, which is not in the file.")
        return name


def parse_json(data: bytes, fields: Fields, member: str, limits: FileLimits = DEFAULT_LIMITS) -> Any:
    """Parse a JSON member; its nesting may not exceed ``limits.json_depth`` nor its objects and
    lists ``limits.json_containers`` (braces inside strings count too: an upper bound)."""
    containers = data.count(b"{") + data.count(b"[")
    if containers > limits.json_containers:
        fields.fail(member, f"holds {containers} objects and lists; at most {limits.json_containers} are allowed.")
    try:
        value = json.loads(data)
    except RecursionError:
        fields.fail(member, f"is nested too deeply (at most {limits.json_depth} levels are allowed).")
    except ValueError as exc:  # also UnicodeDecodeError
        fields.fail(member, f"is not valid JSON ({str(exc)[:120]}).")
    depth = json_depth(value, limits.json_depth)
    if depth > limits.json_depth:
        fields.fail(member, f"is nested too deeply (more than {limits.json_depth} levels; at most {limits.json_depth} are allowed).")
    return value


def json_depth(value: Any, stop_above: int) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), counted without recursion; stops
    counting once it is above ``stop_above``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_above:
                return deepest
            stack.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


@dataclass(frozen=True)
class ClipEntry:
    """One clip of ``project.json``, checked (``audio``/``image`` are member names)."""

    field: str
    id: str
    name: str
    audio: str
    sample_rate_hz: int
    start_s: float
    offset_s: float
    duration_s: float | None
    gain_db: float
    recipe: dict | None
    image: str | None
    source_path: str | None
    spectrogram_preset: str


@dataclass(frozen=True)
class TrackEntry:
    field: str
    id: str
    name: str
    gain_db: float
    mute: bool
    solo: bool
    clips: tuple[ClipEntry, ...]


@dataclass(frozen=True)
class PictureEntry:
    """One picture of ``project.json``'s ``pictures``, checked (``image`` is a member name;
    ``clip_id`` the clip it came from, which may be gone)."""

    field: str
    id: str
    name: str
    clip_id: str | None
    image: str
    recipe: dict | None


@dataclass(frozen=True)
class Manifest:
    """``project.json``, checked."""

    sample_rate_hz: int
    playhead_s: float
    tracks: tuple[TrackEntry, ...]
    #: Kept input audio of edits: sha256 fingerprint -> member name (``inputs/<sha256>.wav``).
    inputs: dict[str, str] = field(default_factory=dict)
    #: Pictures made from clips (absent from files saved before pictures existed).
    pictures: tuple[PictureEntry, ...] = ()


def _checked_recipe(f: Fields, value: Any, field: str, limits: FileLimits) -> dict | None:
    """A clip's or picture's recipe: null or an object of at most ``limits.recipe_bytes``."""
    if value is None:
        return None
    f.object(value, field)
    size = len(json.dumps(value, separators=(",", ":")))
    if size > limits.recipe_bytes:
        f.fail(field, f"is {format_bytes(size)}; at most {format_bytes(limits.recipe_bytes)} are allowed.")
    return value


def check_manifest(data: Any, fields: Fields, members: set[str], limits: FileLimits = DEFAULT_LIMITS) -> Manifest:
    """Check every field of a parsed ``project.json``; ``members`` are the zip's member names."""
    f = fields
    root = f.object(data, "project.json")
    if root.get("format") != FORMAT_NAME:
        f.fail("project.json", "is not a Specdiff project (its `format` is not 'specdiff-project').")
    version = f.get(root, "version", "")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ProjectFileError(
            f"'{f.file}' was saved by a newer version (format {version}); this version reads format {FORMAT_VERSION}."
        )
    f.integer(version, "version", 1, FORMAT_VERSION)
    rate = f.integer(f.get(root, "sample_rate_hz", ""), "sample_rate_hz", MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ, " Hz")
    playhead = f.number(root.get("playhead_s", 0.0), "playhead_s", 0.0, MAX_TIMELINE_S, " s")
    raw_tracks = f.list(f.get(root, "tracks", ""), "tracks", limits.tracks)
    tracks, track_ids, clip_ids, clip_count = [], set(), set(), 0
    for i, t in enumerate(raw_tracks):
        tf = f"tracks[{i}]"
        t = f.object(t, tf)
        track_id = f.unique_id(t, tf, track_ids, "track")
        raw_clips = f.list(f.get(t, "clips", tf), f"{tf}.clips", limits.clips)
        clip_count += len(raw_clips)
        if clip_count > limits.clips:
            f.fail("tracks", f"hold more than {limits.clips} clips.")
        clips = []
        for j, c in enumerate(raw_clips):
            cf = f"{tf}.clips[{j}]"
            c = f.object(c, cf)
            clip_id = f.unique_id(c, cf, clip_ids, "clip")
            recipe = _checked_recipe(f, c.get("recipe"), f"{cf}.recipe", limits)
            clips.append(
                ClipEntry(
                    field=cf,
                    id=clip_id,
                    name=f.text(f.get(c, "name", cf), f"{cf}.name", MAX_NAME_CHARS),
                    audio=f.member(f.get(c, "audio", cf), f"{cf}.audio", "audio/", members),
                    sample_rate_hz=f.integer(f.get(c, "sample_rate_hz", cf), f"{cf}.sample_rate_hz",
                                             MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ, " Hz"),
                    start_s=f.number(f.get(c, "start_s", cf), f"{cf}.start_s", 0.0, MAX_TIMELINE_S, " s"),
                    offset_s=f.number(f.get(c, "offset_s", cf), f"{cf}.offset_s", 0.0, MAX_TIMELINE_S, " s"),
                    duration_s=f.number(f.get(c, "duration_s", cf), f"{cf}.duration_s", 1e-9, MAX_TIMELINE_S, " s",
                                        optional=True),
                    gain_db=f.number(f.get(c, "gain_db", cf), f"{cf}.gain_db", MIN_GAIN_DB, MAX_GAIN_DB, " dB"),
                    recipe=recipe,
                    image=None if c.get("image") is None else f.member(c["image"], f"{cf}.image", "images/", members),
                    source_path=f.text(c.get("source_path"), f"{cf}.source_path", MAX_PATH_CHARS, optional=True),
                    spectrogram_preset=f.text(c.get("spectrogram_preset", "riffusion"), f"{cf}.spectrogram_preset",
                                              MAX_PRESET_CHARS, empty=False),
                )
            )
        tracks.append(
            TrackEntry(
                field=tf,
                id=track_id,
                name=f.text(f.get(t, "name", tf), f"{tf}.name", MAX_NAME_CHARS),
                gain_db=f.number(f.get(t, "gain_db", tf), f"{tf}.gain_db", MIN_GAIN_DB, MAX_GAIN_DB, " dB"),
                mute=f.flag(f.get(t, "mute", tf), f"{tf}.mute"),
                solo=f.flag(f.get(t, "solo", tf), f"{tf}.solo"),
                clips=tuple(clips),
            )
        )
    raw_inputs = f.object(root.get("inputs", {}), "inputs")
    if len(raw_inputs) > limits.clips:
        f.fail("inputs", f"holds {len(raw_inputs)} entries; at most {limits.clips} are allowed.")
    inputs = {}
    for sha, member in raw_inputs.items():
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            f.fail("inputs", f"has the key {_describe(sha)}; keys are sha256 fingerprints (64 hex digits).")
        inputs[sha] = f.member(member, f"inputs.{sha[:12]}", "inputs/", members)
    pictures, picture_ids = [], set()
    for k, p in enumerate(f.list(root.get("pictures", []), "pictures", limits.pictures)):
        pf = f"pictures[{k}]"
        p = f.object(p, pf)
        pictures.append(
            PictureEntry(
                field=pf,
                id=f.unique_id(p, pf, picture_ids, "picture"),
                name=f.text(f.get(p, "name", pf), f"{pf}.name", MAX_NAME_CHARS),
                clip_id=f.text(p.get("clip_id"), f"{pf}.clip_id", MAX_ID_CHARS, optional=True),
                image=f.member(f.get(p, "image", pf), f"{pf}.image", "pictures/", members),
                recipe=_checked_recipe(f, p.get("recipe"), f"{pf}.recipe", limits),
            )
        )
    return Manifest(rate, playhead, tuple(tracks), inputs, tuple(pictures))
