"""Measurements of generated audio that say whether the starter model followed its prompt.

Used by the prompt-following tests and by :func:`evaluate` (which the training script runs on the
model it has just trained). Every function takes mono float audio ``(samples,)`` or
``(channels, samples)`` (channels are averaged) at ``sample_rate_hz``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The band the starter model's spectrogram covers (0-4 kHz); measurements stay inside it.
BAND_HZ = (60.0, 3900.0)


def _mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    if audio.ndim != 1 or audio.size < 64:
        raise ValueError(f"expected mono audio (samples,) or (channels, samples) of 64+ samples, got {audio.shape}.")
    return audio


def _frames_power(audio: np.ndarray, sample_rate_hz: int, frame_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra (frames, bins) of Hann-windowed frames and the bin frequencies."""
    frame = int(frame_s * sample_rate_hz)
    hop = int(hop_s * sample_rate_hz)
    count = 1 + max(0, (len(audio) - frame) // hop)
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    padded = np.pad(audio, (0, max(0, frame - len(audio))))
    power = np.abs(np.fft.rfft(padded[index] * np.hanning(frame), axis=1)) ** 2
    return power, np.fft.rfftfreq(frame, 1.0 / sample_rate_hz)


def dominant_frequency_hz(audio: np.ndarray, sample_rate_hz: int) -> float:
    """The frequency (Hz) with the most energy over the whole clip, within :data:`BAND_HZ`."""
    x = _mono(audio)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1.0 / sample_rate_hz)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    return float(freqs[band][np.argmax(spectrum[band])])


def spectral_flatness(audio: np.ndarray, sample_rate_hz: int) -> float:
    """Wiener entropy (geometric / arithmetic mean of the power spectrum) within :data:`BAND_HZ`,
    the median over 46 ms frames: about 0.5 for white noise, near 0 for a tone."""
    power, freqs = _frames_power(_mono(audio), sample_rate_hz, 0.046, 0.023)
    band = power[:, (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])] + 1e-20
    loud = band.sum(axis=1) > 1e-6 * band.sum(axis=1).max()
    flatness = np.exp(np.mean(np.log(band[loud]), axis=1)) / np.mean(band[loud], axis=1)
    return float(np.median(flatness))


def onset_times_s(audio: np.ndarray, sample_rate_hz: int, min_gap_s: float = 0.06) -> np.ndarray:
    """Onset times (s): peaks of the positive change of the log level (5 ms hops) that rise
    clearly above the clip's typical change, at least ``min_gap_s`` apart."""
    x = _mono(audio)
    hop = int(0.005 * sample_rate_hz)
    frames = len(x) // hop
    level_db = 10 * np.log10(np.mean(x[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    level_db = np.maximum(level_db, level_db.max() - 60)
    rise = np.maximum(0.0, level_db[2:] - level_db[:-2])  # 10 ms rise
    threshold = max(6.0, float(np.median(rise) + 3 * np.std(rise)))
    onsets: list[int] = []
    for i in np.argsort(-rise):
        if rise[i] < threshold:
            break
        if all(abs(i - j) * hop >= min_gap_s * sample_rate_hz for j in onsets):
            onsets.append(int(i))
    return np.sort(np.array(onsets, dtype=np.float64)) * hop / sample_rate_hz


def onset_rate_per_s(audio: np.ndarray, sample_rate_hz: int) -> float:
    """Events per second: 1 / the median interval between onsets (0 with fewer than 3 onsets)."""
    onsets = onset_times_s(audio, sample_rate_hz)
    if len(onsets) < 3:
        return 0.0
    return float(1.0 / np.median(np.diff(onsets)))


def centroid_track_hz(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Spectral centroid (Hz) within :data:`BAND_HZ` per 46 ms frame (23 ms hops); quiet frames
    (30 dB below the loudest) are NaN."""
    power, freqs = _frames_power(_mono(audio), sample_rate_hz, 0.046, 0.023)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    p, f = power[:, band], freqs[band]
    total = p.sum(axis=1)
    centroid = (p * f).sum(axis=1) / np.maximum(total, 1e-20)
    centroid[total < 1e-3 * total.max()] = np.nan
    return centroid


def centroid_slope_octaves_per_s(audio: np.ndarray, sample_rate_hz: int) -> float:
    """Least-squares slope of log2(centroid) over time: > 0 for a rising sound, < 0 falling."""
    centroid = centroid_track_hz(audio, sample_rate_hz)
    times = np.arange(len(centroid)) * 0.023
    keep = np.isfinite(centroid)
    if keep.sum() < 3:
        return 0.0
    return float(np.polyfit(times[keep], np.log2(centroid[keep]), 1)[0])


@dataclass(frozen=True)
class PromptCheck:
    """One prompt-following criterion: ``measure(audio, sr)`` -> value, ``passes(value)``."""

    prompt: str
    description: str
    measure: Callable[[np.ndarray, int], float]
    passes: Callable[[float], bool]


def semitones_between(a_hz: float, b_hz: float) -> float:
    return float(abs(12 * np.log2(a_hz / b_hz)))


def tone_check(freq_hz: float) -> PromptCheck:
    """"a sine tone at <freq_hz> Hz" (rounded to whole Hz, as the training captions are): the
    dominant frequency within a semitone of it."""
    hz = round(freq_hz)
    return PromptCheck(
        f"a sine tone at {hz} Hz",
        f"dominant frequency within a semitone of {hz} Hz",
        dominant_frequency_hz,
        lambda measured: semitones_between(measured, freq_hz) <= 1.0,
    )


#: The starter model's prompt-following checks (what tests/engine/test_starter_model.py asserts).
PROMPT_CHECKS: tuple[PromptCheck, ...] = (
    tone_check(440.0),
    PromptCheck("white noise", "spectral flatness >= 0.3", spectral_flatness, lambda v: v >= 0.3),
    PromptCheck(
        "clicks at 4 per second", "onset rate within 10% of 4 per second", onset_rate_per_s, lambda r: abs(r - 4) <= 0.4
    ),
    PromptCheck(
        "a rising sweep", "spectral centroid rises (> 0.2 octave/s)", centroid_slope_octaves_per_s, lambda s: s > 0.2
    ),
)


def evaluate(
    generate: Callable[[str, int], tuple[np.ndarray, int]],
    checks: Iterable[PromptCheck] = PROMPT_CHECKS,
    seeds: Iterable[int] = range(10),
) -> dict[str, dict[str, Any]]:
    """Run every check over ``seeds``: ``generate(prompt, seed)`` -> (audio, sample_rate_hz).

    Returns ``{prompt: {"pass_rate": fraction, "values": [...], "criterion": text}}``.
    """
    report: dict[str, dict[str, Any]] = {}
    seeds = list(seeds)
    for check in checks:
        values = []
        for seed in seeds:
            audio, sample_rate_hz = generate(check.prompt, seed)
            values.append(float(check.measure(audio, sample_rate_hz)))
        passed = [check.passes(v) for v in values]
        report[check.prompt] = {
            "pass_rate": sum(passed) / len(passed),
            "values": [round(v, 3) for v in values],
            "criterion": check.description,
        }
    return report
