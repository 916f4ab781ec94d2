"""Audio file I/O and small sample-array helpers (Qt-free, numpy + soundfile).

Conventions used throughout the engine:

* audio arrays are ``float32`` numpy arrays shaped ``(channels, samples)`` with
  full scale at +/-1.0;
* sample rates are integers in Hz (``sample_rate_hz``);
* every problem with a file or an array raises a subclass of
  :class:`AudioFileError` (itself a :class:`ValueError`) whose message names the
  file (or array) and says what was wrong and what was expected.

torchaudio's load/save need torchcodec, which we do not ship, so all file I/O
goes through soundfile (libsndfile): WAV, FLAC, OGG/Vorbis, MP3 and the other
formats libsndfile reads.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

__all__ = [
    "MAX_CHANNELS",
    "MIN_SAMPLE_RATE_HZ",
    "MAX_SAMPLE_RATE_HZ",
    "METADATA_KEYS",
    "WRITE_SUBTYPES",
    "AudioFileError",
    "AudioFileMissingError",
    "AudioFileCorruptError",
    "AudioFileEmptyError",
    "AudioNonFiniteError",
    "AudioChannelsError",
    "AudioSampleRateError",
    "AudioWriteError",
    "read_audio",
    "read_audio_info",
    "read_audio_metadata",
    "write_audio",
    "atomic_output_path",
    "remove_leftover_temps",
    "validate_audio",
    "validate_sample_rate",
    "resample",
    "to_mono",
    "to_stereo",
    "to_channels",
    "peak_normalize",
    "fit_length",
    "prepare_clip",
]

MAX_CHANNELS = 8
MIN_SAMPLE_RATE_HZ = 1000
MAX_SAMPLE_RATE_HZ = 768000

#: Tag names soundfile can store (WAV INFO chunk / FLAC Vorbis comments).
METADATA_KEYS = (
    "title", "copyright", "software", "artist", "comment",
    "date", "album", "license", "tracknumber", "genre",
)

#: Subtypes write_audio accepts, and the file formats (by suffix) that take each.
WRITE_SUBTYPES = {"PCM_16": ("WAV", "FLAC"), "PCM_24": ("WAV", "FLAC"), "FLOAT": ("WAV",)}
_FORMAT_BY_SUFFIX = {".wav": "WAV", ".flac": "FLAC"}


class AudioFileError(ValueError):
    """Base class: a file or sample array the engine cannot use. The message says why."""


class AudioFileMissingError(AudioFileError):
    """The path does not exist or is not a regular file."""


class AudioFileCorruptError(AudioFileError):
    """The file is unreadable: corrupt bytes, truncated, or an unsupported format."""


class AudioFileEmptyError(AudioFileError):
    """The file (or array) holds zero samples."""


class AudioNonFiniteError(AudioFileError):
    """The samples contain NaN or infinity."""


class AudioChannelsError(AudioFileError):
    """More channels than :data:`MAX_CHANNELS` (or a malformed channel axis)."""


class AudioSampleRateError(AudioFileError):
    """A sample rate outside :data:`MIN_SAMPLE_RATE_HZ`..:data:`MAX_SAMPLE_RATE_HZ`."""


class AudioWriteError(AudioFileError):
    """Writing failed; the previous file at the destination (if any) is untouched."""


# --------------------------------------------------------------------------- validation


def validate_sample_rate(sample_rate_hz: object, name: str = "audio") -> int:
    """Check ``sample_rate_hz`` is an integer in 1000..768000 Hz and return it as ``int``.

    Raises:
        AudioSampleRateError: not an integer, or outside the supported range.
    """
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, numbers.Integral):
        raise AudioSampleRateError(
            f"{name}: sample rate must be an integer number of Hz, got {sample_rate_hz!r}"
        )
    rate = int(sample_rate_hz)
    if not MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ:
        raise AudioSampleRateError(
            f"{name}: sample rate {rate} Hz is outside the supported range "
            f"{MIN_SAMPLE_RATE_HZ}..{MAX_SAMPLE_RATE_HZ} Hz"
        )
    return rate


def _check_channel_count(channels: int, name: str, hint: str = "") -> None:
    if channels < 1 or channels > MAX_CHANNELS:
        raise AudioChannelsError(
            f"{name}: has {channels} channels; between 1 and {MAX_CHANNELS} are supported{hint}"
        )


def validate_audio(audio: object, sample_rate_hz: object, name: str = "audio") -> None:
    """Check a sample array and its rate before any processing or writing.

    Expects a real-valued numpy array shaped ``(channels, samples)`` with
    1..:data:`MAX_CHANNELS` channels, at least one sample, only finite values,
    and an integer sample rate in 1000..768000 Hz.

    Raises:
        AudioChannelsError: wrong number of dimensions or channels.
        AudioFileEmptyError: zero samples.
        AudioNonFiniteError: NaN or infinite samples (the message counts them).
        AudioSampleRateError: bad sample rate.
        AudioFileError: not a numeric numpy array.
    """
    if not isinstance(audio, np.ndarray):
        raise AudioFileError(
            f"{name}: expected a numpy array shaped (channels, samples), got {type(audio).__name__}"
        )
    if audio.dtype.kind not in "fiu":
        raise AudioFileError(f"{name}: expected real-valued samples, got dtype {audio.dtype}")
    if audio.ndim != 2:
        raise AudioChannelsError(
            f"{name}: expected an array shaped (channels, samples), got shape {audio.shape}"
        )
    hint = ""
    if audio.shape[0] > MAX_CHANNELS and audio.shape[1] <= MAX_CHANNELS:
        hint = f" (shape {audio.shape}: did you pass (samples, channels)? transpose it)"
    _check_channel_count(audio.shape[0], name, hint)
    if audio.shape[1] == 0:
        raise AudioFileEmptyError(f"{name}: contains no samples (zero-length audio)")
    if audio.dtype.kind == "f":
        finite = np.isfinite(audio)
        if not finite.all():
            bad = int(audio.size - np.count_nonzero(finite))
            raise AudioNonFiniteError(
                f"{name}: {bad} sample(s) are NaN or infinite; audio must be finite"
            )
    validate_sample_rate(sample_rate_hz, name)


# --------------------------------------------------------------------------- reading


def _existing_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise AudioFileMissingError(f"{p}: no such file")
    if not p.is_file():
        raise AudioFileMissingError(f"{p}: is not a regular file")
    if p.stat().st_size == 0:
        raise AudioFileEmptyError(f"{p}: the file is empty (0 bytes)")
    return p


@contextlib.contextmanager
def _open_for_reading(p: Path) -> Iterator[sf.SoundFile]:
    try:
        f = sf.SoundFile(p)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileCorruptError(
            f"{p}: cannot be read as audio (corrupt, truncated or unsupported format): {exc}"
        ) from exc
    with f:
        yield f


def read_audio(path: str | os.PathLike[str], *, max_duration_s: float | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file (WAV, FLAC, OGG/Vorbis, MP3, ... whatever libsndfile reads).

    Returns:
        ``(audio, sample_rate_hz)``: ``audio`` is float32 shaped ``(channels, samples)``,
        full scale +/-1.0 (integer files are scaled by 1/2**(bits-1)); the file's own rate.

    Raises:
        AudioFileMissingError: no such file / not a file.
        AudioFileEmptyError: a 0-byte file, or a valid header with zero frames.
        AudioFileCorruptError: unreadable bytes or unsupported format.
        AudioChannelsError: more than :data:`MAX_CHANNELS` channels.
        AudioSampleRateError: rate outside 1000..768000 Hz.
        AudioNonFiniteError: NaN or infinite samples (float files).
        engine.audio.limits.ResourceLimitError: longer than ``max_duration_s`` (default
            :data:`engine.audio.limits.MAX_AUDIO_DURATION_S`) or more than the memory available,
            refused from the header before the samples are read.
    """
    p = _existing_file(path)
    with _open_for_reading(p) as f:
        # Check the header before loading any samples, so a bogus header never
        # makes us allocate a huge buffer.
        _check_channel_count(f.channels, str(p))
        validate_sample_rate(f.samplerate, str(p))
        rate = int(f.samplerate)
        audio = _read_blocks(f, p, max_duration_s)
    validate_audio(audio, rate, str(p))
    return audio, rate


