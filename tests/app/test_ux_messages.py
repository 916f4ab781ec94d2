"""What the app tells a user who does something it cannot do as asked: a greyed Settings output
device with its reason, a typed value outside a spin box's range, Undo/Redo in the status bar."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

from engine.audio.playback import Player
from tests.engine.test_playback import FakeBackend


def _text_brightness(widget) -> int:
    """The brightest grey level of ``widget`` as drawn (its text is the lightest thing in the
    dark theme's fields)."""
    image = widget.grab().toImage()
    return max(image.pixelColor(x, y).lightness() for x in range(4, image.width() - 20) for y in range(image.height()))


def test_settings_greys_out_the_output_device_and_says_why_without_a_device(qtbot, make_window, themed_app):
    from app.dialogs.settings_dialog import SettingsDialog

    window = make_window(player=Player(backend=FakeBackend(devices=[])))
    dialog = SettingsDialog(window.settings, window.client.settings, window.player, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    combo = dialog.audio_combo
    assert not combo.isEnabled()
    reason = "Playback disabled: no audio output device was found"
    assert dialog.audio_note.text() == reason and combo.toolTip() == reason
    assert window.statusBar().currentMessage() == reason  # the same words at start-up
    assert window.transport.message_label.text() == reason  # and in the transport bar

    # It looks greyed: with a device the same box is live and its text is drawn brighter.
    live = SettingsDialog(window.settings, window.client.settings, Player(backend=FakeBackend()), window)
    qtbot.addWidget(live)
    live.show()
    qtbot.waitExposed(live)
    assert live.audio_combo.isEnabled() and live.audio_combo.count() == 2  # System default, speakers
    assert not live.audio_note.text()
    QApplication.processEvents()
    assert _text_brightness(combo) < _text_brightness(live.audio_combo) - 40


def _press(qtbot, window, keys: str) -> None:
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(keys)[0]
    qtbot.keyClick(QApplication.focusWidget() or window, combo.key(), combo.keyboardModifiers())


def test_undo_and_redo_say_what_they_did_in_the_status_bar(qtbot, window):
    window.activateWindow()
    window.timeline.setFocus()
    status = window.statusBar()
    _press(qtbot, window, "Ctrl+Z")  # an empty history: said, not silently ignored
    assert status.currentMessage() == "Nothing to undo"
    _press(qtbot, window, "Ctrl+Shift+Z")
    assert status.currentMessage() == "Nothing to redo"

    _press(qtbot, window, "Ctrl+T")  # Edit > Add Track
    assert len(window.project.tracks) == 2
    _press(qtbot, window, "Ctrl+Z")
    assert len(window.project.tracks) == 1 and status.currentMessage() == "Undo: Add track 'Track 2'"
    _press(qtbot, window, "Ctrl+Z")
    assert status.currentMessage() == "Nothing to undo"
    _press(qtbot, window, "Ctrl+Shift+Z")
    assert len(window.project.tracks) == 2 and status.currentMessage() == "Redo: Add track 'Track 2'"
    for keys in window.redo_action.shortcuts():  # every Redo key (Ctrl+Y too on Linux)
        status.clearMessage()
        _press(qtbot, window, keys.toString())
        assert status.currentMessage() == "Nothing to redo"

    window.undo_action.trigger()  # from the Edit menu: the same message
    assert len(window.project.tracks) == 1 and status.currentMessage() == "Undo: Add track 'Track 2'"
    window.redo_action.trigger()
    assert status.currentMessage() == "Redo: Add track 'Track 2'"
