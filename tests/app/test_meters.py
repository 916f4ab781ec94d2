"""Peak meters with a clip light: the widget's ballistics, and the master meter in the transport
fed from the mix at the playhead on the GUI timer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.widgets.qt_meter import FALL_DB_PER_S, HOLD_S, QtPeakMeter, window_peaks


def test_meter_rises_at_once_falls_slowly_holds_and_latches_the_clip_light(qtbot):
    meter = QtPeakMeter(2)
    qtbot.addWidget(meter)
    meter.set_levels([0.5, 0.25], now=0.0)
    assert meter.levels_db == pytest.approx([20 * math.log10(0.5), 20 * math.log10(0.25)])
    meter.set_levels([0.01, 0.01], now=0.5)  # the bar falls at FALL_DB_PER_S, not at once
    assert meter.levels_db[0] == pytest.approx(20 * math.log10(0.5) - FALL_DB_PER_S * 0.5)
    assert meter.hold_db[0] == pytest.approx(20 * math.log10(0.5))  # held
    meter.set_levels([0.01, 0.01], now=0.5 + HOLD_S + 0.1)
    assert meter.hold_db[0] == pytest.approx(-40.0)  # the hold let go
    assert not meter.clipped and "CLIPPED" not in meter.toolTip()
    meter.set_levels([1.3, 0.2], now=3.0)
    assert meter.clipped and "+2.3 dBFS" in meter.toolTip() and "CLIPPED" in meter.toolTip()
    meter.set_levels([0.1, 0.1], now=4.0)
    assert meter.clipped  # latched
    meter.clear_levels()
    assert meter.clipped and meter.levels_db == [-math.inf, -math.inf]
    with qtbot.waitSignal(meter.clip_reset):
        qtbot.mouseClick(meter, Qt.MouseButton.LeftButton)
    assert not meter.clipped and meter.max_peak == 0.0
    meter.grab()  # paints without error


def test_window_peaks():
    audio = np.array([[0.1, -0.9, 0.2, 0.0], [0.0, 0.3, -0.4, 2.0]], np.float32)
    assert window_peaks(audio, 0, 3) == pytest.approx([0.9, 0.4])
    assert window_peaks(audio, -5, 1) == pytest.approx([0.1, 0.0])
    assert window_peaks(audio, 10, 20) == [0.0, 0.0]


def test_master_meter_follows_the_mix_at_the_playhead_and_lights_on_clipping(qtbot):
    from app.model.commands import AddClip, AddTrack
    from app.model.project import Clip, Project
    from app.undo import UndoStack
    from app.widgets.qt_transport import QtTransport
    from engine.audio.playback import Player
    from tests.engine.test_playback import FakeBackend

    rate = 8000
    project = Project(sample_rate_hz=rate)
    stack = UndoStack()
    stack.push_command(AddTrack(project))
    stack.push_command(AddTrack(project))
    # 0.5 alone for a second, then 0.5 + 0.7 = 1.2 where the two overlap: beyond full scale.
    stack.push_command(AddClip(project, project.tracks[0].id,
                               Clip(audio=np.full((1, 2 * rate), 0.5, np.float32), sample_rate_hz=rate)))
    stack.push_command(AddClip(project, project.tracks[1].id,
                               Clip(audio=np.full((1, rate), 0.7, np.float32), sample_rate_hz=rate, start_s=1.0)))
    player = Player(backend=FakeBackend())
    transport = QtTransport(project, player)
    qtbot.addWidget(transport)
    try:
        transport.play()
        player._stream.pump(int(0.5 * rate))
        qtbot.waitUntil(lambda: transport.meter.max_peak > 0, timeout=2000)
        assert transport.meter.max_peak == pytest.approx(0.5)
        assert not transport.meter.clipped
        player._stream.pump(int(0.8 * rate))
        qtbot.waitUntil(lambda: transport.meter.clipped, timeout=2000)
        assert transport.meter.max_peak == pytest.approx(1.2)
        transport.stop()
        assert transport.meter.levels_db == [-math.inf, -math.inf] and transport.meter.clipped
    finally:
        transport.shutdown()
