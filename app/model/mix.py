"""Mixing the project (for playback and export). numpy/scipy only, no Qt.

Clips are placed on whole samples of the output rate (``round(start_s * rate)``); a clip at the
project rate with 0 dB gains is copied sample-exactly. Clips at another rate are resampled
(polyphase, cached per array so replaying does not resample again).

A mix streams: :class:`MixPlan` captures what to mix and renders any block of it, so playback
(:class:`MixStream`) and export write a project of hours in blocks, in memory that grows with
the audio the clips hold, not with the length of the timeline. :func:`render_mix` still gives a
whole range as one array where that is what is wanted (short ranges, tests).
"""

from __future__ import annotations

import bisect
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from app.model.project import Clip, Project, Track


def db_to_gain(gain_db: float) -> float:
    """Linear amplitude factor for a gain in dB (0 dB -> 1.0 exactly)."""
    return 1.0 if gain_db == 0 else float(10.0 ** (gain_db / 20.0))


def audible_tracks(project: Project) -> list[Track]:
    """Tracks that sound: not muted, and soloed if any track is soloed."""
    any_solo = any(t.solo for t in project.tracks)
    return [t for t in project.tracks if not t.mute and (t.solo or not any_solo)]


def mix_channels(project: Project, clips: list[Clip] | None = None) -> int:
    """2 if any (of the given) clip is stereo, else 1 (a mono project exports mono)."""
    clips = project.clips() if clips is None else clips
    return 2 if any(c.channels == 2 for c in clips) else 1


class _ResampleCache:
    """Resampled arrays keyed by the source array's identity (arrays are immutable), kept while
    they fit ``max_bytes`` (the most recently used first; at least ``min_items``). Thread-safe:
    playback renders on its own thread while the GUI exports or drags a clip out."""

    def __init__(self, max_bytes: int = 256 * 2**20, min_items: int = 4) -> None:
        self._items: OrderedDict[tuple[int, int, int], tuple[weakref.ref, np.ndarray]] = OrderedDict()
        self._max_bytes = max_bytes
        self._min_items = min_items
        self._lock = threading.Lock()

    def get(self, audio: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
        key = (id(audio), rate_from, rate_to)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0]() is audio:
                self._items.move_to_end(key)
                return hit[1]
            out = resample(audio, rate_from, rate_to)
            self._items[key] = (weakref.ref(audio), out)
            while len(self._items) > self._min_items and sum(a.nbytes for _, a in self._items.values()) > self._max_bytes:
                self._items.popitem(last=False)
            return out


