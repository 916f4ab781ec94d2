"""Captions the way people write them, for the starter model's training sounds.

Every training sound, synthesized (:mod:`engine.training.synth`) or rendered from General MIDI
(:mod:`engine.training.gm_corpus`), has structured attributes (kind, instrument, pitch, chord,
tempo, loudness, length...). Captions are made from them with templates whose slots take many
forms: instrument names and synonyms, General MIDI family names, note names with octaves
("C#4", "D flat 4", "middle C"), Hz with and without a space ("440 Hz", "440Hz"), tempo as BPM
or words, loudness and length words; word order varies between templates and articles come
and go::

    rng = np.random.default_rng(0)
    training_captions({"kind": "note", "program": 40, "key": 67, ...}, rng, 4)
    # ('violin playing G4', 'a soft violin note at 392 Hz', 'G4 on the violin', ...)

Two sets of templates per kind: :data:`TRAINING_TEMPLATES` and :data:`HELD_OUT_TEMPLATES`. No
caption a held-out template can produce is ever a training caption (:func:`training_captions`
drops any that coincide; the tests enumerate both sets to check), so prompts in held-out
phrasings measure how the model follows wording it was never trained on. Sounds that match an
AudioSet class (:data:`AUDIOSET_CLASSES`) also get seed 001's prompt for that class, "a
spectrogram of the sound of Piano", among their training captions.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.audioset import class_prompt
from engine.training import gm_corpus as gm
from engine.training import synth

# ---------------------------------------------------------------------------------------------
# Slot fillers: each returns the forms a slot can take for a sound's attributes
# ---------------------------------------------------------------------------------------------

LOUDNESS_WORDS: dict[str, tuple[str, ...]] = {
    "soft": ("soft", "quiet", "gentle", "softly played"),
    "medium": ("medium", "moderately loud", "medium loud"),
    "loud": ("loud", "strong", "forceful", "hard hit"),
}
LOUDNESS_ADVERBS: dict[str, tuple[str, ...]] = {
    "soft": ("softly", "quietly", "gently"),
    "medium": ("moderately", "at medium volume"),
    "loud": ("loudly", "forcefully", "hard"),
}
LENGTH_WORDS: dict[str, tuple[str, ...]] = {
    "short": ("short", "staccato", "brief", "quick"),
    "medium": ("medium length", "half second"),
    "long": ("long", "sustained", "held", "long held"),
}
FAMILY_WORDS: dict[str, tuple[str, ...]] = {
    "piano": ("piano", "keyboard"),
    "chromatic percussion": ("mallet instrument", "tuned percussion"),
    "organ": ("organ", "keyboard"),
    "guitar": ("guitar",),
    "bass": ("bass",),
    "strings": ("string instrument", "bowed string instrument"),
    "ensemble": ("ensemble", "orchestral ensemble"),
    "brass": ("brass instrument", "brass"),
    "reed": ("reed instrument", "woodwind instrument", "woodwind"),
    "pipe": ("flute-like instrument", "woodwind instrument", "pipe instrument"),
    "synth lead": ("synth lead", "lead synth", "synthesizer"),
    "synth pad": ("synth pad", "pad", "synthesizer"),
    "synth effects": ("synth effect", "synthesizer"),
    "ethnic": ("folk instrument", "world instrument"),
    "percussive": ("percussion instrument", "percussion"),
}
DIRECTION_WORDS: dict[str, tuple[str, ...]] = {
    "rising": ("rising", "upward", "ascending"),
    "falling": ("falling", "downward", "descending"),
    "up": ("rising", "ascending", "upward"),
    "down": ("falling", "descending", "downward"),
    "up and down": ("up and down", "rising and falling"),
}
#: Tempo words by BPM (inclusive upper bounds).
TEMPO_WORDS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (95, ("slow", "laid-back")),
    (125, ("medium tempo", "mid-tempo", "moderate")),
    (1000, ("fast", "upbeat", "quick")),
)
QUALITY_WORDS: dict[str, tuple[str, ...]] = {
    "major": ("major",),
    "minor": ("minor",),
    "seventh": ("seventh", "dominant seventh", "7th"),
}
_FLATS = {"C#": "Db", "D#": "Eb", "F#": "Gb", "G#": "Ab", "A#": "Bb"}
_SPOKEN = {"#": " sharp", "b": " flat"}
_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 8: "eight"}


def pitch_class_forms(name: str) -> tuple[str, ...]:
    """"C#" -> ("C#", "Db", "C sharp", "D flat"); "A" -> ("A",)."""
    forms = [name]
    if name in _FLATS:
        flat = _FLATS[name]
        forms += [flat, name[0] + _SPOKEN["#"], flat[0] + _SPOKEN["b"]]
    return tuple(forms)


def note_forms(note: str) -> tuple[str, ...]:
    """Note-name forms of a note with octave: "C#4" -> ("C#4", "Db4", "C sharp 4", "D flat 4");
    "C4" also "middle C"."""
    match = re.fullmatch(r"([A-G]#?)(-?\d)", note)
    if match is None:
        raise ValueError(f"expected a note name like 'C4' or 'F#3', got {note!r}.")
    pitch, octave = match.groups()
    forms = [f"{f}{octave}" if len(f) <= 2 else f"{f} {octave}" for f in pitch_class_forms(pitch)]
    if note == "C4":
        forms.append("middle C")
    return tuple(forms)


def hz_forms(hz: float) -> tuple[str, ...]:
    """Frequency forms, rounded to whole Hz: "440 Hz", "440Hz", "440 hertz" (and "1 kHz",
    "1.5kHz"... for round values from 1 kHz)."""
    r = int(round(hz))
    forms = [f"{r} Hz", f"{r}Hz", f"{r} hertz"]
    if r >= 1000 and r % 100 == 0:
        k = f"{r / 1000:g}"
        forms += [f"{k} kHz", f"{k}kHz"]
    return tuple(forms)


def tempo_forms(bpm: float) -> tuple[str, ...]:
    b = int(round(bpm))
    return (f"{b} BPM", f"{b} bpm", f"{b}bpm", f"{b} beats per minute")


def tempo_words(bpm: float) -> tuple[str, ...]:
    return next(words for limit, words in TEMPO_WORDS if bpm <= limit)


def rate_forms(rate: float) -> tuple[str, ...]:
    """"4 per second", "4 times per second", "4 a second", "four per second" ("once per second" for 1)."""
    r = int(rate)
    forms = [f"{r} per second", f"{r} times per second" if r > 1 else "once per second", f"{r} a second"]
    if r in _NUMBER_WORDS:
        forms.append(f"{_NUMBER_WORDS[r]} per second")
    return tuple(forms)


def chord_forms(root: str, quality: str) -> tuple[str, ...]:
    """"A" "minor" -> ("A minor", "Am", ...): the chord's name without "chord"."""
    forms = []
    for r in pitch_class_forms(root):
        forms += [f"{r} {q}" for q in QUALITY_WORDS[quality]]
        if len(r) <= 2:
            forms += {"major": [f"{r} maj"], "minor": [f"{r}m", f"{r} min"], "seventh": [f"{r}7"]}[quality]
    return tuple(forms)


