"""Measurements of generated audio that say whether the starter model followed its prompt.

Used by the prompt-following tests and by :func:`evaluate` (which the training script runs on the
model it has just trained). Every function takes mono float audio ``(samples,)`` or
``(channels, samples)`` (channels are averaged) at ``sample_rate_hz``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
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


# ---------------------------------------------------------------------------------------------
# Drum tempo
# ---------------------------------------------------------------------------------------------

#: The tempo range :func:`tempo_bpm` searches: just around the starter's trained tempos
#: (80-155 BPM, less than an octave), so half or double a beat's tempo never falls inside it.
TEMPO_RANGE_BPM = (78.0, 158.0)
_ONSET_HOP_S = 0.005


def onset_strength(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Onset strength per 5 ms hop: the positive change of the log power in 40 mel bands over
    :data:`BAND_HZ` (23 ms frames; mel bands so that a kick's low band counts as much as a
    hi-hat's wide top), with its running mean (0.25 s) removed and clipped at 0."""
    x = _mono(audio)
    power, freqs = _frames_power(x, sample_rate_hz, 0.023, _ONSET_HOP_S)
    mel = power @ _mel_matrix(freqs, _NUM_MEL_BANDS, *BAND_HZ).T
    log_power = np.log10(mel + 1e-10 * max(float(mel.max()), 1e-20))
    log_power = np.maximum(log_power, log_power.max() - 8.0)  # 80 dB floor
    flux = np.maximum(0.0, np.diff(log_power, axis=0)).sum(axis=1)
    window = max(1, int(0.25 / _ONSET_HOP_S))
    local = np.convolve(flux, np.ones(window) / window, mode="same")
    return np.maximum(0.0, flux - local)


def tempo_bpm(audio: np.ndarray, sample_rate_hz: int, bpm_range: tuple[float, float] = TEMPO_RANGE_BPM) -> float:
    """The tempo (beats per minute) of a drum beat: the beat period P within ``bpm_range`` whose
    onset-strength autocorrelation (unbiased) at P plus at 2P is the largest (the bar's half
    repeats too, which tells the beat from a dotted or syncopated period), searched in steps of
    a tenth of the 5 ms hop. Returns NaN for a clip without onsets."""
    env = onset_strength(audio, sample_rate_hz)
    env = env - env.mean()
    n = len(env)
    if n < 8 or not np.any(env):
        return float("nan")
    spectrum = np.fft.rfft(env, 2 * n)
    ac = np.fft.irfft(spectrum * np.conj(spectrum))[:n] / (n - np.arange(n))
    lags = np.arange(60.0 / bpm_range[1] / _ONSET_HOP_S, 60.0 / bpm_range[0] / _ONSET_HOP_S, 0.1)
    frames = np.arange(n)
    # The second period only where at least 30% of the clip still overlaps itself.
    double = np.where(2 * lags < 0.7 * n, np.interp(2 * lags, frames, ac), 0.0)
    score = np.interp(lags, frames, ac) + double
    return float(60.0 / (lags[int(np.argmax(score))] * _ONSET_HOP_S))


def tempo_check(bpm: float, prompt: str | None = None) -> PromptCheck:
    """A drum beat at ``bpm``: the measured tempo within 5%."""
    return PromptCheck(
        prompt or f"a drum beat at {bpm:g} BPM",
        f"tempo within 5% of {bpm:g} BPM",
        tempo_bpm,
        lambda measured: bool(np.isfinite(measured)) and abs(measured / bpm - 1) <= 0.05,
    )


# ---------------------------------------------------------------------------------------------
# Instrument identity: a small classifier on log-mel statistics (numpy and scipy only)
# ---------------------------------------------------------------------------------------------

_NUM_MEL_BANDS = 40