def resample(audio: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    """``(channels, samples)`` float32 from ``rate_from`` to ``rate_to`` Hz: the engine's polyphase
    resampler (:func:`engine.audio.io.resample`, the one every edit and import uses); ``audio``
    itself when the rates are equal."""
    if rate_from == rate_to:
        return audio
    from engine.audio.io import resample as polyphase

    return polyphase(audio, int(rate_from), int(rate_to))


_cache = _ResampleCache()


def render_clip(clip: Clip, *, sample_rate_hz: int | None = None) -> np.ndarray:
    """The clip's audible audio with its gain, ``(channels, samples)`` float32, at the clip's rate
    (or ``sample_rate_hz``). At 0 dB and the clip's own rate the samples are exactly the file's."""
    rate = sample_rate_hz or clip.sample_rate_hz
    if rate == clip.sample_rate_hz:
        audio = clip.audible_audio()
    else:
        full = _cache.get(clip.audio, clip.sample_rate_hz, rate)
        first = int(round(clip.offset_s * rate))
        stop = first + int(round(clip.length_s * rate))
        audio = full[:, first : min(stop, full.shape[1])]
    gain = db_to_gain(clip.gain_db)
    return np.array(audio, dtype=np.float32) if gain == 1.0 else (audio * np.float32(gain)).astype(np.float32)


def render_mix(
    project: Project,
    start_s: float = 0.0,
    end_s: float | None = None,
    *,
    channels: int = 2,
    sample_rate_hz: int | None = None,
    clip_ids: set[str] | frozenset[str] | None = None,
) -> np.ndarray:
    """Mix the audible clips between ``start_s`` and ``end_s`` (default: the project's end) into
    one array: ``MixPlan(...).render_all()`` (see :class:`MixPlan` for the rules). Its memory
    is the length of the range: play and export long projects through :class:`MixPlan` blocks
    or :class:`MixStream` instead. Raises ValueError for a bad range or channel count.
    """
    return MixPlan(project, start_s, end_s, channels=channels, sample_rate_hz=sample_rate_hz,
                   clip_ids=clip_ids).render_all()


#: Frames per block when a plan is streamed (export) or read ahead (playback): 0.19 s at 44.1 kHz.
BLOCK_FRAMES = 8192


@dataclass(frozen=True)
class _Piece:
    """One clip's contribution to a mix: ``src[:, first:stop]`` at the output rate, times its
    gains, lands at output frame ``at`` (relative to the plan's first frame)."""

    order: tuple[int, int]  # (track index, clip index): the order pieces are summed in
    at: int
    audio: np.ndarray
    rate_from: int
    first: int
    stop: int
    clip_gain: float
    track_gain: float

    @property
    def end(self) -> int:
        return self.at + self.stop - self.first


class MixPlan:
    """What a mix is made of, captured on the GUI thread (cheap: references to the immutable
    arrays, positions and gains), rendered block by block from any thread.

    Applies track gain, clip gain, mute and solo; clips are placed on whole output samples
    (``round(start_s * rate)``) and a clip at the output rate with 0 dB gains is copied
    sample-exactly; clips at another rate are resampled (polyphase, cached per array). Mono clips
    feed both channels of a stereo mix, stereo clips are averaged into a mono one. ``clip_ids``
    restricts the mix to those clips. Any block of :meth:`render` has exactly the samples the
    same frames of :meth:`render_all` have. Memory: the arrays the clips already hold, resampled
    copies of clips at another rate, and the block asked for; never the whole mix unless asked.

    Attributes: ``frames`` (length: ``round(end_s*rate) - round(start_s*rate)``), ``channels``,
    ``sample_rate_hz``. Raises ValueError for a bad range or channel count.
    """

    def __init__(
        self,
        project: Project,
        start_s: float = 0.0,
        end_s: float | None = None,
        *,
        channels: int = 2,
        sample_rate_hz: int | None = None,
        clip_ids: set[str] | frozenset[str] | None = None,
    ) -> None:
        rate = int(sample_rate_hz or project.sample_rate_hz)
        if end_s is None:
            end_s = project.duration_s
        if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0 or end_s < start_s:
            raise ValueError(f"render_mix: need 0 <= start_s <= end_s, got start_s={start_s}, end_s={end_s}.")
        if channels not in (1, 2):
            raise ValueError(f"render_mix: `channels` must be 1 or 2, got {channels}.")
        self.sample_rate_hz = rate
        self.channels = channels
        first_frame = int(round(start_s * rate))
        self.frames = int(round(end_s * rate)) - first_frame
        audible = {t.id for t in audible_tracks(project)}
        pieces = []
        for t_index, track in enumerate(project.tracks):
            if track.id not in audible:
                continue
            track_gain = db_to_gain(track.gain_db)
            for c_index, clip in enumerate(track.clips):
                if clip_ids is not None and clip.id not in clip_ids:
                    continue
                if clip.end_s <= start_s or clip.start_s >= end_s:
                    continue
                if rate == clip.sample_rate_hz:
                    first, stop = clip.sample_range()
                else:
                    first = int(round(clip.offset_s * rate))
                    stop = first + int(round(clip.length_s * rate))
                    resampled = -(-clip.audio.shape[1] * rate // clip.sample_rate_hz)  # resample_poly's length
                    stop = min(stop, resampled)
                if stop <= first:
                    continue
                pieces.append(_Piece((t_index, c_index), int(round(clip.start_s * rate)) - first_frame, clip.audio,
                                     clip.sample_rate_hz, first, stop, db_to_gain(clip.gain_db), track_gain))
        # Found by start; pieces much longer than a block are few and always looked at.
        long_frames = 16 * BLOCK_FRAMES
        self._long = [p for p in pieces if p.end - p.at > long_frames]
        self._short = sorted((p for p in pieces if p.end - p.at <= long_frames), key=lambda p: p.at)
        self._starts = [p.at for p in self._short]
        self._reach = max((p.end - p.at for p in self._short), default=0)

    def _pieces_over(self, first: int, stop: int) -> list[_Piece]:
        lo = bisect.bisect_left(self._starts, first - self._reach)
        hi = bisect.bisect_left(self._starts, stop)
        found = [p for p in self._short[lo:hi] if p.end > first]
        found += [p for p in self._long if p.at < stop and p.end > first]
        found.sort(key=lambda p: p.order)
        return found

    def render(self, first: int, count: int) -> np.ndarray:
        """Frames ``first .. first + count`` of the mix (clamped to the plan), ``(channels,
        count)`` float32."""
        first = max(0, int(first))
        count = max(0, min(int(count), self.frames - first))
        out = np.zeros((self.channels, count), dtype=np.float32)
        if count == 0:
            return out
        for piece in self._pieces_over(first, first + count):
            src = piece.audio if piece.rate_from == self.sample_rate_hz else _cache.get(
                piece.audio, piece.rate_from, self.sample_rate_hz)
            stop = min(piece.stop, src.shape[1])
            # Where the piece's samples fall in this block, and which of them.
            src_lo = piece.first + max(0, first - piece.at)
            dst_lo = max(0, piece.at - first)
            n = min(stop - src_lo, count - dst_lo)
            if n <= 0:
                continue
            part = src[:, src_lo : src_lo + n]
            if piece.clip_gain != 1.0:
                part = (part * np.float32(piece.clip_gain)).astype(np.float32)
            if piece.track_gain != 1.0:
                part = part * np.float32(piece.track_gain)
            if part.shape[0] == self.channels:
                out[:, dst_lo : dst_lo + n] += part
            elif self.channels == 2:  # mono clip into a stereo mix
                out[:, dst_lo : dst_lo + n] += part[0]
            else:  # stereo clip into a mono mix
                out[0, dst_lo : dst_lo + n] += part.mean(axis=0, dtype=np.float32)
        return out

    def render_all(self) -> np.ndarray:
        """The whole range as one array (memory: its length)."""
        return self.render(0, self.frames)

    def blocks(self, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """The mix in consecutive blocks of ``block_frames`` (the last one shorter)."""
        for first in range(0, self.frames, block_frames):
            yield self.render(first, block_frames)

    def peak(self) -> float:
        """Largest sample magnitude of the mix, measured block by block."""
        return max((float(np.abs(b).max()) for b in self.blocks() if b.size), default=0.0)


class MixStream:
    """A :class:`MixPlan` for playback: read in chunks of ``chunk_frames`` that a helper thread
    renders ahead of the last read, so the audio callback mostly copies (a chunk it needs and
    does not have yet is rendered on the spot). Memory: about ``2 * ahead + 2`` chunks.

    Array-like for readers of a mix buffer: ``shape`` is ``(channels, frames)`` and
    ``stream[:, a:b]`` (or :meth:`read`) gives those frames. :meth:`close` stops the thread.
    """

    def __init__(self, plan: MixPlan, *, chunk_frames: int = 2 * BLOCK_FRAMES, ahead: int = 4) -> None:
        self.plan = plan
        self.chunk_frames = int(chunk_frames)
        self.ahead = int(ahead)
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)
        self._next = 0  # the chunk the reader will want next
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="specdiff-mix-stream", daemon=True)
        self._thread.start()

    @property
    def frames(self) -> int:
        return self.plan.frames

    @property
    def channels(self) -> int:
        return self.plan.channels

    @property
    def shape(self) -> tuple[int, int]:
        return self.plan.channels, self.plan.frames

    def __getitem__(self, key) -> np.ndarray:
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None) and isinstance(key[1], slice)):
            raise TypeError("a MixStream is read as stream[:, first:stop]")
        first, stop, _ = key[1].indices(self.frames)
        return self.read(first, max(0, stop - first))

    def _chunk(self, index: int) -> np.ndarray:
        with self._lock:
            chunk = self._chunks.get(index)
        if chunk is None:
            chunk = self.plan.render(index * self.chunk_frames, self.chunk_frames)
            with self._lock:
                self._chunks[index] = chunk
        return chunk

    def read(self, first: int, count: int) -> np.ndarray:
        """Frames ``first .. first + count`` (clamped), ``(channels, count)`` float32."""
        first = max(0, int(first))
        count = max(0, min(int(count), self.frames - first))
        out = np.empty((self.channels, count), dtype=np.float32)
        done = 0
        while done < count:
            index, offset = divmod(first + done, self.chunk_frames)
            chunk = self._chunk(index)
            n = min(count - done, chunk.shape[1] - offset)
            out[:, done : done + n] = chunk[:, offset : offset + n]
            done += n
        with self._lock:
            self._next = (first + count) // self.chunk_frames
            self._wanted.notify()
        return out

    def _run(self) -> None:
        last = -(-self.frames // self.chunk_frames) - 1
        while True:
            with self._lock:
                while not self._closed and all(
                    i in self._chunks for i in range(self._next, min(last, self._next + self.ahead) + 1)
                ):
                    self._wanted.wait()
                if self._closed:
                    return
                start = self._next
                todo = [i for i in range(start, min(last, start + self.ahead) + 1) if i not in self._chunks]
                for old in [i for i in self._chunks if i < start - self.ahead or i > start + 2 * self.ahead]:
                    del self._chunks[old]
            for index in todo[:1]:  # one at a time: the reader may have moved meanwhile
                chunk = self.plan.render(index * self.chunk_frames, self.chunk_frames)
                with self._lock:
                    self._chunks.setdefault(index, chunk)

    def close(self) -> None:
        """Stop the read-ahead thread (waits for it) and drop the chunks."""
        with self._lock:
            self._closed = True
            self._chunks.clear()
            self._wanted.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()


def track_peaks(project: Project, start_s: float, end_s: float) -> dict[str, list[float]]:
    """Each track's output level over ``[start_s, end_s)``, for its meter: the peak magnitude of
    each channel (left, right; a mono clip feeds both) after clip gain, track gain, mute and
    solo, overlapping clips adding up. Cheap enough for a GUI timer: only the window's samples
    are read, each clip at its own rate (nearest sample), so nothing is resampled or copied whole.
    """
    rate = project.sample_rate_hz
    n = max(1, int(round((end_s - start_s) * rate)))
    times = start_s + np.arange(n) / rate
    audible = {t.id for t in audible_tracks(project)}
    peaks: dict[str, list[float]] = {}
    for track in project.tracks:
        total = np.zeros((2, n), dtype=np.float32)
        if track.id in audible:
            for clip in track.clips:
                if clip.end_s <= start_s or clip.start_s >= end_s:
                    continue
                inside = (times >= clip.start_s) & (times < clip.end_s)
                index = np.floor((times[inside] - clip.start_s + clip.offset_s) * clip.sample_rate_hz).astype(np.int64)
                index = np.clip(index, 0, clip.audio.shape[1] - 1)
                part = clip.audio[:, index] * np.float32(db_to_gain(clip.gain_db))
                total[:, inside] += part if part.shape[0] == 2 else part[0]
            total *= np.float32(db_to_gain(track.gain_db))
        peaks[track.id] = [float(v) for v in np.abs(total).max(axis=1)]
    return peaks
