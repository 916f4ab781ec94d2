"""Real sampled sounds without a download: General MIDI clips rendered from Debian's sound fonts.

Debian's ``fluid-soundfont-gm`` (FluidR3_GM, MIT licence) holds sampled recordings of the 128
General MIDI instruments, drum kits and sound effects; ``fluidsynth`` renders MIDI with it.
This module draws seeded clips (:func:`random_clip`), each a short MIDI performance with the
structured attributes a caption is made from (:mod:`engine.training.captions`), and renders
many of them at once (:func:`render`)::

    rng = np.random.default_rng(0)
    clips = [random_clip(rng) for _ in range(100)]
    audio = render(clips, sample_rate_hz=22050, duration_s=2.56)   # float32 (100, 56448)
    clips[0].attributes   # {"kind": "note", "instrument": "violin", "note": "G4", "hz": 392.0, ...}

Kinds of clip (:data:`CLIP_KINDS`): single ``note``s of the 119 pitched instruments across their
ranges with dynamics and lengths; ``chord``s and ``arpeggio``s; drum ``beat``s (named patterns
on seven kits at named tempos) and single drum ``hit``s (kick, snare, hi-hat, clap, cymbals...);
and the General MIDI sound ``effect``s (seashore, bird tweet, telephone ring, helicopter,
applause, gunshot, breath, fret noise, reverse cymbal).

Rendering writes one MIDI file per worker with every clip in its own time slot (a reset and
program change at the start, "all sound off" at the clip's end) and runs one ``fluidsynth``
process per worker (about 300 clips a second per process at 22.05 kHz). Reverb and chorus are
off, so slots never leak into each other and the output is a pure function of the clips.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.training import midi
from engine.training.synth import NOTE_NAMES

#: Debian's sound fonts (apt packages fluid-soundfont-gm, timgm6mb-soundfont).
FLUID_FONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TIMGM_FONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
#: Debian's musescore-general-soundfont-small (MIT). MuseScore General descends from FluidR3.
MUSESCORE_FONT = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")
APT_PACKAGES = "fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small"
#: More fonts to learn from (never the held-out TimGM6mb / MuseScore General, nor fonts sharing their
#: samples): csound's GM bank (apt csound-soundfont, public domain, 4 MB) and an OPL3 FM emulation
#: (apt opl3-soundfont, CC BY-SA 4.0, 132 MB).
CSOUND_FONT = Path("/usr/share/sounds/sf2/sf_GMbank.sf2")
OPL3_FONT = Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2")
#: Training fonts by short name (``--fonts fluid,csound``) and the apt package of each.
TRAINING_FONTS: dict[str, Path] = {"fluid": FLUID_FONT, "csound": CSOUND_FONT, "opl3": OPL3_FONT}
TRAINING_FONT_PACKAGES: dict[str, str] = {"fluid": "fluid-soundfont-gm", "csound": "csound-soundfont",
                                          "opl3": "opl3-soundfont"}


def training_fonts(names: str | Sequence[str]) -> list[Path]:
    """The training fonts named (a comma-separated string or a list of :data:`TRAINING_FONTS`
    keys), in that order; ValueError for an unknown name, RenderError naming the apt package of
    one that is not installed."""
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    if not names or any(not n for n in names):
        raise ValueError("name at least one training font, e.g. 'fluid,csound'")
    unknown = [n for n in names if n not in TRAINING_FONTS]
    if unknown:
        raise ValueError(f"unknown training font(s) {', '.join(unknown)}; known: {', '.join(TRAINING_FONTS)}")
    for name in names:
        if not TRAINING_FONTS[name].is_file():
            raise RenderError(f"sound font {TRAINING_FONTS[name]} ({name}) not found; install it with: "
                              f"sudo apt install {TRAINING_FONT_PACKAGES[name]}")
    return [TRAINING_FONTS[n] for n in names]

CLIP_KINDS = ("note", "chord", "arpeggio", "beat", "hit", "effect")
#: How often :func:`random_clip` draws each kind.
KIND_WEIGHTS: dict[str, float] = {"note": 0.42, "chord": 0.1, "arpeggio": 0.08, "beat": 0.16, "hit": 0.12, "effect": 0.12}


class RenderError(RuntimeError):
    """fluidsynth or a sound font is missing, or fluidsynth failed."""


# ---------------------------------------------------------------------------------------------
# The General MIDI instruments
# ---------------------------------------------------------------------------------------------

#: General MIDI's 16 instrument families (8 programs each), as captions name them.
GM_FAMILIES = (
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects",
)  # fmt: skip


@dataclass(frozen=True)
class Instrument:
    """One General MIDI program: its GM ``gm_name``, the ``name`` captions use first and other
    names people use (``synonyms``), its ``family`` (one of :data:`GM_FAMILIES`) and the MIDI
    keys it is played on (``low``..``high``, inside the spectrogram's band)."""

    program: int
    gm_name: str
    name: str
    synonyms: tuple[str, ...]
    low: int
    high: int

    @property
    def family(self) -> str:
        return GM_FAMILIES[self.program // 8]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


def _i(program: int, gm_name: str, names: str, low: int, high: int) -> Instrument:
    first, *others = [n.strip() for n in names.split("|")]
    return Instrument(program, gm_name, first, tuple(others), low, high)


# Names: the first is what a caption uses most; "|" separates synonyms. Ranges are MIDI keys
# (E1 = 28, C4 = 60, C7 = 96), the instrument's usual range kept inside 41 Hz - 2.1 kHz.
INSTRUMENTS: tuple[Instrument, ...] = (
    _i(0, "Acoustic Grand Piano", "grand piano|piano|acoustic piano|concert grand", 28, 96),
    _i(1, "Bright Acoustic Piano", "bright piano|bright acoustic piano|upright piano", 28, 96),
    _i(2, "Electric Grand Piano", "electric grand piano|electric grand|CP-70", 28, 96),
    _i(3, "Honky-tonk Piano", "honky-tonk piano|honky tonk piano|saloon piano|detuned piano", 28, 96),
    _i(4, "Electric Piano 1", "electric piano|Rhodes|Rhodes piano|e-piano", 33, 91),
    _i(5, "Electric Piano 2", "FM electric piano|DX7 piano|FM piano|chorused electric piano", 33, 91),
    _i(6, "Harpsichord", "harpsichord|cembalo", 29, 89),
    _i(7, "Clavinet", "clavinet|clav|funk clavinet", 29, 86),
    _i(8, "Celesta", "celesta|celeste", 60, 96),
    _i(9, "Glockenspiel", "glockenspiel|glock|orchestral bells", 72, 96),
    _i(10, "Music Box", "music box", 60, 96),
    _i(11, "Vibraphone", "vibraphone|vibes", 53, 89),
    _i(12, "Marimba", "marimba", 45, 96),
    _i(13, "Xylophone", "xylophone", 65, 96),
    _i(14, "Tubular Bells", "tubular bells|chimes|orchestral chimes", 60, 77),
    _i(15, "Dulcimer", "dulcimer|hammered dulcimer|santur", 48, 84),
    _i(16, "Drawbar Organ", "drawbar organ|Hammond organ|jazz organ", 36, 96),
    _i(17, "Percussive Organ", "percussive organ|percussive Hammond", 36, 96),
    _i(18, "Rock Organ", "rock organ|overdriven organ", 36, 96),
    _i(19, "Church Organ", "church organ|pipe organ|cathedral organ", 28, 96),
    _i(20, "Reed Organ", "reed organ|harmonium|pump organ", 36, 89),
    _i(21, "Accordion", "accordion|musette accordion", 41, 89),
    _i(22, "Harmonica", "harmonica|mouth organ|blues harp", 60, 96),
    _i(23, "Tango Accordion", "bandoneon|tango accordion", 41, 89),
    _i(24, "Acoustic Guitar (nylon)", "nylon guitar|classical guitar|nylon string guitar|Spanish guitar", 40, 83),
    _i(25, "Acoustic Guitar (steel)", "acoustic guitar|steel string guitar|folk guitar", 40, 83),
    _i(26, "Electric Guitar (jazz)", "jazz guitar|hollow body guitar", 40, 86),
    _i(27, "Electric Guitar (clean)", "electric guitar|clean electric guitar|clean guitar", 40, 86),
    _i(28, "Electric Guitar (muted)", "muted guitar|palm muted guitar|muted electric guitar", 40, 76),
    _i(29, "Overdriven Guitar", "overdriven guitar|crunchy guitar|overdrive guitar", 40, 86),
    _i(30, "Distortion Guitar", "distorted guitar|distortion guitar|heavy metal guitar", 40, 86),
    _i(31, "Guitar Harmonics", "guitar harmonics|guitar harmonic", 52, 88),
    _i(32, "Acoustic Bass", "acoustic bass|upright bass|jazz bass", 28, 67),
    _i(33, "Electric Bass (finger)", "bass guitar|electric bass|fingered bass|finger bass", 28, 67),
    _i(34, "Electric Bass (pick)", "picked bass|pick bass|picked electric bass", 28, 67),
    _i(35, "Fretless Bass", "fretless bass", 28, 67),
    _i(36, "Slap Bass 1", "slap bass|funk slap bass", 28, 67),
    _i(37, "Slap Bass 2", "popped bass|slap bass 2", 28, 67),
    _i(38, "Synth Bass 1", "synth bass|analog synth bass", 28, 72),
    _i(39, "Synth Bass 2", "resonant synth bass|synth bass 2|acid bass", 28, 72),
    _i(40, "Violin", "violin|solo violin", 55, 96),
    _i(41, "Viola", "viola", 48, 88),
    _i(42, "Cello", "cello|violoncello", 36, 76),
    _i(43, "Contrabass", "double bass|contrabass|string bass|bowed bass", 28, 60),
    _i(44, "Tremolo Strings", "tremolo strings|string tremolo", 36, 91),
    _i(45, "Pizzicato Strings", "pizzicato strings|plucked strings|pizzicato", 36, 89),
    _i(46, "Orchestral Harp", "harp|orchestral harp|concert harp", 28, 96),
    _i(47, "Timpani", "timpani|kettle drum|kettledrums", 36, 60),
    _i(48, "String Ensemble 1", "string ensemble|string section|strings|orchestral strings", 36, 91),
    _i(49, "String Ensemble 2", "slow strings|string pad|lush strings", 36, 91),
    _i(50, "Synth Strings 1", "synth strings|synthesizer strings", 36, 91),
    _i(51, "Synth Strings 2", "analog synth strings|synth strings 2", 36, 91),
    _i(52, "Choir Aahs", "choir|choir aahs|voices singing aah", 48, 81),
    _i(53, "Voice Oohs", "voice oohs|ooh vocals|humming voices", 48, 81),
    _i(54, "Synth Voice", "synth voice|synth choir|vocoder voice", 48, 84),
    _i(55, "Orchestra Hit", "orchestra hit|orchestral stab|orch hit", 48, 72),
    _i(56, "Trumpet", "trumpet", 54, 84),
    _i(57, "Trombone", "trombone|slide trombone", 40, 72),
    _i(58, "Tuba", "tuba", 28, 58),
    _i(59, "Muted Trumpet", "muted trumpet|trumpet with a mute|harmon mute trumpet", 54, 82),
    _i(60, "French Horn", "French horn|horn", 41, 77),
    _i(61, "Brass Section", "brass section|brass ensemble|horn section", 41, 84),
    _i(62, "Synth Brass 1", "synth brass|synthesizer brass", 36, 84),
    _i(63, "Synth Brass 2", "analog synth brass|synth brass 2|warm synth brass", 36, 84),
    _i(64, "Soprano Sax", "soprano sax|soprano saxophone", 56, 87),
    _i(65, "Alto Sax", "alto sax|alto saxophone|saxophone|sax", 49, 81),
    _i(66, "Tenor Sax", "tenor sax|tenor saxophone", 44, 76),
    _i(67, "Baritone Sax", "baritone sax|baritone saxophone|bari sax", 36, 69),
    _i(68, "Oboe", "oboe", 58, 91),
    _i(69, "English Horn", "English horn|cor anglais", 52, 84),
    _i(70, "Bassoon", "bassoon", 34, 75),
    _i(71, "Clarinet", "clarinet", 50, 91),
    _i(72, "Piccolo", "piccolo", 74, 96),
    _i(73, "Flute", "flute|concert flute", 60, 96),
    _i(74, "Recorder", "recorder", 60, 93),
    _i(75, "Pan Flute", "pan flute|panpipes|pan pipes", 60, 93),
    _i(76, "Blown Bottle", "blown bottle|bottle blow|blowing across a bottle", 60, 84),
    _i(77, "Shakuhachi", "shakuhachi|bamboo flute", 55, 84),
    _i(78, "Whistle", "whistle|whistling", 72, 96),
    _i(79, "Ocarina", "ocarina", 60, 89),
    _i(80, "Lead 1 (square)", "square lead|square wave synth|chiptune lead", 36, 96),
    _i(81, "Lead 2 (sawtooth)", "sawtooth lead|saw synth lead|saw lead", 36, 96),
    _i(82, "Lead 3 (calliope)", "calliope lead|calliope", 48, 96),
    _i(83, "Lead 4 (chiff)", "chiff lead", 48, 96),
    _i(84, "Lead 5 (charang)", "charang lead|charang", 36, 91),
    _i(85, "Lead 6 (voice)", "voice lead|vocal synth lead", 48, 89),
    _i(86, "Lead 7 (fifths)", "fifths lead|synth lead in fifths", 36, 89),
    _i(87, "Lead 8 (bass + lead)", "bass and lead synth|bass lead", 36, 84),
    _i(88, "Pad 1 (new age)", "new age pad|fantasia pad", 36, 84),
    _i(89, "Pad 2 (warm)", "warm pad|warm synth pad", 36, 84),
    _i(90, "Pad 3 (polysynth)", "polysynth pad|polysynth", 36, 84),
    _i(91, "Pad 4 (choir)", "choir pad|space voice pad", 36, 84),
    _i(92, "Pad 5 (bowed)", "bowed pad|bowed glass pad", 36, 84),
    _i(93, "Pad 6 (metallic)", "metallic pad|metal pad", 36, 84),
    _i(94, "Pad 7 (halo)", "halo pad", 36, 84),
    _i(95, "Pad 8 (sweep)", "sweep pad|filter sweep pad", 36, 84),
    _i(96, "FX 1 (rain)", "rain synth|ice rain synth", 36, 84),
    _i(97, "FX 2 (soundtrack)", "soundtrack synth|soundtrack pad", 36, 84),
    _i(98, "FX 3 (crystal)", "crystal synth|crystal bell synth", 48, 96),
    _i(99, "FX 4 (atmosphere)", "atmosphere synth|atmospheric synth", 36, 84),
    _i(100, "FX 5 (brightness)", "brightness synth|bright synth pad", 36, 84),
    _i(101, "FX 6 (goblins)", "goblins synth|goblin synth", 36, 84),
    _i(102, "FX 7 (echoes)", "echo synth|echo drops synth", 36, 84),
    _i(103, "FX 8 (sci-fi)", "sci-fi synth|science fiction synth", 36, 84),
    _i(104, "Sitar", "sitar", 48, 77),
    _i(105, "Banjo", "banjo", 48, 84),
    _i(106, "Shamisen", "shamisen", 50, 79),
    _i(107, "Koto", "koto", 55, 91),
    _i(108, "Kalimba", "kalimba|thumb piano|mbira", 60, 91),
    _i(109, "Bagpipe", "bagpipes|bagpipe|Highland bagpipes", 55, 79),
    _i(110, "Fiddle", "fiddle|folk fiddle", 55, 93),
    _i(111, "Shanai", "shehnai|shanai", 60, 88),
    _i(112, "Tinkle Bell", "tinkle bell|small bell", 72, 96),
    _i(113, "Agogo", "agogo|agogo bells", 60, 84),
    _i(114, "Steel Drums", "steel drum|steel pan|steelpan|steel drums", 52, 84),
    _i(115, "Woodblock", "woodblock|wood block", 60, 84),
    _i(116, "Taiko Drum", "taiko drum|taiko", 36, 60),
    _i(117, "Melodic Tom", "melodic tom|tuned tom", 36, 72),
    _i(118, "Synth Drum", "synth drum|electronic tom", 36, 72),
)

#: Programs played as notes, chords and arpeggios (119-127 are sound effects).
PITCHED_PROGRAMS = tuple(range(len(INSTRUMENTS)))
#: Programs that play chords (polyphonic families; no single-voice winds or brass).
CHORD_PROGRAMS = tuple(
    p for p in PITCHED_PROGRAMS
    if INSTRUMENTS[p].family in ("piano", "chromatic percussion", "organ", "guitar", "synth pad", "synth effects")
    or p in (44, 45, 46, 48, 49, 50, 51, 52, 53, 54, 61, 62, 63, 80, 81, 104, 105, 107, 108, 114)
)  # fmt: skip


@dataclass(frozen=True)
class Effect:
    """A General MIDI sound effect: the program, the ``name`` captions use first and synonyms,
    the keys it is played on (its natural pitch is near ``key``) and how it is played: ``held``
    (one long note) or ``events`` (one to ``max_events`` short notes)."""

    program: int
    gm_name: str
    name: str
    synonyms: tuple[str, ...]
    key: int
    held: bool
    max_events: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


EFFECTS: tuple[Effect, ...] = (
    Effect(119, "Reverse Cymbal", "reverse cymbal", ("reversed cymbal", "cymbal swell", "reverse crash"), 60, True),
    Effect(120, "Guitar Fret Noise", "guitar fret noise", ("fret noise", "guitar string squeak", "fret squeak", "fingers sliding on guitar strings"), 60, False, 3),
    Effect(121, "Breath Noise", "breath noise", ("breathing", "a breath", "someone breathing", "breaths"), 60, False, 2),
    Effect(122, "Seashore", "ocean waves", ("the seashore", "waves on the shore", "the sea", "surf", "waves crashing on a beach", "the ocean"), 60, True),
    Effect(123, "Bird Tweet", "a bird tweeting", ("birdsong", "a bird chirping", "bird tweets", "a songbird singing", "bird calls"), 60, False, 3),
    Effect(124, "Telephone Ring", "a telephone ringing", ("a phone ringing", "a ringing telephone", "a telephone bell", "an old phone ringing"), 60, True),
    Effect(125, "Helicopter", "a helicopter", ("helicopter blades", "a helicopter flying", "a helicopter rotor", "a chopper"), 60, True),
    Effect(126, "Applause", "applause", ("an audience applauding", "a crowd clapping", "people clapping", "clapping hands"), 60, True),
    Effect(127, "Gunshot", "a gunshot", ("a gun firing", "gunfire", "a pistol shot", "a gun shot"), 60, False, 3),
)  # fmt: skip
EFFECT_BY_PROGRAM = {e.program: e for e in EFFECTS}


# ---------------------------------------------------------------------------------------------
# Drums (General MIDI percussion keys on channel 10, kits in bank 128)
# ---------------------------------------------------------------------------------------------

#: Drum kits (program in bank 128) present in both FluidR3_GM and TimGM6mb, with caption names.
DRUM_KITS: dict[int, tuple[str, ...]] = {
    0: ("standard drum kit", "acoustic drum kit", "drum kit", "standard kit"),
    8: ("room drum kit", "room kit", "roomy drum kit"),
    16: ("power drum kit", "rock drum kit", "power kit"),
    24: ("electronic drum kit", "electronic kit", "synth drum kit"),
    25: ("808 drum machine", "TR-808", "808 kit", "drum machine"),
    32: ("jazz drum kit", "jazz kit", "jazz drum set"),
    40: ("brush kit", "brushed drum kit", "drum kit played with brushes"),
}

#: Single drum hits: GM key -> caption names (first used most).
DRUM_HITS: dict[int, tuple[str, ...]] = {
    35: ("kick drum", "bass drum", "kick", "acoustic bass drum"),
    36: ("kick drum", "bass drum", "kick"),
    37: ("side stick", "rim click", "rimshot", "cross stick"),
    38: ("snare drum", "snare", "acoustic snare", "snare hit"),
    39: ("hand clap", "clap", "handclap"),
    40: ("snare drum", "snare", "electric snare"),
    41: ("floor tom", "low floor tom", "tom"),
    42: ("closed hi-hat", "hi-hat", "closed hat", "hihat"),
    43: ("floor tom", "high floor tom", "tom"),
    44: ("pedal hi-hat", "hi-hat pedal", "foot hi-hat"),
    45: ("low tom", "tom", "low tom-tom"),
    46: ("open hi-hat", "open hat", "open hihat"),
    47: ("mid tom", "tom", "low-mid tom"),
    48: ("high tom", "hi-mid tom", "tom"),
    49: ("crash cymbal", "cymbal crash", "crash"),
    50: ("high tom", "tom", "high tom-tom"),
    51: ("ride cymbal", "ride", "cymbal"),
    52: ("china cymbal", "chinese cymbal", "cymbal"),
    53: ("ride bell", "cymbal bell", "bell of the ride"),
    54: ("tambourine",),
    55: ("splash cymbal", "splash", "cymbal"),
    56: ("cowbell",),
    57: ("crash cymbal", "cymbal crash", "crash"),
    58: ("vibraslap",),
    59: ("ride cymbal", "ride", "cymbal"),
    60: ("high bongo", "bongo", "bongo drum"),
    61: ("low bongo", "bongo", "bongo drum"),
    62: ("muted conga", "conga", "high conga"),
    63: ("open conga", "conga", "conga drum"),
    64: ("low conga", "conga", "tumba"),
    65: ("high timbale", "timbale", "timbales"),
    66: ("low timbale", "timbale", "timbales"),
    67: ("high agogo", "agogo bell", "agogo"),
    68: ("low agogo", "agogo bell", "agogo"),
    69: ("cabasa", "shaker"),
    70: ("maracas", "maraca", "shaker"),
    73: ("guiro", "short guiro"),
    74: ("long guiro", "guiro"),
    75: ("claves", "clave"),
    76: ("high wood block", "wood block", "woodblock"),
    77: ("low wood block", "wood block", "woodblock"),
    80: ("muted triangle", "triangle"),
    81: ("open triangle", "triangle", "triangle ding"),
}

KICK, SNARE, CLAP, CLOSED_HAT, OPEN_HAT, RIDE, CRASH, SIDE_STICK = 36, 38, 39, 42, 46, 51, 49, 37
LOW_TOM, MID_TOM, HIGH_TOM = 45, 47, 50


@dataclass(frozen=True)
class BeatPattern:
    """A named drum pattern: ``steps`` per bar (a grid of equal steps over ``beats`` beats) and,
    per drum key, the steps it plays on (velocity 100, ghost notes 45 where listed)."""

    name: str
    names: tuple[str, ...]
    beats: int
    steps: int
    hits: dict[int, tuple[int, ...]]
    ghosts: dict[int, tuple[int, ...]] = field(default_factory=dict)


BEAT_PATTERNS: tuple[BeatPattern, ...] = (
    BeatPattern("rock", ("rock beat", "rock drum beat", "basic rock groove", "straight rock beat"), 4, 16,
                {KICK: (0, 8, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)}),
    BeatPattern("four on the floor", ("four on the floor beat", "house beat", "disco beat", "dance beat"), 4, 16,
                {KICK: (0, 4, 8, 12), CLAP: (4, 12), OPEN_HAT: (2, 6, 10, 14)}),
    BeatPattern("hip hop", ("hip hop beat", "boom bap beat", "hip-hop drum beat", "rap beat"), 4, 16,
                {KICK: (0, 7, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)}),
    BeatPattern("funk", ("funk beat", "funky drum groove", "funk groove"), 4, 16,
                {KICK: (0, 6, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12), OPEN_HAT: (14,)}, {SNARE: (7, 15)}),
    BeatPattern("half-time", ("half-time beat", "half time groove", "slow half-time beat"), 4, 16,
                {KICK: (0, 3), SNARE: (8,), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)}),
    BeatPattern("shuffle", ("shuffle beat", "blues shuffle", "swing beat"), 4, 12,
                {KICK: (0, 6), SNARE: (3, 9), RIDE: (0, 2, 3, 5, 6, 8, 9, 11)}),
    BeatPattern("waltz", ("waltz beat", "beat in three", "3/4 beat"), 3, 6,
                {KICK: (0,), SNARE: (2, 4), CLOSED_HAT: (0, 1, 2, 3, 4, 5)}),
    BeatPattern("breakbeat", ("breakbeat", "drum break", "break beat"), 4, 16,
                {KICK: (0, 2, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)}, {SNARE: (7, 14)}),
)  # fmt: skip

#: Tempos (BPM) beats and arpeggios are drawn at: 2.56 s holds at least 3.4 beats at 80 BPM, and
#: the range is less than an octave, so a tempo measured inside 78-158 BPM
#: (:func:`engine.training.starter_metrics.tempo_bpm`) is never half or double the played one.
TEMPOS_BPM = (80, 85, 90, 95, 100, 105, 110, 115, 120, 125, 130, 135, 140, 145, 150, 155)


def draw_tempo(rng: np.random.Generator, any_tempo: bool = False) -> int:
    """A tempo from :data:`TEMPOS_BPM`, or with ``any_tempo`` any whole BPM in the same range.

    Captions name the tempo as digits, and a text encoder that only ever reads sixteen numbers
    learns them as sixteen words: asked for 107 BPM, the text side of starter model 2 (trained on
    the sixteen) was within 5% for 29-32% of held-out prompts (bench/bench_starter_text.py).
    """
    if any_tempo:
        return int(rng.integers(TEMPOS_BPM[0], TEMPOS_BPM[-1] + 1))
    return _pick(rng, TEMPOS_BPM)

# ---------------------------------------------------------------------------------------------
# Dynamics, lengths, chords
# ---------------------------------------------------------------------------------------------

#: Loudness word -> MIDI velocity range (inclusive). FluidR3's velocity layers and filters
#: make soft notes darker, so the word is heard even after the images are normalised.
VELOCITIES: dict[str, tuple[int, int]] = {"soft": (32, 56), "medium": (68, 92), "loud": (104, 127)}
#: Note length word -> seconds (uniform range). The clip is 2.56 s; a long note is cut by its end.
NOTE_LENGTHS_S: dict[str, tuple[float, float]] = {"short": (0.12, 0.35), "medium": (0.6, 1.1), "long": (1.6, 2.4)}

CHORD_INTERVALS: dict[str, tuple[int, ...]] = {"major": (0, 4, 7), "minor": (0, 3, 7), "seventh": (0, 4, 7, 10)}
ARPEGGIO_DIRECTIONS = ("up", "down", "up and down")

#: Held-out instrument-at-pitch combinations (program, MIDI key): never rendered for training,
#: used only to test the model. Eight instruments at G4 and D4 (the instrument-identity test asks
#: them for the same note), and about one combination in 17 of every other instrument.
IDENTITY_PROGRAMS = (0, 19, 24, 40, 42, 56, 71, 73)  # piano, church organ, nylon guitar, violin, cello, trumpet, clarinet, flute
IDENTITY_KEYS = (67, 62)  # G4, D4


def is_held_out(program: int, key: int) -> bool:
    """Whether playing ``key`` on ``program`` is a held-out combination (see above)."""
    if program in IDENTITY_PROGRAMS:
        return key in IDENTITY_KEYS
    return (key + 7 * program) % 17 == 0


def key_name(key: int) -> str:
    """MIDI key -> note name with octave, sharps ("C4" = 60)."""
    return f"{NOTE_NAMES[key % 12]}{key // 12 - 1}"


def key_hz(key: int) -> float:
    return 440.0 * 2.0 ** ((key - 69) / 12.0)


# ---------------------------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteEvent:
    """One note: MIDI ``key``, ``velocity`` 1..127, start and length in seconds (clip time)."""

    key: int
    velocity: int
    start_s: float
    length_s: float


@dataclass(frozen=True, eq=False)
class GMClip:
    """A short MIDI performance: on the drum channel (``drums``; ``program`` is then the kit) or
    a melodic one, its notes, and the ``attributes`` captions are made from (always ``kind``;
    then e.g. ``program``, ``instrument``, ``family``, ``note``, ``key``, ``hz``, ``loudness``,
    ``length``, ``chord``, ``quality``, ``tempo_bpm``, ``pattern``, ``kit``, ``hit``,
    ``effect``, ``count``)."""

    program: int
    drums: bool
    notes: tuple[NoteEvent, ...]
    attributes: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.attributes["kind"]


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _velocity(rng: np.random.Generator) -> tuple[str, int]:
    word = _pick(rng, tuple(VELOCITIES))
    low, high = VELOCITIES[word]
    return word, int(rng.integers(low, high + 1))


def _length(rng: np.random.Generator) -> tuple[str, float]:
    word = _pick(rng, tuple(NOTE_LENGTHS_S))
    return word, float(rng.uniform(*NOTE_LENGTHS_S[word]))


def _instrument_attributes(program: int) -> dict[str, Any]:
    inst = INSTRUMENTS[program]
    return {"program": program, "instrument": inst.name, "family": inst.family}


def note_clip(program: int, key: int, velocity: int, length_s: float, start_s: float = 0.05, *, loudness: str, length: str) -> GMClip:
    """One note of ``program`` (the attributes name the pitch as note and Hz)."""
    attributes = {
        "kind": "note", **_instrument_attributes(program), "key": key, "note": key_name(key), "hz": key_hz(key),
        "velocity": velocity, "loudness": loudness, "length": length, "length_s": length_s,
    }  # fmt: skip
    return GMClip(program, False, (NoteEvent(key, velocity, start_s, length_s),), attributes)


def random_note(rng: np.random.Generator, program: int, key: int) -> GMClip:
    """``key`` on ``program`` at a random loudness, length and onset (0-0.25 s); any key,
    held-out or not (for evaluation and the identity classifier)."""
    loudness, velocity = _velocity(rng)
    length, length_s = _length(rng)
    return note_clip(program, key, velocity, length_s, float(rng.uniform(0.0, 0.25)), loudness=loudness, length=length)


def _draw_note(rng: np.random.Generator, program: int | None = None) -> GMClip:
    if program is None:
        program = _pick(rng, PITCHED_PROGRAMS)
    inst = INSTRUMENTS[program]
    keys = [k for k in range(inst.low, inst.high + 1) if not is_held_out(program, k)]
    return random_note(rng, program, _pick(rng, keys))


def _chord_keys(root: int, quality: str) -> tuple[int, ...]:
    return tuple(root + i for i in CHORD_INTERVALS[quality])


def _draw_root(rng: np.random.Generator, program: int, quality: str, span: int = 0) -> int | None:
    """A root (C3-B4) whose chord, and the notes up to ``span`` semitones above the root (an
    arpeggio's octave), are in the instrument's range and none held out; None if there is none."""
    inst = INSTRUMENTS[program]
    top = max(CHORD_INTERVALS[quality][-1], span)
    roots = [
        r for r in range(max(inst.low, 48), min(inst.high - top, 71) + 1)
        if not any(is_held_out(program, k) for k in (*_chord_keys(r, quality), r + span))
    ]  # fmt: skip
    return _pick(rng, roots) if roots else None


def _draw_chord(rng: np.random.Generator) -> GMClip:
    program = _pick(rng, CHORD_PROGRAMS)
    quality = _pick(rng, ("major", "major", "minor", "minor", "seventh"))
    root = _draw_root(rng, program, quality)
    if root is None:
        return _draw_note(rng, program)
    loudness, velocity = _velocity(rng)
    length, length_s = _length(rng)
    start = float(rng.uniform(0.0, 0.25))
    # Guitars and harps strum: a few tens of ms between the strings.
    spread = 0.03 if INSTRUMENTS[program].family == "guitar" or program == 46 else 0.0
    notes = tuple(
        NoteEvent(k, max(1, velocity - int(rng.integers(0, 8))), start + i * spread, length_s)
        for i, k in enumerate(_chord_keys(root, quality))
    )
    attributes = {
        "kind": "chord", **_instrument_attributes(program), "root": NOTE_NAMES[root % 12], "root_key": root,
        "root_note": key_name(root), "hz": key_hz(root), "quality": quality, "velocity": velocity,
        "loudness": loudness, "length": length, "length_s": length_s,
    }  # fmt: skip
    return GMClip(program, False, notes, attributes)


def _draw_arpeggio(rng: np.random.Generator, any_tempo: bool = False) -> GMClip:
    program = _pick(rng, PITCHED_PROGRAMS)
    quality = _pick(rng, ("major", "minor"))
    root = _draw_root(rng, program, quality, span=12)
    if root is None:
        return _draw_note(rng, program)
    loudness, velocity = _velocity(rng)
    tempo = draw_tempo(rng, any_tempo)
    direction = _pick(rng, ARPEGGIO_DIRECTIONS)
    keys = (*_chord_keys(root, quality), root + 12)
    if direction == "down":
        keys = keys[::-1]
    elif direction == "up and down":
        keys = keys + keys[-2:0:-1]
    step_s = 30.0 / tempo  # eighth notes
    start = float(rng.uniform(0.0, 0.1))
    count = int((2.5 - start) / step_s)
    notes = tuple(
        NoteEvent(keys[i % len(keys)], max(1, velocity - int(rng.integers(0, 8))), start + i * step_s, step_s * 0.9)
        for i in range(count)
    )
    attributes = {
        "kind": "arpeggio", **_instrument_attributes(program), "root": NOTE_NAMES[root % 12], "root_key": root,
        "root_note": key_name(root), "hz": key_hz(root), "quality": quality, "direction": direction,
        "tempo_bpm": tempo, "velocity": velocity, "loudness": loudness,
    }  # fmt: skip
    return GMClip(program, False, notes, attributes)


def beat_clip(pattern: BeatPattern, kit: int, tempo_bpm: float, velocity: int, start_s: float = 0.0, duration_s: float = 2.56, *, loudness: str = "medium") -> GMClip:
    """``pattern`` on drum ``kit`` at ``tempo_bpm``, repeated from ``start_s`` to the clip's end."""
    step_s = 60.0 / tempo_bpm * pattern.beats / pattern.steps
    notes = []
    step = 0
    while start_s + step * step_s < duration_s:
        s = step % pattern.steps
        for key, steps in pattern.hits.items():
            if s in steps:
                notes.append(NoteEvent(key, velocity, start_s + step * step_s, 0.1))
        for key, steps in pattern.ghosts.items():
            if s in steps:
                notes.append(NoteEvent(key, max(1, velocity // 2), start_s + step * step_s, 0.1))
        step += 1
    attributes = {
        "kind": "beat", "pattern": pattern.name, "kit": kit, "kit_name": DRUM_KITS[kit][0], "tempo_bpm": tempo_bpm,
        "velocity": velocity, "loudness": loudness, "family": "drums",
    }  # fmt: skip
    return GMClip(kit, True, tuple(notes), attributes)


def _draw_beat(rng: np.random.Generator, any_tempo: bool = False) -> GMClip:
    pattern = _pick(rng, BEAT_PATTERNS)
    kit = _pick(rng, tuple(DRUM_KITS))
    loudness, velocity = _velocity(rng)
    tempo = draw_tempo(rng, any_tempo)
    # Start anywhere in the first beat: the clip does not always open on the downbeat.
    start = float(rng.uniform(0.0, 60.0 / tempo))
    return beat_clip(pattern, kit, tempo, velocity, start, loudness=loudness)


def _draw_hit(rng: np.random.Generator) -> GMClip:
    key = _pick(rng, tuple(DRUM_HITS))
    kit = _pick(rng, tuple(DRUM_KITS))
    loudness, velocity = _velocity(rng)
    start = float(rng.uniform(0.05, 0.6))
    attributes = {
        "kind": "hit", "key": key, "hit": DRUM_HITS[key][0], "kit": kit, "kit_name": DRUM_KITS[kit][0],
        "velocity": velocity, "loudness": loudness, "family": "drums", "count": 1,
    }  # fmt: skip
    return GMClip(kit, True, (NoteEvent(key, velocity, start, 0.3),), attributes)


def _draw_effect(rng: np.random.Generator) -> GMClip:
    effect = _pick(rng, EFFECTS)
    loudness, velocity = _velocity(rng)
    key = effect.key + int(rng.integers(-4, 5))
    start = float(rng.uniform(0.0, 0.4))
    if effect.held:
        notes = (NoteEvent(key, velocity, start, 2.56 - start),)
        count = 1
    else:
        count = int(rng.integers(1, effect.max_events + 1))
        gap = (2.3 - start) / count
        notes = tuple(NoteEvent(key, velocity, start + i * gap + float(rng.uniform(0, 0.1)), min(0.8, gap * 0.8)) for i in range(count))
    attributes = {
        "kind": "effect", "program": effect.program, "effect": effect.name, "family": "sound effects",
        "velocity": velocity, "loudness": loudness, "count": count, "key": key,
    }  # fmt: skip
    return GMClip(effect.program, False, notes, attributes)


_DRAW = {
    "note": _draw_note,
    "chord": _draw_chord,
    "arpeggio": _draw_arpeggio,
    "beat": _draw_beat,
    "hit": _draw_hit,
    "effect": _draw_effect,
}


def random_clip(rng: np.random.Generator, kind: str | None = None, *, any_tempo: bool = False) -> GMClip:
    """Draw one clip (``kind`` from :data:`CLIP_KINDS`, or drawn with :data:`KIND_WEIGHTS`).

    Held-out instrument-at-pitch combinations (:func:`is_held_out`) are never drawn. Beats and
    arpeggios take any whole BPM with ``any_tempo`` (:func:`draw_tempo`); the draws are the
    same otherwise.
    Raises ValueError for an unknown kind.
    """
    if kind is None:
        weights = np.array([KIND_WEIGHTS[k] for k in CLIP_KINDS])
        kind = CLIP_KINDS[int(rng.choice(len(CLIP_KINDS), p=weights / weights.sum()))]
    if kind not in _DRAW:
        raise ValueError(f"`kind` must be one of {', '.join(CLIP_KINDS)}, got {kind!r}.")
    if kind in ("beat", "arpeggio"):
        return _DRAW[kind](rng, any_tempo)
    return _DRAW[kind](rng)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

DRUM_CHANNEL = 9
MELODIC_CHANNEL = 0
#: Silence between clip slots in the rendered file (after "all sound off").
SLOT_GAP_S = 0.1
#: fluidsynth's master gain: polyphonic loud clips stay well inside +/-1 (float output anyway).
FLUIDSYNTH_GAIN = 0.4


def check_renderer(font: Path = FLUID_FONT) -> str:
    """The fluidsynth executable's path; RenderError naming the apt packages if it or ``font``
    is missing."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError(f"fluidsynth is not installed; install it with: sudo apt install {APT_PACKAGES}")
    if not Path(font).is_file():
        raise RenderError(f"sound font {font} not found; install it with: sudo apt install {APT_PACKAGES}")
    return exe


#: fluidsynth applies MIDI events at the start of its 64-sample blocks.
FLUIDSYNTH_BLOCK = 64


def _slot_s(duration_s: float, sample_rate_hz: int) -> float:
    """Seconds per clip slot: at least the clip and a gap, a whole number of milliseconds (MIDI
    ticks) and of fluidsynth's 64-sample blocks, so every clip meets the same block grid and
    renders the same whatever its slot (and however many workers share the clips)."""
    ms = math.ceil((duration_s + SLOT_GAP_S) * 1000)
    while (ms * sample_rate_hz) % (1000 * FLUIDSYNTH_BLOCK):
        ms += 1
    return ms / 1000


def clips_midi(clips: Sequence[GMClip], duration_s: float, sample_rate_hz: int) -> bytes:
    """One MIDI file playing ``clips`` one after the other, each in its own slot of
    :func:`_slot_s` seconds at ``sample_rate_hz``: reset, bank and program at the slot's start, the notes, and all
    sound off ``duration_s`` later."""
    slot = _slot_s(duration_s, sample_rate_hz)
    events: list[midi.MidiEvent] = []
    for i, clip in enumerate(clips):
        t0 = i * slot
        ch = DRUM_CHANNEL if clip.drums else MELODIC_CHANNEL
        events += [
            midi.MidiEvent(t0, midi.GM_SYSTEM_ON),
            midi.MidiEvent(t0, midi.control_change(ch, midi.CC_RESET_CONTROLLERS, 0)),
            midi.MidiEvent(t0, midi.control_change(ch, midi.CC_VOLUME, 100)),
            midi.MidiEvent(t0, midi.control_change(ch, midi.CC_PAN, 64)),
            midi.MidiEvent(t0, midi.control_change(ch, midi.CC_BANK_SELECT, 0)),
            midi.MidiEvent(t0, midi.program_change(ch, clip.program)),
        ]
        for note in clip.notes:
            start = t0 + min(max(note.start_s, 0.0), duration_s)
            end = t0 + min(note.start_s + note.length_s, duration_s)
            if start >= t0 + duration_s:
                continue
            events.append(midi.MidiEvent(start, midi.note_on(ch, note.key, note.velocity)))
            events.append(midi.MidiEvent(max(end, start + 1e-3), midi.note_off(ch, note.key)))
        events += [
            midi.MidiEvent(t0 + duration_s, midi.control_change(ch, midi.CC_ALL_NOTES_OFF, 0)),
            midi.MidiEvent(t0 + duration_s, midi.control_change(ch, midi.CC_ALL_SOUND_OFF, 0)),
        ]
    return midi.midi_file_bytes(events, end_s=len(clips) * slot)


def _fluidsynth_command(exe: str, font: Path, sample_rate_hz: int, midi_path: Path, wav_path: Path) -> list[str]:
    return [
        exe, "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", str(FLUIDSYNTH_GAIN), "-O", "float", "-T", "wav",
        "-r", str(sample_rate_hz), "-F", str(wav_path), str(font), str(midi_path),
    ]  # fmt: skip


def render(
    clips: Sequence[GMClip],
    *,
    sample_rate_hz: int,
    duration_s: float,
    font: Path = FLUID_FONT,
    workers: int = 2,
) -> np.ndarray:
    """Render ``clips`` with fluidsynth and ``font``: float32 mono ``(len(clips), samples)``,
    ``samples = round(duration_s * sample_rate_hz)``, at fluidsynth's level (not normalised).

    The clips are split into ``workers`` runs of fluidsynth in parallel. The output depends only
    on the clips, the font, the rate, the duration and ``workers`` (split differently, a note's
    first 64 samples can differ slightly: fluidsynth ramps a reused voice from its last level). Raises RenderError if fluidsynth or the
    font is missing or fluidsynth fails, ValueError for a bad rate, duration or worker count.
    """
    import soundfile

    if not sample_rate_hz > 0 or not duration_s > 0:
        raise ValueError(f"`sample_rate_hz` and `duration_s` must be positive, got {sample_rate_hz} and {duration_s}.")
    if workers < 1:
        raise ValueError(f"`workers` must be >= 1, got {workers}.")
    exe = check_renderer(font)
    num_samples = int(round(duration_s * sample_rate_hz))
    out = np.zeros((len(clips), num_samples), dtype=np.float32)
    if not clips:
        return out
    slot_samples = _slot_s(duration_s, sample_rate_hz) * sample_rate_hz
    chunks = np.array_split(np.arange(len(clips)), min(workers, len(clips)))
    with tempfile.TemporaryDirectory(prefix="gm-render-") as tmp:
        procs = []
        for n, chunk in enumerate(chunks):
            midi_path, wav_path = Path(tmp) / f"{n}.mid", Path(tmp) / f"{n}.wav"
            midi_path.write_bytes(clips_midi([clips[i] for i in chunk], duration_s, sample_rate_hz))
            cmd = _fluidsynth_command(exe, Path(font), sample_rate_hz, midi_path, wav_path)
            procs.append((chunk, wav_path, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        for chunk, wav_path, proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0 or not wav_path.is_file():
                raise RenderError(f"fluidsynth failed (exit {proc.returncode}): {err.decode(errors='replace').strip()[:300]}")
            audio, rate = soundfile.read(wav_path, dtype="float32", always_2d=True)
            if rate != sample_rate_hz:
                raise RenderError(f"fluidsynth wrote {rate} Hz instead of {sample_rate_hz} Hz.")
            mono = audio.mean(axis=1)
            for j, index in enumerate(chunk):
                start = int(round(j * slot_samples))
                piece = mono[start : start + num_samples]
                out[index, : len(piece)] = piece
    return out


def clip_summary(clip: GMClip) -> str:
    """A short readable description (logs and test messages)."""
    a = clip.attributes
    what = a.get("instrument") or a.get("effect") or a.get("pattern") or a.get("hit")
    detail = a.get("note") or (f"{a['root']} {a['quality']}" if "quality" in a else "") or (f"{a.get('tempo_bpm')} BPM" if "tempo_bpm" in a else "")
    return f"{a['kind']}: {what} {detail}".strip()
