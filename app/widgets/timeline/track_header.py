"""The header of a track's row: name, mute, solo, gain (edits go through undo commands) and the
track's peak meter."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt

from app.model.project import Track
from app.widgets.qt_meter import QtPeakMeter

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

HEADER_WIDTH_PX = 150


class TrackHeader(QtWidgets.QFrame):
    """Name, mute, solo and gain of one track; edits go through SetTrackProperty commands."""

    def __init__(self, timeline: QtTimeline, track: Track) -> None:
        super().__init__()
        self._timeline = weakref.proxy(timeline)
        self.track_id = track.id
        self.setFixedWidth(HEADER_WIDTH_PX)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.name_label = QtWidgets.QLabel()
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.mute_button = QtWidgets.QToolButton(text="M", checkable=True, toolTip="Mute this track")
        self.solo_button = QtWidgets.QToolButton(text="S", checkable=True, toolTip="Solo this track")
        self.gain_spin = QtWidgets.QDoubleSpinBox(
            minimum=-60.0, maximum=12.0, singleStep=0.5, decimals=1, suffix=" dB", toolTip="Track gain"
        )
        self.gain_spin.setKeyboardTracking(False)
        for button in (self.mute_button, self.solo_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.mute_button)
        row.addWidget(self.solo_button)
        row.addWidget(self.gain_spin, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.meter = QtPeakMeter(2, bar_px=3)  # fed by QtTimeline.set_track_levels
        layout.addWidget(self.name_label)
        layout.addLayout(row)
        layout.addWidget(self.meter)
        layout.addStretch(1)
        self.sync(track)
        self.mute_button.toggled.connect(lambda on: self._timeline._set_track_property(self.track_id, "mute", on))
        self.solo_button.toggled.connect(lambda on: self._timeline._set_track_property(self.track_id, "solo", on))
        self.gain_spin.valueChanged.connect(
            lambda v: self._timeline._set_track_property(self.track_id, "gain_db", float(v))
        )

    def sync(self, track: Track) -> None:
        for widget, value in (
            (self.mute_button, track.mute),
            (self.solo_button, track.solo),
            (self.gain_spin, track.gain_db),
        ):
            widget.blockSignals(True)
            if isinstance(widget, QtWidgets.QDoubleSpinBox):
                widget.setValue(value)
            else:
                widget.setChecked(value)
            widget.blockSignals(False)
        self.name_label.setText(track.name)
        self.name_label.setToolTip(track.name)

    def set_selected(self, selected: bool) -> None:
        role = QtGui.QPalette.ColorRole.Window
        base = QtWidgets.QApplication.palette()
        palette = self.palette()
        palette.setColor(role, base.color(QtGui.QPalette.ColorRole.Highlight).darker(250) if selected else base.color(role))
        self.setPalette(palette)

    def mousePressEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self._timeline._select_track(self.track_id)
        super().mousePressEvent(ev)

