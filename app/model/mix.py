"""Mixing the project down to one array (for playback and export). numpy/scipy only, no Qt.

Clips are placed on whole samples of the output rate (``round(start_s * rate)``); a clip at the
project rate with 0 dB gains is copied sample-exactly. Clips at another rate are resampled
(polyphase, cached per array so replaying does not resample again).
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict

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
    """A few resampled arrays, keyed by the source array's identity (arrays are immutable)."""

    def __init__(self, max_items: int = 8) -> None:
        self._items: OrderedDict[tuple[int, int, int], tuple[weakref.ref, np.ndarray]] = OrderedDict()
        self._max = max_items

    def get(self, audio: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
        key = (id(audio), rate_from, rate_to)
        hit = self._items.get(key)
        if hit is not None and hit[0]() is audio:
            self._items.move_to_end(key)
            return hit[1]
        out = resample(audio, rate_from, rate_to)
        self._items[key] = (weakref.ref(audio), out)
        while len(self._items) > self._max:
            self._items.popitem(last=False)
        return out


def resample(audio: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    """Polyphase resampling of ``(channels, samples)`` float32 from ``rate_from`` to ``rate_to`` Hz."""
    if rate_from == rate_to:
        return audio
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_from), int(rate_to))
    out = resample_poly(audio, rate_to // g, rate_from // g, axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)


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
    """Mix the audible clips between ``start_s`` and ``end_s`` (default: the project's end).

    Applies track gain, clip gain, mute and solo; mono clips feed both channels of a stereo mix,
    stereo clips are averaged into a mono one. ``clip_ids`` restricts the mix to those clips.
    Returns ``(channels, round(end_s*rate) - round(start_s*rate))`` float32 at ``sample_rate_hz``
    (default the project's rate). Raises ValueError for a bad range or channel count.
    """
    rate = int(sample_rate_hz or project.sample_rate_hz)
    if end_s is None:
        end_s = project.duration_s
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0 or end_s < start_s:
        raise ValueError(f"render_mix: need 0 <= start_s <= end_s, got start_s={start_s}, end_s={end_s}.")
    if channels not in (1, 2):
        raise ValueError(f"render_mix: `channels` must be 1 or 2, got {channels}.")
    first = int(round(start_s * rate))
    n = int(round(end_s * rate)) - first
    out = np.zeros((channels, n), dtype=np.float32)
    if n == 0:
        return out
    for track in audible_tracks(project):
        track_gain = db_to_gain(track.gain_db)
        for clip in track.clips:
            if clip_ids is not None and clip.id not in clip_ids:
                continue
            if clip.end_s <= start_s or clip.start_s >= end_s:
                continue
            audio = render_clip(clip, sample_rate_hz=rate)
            if track_gain != 1.0:
                audio *= np.float32(track_gain)
            # Where the clip's first sample lands in `out`, and what overlaps.
            at = int(round(clip.start_s * rate)) - first
            src_lo = max(0, -at)
            dst_lo = max(0, at)
            count = min(audio.shape[1] - src_lo, n - dst_lo)
            if count <= 0:
                continue
            part = audio[:, src_lo : src_lo + count]
            if part.shape[0] == channels:
                out[:, dst_lo : dst_lo + count] += part
            elif channels == 2:  # mono clip into a stereo mix
                out[:, dst_lo : dst_lo + count] += part[0]
            else:  # stereo clip into a mono mix
                out[0, dst_lo : dst_lo + count] += part.mean(axis=0, dtype=np.float32)
    return out


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
