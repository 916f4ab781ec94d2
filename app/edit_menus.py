"""The edit tools' actions and menus: a mixin of :class:`app.edit_tools.EditTools`.

One action per mask tool (with its one-key shortcut), brush size, invert and clear mask, one per
edit task of the window's task list (:mod:`app.tasks`; its menu text, shortcut and short title),
Compare A/B (:mod:`app.ab_compare`) and Cancel Edits. They go into Edit > Spectrogram (tasks that make new clips into the Generate
menu) and onto the edit toolbar; every action is also added to the window so its shortcut works
with the menus hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from app.widgets.dock_action import dock_view_action
from app.widgets.qt_mask_tools import MASK_TOOLS, MAX_BRUSH_PX

#: Menu text and shortcut of each mask tool.
TOOL_SHORTCUTS = {"edit": "V", "brush": "B", "eraser": "E", "rect": "R", "time_band": "T", "freq_band": "F"}
BRUSH_STEP = 1.25
#: Room for the toolbars' handles and margins when deciding whether they fit side by side.
TOOLBAR_SLACK_PX = 16


class EditMenusMixin:
    """Builds ``actions`` (name -> QAction), ``menu`` (Edit > Spectrogram) and ``edit_toolbar``;
    expects ``window``,
    ``tasks``, ``painter``, ``mask_tools``, ``edit_panel``, ``edit_dock``, ``mask_toolbar``, ``run_edit`` and
    ``cancel_edits`` from the class it is mixed into."""

    actions: dict[str, QAction]

    def _action(self, name: str, text: str, slot: Callable[[], Any], shortcut: str | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda *_: slot())
        self.window.addAction(action)  # shortcuts work with menus hidden
        self.actions[name] = action
        return action

    def _build_actions(self) -> None:
        from app.widgets.qt_mask_tools import TOOL_LABELS

        for tool in MASK_TOOLS:
            text, tip = TOOL_LABELS[tool]
            label = "&Edit Clips (No Mask Tool)" if tool == "edit" else f"Mask {text}"
            action = self._action(f"tool_{tool}", label, lambda t=tool: self.painter.set_tool(t),
                                  TOOL_SHORTCUTS[tool], tip)
            action.setCheckable(True)
        self.actions["tool_edit"].setChecked(True)
        self._action("brush_smaller", "Smaller Brush", lambda: self._scale_brush(1 / BRUSH_STEP), "[")
        self._action("brush_larger", "Larger Brush", lambda: self._scale_brush(BRUSH_STEP), "]")
        self._action("invert_mask", "&Invert Mask", self.painter.invert, "Ctrl+Shift+I",
                     "Swap masked and unmasked on the selected clip")
        self._action("clear_mask", "C&lear Mask", self.painter.clear, "Ctrl+Shift+Backspace",
                     "Remove the selected clip's mask")
        for task in self.tasks.values():
            action = self._action(task.name, task.action_text, lambda k=task.name: self._run_from_action(k),
                                  task.shortcut, task.help)
            action.setIconText(task.title)
        self._action("cancel_edits", "Cancel Edits", self.cancel_edits, tip="Cancel the running spectrogram edits")
        self._action("compare_ab", "Compare &A/B", self.compare_ab, "Ctrl+Alt+B",
                     "Flip the selected clip between its audio before and after its last Re-vocode or Upsample "
                     "(plays on while you flip)")

    def _run_from_action(self, kind: str) -> bool:
        """An edit started from the toolbar, the menu or its key: the Edit dock comes to the front
        at that task's page (its settings, then its progress or why it could not start), then the
        edit runs. It used to run with the dock behind the Prompt tab, its page out of sight."""
        self.edit_panel.show_task(kind)
        self.edit_dock.show()
        self.edit_dock.raise_()
        return self.run_edit(kind)

    def compare_ab(self) -> None:
        """Flip the target clip between before and after its last replacement (:mod:`app.ab_compare`)."""
        from app.ab_compare import toggle
        from app.tasks import EditError

        try:
            self._show(toggle(self.window.undo_stack, self.target_clip().id))
        except (EditError, ValueError) as error:
            self._show(str(error))

    def _menu(self, title: str) -> Any:
        for action in self.window.menuBar().actions():
            if action.menu() is not None and action.text().replace("&", "") == title:
                return action.menu()
        return None

    def _build_menu(self) -> None:
        edit_menu = self._menu("Edit") or self.window.menuBar().addMenu("&Edit")
        menu = QMenu("&Spectrogram", edit_menu)
        before = getattr(self.window, "settings_action", None)  # keep Settings last in the Edit menu
        if before is not None and before in edit_menu.actions():
            edit_menu.insertMenu(before, menu)
            edit_menu.insertSeparator(before)
        else:
            edit_menu.addMenu(menu)
        self.menu = menu
        for tool in MASK_TOOLS:
            menu.addAction(self.actions[f"tool_{tool}"])
        menu.addSeparator()
        for name in ("brush_smaller", "brush_larger", "invert_mask", "clear_mask"):
            menu.addAction(self.actions[name])
        menu.addSeparator()
        generate_menu = self._menu("Generate")
        generate_before = next((a for a in generate_menu.actions() if a.isSeparator()), None) if generate_menu else None
        for task in self.tasks.values():
            if task.menu == "generate" and generate_menu is not None:  # makes new clips: Generate menu
                generate_menu.insertAction(generate_before, self.actions[task.name])
            else:
                menu.addAction(self.actions[task.name])
        menu.addAction(self.actions["compare_ab"])
        menu.addAction(self.actions["cancel_edits"])
        view_menu = self._menu("View")
        if view_menu is not None:
            view_menu.addAction(dock_view_action(self.edit_dock))
            view_menu.addAction(self.mask_toolbar.toggleViewAction())

    def _build_toolbar(self) -> None:
        """The edit actions (the same objects as the menu's) on a toolbar beside the mask tools."""
        self.edit_toolbar = QToolBar("Edit Tools", self.window)
        self.edit_toolbar.setObjectName("editToolbar")
        generate = getattr(self.window, "generate_action", None)
        if generate is not None:
            generate.setIconText("Generate")
            generate.setToolTip("Generate from the prompt panel (Ctrl+Enter)")
            self.edit_toolbar.addAction(generate)
            self.edit_toolbar.addSeparator()
        for task in self.tasks.values():
            action = self.actions[task.name]
            action.setIconText(task.title)
            shortcut = action.shortcut().toString()
            action.setToolTip(action.text().replace("&", "") + (f" ({shortcut})" if shortcut else ""))
            self.edit_toolbar.addAction(action)
        self.edit_toolbar.addAction(self.actions["cancel_edits"])
        self.actions["cancel_edits"].setIconText("Cancel")
        # First in the row: on a narrow window the mask toolbar's brush settings overflow instead.
        self.window.insertToolBar(self.mask_toolbar, self.edit_toolbar)
        view_menu = self._menu("View")
        if view_menu is not None:
            view_menu.addAction(self.edit_toolbar.toggleViewAction())
        for bar in (self.edit_toolbar, self.mask_toolbar):
            bar.visibilityChanged.connect(lambda _visible: self.fit_toolbars())

    def fit_toolbars(self) -> None:
        """The mask tools go to a row of their own when the two toolbars do not fit the window's
        width side by side (below about 1900 px all of the mask tools were behind the toolbar's
        "more" button), and back beside the edit tools when they fit again (a second row saved
        with the window's layout included)."""
        window, edit, mask = self.window, self.edit_toolbar, self.mask_toolbar
        area = window.toolBarArea(mask)
        if (area != window.toolBarArea(edit) or edit.isFloating() or mask.isFloating()
                or area not in (Qt.ToolBarArea.TopToolBarArea, Qt.ToolBarArea.BottomToolBarArea)):
            return
        crowded = edit.isVisible() and mask.isVisible() and (
            edit.sizeHint().width() + mask.sizeHint().width() + TOOLBAR_SLACK_PX > window.width())
        if crowded and not window.toolBarBreak(mask):
            window.insertToolBarBreak(mask)
        elif not crowded and window.toolBarBreak(mask):
            window.removeToolBarBreak(mask)

    def _scale_brush(self, factor: float) -> None:
        size = int(round(min(max(self.painter.brush_px * factor, 1), MAX_BRUSH_PX)))
        if size == self.painter.brush_px:
            size = min(MAX_BRUSH_PX, max(1, size + (1 if factor > 1 else -1)))
        self.mask_tools.size_spin.setValue(size)

    def _on_painter_tool_changed(self, tool: str) -> None:
        for name in MASK_TOOLS:
            self.actions[f"tool_{name}"].setChecked(name == tool)
