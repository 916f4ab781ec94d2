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
    note = panel.model_note.text()  # brief: what it is and what to do; the rest on hover
    assert "Offline preview" in note and "For recordings and music" in note and "download a real model" in note
    tip = panel.model_note.toolTip()
    assert model_hints(STARTER2).title in tip and "73 AudioSet classes" in tip and "brass and guitars" in tip
    # The placeholder offers what it does beyond synthetic tones: an instrument at a named note.
    assert "piano playing middle C" in panel.prompt_edit.placeholderText()
    # The default heads the model box; the first starter (synthetic sounds only) is still there.
    combo = panel.model_combo
    assert combo.itemData(0) == STARTER2 and combo.findData(STARTER) > 0
    assert combo.itemText(combo.findData(STARTER)) == model_hints(STARTER).title
    # The note's link opens the model manager.
    panel.model_note.linkActivated.emit("models")
    qtbot.waitUntil(lambda: getattr(window, "model_manager", None) is not None and window.model_manager.isVisible())
    # ... with the real model it suggests selected (none was: four 4 GB models to guess among).
    qtbot.waitUntil(lambda: window.model_manager.selected_entry() is not None, timeout=30000)
    assert window.model_manager.selected_entry().model_id == "riffusion/riffusion-model-v1"
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


def test_a_long_model_name_is_cut_at_a_word_in_the_box_and_whole_in_its_tooltip_and_list(qtbot, window):
    """Starter model 2's name is longer than the box: at 1024 x 700 the box showed "Starter model 2
    (instr", cut mid-word, and its list was as narrow as the box. Now the box cuts it after a whole
    word with "…", its tooltip and its list show the whole name, and clicking in to type shows the
    text to edit."""
    window.resize(1024, 700)
    wait_for_models(qtbot, window)
    combo = window.prompt_panel.model_combo
    index = combo.findData(STARTER2)
    title = combo.itemText(index)
    assert title.startswith("Starter model 2 (")
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # picked from the list
    line = combo.lineEdit()
    qtbot.waitUntil(lambda: line.is_elided())
    shown = line.shown_text()
    assert shown.endswith("\u2026") and title.startswith(shown[:-1])
    assert title[len(shown) - 1] in " ,;("  # cut where a word ends, not inside "instruments"
    assert line.fontMetrics().horizontalAdvance(shown) <= line.text_rect().width()
    assert line.toolTip() == title and window.prompt_panel.model_id() == STARTER2
    # The list shows every name whole, however narrow the box.
    widest = max(combo.view().fontMetrics().horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
    assert combo.width() < widest <= combo.view().minimumWidth()
    # Clicking in to type an id: the text itself, to edit; leaving it cuts it again.
    qtbot.mouseClick(line, Qt.MouseButton.LeftButton)
    assert line.editing and line.text() == title
    line.clearFocus()
    assert not line.editing
    window.prompt_panel.set_model(STARTER)  # the tooltip follows the name shown
    assert line.toolTip() == model_hints(STARTER).title and line.cursorPosition() == 0


def test_the_starter_note_is_brief_in_the_prompt_dock_at_1024_x_700(qtbot, window, themed_app):
    """Starter model 2's note took 7 lines of the Prompt dock at 1024 x 700 (its name, its 73
    classes, synthetic tones...): now a line or two says what a user must know, the rest on hover."""
    window.resize(1024, 700)
    wait_for_models(qtbot, window)
    panel = window.prompt_panel
    panel.set_model(STARTER2)
    note = panel.model_note
    qtbot.waitUntil(lambda: note.isVisible() and note.width() > 0)
    lines = note.heightForWidth(note.width()) / note.fontMetrics().lineSpacing()
    assert lines <= 2.5, (lines, note.width())
    assert note.height() >= note.heightForWidth(note.width())  # and every line shows


def test_names_are_cut_after_whole_words():
    from PySide6.QtGui import QFont, QFontMetrics

    from app.widgets.model_combo import elide_words

    metrics = QFontMetrics(QFont())
    name = "Starter model 2 (instruments, drums, effects; preview)"
    assert elide_words(metrics, name, 10_000) == name
    room = metrics.horizontalAdvance("Starter model 2 (instruments, dru")
    assert elide_words(metrics, name, room) == "Starter model 2 (instruments\u2026"
    tiny = elide_words(metrics, "Supercalifragilistic", metrics.horizontalAdvance("Superca"))
    assert tiny.endswith("\u2026") and tiny != "\u2026"  # one long word: cut within it


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
    assert model_hints(STARTER).title in panel.model_note.toolTip() and "Synthetic sounds only" in panel.model_note.text()
