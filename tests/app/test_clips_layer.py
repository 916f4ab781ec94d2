"""ClipsLayer draws its blocks in whole device pixels (issue 17 part 3: a lane of hundreds of
clips repaints fast): every clip in view shows with its border, touching clips share one, the
selected clip has its white outline, and a zoomed-out lane of 500 clips is one band of colour."""

from __future__ import annotations

import numpy as np


def _render(qtbot, clips, x_range, selected=frozenset()):
    import pyqtgraph as pg
    from PySide6 import QtGui

    from app.widgets.timeline.clips_layer import ClipsLayer

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(800, 200)
    widget.hideAxis("left")
    widget.hideAxis("bottom")
    layer = ClipsLayer(QtGui.QColor(255, 0, 0))
    layer.set_blocks([(clip, i) for i, clip in enumerate(clips)])
    layer.set_selected(selected)
    widget.addItem(layer)
    widget.setXRange(*x_range, padding=0.0)
    widget.setYRange(0.0, 1.0, padding=0.0)
    widget.show()
    qtbot.waitExposed(widget)
    image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return layer, widget, pixels[:, : image.width(), 2::-1]  # BGRA -> RGB


def _clips(count):
    from app.model.project import Clip

    return [Clip(name=f"c{i}", audio=np.zeros((1, 2205), np.float32), sample_rate_hz=2205, start_s=float(i))
            for i in range(count)]


def test_blocks_show_their_borders_and_the_selection(qtbot):
    clips = _clips(500)
    layer, widget, rgb = _render(qtbot, clips, (0.0, 20.0), frozenset({clips[3].id}))
    row = rgb[rgb.shape[0] // 2]
    vb = widget.getPlotItem().getViewBox()
    x_of = lambda t: int(round(vb.mapViewToDevice(pg_point(t, 0.5)).x()))  # noqa: E731
    fill = row[(x_of(10.0) + x_of(11.0)) // 2]
    assert fill[0] > 60 and fill[1] < 40  # the track colour, translucent
    borders = [x for x in range(x_of(5.0) - 1, x_of(15.0) + 2) if row[x][0] > fill[0] + 40]
    assert len(borders) >= 9  # one border line per clip edge in 5..15 s
    selected = row[x_of(3.0) - 1 : x_of(3.0) + 2]
    assert (selected.min(axis=1) > 200).any()  # the selected clip's white outline
    assert layer.block_at(7.5) is clips[7]


def test_a_zoomed_out_lane_of_500_clips_is_one_band(qtbot):
    clips = _clips(500)
    _, widget, rgb = _render(qtbot, clips, (0.0, 600.0))
    vb = widget.getPlotItem().getViewBox()
    inside = rgb[rgb.shape[0] // 2, 5 : int(vb.mapViewToDevice(pg_point(495.0, 0.5)).x())]
    assert (inside[:, 0] > 60).all()  # no gaps between touching clips
    after = rgb[rgb.shape[0] // 2, int(vb.mapViewToDevice(pg_point(560.0, 0.5)).x())]
    assert after[0] < 60  # nothing after the last clip


def pg_point(x, y):
    from PySide6 import QtCore

    return QtCore.QPointF(x, y)
