"""A fresh install with no downloaded model: the app picks the shipped starter model 2, labels it,
presets its settings, and generates a sound that follows the prompt (through the real engine
thread, real text encoder, UNet, VAE, image and inversion); the first starter model stays listed
and works when picked."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.widgets.qt_prompt_panel import NATIVE_SIZE, QtPromptPanel
from engine.models.catalog import STARTER2_MODEL_ID, STARTER_MODEL_ID, model_hints
from engine.training import starter_metrics as metrics

STARTER = STARTER_MODEL_ID
STARTER2 = STARTER2_MODEL_ID


def wait_for_models(qtbot, window):
    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() > 0, timeout=30000)


def generate_at_seed_0(qtbot, window):
    """Click Generate with the seed locked at 0; the one clip that lands."""
    panel = window.prompt_panel
    panel.seed_edit.setText("0")
    panel.seed_lock.setChecked(True)
    with qtbot.waitSignal(window.clips_generated, timeout=240000) as generated:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    _job_id, (clip,) = generated.args
    return clip


def test_first_launch_picks_starter_model_2_with_its_settings_and_says_what_it_is(qtbot, window):
    wait_for_models(qtbot, window)
    panel = window.prompt_panel
    assert panel.model_id() == STARTER2
    assert panel.preset_combo.currentText() == "starter2"
    assert panel.duration_spin.value() == pytest.approx(2.56)
    assert (panel.steps_spin.value(), panel.guidance_spin.value()) == (20, 5.0)
    assert panel.scheduler_combo.currentText() == "dpm++2m-karras"
    assert panel.model_note.isVisible()
    note = panel.model_note.text()
    assert model_hints(STARTER2).title in note and "AudioSet classes" in note and "download a real model" in note
    # The placeholder offers what it does beyond synthetic tones: an instrument at a named note.
    assert "piano playing middle C" in panel.prompt_edit.placeholderText()
    # The default heads the model box; the first starter (synthetic sounds only) is still there.
    combo = panel.model_combo
    assert combo.itemData(0) == STARTER2 and combo.findData(STARTER) > 0
    assert combo.itemText(combo.findData(STARTER)) == model_hints(STARTER).title
    # The note's link opens the model manager.
    panel.model_note.linkActivated.emit("models")
    qtbot.waitUntil(lambda: getattr(window, "model_manager", None) is not None and window.model_manager.isVisible())
    window.model_manager.close()


def test_the_first_example_prompt_on_a_fresh_install_plays_the_note_it_names(qtbot, window):
    """Examples > its first prompt, Generate: a piano at middle C (261.6 Hz) from starter model 2,
    in its own 160-row spectrogram."""
    wait_for_models(qtbot, window)
    panel = window.prompt_panel
    panel.examples_menu.actions()[0].trigger()
    assert panel.prompt_edit.toPlainText() == "a grand piano playing middle C"
    clip = generate_at_seed_0(qtbot, window)
    assert clip.recipe.model_id == STARTER2 and clip.length_s == pytest.approx(2.56, abs=0.03)
    assert clip.spectrogram_preset == "starter2" and clip.image.size == (128, 160)
    pitch = metrics.dominant_frequency_hz(clip.audio, clip.sample_rate_hz)
    assert abs(metrics.semitones_between(pitch, 261.63)) <= 1.0, pitch


def test_a_restored_choice_is_kept_and_picking_another_model_applies_its_hints(qtbot, window, tiny_model):
    wait_for_models(qtbot, window)
    panel = window.prompt_panel
    panel.steps_spin.setValue(33)
    with qtbot.waitSignal(window.client.models_listed, timeout=30000):
        window.refresh_models()  # a later listing keeps the user's fields
    assert panel.steps_spin.value() == 33
    # Picking a model without a card: the starter's own settings go back to the general
    # defaults (its 2.56 s 'starter' spectrogram would not suit it); the user's steps stay.
    panel.set_model(tiny_model)
    panel.apply_model_hints()
    assert panel.steps_spin.value() == 33 and not panel.model_note.isVisible()
    assert panel.preset_combo.currentText() == "riffusion" and panel.duration_spin.value() == pytest.approx(5.12)
    assert panel.guidance_spin.value() == 7.0
    panel.set_model(STARTER)
    panel.apply_model_hints()
    assert panel.steps_spin.value() == 20 and panel.model_note.isVisible()
    assert panel.preset_combo.currentText() == "starter"


def test_seed_001_output_size_sets_rows_and_length(qtbot):
    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    panel.prompt_edit.setPlainText("a spectrogram of the sound of Dog")
    panel.set_model("riffusion/riffusion-model-v1")
    panel.preset_combo.setCurrentText("riffusion")
    panel.set_output_size("64x400 (seed 001)")
    spec = panel.spec()
    assert spec.height == 64 and spec.duration_s == pytest.approx(4.0)
    panel.set_output_size("512x512")
    assert panel.spec().height == 512 and panel.duration_spin.value() == pytest.approx(5.12)
    panel.set_output_size(NATIVE_SIZE)
    assert panel.spec().height is None
    state = panel.state()
    panel.set_output_size("64x400 (seed 001)")
    panel.restore_state(state)
    assert panel.output_size() == NATIVE_SIZE
    with pytest.raises(ValueError, match="unknown output size"):
        panel.set_output_size("huge")
    # A recipe's height comes back as its size.
    panel.set_output_size("64x400 (seed 001)")
    panel.apply_spec(panel.spec())
    assert panel.output_size() == "64x400 (seed 001)"


def test_the_first_starter_picked_by_hand_still_generates_a_rising_sweep(qtbot, window):
    wait_for_models(qtbot, window)
    panel = window.prompt_panel
    panel.set_model(STARTER)  # no longer the default: the user picks it in the model box
    panel.apply_model_hints()
    panel.prompt_edit.setPlainText("a rising sweep")
    clip = generate_at_seed_0(qtbot, window)
    assert clip.recipe.model_id == STARTER and clip.length_s == pytest.approx(2.56, abs=0.03)
    assert clip.spectrogram_preset == "starter" and clip.image.size == (128, 128)
    slope = metrics.centroid_slope_octaves_per_s(clip.audio, clip.sample_rate_hz)
    assert slope > 0.2, slope


def test_a_class_from_the_browser_generates_at_seed_001s_size(qtbot, window, tiny_model):
    """Class browser -> prompt panel -> a real generation at 64 mel rows x 400 columns."""
    wait_for_models(qtbot, window)
    panel = window.prompt_panel
    panel.set_model(tiny_model)
    panel.preset_combo.setCurrentText("riffusion")
    panel.steps_spin.setValue(2)
    browser = window.class_browser
    browser.set_query("dog")
    browser.select_labels(["Bark", "Howl"])
    browser.set_output_size("64x400 (seed 001)")
    before = (panel.output_size(), panel.duration_spin.value())
    with qtbot.waitSignal(window.clips_generated, timeout=120000) as generated:
        qtbot.mouseClick(browser.generate_button, Qt.MouseButton.LeftButton)
    _job_id, (clip,) = generated.args
    prompt = "a mel spectrogram of the sound of multiple overlapping Dogs, including Bark and Howl"
    assert panel.prompt_edit.toPlainText() == prompt and clip.recipe.params["prompt"] == prompt
    assert clip.image.size == (400, 64) and clip.length_s == pytest.approx(4.0, abs=0.02)
    # The browser's size was for that job only: later generations keep the panel's own.
    assert (panel.output_size(), panel.duration_spin.value()) == before
    assert window.generation.generate_spec().height is None
    # "Use prompt" only fills the panel; the browser's choices persist with the window state.
    browser.select_labels(["Dog"])
    qtbot.mouseClick(browser.use_button, Qt.MouseButton.LeftButton)
    assert panel.prompt_edit.toPlainText() == "a spectrogram of the sound of Dog"
    window.save_state()
    assert window.settings.class_browser_state["output_size"] == "64x400 (seed 001)"


def test_a_long_model_name_shows_its_start_in_the_model_box(qtbot, window):
    """Starter model 2's name is longer than the box: picking it shows "Starter model 2 ...", not
    its end cut on the left."""
    wait_for_models(qtbot, window)
    combo = window.prompt_panel.model_combo
    index = combo.findData("builtin:starter2")
    assert index >= 0 and combo.itemText(index).startswith("Starter model 2")
    combo.setCurrentIndex(index)
    assert combo.lineEdit().cursorPosition() == 0 and window.prompt_panel.model_id() == "builtin:starter2"
    window.prompt_panel.set_model(STARTER)
    assert combo.lineEdit().cursorPosition() == 0


def test_a_project_made_with_the_first_starter_reopens_and_regenerates_with_it(qtbot, make_window, make_settings, tmp_path):
    """A project from before starter model 2 was the default: its clip's recipe names
    builtin:starter, and a fresh install regenerates it with that model, sample for sample."""
    from test_regenerate_files import regenerate

    old = make_window(settings_=make_settings("old.ini"))
    wait_for_models(qtbot, old)
    old.prompt_panel.set_model(STARTER)
    old.prompt_panel.apply_model_hints()
    old.prompt_panel.steps_spin.setValue(4)
    old.prompt_panel.prompt_edit.setPlainText("clicks at 4 per second")
    made = generate_at_seed_0(qtbot, old)
    path = tmp_path / "made-with-the-first-starter.sdproj"
    old.project.path = str(path)
    with qtbot.waitSignal(old.project_saved, timeout=30000):
        old.save_project()

    window = make_window(settings_=make_settings("fresh.ini"))
    window.show()
    qtbot.waitExposed(window)
    wait_for_models(qtbot, window)
    assert window.prompt_panel.model_id() == STARTER2  # the new default ...
    with qtbot.waitSignal(window.project_loaded, timeout=60000):
        window.open_project(str(path))
    (clip,) = window.project.clips()
    again = regenerate(qtbot, window, clip)  # ... does not touch what the recipe names
    assert again.recipe.model_id == STARTER and again.spectrogram_preset == "starter" and again.image.size == (128, 128)
    np.testing.assert_array_equal(again.audio, made.audio)
    # Use these settings puts the first starter back in the prompt panel, with its spectrogram.
    window.inspector.use_settings_button.click()
    panel = window.prompt_panel
    assert panel.model_id() == STARTER and panel.preset_combo.currentText() == "starter"
    assert model_hints(STARTER).title in panel.model_note.text()