def _instrument_names(a: Mapping[str, Any]) -> tuple[str, ...]:
    names = gm.INSTRUMENTS[a["program"]].names
    return (names[0], *names)  # the main name twice as likely


def _effect_names(a: Mapping[str, Any]) -> tuple[str, ...]:
    names = gm.EFFECT_BY_PROGRAM[a["program"]].names
    return (names[0], *names)


def _synth_pitch(a: Mapping[str, Any]) -> tuple[str, ...]:
    forms = hz_forms(a["hz"])
    return forms + note_forms(a["note"]) if a.get("note") else forms


def _gm_pitch(a: Mapping[str, Any]) -> tuple[str, ...]:
    return note_forms(a["note"]) + hz_forms(a["hz"])


def _names(key: str) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
    return lambda a: tuple(a[key]) if isinstance(a[key], (tuple, list)) else (a[key],)


#: Slot name -> forms for a sound's attributes. What a slot names is in :data:`SLOT_FACTS`.
SLOTS: dict[str, Callable[[Mapping[str, Any]], tuple[str, ...]]] = {
    "inst": _instrument_names,
    "family": lambda a: FAMILY_WORDS[a["family"]],
    "pitch": lambda a: _gm_pitch(a) if "program" in a else _synth_pitch(a),
    "note": lambda a: note_forms(a["note"]),
    "hz": lambda a: hz_forms(a["hz"]),
    "loud": lambda a: LOUDNESS_WORDS[a["loudness"]],
    "loudly": lambda a: LOUDNESS_ADVERBS[a["loudness"]],
    "len": lambda a: LENGTH_WORDS[a["length"]],
    "chord": lambda a: chord_forms(a["root"], a["quality"]),
    "dir": lambda a: DIRECTION_WORDS[a["direction"]],
    "tempo": lambda a: tempo_forms(a["tempo_bpm"]),
    "pace": lambda a: tempo_words(a["tempo_bpm"]),
    "pattern": lambda a: next(p.names for p in gm.BEAT_PATTERNS if p.name == a["pattern"]),
    "kit": lambda a: gm.DRUM_KITS[a["kit"]],
    "hit": lambda a: gm.DRUM_HITS[a["key"]],
    "effect": _effect_names,
    "rate": lambda a: rate_forms(a["rate_per_s"]),
    "n": lambda a: (str(int(a["rate_per_s"])),),
    "color": _names("color"),
    "start": lambda a: hz_forms(a["start_hz"]),
    "end": lambda a: hz_forms(a["end_hz"]),
    "root_octave": lambda a: tuple(f"{r}{a['octave']}" for r in pitch_class_forms(a["root"])[:2]),
    "root": lambda a: pitch_class_forms(a["root"]),
    "quality": lambda a: QUALITY_WORDS[a["quality"]],
}

