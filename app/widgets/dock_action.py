"""View menu entries for the docks that bring a dock to the front. Qt's own toggle hid a dock
that sat behind another dock's tab: View > Edit, meant to show the Edit dock, made its tab
vanish."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget


def dock_view_action(dock: QDockWidget) -> QAction:
    """A checkable action named as ``dock``, ticked while the dock is open. Triggered, it shows
    the dock and raises its tab when the dock is closed or behind another tab, and closes it
    when it is already in front."""
    action = QAction(dock.windowTitle(), dock)
    action.setCheckable(True)
    action.setChecked(not dock.isHidden())
    action.setStatusTip(f"Show the {dock.windowTitle()} dock (close it when it is in front)")

    def triggered() -> None:
        if dock.isHidden() or dock.visibleRegion().isEmpty():
            dock.show()
            dock.raise_()
        else:
            dock.hide()
        action.setChecked(not dock.isHidden())

    action.triggered.connect(lambda *_: triggered())
    dock.visibilityChanged.connect(lambda *_: action.setChecked(not dock.isHidden()))
    return action
