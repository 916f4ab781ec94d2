"""MaskItem: a clip's painted mask as a translucent overlay on its spectrogram.

The item is a child of the clip's :class:`~app.plot_items.clip_item.ClipItem` (so it moves, trims
and clips with it) and shows the mask rasterised on a coarse display grid: at most
``MAX_DISPLAY_COLUMNS`` columns over the clip's audio by ``DISPLAY_ROWS`` rows evenly spaced on the
lane's mel axis, through one pyqtgraph ImageItem on the fast path (uint8, explicit levels, a
256-entry RGBA LUT, ``setRect`` in seconds x mel). The mask itself lives in seconds and Hz
(:mod:`app.model.mask`), so zooming, resizing or a new frequency scale only re-samples it.

While a gesture is under way :meth:`preview` shows the shape being drawn on top of the committed
mask; a stroke adds only its newest segment each time (cheap at any clip length).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from app.model.mask import EMPTY_MASK, Mask, MaskGrid, Shape, Stroke, apply_shape
from app.plot_items.axes import FrequencyScale

DISPLAY_ROWS = 128
MAX_DISPLAY_COLUMNS = 4096
#: Finest display column (the riffusion preset's hop).
MIN_COLUMN_S = 0.01
MASK_RGB = (90, 220, 255)
MASK_MAX_ALPHA = 140


def mask_lut(rgb: tuple[int, int, int] = MASK_RGB, max_alpha: int = MASK_MAX_ALPHA) -> np.ndarray:
    """(256, 4) uint8 RGBA lookup table: value 0 transparent, 255 ``max_alpha``."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[:, :3] = rgb
    lut[:, 3] = np.round(np.linspace(0, max_alpha, 256)).astype(np.uint8)
    return lut


def display_grid(total_s: float, scale: FrequencyScale) -> MaskGrid:
    """The overlay's grid for a clip whose audio lasts ``total_s`` seconds on a lane's ``scale``."""
    columns = max(1, min(MAX_DISPLAY_COLUMNS, math.ceil(total_s / MIN_COLUMN_S)))
    return MaskGrid(columns, total_s / columns, _row_hz(scale))


@functools.lru_cache(maxsize=8)
def _row_hz(scale: FrequencyScale) -> np.ndarray:
    """Hz of the display rows on ``scale`` (shared by every overlay on it: read-only)."""
    y = (np.arange(DISPLAY_ROWS) + 0.5) * (scale.height / DISPLAY_ROWS)
    hz = np.array([scale.hz_of_y(v) for v in y])
    hz.flags.writeable = False
    return hz


class MaskItem(pg.GraphicsObject):
    """The overlay of one clip's mask, in item coordinates x = seconds from the start of the clip's
    audio, y = mel units of the lane's ``scale`` above ``scale.f_min_hz``."""

    def __init__(self, mask: Mask, total_s: float, scale: FrequencyScale) -> None:
        super().__init__()
        self.mask = mask
        self.total_s = float(total_s)
        self.scale = scale
        self.lut = mask_lut()
        self.setFlag(self.GraphicsItemFlag.ItemHasNoContents, True)
        self.image_item: pg.ImageItem | None = None  # made when there is something to show
        self._grid = display_grid(self.total_s, scale)
        self._base: np.ndarray | None = None  # the committed mask on the grid (None: empty)
        self._work: np.ndarray | None = None  # committed mask + the shape being drawn
        self._preview_shape: Shape | None = None
        self._preview_points = 0
        self._redraw()

    # -- model -> view ----------------------------------------------------------------------------

    def set_mask(self, mask: Mask) -> None:
        """Show a new committed mask (ends any preview). Committing the shape being previewed
        keeps the preview's raster instead of drawing everything again (the same operations)."""
        committed_preview = (
            self._work is not None and self._preview_shape is not None
            and mask.shapes == (*self.mask.shapes, self._preview_shape)
        )
        self.mask = mask
        if committed_preview:
            self._base, self._work, self._preview_shape = self._work, None, None
            self._show(self._base)
        else:
            self._redraw()

    def set_scale(self, scale: FrequencyScale) -> None:
        if scale != self.scale:
            self.scale = scale
            self._grid = display_grid(self.total_s, scale)
            self._redraw()

    def clip_layout_changed(self, clip_item) -> None:
        """Follow the clip item's trim and lane layout (called by ClipItem)."""
        layout = clip_item.layout
        self.set_scale(layout.scale)
        band = layout.spectrogram_band
        self.setPos(-clip_item.offset_s, band[0] if band is not None else 0.0)
        self.setVisible(band is not None)

    # -- previews --------------------------------------------------------------------------------

    def preview(self, shape: Shape | None) -> None:
        """Show ``shape`` over the committed mask (None: only the committed mask).

        A stroke that grew since the last call only has its new segments drawn."""
        self._preview_shape = shape
        if shape is None:
            self._work, self._preview_points = None, 0
        elif isinstance(shape, Stroke) and self._work is not None and 0 < self._preview_points <= len(shape.points):
            first = self._preview_points - 1
            if len(shape.points) > self._preview_points:
                apply_shape(self._work, self._grid, shape, first_segment=first)
            self._preview_points = len(shape.points)
        else:
            self._work = self._zeros() if self._base is None else self._base.copy()
            apply_shape(self._work, self._grid, shape)
            self._preview_points = len(shape.points) if isinstance(shape, Stroke) else 0
        self._show(self._work if self._work is not None else self._base)

    def _zeros(self) -> np.ndarray:
        return np.zeros((self._grid.rows, self._grid.columns), dtype=np.float32)

    @property
    def previewing(self) -> bool:
        return self._work is not None

    def shown_values(self) -> np.ndarray:
        """What the overlay shows now, float32 ``(rows, columns)`` in [0, 1] (tests, tools)."""
        shown = self._work if self._work is not None else self._base
        return self._zeros() if shown is None else shown.copy()

    @property
    def grid(self) -> MaskGrid:
        return self._grid

    # -- drawing ---------------------------------------------------------------------------------

    def _redraw(self) -> None:
        self._base = None if self.mask == EMPTY_MASK else self.mask.rasterise(self._grid)
        self._work, self._preview_shape = None, None
        self._show(self._base)

    def _show(self, values: np.ndarray | None) -> None:
        if values is None:  # nothing painted: no image (nor item) for clips without a mask
            if self.image_item is not None:
                self.image_item.clear()
                self.image_item.setVisible(False)
            return
        if self.image_item is None:
            self.image_item = pg.ImageItem(axisOrder="row-major")
            self.image_item.setParentItem(self)
        pixels = np.ascontiguousarray(np.round(values * 255.0).astype(np.uint8))
        self.image_item.setImage(pixels, levels=(0, 255), lut=self.lut, autoLevels=False)
        self.image_item.setRect(QtCore.QRectF(0.0, 0.0, self.total_s, self.scale.height))
        self.image_item.setVisible(bool(pixels.any()))

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt API
        return QtCore.QRectF(0.0, 0.0, self.total_s, self.scale.height)

    def paint(self, painter, *args) -> None:
        pass
