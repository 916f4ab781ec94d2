"""A project saved before the task registry (tests/assets/golden/project.sdproj: recipes in the old
flat layout) opens, shows its clips' recipes in the inspector, and each clip regenerates from its
recipe to the audio the project holds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from assets.golden_check import assert_close_to_golden
from assets.make_tiny_sd import TINY_SD_DIR

from app.model.project import Selection
from engine.api import AudioInput, Engine, EngineSettings, spec_from_recipe
from engine.audio.io import read_audio

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "assets" / "golden"


@pytest.fixture
def one_torch_thread():
    """One torch thread, as when the project was made (another thread count sums in another order)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_an_old_project_opens_shows_its_recipes_and_regenerates(qtbot, window, one_torch_thread):
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(GOLDEN_DIR / "project.sdproj"))
    generated, inpainted = window.project.tracks[0].clips
    assert (generated.recipe.task, inpainted.recipe.task) == ("generate", "inpaint")

    window.project.set_selection(Selection(clip_ids=frozenset({inpainted.id})))
    qtbot.waitUntil(lambda: window.inspector.clip is inpainted, timeout=2000)
    shown = window.inspector.values("recipe")
    assert (shown["Task"], shown["Prompt"], shown["Seed"], shown["Steps"]) == ("Inpaint", "train horn", "7", "2")
    assert shown["Size"] == "64 x 64 px" and shown["Lowest frequency"] == "200 Hz"
    window.project.set_selection(Selection(clip_ids=frozenset({generated.id})))
    qtbot.waitUntil(lambda: window.inspector.clip is generated, timeout=2000)
    assert window.inspector.values("recipe")["Prompt"] == "jazz piano"
    assert window.inspector.regenerate_button.isEnabled()

    # Each clip's recipe makes its audio again (the inpaint from the clip it edited).
    source, rate = read_audio(GOLDEN_DIR / "input.wav")
    golden = json.loads((GOLDEN_DIR / "golden.json").read_text())
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        for clip, inputs, case in ((generated, None, "generate_1"),
                                   (inpainted, {"audio": AudioInput(source, rate)}, "inpaint")):
            spec = replace(spec_from_recipe(clip.recipe, inputs), model=str(TINY_SD_DIR))  # recorded elsewhere
            (result,) = engine.run(spec, timeout_s=600)
            assert_close_to_golden(result.audio, clip.audio, golden)
            assert hashlib.sha256(clip.audio.tobytes()).hexdigest() == golden["cases"][case]["sha256"]
