"""The header of a track's row: name, mute, solo, gain (edits go through undo commands) and the
track's peak meter.

Double-click the name to rename the track in place (Enter keeps it, Escape does not); the
context menu renames, moves up or down and deletes; dragging a header over the others moves the
track there. Every change is one undo step, run by the timeline (``rename_track``,
``move_track``, ``delete_track``).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QPoint, Qt

from app.model.project import Track
from app.widgets.qt_meter import QtPeakMeter
from app.widgets.spin_boxes import DoubleSpinBox

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

#: The narrowest header; wider when the style's font needs more for the gain field's "-60.0 dB".
HEADER_WIDTH_PX = 150
GAIN_RANGE_DB = (-60.0, 12.0)
MARGIN_PX = 4


def _gain_spin() -> QtWidgets.QDoubleSpinBox:
    spin = DoubleSpinBox(
        minimum=GAIN_RANGE_DB[0], maximum=GAIN_RANGE_DB[1], singleStep=0.5, decimals=1, suffix=" dB",
        toolTip="Track gain",
    )
    spin.setKeyboardTracking(False)
    return spin


def _toggle(text: str, tip: str) -> QtWidgets.QToolButton:
    button = QtWidgets.QToolButton(text=text, checkable=True, toolTip=tip)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


def header_width_px() -> int:
    """Width of every track header (and of the gap before the ruler, scroll bar and overview):
    enough for M, S and the gain field's longest text with its suffix in the current style."""
    row = QtWidgets.QHBoxLayout()
    spacing = row.spacing() if row.spacing() >= 0 else 6
    needed = (
        2 * MARGIN_PX + 2 * spacing + _toggle("M", "").sizeHint().width() + _toggle("S", "").sizeHint().width()
        + _gain_spin().sizeHint().width()
    )
    return max(HEADER_WIDTH_PX, needed)


class TrackHeader(QtWidgets.QFrame):
    """Name, mute, solo and gain of one track; edits go through SetTrackProperty commands."""

    def __init__(self, timeline: QtTimeline, track: Track, width_px: int = HEADER_WIDTH_PX) -> None:
        super().__init__()
        self._timeline = weakref.proxy(timeline)
        self.track_id = track.id
        self._press: QPoint | None = None
        self._dragging = False
        self.setFixedWidth(width_px)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setObjectName("trackHeader")
        self.setToolTip("Double-click the name to rename; right-click for more; drag to move the track")
        self.name_label = QtWidgets.QLabel()
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.name_edit = QtWidgets.QLineEdit()
        self.name_edit.setVisible(False)
        self.name_edit.editingFinished.connect(self._finish_rename)
        self.name_edit.installEventFilter(self)
        self.mute_button = _toggle("M", "Mute this track")
        self.solo_button = _toggle("S", "Solo this track")
        self.gain_spin = _gain_spin()
        self.gain_spin.setMinimumWidth(self.gain_spin.sizeHint().width())  # "-60.0 dB" never cut
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.mute_button)
        row.addWidget(self.solo_button)
        row.addWidget(self.gain_spin, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(MARGIN_PX, MARGIN_PX, MARGIN_PX, MARGIN_PX)
        self.meter = QtPeakMeter(2, bar_px=3)  # fed by QtTimeline.set_track_levels
        layout.addWidget(self.name_label)
        layout.addWidget(self.name_edit)
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
        # The app's theme paints every widget's background itself (the palette does nothing
        # there): its trackHeader[selected="true"] rule marks the selected track.
        if bool(self.property("selected")) != selected:
            self.setProperty("selected", selected)
            self.style().unpolish(self)
            self.style().polish(self)
            for label in (self.name_label,):
                self.style().unpolish(label)
                self.style().polish(label)

    # -- rename in place -------------------------------------------------------------------------

    def start_rename(self) -> None:
        """Show an editor over the name (Enter or leaving it renames, Escape keeps the name)."""
        self.name_edit.setText(self.name_label.text())
        self.name_label.setVisible(False)
        self.name_edit.setVisible(True)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    @property
    def renaming(self) -> bool:
        return not self.name_edit.isHidden()

    def _finish_rename(self, keep: bool = True) -> None:
        if not self.renaming:
            return
        self.name_edit.setVisible(False)
        self.name_label.setVisible(True)
        if keep:
            self._timeline.rename_track(self.track_id, self.name_edit.text())

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if (
            watched is self.name_edit
            and event.type() == QtCore.QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Escape
        ):
            self._finish_rename(keep=False)
            return True
        return super().eventFilter(watched, event)

    def mouseDoubleClickEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.button() == Qt.MouseButton.LeftButton:
            self.start_rename()
            ev.accept()
            return
        super().mouseDoubleClickEvent(ev)

    # -- menu and dragging -----------------------------------------------------------------------

    def contextMenuEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self._timeline._select_track(self.track_id)
        self.context_menu().popup(ev.globalPos())
        ev.accept()

    def context_menu(self) -> QtWidgets.QMenu:
        """Rename, move up or down, delete (the menu the header shows on a right click)."""
        timeline = self._timeline
        index = timeline.project.track_index(self.track_id)
        count = len(timeline.project.tracks)
        menu = QtWidgets.QMenu(self)
        menu.addAction("Rename…", self.start_rename)
        up = menu.addAction("Move Up", lambda: timeline.move_track(self.track_id, index - 1))
        up.setEnabled(index > 0)
        down = menu.addAction("Move Down", lambda: timeline.move_track(self.track_id, index + 1))
        down.setEnabled(index < count - 1)
        menu.addSeparator()
        menu.addAction("Delete Track", lambda: timeline.delete_track(self.track_id))
        self.menu = menu  # kept for tests and so Python does not drop it while it is open
        return menu

    def mousePressEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self._timeline._select_track(self.track_id)
        if ev.button() == Qt.MouseButton.LeftButton:
            self._press = ev.position().toPoint()
            self._dragging = False
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if self._press is not None and ev.buttons() & Qt.MouseButton.LeftButton:
            if abs(ev.position().toPoint().y() - self._press.y()) >= QtWidgets.QApplication.startDragDistance():
                self._dragging = True
                self.setCursor(Qt.CursorShape.SizeVerCursor)
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if self._dragging and ev.button() == Qt.MouseButton.LeftButton:
            self.unsetCursor()
            self._timeline.drop_track(self.track_id, ev.globalPosition().toPoint())
        self._press, self._dragging = None, False
        super().mouseReleaseEvent(ev)