#: What a caption names about its sound when it fills a slot (see :func:`caption_facts`).
SLOT_FACTS: dict[str, str] = {
    "pitch": "pitch", "note": "pitch", "hz": "pitch", "root_octave": "pitch",
    "tempo": "tempo", "rate": "rate", "n": "rate", "start": "sweep_start", "end": "sweep_end",
    "inst": "program", "effect": "program", "family": "family",
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Templates. "{a}" is an article ("a"/"an" as the next word needs) or nothing; "{the}" is "the"
# or nothing: the same template gives captions with and without articles.
# ---------------------------------------------------------------------------------------------

TRAINING_TEMPLATES: dict[str, tuple[str, ...]] = {
    "note": (
        "{a} {inst} note at {pitch}", "{a} {inst} playing {pitch}", "{pitch} on {the} {inst}",
        "{pitch} played on {a} {inst}", "{a} {loud} {inst} note at {pitch}", "{a} {len} {inst} note at {pitch}",
        "{a} {loud} {len} {inst} note, {pitch}", "{a} {len} {pitch} on {the} {inst}", "{inst}, {pitch}",
        "{inst} {pitch}", "{pitch} {inst} note", "{a} single {inst} note at {pitch}", "{inst} note, {pitch}, {loud}",
        "{inst} note, {pitch}, {len}", "{a} {family} playing {pitch}", "{a} {family} note at {pitch}",
        "{a} {inst} note", "{a} {loud} {inst} note", "{a} {len} {inst} note", "{inst}", "{a} {inst} sound",
        "{pitch} played {loudly} on {a} {inst}", "{a} {inst} playing {pitch} {loudly}",
        "the sound of {a} {inst} playing {pitch}", "{a} {inst} at {pitch}", "{a} {family} note",
    ),
    "chord": (
        "{a} {chord} chord on {the} {inst}", "{a} {chord} chord played on {a} {inst}", "{inst} playing {a} {chord} chord",
        "{inst}, {chord} chord", "{a} {loud} {chord} chord on {a} {inst}", "{a} {inst} chord, {chord}",
        "{a} {inst} chord", "{chord} on {the} {inst}", "{a} {len} {chord} chord on {the} {inst}",
        "{a} {family} playing {a} {chord} chord", "{a} {chord} chord", "{a} {inst} playing chords",
    ),
    "arpeggio": (
        "{a} {chord} arpeggio on {the} {inst}", "{a} {inst} arpeggio", "{inst} arpeggio, {chord}, {tempo}",
        "{a} {dir} {chord} arpeggio on {a} {inst}", "{a} {inst} arpeggiating {a} {chord} chord",
        "{a} {chord} arpeggio at {tempo} on {a} {inst}", "arpeggiated {chord} chord on {the} {inst}",
        "{a} {pace} {inst} arpeggio", "{a} {chord} arpeggio", "{a} {dir} arpeggio on {the} {inst}",
    ),
    "beat": (
        "{a} {pattern} at {tempo}", "{a} {pattern} on {a} {kit} at {tempo}", "{a} {tempo} {pattern}",
        "{a} {pace} {pattern}", "{kit}, {pattern}, {tempo}", "{a} drum beat at {tempo}", "drums at {tempo}",
        "{a} {kit} playing {a} {pattern}", "{a} {pattern}", "{a} {kit} beat at {tempo}",
        "{pattern} at {tempo} on {the} {kit}", "{a} {loud} {pattern} at {tempo}", "{a} drum loop at {tempo}",
        "{a} {pace} drum beat", "{a} drum groove at {tempo}", "{a} {kit} groove",
    ),
    "hit": (
        "{a} {hit}", "{a} {hit} hit", "{a} single {hit} hit", "{a} {loud} {hit}", "{a} {hit} from {a} {kit}",
        "{a} {hit} sound", "one {hit} hit", "{a} {kit} {hit}", "{a} drum hit", "{a} {loud} drum hit",
    ),
    "effect": ("{effect}", "the sound of {effect}", "{effect} sound effect", "{effect}, {loud}"),
    "tone": (
        # The first starter model's own phrasings, then more.
        "a sine tone at {hz}", "a sine tone at {note}", "a {hz} sine tone", "a pure tone at {note}",
        "a sine wave at {hz}", "a steady sine tone, {note}",
        "{a} sine tone at {pitch}", "{a} {pitch} sine tone", "{a} pure tone at {pitch}", "{a} sine wave at {pitch}",
        "{pitch} sine wave", "sine wave, {pitch}", "{a} steady tone at {pitch}", "{a} tone at {pitch}",
        "{a} {pitch} tone", "{a} test tone at {pitch}", "{a} pure sine tone at {pitch}", "{a} {pitch} sine wave",
        "{a} constant tone, {pitch}", "{a} sine tone",
    ),
    "tone_chord": (
        "{a} {root} {quality} chord", "a {quality} chord on {root_octave}", "{a} {root_octave} {quality} triad",
        "{a} {chord} chord of sine tones", "{a} {quality} triad on {root_octave}", "{a} {chord} chord",
    ),
    "sweep": (
        "{a} {dir} sweep", "{a} {dir} sine sweep", "{a} sweep {dir} from {start} to {end}",
        "{a} {dir} chirp from {start} to {end}", "{a} {dir} tone", "{a} sweep from {start} to {end}",
        "{a} {dir} sine sweep from {start} to {end}", "{a} chirp", "{a} {dir} chirp",
    ),
    "noise": ("{color} noise", "steady {color} noise", "{a} {color} noise signal", "{color} noise hiss", "constant {color} noise"),
    "noise_bursts": (
        "noise bursts at {rate}", "short bursts of {color} noise at {rate}", "{n} noise bursts per second",
        "bursts of noise, {rate}", "{color} noise bursts at {rate}",
    ),
    "clicks": ("clicks at {rate}", "a click track at {n} clicks per second", "{n} clicks per second", "clicking at {rate}", "{a} metronome click at {rate}"),
    "pulse_train": ("a pulse train at {rate}", "pulses at {rate}", "a pulse train, {n} pulses per second", "square pulses at {rate}"),
    "pluck": ("{a} plucked string at {pitch}", "{a} plucked tone at {pitch}", "{a} plucked {note}", "{a} synth pluck at {pitch}", "{a} plucked string"),
    "decay": ("{a} decaying tone at {pitch}", "{a} decaying sine tone at {pitch}", "{a} fading tone at {pitch}", "{a} ping at {pitch}"),
    "tremolo": (
        "{a} tremolo tone at {pitch}", "{a} sine tone at {pitch} with tremolo at {rate}", "{a} tremolo at {rate}",
        "{a} {pitch} tone with tremolo", "{a} pulsing tone at {pitch}",
    ),
}  # fmt: skip

HELD_OUT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "note": (
        "{pitch} {inst}", "{inst} note {pitch}", "{pitch} from {a} {inst}", "{a} {inst} tone at {pitch}",
        "{pitch} note on {a} {inst}", "{a} {loud} note on {the} {inst}, {pitch}",
    ),
    "chord": ("{chord} chord, {inst}", "{a} {inst} playing {chord}", "{chord} chord from {a} {inst}"),
    "arpeggio": ("{a} {inst} arpeggio in {chord}", "{chord} arpeggio, {inst}", "{a} {tempo} arpeggio on {a} {inst}"),
    "beat": ("{a} {pattern}, {tempo}", "{tempo} {pattern} on {a} {kit}", "drum beat, {tempo}", "{a} {tempo} drum beat", "drums, {tempo}"),
    "hit": ("{a} {hit} hit on {a} {kit}", "{hit}, one hit"),
    "effect": ("sound effect of {effect}", "{effect}, sound effect"),
    "tone": (
        "{pitch} sine", "{a} sine tone of {pitch}", "{pitch} pure tone", "pure {pitch} sine wave",
        "sine tone, {pitch}", "{a} tone of {pitch}", "{a} {pitch} sine",
    ),
    "tone_chord": ("{chord} triad of sine tones",),
    "sweep": ("{a} sweep, {dir}", "{a} {dir} sweep, {start} to {end}"),
    "noise": ("{color} noise sound",),
    "noise_bursts": ("{color} noise, bursts at {rate}",),
    "clicks": ("clicks, {rate}",),
    "pulse_train": ("pulse train at {rate}, square pulses",),
    "pluck": ("plucked string, {pitch}",),
    "decay": ("{pitch} tone, decaying",),
    "tremolo": ("tremolo, {pitch}",),
}  # fmt: skip

