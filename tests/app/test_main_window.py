"""The main window: starts without PortAudio, standard shortcuts, persistence, settings dialog,
status bar, and the `specdiff` entry point."""

from __future__ import annotations

import importlib.abc
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget

from app.model.commands import AddClip
from app.model.project import Clip


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Importing sounddevice fails the way it does when libportaudio is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


@pytest.fixture
def no_portaudio(monkeypatch):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])


def shortcuts(window) -> dict[str, str]:
    """Every shortcut the window answers to -> the action's text."""
    found = {}
    for action in window.findChildren(type(window.undo_action)):
        for seq in action.shortcuts():
            found[seq.toString()] = action.text().replace("&", "")
    return found


def test_app_starts_and_works_without_portaudio(qtbot, no_portaudio, make_window, make_wav):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    assert not window.playback_available
    assert "PortAudio" in window.playback_reason
    assert window.status.playback_label.text() == "Playback: off"
    assert "PortAudio" in window.status.playback_label.toolTip()
    play = [a for a in window.transport_menu_actions if "Play" in a.text()]
    assert play and not any(a.isEnabled() for a in play)
    # Everything else still works: importing a file, for one.
    path, audio = make_wav("a.wav", 0.1, 1)
    with qtbot.waitSignal(window.import_finished, timeout=30000):
        window.import_files([str(path)])
    np.testing.assert_array_equal(window.project.clips()[0].audio, audio)


def test_standard_shortcuts_exist(window):
    keys = shortcuts(window)
    expected = {
        "Ctrl+I": "Import…",
        "Ctrl+E": "Export…",
        "Ctrl+Z": "Undo",
        "Ctrl+Shift+Z": "Redo",
        "Ctrl+O": "Open Project…",
        "Ctrl+S": "Save Project",
        "Ctrl+Return": "Generate",
    }
    for key, text in expected.items():
        assert keys.get(key, "").startswith(text.split("…")[0].split(" ")[0]), (key, keys.get(key))
    assert "Space" in keys and "Play" in keys["Space"]
    assert any("Zoom" in t for k, t in keys.items() if k.startswith("Ctrl+"))
    # No key is bound twice (Qt would then fire neither).
    seen = {}
    for action in window.findChildren(type(window.undo_action)):
        for seq in action.shortcuts():
            seen.setdefault(seq.toString(), []).append(action.text())
    twice = {k: texts for k, texts in seen.items() if len(texts) > 1}
    assert not twice, twice


def test_undo_redo_actions_drive_the_model(window):
    clip = Clip(audio=np.zeros((1, 100), np.float32), sample_rate_hz=8000, name="c")
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    assert window.windowTitle().startswith("Untitled") and window.isWindowModified()
    window.undo_action.trigger()
    assert not window.project.clips()
    window.redo_action.trigger()
    assert window.project.clips() == [clip]
    assert window.history_view.stack() is window.undo_stack


def test_layout_and_panel_fields_persist(qtbot, make_window, make_settings, tiny_model):
    settings = make_settings("persist.ini")
    window = make_window(settings_=settings)
    window.show()
    qtbot.waitExposed(window)
    window.prompt_panel.prompt_edit.setPlainText("rainy tape hiss")
    window.prompt_panel.steps_spin.setValue(12)
    window.prompt_panel.set_model(tiny_model)
    window.jobs_dock.hide()
    window.resize(1111, 666)
    window.close()
    assert os.path.exists(settings.path)

    again = make_window(settings_=type(settings)(settings.path))
    again.show()
    qtbot.waitExposed(again)
    assert again.prompt_panel.prompt_edit.toPlainText() == "rainy tape hiss"
    assert again.prompt_panel.steps_spin.value() == 12
    assert again.prompt_panel.model_id() == tiny_model
    assert not again.jobs_dock.isVisible() and again.prompt_dock.isVisible()
    # Restored (offscreen frames shift it a little; the 800 px offscreen screen clamps the width),
    # not the default (1400 x 860, or the screen when that is smaller).
    assert abs(again.height() - 666) < 20
    assert {d.objectName() for d in again.findChildren(QDockWidget)} >= {"promptDock", "inspectorDock", "jobsDock", "historyDock"}


def test_status_bar_shows_device_memory_and_offline(window):
    assert window.status.device_label.text() == "Device: cpu"
    assert window.status.memory_label.text().startswith("RAM ")
    assert window.status.offline_label.text() == "Offline"
    window.status.set_device_used("cuda")
    assert "cuda" in window.status.device_label.text()


def test_settings_dialog_restarts_the_engine_with_new_settings(qtbot, window):
    from app.dialogs.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window.client.settings, window.player, window)
    qtbot.addWidget(dialog)
    if not window.playback_available:  # no output device here: said, not hidden
        assert not dialog.audio_combo.isEnabled() and dialog.audio_note.text().startswith("Playback disabled")
    dialog.attention_check.setChecked(True)
    dialog.precision_combo.setCurrentIndex(dialog.precision_combo.findData("fp32"))
    dialog.engine_settings_changed.connect(window.apply_engine_settings)
    with qtbot.waitSignal(window.client.engine_restarted, timeout=30000) as restarted:
        dialog._on_accepted()
    new = restarted.args[0]
    assert new.attention_slicing and new.precision == "fp32" and new.device == "cpu"
    assert window.client.settings == new
    assert window.settings.engine_settings().attention_slicing  # saved for the next start


def test_generate_action_uses_the_prompt_panel(qtbot, window):
    assert window.generate_action.shortcuts()[0] == QKeySequence("Ctrl+Return")
    window.generate_action.trigger()  # empty prompt: a message, no job
    assert window.prompt_panel.message_label.text() == "Type a prompt first."
    assert not window.client.is_busy


def test_entry_point_launches_and_quits(tmp_path):
    """`python -m app` builds the window and the engine and exits cleanly (offscreen)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "app", "--settings", str(tmp_path / "s.ini"), "--offline", "--quit-after-ms", "300"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s.ini").exists()


def test_the_terminal_gets_no_library_notes_at_start(tmp_path):
    """What the warm-up imports printed at every start on a fresh install ("`CLIPImageProcessor`
    requires torchvision (not installed); ... Install torchvision") stays out of the terminal."""
    code = ("import sys; from app.__main__ import main; main(sys.argv[1:]); "
            "from transformers import CLIPImageProcessor")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("TRANSFORMERS_VERBOSITY", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, "--settings", str(tmp_path / "s.ini"), "--offline", "--quit-after-ms", "100"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "torchvision" not in proc.stderr, proc.stderr