def _mel_matrix(freqs: np.ndarray, num_bands: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Triangular HTK-mel filters (bands, bins) over ``low_hz``..``high_hz``."""

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges = 700.0 * (10 ** (np.linspace(mel(low_hz), mel(high_hz), num_bands + 2) / 2595.0) - 1.0)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / (center - lower)
    down = (upper - freqs[None]) / (upper - center)
    return np.maximum(0.0, np.minimum(up, down))


def timbre_features(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """What a note sounds like, independent of its level: over the frames within 40 dB of the
    loudest (46 ms, 23 ms hops), the mean and spread of 40 log-mel bands within
    :data:`BAND_HZ` (relative to the loudest band), the mean absolute change per frame, and
    the envelope's shape (attack time, decay rate, sustained fraction). Shape (126,)."""
    power, freqs = _frames_power(_mono(audio), sample_rate_hz, 0.046, 0.023)
    mel = power @ _mel_matrix(freqs, _NUM_MEL_BANDS, *BAND_HZ).T
    total = mel.sum(axis=1)
    if not total.max() > 0:
        return np.zeros(3 * _NUM_MEL_BANDS + 6)
    level_db = 10 * np.log10(total / total.max() + 1e-12)
    active = level_db > -40
    log_mel = 10 * np.log10(mel + 1e-10 * mel.max())
    log_mel = np.maximum(log_mel, log_mel.max() - 80)
    frames = log_mel[active]
    mean = frames.mean(axis=0)
    spread = frames.std(axis=0)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=0) if len(frames) > 1 else np.zeros(_NUM_MEL_BANDS)
    first = int(np.argmax(active))
    peak = int(np.argmax(level_db))
    attack_s = (peak - first) * 0.023
    after = level_db[peak:]
    times = np.arange(len(after)) * 0.023
    decay_db_per_s = float(np.polyfit(times, after, 1)[0]) if len(after) > 2 else 0.0
    envelope = np.array([
        attack_s, decay_db_per_s / 100.0, active.mean(), (level_db > -10).mean(), (level_db > -20).mean(),
        float(np.median(level_db[active])) / 40.0,
    ])  # fmt: skip
    return np.concatenate([(mean - mean.max()) / 20.0, spread / 10.0, change / 10.0, envelope])