#: Frames read per block: the samples go straight into the (channels, samples) result.
_READ_BLOCK_FRAMES = 1 << 20


def _read_blocks(f: sf.SoundFile, p: Path, max_duration_s: float | None) -> np.ndarray:
    """All samples of ``f`` as float32 (channels, samples), refused first if too long or too big."""
    from engine.audio.limits import (
        MAX_AUDIO_DURATION_S,
        ResourceLimitError,
        check_memory,
        format_bytes,
        format_duration,
    )

    limit = MAX_AUDIO_DURATION_S if max_duration_s is None else max_duration_s
    frames = int(f.frames) if f.seekable() else -1
    if frames > limit * f.samplerate:
        raise ResourceLimitError(
            f"{p}: {format_duration(frames / f.samplerate)} of audio ({f.channels} channel(s) at "
            f"{f.samplerate} Hz, {format_bytes(4.0 * frames * f.channels)} as float32); at most "
            f"{format_duration(limit)} is read - cut it into shorter files."
        )
    if frames >= 0:
        check_memory(4.0 * frames * f.channels, f"reading {p} ({format_duration(frames / f.samplerate)})")
    # Into one preallocated array when the header gives the length (no second copy at the end).
    out = np.empty((f.channels, max(frames, 0)), dtype=np.float32)
    done = 0
    try:
        while True:
            block = f.read(_READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
            if not len(block):
                break
            if done + len(block) > out.shape[1]:
                if done + len(block) > limit * f.samplerate:  # a header that lied about its length
                    raise ResourceLimitError(f"{p}: more than {format_duration(limit)} of audio; at most that is read.")
                grown = np.empty((f.channels, max(2 * out.shape[1], done + len(block))), dtype=np.float32)
                grown[:, :done] = out[:, :done]
                out = grown
            out[:, done : done + len(block)] = block.T
            done += len(block)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileCorruptError(f"{p}: the audio data cannot be decoded: {exc}") from exc
    return out if done == out.shape[1] else np.ascontiguousarray(out[:, :done])


def read_audio_info(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """``(frames, sample_rate_hz, channels)`` from a file's header, reading no samples.

    Raises:
        AudioFileMissingError, AudioFileEmptyError, AudioFileCorruptError, AudioChannelsError,
        AudioSampleRateError: as :func:`read_audio`.
    """
    p = _existing_file(path)
    with _open_for_reading(p) as f:
        _check_channel_count(f.channels, str(p))
        validate_sample_rate(f.samplerate, str(p))
        return int(f.frames), int(f.samplerate), int(f.channels)


def read_audio_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read the text tags of an audio file (WAV INFO chunk, FLAC/OGG Vorbis comments).

    Returns:
        Only the tags present, keyed by :data:`METADATA_KEYS` names
        (``title``, ``comment``, ``software``, ...). libsndfile appends its own
        version to ``software`` when writing, e.g. ``"specdiff (libsndfile-1.2.2)"``.

    Raises:
        AudioFileMissingError, AudioFileEmptyError, AudioFileCorruptError: as :func:`read_audio`.
    """
    p = _existing_file(path)
    with _open_for_reading(p) as f:
        return f.copy_metadata()


# --------------------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_output_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path`` atomically.

    The caller writes the complete file to the yielded path. When the block exits
    normally the temp file is fsync'ed and ``os.replace``'d onto ``path`` (the
    directory is fsync'ed too where the OS allows), so readers only ever see the
    old file or the complete new one. If the block raises, the temp file is
    removed and ``path`` is untouched. An existing destination keeps its
    permission bits; a new one gets the usual umask-derived mode.

    Raises:
        AudioWriteError: the destination directory is missing, or the temp file
            cannot be created, synced or moved (the OSError is chained).
    """
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path(".")
    if not directory.is_dir():
        raise AudioWriteError(f"{dest}: the folder {directory} does not exist")
    # The writer's pid is in the name, so a later start can tell a dead save's leftover from a live one.
    tmp = directory / f".{dest.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
        if dest.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, dest.stat().st_mode & 0o7777)
    except OSError as exc:
        raise AudioWriteError(f"{dest}: cannot create a temporary file in {directory}: {exc}") from exc
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AudioWriteError(f"{dest}: writing failed: {exc}") from exc
        raise
    with contextlib.suppress(OSError, AttributeError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


#: ``.<name>.<pid>-<12 hex>.tmp``: what :func:`atomic_output_path` writes before the rename.
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{12}\.tmp$")
#: Temporary names of earlier versions, which carry no pid: ``.<name>.<12 hex>.tmp`` (with an
#: optional ``.<mkstemp>.tmp`` tail) and ``<name>.<mkstemp>.tmp``.
_LEGACY_TEMP_RES = (
    re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.tmp(\.[a-z0-9_]{8}\.tmp)?$"),
    re.compile(r"^(?P<name>[^.].*)\.[a-z0-9_]{8}\.tmp$"),
)
#: A temporary file of an earlier version is left alone until it is this old (its writer is
#: unknown; no save takes this long without touching its file).
LEGACY_TEMP_AGE_S = 600.0


def _owner_running(pid: int, mtime: float) -> bool:
    """Whether process ``pid`` runs and is old enough to have written a file at ``mtime`` (a
    process that started later only reuses a dead writer's pid)."""
    import psutil

    if pid == os.getpid():
        return True
    try:
        return psutil.Process(pid).create_time() <= mtime + 1.0
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, OSError):  # access denied or unknown: assume it is alive, keep the file
        return True


def remove_leftover_temps(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Delete what killed writes left in ``folder``: :func:`atomic_output_path` temporaries whose
    writing process is gone (those of ``name`` only, when given). Temporaries of a process that
    is still running (this one, another window) stay; pid-less ones of earlier versions go once
    :data:`LEGACY_TEMP_AGE_S` old. Files that are not ours are never touched. Returns what was
    deleted; errors (a folder that went away, a file someone else holds) are skipped."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.endswith(".tmp"):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            mtime = entry.stat(follow_symlinks=False).st_mtime
            match = _TEMP_RE.match(entry.name)
            if match is not None:
                if (name is not None and match["name"] != name) or _owner_running(int(match["pid"]), mtime):
                    continue
            else:
                legacy = next((m for m in (r.match(entry.name) for r in _LEGACY_TEMP_RES) if m), None)
                if legacy is None or (name is not None and legacy["name"] != name) or now - mtime < LEGACY_TEMP_AGE_S:
                    continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _check_metadata(dest: Path, metadata: Mapping[str, str] | None) -> dict[str, str]:
    if not metadata:
        return {}
    unknown = sorted(set(metadata) - set(METADATA_KEYS))
    if unknown:
        raise AudioWriteError(
            f"{dest}: unsupported metadata key(s) {unknown}; supported: {list(METADATA_KEYS)}"
        )
    bad = sorted(k for k, v in metadata.items() if not isinstance(v, str))
    if bad:
        raise AudioWriteError(f"{dest}: metadata values must be strings; not for {bad}")
    return dict(metadata)


def _metadata_survived(written: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    lost = []
    for key, value in wanted.items():
        got = written.get(key)
        # libsndfile appends " (libsndfile-x.y.z)" to the software tag.
        ok = got is not None and (got.startswith(value) if key == "software" else got == value)
        if not ok:
            lost.append(key)
    return lost


def write_audio(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate_hz: int,
    *,
    subtype: str = "PCM_16",
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``audio`` to a WAV or FLAC file (chosen by the suffix), atomically.

    Args:
        path: destination ``.wav`` or ``.flac``.
        audio: float samples shaped ``(channels, samples)`` (a 1-D array is taken as mono).
        sample_rate_hz: integer rate, 1000..768000 Hz.
        subtype: ``"PCM_16"`` or ``"PCM_24"`` (WAV or FLAC) or ``"FLOAT"`` (32-bit
            float, WAV only). For the integer subtypes samples outside [-1, 1] are
            clipped to full scale (no wrap-around); ``"FLOAT"`` stores them as they are.
        metadata: text tags (keys from :data:`METADATA_KEYS`, e.g. ``comment`` for
            the generation recipe JSON). WAV INFO tags hold at most about 2000
            bytes each in libsndfile; a tag that does not survive the write raises
            rather than being silently dropped (use FLAC for long recipes).

    The file is written to a temp file in the same folder, fsync'ed and moved
    over ``path`` with ``os.replace``: a crash or error never leaves a partial
    file in place of a good one.

    Raises:
        AudioWriteError: unsupported suffix/subtype/metadata, a tag that cannot be
            stored, or an OS/libsndfile failure (the previous file is untouched).
        AudioChannelsError, AudioFileEmptyError, AudioNonFiniteError,
        AudioSampleRateError, AudioFileError: invalid ``audio`` or rate (see :func:`validate_audio`).
    """
    dest = Path(path)
    fmt = _writable_format(dest, subtype)
    tags = _check_metadata(dest, metadata)
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None, :]
    validate_audio(audio, sample_rate_hz, str(dest))
    _write_blocks(dest, fmt, subtype, tags, [audio], sample_rate_hz, audio.shape[0])


def write_audio_blocks(
    path: str | os.PathLike[str],
    blocks: Iterable[np.ndarray],
    sample_rate_hz: int,
    channels: int,
    *,
    subtype: str = "PCM_16",
    metadata: Mapping[str, str] | None = None,
) -> None:
    """:func:`write_audio` for audio that comes in ``(channels, samples)`` blocks (a long mix
    rendered block by block): the same formats, clipping, metadata checks and atomic replace,
    in the memory of one block. Each block is checked as :func:`validate_audio` checks an array
    (an empty block is skipped); the file must end up with at least one sample.

    Raises the errors :func:`write_audio` raises; the previous file is untouched on any of them.
    """
    dest = Path(path)
    fmt = _writable_format(dest, subtype)
    tags = _check_metadata(dest, metadata)
    _check_channel_count(int(channels), str(dest), "")
    _write_blocks(dest, fmt, subtype, tags, blocks, sample_rate_hz, int(channels))


def _writable_format(dest: Path, subtype: str) -> str:
    """libsndfile's format for ``dest``'s suffix, checked against ``subtype``."""
    fmt = _FORMAT_BY_SUFFIX.get(dest.suffix.lower())
    if fmt is None:
        raise AudioWriteError(
            f"{dest}: cannot write '{dest.suffix}' files; use one of {sorted(_FORMAT_BY_SUFFIX)}"
        )
    if subtype not in WRITE_SUBTYPES:
        raise AudioWriteError(f"{dest}: unsupported subtype {subtype!r}; use one of {list(WRITE_SUBTYPES)}")
    if fmt not in WRITE_SUBTYPES[subtype]:
        raise AudioWriteError(f"{dest}: {fmt} files cannot store subtype {subtype!r}")
    return fmt


def _write_blocks(dest: Path, fmt: str, subtype: str, tags: dict[str, str], blocks: Iterable[np.ndarray],
                  sample_rate_hz: int, channels: int) -> None:
    with atomic_output_path(dest) as tmp:
        try:
            written = 0
            with sf.SoundFile(
                tmp, "w", samplerate=int(sample_rate_hz), channels=int(channels),
                subtype=subtype, format=fmt,
            ) as f:
                for key, value in tags.items():
                    setattr(f, key, value)
                for block in blocks:
                    block = np.asarray(block)
                    if block.ndim == 1:
                        block = block[None, :]
                    if block.ndim == 2 and block.shape[1] == 0:
                        continue
                    validate_audio(block, sample_rate_hz, str(dest))
                    if block.shape[0] != channels:
                        raise AudioChannelsError(
                            f"{dest}: a block has {block.shape[0]} channels, the file {channels}"
                        )
                    data = block.astype(np.float32, copy=False)
                    if subtype != "FLOAT":
                        data = np.clip(data, -1.0, 1.0)
                    f.write(np.ascontiguousarray(data.T))
                    written += data.shape[1]
            if written == 0:
                raise AudioFileEmptyError(f"{dest}: contains no samples (zero-length audio)")
            if tags:
                with sf.SoundFile(tmp) as f:
                    lost = _metadata_survived(f.copy_metadata(), tags)
                if lost:
                    sizes = {k: len(tags[k].encode("utf-8")) for k in lost}
                    raise AudioWriteError(
                        f"{dest}: {fmt} could not store metadata {lost} (sizes in bytes: {sizes}); "
                        "WAV INFO tags hold about 2000 bytes each - shorten them or write FLAC"
                    )
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioWriteError(f"{dest}: libsndfile failed to write the file: {exc}") from exc


# --------------------------------------------------------------------------- array helpers


def _as_2d(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise AudioChannelsError(
            f"{name}: expected an array shaped (channels, samples), got shape {audio.shape}"
        )
    return audio


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample ``(channels, samples)`` audio from ``from_hz`` to ``to_hz``.

    Uses a polyphase FIR (``scipy.signal.resample_poly``, Kaiser window, ratio
    reduced by the gcd), so 44.1k <-> 48k is exact-ratio and alias-free.
    Returns float32 with ``ceil(samples * to_hz / from_hz)`` samples; a copy when
    the rates are equal.

    Raises:
        AudioSampleRateError: either rate outside 1000..768000 Hz.
        AudioChannelsError: ``audio`` is not 2-D.
    """
    audio = _as_2d(audio)
    src = validate_sample_rate(from_hz, "resample from_hz")
    dst = validate_sample_rate(to_hz, "resample to_hz")
    if src == dst:
        return audio.astype(np.float32, copy=True)
    g = math.gcd(src, dst)
    up, down = dst // g, src // g
    length = audio.shape[1]
    total = -(-length * up // down)
    out = np.empty((audio.shape[0], total), dtype=np.float32)
    # In blocks of the input, each with enough neighbours for the polyphase filter (scipy's is
    # 10 * max(up, down) taps either side at the upsampled rate), aligned to the ratio's period so
    # the result equals one call on the whole, while the float64 working copies stay small.
    margin = -(-(10 * max(up, down) // up + 2) // down) * down
    block = max(1, _RESAMPLE_BLOCK // down) * down
    for start in range(0, length, block):
        stop = min(length, start + block)
        lo, hi = max(0, start - margin), min(length, stop + margin)
        part = signal.resample_poly(audio[:, lo:hi].astype(np.float64), up, down, axis=-1)
        first = (start - lo) // down * up
        count = (stop - start) // down * up if stop < length else total - start // down * up
        out[:, start // down * up :][:, :count] = part[:, first : first + count]
    return out


#: Input samples per channel resampled at once by :func:`resample`.
_RESAMPLE_BLOCK = 1 << 21


def to_channels(audio: np.ndarray, n_channels: int) -> np.ndarray:
    """Return a float32 copy of ``audio`` with exactly ``n_channels`` channels.

    Rules: same count -> copy; to 1 -> the mean of all channels; from 1 -> the
    channel cloned; otherwise (m > n > 1) the first ``n`` channels are kept
    (front left/right for 5.1 and quad layouts), and (1 < m < n) channels are
    repeated cyclically.

    Raises:
        AudioChannelsError: ``n_channels`` outside 1..:data:`MAX_CHANNELS`, or ``audio`` not 2-D.
    """
    audio = _as_2d(audio)
    if isinstance(n_channels, bool) or not isinstance(n_channels, numbers.Integral):
        raise AudioChannelsError(f"to_channels: n_channels must be an integer, got {n_channels!r}")
    _check_channel_count(int(n_channels), "to_channels target")
    m = audio.shape[0]
    audio = audio.astype(np.float32, copy=False)
    if m == n_channels:
        return audio.copy()
    if n_channels == 1:
        return audio.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    if m == 1 or m < n_channels:
        return np.ascontiguousarray(audio[np.arange(n_channels) % m])
    return audio[:n_channels].copy()


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average all channels: ``(channels, samples) -> (1, samples)`` float32."""
    return to_channels(audio, 1)


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """Two channels: mono is cloned, more than two keep the first two (see :func:`to_channels`)."""
    return to_channels(audio, 2)


def peak_normalize(audio: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """Scale so the largest absolute sample equals ``peak``; silence stays silence (zeros).

    Returns a float32 copy. Raises ValueError if ``peak`` is not a finite number > 0.
    """
    if not (isinstance(peak, numbers.Real) and math.isfinite(peak) and peak > 0):
        raise ValueError(f"peak_normalize: peak must be a finite number > 0, got {peak!r}")
    audio = np.asarray(audio, dtype=np.float32)
    top = float(np.max(np.abs(audio))) if audio.size else 0.0
    if top == 0.0:
        return audio.copy()
    return (audio * np.float32(peak / top)).astype(np.float32)


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim or zero-pad ``(channels, samples)`` audio at the end to exactly ``n_samples``.

    Raises ValueError if ``n_samples`` is not a positive integer.
    """
    audio = _as_2d(audio)
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"fit_length: n_samples must be a positive integer, got {n_samples!r}")
    n = int(n_samples)
    if audio.shape[1] >= n:
        return audio[:, :n].copy()
    out = np.zeros((audio.shape[0], n), dtype=audio.dtype)
    out[:, : audio.shape[1]] = audio
    return out


def prepare_clip(
    audio: np.ndarray,
    sample_rate_hz: int,
    *,
    target_hz: int = 44100,
    duration_s: float = 10.0,
    channels: int = 1,
    peak: float = 1.0,
) -> np.ndarray:
    """Seed 000's preprocessing: resample to ``target_hz``, set channels, trim/pad, peak-normalise.

    Returns float32 ``(channels, round(duration_s * target_hz))``; silence stays silence.

    Raises:
        The :func:`validate_audio` errors for bad input, ValueError for a
        non-positive ``duration_s``.
    """
    validate_audio(np.asarray(audio), sample_rate_hz, "prepare_clip audio")
    if not (isinstance(duration_s, numbers.Real) and math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"prepare_clip: duration_s must be a finite number > 0, got {duration_s!r}")
    n_samples = max(1, int(round(duration_s * validate_sample_rate(target_hz, "prepare_clip target_hz"))))
    out = resample(audio, sample_rate_hz, target_hz)
    out = to_channels(out, channels)
    out = fit_length(out, n_samples)
    return peak_normalize(out, peak)
