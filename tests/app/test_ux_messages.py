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


def _type_into(qtbot, box, text: str, confirm=None) -> None:
    """Replace the box's text by typing ``text`` as a user would, then Enter (or ``confirm``)."""
    from PySide6.QtCore import Qt

    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    qtbot.keyClick(box.lineEdit(), confirm or Qt.Key.Key_Return)


def test_a_typed_value_out_of_range_is_used_at_the_limit_and_said(qtbot, window):
    from PySide6.QtCore import Qt

    panel = window.prompt_panel
    status = window.statusBar()
    window.activateWindow()
    steps = panel.steps_spin
    top = steps.maximum()
    _type_into(qtbot, steps, "5000")  # Qt alone kept "500" or less, silently
    assert steps.value() == top
    assert status.currentMessage() == f"Steps: 5000 is above the maximum {top}; using {top}"
    assert panel.settings.steps == top  # what the next generation uses

    status.clearMessage()
    _type_into(qtbot, steps, "25")  # in range: taken as typed, nothing said
    assert steps.value() == 25 and status.currentMessage() == ""

    duration = panel.duration_spin  # below the minimum, with a suffix; left with Tab
    _type_into(qtbot, duration, "0", confirm=Qt.Key.Key_Tab)
    low = duration.textFromValue(duration.minimum())
    assert duration.value() == duration.minimum()
    assert status.currentMessage() == f"Duration: 0 s is below the minimum {low} s; using {low} s"


def test_every_spin_box_says_its_limits_under_its_own_name(qtbot, window):
    """Docks, toolbars, the track headers and the LoRA wizard (a window of its own): every spin
    box is one that says what it did, named as the user sees it."""
    from PySide6.QtWidgets import QAbstractSpinBox

    from app.widgets.spin_boxes import DoubleSpinBox, SpinBox, field_name

    wizard = window.open_lora_wizard()
    boxes = window.findChildren(QAbstractSpinBox) + wizard.findChildren(QAbstractSpinBox)
    assert len(boxes) >= 30
    for box in boxes:
        assert isinstance(box, (SpinBox, DoubleSpinBox)), (type(box).__name__, box.toolTip())
        assert field_name(box) not in ("", "Value"), box.toolTip()

    rank = wizard.training_page.rank_spin  # in the wizard: said in the main window's status bar too
    wizard.next()  # past the dataset page
    qtbot.waitUntil(rank.isVisible)
    _type_into(qtbot, rank, "99999")
    assert rank.value() == rank.maximum()
    assert window.statusBar().currentMessage() == (
        f"Rank: 99999 is above the maximum {rank.maximum()}; using {rank.maximum()}"
    )


def test_a_spectrogram_height_between_multiples_of_8_is_rounded_and_said(qtbot, window):
    """Mel bins took 100 and the edit then failed with the engine's "`height` has to be divisible
    by 8 but is 100."."""
    box = window.edit_tools.edit_panel.height_spin
    window.edit_tools.edit_dock.show()
    window.edit_tools.edit_dock.raise_()
    window.edit_tools.edit_panel.shared_toggle.setChecked(True)  # "All edits" unfolded
    window.activateWindow()
    _type_into(qtbot, box, "100")
    assert box.value() == 104
    assert window.statusBar().currentMessage() == "Mel bins: 100 is not a multiple of 8; using 104"
    _type_into(qtbot, box, "3")  # nearest is 0: the preset's own
    assert box.value() == 0 and box.text() == "preset"
    assert window.statusBar().currentMessage() == "Mel bins: 3 is not a multiple of 8; using preset"
    _type_into(qtbot, box, "256")  # a multiple: taken as typed
    assert box.value() == 256


def _wheel(widget, notches: int = 1) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_scrolling_past_a_spin_box_leaves_it_alone(qtbot, window):
    """On a short window the Prompt dock scrolls: the wheel over Steps, Guidance, Scheduler or
    Vocoder on the way changed them."""
    panel = window.prompt_panel
    window.activateWindow()
    panel.prompt_edit.setFocus()
    qtbot.waitUntil(panel.prompt_edit.hasFocus)
    steps, guidance = panel.steps_spin.value(), panel.guidance_spin.value()
    scheduler, vocoder = panel.scheduler_combo.currentIndex(), panel.vocoder_combo.currentIndex()
    _wheel(panel.steps_spin)
    _wheel(panel.guidance_spin, -1)
    _wheel(panel.scheduler_combo, -1)
    _wheel(panel.vocoder_combo, -1)
    assert (panel.steps_spin.value(), panel.guidance_spin.value()) == (steps, guidance)
    assert (panel.scheduler_combo.currentIndex(), panel.vocoder_combo.currentIndex()) == (scheduler, vocoder)
    panel.steps_spin.setFocus()  # clicked or tabbed into: the wheel turns it
    qtbot.waitUntil(panel.steps_spin.hasFocus)
    _wheel(panel.steps_spin)
    assert panel.steps_spin.value() == steps + 1
