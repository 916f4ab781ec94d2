"""LoRAs from the prompt panel as a user applies them: the library lists the tiny LoRA with its
trigger word and settings, the picker puts it with a weight into every generation's spec and
recipe, the output differs from the base model's, Regenerate reapplies it bit-identically, and a
LoRA trained for another base model is flagged."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QToolButton
from test_prompt_and_jobs import click_generate_and_wait, fill_prompt

from app.model.generation import GenerationSettings
from app.model.project import Selection
from app.widgets.lora_picker import WARNING_MARK, QtLoraPicker


@pytest.fixture
def library(tiny_lora, tmp_path, monkeypatch):
    """A data dir whose library folder holds the tiny LoRA: its path in the library."""
    monkeypatch.setenv("SPECDIFF_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "data" / "loras"
    folder.mkdir(parents=True)
    return str(shutil.copy(tiny_lora[0], folder / "zorb.safetensors"))


def menu_actions(picker):
    return {a.text(): a for a in picker.menu.actions()}


def test_the_picker_lists_the_library_and_binds_weights_to_the_settings(qtbot, library, tiny_model, tmp_path):
    settings = GenerationSettings(model=tiny_model)
    picker = QtLoraPicker(settings)
    picker.cache_dir = str(tmp_path / "empty-hub")
    qtbot.addWidget(picker)
    picker.menu.aboutToShow.emit()  # opening the menu scans once, off the GUI thread
    with qtbot.waitSignal(picker.library_scanned, timeout=10000):
        pass
    picker.wait_for_scan()
    (entry,) = picker.entries
    assert entry.trigger_words == ("zorb",) and (entry.rank, entry.alpha) == (2, 4.0)
    action = menu_actions(picker)["zorb"]
    assert "trigger zorb" in action.toolTip() and "rank 2, alpha 4" in action.toolTip()
    action.trigger()
    assert settings.loras == ((library, 1.0),) and picker.row_refs() == [library]
    assert picker.trigger_label.isVisibleTo(picker) and "'zorb'" in picker.trigger_label.text()
    settings.set(prompt="zorb, a low hum")
    assert picker.trigger_label.isHidden()  # the prompt has the trigger word
    assert not menu_actions(picker)["zorb"].isEnabled()  # applied once only
    picker._row_widgets[0].findChild(QDoubleSpinBox).setValue(0.6)
    assert settings.loras == ((library, 0.6),)
    assert settings.edit_kwargs()["loras"] == ((library, 0.6),)  # every edit job gets them too
    assert picker.warning_label.isHidden()
    # Another base model: the row and the menu flag it, with a one-line reason.
    settings.set(model="builtin:starter")
    assert picker.warning_label.isVisibleTo(picker) and "was trained for" in picker.warning_label.text()
    assert WARNING_MARK + "zorb" in menu_actions(picker)
    settings.set(model=tiny_model)
    assert picker.warning_label.isHidden()
    # A file that is not a LoRA is refused with a message; nothing is applied.
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nope")
    assert not picker.add(str(bad)) and "not a LoRA" in picker.warning_label.text()
    picker._row_widgets[0].findChild(QToolButton).click()
    assert settings.loras == () and picker.row_refs() == []
    # A LoRA from elsewhere copied into the library: applied and listed after the rescan.
    elsewhere = tmp_path / "elsewhere" / "zorb.safetensors"
    elsewhere.parent.mkdir()
    shutil.copy(library, elsewhere)
    with qtbot.waitSignal(picker.library_scanned, timeout=10000):
        entry = picker.import_file(str(elsewhere))
    picker.wait_for_scan()
    assert entry.path.endswith("zorb-2.safetensors") and settings.loras == ((entry.ref, 1.0),)
    assert sorted(e.name for e in picker.entries) == ["zorb", "zorb-2"]
    assert picker.import_file(str(bad)) is None and "not a .safetensors file" in picker.warning_label.text()


def test_a_generation_carries_its_loras_and_regenerate_reapplies_them(qtbot, window, library, tiny_model):
    from engine.api import spec_from_recipe

    project = window.project
    panel = window.prompt_panel
    fill_prompt(panel, tiny_model, prompt="zorb, tone 2")
    _, (plain,) = click_generate_and_wait(qtbot, window)
    assert plain.recipe.loras == ()
    panel.lora_picker.add(library, 1.5)
    assert panel.lora_picker.row_refs() == [library]
    _, (with_lora,) = click_generate_and_wait(qtbot, window)
    assert with_lora.recipe.loras == ((library, 1.5),)
    assert with_lora.recipe.seed == plain.recipe.seed
    assert not np.array_equal(with_lora.audio, plain.audio)  # the LoRA changes what the model makes
    assert spec_from_recipe(with_lora.recipe).loras == ((library, 1.5),)
    # The panel forgets the LoRA; Regenerate still reapplies the recorded one.
    panel.lora_picker.remove(library)
    project.set_selection(Selection(clip_ids={with_lora.id}))
    qtbot.waitUntil(lambda: window.inspector.clip is with_lora, timeout=2000)
    with qtbot.waitSignal(window.clips_generated, timeout=120000) as again:
        qtbot.mouseClick(window.inspector.regenerate_button, Qt.MouseButton.LeftButton)
    (regenerated,) = again.args[1]
    assert regenerated.recipe.loras == ((library, 1.5),)
    np.testing.assert_array_equal(regenerated.audio, with_lora.audio)
    # The applied LoRAs survive a restart of the panel's state.
    panel.lora_picker.add(library, 0.5)
    state = panel.state()
    panel.lora_picker.remove(library)
    panel.restore_state(state)
    assert window.generation.loras == ((library, 0.5),)


def test_hub_cache_loras_are_listed_applied_by_repo_id_and_flagged_for_another_model(qtbot, tiny_lora, tiny_model,
                                                                                      tmp_path):
    """LoRAs in the hub cache (blobs and links, as huggingface_hub stores them): the picker lists
    them by repo id, applies that id (what jobs and recipes then carry), and flags one whose file or
    model card names another base model, also when it comes back applied from a recipe."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
    from test_lora_library import cache_repo, kohya_bytes

    cache = tmp_path / "hub"
    cache_repo(cache, "someone/zorb-lora", {"pytorch_lora_weights.safetensors": tiny_lora[0]})
    cache_repo(cache, "artist/style", {"style.safetensors": kohya_bytes(tmp_path, "s.safetensors")},
               card="---\nbase_model: runwayml/stable-diffusion-v1-5\n---\n")
    settings = GenerationSettings(model=tiny_model)
    picker = QtLoraPicker(settings)
    picker.cache_dir, picker.folders = str(cache), [str(tmp_path / "no-library")]
    qtbot.addWidget(picker)
    with qtbot.waitSignal(picker.library_scanned, timeout=10000):
        picker.menu.aboutToShow.emit()
    picker.wait_for_scan()
    assert sorted(e.ref for e in picker.entries) == ["artist/style", "someone/zorb-lora"]
    actions = menu_actions(picker)
    assert "someone/zorb-lora  (hub cache)" in actions
    assert WARNING_MARK + "artist/style  (hub cache)" in actions  # for SD 1.5, not this model
    actions["someone/zorb-lora  (hub cache)"].trigger()
    assert settings.loras == (("someone/zorb-lora", 1.0),) and picker.warning_label.isHidden()
    settings.set(model="builtin:starter")
    assert "was trained for" in picker.warning_label.text()

    # A fresh picker (a recipe's LoRAs applied before any scan) still describes and flags it.
    fresh = QtLoraPicker(GenerationSettings(model="builtin:starter"))
    fresh.cache_dir = str(cache)
    qtbot.addWidget(fresh)
    fresh.settings.set(loras=(("artist/style", 0.7),))
    assert fresh.describe("artist/style").base_model == "runwayml/stable-diffusion-v1-5"
    assert "was trained for runwayml/stable-diffusion-v1-5" in fresh.warning_label.text()
