"""Hz <-> mel and where a spectrogram's mel bins sit: numpy only, no torch.

The one place these conversions live: the edits (masks in Hz, frequency-limited regions), the
timeline's frequency axis and the app's mask model all use it. ``htk`` is 2595 log10(1 + f/700)
(Riffusion's presets); ``slaney`` is linear below 1 kHz and logarithmic above (librosa's default).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MEL_SCALES = ("htk", "slaney")
_F_SP, _MIN_LOG_HZ, _LOGSTEP = 200.0 / 3, 1000.0, math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float, mel_scale: str = "htk") -> np.ndarray | float:
    """Frequency in Hz to mel on ``mel_scale`` (float64)."""
    hz = np.asarray(hz, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    if mel_scale == "slaney":
        log_part = _MIN_LOG_HZ / _F_SP + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
        return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)
    raise ValueError(f"`mel_scale` must be one of {MEL_SCALES}, got {mel_scale!r}.")


def mel_to_hz(mel: np.ndarray | float, mel_scale: str = "htk") -> np.ndarray | float:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    if mel_scale == "slaney":
        min_log_mel = _MIN_LOG_HZ / _F_SP
        return np.where(mel >= min_log_mel, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - min_log_mel)), _F_SP * mel)
    raise ValueError(f"`mel_scale` must be one of {MEL_SCALES}, got {mel_scale!r}.")


def mel_bin_frequencies(params: Any) -> np.ndarray:
    """Centre frequency in Hz of each mel bin of spectrogram ``params`` (bin 0 lowest), as
    torchaudio's filterbank places them."""
    scale = params.mel_scale_type
    lo, hi = hz_to_mel(params.min_frequency, scale), hz_to_mel(params.max_frequency, scale)
    return mel_to_hz(np.linspace(lo, hi, params.num_frequencies + 2)[1:-1], scale)


def bins_for_band(params: Any, fmin_hz: float | None, fmax_hz: float | None) -> tuple[int, int]:
    """Mel bins ``[lo, hi)`` whose centre frequency lies in ``[fmin_hz, fmax_hz]`` (None = open end).

    Raises ValueError if no bin's centre lies in the band (a band narrower than one mel bin).
    """
    centres = mel_bin_frequencies(params)
    lo = 0 if fmin_hz is None else int(np.searchsorted(centres, fmin_hz, side="left"))
    hi = len(centres) if fmax_hz is None else int(np.searchsorted(centres, fmax_hz, side="right"))
    if hi <= lo:
        raise ValueError(
            f"the band {fmin_hz or 0:g}-{fmax_hz or params.max_frequency:g} Hz holds no mel bin of the "
            f"spectrogram ({params.num_frequencies} bins over {params.min_frequency:g}-{params.max_frequency:g} Hz); "
            "widen it."
        )
    return lo, hi
