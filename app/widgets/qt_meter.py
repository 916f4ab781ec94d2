"""A peak meter with a clip light, for the master bus (transport bar) and each track header.

The meter is only a view: whoever owns the audio calls :meth:`QtPeakMeter.set_levels` with the
peak of each channel since the last call, from a GUI timer (as friture's meters pull from their
buffers; nothing runs in the audio callback). The bar rises at once and falls at
``FALL_DB_PER_S``; a hold mark stays at the highest level for ``HOLD_S``; the clip light latches
red when a sample went beyond full scale (0 dBFS) and stays until clicked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

#: The meter's scale: this many dB below full scale is the empty bar.
FLOOR_DB = -60.0
#: Above these levels the bar turns yellow, then red.
WARN_DB, HOT_DB = -12.0, -3.0
FALL_DB_PER_S = 24.0
HOLD_S = 1.5
#: A sample beyond this magnitude clips a fixed-point output (and lights the clip light).
CLIP_LEVEL = 1.0
CLIP_LIGHT_PX = 8

_GREEN, _YELLOW, _RED = QColor("#4caf50"), QColor("#d6c13a"), QColor("#e0453a")
_BACKGROUND, _HOLD, _LIGHT_OFF = QColor("#1b1d20"), QColor("#e8e8e8"), QColor("#3a2a2a")


def to_db(level: float) -> float:
    """A linear peak in dBFS (``-inf`` for silence)."""
    return 20.0 * math.log10(level) if level > 0 else -math.inf


def window_peaks(audio: np.ndarray, start: int, stop: int) -> list[float]:
    """Peak magnitude of each channel of ``audio`` ``(channels, samples)`` in ``[start, stop)``
    (0 where the window is outside the audio)."""
    start, stop = max(0, start), min(audio.shape[1], stop)
    if stop <= start:
        return [0.0] * audio.shape[0]
    return [float(v) for v in np.abs(audio[:, start:stop]).max(axis=1)]


class QtPeakMeter(QWidget):
    """Horizontal bars, one per channel, and a clip light at the right end.

    Signals: ``clip_reset()`` (the user clicked the light off).
    """

    clip_reset = Signal()

    def __init__(self, channels: int = 2, parent: QWidget | None = None, *, bar_px: int = 4) -> None:
        super().__init__(parent)
        if channels not in (1, 2):
            raise ValueError(f"a meter shows 1 or 2 channels, got {channels}.")
        self.channels = channels
        self.bar_px = bar_px
        self.levels_db = [-math.inf] * channels
        self.hold_db = [-math.inf] * channels
        self._hold_until = [0.0] * channels
        self._last = time.monotonic()
        self.clipped = False
        self.max_peak = 0.0  # the highest peak since the clip light was last reset (linear)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(40)
        self.setFixedHeight(channels * bar_px + (channels + 1))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._update_tooltip()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(120, self.height())

    # -- levels --------------------------------------------------------------------------------

    def set_levels(self, peaks: Sequence[float], now: float | None = None) -> None:
        """The peak magnitude of each channel since the last call (linear; one value feeds both
        bars). ``now`` (seconds, monotonic) is for tests."""
        now = time.monotonic() if now is None else now
        values = list(peaks) or [0.0]
        if len(values) < self.channels:
            values = values * self.channels
        elapsed = max(0.0, now - self._last)
        self._last = now
        for i in range(self.channels):
            peak = float(values[i])
            if peak > self.max_peak:
                self.max_peak = peak
            if peak > CLIP_LEVEL:
                self.clipped = True
            db = to_db(peak)
            fallen = self.levels_db[i] - FALL_DB_PER_S * elapsed
            self.levels_db[i] = max(db, fallen) if fallen > FLOOR_DB else db
            if db >= self.hold_db[i] or now >= self._hold_until[i]:
                self.hold_db[i] = db
                self._hold_until[i] = now + HOLD_S
        self._update_tooltip()
        self.update()

    def clear_levels(self) -> None:
        """Empty bars (playback stopped); the clip light stays as it is."""
        self.levels_db = [-math.inf] * self.channels
        self.hold_db = [-math.inf] * self.channels
        self._update_tooltip()
        self.update()

    def reset_clip(self) -> None:
        """Turn the clip light off (and forget the highest peak)."""
        self.clipped = False
        self.max_peak = 0.0
        self._update_tooltip()
        self.update()
        self.clip_reset.emit()

    def _update_tooltip(self) -> None:
        peak = to_db(self.max_peak)
        text = "Peak level" + (f": {peak:+.1f} dBFS" if peak > -math.inf else ": silence")
        if self.clipped:
            text += " - CLIPPED (above 0 dBFS); click to reset"
        self.setToolTip(text)

    # -- painting ------------------------------------------------------------------------------

    def _fraction(self, db: float) -> float:
        if db == -math.inf:
            return 0.0
        return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        width = self.width() - CLIP_LIGHT_PX - 2
        painter.fillRect(self.rect(), _BACKGROUND)
        for i in range(self.channels):
            top = 1 + i * (self.bar_px + 1)
            level = self._fraction(self.levels_db[i])
            for lo_db, hi_db, colour in ((FLOOR_DB, WARN_DB, _GREEN), (WARN_DB, HOT_DB, _YELLOW), (HOT_DB, 0.0, _RED)):
                lo, hi = self._fraction(lo_db), min(self._fraction(hi_db), level)
                if hi > lo:
                    painter.fillRect(QRectF(lo * width, top, (hi - lo) * width, self.bar_px), colour)
            hold = self._fraction(self.hold_db[i])
            if hold > 0:
                painter.fillRect(QRectF(hold * width - 1, top, 2, self.bar_px), _HOLD)
        painter.fillRect(QRectF(self.width() - CLIP_LIGHT_PX, 0, CLIP_LIGHT_PX, self.height()),
                         _RED if self.clipped else _LIGHT_OFF)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self.reset_clip()
            event.accept()
            return
        super().mousePressEvent(event)