_SLOT_RE = re.compile(r"\{(\w+)\}")


def _slots(template: str) -> list[str]:
    return _SLOT_RE.findall(template)


def _needs_an(word: str) -> bool:
    """Whether "an" goes before ``word``: a vowel sound ("an oboe", "an A4", "an E major", "an
    F#3", "an Am chord", "an FM piano", "an 808", "an 80 BPM", "an 11")."""
    if not word:
        return False
    if re.fullmatch(r"[AEF](#|b)?(-?\d|m|7|maj|min)?", word):
        return True  # note and chord names: A, E and F read "ay", "ee", "eff"
    if word[0].isdigit():
        digits = re.match(r"\d+", word).group(0)
        return digits.startswith("8") or digits in ("11", "18")
    if len(word) > 1 and word.isupper():
        return word[0] in "AEFHILMNORSX"  # letters read with a vowel sound: "an FM", "an SFX"
    lower = word.lower()
    if lower.startswith(("uni", "use", "uk", "one")):
        return False
    return lower[0] in "aeiou" or lower.startswith("hour")


def _finish(parts: list[str]) -> str:
    """Join template pieces, resolve articles ("\x00a" markers) and tidy spaces and commas."""
    text = "".join(parts)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+,", ",", text)

    def article(match: re.Match[str]) -> str:
        return ("an " if _needs_an(match.group(1)) else "a ") + match.group(1)

    text = re.sub(r"\x00a (\S+)", article, text)
    return text.replace("\x00a", "").strip(" ,")


