"""Player callback logic without an audio device: the callback is driven directly with numpy blocks."""

from __future__ import annotations

import importlib.abc
import sys

import numpy as np
import pytest

from engine.audio import playback
from engine.audio.playback import Player, PlaybackFinished, fill_block

RATE_HZ = 8000


def make_mix(channels: int = 2, samples: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (channels, samples)).astype(np.float32)


class FakeStream:
    """Stands in for sounddevice.OutputStream: records how it was opened; `pump` runs the callback
    the way PortAudio's thread would."""

    def __init__(self, backend, **kwargs):
        self.kwargs = kwargs
        self.latency = backend.latency_s
        self.active = False
        self.closed = False
        backend.streams.append(self)

    def start(self):
        self.active = True

    def abort(self):
        self.active = False

    def close(self):
        self.closed = True

    def pump(self, frames: int) -> np.ndarray:
        out = np.full((frames, self.kwargs["channels"]), np.nan, np.float32)
        try:
            self.kwargs["callback"](out, frames, None, None)
        except FakeBackend.CallbackStop:
            self.active = False
            self.kwargs["finished_callback"]()
        return out


class FakeBackend:
    """The slice of sounddevice's module API that Player uses, with one stereo device."""

    class CallbackStop(Exception):
        pass

    def __init__(self, devices=None, latency_s: float = 0.0):
        self.latency_s = latency_s
        self.devices = (
            [
                {"name": "mic", "hostapi": 0, "max_output_channels": 0, "default_samplerate": 48000.0},
                {"name": "speakers", "hostapi": 0, "max_output_channels": 2, "default_samplerate": 48000.0},
            ]
            if devices is None
            else devices
        )
        self.streams: list[FakeStream] = []
        self.default = type("Default", (), {"device": [0, 1]})()

    def query_devices(self, device=None, kind=None):
        if kind == "output":
            return self.devices[1 if device is None else device]
        return self.devices

    def query_hostapis(self):
        return [{"name": "ALSA"}]

    def OutputStream(self, **kwargs):  # noqa: N802 - mirrors sounddevice
        return FakeStream(self, **kwargs)


def test_fill_block_copies_exact_samples_block_after_block():
    buffer = make_mix(2, 1000).T.copy()
    frame, played = 0, []
    for _ in range(4):
        out = np.empty((256, 2), np.float32)
        frame, finished = fill_block(out, buffer, frame, 1000, None)
        played.append(out)
    played = np.concatenate(played)
    np.testing.assert_array_equal(played[:1000], buffer)
    assert finished and frame == 1000
    assert not played[1000:].any(), "the block past the end must be silence"


def test_fill_block_loops_including_loops_shorter_than_a_block():
    buffer = np.arange(100, dtype=np.float32)[:, None]
    out = np.empty((50, 1), np.float32)
    frame, finished = fill_block(out, buffer, 5, 100, (10, 20))
    # Plays 5..19 then wraps to 10 again and again.
    expected = list(range(5, 20)) + list(range(10, 20)) * 3 + list(range(10, 15))
    assert out[:, 0].tolist() == expected
    assert frame == 15 and not finished
    # A start past the loop end jumps to the loop start.
    frame, _ = fill_block(out[:3], buffer, 40, 100, (10, 20))
    assert out[:3, 0].tolist() == [10, 11, 12] and frame == 13


def test_fill_block_stops_at_an_end_before_the_buffer_end():
    buffer = np.arange(100, dtype=np.float32)[:, None]
    out = np.empty((16, 1), np.float32)
    frame, finished = fill_block(out, buffer, 30, 40, None)
    assert finished and frame == 40
    assert out[:10, 0].tolist() == list(range(30, 40)) and not out[10:].any()


def test_callback_copies_the_loaded_mix_and_raises_stop_at_the_end():
    player = Player(backend=FakeBackend())
    mix = make_mix(2, 1000)
    player.load(mix, RATE_HZ)
    player.play()
    stream = player._stream
    assert stream.kwargs["samplerate"] == RATE_HZ and stream.kwargs["channels"] == 2
    assert stream.kwargs["dtype"] == "float32"
    first = stream.pump(600)
    np.testing.assert_array_equal(first, mix[:, :600].T)
    assert player.playing and player.position_s == pytest.approx(600 / RATE_HZ)
    last = stream.pump(600)
    np.testing.assert_array_equal(last[:400], mix[:, 600:].T)
    assert not last[400:].any()
    assert not player.playing and not stream.active
    assert player.position_s == pytest.approx(1000 / RATE_HZ)


def test_callback_raises_playback_finished_without_sounddevice():
    player = Player(backend=FakeBackend())
    player._callback_stop = PlaybackFinished
    player.load(make_mix(1, 10), RATE_HZ)
    player._playing = True
    out = np.empty((16, 2), np.float32)
    with pytest.raises(PlaybackFinished):
        player._callback(out, 16, None, None)
    assert not out[10:].any() and not player.playing


