"""Rough edges of a first hour with the app: greyed buttons that did not say why, controls that did
nothing visible, messages naming an edit by its internal name."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.model.commands import AddClip
from app.model.project import Clip, Selection


def _select_imported_clip(window) -> Clip:
    clip = Clip(audio=np.zeros((1, 8000), np.float32), sample_rate_hz=8000, name="field recording")
    track = window.project.tracks[0]
    window.undo_stack.push_command(AddClip(window.project, track.id, clip))
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id))
    return clip


def test_greyed_inspector_and_jobs_buttons_say_why(qtbot, window):
    inspector = window.inspector
    greyed = (inspector.copy_seed_button, inspector.copy_recipe_button, inspector.use_settings_button,
              inspector.regenerate_button)
    for button in greyed:  # nothing selected: not "this clip was not generated"
        assert not button.isEnabled() and button.toolTip().startswith("Select a clip first"), button.text()
    _select_imported_clip(window)
    qtbot.waitUntil(lambda: inspector.clip is not None)
    for button in greyed:
        assert not button.isEnabled() and button.toolTip().startswith("No recipe: this clip was not generated")

    jobs = window.job_panel  # an empty list: both greyed, both say why
    assert not jobs.clear_button.isEnabled() and jobs.clear_button.toolTip() == "No finished jobs to clear"
    assert not jobs.cancel_all_button.isEnabled()
    assert jobs.cancel_all_button.toolTip() == "No job is queued or running"


def test_the_classes_filter_before_a_model_is_picked_asks_for_one(window):
    """With the model list still loading (no model yet) the filter's tooltip read
    " is a general model: its card lists no classes…", the model's name missing."""
    window.generation.set(model="someone/some-model")
    window.generation.set(model="")
    check = window.class_browser.known_only_check
    assert not check.isEnabled() and check.toolTip() == "Pick a model in the prompt panel first"


def test_cancel_edits_with_nothing_running_says_so(window):
    window.edit_tools.actions["cancel_edits"].trigger()
    assert window.statusBar().currentMessage() == "No edit is running; nothing to cancel."


def test_edit_messages_name_the_button_the_user_pressed(window):
    """Picture from Audio said "Illustrate: …" and Re-vocode "Vocode: …" (the tasks' internal
    names); the messages now start with the toolbar button's and Edit tab's name."""
    actions = window.edit_tools.actions
    for name, title in (("illustrate", "Picture"), ("vocode", "Vocoder"), ("inpaint", "Inpaint")):
        button_text = actions[name].iconText()
        assert button_text == title
        actions[name].trigger()
        assert window.statusBar().currentMessage() == f"{title}: Select a clip first (click it on the timeline)."


def test_unload_models_says_when_it_is_done(qtbot, window):
    window.statusBar().clearMessage()
    window.unload_action.trigger()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Models unloaded: their memory is free again.",
                    timeout=30000)


def test_the_model_manager_shows_the_models_at_once_and_says_what_it_waits_for(qtbot, window):
    """It stood empty for seconds on a busy machine (its own listing still on the way), and
    Download repo with an empty field did nothing."""
    from app.dialogs.model_manager import ModelManagerDialog

    alone = ModelManagerDialog(window.client, window.settings, window)  # no listing yet
    qtbot.addWidget(alone)
    assert alone.table.rowCount() == 0 and alone.description.text() == "Reading the model list…"

    qtbot.waitUntil(lambda: window.model_listing is not None, timeout=30000)
    window.open_model_manager()
    dialog = window.model_manager
    assert dialog.table.rowCount() == len(window.model_listing.entries) > 0  # before its own listing arrives
    assert dialog.description.text() != "Reading the model list…"

    dialog.repo_edit.clear()
    dialog.repo_button.click()
    assert dialog.message.isVisibleTo(dialog)
    assert dialog.message.text().startswith("Type a Hugging Face repo id first")
    dialog.close()


def test_a_job_loading_a_model_names_it_as_the_prompt_panel_does(qtbot):
    """The Jobs row said "Loading builtin:starter" (the engine's id) under a panel that calls the
    same model "Starter model"."""
    from app.widgets.qt_inspector import model_name
    from app.widgets.qt_job_panel import JobRow
    from engine.api import GenerateJob, Progress

    row = JobRow(1, GenerateJob(prompt="a sine tone at 440 Hz", model="builtin:starter"))
    qtbot.addWidget(row)
    row.set_progress(Progress(stage="load", message="Loading builtin:starter"))
    assert row.detail.text() == f"Loading {model_name('builtin:starter')}"
    assert "builtin:" not in row.detail.text() and model_name("builtin:starter").startswith("Starter model")


def _focus_jobs(qtbot, window) -> None:
    """Focus somewhere that types nothing (the Jobs list), as after a click there."""
    widget = window.job_panel
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    window.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget)