def _fill(template: str, choices: Mapping[str, str]) -> str:
    parts: list[str] = []
    last = 0
    for match in _SLOT_RE.finditer(template):
        parts.append(template[last : match.start()])
        parts.append(choices[match.group(1)])
        last = match.end()
    parts.append(template[last:])
    return _finish(parts)


_ARTICLE_FORMS = {"a": ("\x00a", ""), "the": ("the", "")}


def _forms(slot: str, attributes: Mapping[str, Any]) -> tuple[str, ...]:
    if slot in _ARTICLE_FORMS:
        return _ARTICLE_FORMS[slot]
    return SLOTS[slot](attributes)


def _applicable(template: str, attributes: Mapping[str, Any]) -> bool:
    """A template applies when every slot it has can be filled from the attributes."""
    for slot in _slots(template):
        if slot in _ARTICLE_FORMS:
            continue
        try:
            if not SLOTS[slot](attributes):
                return False
        except (KeyError, TypeError):
            return False
    return True


def templates_for(attributes: Mapping[str, Any], split: str = "training") -> tuple[str, ...]:
    """The templates of ``split`` ("training" or "held-out") that apply to a sound."""
    if split not in ("training", "held-out"):
        raise ValueError(f"`split` must be 'training' or 'held-out', got {split!r}.")
    table = TRAINING_TEMPLATES if split == "training" else HELD_OUT_TEMPLATES
    kind = attributes["kind"]
    if kind not in table:
        raise ValueError(f"no caption templates for kind {kind!r}.")
    return tuple(t for t in table[kind] if _applicable(t, attributes))


def all_captions(attributes: Mapping[str, Any], split: str = "training") -> set[str]:
    """Every caption ``split``'s templates can make for a sound (every form of every slot, with
    and without articles; training also seed 001's AudioSet prompts). Exhaustive, for tests."""
    out: set[str] = set()
    for template in templates_for(attributes, split):
        slots = _slots(template)
        for combo in itertools.product(*(_forms(s, attributes) for s in slots)):
            out.add(_fill_positional(template, combo))
    if split == "training":
        out.update(class_prompt(label) for label in audioset_labels(attributes))
    return out


def _fill_positional(template: str, values: Sequence[str]) -> str:
    it = iter(values)
    parts: list[str] = []
    last = 0
    for match in _SLOT_RE.finditer(template):
        parts += [template[last : match.start()], next(it)]
        last = match.end()
    parts.append(template[last:])
    return _finish(parts)


@dataclass(frozen=True)
class Caption:
    """A caption and the slots it filled (what it names about its sound)."""

    text: str
    slots: frozenset[str]


def _random_caption(template: str, attributes: Mapping[str, Any], rng: np.random.Generator) -> Caption:
    slots = _slots(template)
    values = []
    for slot in slots:
        forms = _forms(slot, attributes)
        # Articles stay three times in four.
        if slot in _ARTICLE_FORMS:
            values.append(forms[0] if rng.random() < 0.75 else forms[1])
        else:
            values.append(forms[int(rng.integers(len(forms)))])
    return Caption(_fill_positional(template, values), frozenset(s for s in slots if s not in _ARTICLE_FORMS))


