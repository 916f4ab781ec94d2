"""The main window as a daily tool: shortcuts that work whatever has focus, Help > Keyboard
Shortcuts built from the real actions, About with the version, the edit tools on toolbars, a
layout that works at 1280x720, the hub's reachability in the status bar, SIGTERM."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QToolBar

from app.model.commands import AddClip
from app.model.project import Clip


def add_clip(window, seconds: float = 4.0, start_s: float = 0.0, rate: int = 22050) -> Clip:
    t = np.arange(int(seconds * rate)) / rate
    audio = (0.5 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32)
    clip = Clip(audio=audio, sample_rate_hz=rate, name="tone", start_s=start_s)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    return clip


def span(window) -> float:
    start, end = window.timeline.visible_range()
    return end - start


def press(qtbot, window, key_text: str) -> None:
    """Type a key sequence into whichever widget has focus (as a user would)."""
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(key_text)[0]
    target = QApplication.focusWidget() or window
    qtbot.keyClick(target, combo.key(), combo.keyboardModifiers())


@pytest.mark.parametrize("focus", ["prompt", "steps", "jobs"])
def test_zoom_shortcuts_work_whatever_has_focus(qtbot, window, focus):
    add_clip(window, 20.0)
    window.timeline.zoom_to_fit()
    widget = {"prompt": window.prompt_panel.prompt_edit, "steps": window.prompt_panel.steps_spin,
              "jobs": window.job_panel}[focus]
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    window.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget or widget.isAncestorOf(QApplication.focusWidget()))
    fit = span(window)
    press(qtbot, window, "Ctrl++")
    qtbot.waitUntil(lambda: span(window) < fit * 0.9)
    zoomed = span(window)
    press(qtbot, window, "Ctrl+-")
    qtbot.waitUntil(lambda: span(window) > zoomed * 1.1)
    press(qtbot, window, "Ctrl++")
    press(qtbot, window, "Ctrl++")
    qtbot.waitUntil(lambda: span(window) < fit * 0.9)
    press(qtbot, window, "Ctrl+0")
    qtbot.waitUntil(lambda: abs(span(window) - fit) < 1e-6 * fit + 1e-9)


def test_typing_in_a_text_field_still_types_the_keys_the_timeline_uses(qtbot, window):
    """'+', '-', 's' and Delete go to the prompt field, not to zoom/split/delete."""
    clip = add_clip(window, 6.0)
    window.timeline.zoom_to_fit()
    window.project.set_selection(type(window.project.selection)(clip_ids=frozenset({clip.id})))
    edit = window.prompt_panel.prompt_edit
    window.activateWindow()
    edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is edit)
    fit = span(window)
    qtbot.keyClicks(edit, "s+-=n")
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    assert edit.toPlainText() == "s+-="
    spin = window.prompt_panel.steps_spin  # a spin box takes its minus sign and digits too
    spin.setFocus()
    qtbot.waitUntil(lambda: spin.hasFocus())
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "-+=")
    assert span(window) == pytest.approx(fit)
    assert window.project.clips() == [clip]  # not split, not deleted


def test_keyboard_shortcuts_dialog_lists_the_real_actions_and_searches(qtbot, window):
    from app.dialogs.shortcuts_dialog import ShortcutsDialog, shortcut_entries

    entries = shortcut_entries(window)
    by_text = {e.text: e for e in entries}
    # From the window's own actions, the edit tools', the timeline's and the transport's.
    assert "Ctrl+E" in by_text["Export"].keys and by_text["Export"].where == "File"
    assert by_text["Zoom In"].where == "View" and "Ctrl+0" in by_text["Zoom to Fit"].keys
    assert by_text["Inpaint Mask / Selection"].where == "Edit > Spectrogram"
    assert any("Play" in e.text and "Space" in e.keys for e in entries)
    # Built from the actions: a shortcut changed at run time shows up.
    window.add_track_action.setShortcut("Ctrl+Alt+T")
    dialog = ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    assert ("Add Track", "Ctrl+Alt+T") in dialog.visible_entries()
    dialog.search_edit.setText("zoom")
    shown = dialog.visible_entries()
    assert shown and all("Zoom" in text for text, _ in shown)
    dialog.search_edit.setText("ctrl+shift+r")
    assert [text for text, _ in dialog.visible_entries()] == ["Inpaint Mask / Selection"]
    window.shortcuts_action.trigger()
    assert window.shortcuts_dialog.isVisible()
    window.shortcuts_dialog.close()
    help_menu = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"][0]
    assert [a.text() for a in help_menu.actions() if not a.isSeparator()] == ["&Keyboard Shortcuts", "&About"]


def test_menu_items_are_worded_in_one_case(window):
    """The Edit menu mixed 'Add Track' and 'Results on a New Track' with 'Split at playhead',
    'Duplicate clip' and 'Rename track…'; View had 'Zoom in' beside 'Mask tools'. Every menu item
    now capitalises its words as File and Generate do (small words and Undo's step name aside)."""
    small = {"a", "an", "the", "on", "to", "at", "of", "and", "or", "from", "with", "in", "by", "for", "as"}
    lowercase = []

    def walk(menu):
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
            if action.isSeparator() or action in (window.undo_action, window.redo_action):
                continue
            words = [w.strip("()/'") for w in action.text().replace("&", "").replace("…", "").split()]
            if any(w and w[0].islower() and (i == 0 or w not in small) for i, w in enumerate(words)):
                lowercase.append(action.text())

    for top in window.menuBar().actions():
        walk(top.menu())
    assert lowercase == []


def test_the_shortcuts_list_names_undo_and_redo_plainly_with_each_key_once(qtbot, window):
    """After a step, the list read "Undo Add track 'Track 2'" (the menu item's changing text) and
    Redo's keys "Ctrl+Shift+Z, Ctrl+Shift+Z"."""
    from app.dialogs.shortcuts_dialog import shortcut_entries

    window.add_track()
    assert window.undo_action.text() != "&Undo"  # the menu names the step
    by_text = {e.text: e for e in shortcut_entries(window)}
    assert by_text["Undo"].where == "Edit" and by_text["Redo"].where == "Edit"
    assert not [text for text in by_text if text.startswith("Undo ")]
    for entry in by_text.values():
        assert len(set(entry.keys)) == len(entry.keys), entry


def test_about_names_the_version(window):
    from importlib import metadata

    text = window.about_text()
    assert metadata.version("specdiff-studio") in text
    assert "Qt " in text and "Python " in text


def make_recipe(**changes):
    from engine.models.catalog import STARTER_MODEL_DIR
    from engine.specs import Recipe

    fields = dict(
        task="inpaint", model_id=str(STARTER_MODEL_DIR), model_revision=None, seed=1234,
        params={"prompt": "a sine tone at 440 Hz with a long tail that keeps going on and on " * 3,
                "negative_prompt": "", "num_inference_steps": 20, "guidance_scale": 5.0,
                "scheduler": "dpm++2m-karras", "spectrogram_preset": "starter", "strength": 0.4, "start_s": 0.5,
                "end_s": 1.25, "window_s": 2.56},
        inputs={"audio": {"sha256": "ab" * 32, "shape": [2, 22050], "sample_rate_hz": 22050}},
        facts={"width": 128, "height": 128, "spectrogram": {"sample_rate": 22050}, "tiles": [{"x": 1}] * 9},
        loras=(("/home/someone/very/long/folder/name/without/any/spaces/my_lora_weights.safetensors", 0.8),),
    )
    fields.update(changes)
    return Recipe(**fields)


def test_inspector_shows_the_recipe_as_labelled_fields_that_fit_the_panel(qtbot, window):
    import json

    recipe = make_recipe()
    clip = Clip(audio=np.zeros((2, 22050), np.float32), sample_rate_hz=22050, name="edited", recipe=recipe,
                source_path="/data/some/where/deep/inside/a/folder/tone_with_a_long_name.wav")
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    window.inspector_dock.show()
    window.inspector_dock.raise_()
    window.inspector.show_clip(clip)
    shown = window.inspector.values("recipe")
    assert shown["Task"] == "Inpaint"
    assert shown["Model"] == "Starter model (synthetic sounds only)"  # its name, not resources/models/starter
    assert recipe.model_id in window.inspector._rows[id(window.inspector.recipe_form)]["Model"].toolTip()
    assert shown["Strength"] == "0.4" and shown["From"] == "0.5 s" and shown["To"] == "1.25 s"
    assert shown["Spectrogram"] == "starter"
    assert "my_lora_weights.safetensors x0.8" in shown["LoRAs"]
    assert not any("{" in text or "ab" * 8 in text for text in shown.values())  # no raw JSON, no hashes
    assert "Negative" not in shown  # empty fields are left out
    assert window.inspector.values("clip")["File"] == "tone_with_a_long_name.wav"
    # Everything wraps inside the panel: no unbreakable piece of text is wider than its label,
    # and no label runs past the panel.
    import re

    qtbot.waitUntil(lambda: window.inspector.isVisible())
    for form in (window.inspector.clip_form, window.inspector.recipe_form):
        for label in window.inspector._rows[id(form)].values():
            if label.isVisible():
                pieces = re.split(r"[ \u200b]", label.text())
                widest = max(label.fontMetrics().horizontalAdvance(p) for p in pieces)
                assert widest <= label.width(), (label.text(), widest, label.width())
                assert label.mapTo(window.inspector, label.rect().topRight()).x() <= window.inspector.width()
    # The raw recipe is one button away, as JSON that reads back as the same recipe.
    window.inspector.copy_recipe_button.click()
    copied = QApplication.clipboard().text()
    assert type(recipe).from_dict(json.loads(copied)) == recipe


@pytest.fixture
def hub_server():
    """A local HTTP server standing in for the hub (tests never reach the real one)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="hub-stand-in", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_status_bar_says_offline_when_the_hub_cannot_be_reached(qtbot, window, hub_server, monkeypatch):
    assert window.status.offline_label.text() == "Offline"  # offline mode (the fixture's settings)
    calls = []
    monkeypatch.setattr(type(window.client.store), "hub_reachable",
                        lambda self, *a, **k: calls.append(1) or False)
    window.check_hub()
    assert not calls  # offline mode: not even a check

    store = window.client.store
    monkeypatch.undo()
    monkeypatch.setattr("engine.models.store._env_offline", lambda: False)  # whatever HF_HUB_OFFLINE says
    store.offline = False
    store.endpoint = "http://127.0.0.1:9"  # nothing listens there
    with qtbot.waitSignal(window.hub_checked, timeout=10000) as checked:
        window.check_hub()
    assert checked.args == [False]
    assert window.status.offline_label.text() == "Offline"
    assert "cannot be reached" in window.status.offline_label.toolTip()
    store.endpoint = hub_server
    with qtbot.waitSignal(window.hub_checked, timeout=10000) as checked:
        window.check_hub()
    assert checked.args == [True] and window.status.offline_label.text() == "Online"
    assert window.hub_timer.isActive()  # checked again every minute
    store.offline = True
    window.check_hub()
    assert window.status.offline_label.text() == "Offline" and not window.hub_timer.isActive()


def test_a_unix_signal_reaches_the_event_loop(qtbot):
    import os
    import signal

    from app.unix_signals import SignalWatcher

    before = signal.getsignal(signal.SIGTERM)
    watcher = SignalWatcher((signal.SIGTERM,))
    try:
        with qtbot.waitSignal(watcher.received, timeout=5000) as got:
            os.kill(os.getpid(), signal.SIGTERM)
        assert got.args == [signal.SIGTERM]
    finally:
        watcher.uninstall()
    assert signal.getsignal(signal.SIGTERM) == before  # the old handler is back


def test_sigterm_closes_cleanly_deleting_the_autosave_when_nothing_is_unsaved(qtbot, window):
    tools = window.edit_tools
    clip = add_clip(window)
    with qtbot.waitSignal(tools.autosaver.autosaved, timeout=30000):
        tools.autosaver.autosave_now()
    autosave = tools.autosaver.path
    assert autosave.is_file()
    window.undo_stack.undo()  # back to the state on disk: nothing unsaved
    assert window.undo_stack.isClean() and not window.project.has_clip(clip.id)
    window.close_for_signal()
    assert not window.isVisible()
    assert not autosave.exists() and not autosave.with_suffix(".json").exists()


def test_sigterm_with_unsaved_changes_keeps_them_in_an_autosave_for_recovery(qtbot, window):
    from app.autosave import find_recoverable
    from app.model.project_files import load_project_file

    tools = window.edit_tools
    folder = tools.autosave_folder
    clip = add_clip(window)  # unsaved, and never autosaved yet
    window.close_for_signal()
    assert not window.isVisible()
    found = [info for info in find_recoverable(folder) if info.path.exists()]
    assert len(found) == 1
    project = load_project_file(found[0].path).project
    assert [c.id for c in project.clips()] == [clip.id]
    np.testing.assert_array_equal(project.clips()[0].audio, clip.audio)


def test_specdiff_process_closes_on_sigterm(tmp_path, make_wav):
    """The real process: SIGTERM while it runs ends it with status 0 (not killed), having saved
    its window state, and the unsaved import is in an autosave that recovery finds."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from app.autosave import find_recoverable

    root = Path(__file__).resolve().parents[2]
    settings = tmp_path / "s.ini"
    settings.write_text("[General]\nautosave_interval_s=0.2\n")
    wav, _ = make_wav("in.wav", 0.2, 1)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "app", "--settings", str(settings), "--offline", str(wav)],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        folder = tmp_path / "autosave"
        deadline = time.monotonic() + 120
        while not list(folder.glob("*.json")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)  # the import landed and was autosaved: the app is up
        assert list(folder.glob("*.json")), proc.stderr.read() if proc.poll() is not None else "no autosave"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "[window]" in settings.read_text()  # the layout was saved, as on a normal close
    assert len(find_recoverable(folder)) == 1


