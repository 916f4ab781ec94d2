"""The shipped starter model follows its prompts, through the real pipeline.

Prompt -> CLIP text encoder -> UNet (DPM++ 2M Karras, 20 steps) -> VAE -> Riffusion image ->
Griffin-Lim audio, via engine.api.Engine and GenerateJob(model=<starter folder>), then the
audio is measured (engine.training.starter_metrics): a 440 Hz tone's pitch, white noise's
flatness, a click track's rate, a sweep's direction.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from transformers import CLIPTokenizer

from engine.api import Engine, EngineSettings, GenerateJob
from engine.audio import spectrogram
from engine.audio.spectrogram import SpectrogramParams
from engine.models.catalog import STARTER_MODEL_DIR
from engine.training import starter_metrics as metrics
from engine.training import synth
from engine.training.train_starter import (
    DURATION_S,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    METADATA_FILE,
    SPECTROGRAM_FILE,
    STARTER_DESCRIPTION,
    STARTER_SPECTROGRAM,
)

PRESET = "starter"
STEPS = 20


def starter_params() -> SpectrogramParams:
    return SpectrogramParams.from_dict(json.loads((STARTER_MODEL_DIR / SPECTROGRAM_FILE).read_text()))


@pytest.fixture(scope="module")
def metadata():
    return json.loads((STARTER_MODEL_DIR / METADATA_FILE).read_text())


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """An offline CPU engine (the model is a local folder: no hub access)."""
    eng = Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path_factory.mktemp("hub"))))
    yield eng
    eng.shutdown()


@pytest.fixture(scope="module")
def generate(engine, metadata):
    guidance = metadata["recommended"]["guidance_scale"]

    def run(prompt: str, seed: int) -> tuple[np.ndarray, int]:
        job = GenerateJob(
            prompt=prompt,
            seed=seed,
            model=str(STARTER_MODEL_DIR),
            spectrogram_preset=PRESET,
            duration_s=DURATION_S,
            num_inference_steps=STEPS,
            guidance_scale=guidance,
        )
        (result,) = engine.run(job, timeout_s=300)
        assert result.image.size == (IMAGE_WIDTH, IMAGE_HEIGHT)
        return result.audio, result.sample_rate_hz

    return run


def check(prompt: str):
    return next(c for c in metrics.PROMPT_CHECKS if c.prompt == prompt)


def pass_rate(generate, prompt: str, seeds) -> tuple[float, list[float]]:
    report = metrics.evaluate(generate, [check(prompt)], seeds)[prompt]
    return report["pass_rate"], report["values"]


def test_the_folder_is_a_small_safetensors_diffusers_model_labelled_as_a_starter(metadata):
    index = json.loads((STARTER_MODEL_DIR / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    files = [p for p in STARTER_MODEL_DIR.rglob("*") if p.is_file()]
    weights = [p for p in files if p.suffix in (".safetensors", ".bin", ".ckpt", ".pt")]
    assert weights and all(p.suffix == ".safetensors" for p in weights)
    assert sum(p.stat().st_size for p in files) < 20e6
    assert metadata["starter"] is True and metadata["description"] == STARTER_DESCRIPTION
    assert "synthetic sounds only" in metadata["title"]
    assert (metadata["height"], metadata["width"]) == (IMAGE_HEIGHT, IMAGE_WIDTH)
    # The spectrogram the model was trained on; the app's "starter" preset must be the same.
    assert starter_params().to_dict() == SpectrogramParams(**STARTER_SPECTROGRAM).to_dict()
    assert spectrogram.PRESETS[PRESET] == starter_params()
    assert metadata["spectrogram_preset"] == PRESET


def test_every_caption_word_is_one_token_of_the_shipped_tokenizer():
    tokenizer = CLIPTokenizer.from_pretrained(STARTER_MODEL_DIR / "tokenizer")
    ids = tokenizer("a sine tone at 440 Hz").input_ids
    assert tokenizer.convert_ids_to_tokens(ids)[1:-1] == ["a</w>", "sine</w>", "tone</w>", "at</w>", "4</w>", "4</w>", "0</w>", "hz</w>"]
    words = {w for caption in synth.caption_vocabulary() for w in re.findall(r"[a-z]+", caption.lower())}
    assert {"sine", "clicks", "sweep", "plucked", "noise", "tremolo"} <= words
    for word in sorted(words):
        assert len(tokenizer(word).input_ids) == 3, word  # <start> word <end>


#: Seeds for the pitch check: the issue asks for "at least 80% of seeds", so enough of them that
#: one lucky or unlucky seed moves the rate by little (the shipped model: 30 of 30).
PITCH_SEEDS = range(30)


def test_a_440_hz_tone_prompt_gives_440_hz_within_a_semitone_for_80_percent_of_seeds(generate):
    rate, values = pass_rate(generate, "a sine tone at 440 Hz", PITCH_SEEDS)
    assert rate >= 0.8, values
    assert metrics.semitones_between(float(np.median(values)), 440.0) <= 1.0, values


#: Every third semitone from A3 to A6. Below ~200 Hz a mel row of the starter spectrogram is wider
#: than a semitone and tones come out flat (bench/bench_starter_model.py --pitches measures it).
RANGE_NOTES = synth.named_notes("A3", "A6")[::3]


def test_tone_prompts_hold_their_pitch_across_the_range(generate):
    """Not just 440 Hz: "a sine tone at <f> Hz" for 13 pitches over three octaves, each within a
    semitone for most seeds (the shipped model: all 39 clips; over seeds 0-9, 129 of 130)."""
    misses = []
    for note in RANGE_NOTES:
        check = metrics.tone_check(synth.note_to_hz(note))
        measured = [check.measure(*generate(check.prompt, seed)) for seed in range(3)]
        misses += [(check.prompt, round(hz)) for hz in measured if not check.passes(hz)]
        assert sum(check.passes(hz) for hz in measured) >= 2, (check.prompt, measured)
    assert len(misses) <= 0.1 * 3 * len(RANGE_NOTES), misses


def test_white_noise_is_flat_and_a_tone_is_not(generate):
    rate, noise = pass_rate(generate, "white noise", range(5))
    assert rate >= 0.8, noise
    tone = [metrics.spectral_flatness(*generate("a sine tone at 440 Hz", seed)) for seed in range(3)]
    assert np.median(noise) > 10 * np.median(tone), (noise, tone)


def test_clicks_at_4_per_second_come_at_4_per_second(generate):
    rate, values = pass_rate(generate, "clicks at 4 per second", range(5))
    assert rate >= 0.8, values


def test_a_rising_sweep_rises_and_a_falling_sweep_falls(generate):
    rate, values = pass_rate(generate, "a rising sweep", range(5))
    assert rate >= 0.8, values
    falling = [metrics.centroid_slope_octaves_per_s(*generate("a falling sweep", seed)) for seed in range(3)]
    assert np.median(falling) < -0.2, falling