def captions_for(
    attributes: Mapping[str, Any], rng: np.random.Generator, count: int, split: str = "training"
) -> tuple[Caption, ...]:
    """Up to ``count`` distinct random captions of a sound in ``split``'s phrasings.

    Training captions include seed 001's AudioSet prompt for the sound's class, when it has one,
    with probability 1/2; a training caption that a held-out template could also make is never
    returned.
    """
    templates = templates_for(attributes, split)
    if not templates:
        raise ValueError(f"no {split} caption template applies to {dict(attributes)!r}.")
    held_out = _held_out_set(attributes) if split == "training" else frozenset()
    out: dict[str, Caption] = {}
    labels = audioset_labels(attributes) if split == "training" else ()
    if labels and rng.random() < 0.5:
        label = labels[int(rng.integers(len(labels)))]
        out[class_prompt(label)] = Caption(class_prompt(label), frozenset({"audioset"}))
    for _ in range(4 * count):
        if len(out) >= count:
            break
        caption = _random_caption(templates[int(rng.integers(len(templates)))], attributes, rng)
        if caption.text not in held_out:
            out.setdefault(caption.text, caption)
    return tuple(out.values())


def training_captions(attributes: Mapping[str, Any], rng: np.random.Generator, count: int) -> tuple[str, ...]:
    return tuple(c.text for c in captions_for(attributes, rng, count, "training"))


def held_out_captions(attributes: Mapping[str, Any], rng: np.random.Generator, count: int) -> tuple[str, ...]:
    return tuple(c.text for c in captions_for(attributes, rng, count, "held-out"))


_HELD_OUT_CACHE: dict[tuple, frozenset[str]] = {}


def _held_out_set(attributes: Mapping[str, Any]) -> frozenset[str]:
    key = tuple(sorted((k, v) for k, v in attributes.items() if isinstance(v, (str, int, float, type(None)))))
    if key not in _HELD_OUT_CACHE:
        if len(_HELD_OUT_CACHE) > 4096:
            _HELD_OUT_CACHE.clear()
        _HELD_OUT_CACHE[key] = frozenset(all_captions(attributes, "held-out"))
    return _HELD_OUT_CACHE[key]


# ---------------------------------------------------------------------------------------------
# Attributes of synthesized sounds; what a caption names; the vocabulary
# ---------------------------------------------------------------------------------------------


def synth_attributes(example: synth.SynthExample) -> dict[str, Any]:
    """The caption attributes of a :class:`engine.training.synth.SynthExample`."""
    p = example.params
    kind = "tone_chord" if example.kind == "chord" else example.kind
    a: dict[str, Any] = {"kind": kind, "source": "synth"}
    if "freq_hz" in p:
        a["hz"] = p["freq_hz"]
        a["note"] = p.get("note")
    if kind == "tone_chord":
        a.update(root=p["root"], octave=p["octave"], quality=p["quality"], hz=p["root_hz"])
    if kind == "sweep":
        a.update(start_hz=p["start_hz"], end_hz=p["end_hz"], direction=p["direction"])
    if "rate_per_s" in p:
        a["rate_per_s"] = p["rate_per_s"]
    if "color" in p:
        a["color"] = p["color"]
    return a


#: The kinds of sound the caption probe tells apart (synthesized, then General MIDI).
SOUND_KINDS = tuple("tone_chord" if k == "chord" else k for k in synth.KINDS) + gm.CLIP_KINDS
#: Words that name nothing the caption probe reads (no pitch, tempo, kind, instrument or
#: family): the text encoder's pretraining drops them at random (TrainConfig.text_word_dropout)
#: so that it reads "440 Hz sine" as it reads "a sine wave at 440 Hz".
FILLER_WORDS = (
    "a", "an", "the", "at", "of", "on", "in", "with", "by", "and", "playing", "played", "plays",
    "pure", "steady", "constant", "test", "simple", "clean", "wave", "note", "sound", "single",
)  # fmt: skip
#: Numeric facts a caption may name (octaves relative to A4 440 Hz, log2 rate, log2 tempo/120).
NUMERIC_FACTS = ("pitch", "rate", "sweep_start", "sweep_end", "tempo")
#: Families the probe reads: General MIDI's 16, then drums and synthesized sounds.
PROBE_FAMILIES = gm.GM_FAMILIES + ("drums", "synth")


