"""The procedural pictures of the starter picture model: a sound's attributes drawn at 64x64.

What a picture shows (so a user can read it back):

* **colour**: the sound's family group (:data:`GROUPS`): keys red, plucked orange, bowed and
  organ green, winds blue, synth purple, drums and clicks yellow, noise and effects grey;
* **a disc**: a pitched sound; higher pitch sits higher and is smaller. An unpitched sound draws a
  horizontal band across the middle instead;
* **ticks along the bottom**: one per onset in the clip (up to 12): a beat shows its hits, a
  single note one tick;
* **brightness**: loudness (RMS level of the clip, -55..-10 dBFS from dark to full).

Everything is numpy, deterministic and torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SIZE = 64
#: Family groups (colour index), with the colour each is drawn in.
GROUPS: tuple[str, ...] = ("keys", "plucked", "bowed", "winds", "synth", "drums", "noise")
COLOURS: dict[str, tuple[int, int, int]] = {
    "keys": (225, 50, 50),
    "plucked": (245, 150, 30),
    "bowed": (40, 200, 80),
    "winds": (50, 110, 240),
    "synth": (180, 60, 230),
    "drums": (240, 230, 40),
    "noise": (190, 190, 190),
}
#: General MIDI family -> group.
GM_FAMILY_GROUP: dict[str, str] = {
    "piano": "keys", "chromatic percussion": "keys", "organ": "bowed", "guitar": "plucked", "bass": "plucked",
    "strings": "bowed", "ensemble": "bowed", "brass": "winds", "reed": "winds", "pipe": "winds",
    "synth lead": "synth", "synth pad": "synth", "synth effects": "synth", "ethnic": "plucked",
    "percussive": "drums", "sound effects": "noise", "drums": "drums",
}  # fmt: skip
#: General MIDI programs whose family puts them in a group the picture would misname: the harp and
#: pizzicato strings are plucked (GM files them under strings), timpani are drums, the harmonica,
#: bagpipe and shehnai are winds and the fiddle is bowed (GM files them under organ and ethnic).
GM_PROGRAM_GROUP: dict[int, str] = {45: "plucked", 46: "plucked", 47: "drums", 22: "winds", 109: "winds", 110: "bowed",
                                    111: "winds"}
#: Synth corpus kind -> group.
SYNTH_KIND_GROUP: dict[str, str] = {
    "tone": "synth", "chord": "synth", "sweep": "synth", "pluck": "synth", "decay": "synth", "tremolo": "synth",
    "noise": "noise", "noise_bursts": "drums", "clicks": "drums", "pulse_train": "drums",
}  # fmt: skip
PITCH_LOW_HZ, PITCH_HIGH_HZ = 55.0, 2000.0
LOUDNESS_LOW_DB, LOUDNESS_HIGH_DB = -55.0, -10.0
MAX_TICKS = 12


@dataclass(frozen=True)
class SoundAttributes:
    """What a picture shows: ``group`` (one of :data:`GROUPS`), ``pitch_hz`` (None: unpitched),
    ``onsets`` (events in the clip) and ``loudness_db`` (RMS level, dBFS)."""

    group: str
    pitch_hz: float | None
    onsets: int
    loudness_db: float

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"`group` must be one of {', '.join(GROUPS)}, got {self.group!r}.")

    @property
    def group_index(self) -> int:
        return GROUPS.index(self.group)


def gm_group(family: str, program: int | None = None) -> str:
    """The group of a General MIDI instrument (its family's, but for :data:`GM_PROGRAM_GROUP`)."""
    return GM_PROGRAM_GROUP.get(program, GM_FAMILY_GROUP[family]) if program is not None else GM_FAMILY_GROUP[family]


def rms_db(audio: np.ndarray) -> float:
    """RMS level of ``audio`` in dBFS (-120 for silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * math.log10(max(rms, 1e-6))


def pitch_position(pitch_hz: float) -> float:
    """0 (lowest) .. 1 (highest) on the picture's log-frequency scale."""
    span = math.log2(PITCH_HIGH_HZ / PITCH_LOW_HZ)
    return min(1.0, max(0.0, math.log2(max(pitch_hz, 1.0) / PITCH_LOW_HZ) / span))


def draw(attributes: SoundAttributes) -> np.ndarray:
    """The picture of ``attributes``: uint8 (64, 64, 3)."""
    colour = np.array(COLOURS[attributes.group], dtype=np.float64)
    level = (attributes.loudness_db - LOUDNESS_LOW_DB) / (LOUDNESS_HIGH_DB - LOUDNESS_LOW_DB)
    bright = 0.35 + 0.65 * min(1.0, max(0.0, level))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    # Background: a dark vertical gradient tinted by the family colour.
    image = np.zeros((SIZE, SIZE, 3))
    image += (0.10 + 0.15 * (yy / SIZE))[..., None] * colour[None, None, :]
    shape_colour = colour * bright
    if attributes.pitch_hz is not None:
        pos = pitch_position(attributes.pitch_hz)
        cy = 46.0 - 34.0 * pos
        radius = 13.0 - 7.0 * pos
        inside = (yy - cy) ** 2 + (xx - 32.0) ** 2 <= radius**2
    else:
        inside = np.abs(yy - 26.0) <= 8.0
    image[inside] = shape_colour
    ticks = max(0, min(MAX_TICKS, int(attributes.onsets)))
    if ticks:
        centres = np.linspace(4.0, SIZE - 5.0, ticks) if ticks > 1 else np.array([SIZE / 2])
        for centre in centres:
            x0 = int(round(centre)) - 1
            image[56:62, max(0, x0) : x0 + 3] = shape_colour
    return np.clip(np.round(image), 0, 255).astype(np.uint8)
