"""Train starter model 2: real instruments, drums and sound effects, and the synthesized sounds.

    python -m engine.training.train_starter2 --out resources/models/starter

The same stages and model family as :mod:`engine.training.train_starter` (VAE, latents, caption
probe, UNet with the text encoder, decoder), on different data:

* General MIDI clips (:mod:`engine.training.gm_corpus`) rendered from Debian's FluidR3 sound font
  with fluidsynth as the run starts: the 119 pitched instruments across their ranges with
  dynamics and note lengths, chords and arpeggios, drum beats at named tempos, single drum hits
  and the GM sound effects. Seeded, rendered in ``render_workers`` fluidsynth processes.
* The synthesized sounds of the first starter model (:mod:`engine.training.synth`).
* Captions the way people write them (:mod:`engine.training.captions`): several per sound,
  never in the held-out phrasings, with seed 001's AudioSet prompts for the classes the sounds
  belong to. The caption probe reads pitch, rate, sweep ends and tempo, and the kind of sound,
  the instrument (GM program) and its family.

The run is deterministic for a given seed, thread count, worker count and machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.params import get_preset
from engine.specs import Progress
from engine.training import captions, gm_corpus, synth
from engine.training import train_starter as ts

DEFAULT_OUT_DIR = ts.REPO_ROOT / "resources" / "models" / "starter2"

#: Starter model 2's spectrogram (Riffusion's SpectrogramParams fields): the 'starter2' preset of
#: engine.audio.params. The first starter's 22.05 kHz, 0-4 kHz, 100 ms windows and 20 ms columns
#: (2.56 s per 128 px), with 160 mel rows instead of 128. bench/bench_starter_spectrogram.py, sine
#: tones through the image, a VAE trained on each spectrogram (1000 steps) and Griffin-Lim: over
#: 82-250 Hz the mean absolute error falls from 0.5 semitone (128 rows; up to 1.0) to 0.2 (160
#: rows; up to 0.5), for 1.25x the pixels. Longer windows also sharpen low tones but smear drum
#: hits (150 ms: onsets 53 ms off after inversion, against 7 ms at 100 ms), and a lower top
#: (3 kHz) gained nothing.
PRESET = "starter2"
STARTER2_SPECTROGRAM: dict[str, Any] = {
    key: value for key, value in get_preset(PRESET).to_dict().items() if key != "stereo"
}
IMAGE_WIDTH = 128
TITLE = "Starter model 2 (instruments, drums, effects; preview)"
#: What the model makes, then how well (bench/bench_starter_prompts.py) and where to go for more.
DESCRIPTION = (
    "Instruments, drums and sound effects (General MIDI) and synthetic sounds, 2.56 s at a time, "
    "trained offline. A preview: it plays named pitches and tempos and most instruments as asked, "
    "but brass and guitars can come out as another instrument. For recordings and music, download "
    "a real model."
)
#: Clips rendered per fluidsynth call (memory: 512 x 2.56 s of float32 audio is 115 MB).
RENDER_BATCH = 512
#: A rendered clip quieter than this peak is dropped (a few GM drum keys are empty in some kits).
SILENT_PEAK = 1e-4


@dataclass(frozen=True)
class Train2Config(ts.TrainConfig):
    """:class:`engine.training.train_starter.TrainConfig` plus the new data and model width.
    ``num_examples`` counts the synthesized sounds, ``num_gm_examples`` the rendered clips."""

    num_examples: int = 6000
    num_gm_examples: int = 14000
    captions_per_example: int = 6
    render_workers: int = 2
    #: Channels of the UNet's first level (the others have twice as many).
    unet_width: int = 32
    #: A learned embedding per latent frequency row added after the UNet's first convolution
    #: (engine.models.frequency_unet): the row is the pitch, and a convolution alone only knows
    #: it from the zero padding at the borders.
    frequency_embedding: bool = False
    #: A UNet that draws the prompt's pitch contour and beat as hint maps (engine.models.hint_unet),
    #: shown the true ones in training; its caption reader then learns them in ``reader_steps``
    #: (README: held-out tones within a semitone 92% against 38% without).
    hints: bool = True
    reader_steps: int = 3000
    #: The strength at which the saved hint UNet draws the beat's pulse maps when sampling
    #: (engine.models.hint_unet; training always shows the true maps): 1.5 kept held-out beats
    #: within 5% of the tempo for 12 of 12 clips against 9 of 12 at 1 (README).
    hint_pulse_strength: float = 1.5
    #: Half the pure tones at any whole Hz and beats and arpeggios at any whole BPM
    #: (synth.random_example's any_hz, gm_corpus.random_clip's any_tempo), so the captions teach
    #: the text encoder to read numbers rather than recall a few (bench/bench_starter_text.py).
    any_numbers: bool = True
    # The shipped model's text recipe (bench/bench_starter_text.py: held-out tone prompts read
    # within a semitone 91%, against 35% with the first run's 1500 steps and no dropout).
    text_pretrain_steps: int = 5000
    text_word_dropout: float = 0.25
    #: A decoder wider than the encoder (engine.models.decoder_vae), trained from scratch on the
    #: frozen encoder's latents after the UNet: FluidR3 notes through the VAE named right 90%
    #: against 60% with the encoder's own widths (bench/bench_starter_decoder.py).
    decoder_widths: str = "16,32,64,64"
    decoder_steps: int = 4000


def duration_s() -> float:
    return IMAGE_WIDTH * STARTER2_SPECTROGRAM["step_size_ms"] / 1000.0


class _CaptionTable:
    """Unique captions with what each names; a caption that two sounds would give different
    facts (e.g. "a spectrogram of the sound of Piano" for a note and for a chord) keeps only
    what they agree on (numbers NaN, classes -100 otherwise)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.facts: list[np.ndarray] = []
        self.classes: list[list[int]] = []

    def add(self, caption: captions.Caption, attributes: dict[str, Any]) -> int:
        values, kind, program, family = captions.caption_facts(caption, attributes)
        index = self.ids.get(caption.text)
        if index is None:
            index = self.ids[caption.text] = len(self.ids)
            self.facts.append(values)
            self.classes.append([kind, program, family])
            return index
        old = self.facts[index]
        agree = np.isclose(old, values, atol=1e-4) | (np.isnan(old) & np.isnan(values))
        self.facts[index] = np.where(agree, old, np.nan).astype(np.float32)
        self.classes[index] = [a if a == b else -100 for a, b in zip(self.classes[index], (kind, program, family))]
        return index


