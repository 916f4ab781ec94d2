"""The app adapts to the model in use (issue 11 part 6): the prompt's placeholder and examples,
the Edit dock's window and segment, and the Sound Classes browser follow the selected model's
card, and a task the model does badly says so before anything runs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.model.commands import AddClip
from app.model.project import Clip, Selection
from app.widgets.qt_prompt_panel import NATIVE_SIZE
from engine.audioset import DEFAULT_OUTPUT_SIZE, model_classes
from engine.models.catalog import STARTER2_MODEL_ID, STARTER_MODEL_ID, task_caution

STARTER = STARTER_MODEL_ID
#: What a fresh offline install picks: starter model 2, whose card lists the AudioSet classes it knows.
DEFAULT = STARTER2_MODEL_ID
SD_INPAINTING = "stable-diffusion-v1-5/stable-diffusion-inpainting"


def starter_window(qtbot, window):
    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() > 0, timeout=30000)
    assert window.generation.model == DEFAULT  # a fresh install: starter model 2 is the default
    return window


def button(box: QMessageBox, text: str):
    return next(b for b in box.buttons() if b.text().replace("&", "") == text)


def test_cautions_come_from_the_card_and_the_catalog():
    # The first starter warns about every class prompt; one whose card lists the AudioSet classes
    # it knows (starter model 2) about the classes it was not trained on.
    blanket = task_caution(STARTER, "sound_classes")
    assert ("synthetic sounds" in blanket) if blanket else "not trained on \u201cShout\u201d" in model_classes(STARTER).caution(["Shout"])
    assert task_caution(STARTER, "generate") is None
    assert task_caution("riffusion/riffusion-model-v1", "sound_classes") is None
    assert "not made for variations" in task_caution(SD_INPAINTING, "vary")
    assert task_caution(SD_INPAINTING, "loop") is None  # a loop is a repaint
    assert task_caution("someone/unknown-model", "vary") is None


def test_prompt_examples_and_edit_defaults_follow_the_model(qtbot, window, tiny_model):
    window = starter_window(qtbot, window)
    panel, edit = window.prompt_panel, window.edit_tools.edit_panel
    examples = [a.text() for a in panel.examples_menu.actions()]
    assert "a sine tone at 440 Hz" in examples and not panel.examples_button.isHidden()
    panel.examples_menu.actions()[0].trigger()
    assert panel.prompt_edit.toPlainText() == examples[0] == window.generation.prompt
    # The starter's 128-px images are 2.56 s: the Edit dock's window and segment follow.
    assert (edit.window_spin.value(), edit.forms["interpolate"].segment.value(), edit.forms["extend"].context.value()) == (2.56, 2.56, 1.28)
    edit.forms["interpolate"].segment.setValue(3.2)  # the user's own choice stays
    panel.set_model(tiny_model)
    panel.apply_model_hints()
    assert (edit.window_spin.value(), edit.forms["interpolate"].segment.value(), edit.forms["extend"].context.value()) == (5.12, 3.2, 2.5)
    assert panel.examples_button.isHidden() and "warm analog" in panel.prompt_edit.placeholderText()


def test_class_prompts_with_the_default_starter_warn_only_for_classes_it_does_not_know(qtbot, window):
    window = starter_window(qtbot, window)
    browser, panel = window.class_browser, window.prompt_panel
    assert model_classes(DEFAULT).known  # starter model 2 lists what it knows
    assert browser.caution_label.isHidden()  # no blanket "synthetic sounds only" note
    assert browser.output_size() == NATIVE_SIZE  # seed 001's 64x400 would be 8 s of starter images
    before = (panel.output_size(), panel.duration_spin.value())
    browser.set_query("shout")
    browser.select_labels(["Shout"])
    browser.generate()
    box = window.caution_box
    assert box.isVisible() and "not trained on" in box.text() and not window.client.is_busy
    button(box, "Open Model Manager").click()
    qtbot.waitUntil(lambda: getattr(window, "model_manager", None) is not None and window.model_manager.isVisible())
    window.model_manager.close()
    assert not window.client.is_busy
    browser.generate()
    button(window.caution_box, "Go On").click()  # the user goes on: the job runs as asked
    (spec,) = window.client.jobs().values()
    assert "Shout" in spec.prompt and spec.model == DEFAULT
    window.client.cancel_all()
    qtbot.waitUntil(lambda: not window.client.is_busy, timeout=60000)
    assert (panel.output_size(), panel.duration_spin.value()) == before
    # A class it knows (ticked in the list) runs at once, without asking.
    browser.set_query("piano")
    browser.select_labels(["Piano"])
    browser.generate()
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    (spec,) = window.client.jobs().values()
    assert "Piano" in spec.prompt and spec.model == DEFAULT
    window.client.cancel_all()
    qtbot.waitUntil(lambda: not window.client.is_busy, timeout=60000)
    # The first starter (synthetic sounds only), picked by hand, warns about every class.
    panel.set_model(STARTER)
    assert not browser.caution_label.isHidden() and "synthetic sounds" in browser.caution_label.text()
    # A model that knows real sounds: no caution, and seed 001's size comes back.
    panel.set_model("riffusion/riffusion-model-v1")
    assert browser.caution_label.isHidden() and browser.output_size() == DEFAULT_OUTPUT_SIZE


def test_an_edit_the_model_does_badly_asks_first(qtbot, window):
    import numpy as np

    panel = window.prompt_panel
    panel.set_model(SD_INPAINTING)
    clip = Clip(name="tone", audio=np.zeros((1, 22050), np.float32), sample_rate_hz=22050, start_s=0.0)
    track = window.project.tracks[0]
    window.undo_stack.push_command(AddClip(window.project, track.id, clip))
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id))
    window.edit_tools.run_edit("vary")
    box = window.caution_box
    assert box.isVisible() and "not made for variations" in box.text()
    button(box, "Cancel").click()
    assert not window.client.is_busy and window.project.find_clip(clip.id)[1].audio is clip.audio