def test_layout_at_1280x720_gives_the_timeline_most_of_the_room(qtbot, window):
    window.transport._show_message(
        "No audio output device was found; playback is disabled. Connect headphones or speakers, or "
        "choose another output in Edit > Settings, then restart playback."
    )
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.width() == 1280 and window.height() == 720)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720  # it fits the screen at all
    QApplication.processEvents()
    assert window.timeline.height() >= 560, window.timeline.height()  # most of the 720 px
    assert window.timeline.width() >= 560, window.timeline.width()
    label = window.transport.message_label
    assert window.transport.height() <= 45  # one row, however long the warning
    assert label.height() <= 2 * label.fontMetrics().height()
    assert label.elided_text().endswith("…") and "restart playback" in label.toolTip()  # whole text on hover


def test_the_themed_window_narrows_to_about_1100_px(qtbot, make_window, themed_app):
    """In the app's theme the window would not go below 1216 px (the transport bar's disabled
    device box and the buttons' 10 px side padding): on a 1024 or 1152 px wide screen it ran off
    the edge. It now goes to 1110 px or less, the playback message in the device box's place.
    (Narrower still since: tests/app/test_narrow_window.py.)"""
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() <= 1110)
    transport = window.transport
    if not transport.available:  # no output device here (CI, this machine)
        assert not transport.device_combo.isVisible()
        assert transport.message_label.elided_text().startswith("Playback disabled")
    assert transport.play_button.width() < 40  # the icon buttons stay compact


