"""The starter picture model's sounds, each with the attributes its picture is drawn from.

Two sources, neither downloaded: the General MIDI corpus (:mod:`engine.training.gm_corpus`,
rendered with fluidsynth from Debian's FluidR3 font; other fonts for held-out tests) and the
synth corpus (:mod:`engine.training.synth`). Clips are mono float32 at :data:`SAMPLE_RATE_HZ`,
:data:`DURATION_S` long::

    sounds = gm_sounds(np.random.default_rng(0), 100)       # rendered with FluidR3
    sounds[0].attributes   # SoundAttributes(group="winds", pitch_hz=392.0, onsets=1, loudness_db=-23.4)
    picture = draw(sounds[0].attributes)

Attributes come from what made the sound (instrument family, note, the notes' onsets) except
loudness, which is measured on the rendered audio (the picture's brightness follows the level
the encoder hears).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.pictures.drawing import SYNTH_KIND_GROUP, SoundAttributes, gm_group, rms_db

SAMPLE_RATE_HZ = 16000
DURATION_S = 2.56


@dataclass(frozen=True, eq=False)
class Sound:
    """One clip: mono float32 ``audio``, its ``attributes``, a short ``label`` and its ``source``."""

    audio: np.ndarray
    attributes: SoundAttributes
    label: str
    source: str


def gm_attributes(clip, audio: np.ndarray, duration_s: float = DURATION_S) -> SoundAttributes:
    """The picture attributes of a General MIDI clip (a :class:`engine.training.gm_corpus.GMClip`)."""
    a = clip.attributes
    group = gm_group(a.get("family", "drums"), a.get("program") if a["kind"] in ("note", "chord", "arpeggio") else None)
    pitched = a["kind"] in ("note", "chord", "arpeggio") and group not in ("drums", "noise")
    starts = {round(note.start_s, 3) for note in clip.notes if note.start_s < duration_s}
    return SoundAttributes(group, float(a["hz"]) if pitched else None, max(1, len(starts)), rms_db(audio))


def gm_sounds(
    rng: np.random.Generator,
    count: int,
    *,
    font: Path | None = None,
    fonts: Sequence[Path] | None = None,
    font_rng: np.random.Generator | None = None,
    kinds: Sequence[str] | None = None,
    workers: int = 1,
) -> list[Sound]:
    """``count`` General MIDI clips drawn with ``rng`` (kinds drawn as the corpus does, or
    uniformly from ``kinds``), rendered with ``font`` (default FluidR3), or each with a font
    drawn uniformly from ``fonts`` with ``font_rng`` (``rng`` when not given; a separate generator
    keeps the clips the same whatever the fonts). Silent renders (a font without that program)
    are dropped. Raises RenderError without fluidsynth or a font."""
    from engine.training import gm_corpus

    clips = [gm_corpus.random_clip(rng, None if kinds is None else kinds[int(rng.integers(len(kinds)))])
             for _ in range(count)]
    if fonts:
        choice = (font_rng or rng).integers(len(fonts), size=count) if len(fonts) > 1 else np.zeros(count, int)
        per_clip = [Path(fonts[i]) for i in choice]
    else:
        per_clip = [Path(font or gm_corpus.FLUID_FONT)] * count
    audio = np.zeros((count, int(round(DURATION_S * SAMPLE_RATE_HZ))), np.float32)
    for each in dict.fromkeys(per_clip):
        index = [i for i, f in enumerate(per_clip) if f == each]
        audio[index] = gm_corpus.render([clips[i] for i in index], sample_rate_hz=SAMPLE_RATE_HZ, duration_s=DURATION_S,
                                        font=each, workers=workers)
    sounds = []
    for clip, samples, each in zip(clips, audio, per_clip):
        if float(np.max(np.abs(samples))) < 1e-3:
            continue
        sounds.append(Sound(samples, gm_attributes(clip, samples), gm_corpus.clip_summary(clip), f"gm:{each.stem}"))
    return sounds


def synth_sounds(rng: np.random.Generator, count: int) -> list[Sound]:
    """``count`` synth corpus sounds drawn with ``rng``, with their attributes."""
    from engine.training import synth

    num_samples = int(round(DURATION_S * SAMPLE_RATE_HZ))
    sounds = []
    for _ in range(count):
        example = synth.random_example(rng, DURATION_S, SAMPLE_RATE_HZ)
        p = example.params
        pitch = p.get("freq_hz") or p.get("root_hz")
        if example.kind == "sweep":
            pitch = float(np.sqrt(p["start_hz"] * p["end_hz"]))
        onsets = 1
        if "rate_per_s" in p and example.kind in ("clicks", "pulse_train", "noise_bursts"):
            onsets = len(synth.event_times(p["rate_per_s"], num_samples, SAMPLE_RATE_HZ, p.get("offset_s", 0.0)))
        attributes = SoundAttributes(SYNTH_KIND_GROUP[example.kind], None if pitch is None else float(pitch), onsets,
                                     rms_db(example.audio))
        sounds.append(Sound(example.audio, attributes, example.captions[0], "synth"))
    return sounds
