"""WaveformItem: a clip's min/max envelope over only the visible range.

Like pyqtgraph's ``examples/hdf5.py``: on every view change the item asks its
:class:`~app.plot_items.envelope.EnvelopePyramid` for the visible samples only, reduced to about
the pixel count, and draws the interleaved min/max as one curve; a transform places it (x in
seconds from the clip's audible start, y scaled into the lane's waveform band).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from app.plot_items.envelope import EnvelopePyramid


class WaveformItem(pg.PlotCurveItem):
    """Envelope of samples ``first_sample:stop_sample`` of a clip's audio.

    Item x coordinates are seconds from ``first_sample``; y is amplitude (use a transform to
    place it in a band). ``columns_drawn`` tells how many envelope columns the last update drew.
    ``pyramid`` may be None while it is being computed; :meth:`set_pyramid` fills it in.
    """

    def __init__(
        self,
        pyramid: EnvelopePyramid | None,
        sample_rate_hz: int,
        first_sample: int,
        stop_sample: int,
        *,
        pen=None,
    ) -> None:
        super().__init__(pen=pen if pen is not None else pg.mkPen((210, 225, 240), width=1))
        self.pyramid = pyramid
        self.sample_rate_hz = int(sample_rate_hz)
        self.first_sample = int(first_sample)
        self.stop_sample = int(stop_sample)
        self.columns_drawn = 0
        self._last_key: tuple | None = None

    def set_pyramid(self, pyramid: EnvelopePyramid) -> None:
        self.pyramid = pyramid
        self._last_key = None
        self.refresh()

    def set_audible_range(self, first_sample: int, stop_sample: int) -> None:
        self.first_sample, self.stop_sample = int(first_sample), int(stop_sample)
        self.refresh()

    def viewRangeChanged(self) -> None:  # noqa: N802 - pyqtgraph hook
        self.refresh()

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph hook (resize)
        self.refresh()

    def visible_local_range(self) -> tuple[float, float, float] | None:
        """``(x0, x1, pixels)``: the visible part in item x units and its width in pixels."""
        vb = self.getViewBox()
        if vb is None:
            return None
        rect = self.mapRectFromView(vb.viewRect())
        view_px = vb.width()
        if rect is None or rect.width() <= 0 or view_px <= 0:
            return None
        length_s = (self.stop_sample - self.first_sample) / self.sample_rate_hz
        x0, x1 = max(0.0, rect.left()), min(length_s, rect.right())
        if x1 <= x0:
            return x0, x0, 0.0
        return x0, x1, view_px * (x1 - x0) / rect.width()

    def refresh(self) -> None:
        """Recompute the visible envelope (cheap: pixel-count work)."""
        visible = self.visible_local_range()
        if visible is None or self.pyramid is None:
            return
        x0, x1, pixels = visible
        sr = self.sample_rate_hz
        first = self.first_sample + int(np.floor(x0 * sr))
        stop = min(self.stop_sample, self.first_sample + int(np.ceil(x1 * sr)) + 1)
        columns = max(1, int(round(pixels)))
        key = (first, stop, columns)
        if key == self._last_key:
            return
        self._last_key = key
        x, lo, hi = self.pyramid.envelope(first, stop, columns)
        self.columns_drawn = int(x.shape[0])
        if x.shape[0] == 0:
            self.setData(np.zeros(0), np.zeros(0))
            return
        xs = np.repeat((x - self.first_sample) / sr, 2)
        ys = np.empty(2 * lo.shape[0], np.float32)
        ys[0::2] = lo
        ys[1::2] = hi
        self.setData(xs, ys, skipFiniteCheck=True)

    def envelope_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The (x seconds, y) points drawn now (for tests and tools)."""
        x, y = self.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (x, y)

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt API
        # The envelope never leaves the amplitude band; a fixed rect avoids pyqtgraph's
        # per-update bounds computation.
        length_s = (self.stop_sample - self.first_sample) / self.sample_rate_hz
        return QtCore.QRectF(0.0, -1.0, length_s, 2.0)
