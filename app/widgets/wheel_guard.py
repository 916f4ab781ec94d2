"""Combo boxes in a scrolling panel turn with the wheel only once clicked or tabbed into (as the
app's spin boxes, :mod:`app.widgets.spin_boxes`): scrolling the Prompt dock past Scheduler or
Vocoder changed them on the way."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QComboBox, QWidget


class _WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()  # refused here, Qt hands the wheel on to the scroll area under the box
            return True
        return False


def guard_combo_wheels(root: QWidget) -> None:
    """Every combo box under ``root`` ignores the wheel unless it has the focus."""
    guard = _WheelGuard(root)
    for combo in root.findChildren(QComboBox):
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        combo.installEventFilter(guard)
