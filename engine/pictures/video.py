"""Cutting a video into (audio window, frame) pairs for training a picture model (seed 002 trained
on video frames).

A frame is taken every ``every_s`` seconds (the first half an interval in), each with the audio
around it: a window as long as the picture model's encoder hears (2.56 s), centred on the
frame's time and shifted to stay inside the soundtrack. Frames are turned as a player shows them
(a phone's portrait video), centre-cropped to a square and resized to the model's 64x64; windows
that are silent (peak below -60 dBFS) are skipped and listed. Decoding is PyAV's (its wheels carry FFmpeg): whatever FFmpeg reads (mp4, mkv, webm, mov,
avi, ...). Every failure is a :class:`VideoError` with a one-line message naming the file.

Torch-free at import (cutting imports the picture model's clip preparation); Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.pictures.drawing import SIZE

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi")
#: A frame (and its audio window) every second by default.
DEFAULT_EVERY_S = 1.0
#: The audio is decoded at the picture model's rate (engine.pictures.model.SAMPLE_RATE_HZ).
RATE_HZ = 16000


class VideoError(ValueError):
    """A video that gives no pairs: unreadable, no audio stream, no frames. The message says which and why."""


@dataclass
class VideoPair:
    """One frame and the audio around it."""

    time_s: float  # the frame's time from the video's first frame
    clip: np.ndarray  # float32 (window samples,) mono at RATE_HZ: a view of the soundtrack (zero-padded if shorter)
    picture: np.ndarray  # uint8 (size, size, 3)


@dataclass
class VideoCut:
    """What a video gave: its pairs, and the windows skipped (time, why)."""

    path: Path
    pairs: list[VideoPair] = field(default_factory=list)
    skipped: list[tuple[float, str]] = field(default_factory=list)
    note: str = ""  # set when decoding stopped early (a damaged file): the pairs before it are kept

    def problems(self) -> list[str]:
        """What went wrong, a phrase each: the silent windows, other skipped windows, an early stop."""
        silent = [t for t, why in self.skipped if why == "silent"]
        plural = "s" if len(silent) != 1 else ""
        found = [f"{len(silent)} silent window{plural} skipped (at {_times(silent)})"] if silent else []
        found += [f"window at {t:.1f} s skipped: {why}" for t, why in self.skipped if why != "silent"]
        return found + ([self.note] if self.note else [])

    def summary(self) -> str:
        """One line: how many pairs, which windows were skipped and why."""
        return "; ".join([f"{self.path.name}: {len(self.pairs)} pairs", *self.problems()])


def _times(times: list[float], limit: int = 6) -> str:
    shown = ", ".join(f"{t:.1f}" for t in times[:limit])
    return shown + (f" ... {times[-1]:.1f} s" if len(times) > limit else " s")


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def square_picture(rgb: np.ndarray, size: int = SIZE) -> np.ndarray:
    """An (H, W, 3) uint8 frame centre-cropped to a square and resized to ``size`` x ``size``."""
    from PIL import Image

    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(np.ascontiguousarray(rgb[top : top + side, left : left + side]))
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def cut_video(path: str | Path, *, every_s: float = DEFAULT_EVERY_S, window_s: float | None = None, size: int = SIZE,
              check: Callable[[], None] | None = None) -> VideoCut:
    """Cut ``path`` into (audio window, frame) pairs: a frame every ``every_s`` seconds with the
    ``window_s`` seconds of audio around it (default: the picture model's window, 2.56 s).

    ``check`` is called now and then while decoding (it may raise to cancel). Raises
    :class:`VideoError` for a file that is not a readable video, has no audio stream or no
    video frames, or whose soundtrack is empty.
    """
    import av

    from engine.pictures.model import WINDOW_S, PictureInputError, prepare_clip

    path = Path(path)
    if not every_s > 0:
        raise ValueError(f"the frame interval must be positive, got {every_s}.")
    window_s = WINDOW_S if window_s is None else window_s
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise VideoError(f"'{path.name}' cannot be read as a video ({_reason(error)}).") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"'{path.name}' has no video stream: no frames to cut.")
        if not container.streams.audio:
            raise VideoError(f"'{path.name}' has no audio stream: no sound to pair with its frames.")
        frames, sound, audio_t0, video_t0, note = _decode(container, container.streams.video[0],
                                                          container.streams.audio[0], every_s, size, check)
    if not frames:
        raise VideoError(f"'{path.name}' has no video frames" + (f" ({note})." if note else "."))
    if sound.size == 0:
        raise VideoError(f"'{path.name}' has an empty audio stream: no sound to pair with its frames.")
    cut = VideoCut(path=path, note=note)
    window = int(round(window_s * RATE_HZ))
    last_start = max(0, sound.size - window)
    for t, picture in frames:
        start = int(round((t - window_s / 2 - audio_t0) * RATE_HZ))
        start = min(max(start, 0), last_start)
        segment = sound[start : start + window]
        try:
            clip = prepare_clip(segment, RATE_HZ, window_s=window_s, rate_hz=RATE_HZ)
        except PictureInputError as error:
            cut.skipped.append((t - video_t0, "silent" if "silent" in str(error) else str(error)))
            continue
        # A full window is kept as a view of the soundtrack: an hour of video every second holds
        # one soundtrack (230 MB), not 3600 overlapping copies of 2.56 s (590 MB).
        cut.pairs.append(VideoPair(time_s=t - video_t0, clip=segment if segment.size == window else clip,
                                   picture=picture))
    return cut


def _decode(container: Any, video: Any, audio: Any, every_s: float, size: int,
            check: Callable[[], None] | None) -> tuple[list[tuple[float, np.ndarray]], np.ndarray, float, float, str]:
    """One pass over the file: the frames shown at the wanted times (absolute times, pictures),
    the soundtrack (mono float32 at RATE_HZ), the times of its first sample and the first frame,
    and a note when a damaged file stopped the decoding."""
    import av

    fps = float(video.average_rate) if video.average_rate else 25.0
    picks: list[tuple[float, np.ndarray]] = []
    chunks: list[np.ndarray] = []
    resampler = None
    audio_t0: float | None = None
    video_t0: float | None = None
    wanted = 0.0
    shown: tuple[float, Any] | None = None  # the latest frame: (time, frame)
    n_frames = 0
    note = ""

    def take(frame: Any) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        # A phone's portrait video is stored landscape with a display matrix: turn the frame as a
        # player shows it (PyAV's rotation is counter-clockwise, as numpy's rot90).
        turns = int(round((getattr(frame, "rotation", 0) or 0) / 90)) % 4
        return square_picture(np.rot90(rgb, turns) if turns else rgb, size)

    try:
        for packet in container.demux(video, audio):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    t = frame.time if frame.time is not None else n_frames / fps
                    n_frames += 1
                    if video_t0 is None:
                        video_t0, wanted = t, t + every_s / 2
                    while shown is not None and t > wanted:  # the frame on screen at `wanted` is `shown`
                        picks.append((wanted, take(shown[1])))
                        wanted += every_s
                    shown = (t, frame)
                    if check is not None and n_frames % 32 == 0:
                        check()
                elif isinstance(frame, av.AudioFrame):
                    if resampler is None:
                        resampler = av.AudioResampler(format="fltp", rate=RATE_HZ)
                        audio_t0 = frame.time if frame.time is not None else 0.0
                    chunks += [out.to_ndarray().mean(axis=0) for out in resampler.resample(frame)]
        if resampler is not None:
            chunks += [out.to_ndarray().mean(axis=0) for out in resampler.resample(None)]
    except av.FFmpegError as error:
        note = f"decoding stopped at {(shown[0] - (video_t0 or 0.0)) if shown else 0.0:.1f} s: {_reason(error)}"
    if shown is not None:
        end = shown[0] + 1.0 / fps
        while wanted < end:
            picks.append((wanted, take(shown[1])))
            wanted += every_s
    sound = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return picks, sound, audio_t0 or 0.0, video_t0 or 0.0, note


def _reason(error: BaseException) -> str:
    """FFmpeg's words without the errno and path PyAV adds: 'Invalid data found when processing input'."""
    text = getattr(error, "strerror", None) or str(error)
    return str(text).strip().rstrip(".") or type(error).__name__
