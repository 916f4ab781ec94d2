"""Help > Keyboard Shortcuts: every shortcut the window answers to, read from its real actions
(menus first, with their menu path; then actions that live only on widgets), with a search field."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.widgets.screen_fit import resize_within_screen


@dataclass(frozen=True)
class ShortcutEntry:
    """One action with shortcuts: where it is (``"Edit > Spectrogram"``), its name, its keys."""

    where: str
    text: str
    keys: tuple[str, ...]
    tip: str = ""

    def matches(self, query: str) -> bool:
        words = query.lower().split()
        haystack = " ".join((self.where, self.text, *self.keys, self.tip)).lower()
        return all(word in haystack for word in words)


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").replace("…", "").strip()


def _keys(action: QAction) -> tuple[str, ...]:
    """Each key once (Redo's Ctrl+Shift+Z and the platform's Redo key are the same key on Linux)."""
    keys = (s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts() if not s.isEmpty())
    return tuple(dict.fromkeys(keys))


def _name(action: QAction) -> str:
    """What the action does, for the list: its ``shortcutName`` property where its text changes
    with the state (Undo's is "Undo Delete clip 'kick'"), else its text."""
    return _clean(action.property("shortcutName") or action.text() or action.toolTip())


def shortcut_entries(window: QMainWindow) -> list[ShortcutEntry]:
    """The window's shortcuts, from its menus (in menu order) and then from the actions that are
    on no menu (transport buttons, brush size, …). Each action once."""
    entries: list[ShortcutEntry] = []
    seen: set[int] = set()

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            sub = action.menu()
            if sub is not None:
                walk(sub, f"{where} > {_clean(action.text())}")
                continue
            if id(action) in seen or action.isSeparator():
                continue
            seen.add(id(action))
            keys = _keys(action)
            if keys:
                entries.append(ShortcutEntry(where, _name(action), keys, action.statusTip() or ""))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _clean(top.text()))
    for action in window.findChildren(QAction):
        if id(action) in seen or action.isSeparator():
            continue
        seen.add(id(action))
        keys = _keys(action)
        if keys:
            parent = action.parent()
            name = type(parent).__name__
            where = name[2:] if name.startswith("Qt") and parent is not window else "Window"
            entries.append(ShortcutEntry(where, _name(action), keys, action.toolTip()))
    return entries


class ShortcutsDialog(QDialog):
    """A searchable list of :func:`shortcut_entries` (built when the dialog opens)."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard Shortcuts")
        resize_within_screen(self, 560, 600)
        self.entries = shortcut_entries(window)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search actions or keys, e.g. 'zoom' or 'Ctrl+Shift'")
        self.search_edit.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Shortcut"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.search_edit.textChanged.connect(self._on_search_edit_text_changed)
        self._fill("")

    def _fill(self, query: str) -> None:
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for entry in self.entries:
            if query and not entry.matches(query):
                continue
            group = groups.get(entry.where)
            if group is None:
                group = groups[entry.where] = QTreeWidgetItem(self.tree, [entry.where])
                group.setFirstColumnSpanned(True)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item = QTreeWidgetItem(group, [entry.text, ", ".join(entry.keys)])
            if entry.tip:
                item.setToolTip(0, entry.tip)
        self.tree.expandAll()

    def visible_entries(self) -> list[tuple[str, str]]:
        """(action, keys) of the rows shown now (tests)."""
        rows = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            rows += [(group.child(j).text(0), group.child(j).text(1)) for j in range(group.childCount())]
        return rows

    def _on_search_edit_text_changed(self, text: str) -> None:
        self._fill(text.strip())
