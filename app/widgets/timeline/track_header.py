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
from app.widgets.elided_label import ElidedLabel
from app.widgets.qt_meter import QtPeakMeter
from app.widgets.spin_boxes import DoubleSpinBox

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

#: The narrowest header; wider when the style's font needs more for the gain field's "-60.0 dB".
HEADER_WIDTH_PX = 150
GAIN_RANGE_DB = (-60.0, 12.0)
MARGIN_PX = 4
#: A timeline narrower than this gets compact headers (:func:`compact_header_width_px`): at an
#: 860 px window the wide header took 192 of the timeline's 358 px, leaving a lane about 100 px.
COMPACT_BELOW_PX = 640
#: Room between a header's rows (less when compact, so three rows fit a waveform lane's 96 px).
SPACING_PX, COMPACT_SPACING_PX = 6, 2


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


def _buttons_width_px(spacing: int) -> int:
    return _toggle("M", "").sizeHint().width() + spacing + _toggle("S", "").sizeHint().width()


def header_width_px() -> int:
    """Width of every track header (and of the gap before the ruler, scroll bar and overview):
    enough for M, S and the gain field's longest text with its suffix in the current style."""
    needed = 2 * MARGIN_PX + _buttons_width_px(SPACING_PX) + SPACING_PX + _gain_spin().sizeHint().width()
    return max(HEADER_WIDTH_PX, needed)


#: A compact header's gain field has no arrows (keys, typing and the wheel once clicked still
#: turn it). They are sized to nothing rather than switched off: the app's style sheet left a
#: field with NoButtons a 1 px wide text box.
NO_ARROWS_QSS = ("QDoubleSpinBox::up-button, QDoubleSpinBox::down-button { width: 0px; border: none; }"
                 "QDoubleSpinBox::up-arrow, QDoubleSpinBox::down-arrow { image: none; width: 0px; height: 0px; }")
#: Room around a gain field's text for its frame and padding.
GAIN_FRAME_PX = 16


def compact_header_width_px() -> int:
    """Width of a compact header (a narrow timeline): M and S on one row and the gain field
    under them, its "-60.0 dB" whole."""
    text = _gain_spin().fontMetrics().horizontalAdvance(f"{GAIN_RANGE_DB[0]:.1f} dB")
    return 2 * MARGIN_PX + max(_buttons_width_px(COMPACT_SPACING_PX), text + GAIN_FRAME_PX)


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
        self.name_label = ElidedLabel()  # a long name ends in "…" (the whole name is its tooltip)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.name_edit = QtWidgets.QLineEdit()
        self.name_edit.setVisible(False)
        self.name_edit.editingFinished.connect(self._finish_rename)
        self.name_edit.installEventFilter(self)
        self.mute_button = _toggle("M", "Mute this track")
        self.solo_button = _toggle("S", "Solo this track")
        self.gain_spin = _gain_spin()
        self._gain_min_px = self.gain_spin.sizeHint().width()
        self.gain_spin.setMinimumWidth(self._gain_min_px)  # "-60.0 dB" never cut
        self._buttons_row = QtWidgets.QHBoxLayout()
        self._buttons_row.setContentsMargins(0, 0, 0, 0)
        self._buttons_row.setSpacing(SPACING_PX)
        self._buttons_row.addWidget(self.mute_button)
        self._buttons_row.addWidget(self.solo_button)
        self._buttons_row.addWidget(self.gain_spin, 1)
        self._gain_row = QtWidgets.QHBoxLayout()  # the gain field's row in a compact header
        self._gain_row.setContentsMargins(0, 0, 0, 0)
        self._layout = layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(MARGIN_PX, MARGIN_PX, MARGIN_PX, MARGIN_PX)
        layout.setSpacing(SPACING_PX)
        self.meter = QtPeakMeter(2, bar_px=3)  # fed by QtTimeline.set_track_levels
        layout.addWidget(self.name_label)
        layout.addWidget(self.name_edit)
        layout.addLayout(self._buttons_row)
        layout.addLayout(self._gain_row)
        layout.addWidget(self.meter)
        layout.addStretch(1)
        self.compact = False
        self.sync(track)
        self.mute_button.toggled.connect(lambda on: self._timeline._set_track_property(self.track_id, "mute", on))
        self.solo_button.toggled.connect(lambda on: self._timeline._set_track_property(self.track_id, "solo", on))
        self.gain_spin.valueChanged.connect(
            lambda v: self._timeline._set_track_property(self.track_id, "gain_db", float(v))
        )

    def set_compact(self, compact: bool, width_px: int) -> None:
        """Lay the header out for a narrow timeline (``compact``: the gain field under M and S,
        without arrows) or a wide one (all on one row), ``width_px`` wide."""
        self.setFixedWidth(width_px)
        if compact == self.compact:
            return
        self.compact = compact
        source, target = (self._buttons_row, self._gain_row) if compact else (self._gain_row, self._buttons_row)
        source.removeWidget(self.gain_spin)
        target.addWidget(self.gain_spin, 1)
        self.gain_spin.setStyleSheet(NO_ARROWS_QSS if compact else "")
        self.gain_spin.setMinimumWidth(0 if compact else self._gain_min_px)
        spacing = COMPACT_SPACING_PX if compact else SPACING_PX
        self._layout.setSpacing(spacing)
        self._buttons_row.setSpacing(spacing)

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