def test_space_with_no_audio_output_says_why_nothing_plays(qtbot, make_window):
    """Space (the key a sound designer presses first) did nothing at all without an output
    device: its action is greyed, and a greyed action's shortcut is inert."""
    from engine.audio.playback import Player
    from tests.engine.test_playback import FakeBackend

    window = make_window(player=Player(backend=FakeBackend(devices=[])))
    window.show()
    qtbot.waitExposed(window)
    _focus_jobs(qtbot, window)
    for key, modifier in ((Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier),
                          (Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)):
        window.statusBar().clearMessage()
        qtbot.keyClick(QApplication.focusWidget() or window, key, modifier)
        assert window.statusBar().currentMessage() == "Playback disabled: no audio output device was found"
    assert not window.transport.player.playing


def test_space_plays_when_there_is_an_output(qtbot, make_window):
    from engine.audio.playback import Player
    from tests.engine.test_playback import FakeBackend

    window = make_window(player=Player(backend=FakeBackend()))
    window.show()
    qtbot.waitExposed(window)
    _select_imported_clip(window)
    _focus_jobs(qtbot, window)
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.transport.player.playing)
    assert "Playback disabled" not in window.statusBar().currentMessage()
    window.transport.stop()


def test_recent_projects_with_the_same_name_are_told_apart(window, tmp_path):
    for folder in ("drums", "ambience"):
        window.settings.add_recent_file(str(tmp_path / folder / "session.sdproj"))
    window.settings.add_recent_file(str(tmp_path / "ambience" / "rain.sdproj"))
    window.recent_menu.aboutToShow.emit()
    entries = [a for a in window.recent_menu.actions() if a.toolTip().endswith(".sdproj")]
    assert [a.text() for a in entries] == ["rain.sdproj", "session.sdproj  (ambience)", "session.sdproj  (drums)"]
    assert entries[1].toolTip() == str((tmp_path / "ambience" / "session.sdproj").resolve())
    assert window.recent_menu.toolTipsVisible()  # the whole path shows on hover


def test_spectrogram_colours_and_range_grey_out_while_only_waveforms_show(window):
    timeline = window.timeline
    timeline.mode_combo.setCurrentIndex(timeline.mode_combo.findText("Waveform"))  # View: Waveform
    for control in (timeline.colormap_combo, timeline.range_spin):
        assert not control.isEnabled() and "The view shows waveforms only" in control.toolTip()
    timeline.mode_combo.setCurrentIndex(timeline.mode_combo.findText("Both"))
    for control in (timeline.colormap_combo, timeline.range_spin):
        assert control.isEnabled() and "waveforms only" not in control.toolTip()


def test_a_typed_seed_is_the_seed_used(qtbot, window):
    """Typed without ticking Lock, a seed was replaced by a random one at Generate, and the
    Random button's seed likewise: the same prompt never came back."""
    panel = window.prompt_panel
    window.generation.set(model="someone/some-model")
    panel.seed_edit.setFocus()
    qtbot.keyClicks(panel.seed_edit, "42")
    assert panel.seed_lock.isChecked() and panel.spec(prompt="rain").seed == 42
    for _ in range(2):  # emptied: a new random seed each time again
        qtbot.keyClick(panel.seed_edit, Qt.Key.Key_Backspace)
    assert not panel.seed_lock.isChecked() and panel.spec(prompt="rain").seed is None

    panel.seed_dice.click()  # Random
    assert panel.seed_lock.isChecked() and panel.spec(prompt="rain").seed == int(panel.seed_edit.text())

    panel.seed_edit.selectAll()
    qtbot.keyClicks(panel.seed_edit, "9999999999")  # above 2**32 - 1: said at Generate
    panel.prompt_edit.setPlainText("rain")
    window.generate_action.trigger()
    assert panel.message_label.text() == "The seed must be between 0 and 4294967295."
    assert not window.client.is_busy


def _history_first_row(window) -> str:
    view = window.history_view
    return view.model().index(0, 0).data()


def test_the_history_starts_with_what_the_project_started_as(qtbot, window, tmp_path):
    """Its first row read "<empty project>", even above an opened project full of clips."""
    assert _history_first_row(window) == "New project"
    _select_imported_clip(window)
    path = tmp_path / "foley.sdproj"
    with qtbot.waitSignal(window.project_saved, timeout=30000):
        window._save_to(str(path))
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(path))
    assert window.project.clips() and _history_first_row(window) == "Opened foley.sdproj"
    window.new_project()
    assert _history_first_row(window) == "New project"


def test_the_status_bar_labels_say_what_they_show(window):
    status = window.status
    assert "Edit > Settings > Device" in status.device_label.toolTip()
    assert "Unload Models" in status.memory_label.toolTip()
    for label in (status.playback_label, status.offline_label, status.device_label, status.memory_label):
        assert label.toolTip(), label.text()
