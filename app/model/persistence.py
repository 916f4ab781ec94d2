"""Project files (``.sdproj``): a zip holding ``project.json``, each audio array once as a 32-bit
float WAV (sample-exact), each spectrogram image as a PNG with its EXIF params, the input
audio of the edits that made clips (``inputs/<sha256>.wav``, once per fingerprint, so Regenerate
can rerun them after the project is reopened), and the pictures made from clips
(``pictures/NNNN.png``, each a PNG carrying its recipe; the manifest's ``pictures`` lists them
with the clip each came from). Qt-free.

Saving is split so the GUI never blocks: :meth:`ProjectSnapshot.capture` runs on the GUI thread
(cheap: it copies field values and keeps references to the immutable arrays), and
:meth:`ProjectSnapshot.write` runs on a worker thread. Files are written to a temporary name,
fsync'ed and renamed, so a crash mid-save never destroys the previous file; the file keeps its
permission mode (a new one gets the umask's).

Reading trusts nothing in the file (:mod:`app.model.project_schema`): :class:`ProjectArchive`
checks the zip's directory and every member's declared size before inflating it and reads it
with a cap, ``project.json`` is checked field by field, audio and images are checked against
the memory that is free before they are decoded, and non-finite samples are refused. Every
problem is a :class:`ProjectFileError`; nothing is half-built.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.model.project import MAX_CHANNELS, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, Clip, Project, Track
from app.model.project_schema import (  # noqa: F401 - FORMAT_*, ProjectFileError re-exported
    DEFAULT_LIMITS,
    FORMAT_NAME,
    FORMAT_VERSION,
    Fields,
    FileLimits,
    Manifest,
    ProjectFileError,
    check_manifest,
    format_bytes,
    parse_json,
)
from engine.recipes import input_fingerprint
from engine.specs import Recipe

PROJECT_SUFFIX = ".sdproj"
#: Where the inputs of the jobs that made clips are kept (the manifest's ``inputs``): a clip's audio
#: as ``inputs/<sha256>.wav``, a file input (the spectrogram PNG a clip was vocoded from) as its
#: own bytes, ``inputs/<sha256>.png``.
INPUTS_FOLDER = "inputs/"
#: Where the pictures made from clips are kept (``pictures/NNNN.png``; the manifest's ``pictures``).
PICTURES_FOLDER = "pictures/"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MANIFEST_ENTRY = "project.json"
READ_CHUNK_BYTES = 1 << 20
AUDIO_BLOCK_FRAMES = 1 << 16
#: Bytes per sample of the WAV encodings a project's audio may use (we write FLOAT).
_SAMPLE_BYTES = {"FLOAT": 4, "DOUBLE": 8, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4}
_WAV_FORMATS = ("WAV", "WAVEX", "RF64")


@dataclass
class ProjectSnapshot:
    """The project's state at one moment, ready to be written from any thread."""

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    rates: dict[str, int]
    images: dict[str, Any]
    #: Pictures made from clips: member name -> (PIL image, its recipe or None).
    pictures: dict[str, tuple[Any, Recipe | None]] = field(default_factory=dict)
    #: Members written as they are (file inputs: a vocoded PNG's bytes).
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def capture(cls, project: Project) -> ProjectSnapshot:
        arrays: dict[str, np.ndarray] = {}
        rates: dict[str, int] = {}
        images: dict[str, Any] = {}
        keys: dict[int, str] = {}
        tracks = []
        for track in project.tracks:
            clips = []
            for clip in track.clips:
                key = keys.get(id(clip.audio))
                if key is None:  # split and duplicated clips share their array: store it once
                    key = keys[id(clip.audio)] = f"audio/{len(arrays):04d}.wav"
                    arrays[key] = clip.audio
                    rates[key] = clip.sample_rate_hz
                image_key = None
                if clip.image is not None:
                    image_key = keys.get(id(clip.image))
                    if image_key is None:
                        image_key = keys[id(clip.image)] = f"images/{len(images):04d}.png"
                        images[image_key] = clip.image
                clips.append(
                    {
                        "id": clip.id,
                        "name": clip.name,
                        "audio": key,
                        "sample_rate_hz": clip.sample_rate_hz,
                        "start_s": clip.start_s,
                        "offset_s": clip.offset_s,
                        "duration_s": clip.duration_s,
                        "gain_db": clip.gain_db,
                        "recipe": clip.recipe.to_dict() if clip.recipe is not None else None,
                        "image": image_key,
                        "source_path": clip.source_path,
                        "spectrogram_preset": clip.spectrogram_preset,
                    }
                )
            tracks.append(
                {
                    "id": track.id,
                    "name": track.name,
                    "gain_db": track.gain_db,
                    "mute": track.mute,
                    "solo": track.solo,
                    "clips": clips,
                }
            )
        inputs = {}
        files: dict[str, bytes] = {}
        for sha, value in project.referenced_inputs().items():  # each once, by fingerprint
            if isinstance(value, bytes):  # a file input: the spectrogram PNG a clip was vocoded from
                key = inputs[sha] = f"{INPUTS_FOLDER}{sha}.png"
                files[key] = value
                continue
            key = inputs[sha] = f"{INPUTS_FOLDER}{sha}.wav"
            arrays[key], rates[key] = value
        pictures, picture_entries = {}, []
        for picture in project.pictures:
            key = f"{PICTURES_FOLDER}{len(pictures):04d}.png"
            pictures[key] = (picture.image, picture.recipe)
            picture_entries.append({"id": picture.id, "name": picture.name, "clip_id": picture.clip_id, "image": key,
                                    "recipe": picture.recipe.to_dict() if picture.recipe is not None else None})
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "sample_rate_hz": project.sample_rate_hz,
            "playhead_s": project.playhead_s,
            "tracks": tracks,
            "inputs": inputs,
            "pictures": picture_entries,
        }
        return cls(manifest, arrays, rates, images, pictures, files)

    def write(self, path: str | os.PathLike, extra: Mapping[str, bytes] | None = None) -> None:
        """Write the project file, with ``extra`` members (name -> bytes), atomically and durably
        replacing ``path``: an existing file keeps its permission mode, a new one gets the
        umask's. What killed saves of ``path`` left next to it goes first. Raises OSError or
        ValueError (engine.audio.io.AudioWriteError) when the disk refuses; ``path`` is then
        untouched."""
        from engine.audio.io import atomic_output_path, remove_leftover_temps

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftover_temps(path.parent, path.name)
        with atomic_output_path(path) as tmp:
            self.write_zip(tmp, extra)

    def write_zip(self, target: str | os.PathLike, extra: Mapping[str, bytes] | None = None) -> None:
        """Write the zip to ``target`` as it is (no temporary name: :meth:`write` provides it)."""
        import soundfile as sf

        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr(MANIFEST_ENTRY, json.dumps(self.manifest, indent=1))
            for key, audio in self.arrays.items():
                buf = io.BytesIO()
                sf.write(buf, np.ascontiguousarray(audio.T), self.rates[key], format="WAV", subtype="FLOAT")
                zf.writestr(key, buf.getvalue())
            for key, image in self.images.items():
                buf = io.BytesIO()
                exif = image.getexif() if hasattr(image, "getexif") else None
                image.save(buf, format="PNG", **({"exif": exif} if exif else {}))
                zf.writestr(key, buf.getvalue(), compress_type=zipfile.ZIP_STORED)
            for key, (image, recipe) in self.pictures.items():
                zf.writestr(key, picture_png(image, recipe), compress_type=zipfile.ZIP_STORED)
            for key, data in self.files.items():
                zf.writestr(key, data, compress_type=zipfile.ZIP_STORED)
            for name, data in (extra or {}).items():
                zf.writestr(name, data)