def caption_facts(caption: Caption, attributes: Mapping[str, Any]) -> tuple[np.ndarray, int, int, int]:
    """What ``caption`` names about its sound: numeric facts (:data:`NUMERIC_FACTS`, NaN when
    the caption does not name them), the kind index in :data:`SOUND_KINDS`, the program
    (0..127; -100 when no instrument or effect is named) and the family index in
    :data:`PROBE_FAMILIES` (-100 when the caption names neither instrument nor family)."""
    named = {SLOT_FACTS[s] for s in caption.slots if s in SLOT_FACTS}
    values = np.full(len(NUMERIC_FACTS), np.nan, dtype=np.float32)
    if "pitch" in named and attributes.get("hz"):
        values[0] = math.log2(attributes["hz"] / 440.0)
    if "rate" in named:
        values[1] = math.log2(attributes["rate_per_s"])
    if "sweep_start" in named:
        values[2] = math.log2(attributes["start_hz"] / 440.0)
    if "sweep_end" in named:
        values[3] = math.log2(attributes["end_hz"] / 440.0)
    if "tempo" in named:
        values[4] = math.log2(attributes["tempo_bpm"] / 120.0)
    program = attributes["program"] if "program" in named or "audioset" in caption.slots and "program" in attributes else -100
    family = attributes.get("family") or ("synth" if attributes.get("source") == "synth" else None)
    family_index = PROBE_FAMILIES.index(family) if family in PROBE_FAMILIES and (named & {"program", "family"} or "audioset" in caption.slots) else -100
    return values, SOUND_KINDS.index(attributes["kind"]), program, family_index


def vocabulary_texts() -> tuple[str, ...]:
    """Every text the training captions are built from (template words and every slot form;
    the tokenizer's corpus), sorted. Held-out templates are not included."""
    texts: set[str] = set()
    for templates in TRAINING_TEMPLATES.values():
        texts.update(_SLOT_RE.sub(" ", t) for t in templates)
    texts.update(w for words in (*LOUDNESS_WORDS.values(), *LOUDNESS_ADVERBS.values(), *LENGTH_WORDS.values(),
                                 *FAMILY_WORDS.values(), *DIRECTION_WORDS.values(), *QUALITY_WORDS.values()) for w in words)  # fmt: skip
    texts.update(w for _, words in TEMPO_WORDS for w in words)
    for inst in gm.INSTRUMENTS:
        texts.update(inst.names)
    for effect in gm.EFFECTS:
        texts.update(effect.names)
    for names in (*gm.DRUM_KITS.values(), *gm.DRUM_HITS.values(), *(p.names for p in gm.BEAT_PATTERNS)):
        texts.update(names)
    for key in range(24, 100):
        texts.update(note_forms(gm.key_name(key)))
    for root in synth.NOTE_NAMES:
        for quality in QUALITY_WORDS:
            texts.update(chord_forms(root, quality))
    texts.update(("Hz", "hertz", "kHz", "BPM", "bpm", "beats per minute", "per second", "times per second", "a second", "once"))
    texts.update(_NUMBER_WORDS.values())
    texts.update(synth.NOISE_COLORS)
    texts.update(class_prompt(label) for label in AUDIOSET_CLASSES)
    texts.update(synth.caption_vocabulary())
    texts.update(str(d) for d in range(10))
    return tuple(sorted(texts))


# ---------------------------------------------------------------------------------------------
# AudioSet classes the training sounds cover (seed 001's prompts are training captions for them)
# ---------------------------------------------------------------------------------------------


def _programs(*ranges: int | range) -> frozenset[int]:
    out: set[int] = set()
    for r in ranges:
        out.update(r if isinstance(r, range) else (r,))
    return frozenset(out)


_SYNTH_KINDS = frozenset(SOUND_KINDS[: len(synth.KINDS)])
_PITCHED = frozenset(("note", "chord", "arpeggio"))

