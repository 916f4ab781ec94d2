"""Seeded synthetic sounds with text captions: the training data of the starter model.

Everything is numpy and deterministic for a given ``numpy.random.Generator``. Each sound family
has a generator function (audio only) and :func:`random_example` draws a family, its
parameters, a loudness and an offset, and returns the audio with several captions that all
describe it, e.g.::

    rng = np.random.default_rng(0)
    example = random_example(rng, duration_s=2.56, sample_rate_hz=22050)
    example.audio      # float32 (num_samples,), peak <= 1
    example.captions   # ("a sine tone at 440 Hz", "a sine tone at A4", ...)

Families (``KINDS``): sine tones at named pitches, major/minor triads, rising and falling sweeps,
white/pink/brown noise, noise bursts, clicks and pulse trains at named rates, plucked
(Karplus-Strong) and decaying tones, and tremolo. The vocabulary of every caption is in
:func:`caption_vocabulary` (the starter model's tokenizer is built from it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Sharps-only pitch-class names, index = semitones above C.
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_NOTE_RE = re.compile(r"^\s*([A-Ga-g])([#b]?)(-?\d)\s*$")

#: Named pitches used by tones, plucks, decays and tremolo: chromatic A2 (110 Hz) .. A6 (1760 Hz).
NOTE_RANGE = ("A2", "A6")
#: Round frequencies (Hz) that tones are also named by.
ROUND_FREQUENCIES_HZ = (100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 1000, 1200, 1500, 2000, 2500, 3000)
#: Event rates (per second) of clicks, pulse trains and noise bursts.
EVENT_RATES_PER_S = (1, 2, 3, 4, 5, 6, 8)
#: Tremolo rates (per second).
TREMOLO_RATES_PER_S = (2, 3, 4, 5, 6, 8)
#: Sweep end points (Hz).
SWEEP_FREQUENCIES_HZ = (100, 150, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000, 3000)
NOISE_COLORS = ("white", "pink", "brown")
CHORD_QUALITIES = ("major", "minor")

#: Sound families with the probability :func:`random_example` draws each.
KIND_WEIGHTS: dict[str, float] = {
    "tone": 0.28,
    "chord": 0.06,
    "sweep": 0.12,
    "noise": 0.10,
    "noise_bursts": 0.06,
    "clicks": 0.10,
    "pulse_train": 0.04,
    "pluck": 0.08,
    "decay": 0.08,
    "tremolo": 0.08,
}
KINDS = tuple(KIND_WEIGHTS)


# ---------------------------------------------------------------------------------------------
# Pitch names
# ---------------------------------------------------------------------------------------------


def note_to_hz(note: str) -> float:
    """Frequency in Hz of a note name in scientific pitch notation, A4 = 440 Hz (equal temperament).

    Accepts sharps and flats ("C#4", "Db4", case-insensitive letter). Raises ValueError for
    anything else, e.g. "H2" or "A".
    """
    match = _NOTE_RE.match(note)
    if match is None:
        raise ValueError(f"note name {note!r} is not a pitch like 'A4', 'C#3' or 'Eb5'.")
    letter, accidental, octave = match.group(1).upper(), match.group(2), int(match.group(3))
    semitone = NOTE_NAMES.index(letter) + {"#": 1, "b": -1, "": 0}[accidental]
    midi = 12 * (octave + 1) + semitone
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def hz_to_note(freq_hz: float) -> str:
    """Nearest equal-tempered note name (sharps) for a frequency in Hz, e.g. 445 -> "A4"."""
    if not freq_hz > 0:
        raise ValueError(f"`freq_hz` must be positive, got {freq_hz}.")
    midi = int(round(69 + 12 * math.log2(freq_hz / 440.0)))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def named_notes(low: str = NOTE_RANGE[0], high: str = NOTE_RANGE[1]) -> tuple[str, ...]:
    """Chromatic note names from ``low`` to ``high`` inclusive."""
    lo = int(round(69 + 12 * math.log2(note_to_hz(low) / 440.0)))
    hi = int(round(69 + 12 * math.log2(note_to_hz(high) / 440.0)))
    return tuple(f"{NOTE_NAMES[m % 12]}{m // 12 - 1}" for m in range(lo, hi + 1))


# ---------------------------------------------------------------------------------------------
# Sound generators. All return float32 mono arrays of ``num_samples`` samples (unnormalized).
# ---------------------------------------------------------------------------------------------


def _times(num_samples: int, sample_rate_hz: int) -> np.ndarray:
    return np.arange(num_samples, dtype=np.float64) / sample_rate_hz


def sine(freq_hz: float, num_samples: int, sample_rate_hz: int, phase: float = 0.0) -> np.ndarray:
    """A sine of ``freq_hz``."""
    return np.sin(2 * np.pi * freq_hz * _times(num_samples, sample_rate_hz) + phase).astype(np.float32)


def harmonic_tone(
    freq_hz: float, num_samples: int, sample_rate_hz: int, rng: np.random.Generator, num_partials: int = 3
) -> np.ndarray:
    """A tone with ``num_partials`` harmonics of amplitude 1/k and random phases (organ-like)."""
    t = _times(num_samples, sample_rate_hz)
    out = np.zeros(num_samples)
    for k in range(1, num_partials + 1):
        if k * freq_hz < sample_rate_hz / 2:
            out += np.sin(2 * np.pi * k * freq_hz * t + rng.uniform(0, 2 * np.pi)) / k
    return out.astype(np.float32)


def chord(
    root_hz: float, quality: str, num_samples: int, sample_rate_hz: int, rng: np.random.Generator
) -> np.ndarray:
    """A major (0, 4, 7 semitones) or minor (0, 3, 7) triad of harmonic tones on ``root_hz``."""
    if quality not in CHORD_QUALITIES:
        raise ValueError(f"chord `quality` must be one of {CHORD_QUALITIES}, got {quality!r}.")
    third = 4 if quality == "major" else 3
    return sum(  # type: ignore[return-value]
        harmonic_tone(root_hz * 2 ** (s / 12), num_samples, sample_rate_hz, rng) for s in (0, third, 7)
    )


def sweep(start_hz: float, end_hz: float, num_samples: int, sample_rate_hz: int, phase: float = 0.0) -> np.ndarray:
    """An exponential sine sweep from ``start_hz`` to ``end_hz`` over the whole length."""
    t = _times(num_samples, sample_rate_hz)
    duration_s = num_samples / sample_rate_hz
    ratio = end_hz / start_hz
    if abs(ratio - 1) < 1e-9:
        return sine(start_hz, num_samples, sample_rate_hz, phase)
    k = math.log(ratio) / duration_s
    phase_t = 2 * np.pi * start_hz * (np.exp(k * t) - 1) / k
    return np.sin(phase_t + phase).astype(np.float32)


def colored_noise(color: str, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """White (flat), pink (-3 dB/octave) or brown (-6 dB/octave) Gaussian noise, unit RMS."""
    if color not in NOISE_COLORS:
        raise ValueError(f"noise `color` must be one of {NOISE_COLORS}, got {color!r}.")
    white = rng.standard_normal(num_samples)
    if color == "white":
        out = white
    else:
        spectrum = np.fft.rfft(white)
        bins = np.arange(len(spectrum), dtype=np.float64)
        bins[0] = 1.0
        exponent = 0.5 if color == "pink" else 1.0
        spectrum = spectrum / bins**exponent
        spectrum[0] = 0.0
        out = np.fft.irfft(spectrum, n=num_samples)
    out = out / (np.sqrt(np.mean(out**2)) + 1e-12)
    return out.astype(np.float32)


def event_times(rate_per_s: float, num_samples: int, sample_rate_hz: int, offset_s: float) -> np.ndarray:
    """Sample indices of a periodic event train: one every 1/rate s, the first at ``offset_s``."""
    if rate_per_s <= 0:
        raise ValueError(f"`rate_per_s` must be positive, got {rate_per_s}.")
    times_s = np.arange(offset_s, num_samples / sample_rate_hz, 1.0 / rate_per_s)
    return np.round(times_s * sample_rate_hz).astype(np.int64)


def clicks(rate_per_s: float, num_samples: int, sample_rate_hz: int, offset_s: float = 0.0) -> np.ndarray:
    """Clicks (single-sample impulses followed by a 0.5 ms decay) at ``rate_per_s``."""
    out = np.zeros(num_samples, dtype=np.float32)
    shape = np.exp(-np.arange(int(0.002 * sample_rate_hz)) / (0.0005 * sample_rate_hz)).astype(np.float32)
    for start in event_times(rate_per_s, num_samples, sample_rate_hz, offset_s):
        end = min(num_samples, start + len(shape))
        out[start:end] += shape[: end - start]
    return out


def pulse_train(
    rate_per_s: float, num_samples: int, sample_rate_hz: int, offset_s: float = 0.0, pulse_s: float = 0.005
) -> np.ndarray:
    """Rectangular pulses ``pulse_s`` long (alternating sign, so no DC) at ``rate_per_s``."""
    out = np.zeros(num_samples, dtype=np.float32)
    width = max(1, int(pulse_s * sample_rate_hz))
    for i, start in enumerate(event_times(rate_per_s, num_samples, sample_rate_hz, offset_s)):
        out[start : start + width] = 1.0 if i % 2 == 0 else -1.0
    return out


def noise_bursts(
    rate_per_s: float,
    num_samples: int,
    sample_rate_hz: int,
    rng: np.random.Generator,
    offset_s: float = 0.0,
    burst_s: float = 0.05,
    color: str = "white",
) -> np.ndarray:
    """Bursts of noise ``burst_s`` long with 5 ms fades, at ``rate_per_s``."""
    noise = colored_noise(color, num_samples, rng)
    gate = np.zeros(num_samples, dtype=np.float32)
    width = max(2, int(burst_s * sample_rate_hz))
    fade = max(1, min(width // 2, int(0.005 * sample_rate_hz)))
    envelope = np.ones(width, dtype=np.float32)
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[-fade:] = np.linspace(1, 0, fade)
    for start in event_times(rate_per_s, num_samples, sample_rate_hz, offset_s):
        end = min(num_samples, start + width)
        gate[start:end] = envelope[: end - start]
    return noise * gate


def karplus_strong(
    freq_hz: float,
    num_samples: int,
    sample_rate_hz: int,
    rng: np.random.Generator,
    decay_s: float = 0.5,
) -> np.ndarray:
    """A plucked string (Karplus-Strong: a noise burst in a delay line with a lowpass average).

    The loop length is fractional (linear-interpolated) so the pitch is within a few cents of
    ``freq_hz``; the loop loses energy so that the tone decays with a time constant of about
    ``decay_s`` seconds (plus the lowpass's own faster decay of the upper harmonics).
    """
    decay = math.exp(-1.0 / (decay_s * freq_hz))
    period = sample_rate_hz / freq_hz - 0.5  # the two-point average delays by half a sample
    delay = int(period)
    frac = period - delay
    buf = np.zeros(num_samples + delay + 2)
    buf[: delay + 2] = rng.uniform(-1, 1, delay + 2)
    buf[: delay + 2] -= buf[: delay + 2].mean()
    # Every sample depends only on samples at least ``delay`` back, so a period is one vector op:
    # y[n] = decay * (w0 y[n-delay] + w1 y[n-delay-1] + w2 y[n-delay-2]), the fractional-delay
    # interpolation folded into the two-point averaging lowpass.
    w0, w1, w2 = 0.5 * (1 - frac), 0.5, 0.5 * frac
    n = delay + 2
    while n < len(buf):
        end = min(len(buf), n + delay)
        idx = np.arange(n, end)
        buf[n:end] = decay * (w0 * buf[idx - delay] + w1 * buf[idx - delay - 1] + w2 * buf[idx - delay - 2])
        n = end
    # The averaging loop passes DC at full gain: block it (first-order high-pass near 17 Hz).
    from scipy.signal import lfilter

    pole = math.exp(-2 * np.pi * 20.0 / sample_rate_hz)
    return lfilter([1.0, -1.0], [1.0, -pole], buf[:num_samples]).astype(np.float32)


def decaying_tone(freq_hz: float, num_samples: int, sample_rate_hz: int, decay_s: float, phase: float = 0.0) -> np.ndarray:
    """A sine with a 5 ms attack and an exponential decay of time constant ``decay_s``."""
    t = _times(num_samples, sample_rate_hz)
    envelope = np.exp(-t / decay_s) * np.minimum(1.0, t / 0.005)
    return (envelope * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)


def tremolo(
    freq_hz: float, rate_per_s: float, depth: float, num_samples: int, sample_rate_hz: int, phase: float = 0.0
) -> np.ndarray:
    """A sine whose amplitude swings by ``depth`` (0..1) at ``rate_per_s``."""
    t = _times(num_samples, sample_rate_hz)
    gain = 1.0 - depth * 0.5 * (1 + np.cos(2 * np.pi * rate_per_s * t + phase))
    return (gain * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _delayed(signal: np.ndarray, offset_samples: int) -> np.ndarray:
    out = np.zeros_like(signal)
    if offset_samples < len(signal):
        out[offset_samples:] = signal[: len(signal) - offset_samples]
    return out


# ---------------------------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------------------------

#: Caption templates per family; fields are filled from the example's parameters.
CAPTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "tone_note": (
        "a sine tone at {hz} Hz",
        "a sine tone at {note}",
        "a {hz} Hz sine tone",
        "a pure tone at {note}",
        "a sine wave at {hz} Hz",
        "a steady sine tone, {note}",
    ),
    "tone_hz": ("a sine tone at {hz} Hz", "a {hz} Hz sine tone", "a pure tone at {hz} Hz", "a sine wave at {hz} Hz"),
    "chord": ("{a} {root} {quality} chord", "a {quality} chord on {root}{octave}", "{a} {root}{octave} {quality} triad"),
    "sweep": (
        "a {direction} sweep",
        "a {direction} sine sweep",
        "a sweep {direction} from {start} Hz to {end} Hz",
        "a {direction} chirp from {start} Hz to {end} Hz",
        "a {direction} tone",
    ),
    "noise": ("{color} noise", "steady {color} noise", "a {color} noise signal"),
    "noise_bursts": (
        "noise bursts at {rate} per second",
        "short bursts of {color} noise at {rate} per second",
        "{rate} noise bursts per second",
    ),
    "clicks": ("clicks at {rate} per second", "a click track at {rate} clicks per second", "{rate} clicks per second"),
    "pulse_train": ("a pulse train at {rate} per second", "pulses at {rate} per second", "a pulse train, {rate} pulses per second"),
    "pluck": ("a plucked string at {note}", "a plucked tone at {hz} Hz", "a plucked {note}", "a plucked string at {hz} Hz"),
    "decay": ("a decaying tone at {hz} Hz", "a decaying sine tone at {note}", "a fading tone at {note}"),
    "tremolo": (
        "a tremolo tone at {hz} Hz",
        "a sine tone at {note} with tremolo at {rate} per second",
        "a tremolo at {rate} per second",
    ),
}


@dataclass(frozen=True, eq=False)
class SynthExample:
    """One synthesized sound: mono float32 ``audio`` (peak <= 1), ``captions`` describing it,
    the family ``kind`` and the drawn ``params`` (frequencies in Hz, rates per second, offsets in s).
    """

    audio: np.ndarray
    captions: tuple[str, ...]
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def _article(word: str) -> str:
    """"an" before a note name read with a vowel sound (A, E, F), else "a"."""
    return "an" if word[:1] in ("A", "E", "F") else "a"


def _fill(templates: tuple[str, ...], **values: Any) -> tuple[str, ...]:
    return tuple(t.format(**values) for t in templates)


# ---------------------------------------------------------------------------------------------
# Random examples
# ---------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, options: tuple[Any, ...]) -> Any:
    return options[int(rng.integers(len(options)))]


#: Range of the whole-Hz tones drawn with ``random_example(..., any_hz=True)``.
ANY_HZ_RANGE = (60.0, 3000.0)


def _make_tone(rng: np.random.Generator, n: int, sr: int, any_hz: bool = False) -> tuple[np.ndarray, tuple[str, ...], dict]:
    if any_hz and rng.random() < 0.5:
        # Any whole Hz, log-uniform: captions that name numbers the model must read, not recall.
        freq = float(round(2 ** rng.uniform(*np.log2(ANY_HZ_RANGE))))
        note = None
        captions = _fill(CAPTION_TEMPLATES["tone_hz"], hz=round(freq))
    elif rng.random() < 0.75:
        note = _pick(rng, named_notes())
        freq = note_to_hz(note)
        captions = _fill(CAPTION_TEMPLATES["tone_note"], hz=round(freq), note=note)
    else:
        freq = float(_pick(rng, ROUND_FREQUENCIES_HZ))
        note = None
        captions = _fill(CAPTION_TEMPLATES["tone_hz"], hz=round(freq))
    audio = sine(freq, n, sr, rng.uniform(0, 2 * np.pi))
    return audio, captions, {"freq_hz": freq, "note": note}


def _make_chord(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, tuple[str, ...], dict]:
    root, octave, quality = _pick(rng, NOTE_NAMES), int(rng.integers(3, 5)), _pick(rng, CHORD_QUALITIES)
    freq = note_to_hz(f"{root}{octave}")
    audio = chord(freq, quality, n, sr, rng)
    captions = _fill(CAPTION_TEMPLATES["chord"], a=_article(root), root=root, octave=octave, quality=quality)
    return audio, captions, {"root_hz": freq, "quality": quality, "root": root, "octave": octave}


def _make_sweep(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, tuple[str, ...], dict]:
    lo, hi = sorted(rng.choice(len(SWEEP_FREQUENCIES_HZ), size=2, replace=False))
    while SWEEP_FREQUENCIES_HZ[hi] / SWEEP_FREQUENCIES_HZ[lo] < 2.5:  # at least ~1.3 octaves of travel
        lo, hi = sorted(rng.choice(len(SWEEP_FREQUENCIES_HZ), size=2, replace=False))
    f_lo, f_hi = SWEEP_FREQUENCIES_HZ[lo], SWEEP_FREQUENCIES_HZ[hi]
    direction = _pick(rng, ("rising", "falling"))
    start, end = (f_lo, f_hi) if direction == "rising" else (f_hi, f_lo)
    audio = sweep(start, end, n, sr, rng.uniform(0, 2 * np.pi))
    captions = _fill(CAPTION_TEMPLATES["sweep"], direction=direction, start=start, end=end)
    return audio, captions, {"start_hz": start, "end_hz": end, "direction": direction}


def _make_noise(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, tuple[str, ...], dict]:
    color = _pick(rng, NOISE_COLORS)
    return colored_noise(color, n, rng), _fill(CAPTION_TEMPLATES["noise"], color=color), {"color": color}


def _make_events(kind: str) -> Callable[[np.random.Generator, int, int], tuple[np.ndarray, tuple[str, ...], dict]]:
    def make(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, tuple[str, ...], dict]:
        rate = _pick(rng, EVENT_RATES_PER_S)
        offset = float(rng.uniform(0, min(1.0 / rate, 0.5 * n / sr)))
        color = "white"
        if kind == "clicks":
            audio = clicks(rate, n, sr, offset)
        elif kind == "pulse_train":
            audio = pulse_train(rate, n, sr, offset, pulse_s=float(rng.uniform(0.002, 0.01)))
        else:
            color = _pick(rng, NOISE_COLORS[:2])
            burst_s = float(rng.uniform(0.03, min(0.1, 0.4 / rate)))
            audio = noise_bursts(rate, n, sr, rng, offset, burst_s, color)
        captions = _fill(CAPTION_TEMPLATES[kind], rate=rate, color=color)
        return audio, captions, {"rate_per_s": rate, "offset_s": offset, "color": color}

    return make


#: Plucks stop at A5: above it the Karplus-Strong lowpass kills the tone within tens of ms.
PLUCK_RANGE = ("A2", "A5")


def _pitched(rng: np.random.Generator, low: str = NOTE_RANGE[0], high: str = NOTE_RANGE[1]) -> tuple[str, float]:
    note = _pick(rng, named_notes(low, high))
    return note, note_to_hz(note)


def _make_pluck(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, tuple[str, ...], dict]:
    note, freq = _pitched(rng, *PLUCK_RANGE)
    offset = float(rng.uniform(0, min(0.5, 0.2 * n / sr)))
    decay_s = float(rng.uniform(0.3, 1.0))
    audio = _delayed(karplus_strong(freq, n, sr, rng, decay_s), int(offset * sr))
    return audio, _fill(CAPTION_TEMPLATES["pluck"], note=note, hz=round(freq)), {"freq_hz": freq, "note": note, "offset_s": offset}


def _make_decay(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, tuple[str, ...], dict]:
    note, freq = _pitched(rng)
    offset = float(rng.uniform(0, min(0.5, 0.2 * n / sr)))
    decay_s = float(rng.uniform(0.2, 0.8))
    audio = _delayed(decaying_tone(freq, n, sr, decay_s, rng.uniform(0, 2 * np.pi)), int(offset * sr))
    return audio, _fill(CAPTION_TEMPLATES["decay"], note=note, hz=round(freq)), {"freq_hz": freq, "note": note, "offset_s": offset}


def _make_tremolo(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, tuple[str, ...], dict]:
    note, freq = _pitched(rng)
    rate = _pick(rng, TREMOLO_RATES_PER_S)
    depth = float(rng.uniform(0.7, 1.0))
    audio = tremolo(freq, rate, depth, n, sr, rng.uniform(0, 2 * np.pi))
    captions = _fill(CAPTION_TEMPLATES["tremolo"], note=note, hz=round(freq), rate=rate)
    return audio, captions, {"freq_hz": freq, "note": note, "rate_per_s": rate}


_MAKERS = {
    "tone": _make_tone,
    "chord": _make_chord,
    "sweep": _make_sweep,
    "noise": _make_noise,
    "noise_bursts": _make_events("noise_bursts"),
    "clicks": _make_events("clicks"),
    "pulse_train": _make_events("pulse_train"),
    "pluck": _make_pluck,
    "decay": _make_decay,
    "tremolo": _make_tremolo,
}


def random_example(
    rng: np.random.Generator,
    duration_s: float,
    sample_rate_hz: int,
    kind: str | None = None,
    *,
    any_hz: bool = False,
) -> SynthExample:
    """Draw one captioned sound of ``duration_s`` at ``sample_rate_hz``.

    ``kind`` (one of ``KINDS``) fixes the family; None draws it with ``KIND_WEIGHTS``. With
    ``any_hz``, half the pure tones sit at any whole Hz from 60 Hz to 3 kHz (named notes and
    round numbers otherwise; the draws are the same as before without it). The peak
    level is random between -20 and -1 dBFS. Raises ValueError for an unknown kind or a
    non-positive duration/sample rate.
    """
    if kind is None:
        kind = str(rng.choice(KINDS, p=np.array(list(KIND_WEIGHTS.values())) / sum(KIND_WEIGHTS.values())))
    if kind not in _MAKERS:
        raise ValueError(f"`kind` must be one of {', '.join(KINDS)}, got {kind!r}.")
    if not duration_s > 0 or not sample_rate_hz > 0:
        raise ValueError(
            f"`duration_s` and `sample_rate_hz` must be positive, got {duration_s} and {sample_rate_hz}."
        )
    num_samples = int(round(duration_s * sample_rate_hz))
    if kind == "tone":
        audio, captions, params = _make_tone(rng, num_samples, sample_rate_hz, any_hz)
    else:
        audio, captions, params = _MAKERS[kind](rng, num_samples, sample_rate_hz)
    peak = float(np.max(np.abs(audio)))
    gain_db = float(rng.uniform(-20.0, -1.0))
    if peak > 0:
        audio = audio * (10 ** (gain_db / 20) / peak)
    params = {**params, "gain_db": gain_db}
    return SynthExample(audio.astype(np.float32), captions, kind, params)


def caption_vocabulary() -> tuple[str, ...]:
    """Every caption the synthesizer can produce, sorted (the tokenizer's training corpus)."""
    captions: set[str] = set()
    notes = named_notes()
    plucked = set(named_notes(*PLUCK_RANGE))
    for note in notes:
        hz = round(note_to_hz(note))
        for key in ("tone_note", "pluck", "decay") if note in plucked else ("tone_note", "decay"):
            captions.update(_fill(CAPTION_TEMPLATES[key], note=note, hz=hz))
        for rate in TREMOLO_RATES_PER_S:
            captions.update(_fill(CAPTION_TEMPLATES["tremolo"], note=note, hz=hz, rate=rate))
    for hz in ROUND_FREQUENCIES_HZ:
        captions.update(_fill(CAPTION_TEMPLATES["tone_hz"], hz=hz))
    for root in NOTE_NAMES:
        for octave in (3, 4):
            for quality in CHORD_QUALITIES:
                captions.update(
                    _fill(CAPTION_TEMPLATES["chord"], a=_article(root), root=root, octave=octave, quality=quality)
                )
    for direction in ("rising", "falling"):
        for start in SWEEP_FREQUENCIES_HZ:
            for end in SWEEP_FREQUENCIES_HZ:
                captions.update(_fill(CAPTION_TEMPLATES["sweep"], direction=direction, start=start, end=end))
    for color in NOISE_COLORS:
        captions.update(_fill(CAPTION_TEMPLATES["noise"], color=color))
        for rate in EVENT_RATES_PER_S:
            captions.update(_fill(CAPTION_TEMPLATES["noise_bursts"], rate=rate, color=color))
    for rate in EVENT_RATES_PER_S:
        for key in ("clicks", "pulse_train"):
            captions.update(_fill(CAPTION_TEMPLATES[key], rate=rate))
    return tuple(sorted(captions))