def picture_png(image: Any, recipe: Recipe | None) -> bytes:
    """A picture as PNG bytes, its recipe in the ``specdiff-recipe`` text chunk when it has one
    (the same file Save PNG writes and ``specdiff-cli regenerate`` reads)."""
    from engine.pictures.png import png_bytes

    if recipe is not None:
        return png_bytes(image, recipe)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_project(project: Project, path: str | os.PathLike) -> None:
    """Capture and write in one go (for scripts and tests; the app splits the two)."""
    ProjectSnapshot.capture(project).write(path)


# ---------------------------------------------------------------------------------------- reading


def _reason(exc: BaseException) -> str:
    """An exception as a short text for a one-line message, without object reprs."""
    text = re.sub(r"(Error opening )?<[^<>]* at 0x[0-9a-fA-F]+>:?\s*", "", str(exc)).strip() or type(exc).__name__
    return text[:160]


class _MemoryFile:
    """A read-only file over a bytearray for soundfile's virtual I/O (no copy of the data)."""

    def __init__(self, data: bytearray) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = (0, self._pos, len(self._view))[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        chunk = self._view[self._pos : self._pos + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else self._pos + n
        chunk = bytes(self._view[self._pos : end])
        self._pos += len(chunk)
        return chunk


class ProjectArchive:
    """A project file opened for reading: the zip's directory is checked (entry count, its size,
    duplicate names, the declared total) before it is parsed, and every member's declared size
    before it is inflated; members are read with a cap. Use as a context manager."""

    def __init__(self, path: str | os.PathLike, limits: FileLimits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.limits = limits
        self.fields = Fields(str(self.path))
        if not self.path.is_file():
            raise ProjectFileError(f"Project file '{self.path}' does not exist.")
        try:
            with open(self.path, "rb") as fp:
                end = zipfile._EndRecData(fp)  # the end record: entry count and directory size
            if end is not None:
                entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
                if entries > limits.members or size > limits.directory_bytes:
                    raise ProjectFileError(
                        f"'{self.path}' lists {entries} members in a {format_bytes(size)} directory; at most "
                        f"{limits.members} members and {format_bytes(limits.directory_bytes)} are allowed."
                    )
            self.zip = zipfile.ZipFile(self.path)
        except ProjectFileError:
            raise
        except OSError as exc:
            raise ProjectFileError(f"'{self.path}' cannot be read: {exc.strerror or exc}.") from None
        except Exception as exc:  # noqa: BLE001 - BadZipFile, struct.error, ValueError, ... from a damaged directory
            raise ProjectFileError(f"'{self.path}' is not a Specdiff project file (not a readable zip archive: {_reason(exc)}).") from None
        self.infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in self.zip.infolist():
            if info.filename in self.infos:
                self.close()
                self.fields.fail(f"member {info.filename!r}", "appears twice in the zip.")
            self.infos[info.filename] = info
            total += info.file_size
        if total > limits.total_bytes:
            self.close()
            raise ProjectFileError(
                f"'{self.path}' declares {format_bytes(total)} of uncompressed data; at most "
                f"{format_bytes(limits.total_bytes)} are allowed."
            )

    def __enter__(self) -> ProjectArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()

    @property
    def names(self) -> set[str]:
        return set(self.infos)

    def declared_size(self, name: str) -> int:
        return self.infos[name].file_size

    def read(self, name: str, cap: int, head: bytes | tuple[bytes, ...] = b"") -> bytearray:
        """The member's bytes. Refused before inflating if it declares more than ``cap`` bytes or
        does not start with ``head`` (checked on the first chunk: a bomb of zeros stops there);
        read in chunks into a buffer that grows with what really arrives, never past what the
        member declared (zipfile checks the CRC at the end)."""
        info = self.infos.get(name)
        if info is None:
            self.fields.fail(name, "is missing from the zip.")
        if info.file_size > cap:
            self.fields.fail(name, f"declares {format_bytes(info.file_size)}; at most {format_bytes(cap)} are allowed.")
        if info.flag_bits & 0x1:
            self.fields.fail(name, "is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self.fields.fail(name, f"uses a compression this version does not read (method {info.compress_type}).")
        data = bytearray()
        try:
            with self.zip.open(info) as raw:
                while len(data) < info.file_size:
                    chunk = raw.read(min(READ_CHUNK_BYTES, info.file_size - len(data)))
                    if not chunk:
                        break
                    if not data and not chunk.startswith(head):
                        self.fields.fail(name, f"is not what it should be (it does not start with {head!r}).")
                    data += chunk
                more = raw.read(1)  # reaches the end: zipfile checks the CRC there
        except ProjectFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - BadZipFile, zlib.error, EOFError, OSError, ...
            self.fields.fail(name, f"is damaged ({type(exc).__name__}: {_reason(exc)}).")
        if len(data) < info.file_size or more:
            self.fields.fail(name, f"holds {'less' if more == b'' else 'more'} data than the zip declares.")
        return data

    def read_json(self, name: str, cap: int) -> Any:
        return parse_json(bytes(self.read(name, cap)), self.fields, name, self.limits)


class _Budget:
    """Memory the decoded audio and images may still take; refuses before allocating."""

    def __init__(self, archive: ProjectArchive, total: int) -> None:
        self.archive = archive
        self.left = total
        self.total = total

    def take(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise ProjectFileError(
                f"'{self.archive.path}' needs more memory than is free to open: {what} alone takes "
                f"{format_bytes(nbytes)}, and {format_bytes(self.left)} of {format_bytes(self.total)} is left."
            )
        self.left -= nbytes


def _read_audio(archive: ProjectArchive, key: str, budget: _Budget) -> tuple[np.ndarray, int]:
    """A WAV member as float32 ``(channels, samples)``, checked: 1-2 channels, a sample rate in
    range, every sample finite. Memory is taken from ``budget`` before the array exists."""
    import soundfile as sf

    f = archive.fields
    budget.take(archive.declared_size(key), key)  # the member's bytes, while they are decoded
    data = archive.read(key, archive.limits.audio_member_bytes, head=(b"RIFF", b"RF64"))
    try:
        with sf.SoundFile(_MemoryFile(data)) as snd:
            channels, rate, frames = snd.channels, snd.samplerate, snd.frames
            if snd.format not in _WAV_FORMATS or snd.subtype not in _SAMPLE_BYTES:
                f.fail(key, f"must be a WAV file of {'/'.join(_SAMPLE_BYTES)} samples, got {snd.format} {snd.subtype}.")
            if not 1 <= channels <= MAX_CHANNELS:
                f.fail(key, f"has {channels} channels; a clip has 1 or 2.")
            if not MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ:
                f.fail(key, f"has a sample rate of {rate} Hz; {MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz are allowed.")
            if frames < 1 or frames * channels * _SAMPLE_BYTES[snd.subtype] > len(data):
                f.fail(key, f"declares {frames} frames, which its {format_bytes(len(data))} cannot hold.")
            budget.take(frames * channels * 4, key)
            audio = np.empty((channels, frames), dtype=np.float32)
            block = np.empty((min(frames, AUDIO_BLOCK_FRAMES), channels), dtype=np.float32)
            done = 0
            while done < frames:
                got = snd.read(dtype="float32", always_2d=True, out=block[: min(frames - done, len(block))])
                n = got.shape[0]
                if n == 0:
                    break
                finite = np.isfinite(got).all(axis=1)
                if not finite.all():
                    f.fail(key, f"holds a NaN or infinite sample (at sample {done + int(np.argmin(finite))}).")
                audio[:, done : done + n] = got.T
                done += n
    except ProjectFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile errors, TypeError, ValueError from a damaged header
        f.fail(key, f"is not a readable WAV file ({_reason(exc)}).")
    finally:
        budget.left += len(data)  # the member's bytes go now
        del data
    if done < frames:
        f.fail(key, f"ends after {done} of its {frames} frames.")
    return audio, int(rate)


def _read_image(archive: ProjectArchive, key: str, budget: _Budget, *, pixels: int | None = None,
                member_bytes: int | None = None) -> Any:
    """A PNG member as a loaded PIL image, its pixel count checked before it is decoded and its
    EXIF (the spectrogram's params) readable, so the project saves again. ``pixels`` and
    ``member_bytes``: the caps (default: a spectrogram image's)."""
    from PIL import Image

    f = archive.fields
    limit = archive.limits.image_pixels if pixels is None else pixels
    cap = archive.limits.image_member_bytes if member_bytes is None else member_bytes
    data = archive.read(key, cap, head=b"\x89PNG\r\n\x1a\n")
    try:
        image = Image.open(io.BytesIO(bytes(data)), formats=["PNG"])
        width, height = image.size
        if width * height > limit:
            f.fail(key, f"is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); at most {limit / 1e6:.0f} are allowed.")
        budget.take(width * height * 4, key)
        image.load()
        image.getexif().tobytes()
    except ProjectFileError:
        raise
    except Image.UnidentifiedImageError:
        f.fail(key, "is not a PNG image.")
    except Image.DecompressionBombError:
        f.fail(key, f"is an image of more than {limit / 1e6:.0f} megapixels (a decompression bomb).")
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds on damaged images and EXIF
        f.fail(key, f"is not a readable PNG image ({type(exc).__name__}: {_reason(exc)}).")
    return image


def project_from_archive(archive: ProjectArchive) -> tuple[Project, list[str]]:
    """Build a new Project from an opened archive; returns it with warnings (recipes this version
    cannot read are left out of their clips). Raises ProjectFileError."""
    f = archive.fields
    manifest: Manifest = check_manifest(
        archive.read_json(MANIFEST_ENTRY, archive.limits.manifest_bytes), f, archive.names, archive.limits
    )
    budget = _Budget(archive, archive.limits.memory_budget())
    arrays: dict[str, tuple[np.ndarray, int]] = {}
    images: dict[str, Any] = {}
    warnings: list[str] = []
    project = Project(sample_rate_hz=manifest.sample_rate_hz)
    for t in manifest.tracks:
        track = Track(id=t.id, name=t.name, gain_db=t.gain_db, mute=t.mute, solo=t.solo)
        for c in t.clips:
            if c.audio not in arrays:
                arrays[c.audio] = _read_audio(archive, c.audio, budget)
            audio, rate = arrays[c.audio]
            if rate != c.sample_rate_hz:
                f.fail(f"{c.field}.sample_rate_hz", f"is {c.sample_rate_hz} Hz but its audio {c.audio} is at {rate} Hz.")
            if c.image is not None and c.image not in images:
                images[c.image] = _read_image(archive, c.image, budget)
            recipe = None
            if c.recipe is not None:
                try:
                    recipe = Recipe.from_dict(c.recipe)
                except (ValueError, TypeError) as exc:
                    warnings.append(f"Clip {c.name[:60]!r}: its recipe cannot be read ({_reason(exc)}); the clip opens without it.")
            try:
                clip = Clip(id=c.id, name=c.name, audio=audio, sample_rate_hz=rate, start_s=c.start_s,
                            offset_s=c.offset_s, duration_s=c.duration_s, gain_db=c.gain_db, recipe=recipe,
                            image=images.get(c.image) if c.image else None, source_path=c.source_path,
                            spectrogram_preset=c.spectrogram_preset)
            except ValueError as exc:  # the trim against the audio's length
                f.fail(c.field, f"does not fit its audio: {exc}")
            track.clips.append(clip)
        project.add_track(track)
    project.playhead_s = manifest.playhead_s
    for sha, key in manifest.inputs.items():
        try:
            if key.endswith(".wav"):
                value: Any = _read_audio(archive, key, budget)
            else:  # a file input (a spectrogram PNG), kept as its bytes; the vocode job checks them
                value = bytes(archive.read(key, archive.limits.image_member_bytes, head=PNG_SIGNATURE))
        except ProjectFileError as exc:  # the project opens without it: only Regenerate needs it
            warnings.append(f"{exc} Clips made from it cannot be regenerated.")
            continue
        if input_fingerprint(value) != sha:
            warnings.append(f"The kept input {key} is not the input its name says; clips made from it cannot be regenerated.")
            continue
        project.inputs[sha] = value
    _read_pictures(archive, manifest, project, budget, warnings)
    return project, warnings


def _read_pictures(archive: ProjectArchive, manifest: Manifest, project: Project, budget: _Budget,
                   warnings: list[str]) -> None:
    """The manifest's pictures into ``project.pictures``. One that cannot be decoded is left
    out with a warning (the project still opens); one whose recipe this version cannot read
    opens without it (it cannot be regenerated)."""
    from app.model.pictures import Picture

    limits = archive.limits
    for entry in manifest.pictures:
        try:
            image = _read_image(archive, entry.image, budget, pixels=limits.picture_pixels,
                                member_bytes=limits.picture_member_bytes).convert("RGB")
        except ProjectFileError as exc:
            warnings.append(f"{exc} The picture {entry.name[:60]!r} is left out.")
            continue
        recipe = None
        if entry.recipe is not None:
            try:
                recipe = Recipe.from_dict(entry.recipe)
            except (ValueError, TypeError) as exc:
                warnings.append(f"Picture {entry.name[:60]!r}: its recipe cannot be read ({_reason(exc)}); "
                                "it opens without it.")
        try:
            project.pictures.append(Picture(id=entry.id, name=entry.name, clip_id=entry.clip_id, image=image,
                                            recipe=recipe))
        except ValueError as exc:
            archive.fields.fail(entry.field, f"is not a picture: {exc}")


def load_project(path: str | os.PathLike, limits: FileLimits = DEFAULT_LIMITS) -> Project:
    """Read a ``.sdproj`` file into a new Project (``path`` set). Raises ProjectFileError, and
    nothing else, for any file."""
    with ProjectArchive(path, limits) as archive:
        project, _ = project_from_archive(archive)
    project.path = str(path)
    return project
