"""The prompt panel says when a long clip is drawn window by window (issue 17)."""

from __future__ import annotations

from app.widgets.qt_prompt_panel import QtPromptPanel
from engine.api import PRESETS
from engine.audio.limits import WHOLE_MAX_S, generation_windows
from engine.specs import MAX_DURATION_S


def test_the_duration_note_gives_the_window_count_of_a_long_clip(qtbot):
    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    assert panel.duration_spin.maximum() == MAX_DURATION_S
    panel.settings.set(preset="riffusion", duration_s=5.12)
    assert panel.duration_note.isHidden()
    panel.duration_spin.setValue(MAX_DURATION_S)  # as the user types it
    assert not panel.duration_note.isHidden()
    windows = generation_windows(MAX_DURATION_S, PRESETS["riffusion"])
    assert windows == 79 and f"drawn in {windows} windows" in panel.duration_note.text()
    panel.settings.set(preset="starter")  # fewer, longer columns: the same windows in seconds
    assert f"drawn in {generation_windows(MAX_DURATION_S, PRESETS['starter'])} windows" in panel.duration_note.text()
    panel.duration_spin.setValue(WHOLE_MAX_S)
    assert panel.duration_note.isHidden()
