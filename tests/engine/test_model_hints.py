"""What a model recommends to the app: the starter model's card, Riffusion's defaults, bad cards."""

from __future__ import annotations

import json

from engine.audio.spectrogram import PRESETS
from engine.models.catalog import (
    DEFAULT_GENERATE_MODEL,
    STARTER_MODEL_DIR,
    is_starter_model,
    model_hints,
)
from engine.api import GenerateJob
from engine.api import SCHEDULER_NAMES


def test_the_starter_card_gives_its_preset_length_and_sampling_settings():
    hints = model_hints(str(STARTER_MODEL_DIR))
    assert hints is not None and hints.starter and is_starter_model(str(STARTER_MODEL_DIR))
    assert "synthetic sounds only" in hints.title and "download a real model" in hints.description
    assert hints.spectrogram_preset == "starter" and hints.spectrogram_preset in PRESETS
    assert hints.duration_s == 2.56 and hints.num_inference_steps == 20 and hints.guidance_scale == 5.0
    assert hints.scheduler in SCHEDULER_NAMES
    assert "a sine tone at 440 Hz" in hints.example_prompts
    # The hints make a valid job of exactly the training resolution (128 columns).
    job = GenerateJob(prompt="white noise", model=str(STARTER_MODEL_DIR), spectrogram_preset=hints.spectrogram_preset,
                         duration_s=hints.duration_s)
    assert round(job.duration_s * 1000 / PRESETS["starter"].step_size_ms) == 128


def test_riffusion_has_its_own_defaults_and_unknown_models_have_none(tmp_path):
    hints = model_hints(DEFAULT_GENERATE_MODEL)
    assert hints.spectrogram_preset == "riffusion" and hints.duration_s == 5.12 and not hints.starter
    assert model_hints("someone/else") is None and model_hints("") is None
    assert model_hints(str(tmp_path)) is None  # a folder without a card
    assert not is_starter_model("someone/else")


def test_a_malformed_card_is_ignored_and_odd_values_are_dropped(tmp_path):
    (tmp_path / "starter.json").write_text("{not json")
    assert model_hints(str(tmp_path)) is None
    (tmp_path / "starter.json").write_text(json.dumps([1, 2]))
    assert model_hints(str(tmp_path)) is None
    (tmp_path / "starter.json").write_text(json.dumps(
        {"title": "Mine", "starter": "yes", "duration_s": "long", "recommended": {"guidance_scale": True, "num_inference_steps": 12}}
    ))
    hints = model_hints(str(tmp_path))
    assert hints.title == "Mine" and not hints.starter and hints.duration_s is None
    assert hints.guidance_scale is None and hints.num_inference_steps == 12


def test_a_card_written_with_old_task_names_cautions_under_the_current_ones(tmp_path):
    from engine.models.catalog import task_caution

    (tmp_path / "starter.json").write_text(json.dumps(
        {"title": "Old card", "cautions": {"text_to_audio": "Only drums.", "variation": "Too noisy.", "loop": "Clicks."}}))
    assert task_caution(str(tmp_path), "generate") == "Only drums."
    assert task_caution(str(tmp_path), "vary") == "Too noisy."
    assert task_caution(str(tmp_path), "loop") == "Clicks."
