"""The transport driven as a user would: buttons and keys, with the audio callback pumped by hand
(a stand-in for PortAudio's thread), and with playback unavailable."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.model.commands import AddClip, AddTrack, SetTrackProperty
from app.model.mix import render_mix
from app.model.project import Clip, Project, Selection
from app.undo import UndoStack
from app.widgets.qt_timeline import QtTimeline
from app.widgets.qt_transport import QtTransport, playback_off_message
from engine.audio import playback
from engine.audio.playback import Player
from tests.engine.test_playback import FakeBackend

RATE_HZ = 8000


def make_clip(value: float, seconds: float, start_s: float, channels: int = 1) -> Clip:
    audio = np.full((channels, int(seconds * RATE_HZ)), value, np.float32)
    return Clip(name=f"dc {value}", audio=audio, sample_rate_hz=RATE_HZ, start_s=start_s)


@pytest.fixture
def make_transport(qtbot):
    """make_transport(player) -> (transport, project, stack) with two overlapping clips on two
    tracks: 0.25 on track 1 from 0 to 2 s, 0.5 on track 2 from 1 to 3 s."""
    transports = []

    def make(player: Player):
        project = Project(sample_rate_hz=RATE_HZ)
        stack = UndoStack()
        stack.push_command(AddTrack(project))
        stack.push_command(AddTrack(project))
        stack.push_command(AddClip(project, project.tracks[0].id, make_clip(0.25, 2.0, 0.0)))
        stack.push_command(AddClip(project, project.tracks[1].id, make_clip(0.5, 2.0, 1.0)))
        transport = QtTransport(project, player)
        qtbot.addWidget(transport)
        transport.show()
        qtbot.waitExposed(transport)
        transport.activateWindow()
        qtbot.waitUntil(transport.isActiveWindow)
        transports.append(transport)
        return transport, project, stack

    yield make
    for transport in transports:
        transport.shutdown()


def loaded(player: Player) -> np.ndarray:
    """Every frame the player would play, (frames, device channels)."""
    return player._buffer[0 : player._buffer.shape[0]]


def pump(player: Player, seconds: float) -> np.ndarray:
    """Run the audio callback for ``seconds`` of output, as the device would."""
    return player._stream.pump(int(round(seconds * RATE_HZ)))


def test_space_plays_the_mix_and_the_playhead_follows(make_transport, qtbot):
    player = Player(backend=FakeBackend())
    transport, project, stack = make_transport(player)
    assert transport.play_action.isEnabled() and not transport.message_label.isVisible()
    qtbot.keyClick(transport, Qt.Key.Key_Space)
    assert player.playing and transport.timer.isActive()
    # What plays is the project's mix (streamed): overlapping clips and tracks add up.
    np.testing.assert_array_equal(loaded(player).T, render_mix(project, 0.0, 3.0, channels=2))
    out = pump(player, 1.5)
    assert out[: RATE_HZ // 2, 0] == pytest.approx(0.25) and out[-10:, 1] == pytest.approx(0.75)
    qtbot.waitUntil(lambda: project.playhead_s == pytest.approx(1.5), timeout=1000)
    assert "0:01.500" in transport.time_label.text()
    qtbot.keyClick(transport, Qt.Key.Key_Space)  # pause
    assert not player.playing and project.playhead_s == pytest.approx(1.5)
    transport.play()
    pump(player, 0.5)
    transport.stop()
    assert project.playhead_s == pytest.approx(1.5), "stop returns to where play started"
    # Playing to the end stops by itself; the next play starts over.
    transport.play()
    tail = pump(player, 2.0)
    assert not tail[int(1.5 * RATE_HZ) :].any()
    qtbot.waitUntil(lambda: not transport.timer.isActive(), timeout=1000)
    assert project.playhead_s == pytest.approx(3.0)
    transport.play()
    assert player.position_s == 0.0


def test_mute_solo_and_gain_change_what_plays_even_while_playing(make_transport, qtbot):
    player = Player(backend=FakeBackend())
    transport, project, stack = make_transport(player)
    top, bottom = project.tracks
    transport.seek(1.0)
    transport.play()
    assert pump(player, 0.1)[:, 0] == pytest.approx(0.75)
    stack.push_command(SetTrackProperty(project, bottom.id, "mute", True))
    qtbot.waitUntil(lambda: loaded(player)[int(1.5 * RATE_HZ), 0] == pytest.approx(0.25), timeout=2000)
    assert player.playing
    assert pump(player, 0.1)[:, 0] == pytest.approx(0.25)
    stack.push_command(SetTrackProperty(project, bottom.id, "mute", False))
    stack.push_command(SetTrackProperty(project, bottom.id, "solo", True))
    stack.push_command(SetTrackProperty(project, top.id, "gain_db", -6.0))
    qtbot.waitUntil(lambda: loaded(player)[int(1.5 * RATE_HZ), 0] == pytest.approx(0.5), timeout=2000)
    assert pump(player, 0.1)[:, 1] == pytest.approx(0.5)


def test_play_selection_and_loop(make_transport, qtbot):
    player = Player(backend=FakeBackend())
    transport, project, stack = make_transport(player)
    project.set_selection(Selection(start_s=0.5, end_s=1.5))
    qtbot.keyClick(transport, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)  # play selection
    out = pump(player, 1.5)
    assert out[: RATE_HZ // 2, 0] == pytest.approx(0.25)
    assert out[RATE_HZ // 2 : RATE_HZ, 0] == pytest.approx(0.75)
    assert not out[RATE_HZ:].any() and not player.playing
    transport.loop_action.setChecked(True)
    transport.play_selection()
    out = pump(player, 2.5)  # 1 s loop: plays it 2.5 times
    period = np.concatenate([np.full(RATE_HZ // 2, 0.25), np.full(RATE_HZ // 2, 0.75)])
    np.testing.assert_allclose(out[:, 0], np.concatenate([period, period, period[: RATE_HZ // 2]]))
    assert player.playing
    # Changing the selection while looping changes the loop.
    project.set_selection(Selection(start_s=2.0, end_s=2.5))
    assert player.loop == (2.0, 2.5)
    transport.loop_action.setChecked(False)
    assert player.loop is None


def test_seeking_while_playing_moves_the_player(make_transport, qtbot):
    player = Player(backend=FakeBackend())
    transport, project, stack = make_transport(player)
    transport.play()
    pump(player, 0.2)
    project.set_playhead(2.5)  # a click on the timeline does this
    assert player.position_s == pytest.approx(2.5)
    assert pump(player, 0.1)[:, 0] == pytest.approx(0.5)


def test_output_device_chooser_lists_devices_and_switches(make_transport, qtbot):
    backend = FakeBackend()
    player = Player(backend=backend)
    transport, project, stack = make_transport(player)
    labels = [transport.device_combo.itemText(i) for i in range(transport.device_combo.count())]
    assert labels == ["System default", "speakers (ALSA)"]
    with qtbot.waitSignal(transport.output_device_changed) as blocker:
        transport.device_combo.setCurrentIndex(1)
    assert blocker.args == [1] and player.device_id == 1
    transport.play()
    assert player._stream.kwargs["device"] == 1
    assert transport.set_output_device(None) and player.device_id is None
    assert not transport.set_output_device(7)


def test_without_an_output_device_buttons_are_disabled_with_the_reason(make_transport, qtbot):
    player = Player(backend=FakeBackend(devices=[]))
    transport, project, stack = make_transport(player)
    for action in (transport.play_action, transport.stop_action, transport.play_selection_action, transport.loop_action):
        assert not action.isEnabled()
    assert not transport.device_combo.isEnabled()
    assert transport.message_label.isVisible()
    assert transport.message_label.text() == "Playback disabled: no audio output device was found"
    for action in (transport.play_action, transport.stop_action, transport.play_selection_action, transport.loop_action):
        # Hovering a greyed button or Transport menu item says why it is greyed.
        assert "no audio output device" in action.toolTip() and "no audio output device" in action.statusTip()
    assert transport.play_action.toolTip().startswith("Play / Pause (Space): Playback disabled")
    qtbot.keyClick(transport, Qt.Key.Key_Space)
    transport.play()  # programmatic calls are harmless too
    assert not player.playing and not transport.timer.isActive()


def test_a_cut_short_no_device_message_still_says_playback_is_disabled(make_transport, qtbot, monkeypatch):
    from tests.engine.test_playback import _PortAudioMissing
    import sys

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_PortAudioMissing(), *sys.meta_path])
    transport, _project, _stack = make_transport(Player())  # the longest reason
    # As narrow as the transport goes: the message has a row of its own, narrower than it.
    transport.resize(transport.minimumSizeHint().width(), transport.height())
    transport.show()
    qtbot.waitExposed(transport)
    label = transport.message_label
    whole = "Playback disabled: PortAudio is not installed (apt-get install libportaudio2)"
    assert transport.message() == whole
    assert label.text() == "Playback disabled: PortAudio is not installed"  # the fix behind a link
    assert label.elided_text().startswith("Playback disabled")
    assert label.toolTip() == whole  # whole on hover
    link = transport.fix_link  # the link stays whole beside it, inside the bar
    assert link.isVisible() and link.mapTo(transport, link.rect().topRight()).x() < transport.width()
    assert playback_off_message(playback.PORTAUDIO_MISSING_MESSAGE) == (
        "Playback disabled: PortAudio is not installed (apt-get install libportaudio2)")



def test_without_portaudio_the_timeline_still_works(make_transport, qtbot, monkeypatch):
    from tests.engine.test_playback import _PortAudioMissing
    import sys

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_PortAudioMissing(), *sys.meta_path])
    transport, project, stack = make_transport(Player())
    assert not transport.available
    assert "libportaudio2" in transport.message() and "libportaudio2" in transport.message_label.toolTip()
    assert not transport.play_action.isEnabled()
    timeline = QtTimeline(project, stack)
    qtbot.addWidget(timeline)
    try:
        timeline.show()
        timeline.set_visible_range(0.0, 4.0)
        assert timeline.clip_ids_shown() == {c.id for c in project.clips()}
        timeline.seek_requested.emit(0.0)
        project.set_playhead(1.25)
        assert "0:01.250" in transport.time_label.text()
    finally:
        timeline.shutdown()
