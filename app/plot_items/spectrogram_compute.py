"""Display spectrograms of clips, computed off the GUI thread (numpy + engine; no Qt).

A :class:`SpectrogramJob` runs on a worker thread: it takes the clip's preset
(:func:`engine.audio.spectrogram.get_preset`), makes a lighter display variant of it
(:func:`display_params`: the clip's own rate, ``DISPLAY_N_MELS`` rows, mono), and calls
:func:`engine.audio.spectrogram.mel_from_audio` chunk by chunk (``CHUNK_COLUMNS`` columns plus
half an FFT frame of context on each side, so the chunks join without a seam). Each chunk's mel
amplitudes are mapped to uint8 decibels against a full-scale sine (the same mapping for every
chunk and clip) and written into the image's level 0; after the last chunk the coarser levels are
pooled. ``on_progress(done)`` is called on the worker thread after each chunk; the GUI turns
that into a queued signal.

engine.audio.spectrogram imports torch, so it is imported here only inside :meth:`SpectrogramJob.run`
(on the worker), never on the GUI thread.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from app.plot_items.axes import hz_to_mel, mel_to_hz
from app.plot_items.spectrogram_item import DISPLAY_RANGE_DB, SpectrogramImage, pool_columns

#: Mel rows of the display image (the lane is 100-200 px tall).
DISPLAY_N_MELS = 256
#: Columns computed per chunk (20 s at Riffusion's 10 ms hop).
CHUNK_COLUMNS = 2048
#: Pooled levels stop at this many columns.
MIN_LEVEL_COLUMNS = 256


def display_params(preset: Any, sample_rate_hz: int) -> Any:
    """A display variant of a SpectrogramParams ``preset`` at the clip's rate: mono,
    ``DISPLAY_N_MELS`` mel bins, the preset's step and window, ``max_frequency`` capped at Nyquist,
    and the FFT padded only as far as the narrowest mel band needs to hold an FFT bin (the
    presets' 4x padding would cost 2-4x the time for no visible detail at lane height)."""
    sr = int(sample_rate_hz)
    f_min = min(float(preset.min_frequency), sr / 4.0)
    f_max = min(float(preset.max_frequency), sr / 2.0)
    scale = preset.mel_scale_type
    step = (hz_to_mel(f_max, scale) - hz_to_mel(f_min, scale)) / (DISPLAY_N_MELS + 1)
    narrowest_hz = float(mel_to_hz(hz_to_mel(f_min, scale) + 2 * step, scale)) - f_min
    padded = float(preset.window_duration_ms)
    while 1000.0 / padded > narrowest_hz and padded < preset.padded_duration_ms:
        padded = min(2 * padded, float(preset.padded_duration_ms))
    return dataclasses.replace(
        preset,
        stereo=False,
        sample_rate=sr,
        num_frequencies=DISPLAY_N_MELS,
        padded_duration_ms=padded,
        max_frequency=f_max,
        min_frequency=f_min,
    )


_REFERENCE_CACHE: dict[Any, float] = {}
_REFERENCE_LOCK = threading.Lock()


def full_scale_reference(params: Any, mel_from_audio: Callable[..., np.ndarray]) -> float:
    """Peak mel amplitude of a full-scale 1 kHz sine (or a quarter of the band's top) under
    ``params``: the 0 dB of the display."""
    with _REFERENCE_LOCK:
        cached = _REFERENCE_CACHE.get(params)
        if cached is not None:
            return cached
    sr = params.sample_rate
    freq = min(1000.0, 0.25 * params.max_frequency + 0.75 * params.min_frequency)
    n = max(4 * params.n_fft, sr // 2)
    t = np.arange(n, dtype=np.float64) / sr
    sine = np.sin(2 * np.pi * freq * t).astype(np.float32)[None, :]
    reference = float(mel_from_audio(sine, params).max())
    with _REFERENCE_LOCK:
        _REFERENCE_CACHE[params] = reference
    return reference


def mel_to_uint8(mel: np.ndarray, reference: float) -> np.ndarray:
    """Mel amplitudes -> uint8 decibels: 255 at ``reference``, 0 at DISPLAY_RANGE_DB below."""
    db = 20.0 * np.log10(np.maximum(mel, reference * 1e-9) / reference)
    scaled = (db + DISPLAY_RANGE_DB) * (255.0 / DISPLAY_RANGE_DB)
    return np.clip(scaled, 0, 255).astype(np.uint8)


class SpectrogramJob:
    """Computes the display spectrogram of ``audio`` (channels, samples) at ``sample_rate_hz``
    with the named spectrogram preset. Build on the GUI thread, :meth:`run` on a worker.

    After ``run`` starts, ``image`` holds the :class:`SpectrogramImage` being filled
    (``columns_done`` grows); when it ends, ``error`` is None or the reason it failed, and
    :meth:`publish_levels` (GUI thread) adds the pooled levels and marks the image complete.
    """

    def __init__(self, audio: np.ndarray, sample_rate_hz: int, preset: str = "riffusion") -> None:
        self.audio = audio
        self.sample_rate_hz = int(sample_rate_hz)
        self.preset = preset
        self.image: SpectrogramImage | None = None
        self.error: str | None = None
        self.on_progress: Callable[[bool], None] | None = None
        self._cancelled = threading.Event()
        self._levels: list[np.ndarray] | None = None

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _report(self, done: bool) -> None:
        if self.on_progress is not None and not self.cancelled:
            self.on_progress(done)

    def run(self) -> None:
        """Worker thread: compute chunk by chunk, reporting after each."""
        try:
            self._compute()
        except Exception as exc:  # reported to the GUI, which keeps showing the waveform
            self.error = f"{type(exc).__name__}: {exc}"
        self._report(True)

    def _compute(self) -> None:
        from engine.api import get_preset, mel_from_audio  # mel_from_audio imports torch: this is a worker thread

        params = display_params(get_preset(self.preset), self.sample_rate_hz)
        reference = full_scale_reference(params, mel_from_audio)
        audio = self.audio
        samples = audio.shape[1]
        hop = params.hop_length
        columns = 1 + samples // hop
        image = SpectrogramImage(
            levels=[np.zeros((params.num_frequencies, columns), np.uint8)],
            columns_per_s=params.sample_rate / hop,
            f_min_hz=float(params.min_frequency),
            f_max_hz=float(params.max_frequency),
            mel_scale=params.mel_scale_type,
        )
        self.image = image
        context = -(-(params.n_fft // 2) // hop)  # frames of context each side of a chunk
        mono = audio.mean(axis=0, dtype=np.float32) if audio.shape[0] > 1 else audio[0]
        for c0 in range(0, columns, CHUNK_COLUMNS):
            if self.cancelled:
                return
            c1 = min(columns, c0 + CHUNK_COLUMNS)
            # Frame j of the chunk is centred on sample s0 + j * hop, i.e. on column c0 - context + j;
            # frames context .. context + (c1 - c0) - 1 see only real neighbours (no reflect padding).
            s0 = (c0 - context) * hop
            s1 = (c1 - 1 + context) * hop + 1
            chunk = np.zeros(s1 - s0, np.float32)
            lo, hi = max(0, s0), min(samples, s1)
            if hi > lo:
                chunk[lo - s0 : hi - s0] = mono[lo:hi]
            mel = mel_from_audio(chunk[None, :], params)[0]
            image.levels[0][:, c0:c1] = mel_to_uint8(mel[:, context : context + (c1 - c0)], reference)
            image.columns_done = c1
            if c1 < columns:
                self._report(False)
        levels = [image.levels[0]]
        while levels[-1].shape[1] > MIN_LEVEL_COLUMNS:
            levels.append(pool_columns(levels[-1]))
        self._levels = levels

    def publish_levels(self) -> None:
        """GUI thread, after run() finished without error: install the pooled levels."""
        if self.image is not None and self._levels is not None:
            self.image.levels = self._levels
            self.image.columns_done = self.image.columns
            self.image.complete = True

