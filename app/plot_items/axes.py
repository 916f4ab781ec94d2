"""Axes of the timeline: time in seconds, frequency in Hz placed on the mel scale.

Spectrogram image rows are mel bins, so a lane's y coordinate is mel (minus the mel of the lowest
frequency shown); :class:`MelFrequencyAxis` writes Hz labels at the mel positions of round
frequencies. :class:`FrequencyScale` converts both ways (htk or slaney mel, as the presets use).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyqtgraph as pg

from engine.audio.mel_scale import MEL_SCALES, hz_to_mel, mel_to_hz  # noqa: F401 - the engine's, used here and re-exported
#: Round frequencies (Hz) the frequency axis may label, coarse ones first.
_HZ_TICKS = (
    (100, 1000, 10000),
    (50, 200, 500, 2000, 5000, 20000),
    (20, 300, 700, 1500, 3000, 7000, 15000),
    (30, 150, 400, 600, 800, 1200, 2500, 4000, 6000, 8000, 12000, 18000),
)
MIN_TICK_SPACING_PX = 18
#: No label closer than this to either end of the axis (it would be cut off).
EDGE_MARGIN_PX = 7


@dataclass(frozen=True)
class FrequencyScale:
    """The frequency span a lane shows and its y coordinates: ``y = mel(hz) - mel(f_min_hz)``."""

    f_min_hz: float = 0.0
    f_max_hz: float = 10000.0
    mel_scale: str = "htk"

    def __post_init__(self) -> None:
        if self.mel_scale not in MEL_SCALES:
            raise ValueError(f"`mel_scale` must be one of {MEL_SCALES}, got {self.mel_scale!r}.")
        if not 0 <= self.f_min_hz < self.f_max_hz:
            raise ValueError(
                f"need 0 <= f_min_hz < f_max_hz, got f_min_hz={self.f_min_hz}, f_max_hz={self.f_max_hz}."
            )

    # Cached: every clip item asks for these (a frozen dataclass may cache: it owns its __dict__).
    @cached_property
    def _mel_min(self) -> float:
        return float(hz_to_mel(self.f_min_hz, self.mel_scale))

    @cached_property
    def height(self) -> float:
        """y of ``f_max_hz`` (the band is ``0 .. height``)."""
        return self.y_of_hz(self.f_max_hz)

    def y_of_hz(self, hz: float) -> float:
        return float(hz_to_mel(hz, self.mel_scale) - self._mel_min)

    def hz_of_y(self, y: float) -> float:
        y = min(max(float(y), 0.0), self.height)
        return float(mel_to_hz(y + self._mel_min, self.mel_scale))


def format_hz(hz: float) -> str:
    """1500 -> '1.5k', 200 -> '200'."""
    if hz >= 1000:
        return f"{hz / 1000:g}k"
    return f"{hz:g}"


class MelFrequencyAxis(pg.AxisItem):
    """Left axis of a lane: Hz labels at mel positions inside the spectrogram band
    (y from ``band_y0``, where ``scale.f_min_hz`` sits, up), amplitude labels in a waveform band."""

    def __init__(self, scale: FrequencyScale, **kwargs) -> None:
        super().__init__("left", **kwargs)
        self.freq_scale = scale
        self.band_y0 = 0.0
        self.show_frequency = True
        self.waveform_band: tuple[float, float] | None = None  # (y of -1, y of +1)

    def configure(
        self,
        scale: FrequencyScale,
        *,
        show_frequency: bool,
        waveform_band: tuple[float, float] | None,
    ) -> None:
        self.freq_scale = scale
        self.show_frequency = show_frequency
        self.waveform_band = waveform_band
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph API
        if maxVal <= minVal or size <= 0:
            return []
        px_per_unit = size / (maxVal - minVal)
        margin = EDGE_MARGIN_PX / px_per_unit
        minVal, maxVal = minVal + margin, maxVal - margin  # noqa: N806 - pyqtgraph names
        taken: list[float] = []
        if self.waveform_band is not None:
            lo, hi = self.waveform_band
            for amplitude in (-0.5, 0.0, 0.5):
                y = lo + (amplitude + 1) / 2 * (hi - lo)
                if minVal <= y <= maxVal:
                    taken.append(y)
        if self.show_frequency:
            for level in _HZ_TICKS:
                for hz in level:
                    if not self.freq_scale.f_min_hz <= hz <= self.freq_scale.f_max_hz:
                        continue
                    y = self.band_y0 + self.freq_scale.y_of_hz(hz)
                    if not minVal <= y <= maxVal:
                        continue
                    if all(abs(y - t) * px_per_unit >= MIN_TICK_SPACING_PX for t in taken):
                        taken.append(y)
        return [(1.0, sorted(taken))]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        labels = []
        for y in values:
            if self.waveform_band is not None and self.waveform_band[0] - 1e-9 <= y <= self.waveform_band[1] + 1e-9:
                lo, hi = self.waveform_band
                amplitude = round(2 * (y - lo) / (hi - lo) - 1, 3)
                labels.append("0" if amplitude == 0 else f"{amplitude:+g}")
            else:
                labels.append(format_hz(round(self.freq_scale.hz_of_y(y - self.band_y0))))
        return labels


def format_time(seconds: float, spacing_s: float = 1.0) -> str:
    """Seconds as ``m:ss`` with as many decimals as the tick spacing needs."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    decimals = 0 if spacing_s >= 1 else min(3, int(math.ceil(-math.log10(spacing_s) - 1e-9)))
    minutes, secs = divmod(seconds, 60.0)
    secs = round(secs, decimals)
    if secs >= 60:
        minutes, secs = minutes + 1, secs - 60
    width = 2 + (decimals + 1 if decimals else 0)
    return f"{sign}{int(minutes)}:{secs:0{width}.{decimals}f}"


class TimeAxis(pg.AxisItem):
    """Time axis labelled ``m:ss.s`` (values are seconds)."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)  # seconds stay seconds (and no label re-layout per frame)

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [format_time(v, spacing) for v in values]
