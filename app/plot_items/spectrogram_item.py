"""SpectrogramItem: a clip's spectrogram as tiles of pyqtgraph ImageItems on the fast path.

The display image (:class:`SpectrogramImage`) is uint8 ``(mel bins, frames)``, row 0 the lowest
mel bin, computed off the GUI thread (app/plot_items/spectrogram_compute.py). Every tile is an
``ImageItem`` fed row-major C-contiguous uint8 with explicit ``levels=(0, 255)`` and a 256-entry
uint8 LUT (pyqtgraph turns that into an Indexed8 QImage without touching the pixels) and placed
with ``setRect`` in plot units: seconds by mel-of-Hz. Coarser levels (columns max-pooled by 2,
4, ...) are chosen so that about one to two image columns fall on a screen pixel, and only the
tiles of that level in view are shown, so panning and zooming over a 10-minute clip draws about a
screen's worth of pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from app.plot_items.axes import FrequencyScale

#: Columns per ImageItem tile.
TILE_COLUMNS = 1024
#: Colormap of the spectrogram (a 256-entry uint8 LUT is built from it).
COLORMAP_NAME = "inferno"
#: Colour maps offered (pyqtgraph names; "CET-L1" is a plain grey ramp), with their labels.
COLORMAPS = {"inferno": "Inferno", "magma": "Magma", "viridis": "Viridis", "plasma": "Plasma",
             "cividis": "Cividis", "turbo": "Turbo", "CET-L1": "Grey"}
#: Dynamic range of the display images: pixel 0 = DISPLAY_RANGE_DB below a full-scale sine,
#: 255 = the sine (app/plot_items/spectrogram_compute.py). A smaller shown range only needs a LUT.
DISPLAY_RANGE_DB = 90.0
MIN_SHOWN_RANGE_DB = 20.0


def spectrogram_lut(name: str = COLORMAP_NAME, range_db: float = DISPLAY_RANGE_DB) -> np.ndarray:
    """(256, 3) uint8 lookup table: the colormap ``name`` spread over the top ``range_db``
    decibels of the display image (everything quieter is the colormap's darkest colour).
    Raises ValueError for an unknown colormap or a range outside 20-90 dB."""
    if name not in COLORMAPS:
        raise ValueError(f"colour map must be one of {', '.join(COLORMAPS)}, got {name!r}.")
    if not MIN_SHOWN_RANGE_DB <= float(range_db) <= DISPLAY_RANGE_DB:
        raise ValueError(
            f"spectrogram range must be {MIN_SHOWN_RANGE_DB:g} to {DISPLAY_RANGE_DB:g} dB, got {range_db!r}."
        )
    colors = np.ascontiguousarray(pg.colormap.get(name).getLookupTable(nPts=256, alpha=False), dtype=np.uint8)
    db = np.arange(256) / 255.0 * DISPLAY_RANGE_DB - DISPLAY_RANGE_DB  # what each pixel value means
    position = np.clip((db + float(range_db)) / float(range_db), 0.0, 1.0)
    return np.ascontiguousarray(colors[np.round(position * 255).astype(np.intp)])


def pool_columns(image: np.ndarray) -> np.ndarray:
    """Max of each pair of columns of a (rows, columns) uint8 image (the last odd one kept)."""
    cols = image.shape[1]
    even = (cols // 2) * 2
    pooled = np.maximum(image[:, 0:even:2], image[:, 1:even:2])
    if even < cols:
        pooled = np.concatenate([pooled, image[:, even:]], axis=1)
    return np.ascontiguousarray(pooled)


@dataclass
class SpectrogramImage:
    """The display spectrogram of one audio array.

    ``levels[0]`` is uint8 ``(rows, columns)`` with row 0 the lowest mel bin; ``levels[k]`` has its
    columns max-pooled ``2**k`` times. Column ``c`` of level 0 is centred on ``c /
    columns_per_s`` seconds from the start of the audio. ``columns_done`` counts the level-0
    columns computed so far (the image fills in while the worker runs); ``complete`` turns True
    with the coarser levels.
    """

    levels: list[np.ndarray]
    columns_per_s: float
    f_min_hz: float
    f_max_hz: float
    mel_scale: str = "htk"
    columns_done: int = 0
    complete: bool = False
    listeners: list = field(default_factory=list, repr=False)
    #: Contiguous tile copies, shared by every item showing this image (clips cut from one array).
    _tiles: dict = field(default_factory=dict, repr=False)

    @property
    def rows(self) -> int:
        return int(self.levels[0].shape[0])

    @property
    def columns(self) -> int:
        return int(self.levels[0].shape[1])

    def tile(self, level: int, index: int, done: int) -> np.ndarray:
        """Columns ``index * TILE_COLUMNS`` up to ``done`` of ``levels[level]`` as one
        C-contiguous uint8 array, made once and shared."""
        key = (level, index)
        cached = self._tiles.get(key)
        if cached is not None and cached[0] == done and cached[1] is self.levels[level]:
            return cached[2]
        data = self.levels[level]
        tile = np.ascontiguousarray(data[:, index * TILE_COLUMNS : done])
        self._tiles[key] = (done, data, tile)
        return tile

    def notify(self) -> None:
        """Tell the items showing this image that it changed (GUI thread)."""
        for listener in list(self.listeners):
            listener()


class SpectrogramItem(pg.GraphicsObject):
    """Shows a :class:`SpectrogramImage` in item coordinates: x seconds from the start of the
    audio, y mel units of ``scale`` (the lane's frequency axis)."""

    def __init__(self, image: SpectrogramImage, scale: FrequencyScale, lut: np.ndarray | None = None) -> None:
        super().__init__()
        self.image = image
        self.scale = scale
        self.lut = spectrogram_lut() if lut is None else lut
        self._tiles: dict[tuple[int, int], pg.ImageItem] = {}
        self._shown: set[tuple[int, int]] = set()
        self._tile_columns_set: dict[tuple[int, int], int] = {}
        #: The part of the audio (seconds from its start) the parent clip shows; None: all.
        self.audible: tuple[float, float] | None = None
        self.level_shown = 0
        self.setFlag(self.GraphicsItemFlag.ItemHasNoContents, True)
        image.listeners.append(self._on_image_changed)

    def detach(self) -> None:
        """Stop listening to the image (the item is being removed)."""
        if self._on_image_changed in self.image.listeners:
            self.image.listeners.remove(self._on_image_changed)

    # -- geometry ------------------------------------------------------------------------------

    def _y_span(self) -> tuple[float, float]:
        y0 = self.scale.y_of_hz(max(self.image.f_min_hz, self.scale.f_min_hz))
        y1 = self.scale.y_of_hz(min(self.image.f_max_hz, self.scale.f_max_hz))
        return y0, y1

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt API
        half = 0.5 / self.image.columns_per_s
        y0, y1 = self._y_span()
        return QtCore.QRectF(-half, y0, self.image.columns / self.image.columns_per_s, y1 - y0)

    def paint(self, painter, *args) -> None:
        pass

    def set_audible(self, start_s: float, end_s: float) -> None:
        """Only tiles over ``start_s .. end_s`` (seconds from the audio's start) are shown."""
        self.audible = (float(start_s), float(end_s))

    def set_lut(self, lut: np.ndarray) -> None:
        """Recolour (a new colour map or dB range): the tiles keep their pixels."""
        self.lut = lut
        for tile in self._tiles.values():
            tile.setLookupTable(lut)

    def set_scale(self, scale: FrequencyScale) -> None:
        self.scale = scale
        self.prepareGeometryChange()
        for key in self._tiles:
            self._place(key)

    # -- level and tile choice ---------------------------------------------------------------

    def viewRangeChanged(self) -> None:  # noqa: N802 - pyqtgraph hook
        self.refresh()

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph hook
        self.refresh()

    def _on_image_changed(self) -> None:
        self.prepareGeometryChange()
        self.refresh()

    def choose_level(self, px_per_s: float) -> int:
        """The coarsest level with at least one image column per screen pixel... but at most two."""
        image = self.image
        if not image.complete or px_per_s <= 0:
            return 0
        columns_per_px = image.columns_per_s / px_per_s
        level = int(math.floor(math.log2(columns_per_px))) if columns_per_px > 1 else 0
        return max(0, min(level, len(image.levels) - 1))

    def refresh(self, force: bool = False) -> None:
        vb = self.getViewBox()
        if vb is None or not self.isVisible():
            return
        rect = self.mapRectFromView(vb.viewRect())
        if rect is None or rect.width() <= 0 or vb.width() <= 0:
            return
        level = self.choose_level(vb.width() / rect.width())
        if self.audible is not None:  # only what the clip shows of its audio
            left, right = max(rect.left(), self.audible[0]), min(rect.right(), self.audible[1])
            if right < left:  # the clip is out of view
                self._hide(self._shown)
                self._shown = set()
                return
            rect = QtCore.QRectF(left, rect.top(), right - left, rect.height())
        self.level_shown = level
        cols_per_s = self.image.columns_per_s / (1 << level)
        level_cols = self.image.levels[level].shape[1]
        tiles = -(-level_cols // TILE_COLUMNS)
        half = 0.5 / self.image.columns_per_s
        first = max(0, int(math.floor((rect.left() + half) * cols_per_s)) // TILE_COLUMNS)
        last = min(tiles - 1, int(math.floor((rect.right() + half) * cols_per_s)) // TILE_COLUMNS)
        wanted = {(level, t) for t in range(first, last + 1)}
        self._hide(self._shown - wanted)
        for key in wanted:
            self._show_tile(key, force)
        self._shown = wanted

    def _hide(self, keys: set[tuple[int, int]]) -> None:
        for key in keys:
            tile = self._tiles.get(key)  # a tile with no columns computed yet was never made
            if tile is not None:
                tile.setVisible(False)

    def _place(self, key: tuple[int, int]) -> None:
        level, index = key
        item = self._tiles[key]
        cols_per_s = self.image.columns_per_s / (1 << level)
        c0 = index * TILE_COLUMNS
        width = item.image.shape[1] if item.image is not None else TILE_COLUMNS
        y0, y1 = self._y_span()
        x0 = c0 / cols_per_s - 0.5 / self.image.columns_per_s
        item.setRect(QtCore.QRectF(x0, y0, width / cols_per_s, y1 - y0))

    def _show_tile(self, key: tuple[int, int], force: bool) -> None:
        level, index = key
        image = self.image
        data = image.levels[level]
        c0 = index * TILE_COLUMNS
        c1 = min(data.shape[1], c0 + TILE_COLUMNS)
        # While level 0 is being computed, show only the part that is done.
        done = c1 if image.complete else max(c0, min(c1, image.columns_done))
        item = self._tiles.get(key)
        if done <= c0:
            if item is not None:
                item.setVisible(False)
            return
        if item is None:
            item = pg.ImageItem(axisOrder="row-major")
            item.setParentItem(self)
            self._tiles[key] = item
        if force or self._tile_columns_set.get(key) != done:
            item.setImage(image.tile(level, index, done), levels=(0, 255), lut=self.lut, autoLevels=False)
            self._tile_columns_set[key] = done
            self._place(key)
        item.setVisible(True)

    @property
    def tiles_shown(self) -> int:
        return sum(1 for key in self._shown if self._tiles.get(key) is not None and self._tiles[key].isVisible())
