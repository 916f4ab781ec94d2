"""ClipItem: one clip on a timeline lane (background, name, waveform and spectrogram children).

The item sits at ``x = clip.start_s``; its children show the whole underlying audio placed at
``-offset_s`` and the item clips them to its own rectangle, so trimming is only a change of
geometry. Mouse drags and clicks are handed to a handler (the timeline), which owns snapping and
turns gestures into undo commands; the item itself never edits the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from app.plot_items.axes import FrequencyScale
from app.plot_items.envelope import EnvelopePyramid
from app.plot_items.spectrogram_item import SpectrogramImage, SpectrogramItem
from app.plot_items.waveform_item import WaveformItem

VIEW_MODES = ("waveform", "spectrogram", "both")
#: In "both" mode the waveform band is this fraction of the spectrogram band's height.
WAVE_BAND_FRACTION = 0.5
#: Grab zone at each clip edge for trimming, in screen pixels.
EDGE_GRAB_PX = 6


@dataclass(frozen=True)
class LaneLayout:
    """Vertical layout of a lane in plot units (y = mel above the spectrogram band's bottom)."""

    mode: str
    scale: FrequencyScale

    def __post_init__(self) -> None:
        if self.mode not in VIEW_MODES:
            raise ValueError(f"view mode must be one of {VIEW_MODES}, got {self.mode!r}.")

    @property
    def height(self) -> float:
        return self.scale.height

    @property
    def y_range(self) -> tuple[float, float]:
        if self.mode == "both":
            return -WAVE_BAND_FRACTION * self.height, self.height
        return 0.0, self.height

    @property
    def spectrogram_band(self) -> tuple[float, float] | None:
        return None if self.mode == "waveform" else (0.0, self.height)

    @property
    def waveform_band(self) -> tuple[float, float] | None:
        if self.mode == "waveform":
            return 0.0, self.height
        if self.mode == "both":
            return -WAVE_BAND_FRACTION * self.height, 0.0
        return None


class ClipGestureHandler(Protocol):
    def clip_drag_event(self, item: ClipItem, ev) -> None: ...

    def clip_click_event(self, item: ClipItem, ev) -> None: ...

    def clip_hover(self, item: ClipItem, zone: str | None) -> None: ...


class ClipItem(pg.GraphicsObject):
    """A clip's rectangle on a lane, with its waveform and (when computed) spectrogram."""

    def __init__(
        self,
        clip,
        track_id: str,
        pyramid: EnvelopePyramid | None,
        layout: LaneLayout,
        color: QtGui.QColor,
        handler: ClipGestureHandler | None = None,
    ) -> None:
        super().__init__()
        self.clip_id = clip.id
        self.audio_key = id(clip.audio)
        self.track_id = track_id
        self.name = clip.name
        self.sample_rate_hz = clip.sample_rate_hz
        self.total_samples = clip.audio.shape[1]
        self.layout = layout
        self.color = QtGui.QColor(color)
        self.handler = handler
        self.selected = False
        self.show_name = True
        self.label_row = 0  # which line of the clip its name is drawn on (see set_label_row)
        self.gain = 1.0
        self.start_s = self.offset_s = self.length_s = 0.0
        self.setFlag(self.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        # Children stack behind this item, which paints only the border and the name on top.
        self.background = QtWidgets.QGraphicsRectItem(self)
        self.background.setFlag(self.GraphicsItemFlag.ItemStacksBehindParent, True)
        self.background.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        fill = QtGui.QColor(self.color)
        fill.setAlpha(70)
        self.background.setBrush(fill)
        self.background.setZValue(-2)
        self.waveform = WaveformItem(pyramid, clip.sample_rate_hz, 0, clip.audio.shape[1])
        self.waveform.setParentItem(self)
        self.waveform.setFlag(self.GraphicsItemFlag.ItemStacksBehindParent, True)
        self.spectrogram: SpectrogramItem | None = None
        self.spectrogram_lut = None  # the timeline's colour map and dB range (None: the default)
        self.overlays: list = []  # e.g. the mask overlay: children told of every layout change
        self.sync_from_clip(clip)

    # -- model -> view ----------------------------------------------------------------------

    def sync_from_clip(self, clip) -> None:
        """Take position, trim, name and gain from the model's clip."""
        self.name = clip.name
        self.gain = 10.0 ** (clip.gain_db / 20.0)
        self.set_geometry(clip.start_s, clip.offset_s, clip.length_s)

    def set_geometry(self, start_s: float, offset_s: float, length_s: float) -> None:
        """Place the clip (also used for live previews while dragging)."""
        self.prepareGeometryChange()
        self.start_s, self.offset_s, self.length_s = float(start_s), float(offset_s), float(length_s)
        self.setPos(self.start_s, 0.0)
        self._layout_children()
        self.update()

    def set_layout(self, layout: LaneLayout) -> None:
        self.prepareGeometryChange()
        self.layout = layout
        if self.spectrogram is not None:
            self.spectrogram.set_scale(layout.scale)
        self._layout_children()
        self.update()

    def set_spectrogram(self, image: SpectrogramImage | None) -> None:
        if self.spectrogram is not None:
            self.spectrogram.detach()
            self.spectrogram.setParentItem(None)
            if self.scene() is not None:
                self.scene().removeItem(self.spectrogram)
            self.spectrogram = None
        if image is not None:
            self.spectrogram = SpectrogramItem(image, self.layout.scale, self.spectrogram_lut)
            self.spectrogram.setParentItem(self)
            self.spectrogram.setFlag(self.GraphicsItemFlag.ItemStacksBehindParent, True)
            self.spectrogram.setZValue(-1)
        self._layout_children()

    def set_spectrogram_lut(self, lut) -> None:
        """Colour the spectrogram with ``lut`` (256 x 3 uint8), now and when it arrives."""
        self.spectrogram_lut = lut
        if self.spectrogram is not None:
            self.spectrogram.set_lut(lut)

    def add_overlay(self, overlay: QtWidgets.QGraphicsItem, z: float = -0.5) -> None:
        """Show ``overlay`` over the spectrogram, inside the clip's rectangle. It must have
        ``clip_layout_changed(clip_item)``, called now and whenever trim or layout change."""
        overlay.setParentItem(self)
        overlay.setFlag(self.GraphicsItemFlag.ItemStacksBehindParent, True)
        overlay.setZValue(z)
        self.overlays.append(overlay)
        overlay.clip_layout_changed(self)

    def set_pyramid(self, pyramid: EnvelopePyramid) -> None:
        """The envelope pyramid arrived (long clips compute it on the worker)."""
        self.waveform.set_pyramid(pyramid)

    def detach(self) -> None:
        """Release listeners before the item is dropped."""
        if self.spectrogram is not None:
            self.spectrogram.detach()

    def set_label_row(self, row: int) -> None:
        """Draw the name on line ``row`` (0 = the top): overlapping clips use different lines."""
        if row != self.label_row:
            self.label_row = int(row)
            self.update()

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def _layout_children(self) -> None:
        layout = self.layout
        self.background.setRect(self.boundingRect())
        spec_band = layout.spectrogram_band
        has_image = self.spectrogram is not None and self.spectrogram.image.columns_done > 0
        wave_band = layout.waveform_band
        if wave_band is None and not has_image:
            wave_band = spec_band  # until the spectrogram arrives the waveform stands in
        sr = self.sample_rate_hz
        first = int(round(self.offset_s * sr))
        stop = min(self.total_samples, first + max(1, int(round(self.length_s * sr))))
        if wave_band is not None:
            lo, hi = wave_band
            self.waveform.setPos(0.0, (lo + hi) / 2)
            self.waveform.setTransform(QtGui.QTransform.fromScale(1.0, 0.5 * (hi - lo) * self.gain * 0.95))
            self.waveform.set_audible_range(first, stop)
            self.waveform.setVisible(True)
        else:
            self.waveform.setVisible(False)
        if self.spectrogram is not None:
            self.spectrogram.set_audible(self.offset_s, self.offset_s + self.length_s)
            self.spectrogram.setPos(-self.offset_s, spec_band[0] if spec_band else 0.0)
            self.spectrogram.setVisible(spec_band is not None)
            self.spectrogram.refresh()
        for overlay in self.overlays:
            overlay.clip_layout_changed(self)

    def refresh_children(self) -> None:
        """Re-read the visible range (after the item moved without a view change)."""
        self._layout_children()

    # -- painting ----------------------------------------------------------------------------

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt API
        y0, y1 = self.layout.y_range
        return QtCore.QRectF(0.0, y0, self.length_s, y1 - y0)

    def shape(self) -> QtGui.QPainterPath:
        path = QtGui.QPainterPath()
        path.addRect(self.boundingRect())
        return path

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        rect = self.boundingRect()
        # Border and name in device pixels so they stay crisp at any zoom.
        device = painter.transform().mapRect(rect)
        painter.save()
        try:  # restore() must run whatever happens, or Qt paints on with a broken painter state
            painter.resetTransform()
            border = QtGui.QColor(255, 255, 255) if self.selected else self.color.lighter(130)
            pen = QtGui.QPen(border, 2 if self.selected else 1)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawRect(device.adjusted(0.5, 0.5, -0.5, -0.5))
            if self.show_name and device.width() > 24:
                # Overlapping clips of a lane get different label rows (set by the timeline), and a
                # name never runs past its clip: no two labels are ever drawn over each other.
                painter.setPen(QtGui.QColor(255, 255, 255, 220))
                metrics = painter.fontMetrics()
                top = 1 + self.label_row * metrics.height()
                text_rect = device.adjusted(4, top, -4, 0)
                if text_rect.height() >= metrics.height():
                    text = metrics.elidedText(str(self.name), QtCore.Qt.TextElideMode.ElideRight, int(text_rect.width()))
                    painter.drawText(text_rect, int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop), text)
        finally:
            painter.restore()

    # -- gestures ----------------------------------------------------------------------------

    def zone_at(self, x_item: float) -> str:
        """'left' or 'right' within EDGE_GRAB_PX of an edge (when the clip is wide enough), else 'body'."""
        px = self.pixelWidth() or 0.0
        grab = EDGE_GRAB_PX * px
        if self.length_s > 3 * grab:
            if x_item <= grab:
                return "left"
            if x_item >= self.length_s - grab:
                return "right"
        return "body"

    def hoverMoveEvent(self, ev) -> None:  # noqa: N802 - Qt API
        zone = self.zone_at(ev.pos().x())
        shape = QtCore.Qt.CursorShape.SizeHorCursor if zone != "body" else QtCore.Qt.CursorShape.OpenHandCursor
        if getattr(self.handler, "tool", "edit") == "mask":  # painting a mask: no move/trim cursor
            shape = QtCore.Qt.CursorShape.CrossCursor
        self.setCursor(shape)
        if self.handler is not None:
            self.handler.clip_hover(self, zone)

    def hoverLeaveEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self.unsetCursor()
        if self.handler is not None:
            self.handler.clip_hover(self, None)

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if self.handler is None:
            ev.ignore()
            return
        self.handler.clip_drag_event(self, ev)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if self.handler is None:
            ev.ignore()
            return
        self.handler.clip_click_event(self, ev)
