"""Seed 001 meets the starter (issue 15 part 4), as a user sees it: the Sound Classes browser
checks the classes the selected model's card says it knows, filters to them, and says so before
generating a class the model does not know (naming a real model, with the model manager a click
away); the model manager lists what a model knows; the prompt's placeholder shows prompts that
work with the selected model. The model is a stand-in: the tiny test pipeline with the shipped
starter's card, edited to list classes and example prompts (what starter model 2's card carries).
"""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.dialogs.model_manager import ModelManagerDialog
from app.widgets.qt_class_browser import KNOWN_ONLY_TEXT, KNOWN_ROLE
from app.widgets.qt_prompt_panel import QtPromptPanel
from engine.audioset import label_names, model_classes
from engine.models.catalog import STARTER_MODEL_DIR, model_hints, task_caution

RIFFUSION = "riffusion/riffusion-model-v1"
KNOWN = ["Piano", "Violin, fiddle", "Drum kit", "Snare drum", "Bird vocalization, bird call, bird song",
         "Applause", "Helicopter"]
EXAMPLES = ["a grand piano playing middle C", "a rock beat at 120 BPM", "a bird tweeting", "applause"]


@pytest.fixture
def standin(tmp_path, tiny_model):
    """A generating model folder whose card lists AudioSet classes and example prompts."""
    folder = tmp_path / "standin"
    shutil.copytree(tiny_model, folder)
    card = json.loads((STARTER_MODEL_DIR / "starter.json").read_text(encoding="utf-8"))
    card.update(title="Stand-in starter", audioset_classes=sorted(KNOWN), example_prompts=EXAMPLES,
                sound_families=["note", "beat", "effect"])
    (folder / "starter.json").write_text(json.dumps(card), encoding="utf-8")
    return str(folder)


def follow(browser, model):
    browser.follow_model(model_hints(model), task_caution(model, "sound_classes"), model_classes(model))


def in_audioset_order(names):
    order = {name: i for i, name in enumerate(label_names())}
    return sorted(names, key=order.__getitem__)


def button(box: QMessageBox, text: str):
    return next(b for b in box.buttons() if b.text().replace("&", "") == text)


def test_the_browser_checks_what_the_model_knows_and_filters_to_it(qtbot, browser, standin):
    assert browser.marked_labels() == [] and not browser.known_only_check.isEnabled()  # no model yet
    follow(browser, standin)
    assert browser.marked_labels() == in_audioset_order(KNOWN)
    assert browser.count_label.text() == f"527 classes \u00b7 {len(KNOWN)} \u2713"
    model = browser.list_view.model()
    row = {name: model.index(i) for i, name in enumerate(browser.visible_labels())}
    assert row["Piano"].data(KNOWN_ROLE) is True and row["Shout"].data(KNOWN_ROLE) is False
    assert not row["Piano"].data(Qt.ItemDataRole.DecorationRole).isNull()  # a check mark is drawn
    assert "Stand-in starter was trained on this class" in row["Piano"].data(Qt.ItemDataRole.ToolTipRole)
    assert "was not trained on this class" in row["Shout"].data(Qt.ItemDataRole.ToolTipRole)

    assert browser.known_only_check.isEnabled() and browser.known_only_check.text() == f"{KNOWN_ONLY_TEXT} ({len(KNOWN)})"
    browser.known_only_check.click()
    assert browser.visible_labels() == in_audioset_order(KNOWN)
    browser.set_query("drum")
    assert browser.visible_labels() == ["Drum kit", "Snare drum"]
    browser.set_query("dog")
    assert browser.visible_labels() == [] and "Stand-in starter knows no AudioSet class matching \u201cdog\u201d" in browser.empty_label.text()
    # Asking for a class the filter hides (a link, a restored session) shows every class again.
    browser.select_labels(["Shout"])
    assert browser.selected_labels() == ["Shout"] and not browser.known_only() and len(browser.visible_labels()) == 527
    browser.known_only_check.click()
    assert browser.state()["known_only"] is True


def test_an_unknown_class_says_so_before_generating_and_a_known_one_does_not(qtbot, browser, standin):
    follow(browser, standin)
    browser.select_labels(["Piano"])
    assert browser.class_note.isHidden() and browser.generate_button.text() == "Generate"
    browser.select_labels(["Shout"])
    note = browser.class_note.text()
    assert not browser.class_note.isHidden() and "Stand-in starter was not trained on \u201cShout\u201d" in note
    assert "Riffusion v1" in note and browser.generate_button.text() == "Generate\u2026"
    with qtbot.waitSignal(browser.model_manager_requested):
        browser.class_note.linkActivated.emit("models")
    # A mix names only the class the model does not know.
    browser.select_labels(["Piano", "Violin, fiddle"])
    assert browser.class_note.isHidden()
    # A general model: no marks, no filter, no note; the class list is the same 527.
    follow(browser, RIFFUSION)
    browser.select_labels(["Shout"])
    assert browser.marked_labels() == [] and not browser.known_only_check.isEnabled()
    assert browser.class_note.isHidden() and browser.generate_button.text() == "Generate"
    assert browser.count_label.text() == "527 classes"


