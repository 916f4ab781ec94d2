"""Audio playback over a sounddevice output stream (Qt-free).

:class:`Player` plays one preallocated float32 buffer (the project mix), or a source that hands
out the mix block by block (:meth:`Player.load_source`: a long project streams instead of
living in memory whole). Following friture's
``audiobackend.py``, the real-time callback does nothing but copy frames out of that buffer and
advance an integer frame counter (wrapping at a loop end, filling silence and stopping at the end);
the GUI reads :attr:`Player.position_s` from a timer to move its playhead.

``sounddevice`` is imported lazily: importing it raises ``OSError`` when the PortAudio library is
missing. In that case, or when no output device exists, :meth:`Player.available` returns
``(False, reason)`` and every transport call is a no-op that raises nothing, so the rest of the
application keeps working.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

PORTAUDIO_MISSING_MESSAGE = (
    "PortAudio is not installed (apt-get install libportaudio2); playback is disabled"
)
SOUNDDEVICE_MISSING_MESSAGE = (
    "The sounddevice package is not installed (pip install sounddevice); playback is disabled"
)
NO_OUTPUT_DEVICE_MESSAGE = "No audio output device was found; playback is disabled"
MIN_SAMPLE_RATE_HZ = 1000
MAX_SAMPLE_RATE_HZ = 768_000
#: Channels the player asks of an output device at most (the mix is at most stereo).
MAX_OUTPUT_CHANNELS = 2


class PlaybackError(RuntimeError):
    """The output stream could not be opened or started (bad device, unsupported sample rate)."""


class PlaybackFinished(Exception):
    """Raised by the callback at the end of the buffer when sounddevice is not importable.

    With sounddevice present the callback raises ``sounddevice.CallbackStop`` instead, which lets
    the stream play out the blocks already delivered and then stop.
    """


@dataclass(frozen=True)
class OutputDevice:
    """One audio output device as PortAudio reports it."""

    id: int
    name: str
    host_api: str
    max_output_channels: int
    default_sample_rate_hz: float
    is_default: bool


def fill_block(
    outdata: np.ndarray,
    buffer: np.ndarray,
    frame: int,
    end_frame: int,
    loop: tuple[int, int] | None,
) -> tuple[int, bool]:
    """Copy the next ``len(outdata)`` frames of ``buffer`` starting at ``frame`` into ``outdata``.

    Args:
        outdata: (frames, channels) float32 block to fill in place (sounddevice's ``outdata``).
        buffer: (total_frames, channels) float32 source, same channel count as ``outdata``.
        frame: index of the next frame to play.
        end_frame: exclusive frame index at which playback ends when not looping.
        loop: ``(first, end)`` frame indices of a loop, or None. Reaching ``end`` wraps to
            ``first``; a start position before ``first`` plays into the loop, one at or past
            ``end`` jumps to ``first``.

    Returns:
        ``(next_frame, finished)``. When ``finished`` is True the tail of ``outdata`` after the
        last copied frame holds silence.

    Only slices and copies; allocates nothing, so it is safe in the real-time callback.
    """
    frames = outdata.shape[0]
    written = 0
    if loop is not None:
        first, end = loop
        while written < frames:
            if frame >= end:
                frame = first
            n = min(frames - written, end - frame)
            outdata[written : written + n] = buffer[frame : frame + n]
            written += n
            frame += n
        return frame, False
    n = max(0, min(frames, end_frame - frame))
    if n:
        outdata[:n] = buffer[frame : frame + n]
        frame += n
    if n < frames:
        outdata[n:] = 0.0
        return frame, True
    return frame, frame >= end_frame


def device_frames(mix: np.ndarray, out_channels: int) -> np.ndarray:
    """``mix`` (channels, samples) as (samples, ``out_channels``) C-contiguous float32: mono
    duplicated, stereo averaged into mono, channels beyond the device's dropped."""
    channels = mix.shape[0]
    if channels == out_channels:
        frames_first = mix.T
    elif channels == 1:
        frames_first = np.repeat(mix.T, out_channels, axis=1)
    elif out_channels == 1:
        frames_first = mix.mean(axis=0, keepdims=True).T
    else:
        frames_first = mix[:out_channels].T
    return np.ascontiguousarray(frames_first, dtype=np.float32)


class _SourceFrames:
    """A streamed source seen as the player's (frames, device channels) buffer: slicing it
    reads and converts just those frames (what :func:`fill_block` asks for)."""

    def __init__(self, source: Any, out_channels: int) -> None:
        self.source = source
        self.shape = (int(source.frames), out_channels)

    def __getitem__(self, key: slice) -> np.ndarray:
        first, stop, _ = key.indices(self.shape[0])
        return device_frames(self.source.read(first, max(0, stop - first)), self.shape[1])


class Player:
    """Plays a (channels, samples) mix on an audio output device.

    Args:
        backend: a module with sounddevice's API (``OutputStream``, ``query_devices``,
            ``query_hostapis``, ``default``, ``CallbackStop``). None imports ``sounddevice`` on
            first use; an ``OSError`` there (PortAudio missing) makes the player unavailable.

    All methods are called from one (GUI) thread; only :meth:`_callback` runs on the audio thread,
    and it shares nothing with the GUI but the buffer (replaced only while stopped), two integers
    and a loop tuple, each read or written atomically.
    """

    def __init__(self, backend: ModuleType | None = None) -> None:
        self._backend: Any = backend
        self._backend_checked = backend is not None
        self._unavailable_reason: str | None = None
        self._device_id: int | None = None
        self._stream: Any = None
        self._stream_key: tuple[Any, ...] | None = None
        self._callback_stop: type[BaseException] = getattr(
            backend, "CallbackStop", PlaybackFinished
        )
        self._mix: np.ndarray | None = None
        self._buffer: np.ndarray = np.zeros((0, MAX_OUTPUT_CHANNELS), np.float32)
        self._sample_rate_hz = 44100
        # Shared with the audio thread.
        self._frame = 0
        self._end_frame = 0
        self._loop: tuple[int, int] | None = None
        self._playing = False
        self._play_start_frame = 0
        self._latency_frames = 0
        self._lock = threading.Lock()  # serialises GUI-side stream operations only

    # ------------------------------------------------------------------ availability & devices

    def _sd(self) -> Any:
        """The sounddevice module, or None (with the reason recorded) when it cannot be used."""
        if not self._backend_checked:
            self._backend_checked = True
            try:
                import sounddevice
            except OSError:
                self._unavailable_reason = PORTAUDIO_MISSING_MESSAGE
            except ImportError:
                self._unavailable_reason = SOUNDDEVICE_MISSING_MESSAGE
            else:
                self._backend = sounddevice
                self._callback_stop = sounddevice.CallbackStop
        return self._backend

    def available(self) -> tuple[bool, str]:
        """``(True, "")`` when playback works, else ``(False, reason)`` for the user."""
        sd = self._sd()
        if sd is None:
            return False, self._unavailable_reason or PORTAUDIO_MISSING_MESSAGE
        if not self.output_devices():
            return False, NO_OUTPUT_DEVICE_MESSAGE
        return True, ""

    def output_devices(self) -> list[OutputDevice]:
        """Devices with at least one output channel; empty when playback is unavailable."""
        sd = self._sd()
        if sd is None:
            return []
        try:
            devices = sd.query_devices()
            host_apis = sd.query_hostapis()
            default_out = sd.default.device[1]
        except Exception:  # PortAudio errors (no audio subsystem) mean no usable device
            return []
        result = []
        for index, info in enumerate(devices):
            if int(info["max_output_channels"]) <= 0:
                continue
            host = host_apis[info["hostapi"]]["name"] if info["hostapi"] < len(host_apis) else ""
            result.append(
                OutputDevice(
                    id=index,
                    name=str(info["name"]),
                    host_api=str(host),
                    max_output_channels=int(info["max_output_channels"]),
                    default_sample_rate_hz=float(info["default_samplerate"]),
                    is_default=index == default_out,
                )
            )
        return result

    @property
    def device_id(self) -> int | None:
        """The chosen output device id, or None for the system default."""
        return self._device_id

    def set_device(self, device_id: int | None) -> None:
        """Choose the output device by id (from :meth:`output_devices`); None = system default.

        Raises:
            ValueError: ``device_id`` is not an output device. A no-op when unavailable.
        """
        if self._sd() is None:
            return
        if device_id is not None:
            ids = [d.id for d in self.output_devices()]
            if device_id not in ids:
                raise ValueError(
                    f"`device_id` {device_id!r} is not an audio output device; expected one of {ids} or None."
                )
        if device_id == self._device_id:
            return
        was_playing = self.playing
        self._close_stream()
        self._device_id = device_id
        if self._mix is not None:
            self._buffer = self._output_buffer(self._mix)
        if was_playing:
            self._start_stream()

    def _device_channels(self) -> int:
        sd = self._backend
        if sd is None:
            return MAX_OUTPUT_CHANNELS
        try:
            info = sd.query_devices(self._device_id, "output")
            return max(1, min(MAX_OUTPUT_CHANNELS, int(info["max_output_channels"])))
        except Exception:
            return MAX_OUTPUT_CHANNELS

    # ------------------------------------------------------------------ loading

    def load(self, mix: np.ndarray, sample_rate_hz: int) -> None:
        """Preallocate the playback buffer from ``mix`` (channels, samples) at ``sample_rate_hz``.

        Stops playback first. The position is kept (clamped to the new length).

        Raises:
            ValueError: ``mix`` is not a 2-D float array with 1 or more channels, or the rate is
                outside 1000-768000 Hz.
        """
        if not isinstance(mix, np.ndarray) or mix.ndim != 2 or mix.shape[0] < 1:
            shape = getattr(mix, "shape", None)
            raise ValueError(f"`mix` must be a (channels, samples) array, got shape {shape}.")
        if mix.dtype.kind != "f":
            raise ValueError(f"`mix` must hold float samples in [-1, 1], got dtype {mix.dtype}.")
        self._install(mix, sample_rate_hz)

    def load_source(self, source: Any, sample_rate_hz: int) -> None:
        """Play from ``source`` instead of a buffer: an object with ``frames``, ``channels`` and
        ``read(first, count) -> (channels, count)`` float32 (a mix streamed in blocks, so a long
        project never needs its whole mix in memory). ``read`` is called from the audio thread
        and must be quick (read ahead elsewhere; see ``app.model.mix.MixStream``).

        Raises ValueError for a source without frames or channels, or a bad rate."""
        frames, channels = getattr(source, "frames", None), getattr(source, "channels", None)
        if not isinstance(frames, int) or not isinstance(channels, int) or channels < 1 or frames < 0:
            raise ValueError(f"`source` needs integer `frames` and `channels`, got {frames!r} and {channels!r}.")
        if not callable(getattr(source, "read", None)):
            raise ValueError("`source` needs a read(first, count) method.")
        self._install(source, sample_rate_hz)

    def _install(self, mix: Any, sample_rate_hz: int) -> None:
        if (
            isinstance(sample_rate_hz, bool)
            or not isinstance(sample_rate_hz, (int, np.integer))
            or not MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ
        ):
            raise ValueError(
                f"`sample_rate_hz` must be an integer between {MIN_SAMPLE_RATE_HZ} and "
                f"{MAX_SAMPLE_RATE_HZ}, got {sample_rate_hz!r}."
            )
        self.pause()
        if int(sample_rate_hz) != self._sample_rate_hz:
            self._close_stream()
        self._mix = mix
        self._sample_rate_hz = int(sample_rate_hz)
        self._buffer = self._output_buffer(mix)
        total = self._buffer.shape[0]
        self._frame = min(self._frame, total)
        self._end_frame = total
        self._loop = None

    def _output_buffer(self, mix: Any) -> Any:
        """(frames, device channels) C-contiguous float32 copy of ``mix`` (mono duplicated,
        extra channels averaged into mono or dropped beyond stereo); for a source, a view that
        converts each block the same way as it is read."""
        out_channels = self._device_channels()
        if not isinstance(mix, np.ndarray):
            return _SourceFrames(mix, out_channels)
        return device_frames(mix, out_channels)

    # ------------------------------------------------------------------ transport

    @property
    def sample_rate_hz(self) -> int:
        return self._sample_rate_hz

    @property
    def duration_s(self) -> float:
        """Length of the loaded buffer in seconds (0 before :meth:`load`)."""
        return self._buffer.shape[0] / self._sample_rate_hz

    @property
    def position_s(self) -> float:
        """Seconds from the start of the loaded buffer of what is heard now: while playing, the
        frames handed to the device minus its output latency (never before the start of the play
        or of the loop it is in); otherwise the position playback resumes from."""
        frame = self._frame
        if self._playing and self._latency_frames:
            loop = self._loop
            floor = loop[0] if loop is not None and loop[0] <= frame <= loop[1] else 0
            frame = max(frame - self._latency_frames, floor, min(self._play_start_frame, frame))
        return frame / self._sample_rate_hz

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def loop(self) -> tuple[float, float] | None:
        """The active loop in seconds, or None."""
        if self._loop is None:
            return None
        return self._loop[0] / self._sample_rate_hz, self._loop[1] / self._sample_rate_hz

    def _to_frame(self, name: str, seconds: float) -> int:
        try:
            value = float(seconds)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be a number of seconds, got {seconds!r}.") from None
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite, non-negative number of seconds, got {seconds!r}.")
        return min(int(round(value * self._sample_rate_hz)), self._buffer.shape[0])

    def play(
        self,
        start_s: float = 0.0,
        loop: tuple[float, float] | None = None,
        end_s: float | None = None,
    ) -> None:
        """Play from ``start_s``; loop over ``loop=(first_s, end_s)`` forever, or stop at ``end_s``
        (default: the end of the buffer).

        Raises:
            ValueError: negative or non-finite times, or a loop whose end is not after its start.
            PlaybackError: the output stream could not be opened.
        A no-op when playback is unavailable or nothing is loaded.
        """
        frame = self._to_frame("start_s", start_s)
        end_frame = self._buffer.shape[0] if end_s is None else self._to_frame("end_s", end_s)
        loop_frames = None
        if loop is not None:
            if not (isinstance(loop, (tuple, list)) and len(loop) == 2):
                raise ValueError(f"`loop` must be a (start_s, end_s) pair or None, got {loop!r}.")
            first, end = self._to_frame("loop[0]", loop[0]), self._to_frame("loop[1]", loop[1])
            if end <= first:
                raise ValueError(
                    f"`loop` end must be after its start (within the {self.duration_s:.3f} s loaded), got {loop!r}."
                )
            loop_frames = (first, end)
        ok, _ = self.available()
        if not ok or self._buffer.shape[0] == 0:
            return
        self.pause()
        self._frame = frame
        self._play_start_frame = frame
        self._end_frame = end_frame
        self._loop = loop_frames
        self._start_stream()

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        """Change the loop while playing (or before the next play); None ends looping and plays on
        to the end of the buffer."""
        if loop is None:
            self._end_frame = self._buffer.shape[0]
            self._loop = None
            return
        first, end = self._to_frame("loop[0]", loop[0]), self._to_frame("loop[1]", loop[1])
        if end <= first:
            raise ValueError(f"`loop` end must be after its start, got {loop!r}.")
        self._loop = (first, end)

    def seek(self, position_s: float) -> None:
        """Move the play position (while playing, playback continues from there)."""
        frame = self._to_frame("position_s", position_s)
        self._frame = frame
        self._play_start_frame = frame

    def pause(self) -> None:
        """Stop the stream, keeping the position."""
        with self._lock:
            stream = self._stream
            self._playing = False
            if stream is not None:
                try:
                    stream.abort()
                except Exception:
                    pass

    def stop(self) -> None:
        """Stop and return the position to where the last :meth:`play` started."""
        self.pause()
        self._frame = self._play_start_frame

    def close(self) -> None:
        """Stop and release the output stream (call at application exit)."""
        self.pause()
        self._close_stream()

    # ------------------------------------------------------------------ stream

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream, self._stream_key = self._stream, None, None
            self._playing = False
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:
                pass

    def _start_stream(self) -> None:
        sd = self._sd()
        key = (self._device_id, self._sample_rate_hz, self._buffer.shape[1])
        with self._lock:
            if self._stream is None or self._stream_key != key:
                if self._stream is not None:
                    try:
                        self._stream.close()
                    except Exception:
                        pass
                try:
                    self._stream = sd.OutputStream(
                        samplerate=self._sample_rate_hz,
                        channels=self._buffer.shape[1],
                        dtype="float32",
                        device=self._device_id,
                        callback=self._callback,
                        finished_callback=self._on_finished,
                    )
                except Exception as exc:
                    self._stream, self._stream_key = None, None
                    raise PlaybackError(
                        f"Could not open the audio output (device {self._device_id!r}, "
                        f"{self._sample_rate_hz} Hz, {self._buffer.shape[1]} channels): {exc}"
                    ) from exc
                self._stream_key = key
            self._playing = True
            try:
                self._stream.start()
            except Exception as exc:
                self._playing = False
                raise PlaybackError(f"Could not start the audio output: {exc}") from exc
            latency = getattr(self._stream, "latency", 0.0)
            self._latency_frames = int(latency * self._sample_rate_hz) if isinstance(latency, (int, float)) else 0

    def _on_finished(self) -> None:
        self._playing = False

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """sounddevice callback (audio thread): copy the next block, stop at the end."""
        self._frame, finished = fill_block(
            outdata, self._buffer, self._frame, self._end_frame, self._loop
        )
        if finished:
            self._playing = False
            raise self._callback_stop
