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
    track_levels = []
    transport.track_levels_measured.connect(track_levels.append)
    try:
        transport.play()
        player._stream.pump(int(0.5 * rate))
        qtbot.waitUntil(lambda: transport.meter.max_peak > 0, timeout=2000)
        assert transport.meter.max_peak == pytest.approx(0.5)
        assert not transport.meter.clipped
        player._stream.pump(int(0.8 * rate))
        qtbot.waitUntil(lambda: transport.meter.clipped, timeout=2000)
        assert transport.meter.max_peak == pytest.approx(1.2)
        first, second = (t.id for t in project.tracks)
        assert track_levels[-1][first] == pytest.approx([0.5, 0.5]) and track_levels[-1][second] == pytest.approx([0.7, 0.7])
        transport.stop()
        assert transport.meter.levels_db == [-math.inf, -math.inf] and transport.meter.clipped
        assert track_levels[-1] == {}  # the track meters empty too
    finally:
        transport.shutdown()


def test_track_peaks_follow_each_tracks_gain_mute_and_solo():
    from app.model.commands import AddClip, AddTrack
    from app.model.mix import track_peaks
    from app.model.project import Clip, Project

    project = Project(sample_rate_hz=8000)
    for _ in range(3):
        AddTrack(project).redo()
    a, b, c = project.tracks
    AddClip(project, a.id, Clip(audio=np.full((1, 8000), 0.5, np.float32), sample_rate_hz=8000)).redo()
    # A stereo clip at another rate, from 0.5 s, at -6 dB clip gain.
    stereo = np.stack([np.full(22050, 0.8, np.float32), np.full(22050, -0.4, np.float32)])
    AddClip(project, b.id, Clip(audio=stereo, sample_rate_hz=22050, start_s=0.5, gain_db=-6.0)).redo()
    peaks = track_peaks(project, 0.1, 0.15)
    assert peaks[a.id] == pytest.approx([0.5, 0.5]) and peaks[b.id] == [0.0, 0.0] and peaks[c.id] == [0.0, 0.0]
    peaks = track_peaks(project, 0.6, 0.65)
    assert peaks[b.id] == pytest.approx([0.8 * 10 ** (-6 / 20), 0.4 * 10 ** (-6 / 20)], rel=1e-4)
    b.gain_db = 6.0
    assert track_peaks(project, 0.6, 0.65)[b.id][0] == pytest.approx(0.8, rel=1e-3)
    b.solo = True
    assert track_peaks(project, 0.6, 0.65)[a.id] == [0.0, 0.0]  # not soloed: silent
    b.solo, a.mute = False, True
    assert track_peaks(project, 0.1, 0.15)[a.id] == [0.0, 0.0]


def test_track_header_meters_light_while_playing(qtbot, window, monkeypatch):
    """In the window, playing drives every track header's meter (the louder track clips)."""
    from app.model.commands import AddClip, AddTrack

    if window.transport is None or not hasattr(window.timeline, "set_track_levels"):
        pytest.skip("needs the transport and the timeline")
    window.undo_stack.push_command(AddTrack(window.project))
    quiet, loud = window.project.tracks
    rate = window.project.sample_rate_hz
    from app.model.project import Clip

    window.undo_stack.push_command(AddClip(window.project, quiet.id, Clip(audio=np.full((1, rate), 0.25, np.float32), sample_rate_hz=rate)))
    window.undo_stack.push_command(AddClip(window.project, loud.id, Clip(audio=np.full((1, rate), 1.25, np.float32), sample_rate_hz=rate)))
    levels = {quiet.id: [0.25, 0.25], loud.id: [1.25, 1.25]}
    window.transport.track_levels_measured.emit(levels)
    headers = {lane.track_id: lane.header for lane in window.timeline._lanes}
    assert headers[quiet.id].meter.max_peak == pytest.approx(0.25) and not headers[quiet.id].meter.clipped
    assert headers[loud.id].meter.clipped
    window.transport.track_levels_measured.emit({})
    assert headers[loud.id].meter.levels_db == [-math.inf, -math.inf] and headers[loud.id].meter.clipped