def test_generating_an_unknown_class_asks_and_offers_the_model_manager(qtbot, window, standin):
    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() > 0, timeout=30000)
    browser, panel = window.class_browser, window.prompt_panel
    panel.set_model(standin)
    panel.apply_model_hints()
    assert browser.marked_labels() == in_audioset_order(KNOWN) and browser.caution_label.isHidden()
    browser.select_labels(["Shout"])
    browser.generate()
    box = window.caution_box
    assert box.isVisible() and "not trained on \u201cShout\u201d" in box.text() and "Riffusion v1" in box.text()
    assert not window.client.is_busy  # nothing runs before the user answers
    assert "Use Riffusion v1" not in [b.text() for b in box.buttons()]  # not downloaded here
    button(box, "Open Model Manager").click()
    manager = window.model_manager
    # The manager opens on the real model the caution names, ready to download.
    qtbot.waitUntil(lambda: manager.isVisible() and manager.selected_entry() is not None, timeout=30000)
    assert manager.selected_entry().model_id == RIFFUSION and "church bells on sunday" in manager.card_view.toPlainText()
    manager.close()
    assert not window.client.is_busy
    # A class it knows generates at once, no questions.
    window.caution_box = None
    browser.select_labels(["Piano"])
    browser.generate()
    assert window.caution_box is None
    (spec,) = window.client.jobs().values()
    assert spec.prompt == "a spectrogram of the sound of Piano" and spec.model == standin
    window.client.cancel_all()
    qtbot.waitUntil(lambda: not window.client.is_busy, timeout=60000)


def test_a_downloaded_real_model_is_offered_for_an_unknown_class(qtbot, window, standin, engine_settings, tiny_model):
    from pathlib import Path

    from tests.app.test_model_manager import make_fake_hub_cache

    make_fake_hub_cache(Path(engine_settings.cache_dir), Path(tiny_model), RIFFUSION)  # "Riffusion", downloaded
    with qtbot.waitSignal(window.client.models_listed, timeout=30000):
        window.refresh_models()
    browser, panel = window.class_browser, window.prompt_panel
    panel.set_model(standin)
    panel.apply_model_hints()
    browser.select_labels(["Shout"])
    browser.generate()
    box = window.caution_box
    assert box.isVisible() and not window.client.is_busy
    button(box, "Use Riffusion v1").click()
    (spec,) = window.client.jobs().values()
    assert spec.model == RIFFUSION and spec.prompt == "a spectrogram of the sound of Shout"
    assert panel.model_id() == RIFFUSION and browser.class_note.isHidden()  # the panel now uses it
    window.client.cancel_all()
    qtbot.waitUntil(lambda: not window.client.is_busy, timeout=60000)


def test_the_placeholder_shows_prompts_that_work_with_the_selected_model(qtbot, standin, tiny_model):
    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    panel.set_model(standin)
    assert panel.prompt_edit.placeholderText() == (
        "Describe the sound, e.g. 'a grand piano playing middle C' \u00b7 'a rock beat at 120 BPM' \u00b7 'a bird tweeting'")
    assert [a.text() for a in panel.examples_menu.actions()] == EXAMPLES
    assert "knows 7 AudioSet classes" in panel.model_note.toolTip()
    panel.set_model(RIFFUSION)
    assert "'church bells on sunday'" in panel.prompt_edit.placeholderText()
    panel.set_model(tiny_model)  # no card: a general example
    assert panel.prompt_edit.placeholderText() == "Describe the sound: 'warm analog synth pad, slow attack'"
    panel.set_model(standin)
    assert "middle C" in panel.prompt_edit.placeholderText()


def test_the_model_manager_lists_what_a_model_knows(qtbot, client, settings, standin):
    dialog = ModelManagerDialog(client, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(client.models_listed, timeout=30000):
        assert dialog.add_local_folder(standin)
    assert dialog.select(standin)
    card = dialog.card_view.toPlainText()
    assert dialog.card_view.isVisible()
    assert f"AudioSet classes it knows ({len(KNOWN)} of 527" in card and "Drum kit" in card and "Shout" not in card
    assert "Sound families: note, beat, effect" in card and "a rock beat at 120 BPM" in card
    assert dialog.select(RIFFUSION)
    card = dialog.card_view.toPlainText()
    assert "funky synth solo" in card and "AudioSet classes" not in card
    client.wait_for_tasks()