def build_dataset(config: Train2Config) -> Iterator[Progress | ts.Dataset]:
    """Render and synthesize the training sounds, image them and caption them; yields progress
    (stages "synthesize" and "render"), then the :class:`engine.training.train_starter.Dataset`."""
    from engine.audio.spectrogram import SpectrogramParams

    params = SpectrogramParams(**STARTER2_SPECTROGRAM)
    rate, seconds = params.sample_rate, duration_s()
    total = config.num_examples + config.num_gm_examples
    images = np.empty((total, params.num_frequencies, IMAGE_WIDTH), dtype=np.uint8)
    table = _CaptionTable()
    caption_index: list[tuple[int, ...]] = []
    kinds: list[str] = []
    caption_rng = np.random.default_rng([config.seed, 2])

    onsets = np.full(total, np.nan, dtype=np.float32)

    def add(i: int, audio: np.ndarray, attributes: dict[str, Any], onset_s: float = np.nan) -> None:
        images[i] = ts.image_array(audio, params, IMAGE_WIDTH)
        onsets[i] = onset_s
        chosen = captions.captions_for(attributes, caption_rng, config.captions_per_example)
        caption_index.append(tuple(table.add(c, attributes) for c in chosen))
        kinds.append(attributes["kind"])

    synth_rng = np.random.default_rng(config.seed)
    for i in range(config.num_examples):
        example = synth.random_example(synth_rng, seconds, rate, any_hz=config.any_numbers)
        add(i, example.audio, captions.synth_attributes(example), example.params.get("offset_s", np.nan))
        if i % 500 == 0 or i == config.num_examples - 1:
            yield Progress("synthesize", i + 1, config.num_examples, f"synthesized {i + 1}/{config.num_examples} sounds")

    clip_rng = np.random.default_rng([config.seed, 1])
    done = dropped = 0
    started = time.monotonic()
    while done < config.num_gm_examples:
        count = min(RENDER_BATCH, config.num_gm_examples - done)
        clips = [gm_corpus.random_clip(clip_rng, any_tempo=config.any_numbers) for _ in range(count)]
        audio = gm_corpus.render(clips, sample_rate_hz=rate, duration_s=seconds, workers=config.render_workers)
        for clip, x in zip(clips, audio):
            if np.abs(x).max() < SILENT_PEAK:
                dropped += 1
                continue
            add(config.num_examples + done, x, clip.attributes, periodic_onset_s(clip))
            done += 1
        per_s = done / max(time.monotonic() - started, 1e-9)
        yield Progress("render", done, config.num_gm_examples, f"rendered {done}/{config.num_gm_examples} clips ({per_s:.0f}/s with imaging, {dropped} silent dropped)")

    yield ts.Dataset(
        images,
        tuple(table.ids),
        tuple(caption_index),
        tuple(kinds),
        np.array(table.facts, dtype=np.float32).reshape(-1, len(captions.NUMERIC_FACTS)),
        np.array(table.classes, dtype=np.int64).reshape(-1, 3),
        (len(captions.SOUND_KINDS), 128, len(captions.PROBE_FAMILIES)),
        onsets,
    )