@dataclass
class InstrumentClassifier:
    """Multinomial logistic regression (L2) on :func:`timbre_features`, fitted by L-BFGS.

    ``classes`` are the labels in output order; ``fit`` standardises the features and learns
    ``weights`` (features + 1, classes)."""

    classes: tuple[Any, ...] = ()
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    weights: np.ndarray | None = None
    l2: float = 1e-2

    def fit(self, features: np.ndarray, labels: Sequence[Any]) -> InstrumentClassifier:
        from scipy.optimize import minimize

        x = np.asarray(features, dtype=np.float64)
        self.classes = tuple(sorted(set(labels), key=lambda c: (str(type(c)), c)))
        if len(self.classes) < 2:
            raise ValueError(f"need examples of at least two classes, got {self.classes}.")
        y = np.array([self.classes.index(label) for label in labels])
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = np.hstack([(x - self.mean) / self.scale, np.ones((len(x), 1))])
        k = len(self.classes)
        onehot = np.eye(k)[y]

        def loss(w_flat: np.ndarray) -> tuple[float, np.ndarray]:
            w = w_flat.reshape(z.shape[1], k)
            logits = z @ w
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            value = -np.mean(np.sum(onehot * np.log(p + 1e-12), axis=1)) + 0.5 * self.l2 * np.sum(w[:-1] ** 2)
            grad = z.T @ (p - onehot) / len(z)
            grad[:-1] += self.l2 * w[:-1]
            return value, grad.ravel()

        result = minimize(loss, np.zeros(z.shape[1] * k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
        self.weights = result.x.reshape(z.shape[1], k)
        return self

    def predict(self, features: np.ndarray) -> list[Any]:
        if self.weights is None:
            raise ValueError("the classifier is not fitted yet (call fit first).")
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        z = np.hstack([(x - self.mean) / self.scale, np.ones((len(x), 1))])
        return [self.classes[i] for i in np.argmax(z @ self.weights, axis=1)]

    def accuracy(self, features: np.ndarray, labels: Sequence[Any]) -> float:
        predicted = self.predict(features)
        return float(np.mean([p == t for p, t in zip(predicted, labels)]))


#: Instruments the identity check tells apart at the same note (General MIDI programs): grand
#: piano, nylon guitar, violin, trumpet, flute. Their G4 and D4 are held out of the starter's
#: training (engine.training.gm_corpus.IDENTITY_KEYS).
IDENTITY_INSTRUMENTS = (0, 24, 40, 56, 73)
#: MIDI keys the classifier learns each instrument on (G3-F#5, around the tested G4 and D4).
CLASSIFIER_KEYS = tuple(range(55, 79))


def confusion_lines(truth: Sequence[int], predicted: Sequence[int]) -> list[str]:
    """One line per GM program in ``truth``: the share named right and what it was taken for."""
    from engine.training import gm_corpus

    lines = []
    for p in dict.fromkeys(truth):
        got = [q for t, q in zip(truth, predicted) if t == p]
        others = sorted({gm_corpus.INSTRUMENTS[q].name for q in got if q != p})
        lines.append(f"{gm_corpus.INSTRUMENTS[p].name}: {np.mean([q == p for q in got]):.0%} named right; "
                     f"taken for {', '.join(others) or 'nothing else'}")  # fmt: skip
    return lines


def classifier_fonts() -> tuple[Any, ...]:
    """The sound fonts the identity classifier learns from: every font other than FluidR3_GM
    (the one the starter model learns from) that is installed: TimGM6mb, MuseScore General."""
    from engine.training import gm_corpus

    return tuple(font for font in (gm_corpus.TIMGM_FONT, gm_corpus.MUSESCORE_FONT) if font.is_file())


def identity_classifier(
    programs: Sequence[int] = IDENTITY_INSTRUMENTS,
    keys: Sequence[int] = CLASSIFIER_KEYS,
    fonts: Sequence[Any] | None = None,
    *,
    sample_rate_hz: int = 22050,
    duration_s: float = 2.56,
    takes: int = 2,
    seed: int = 0,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> InstrumentClassifier:
    """A classifier of ``programs`` fitted on notes rendered from ``fonts`` (default
    :func:`classifier_fonts`; never FluidR3, which the model learns from): every key, ``takes``
    random loudness/length/onset draws each. Raises gm_corpus.RenderError without fluidsynth
    or with no other font installed.

    ``transform`` (mono audio -> mono audio) is applied to every render before its features are
    taken: pass the model's spectrogram round trip (image -> Griffin-Lim) so the classifier
    learns from what generated clips sound like (trained on plain renders, it told round-tripped
    FluidR3 notes apart only 64% of the time, against 100% before the round trip)."""
    from engine.training import gm_corpus

    fonts = tuple(fonts) if fonts is not None else classifier_fonts()
    if not fonts:
        raise gm_corpus.RenderError(f"no sound font besides FluidR3 is installed; install: apt install {gm_corpus.APT_PACKAGES}")
    rng = np.random.default_rng(seed)
    clips = [gm_corpus.random_note(rng, program, key) for program in programs for key in keys for _ in range(takes)]
    labels = [clip.attributes["program"] for clip in clips]
    features, all_labels = [], []
    for font in fonts:
        audio = gm_corpus.render(clips, sample_rate_hz=sample_rate_hz, duration_s=duration_s, font=font)
        features += [timbre_features(transform(x) if transform else x, sample_rate_hz) for x in audio]
        all_labels += labels
    return InstrumentClassifier(l2=0.1).fit(np.array(features), all_labels)


# ---------------------------------------------------------------------------------------------
# Prompt sets in held-out phrasings (starter model 2)
# ---------------------------------------------------------------------------------------------

#: Tone pitches the held-out tone check asks for, 100 Hz to 2 kHz (round values and notes).
HELD_OUT_TONE_HZ = (100.0, 130.81, 150.0, 196.0, 261.63, 329.63, 440.0, 587.33, 783.99, 1000.0, 1318.51, 1567.98, 2000.0)
#: Tempos (BPM) the tempo check asks for, inside the trained 80-155 BPM.
CHECK_TEMPOS_BPM = (85, 100, 120, 140)


def held_out_tone_checks(
    seed: int = 0, freqs: Sequence[float] = HELD_OUT_TONE_HZ, phrasing: str = "held-out"
) -> tuple[PromptCheck, ...]:
    """Tone prompts in phrasings training never saw (engine.training.captions.HELD_OUT_TEMPLATES),
    one per pitch, each checked as :func:`tone_check`: the dominant frequency within a semitone.
    ``phrasing="training"`` words the same pitches in training's own phrasings instead (a
    reference: how much of a miss is the wording)."""
    from engine.training import captions, synth

    rng = np.random.default_rng(seed)
    checks = []
    for hz in freqs:
        note = synth.hz_to_note(hz)
        named = abs(12 * math.log2(hz / synth.note_to_hz(note))) < 0.01
        attributes = {"kind": "tone", "source": "synth", "hz": hz, "note": note if named else None}
        if phrasing == "held-out":  # each held-out tone phrasing names the pitch
            prompt = _phrase(attributes, rng, 1, phrasing)[0]
        else:  # the first that names it (a training caption may name only the class)
            names = (f"{hz:g}", note) if named else (f"{hz:g}",)
            prompt = next(p for p in _phrase(attributes, rng, 16, phrasing) if any(n in p for n in names))
        base = tone_check(hz)
        checks.append(PromptCheck(prompt, base.description, base.measure, base.passes))
    return tuple(checks)


def _phrase(attributes: dict[str, Any], rng: np.random.Generator, count: int, phrasing: str) -> tuple[str, ...]:
    """``count`` captions of the sound in ``phrasing``'s templates ("held-out" or "training")."""
    from engine.training import captions

    return tuple(c.text for c in captions.captions_for(attributes, rng, count, phrasing))


def held_out_tempo_checks(
    seed: int = 0, tempos: Sequence[float] = CHECK_TEMPOS_BPM, pattern: str = "rock", phrasing: str = "held-out"
) -> tuple[PromptCheck, ...]:
    """Drum-beat prompts in held-out phrasings naming ``pattern`` and a tempo, checked as
    :func:`tempo_check` (within 5%); ``phrasing`` as :func:`held_out_tone_checks`."""
    rng = np.random.default_rng(seed)
    checks = []
    for bpm in tempos:
        attributes = {"kind": "beat", "pattern": pattern, "kit": 0, "tempo_bpm": bpm, "loudness": "medium", "family": "drums"}
        # The pattern named, as the tempo measure is surest on it (rock: 96-100% of real renders).
        phrasings = [p for p in _phrase(attributes, rng, 16, phrasing) if str(bpm) in p and pattern in p]
        checks.append(tempo_check(bpm, phrasings[0]))
    return tuple(checks)


def held_out_note_prompts(program: int, key: int, seed: int = 0) -> tuple[str, ...]:
    """Prompts for ``key`` on ``program`` in every held-out note phrasing (the instrument by
    its main name, the note by name), e.g. "G4 violin", "violin note G4"."""
    from engine.training import captions, gm_corpus

    attributes = gm_corpus.note_clip(program, key, 90, 1.0, loudness="medium", length="medium").attributes
    name, note = gm_corpus.INSTRUMENTS[program].name, gm_corpus.key_name(key)
    return tuple(
        captions._fill(t, {"a": "\x00a", "the": "the", "inst": name, "pitch": note, "loud": "medium"})
        for t in captions.templates_for(attributes, "held-out")
    )
