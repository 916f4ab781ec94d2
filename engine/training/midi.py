"""A minimal Standard MIDI File writer (format 0, one track), enough for rendering with fluidsynth.

Times are in seconds; the file uses a fixed tempo of 120 BPM at 500 ticks per beat, so one
tick is exactly 1 ms. ::

    events = [MidiEvent(0.0, program_change(0, 40)), MidiEvent(0.0, note_on(0, 69, 100)),
              MidiEvent(1.0, note_off(0, 69))]
    Path("a4.mid").write_bytes(midi_file_bytes(events, end_s=1.5))
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

TICKS_PER_BEAT = 500
#: Microseconds per beat of the file's one tempo (120 BPM).
TEMPO_US_PER_BEAT = 500_000
TICKS_PER_S = TICKS_PER_BEAT * 1_000_000 // TEMPO_US_PER_BEAT  # 1000

#: Controller numbers used by the corpus renderer.
CC_BANK_SELECT = 0
CC_VOLUME = 7
CC_PAN = 10
CC_EXPRESSION = 11
CC_REVERB = 91
CC_CHORUS = 93
CC_ALL_SOUND_OFF = 120
CC_RESET_CONTROLLERS = 121
CC_ALL_NOTES_OFF = 123


@dataclass(frozen=True)
class MidiEvent:
    """A channel message (``data``: status byte and its data bytes) at ``time_s`` seconds."""

    time_s: float
    data: bytes


def _check(channel: int, *values: int) -> None:
    if not 0 <= channel <= 15:
        raise ValueError(f"MIDI channel must be 0..15, got {channel}.")
    for value in values:
        if not 0 <= value <= 127:
            raise ValueError(f"MIDI data bytes must be 0..127, got {value}.")


def note_on(channel: int, key: int, velocity: int) -> bytes:
    _check(channel, key, velocity)
    return bytes((0x90 | channel, key, velocity))


def note_off(channel: int, key: int) -> bytes:
    _check(channel, key)
    return bytes((0x80 | channel, key, 0))


def control_change(channel: int, controller: int, value: int) -> bytes:
    _check(channel, controller, value)
    return bytes((0xB0 | channel, controller, value))


def program_change(channel: int, program: int) -> bytes:
    _check(channel, program)
    return bytes((0xC0 | channel, program))


#: The General MIDI "GM System On" message as a Standard MIDI File sysex event: every channel
#: back to its power-on state (fluidsynth also frees every voice).
GM_SYSTEM_ON = b"\xf0\x05\x7e\x7f\x09\x01\xf7"


def _variable_length(value: int) -> bytes:
    """MIDI variable-length quantity (7 bits per byte, high bit = more bytes follow)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_file_bytes(events: Iterable[MidiEvent], end_s: float | None = None) -> bytes:
    """A format-0 Standard MIDI File with ``events`` (sorted stably by time) and an end-of-track
    at ``end_s`` (default: the last event), so a renderer plays to exactly that time.

    Raises ValueError for a negative time or an ``end_s`` before the last event.
    """
    ordered = sorted(events, key=lambda e: e.time_s)
    if ordered and ordered[0].time_s < 0:
        raise ValueError(f"MIDI event times must be >= 0 s, got {ordered[0].time_s}.")
    last_s = ordered[-1].time_s if ordered else 0.0
    if end_s is None:
        end_s = last_s
    if end_s < last_s:
        raise ValueError(f"`end_s` ({end_s}) is before the last event ({last_s} s).")
    track = bytearray(b"\x00\xff\x51\x03" + TEMPO_US_PER_BEAT.to_bytes(3, "big"))
    tick = 0
    for event in ordered:
        when = int(round(event.time_s * TICKS_PER_S))
        track += _variable_length(when - tick) + event.data
        tick = when
    track += _variable_length(int(round(end_s * TICKS_PER_S)) - tick) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