def periodic_onset_s(clip: gm_corpus.GMClip) -> float:
    """The first note's time of a clip whose notes come at its tempo (beats, arpeggios), else NaN."""
    if clip.attributes["kind"] in ("beat", "arpeggio") and clip.notes:
        return min(note.start_s for note in clip.notes)
    return float("nan")


def make_unet(config: Train2Config) -> Any:
    w = config.unet_width
    unet = ts.make_unet(STARTER2_SPECTROGRAM["num_frequencies"] // 8, (w, 2 * w, 2 * w), config.text_hidden_size)
    if config.frequency_embedding and config.hints:
        raise ValueError("`frequency_embedding` and `hints` are two kinds of UNet: choose one.")
    if config.frequency_embedding:
        from engine.models.frequency_unet import with_frequency_embedding

        unet = with_frequency_embedding(unet)
    if config.hints:
        from engine.models.hint_unet import with_hints

        unet = with_hints(
            unet,
            hint_min_hz=float(STARTER2_SPECTROGRAM["min_frequency"]),
            hint_max_hz=float(STARTER2_SPECTROGRAM["max_frequency"]),
            hint_mel_bins=int(STARTER2_SPECTROGRAM["num_frequencies"]),
            hint_column_s=STARTER2_SPECTROGRAM["step_size_ms"] / 1000.0,
            hint_pulse_strength=config.hint_pulse_strength,
        )
    return unet


EXAMPLE_PROMPTS = (
    "a grand piano playing middle C",
    "a violin note at G4",
    "a rock beat at 120 BPM",
    "a snare drum hit",
    "ocean waves",
    "a bird tweeting",
    "an A minor chord on acoustic guitar",
    "a sine tone at 440 Hz",
)


def metadata(config: Train2Config, losses: dict[str, float], seconds: float) -> dict[str, Any]:
    from engine.audio.spectrogram import SpectrogramParams

    height = SpectrogramParams(**STARTER2_SPECTROGRAM).num_frequencies
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "starter": True,
        "kind": "text-to-spectrogram (General MIDI instruments, drums, effects; synthetic sounds)",
        "height": height,
        "width": IMAGE_WIDTH,
        "duration_s": duration_s(),
        "spectrogram_preset": PRESET,
        "spectrogram_file": ts.SPECTROGRAM_FILE,
        # lora_steps: the cpu-starter LoRA preset's steps for this model (bench_lora_starter: 92% of held-out
        # seeds at 1200 steps, 78% at 900).
        "recommended": {"num_inference_steps": 20, "guidance_scale": 5.0, "scheduler": "dpm++2m-karras",
                        "upsampler": "builtin:upsampler", "lora_steps": {"cpu-starter": 1200}},
        "sound_families": list(captions.SOUND_KINDS),
        "audioset_classes": sorted(captions.AUDIOSET_CLASSES),
        "example_prompts": list(EXAMPLE_PROMPTS),
        "training": {
            "script": "python -m engine.training.train_starter2",
            "config": asdict(config),
            "final_loss": losses,
            "seconds": round(seconds, 1),
        },
    }


STARTER2_RECIPE = ts.Recipe(
    spectrogram=STARTER2_SPECTROGRAM,
    width=IMAGE_WIDTH,
    dataset=build_dataset,
    tokenizer_corpus=captions.vocabulary_texts,
    make_unet=make_unet,
    metadata=metadata,
)


def train(
    config: Train2Config, out_dir: Path, vae_from: Path | None = None, init_from: Path | None = None
) -> Iterator[Progress]:
    """Train starter model 2 with ``config`` into ``out_dir`` (see the module docstring;
    ``vae_from`` and ``init_from`` as :func:`engine.training.train_starter.train`)."""
    yield from ts.train(config, out_dir, STARTER2_RECIPE, vae_from, init_from)


def main(argv: list[str] | None = None) -> int:
    return ts.run_main(argv, Train2Config(), STARTER2_RECIPE, __doc__.splitlines()[0], DEFAULT_OUT_DIR)


if __name__ == "__main__":
    sys.exit(main())