def test_play_loop_pause_seek_and_stop_through_the_player():
    backend = FakeBackend()
    player = Player(backend=backend)
    mix = make_mix(2, 4000)
    player.load(mix, RATE_HZ)
    player.play(start_s=0.1, loop=(0.125, 0.25))  # frames 800..1000..2000
    out = player._stream.pump(1500)
    expected = np.concatenate([mix[:, 800:2000], mix[:, 1000:1300]], axis=1).T
    np.testing.assert_array_equal(out, expected)
    assert player.loop == (0.125, 0.25)
    player.pause()
    assert not player.playing
    assert player.position_s == pytest.approx(1300 / RATE_HZ)
    player.seek(0.4)
    player.set_loop(None)
    player.play(start_s=player.position_s)
    np.testing.assert_array_equal(player._stream.pump(10), mix[:, 3200:3210].T)
    player.stop()
    assert player.position_s == pytest.approx(0.4), "stop returns to where play started"
    # The stream is reused between plays at the same rate and device.
    assert len(backend.streams) == 1


def test_play_selection_stops_at_end_s():
    player = Player(backend=FakeBackend())
    mix = make_mix(1, 4000)
    player.load(mix, RATE_HZ)
    player.play(start_s=0.1, end_s=0.15)
    out = player._stream.pump(600)
    np.testing.assert_array_equal(out[:400, 0], mix[0, 800:1200])
    np.testing.assert_array_equal(out[:400, 1], mix[0, 800:1200])  # mono duplicated to stereo
    assert not out[400:].any() and not player.playing


def test_choosing_a_device_reopens_the_stream_on_it():
    backend = FakeBackend()
    player = Player(backend=backend)
    devices = player.output_devices()
    assert [(d.id, d.name, d.is_default) for d in devices] == [(1, "speakers", True)]
    player.load(make_mix(2, 100), RATE_HZ)
    player.set_device(1)
    player.play()
    assert player._stream.kwargs["device"] == 1
    with pytest.raises(ValueError, match="device_id"):
        player.set_device(0)  # an input-only device


def test_bad_input_is_refused_with_the_parameter_named():
    player = Player(backend=FakeBackend())
    with pytest.raises(ValueError, match="mix"):
        player.load(np.zeros(10, np.float32), RATE_HZ)
    with pytest.raises(ValueError, match="sample_rate_hz"):
        player.load(make_mix(), 10)
    player.load(make_mix(), RATE_HZ)
    with pytest.raises(ValueError, match="start_s"):
        player.play(start_s=-1)
    with pytest.raises(ValueError, match="loop"):
        player.play(loop=(0.1, 0.05))


def test_no_output_device_makes_playback_unavailable_and_calls_no_ops():
    player = Player(backend=FakeBackend(devices=[]))
    ok, reason = player.available()
    assert not ok and reason == playback.NO_OUTPUT_DEVICE_MESSAGE
    player.load(make_mix(), RATE_HZ)
    player.play()
    player.pause()
    player.stop()
    player.set_device(None)
    assert not player.playing and player._stream is None


class _PortAudioMissing(importlib.abc.MetaPathFinder):
    """Makes `import sounddevice` fail the way it does when libportaudio is not installed."""

    def find_spec(self, name, path, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_missing_portaudio_gives_the_install_hint(monkeypatch):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_PortAudioMissing(), *sys.meta_path])
    player = Player()
    ok, reason = player.available()
    assert not ok
    assert reason == "PortAudio is not installed (apt-get install libportaudio2); playback is disabled"
    assert player.output_devices() == []
    player.load(make_mix(), RATE_HZ)
    player.play(start_s=0.01)
    assert not player.playing


def test_position_while_playing_is_what_is_heard_after_the_output_latency():
    player = Player(backend=FakeBackend(latency_s=0.05))  # 400 frames at 8 kHz
    player.load(make_mix(2, 4000), RATE_HZ)
    player.play(start_s=0.1)
    assert player.position_s == pytest.approx(0.1), "never before where play started"
    player._stream.pump(1000)
    assert player.position_s == pytest.approx((800 + 1000 - 400) / RATE_HZ)
    player.pause()
    assert player.position_s == pytest.approx(1800 / RATE_HZ), "paused: where playback resumes"
    player.play(start_s=0.0, loop=(0.0, 0.1))  # an 800-frame loop
    player._stream.pump(900)  # wrapped: 100 frames into the second pass
    assert player.position_s == pytest.approx(0.0), "held at the loop start, not before it"


class ArraySource:
    """A streamed source over an array, counting what the player asked for."""

    def __init__(self, mix: np.ndarray):
        self.mix = mix
        self.frames, self.channels = mix.shape[1], mix.shape[0]
        self.reads: list[tuple[int, int]] = []

    def read(self, first: int, count: int) -> np.ndarray:
        self.reads.append((first, count))
        return self.mix[:, first : first + count]


def test_a_streamed_source_plays_like_the_buffer_it_stands_for():
    mix = make_mix(2, 4000)
    source = ArraySource(mix)
    player = Player(backend=FakeBackend())
    player.load_source(source, RATE_HZ)
    assert player.duration_s == pytest.approx(4000 / RATE_HZ)
    player.play(start_s=0.1, loop=(0.125, 0.25))  # frames 800..1000..2000
    out = player._stream.pump(1500)
    np.testing.assert_array_equal(out, np.concatenate([mix[:, 800:2000], mix[:, 1000:1300]], axis=1).T)
    assert all(count <= 1500 for _, count in source.reads)  # only what each block needs
    # A mono source on a stereo device is duplicated, as a loaded mono mix is.
    mono = ArraySource(make_mix(1, 100))
    player.load_source(mono, RATE_HZ)
    player.play()
    out = player._stream.pump(100)
    np.testing.assert_array_equal(out, np.repeat(mono.mix.T, 2, axis=1))
    with pytest.raises(ValueError, match="frames"):
        player.load_source(object(), RATE_HZ)
