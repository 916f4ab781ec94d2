"""Dialogs and wizards open at a comfortable size, but never larger than the screen they open on
(the LoRA wizard's 820 x 720 put its Next and Cancel buttons below a 1366 x 768 laptop's edge)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

#: Of the screen's free area a window may take (room for its frame and title bar).
SCREEN_SHARE = (0.95, 0.9)


def resize_within_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize ``widget`` to ``width`` x ``height``, or less where its parent's screen (else the
    primary screen) has less room."""
    parent = widget.parentWidget()
    screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
    if screen is None:
        widget.resize(width, height)
        return
    area = screen.availableGeometry()
    widget.resize(min(width, int(area.width() * SCREEN_SHARE[0])), min(height, int(area.height() * SCREEN_SHARE[1])))
