"""Audio fixtures for the engine tests: small synthetic signals and hand-made WAV files."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

SAMPLE_RATE_HZ = 44100


def _tone(frequency_hz: float, duration_s: float, sample_rate_hz: int, amplitude: float) -> np.ndarray:
    t = np.arange(int(round(duration_s * sample_rate_hz))) / sample_rate_hz
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


@pytest.fixture
def make_tone() -> Callable[..., np.ndarray]:
    """``make_tone(frequency_hz=440, duration_s=1, sample_rate_hz=44100, amplitude=0.5, channels=1)``
    -> float32 ``(channels, samples)`` sine."""

    def make(
        frequency_hz: float = 440.0,
        duration_s: float = 1.0,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
        amplitude: float = 0.5,
        channels: int = 1,
    ) -> np.ndarray:
        tone = _tone(frequency_hz, duration_s, sample_rate_hz, amplitude)
        return np.repeat(tone[None, :], channels, axis=0)

    return make


@pytest.fixture
def make_click_train() -> Callable[..., np.ndarray]:
    """``make_click_train(times_s, duration_s=1, sample_rate_hz=44100)`` -> mono ``(1, samples)``:
    a 3 ms decaying noise burst (a drum-like click) starting at each time, silence elsewhere."""

    def make(times_s: Sequence[float], duration_s: float = 1.0, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
        rng = np.random.default_rng(1234)
        out = np.zeros(int(round(duration_s * sample_rate_hz)), dtype=np.float64)
        burst = int(0.003 * sample_rate_hz)
        envelope = np.exp(-np.arange(burst) / (0.0008 * sample_rate_hz))
        for time_s in times_s:
            start = int(round(time_s * sample_rate_hz))
            out[start : start + burst] += 0.9 * envelope[: len(out) - start] * rng.uniform(-1, 1, burst)[: len(out) - start]
        return out.astype(np.float32)[None, :]

    return make


@pytest.fixture
def make_music() -> Callable[..., np.ndarray]:
    """``make_music(duration_s=1, channels=1, seed=0)`` -> a short mix at 44.1 kHz: two harmonic
    notes with attack/decay, a noise burst and a kick-like click, peak 0.9. Stereo puts
    different notes left and right."""

    def make(duration_s: float = 1.0, channels: int = 1, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n = int(round(duration_s * SAMPLE_RATE_HZ))
        t = np.arange(n) / SAMPLE_RATE_HZ
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-2.0 * t)
        noise = np.zeros(n)
        start, length = n // 2, int(0.04 * SAMPLE_RATE_HZ)
        noise[start : start + length] = 0.2 * rng.standard_normal(len(noise[start : start + length]))
        kick = np.zeros(n)
        kick_len = min(n, int(0.1 * SAMPLE_RATE_HZ))
        tk = t[:kick_len]
        kick[:kick_len] = 0.5 * np.sin(2 * np.pi * (55 * tk + 60 * (1 - np.exp(-30 * tk)) / 30)) * np.exp(-25 * tk)
        rows = []
        for c in range(channels):
            f0 = (220.0, 330.0)[c % 2]
            notes = sum(0.2 / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.28)) for h in range(1, 6))
            rows.append(envelope * notes + noise + kick)
        mix = np.stack(rows)
        return (0.9 * mix / np.abs(mix).max()).astype(np.float32)

    return make


@pytest.fixture
def make_wav_file(tmp_path: Path) -> Callable[..., Path]:
    """``make_wav_file(name, channels=1, sample_rate_hz=44100, frames=100)`` -> a 16-bit PCM WAV
    written byte by byte, so tests can make headers soundfile would refuse to write
    (absurd rates, many channels, zero frames)."""

    def make(name: str, channels: int = 1, sample_rate_hz: int = SAMPLE_RATE_HZ, frames: int = 100) -> Path:
        data = (np.arange(frames * channels) % 200 - 100).astype("<i2").tobytes()
        block_align = 2 * channels
        header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
        header += b"fmt " + struct.pack(
            "<IHHIIHH", 16, 1, channels, sample_rate_hz, sample_rate_hz * block_align, block_align, 16
        )
        header += b"data" + struct.pack("<I", len(data))
        path = tmp_path / name
        path.write_bytes(header + data)
        return path

    return make
