"""Recipes written before the task registry (format 1) load, migrate and regenerate the same audio.

``tests/assets/golden`` holds, per task, a recipe exactly as the old code stored it and the
sha256 plus 256 samples of the audio it made (see its README). Each is read with today's
``Recipe.from_json``, turned back into a job by ``engine.api.spec_from_recipe`` (with the recorded
input clip where the task needs one) and run on the tiny model: the audio must be the same. On the
machine that recorded them (same CPU, torch kernels, torch and numpy) it must be bit-identical;
elsewhere the float rounding of another CPU's kernels is allowed (tests/assets/golden_check.py).
They were recorded with one torch thread (another thread count sums in another order), so they
run with one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from assets.golden_check import assert_close_to_golden, assert_facts_match, same_machine
from assets.make_tiny_sd import TINY_SD_DIR

from engine.api import AudioInput, Engine, EngineSettings, Recipe, spec_from_recipe
from engine.audio.io import read_audio
from engine.models.catalog import STARTER_MODEL_ID

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "assets" / "golden"
GOLDEN = json.loads((GOLDEN_DIR / "golden.json").read_text())
CASES = GOLDEN["cases"]


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one CPU thread, as when the golden outputs were recorded (restored afterwards)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def engine(one_thread):
    eng = Engine(EngineSettings(device="cpu", offline=True))
    yield eng
    eng.shutdown()


@pytest.fixture(scope="module")
def clip():
    audio, rate = read_audio(GOLDEN_DIR / "input.wav")
    return AudioInput(audio, rate)


def golden_recipe(name: str) -> Recipe:
    return Recipe.from_json(CASES[name]["recipe"])


def test_old_recipes_migrate_to_the_new_layout():
    old = json.loads(CASES["inpaint"]["recipe"])
    recipe = golden_recipe("inpaint")
    assert (recipe.task, recipe.seed, recipe.format) == ("inpaint", 7, 2)
    assert recipe.params["prompt"] == "train horn" and recipe.params["fmin_hz"] == 200.0
    assert recipe.params["height"] == 64 and recipe.vocoder == "griffin-lim"
    assert recipe.inputs["audio"] == {"sha256": old["extra"]["input_sha256"], "shape": [2, 44100],
                                      "sample_rate_hz": 44100}
    assert recipe.facts["tiles"] == old["extra"]["tiles"] and recipe.facts["spectrogram"] == old["spectrogram"]
    # Old task names are read as today's; the shipped model's install path becomes portable.
    assert golden_recipe("generate_1").task == "generate" and golden_recipe("vary_2").task == "vary"
    assert json.loads(CASES["generate_starter"]["recipe"])["model_id"].endswith("resources/models/starter")
    assert golden_recipe("generate_starter").model_id == STARTER_MODEL_ID
    assert golden_recipe("generate_1").params["duration_s"] == pytest.approx(0.64)
    # A migrated recipe round-trips through today's JSON unchanged.
    for name in CASES:
        recipe = golden_recipe(name)
        assert Recipe.from_json(recipe.to_json()) == recipe


@pytest.mark.parametrize("name", sorted(CASES))
def test_old_recipes_regenerate_the_same_audio(engine, clip, name):
    case = CASES[name]
    recipe = golden_recipe(name)
    inputs = {"audio": clip} if recipe.inputs else None
    spec = spec_from_recipe(recipe, inputs)
    if recipe.model_id != STARTER_MODEL_ID:  # recorded in another checkout: use this one's tiny model
        spec = replace(spec, model=str(TINY_SD_DIR))
    (result,) = engine.run(spec, timeout_s=600)

    audio = np.ascontiguousarray(result.audio, dtype=np.float32)
    assert list(audio.shape) == case["shape"] and result.sample_rate_hz == case["sample_rate_hz"]
    samples = audio[:, case["sample_index"]]
    assert_close_to_golden(samples, np.asarray(case["samples"], dtype=np.float32), GOLDEN)
    if same_machine(GOLDEN):
        assert hashlib.sha256(audio.tobytes()).hexdigest() == case["sha256"], "not bit-identical on this machine"
    new = result.recipe
    assert (new.task, new.seed, new.params) == (recipe.task, recipe.seed, recipe.params)
    assert new.inputs == recipe.inputs
    assert_facts_match(new.facts, recipe.facts, GOLDEN)
