"""Starter model 2 (resources/models/starter2, issue 15), through the real pipeline.

The shipped preview model: General MIDI instruments, drums and sound effects rendered from
FluidR3 plus the synthetic sounds. Prompts here are in phrasings its training never saw
(engine.training.captions.HELD_OUT_TEMPLATES); what is asserted is what a user hears at once: a
drum beat has hits at the asked tempo and a held piano note has none, a named pitch is the pitch
heard, the seashore is noise, a bird tweet is high. bench/bench_starter_prompts.py measures
pitch, tempo and instrument identity against the issue's targets.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.api import Engine, EngineSettings, GenerateJob
from engine.audio.params import PRESETS, SpectrogramParams
from engine.models.catalog import builtin_model_dir, shipped_model_ids
from engine.training import captions
from engine.training import starter_metrics as metrics
from engine.training import train_starter2 as t2

MODEL = "builtin:starter2"
SEEDS = range(3)


@pytest.fixture(scope="module")
def folder():
    return builtin_model_dir(MODEL)


@pytest.fixture(scope="module")
def card(folder):
    return json.loads((folder / "starter.json").read_text())


@pytest.fixture(scope="module")
def generate(tmp_path_factory, card):
    engine = Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path_factory.mktemp("hub"))))
    recommended = card["recommended"]

    def run(prompt: str, seed: int) -> tuple[np.ndarray, int]:
        job = GenerateJob(prompt=prompt, seed=seed, model=MODEL, spectrogram_preset=card["spectrogram_preset"],
                          duration_s=card["duration_s"], num_inference_steps=recommended["num_inference_steps"],
                          guidance_scale=recommended["guidance_scale"])  # fmt: skip
        (result,) = engine.run(job, timeout_s=300)
        assert result.image.size == (card["width"], card["height"]) == (128, 160)
        return result.audio, result.sample_rate_hz

    yield run
    engine.shutdown()


def measured(generate, prompt: str, measure) -> list[float]:
    return [float(measure(*generate(prompt, seed))) for seed in SEEDS]


def test_it_ships_as_a_small_safetensors_model_in_its_own_160_row_spectrogram(folder, card):
    assert MODEL in shipped_model_ids()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert all(p.suffix == ".safetensors" for p in files if p.suffix in (".safetensors", ".bin", ".ckpt", ".pt"))
    assert sum(p.stat().st_size for p in files) < 30e6  # issue 15: at most 30 MB in the repository
    assert (card["title"], card["description"], card["spectrogram_preset"]) == (t2.TITLE, t2.DESCRIPTION, t2.PRESET)
    params = SpectrogramParams(**json.loads((folder / "spectrogram.json").read_text()))
    assert params == PRESETS["starter2"] and params.num_frequencies == card["height"] == 160
    # The card says what it knows, for the Sound Classes browser and the prompt panel.
    assert {"Piano", "Drum kit", "Applause", "Helicopter", "Bird vocalization, bird call, bird song"} <= set(card["audioset_classes"])
    assert set(card["audioset_classes"]) <= set(captions.AUDIOSET_CLASSES)
    assert card["training"]["script"] == "python -m engine.training.train_starter2"


def test_the_drum_prompt_used_here_is_a_phrasing_training_never_saw():
    beat = {"kind": "beat", "pattern": "rock", "kit": 0, "tempo_bpm": 120, "loudness": "medium", "family": "drums"}
    assert "drums, 120 bpm" not in {c.lower() for c in captions.all_captions(beat, "training")}


def test_the_pitch_and_tempo_prompts_used_here_are_phrasings_training_never_saw():
    for prompt, hz in (("a tone of 1319 hertz", 1319), ("sine at 110 hertz", 110)):
        tone = {"kind": "tone", "source": "synth", "hz": hz, "note": None}
        assert prompt not in {c.lower() for c in captions.all_captions(tone, "training")}
    for prompt, bpm in BEAT_PROMPTS:
        beat = {"kind": "beat", "pattern": "rock", "kit": 0, "tempo_bpm": bpm, "loudness": "medium", "family": "drums"}
        assert prompt.lower() not in {c.lower() for c in captions.all_captions(beat, "training")}


def test_a_named_pitch_comes_out_within_a_semitone(generate):
    """The hint UNet draws the named pitch's row (the earlier model missed 1319 Hz by 2.8
    semitones for every seed, and low tones by 1-2)."""
    for prompt, hz in (("a tone of 1319 hertz", 1319.0), ("sine at 110 hertz", 110.0)):
        semitones = [12 * np.log2(f / hz) for f in measured(generate, prompt, metrics.dominant_frequency_hz)]
        assert max(abs(x) for x in semitones) <= 1.0, (prompt, semitones)


BEAT_PROMPTS = (("90 BPM rock beat on a standard kit", 90), ("a rock beat, 100 beats per minute", 100),
                ("a rock beat, 140 beats per minute", 140))  # fmt: skip


def test_a_drum_beat_keeps_the_asked_tempo(generate):
    """Within 5% of the asked tempo for at least eight of nine clips, slow to fast (the model
    before the hints: one in four over the bench's beats)."""
    errors = [bpm / b - 1 for prompt, b in BEAT_PROMPTS for bpm in measured(generate, prompt, metrics.tempo_bpm)]
    assert sum(abs(e) <= 0.05 for e in errors) >= 8, np.round(errors, 3)


def test_a_drum_beat_has_hits_and_a_held_piano_note_has_none(generate):
    drums = measured(generate, "drums, 120 bpm", metrics.onset_rate_per_s)
    assert min(drums) >= 2.0, drums
    # A held note over ten seeds, not three: both the shipped model and the one before it repeat
    # the note (2-10 onsets a second) for one seed in ten on this prompt, each at another seed.
    piano = [float(metrics.onset_rate_per_s(*generate("C4 from a grand piano", seed))) for seed in range(10)]
    assert sum(rate <= 1.0 for rate in piano) >= 8, piano


def test_sound_effects_sound_like_themselves(generate):
    seashore = measured(generate, "seashore, sound effect", metrics.spectral_flatness)
    piano = measured(generate, "C4 from a grand piano", metrics.spectral_flatness)
    assert min(seashore) >= 0.4 and max(piano) <= 0.2, (seashore, piano)  # waves are noise, a piano note is not
    bird = measured(generate, "sound effect of a bird tweet", metrics.dominant_frequency_hz)
    assert min(bird) >= 2000, bird  # a tweet is high


def test_the_sound_classes_browser_reads_what_it_knows_from_its_card():
    """Issue 15 part 4 on the real card: the classes it was trained on are known (the browser marks
    them), a class it never heard is not (the browser warns and names a real model)."""
    from engine.audioset import model_classes

    classes = model_classes(MODEL)
    assert {"Piano", "Drum kit", "Helicopter", "Applause", "Ocean"} <= set(classes.known)
    assert len(classes.known) == 73 and "Shout" not in classes.known


def test_an_instruments_tone_colour_survives_the_models_decoder(folder):
    """Every clip the model makes is drawn by its VAE decoder. FluidR3 notes of the identity
    bench's five instruments at G4 and D4, through the shipped VAE (encode, decode, Griffin-Lim),
    keep their spectrum's shape within 6 dB per band on average (the decoder before the wider one:
    7.6 dB, and the identity classifier named only 60% of such notes right; now 90%,
    bench/bench_starter_decoder.py)."""
    import torch
    from PIL import Image

    from engine.audio import spectrogram
    from engine.training import gm_corpus
    from engine.training import train_starter as ts

    if not gm_corpus.FLUID_FONT.is_file():
        pytest.skip(f"needs apt packages {gm_corpus.APT_PACKAGES}")
    params = SpectrogramParams(**json.loads((folder / "spectrogram.json").read_text()))
    vae = ts._reused_vae(folder, t2.STARTER2_RECIPE)
    rng = np.random.default_rng(0)
    clips = [gm_corpus.random_note(rng, p, key) for key in (67, 62) for p in metrics.IDENTITY_INSTRUMENTS]
    images = np.stack([ts.image_array(a, params, 128) for a in gm_corpus.render(clips, sample_rate_hz=params.sample_rate, duration_s=2.56)])
    _, decoded = ts.reconstruct(vae, images)
    decoded = ((decoded.mean(dim=1).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()

    def profile(image: np.ndarray) -> np.ndarray:  # mean log-mel band levels in dB, relative to the loudest
        picture = Image.fromarray(np.repeat(image[..., None], 3, axis=2))
        audio, _ = spectrogram.audio_from_image(picture, params, generator=torch.Generator().manual_seed(0))
        return 20.0 * metrics.timbre_features(audio[0], params.sample_rate)[:40]

    errors_db = [float(np.sqrt(np.mean((profile(b) - profile(a)) ** 2))) for a, b in zip(images, decoded)]
    assert np.mean(errors_db) <= 6.0, np.round(errors_db, 1)
