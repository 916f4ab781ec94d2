"""The generation settings model (Qt-free): checked fields, change events, model hints, and the
job specs the prompt panel and the edit tools build from it."""

from __future__ import annotations

import pytest

from app.model.generation import GENERIC_SETTINGS, NATIVE_SIZE, GenerationSettings
from engine.models.catalog import STARTER_MODEL_DIR

STARTER = str(STARTER_MODEL_DIR)


def test_changes_are_checked_and_announced_once():
    settings = GenerationSettings(("riffusion", "starter"))
    seen = []
    settings.events.changed.connect(lambda name, value: seen.append((name, value)))
    settings.set(prompt="white noise", steps=12, guidance=5)
    settings.set(steps=12)  # no change, no event
    assert seen == [("prompt", "white noise"), ("steps", 12), ("guidance", 5.0)]
    for bad in ({"preset": "nope"}, {"scheduler": "nope"}, {"size": "huge"}, {"steps": "12"}, {"colour": 1}):
        with pytest.raises(ValueError):
            settings.set(**bad)
    with pytest.raises(ValueError, match="unknown spectrogram preset"):
        settings.set(prompt="kept?", preset="nope")  # nothing of a failed set changes
    assert settings.prompt == "white noise"


def test_specs_use_the_settings_and_overrides_do_not_stick():
    settings = GenerationSettings(model="some/model", prompt="  rain on a tin roof ", steps=7)
    with pytest.raises(ValueError, match="seed is locked"):
        settings.set(seed_locked=True)
        settings.generate_spec()
    settings.set(seed=42)
    spec = settings.generate_spec(size="64x400 (seed 001)", duration_s=4.0)
    assert (spec.prompt, spec.seed, spec.num_inference_steps, spec.height, spec.duration_s) == (
        "rain on a tin roof", 42, 7, 64, 4.0)
    assert (settings.size, settings.duration_s) == (NATIVE_SIZE, GENERIC_SETTINGS["duration_s"])
    edit = settings.edit_kwargs("")
    assert edit["prompt"] == "rain on a tin roof" and edit["seed"] == 42 and edit["model"] == "some/model"
    assert settings.edit_kwargs("thunder")["prompt"] == "thunder"
    settings.set(model="")
    with pytest.raises(ValueError, match="Pick a model"):
        settings.edit_kwargs("x")


def test_model_hints_preset_fields_and_generic_values_come_back():
    settings = GenerationSettings(("riffusion", "starter"), model=STARTER)
    applied = []
    settings.events.model_hints_applied.connect(applied.append)
    hints = settings.apply_model_hints()
    assert hints is not None and hints.starter and applied == [hints]
    assert (settings.preset, settings.duration_s, settings.steps, settings.guidance) == ("starter", 2.56, 20, 5.0)
    settings.set(steps=33)  # the user's own change stays
    settings.set(model="someone/else")
    assert settings.apply_model_hints() is None
    assert (settings.preset, settings.duration_s, settings.guidance) == ("riffusion", 5.12, 7.0)
    assert settings.steps == 33


def test_the_starter_model_turns_the_upsampler_on_and_the_user_can_turn_it_off():
    from app.model.generation import upsampler_for

    settings = GenerationSettings(model="builtin:starter", prompt="white noise")
    settings.apply_model_hints()
    assert settings.upsampler == "builtin:upsampler" == upsampler_for(settings)
    assert settings.generate_spec().upsampler == "builtin:upsampler"
    settings.set(model="riffusion/riffusion-model-v1")
    settings.apply_model_hints()
    assert settings.upsampler == ""  # Riffusion recommends none
    settings.set(model="builtin:starter")
    settings.apply_model_hints()
    settings.set(upsampler="")  # the user switches it off
    assert settings.generate_spec().upsampler == ""