def test_on_a_700_px_high_window_the_prompt_panel_scrolls_instead_of_overlapping(qtbot, make_window, themed_app):
    """At 1024 x 700 with Starter model 2 picked, the Prompt dock squeezed its panel: the Examples
    button sat over the prompt box and the model's note ran under the LoRAs row."""
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() >= 2, timeout=30000)
    panel = window.prompt_panel
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("builtin:starter2"))
    panel.apply_model_hints()
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.height() <= 710)
    QApplication.processEvents()
    assert panel.model_note.isVisible()
    note = panel.model_note
    assert note.height() >= note.heightForWidth(note.width())  # every line of the note shows
    boxes = [w for w in (panel.prompt_edit, panel.examples_button, panel.negative_edit, panel.duration_spin,
                         panel.seed_edit, panel.steps_spin, panel.model_combo, note, panel.lora_picker,
                         panel.preset_combo, panel.generate_button) if w.isVisible()]
    rects = [(w, w.geometry().translated(w.parentWidget().mapTo(panel, w.parentWidget().rect().topLeft())))
             for w in boxes]
    for i, (a, ra) in enumerate(rects):
        for b, rb in rects[i + 1:]:
            assert not ra.intersects(rb), (type(a).__name__, type(b).__name__)


def test_the_edit_tools_are_on_a_toolbar(window):
    tools = window.edit_tools
    bars = {bar.objectName(): bar for bar in window.findChildren(QToolBar)}
    edit_bar = bars["editToolbar"]
    texts = [a.iconText() for a in edit_bar.actions() if not a.isSeparator()]
    assert texts[:1] == ["Generate"] and {"Inpaint", "Extend", "Loop", "Vary", "Interpolate"} <= set(texts)
    assert tools.actions["inpaint"] in edit_bar.actions()  # the same action as the menu's (one shortcut)
    assert "Ctrl+Shift+R" in tools.actions["inpaint"].toolTip()
    mask_bar = bars["maskToolbar"]
    assert mask_bar is tools.mask_toolbar and len(mask_bar.actions()) > 10  # each control overflows on its own
