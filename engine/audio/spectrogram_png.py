"""Spectrogram PNGs of long audio, written in chunks (issue 17): memory bounded by one analysis
chunk and one image row, not by the file.

    with audio_file_reader("two-hours.wav", params) as (read, samples):
        width = write_spectrogram_png(read, samples, params, "two-hours.png")

The picture is exactly :func:`engine.audio.spectrogram.image_from_audio`'s (same pixels, same
EXIF), but never built whole: a PNG is stored row by row (a row is one mel bin across the whole
clip) while audio comes column by column, so the mel amplitudes go chunk by chunk into a scratch
file (float32, deleted on close, next to the output), then each row is read back, quantised and
fed to a zlib stream. The audio comes from ``read(lo, hi)``: an array's slice, or a file read
block by block (:func:`audio_file_reader`, resampling block by block when its rate differs).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.limits import ResourceLimitError, check_image_size, check_memory, format_bytes, format_duration

__all__ = [
    "array_reader",
    "audio_file_reader",
    "check_png_export",
    "export_spectrogram_png",
    "resampled_reader",
    "write_spectrogram_png",
]

Reader = Callable[[int, int], np.ndarray]

#: Compressed bytes per IDAT chunk.
_IDAT_BYTES = 1 << 20
#: Input frames per block when reading a file.
_FILE_BLOCK_FRAMES = 1 << 18


def array_reader(audio: np.ndarray) -> Reader:
    """``read(lo, hi)`` over an in-memory ``(channels, samples)`` array (a view, no copy)."""
    return lambda lo, hi: audio[:, lo:hi]


def resampled_reader(read: Reader, length: int, from_hz: int, to_hz: int) -> tuple[Reader, int]:
    """``read`` (``length`` samples at ``from_hz``) seen at ``to_hz``, and its length there.

    Each request is resampled from the input block that covers it plus the polyphase filter's
    reach, aligned to the ratio's period as :func:`engine.audio.io.resample` does in its blocks,
    so the samples equal that function's on the whole array.
    """
    from scipy import signal

    if from_hz == to_hz:
        return read, length
    g = math.gcd(from_hz, to_hz)
    up, down = to_hz // g, from_hz // g
    total = -(-length * up // down)
    margin = -(-(10 * max(up, down) // up + 2) // down) * down

    def read_out(a: int, b: int) -> np.ndarray:
        start = a // up * down
        stop = min(length, -(-b // up) * down)
        lo, hi = max(0, start - margin), min(length, stop + margin)
        part = signal.resample_poly(np.asarray(read(lo, hi), dtype=np.float64), up, down, axis=-1)
        first = (start - lo) // down * up + (a - start // down * up)
        return part[:, first : first + (b - a)].astype(np.float32)

    return read_out, total


@contextlib.contextmanager
def audio_file_reader(path: str | os.PathLike[str], params: Any) -> Iterator[tuple[Reader, int]]:
    """``(read, samples)`` of an audio file at ``params.sample_rate``, read block by block (never
    whole) with soundfile, in the channels ``params`` uses (a mono mix, or two channels).

    Raises the engine.audio.io errors of :func:`engine.audio.io.read_audio` for a bad file (the
    header is checked before any sample is read) and AudioNonFiniteError at a NaN block.
    """
    import soundfile as sf

    from engine.audio.io import (
        AudioFileCorruptError,
        AudioFileEmptyError,
        AudioNonFiniteError,
        _check_channel_count,
        _existing_file,
        _open_for_reading,
        to_channels,
        validate_sample_rate,
    )

    p = _existing_file(path)
    channels = 2 if params.stereo else 1
    with _open_for_reading(p) as f:
        _check_channel_count(f.channels, str(p))
        rate = validate_sample_rate(f.samplerate, str(p))
        frames = int(f.frames)
        if frames <= 0 or not f.seekable():
            raise AudioFileEmptyError(f"{p}: no audio frames (or a stream whose length is unknown).")

        def read(lo: int, hi: int) -> np.ndarray:
            out = np.empty((channels, hi - lo), dtype=np.float32)
            try:
                f.seek(lo)
                done = 0
                while done < hi - lo:
                    block = f.read(min(_FILE_BLOCK_FRAMES, hi - lo - done), dtype="float32", always_2d=True)
                    if not len(block):
                        raise AudioFileCorruptError(f"{p}: the file ends at frame {lo + done}, before its header's {frames}.")
                    if not np.isfinite(block).all():
                        raise AudioNonFiniteError(f"{p}: NaN or infinite samples near {format_duration((lo + done) / rate)}.")
                    out[:, done : done + len(block)] = to_channels(block.T, channels)
                    done += len(block)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioFileCorruptError(f"{p}: the audio data cannot be decoded: {exc}") from exc
            return out

        yield resampled_reader(read, frames, rate, params.sample_rate)


def _scratch_bytes(width: int, params: Any) -> int:
    return 4 * (2 if params.stereo else 1) * params.num_frequencies * width


def _memory_bytes(width: int, params: Any) -> int:
    """Peak memory of :func:`write_spectrogram_png` besides its input: one analysis chunk (complex
    STFT, its magnitude and the mel), a resampling block and one row in its float and RGB forms."""
    from engine.audio.spectrogram import ANALYSIS_CHUNK_BINS

    channels = 2 if params.stereo else 1
    return 32 * ANALYSIS_CHUNK_BINS + 8 * 4 * _FILE_BLOCK_FRAMES + width * (8 * channels + 3 + 1) + 2 * _IDAT_BYTES


def check_png_export(samples: int, sample_rate_hz: int, params: Any, dest: str | os.PathLike[str]) -> int:
    """The width of the PNG of ``samples`` samples at ``sample_rate_hz``, after refusing - before
    any work - one larger than the image cap (readers decode images whole), one needing more
    memory than there is, or more scratch disk space next to ``dest`` than is free.

    Raises:
        engine.audio.limits.ResourceLimitError: the size or estimate, and the limit.
    """
    at_rate = -(-samples * params.sample_rate // sample_rate_hz)
    width = at_rate // params.hop_length
    seconds_per_column = params.hop_length / params.sample_rate
    check_image_size(width, params.num_frequencies, "the spectrogram image", seconds_per_column)
    span = f"a {width}x{params.num_frequencies} px spectrogram image of {format_duration(width * seconds_per_column)}"
    check_memory(_memory_bytes(width, params), span)
    folder = Path(dest).parent
    scratch = _scratch_bytes(width, params) + 3 * width * params.num_frequencies  # the scratch and the PNG at worst
    free = shutil.disk_usage(folder if folder.is_dir() else Path.cwd()).free
    if scratch > free:
        raise ResourceLimitError(
            f"{span} needs about {format_bytes(scratch)} of disk space in {folder} while it is written "
            f"and {format_bytes(free)} is free."
        )
    return width


def _chunk(out: Any, kind: bytes, data: bytes) -> None:
    out.write(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _exif_bytes(params: Any, max_value: float) -> bytes:
    from PIL import Image

    from engine.audio.spectrogram import ExifTag

    exif = Image.Exif()
    exif.update(params.to_exif().items())
    exif[ExifTag.MAX_VALUE.value] = float(max_value)
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\x00\x00") else data  # PNG's eXIf holds the TIFF part only


def write_spectrogram_png(
    read: Reader, samples: int, params: Any, dest: str | os.PathLike[str], *, width: int | None = None,
    device: str = "cpu",
) -> int:
    """Write the Riffusion spectrogram PNG of ``samples`` samples given by ``read`` (at
    ``params.sample_rate``) to ``dest`` (atomically); returns its width.

    Same pixels and EXIF as ``save_spectrogram_image(image_from_audio(audio, params), dest)``;
    ``width`` defaults to ``samples // hop_length`` (fewer frames are padded with silence). Cancel
    points between chunks. Raises ValueError for audio shorter than one column.
    """
    from engine.audio.io import atomic_output_path
    from engine.audio.spectrogram import mel_chunks
    from engine.cancel import cancel_point

    hop, height = params.hop_length, params.num_frequencies
    if width is None:
        width = samples // hop
    if width < 1:
        raise ValueError(f"the audio ({samples} samples) is shorter than one spectrogram column ({hop} samples).")
    half = params.n_fft // 2
    if samples <= half:  # too short for the chunked analysis's reflect padding: a tiny clip, whole
        from engine.audio.spectrogram import image_from_audio, save_spectrogram_image

        save_spectrogram_image(image_from_audio(read(0, samples), params, width=width), dest)
        return width
    channels = 2 if params.stereo else 1
    dest = Path(dest)
    with tempfile.TemporaryFile(dir=dest.parent, prefix=".spectrogram-") as scratch:
        fd = scratch.fileno()
        os.ftruncate(fd, _scratch_bytes(width, params))  # columns past the audio stay 0: silence
        max_value = np.float32(0)
        for first, last, mel in mel_chunks(read, samples, params, device=device, n_frames=min(1 + samples // hop, width)):
            max_value = max(max_value, np.max(mel))
            for c in range(channels):
                for b in range(height):
                    os.pwrite(fd, np.ascontiguousarray(mel[c, b]).tobytes(), 4 * ((c * height + b) * width + first))
        with atomic_output_path(dest) as tmp, open(tmp, "wb") as out:
            out.write(b"\x89PNG\r\n\x1a\n")
            _chunk(out, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            _chunk(out, b"eXIf", _exif_bytes(params, float(max_value)))
            packer = zlib.compressobj(6)
            pending = bytearray()
            rgb = np.zeros((width, 3), dtype=np.uint8)
            for row in range(height):
                cancel_point()
                band = height - 1 - row  # row 0 is the highest frequency
                for c in range(channels):
                    mel = np.frombuffer(os.pread(fd, 4 * width, 4 * ((c * height + band) * width)), dtype=np.float32)
                    if max_value > 0:  # image_from_mel's arithmetic, in float32
                        data = mel / max_value
                        data = np.power(data, params.power_for_image)
                        data = data * 255
                        data = 255 - data
                        value = data.astype(np.uint8)
                    else:
                        value = np.full(width, 255, dtype=np.uint8)
                    if channels == 1:
                        rgb[:] = value[:, None]
                    else:
                        rgb[:, 1 + c] = value
                pending += packer.compress(b"\x00" + rgb.tobytes())
                if len(pending) >= _IDAT_BYTES:
                    _chunk(out, b"IDAT", bytes(pending))
                    pending.clear()
            pending += packer.flush()
            _chunk(out, b"IDAT", bytes(pending))
            _chunk(out, b"IEND", b"")
    return width


def export_spectrogram_png(read: Reader, frames: int, sample_rate_hz: int, params: Any,
                           dest: str | os.PathLike[str]) -> int:
    """Check (:func:`check_png_export`), then write the PNG of ``frames`` frames at
    ``sample_rate_hz`` given by ``read`` (resampled block by block to the params' rate); returns
    its width. The app's exports and ``specdiff-cli to-image`` both come here."""
    check_png_export(frames, sample_rate_hz, params, dest)
    read_at, samples = resampled_reader(read, frames, sample_rate_hz, params.sample_rate)
    return write_spectrogram_png(read_at, samples, params, dest)