#: AudioSet class -> which training sounds it names: ("programs", ids) for instrument notes,
#: chords and arpeggios or effects; ("hits", GM drum keys); ("beats", kits or None for all);
#: ("synth", kinds and noise colours).
AUDIOSET_CLASSES: dict[str, tuple[str, Any]] = {
    "Piano": ("programs", _programs(range(0, 4))),
    "Electric piano": ("programs", _programs(4, 5)),
    "Keyboard (musical)": ("programs", _programs(range(0, 8))),
    "Harpsichord": ("programs", _programs(6)),
    "Organ": ("programs", _programs(range(16, 21))),
    "Electronic organ": ("programs", _programs(16, 17, 18)),
    "Hammond organ": ("programs", _programs(16, 17)),
    "Accordion": ("programs", _programs(21, 23)),
    "Harmonica": ("programs", _programs(22)),
    "Synthesizer": ("programs", _programs(38, 39, 50, 51, 62, 63, range(80, 104))),
    "Guitar": ("programs", _programs(range(24, 32))),
    "Acoustic guitar": ("programs", _programs(24, 25)),
    "Electric guitar": ("programs", _programs(range(26, 31))),
    "Bass guitar": ("programs", _programs(range(33, 38))),
    "Plucked string instrument": ("programs", _programs(range(24, 32), 46, range(104, 108))),
    "Banjo": ("programs", _programs(105)),
    "Sitar": ("programs", _programs(104)),
    "Zither": ("programs", _programs(15, 107)),
    "Bowed string instrument": ("programs", _programs(40, 41, 42, 43, 110)),
    "Violin, fiddle": ("programs", _programs(40, 110)),
    "Cello": ("programs", _programs(42)),
    "Double bass": ("programs", _programs(32, 43)),
    "String section": ("programs", _programs(44, 48, 49)),
    "Pizzicato": ("programs", _programs(45)),
    "Harp": ("programs", _programs(46)),
    "Timpani": ("programs", _programs(47)),
    "Choir": ("programs", _programs(52, 53)),
    "Brass instrument": ("programs", _programs(range(56, 62))),
    "Trumpet": ("programs", _programs(56, 59)),
    "Trombone": ("programs", _programs(57)),
    "French horn": ("programs", _programs(60)),
    "Wind instrument, woodwind instrument": ("programs", _programs(range(64, 80))),
    "Saxophone": ("programs", _programs(range(64, 68))),
    "Clarinet": ("programs", _programs(71)),
    "Flute": ("programs", _programs(72, 73)),
    "Bagpipes": ("programs", _programs(109)),
    "Mallet percussion": ("programs", _programs(range(8, 14))),
    "Marimba, xylophone": ("programs", _programs(12, 13)),
    "Glockenspiel": ("programs", _programs(9)),
    "Vibraphone": ("programs", _programs(11)),
    "Tubular bells": ("programs", _programs(14)),
    "Steelpan": ("programs", _programs(114)),
    "Whistling": ("programs", _programs(78)),
    "Drum kit": ("beats", None),
    "Drum machine": ("beats", frozenset((24, 25))),
    "Drum": ("hits", frozenset((35, 36, 38, 40, 41, 43, 45, 47, 48, 50, 60, 61, 62, 63, 64, 65, 66))),
    "Snare drum": ("hits", frozenset((38, 40))),
    "Rimshot": ("hits", frozenset((37,))),
    "Bass drum": ("hits", frozenset((35, 36))),
    "Hi-hat": ("hits", frozenset((42, 44, 46))),
    "Cymbal": ("hits", frozenset((49, 51, 52, 55, 57, 59))),
    "Tambourine": ("hits", frozenset((54,))),
    "Cowbell": ("hits", frozenset((56,))),
    "Maraca": ("hits", frozenset((70,))),
    "Wood block": ("hits", frozenset((76, 77))),
    "Clapping": ("hits", frozenset((39,))),
    "Applause": ("programs", _programs(126)),
    "Bird": ("programs", _programs(123)),
    "Bird vocalization, bird call, bird song": ("programs", _programs(123)),
    "Chirp, tweet": ("programs", _programs(123)),
    "Telephone": ("programs", _programs(124)),
    "Telephone bell ringing": ("programs", _programs(124)),
    "Helicopter": ("programs", _programs(125)),
    "Gunshot, gunfire": ("programs", _programs(127)),
    "Ocean": ("programs", _programs(122)),
    "Waves, surf": ("programs", _programs(122)),
    "Breathing": ("programs", _programs(121)),
    "Sine wave": ("synth", frozenset(("tone",))),
    "Chirp tone": ("synth", frozenset(("sweep",))),
    "White noise": ("synth", frozenset(("noise:white",))),
    "Pink noise": ("synth", frozenset(("noise:pink",))),
    "Clicking": ("synth", frozenset(("clicks",))),
    "Pulse": ("synth", frozenset(("pulse_train",))),
}


def audioset_labels(attributes: Mapping[str, Any]) -> tuple[str, ...]:
    """The AudioSet classes (:data:`AUDIOSET_CLASSES`) a training sound is an example of."""
    kind = attributes["kind"]
    out = []
    for label, (what, ids) in AUDIOSET_CLASSES.items():
        if what == "programs":
            hit = (kind in _PITCHED or kind == "effect") and attributes.get("program") in ids
        elif what == "hits":
            hit = kind == "hit" and attributes.get("key") in ids
        elif what == "beats":
            hit = kind == "beat" and (ids is None or attributes.get("kit") in ids)
        else:
            hit = kind in _SYNTH_KINDS and (kind in ids or f"{kind}:{attributes.get('color')}" in ids)
        if hit:
            out.append(label)
    return tuple(out)

