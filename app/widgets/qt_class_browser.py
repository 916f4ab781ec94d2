"""The AudioSet class browser: search the 527 classes, pick one (or two to mix) and use seed 001's
class-conditioned prompt for it, at seed 001's output size or the model's own.

It follows the selected model (:meth:`QtClassBrowser.follow_model`): the classes the model's card
says it knows (:func:`engine.audioset.model_classes`) are marked with a check, a filter shows only
those, and a selected class the model does not know gets a note before anything is generated
(the main window asks again on Generate). A general model (no class list on its card) marks none.

Everything here is cheap and on the GUI thread: a search ranks 527 names in a few milliseconds
(and repeated queries come from a cache), and the list is a flat model reset in place.
"""

from __future__ import annotations

import functools
import html
from typing import Any
from urllib.parse import quote, unquote

from PySide6.QtCore import (
    QEvent,
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QKeyEvent, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.audioset import (
    DEFAULT_OUTPUT_SIZE,
    OUTPUT_SIZES,
    AudioSetLabel,
    ModelClasses,
    class_prompt,
    get_label,
    label_names,
    mixture_parent,
    mixture_prompt,
    search_labels,
)
from engine.audioset import children as label_children

from app.widgets.greyed import enable_or_say_why
from app.widgets.placeholders import fit_placeholder
from app.widgets.qt_prompt_panel import NATIVE_SIZE, NATIVE_SIZE_TEXT

#: The size name :attr:`QtClassBrowser.prompt_chosen` carries for "Model's native size".
#: Separator between the ontology levels of a class's path.
PATH_SEPARATOR = " \u203a "
_LINK_SCHEME = "label:"
#: Class link colours on a light (False) and a dark (True) theme.
LINK_COLORS = {False: "#2a64b0", True: "#8fb8ee"}
#: The check mark's colour on a light (False) and a dark (True) theme.
KNOWN_COLORS = {False: "#1f8a3b", True: "#6fd08a"}
#: Item data role: True for a class the selected model knows, False for one it does not, None
#: for a general model (no marks).
KNOWN_ROLE = Qt.ItemDataRole.UserRole + 1
KNOWN_ONLY_TEXT = "Only classes this model knows"

SIZE_TOOLTIP = (
    "Seed 001 (Michaels 2023) generated 64 mel rows \u00d7 400 time columns \u2013 4 s at 10 ms "
    "per column \u2013 instead of the 512 \u00d7 512 images the model was trained on.\n"
    f"\u201c{NATIVE_SIZE_TEXT}\u201d leaves height and duration to the prompt panel."
)


@functools.lru_cache(maxsize=512)
def _search(query: str) -> tuple[str, ...]:
    """:func:`search_labels`, cached: typing and backspacing repeat the same few queries."""
    return tuple(search_labels(query))


def _is_label(name: str) -> bool:
    try:
        get_label(name)
    except ValueError:
        return False
    return True


def _link(name: str, color: str) -> str:
    """A rich-text link that selects class ``name`` when clicked."""
    return (
        f'<a href="{_LINK_SCHEME}{quote(name)}" style="color: {color}; text-decoration: none">'
        f"{html.escape(name)}</a>"
    )


class _LabelModel(QAbstractListModel):
    """The visible class names, in search-ranking order; the tooltip is the path and description.
    Classes the selected model knows carry a check mark (``classes``: None marks nothing)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: tuple[str, ...] = ()
        self.classes: ModelClasses | None = None
        self.icons: tuple[QIcon, QIcon] | None = None

    def set_names(self, names: tuple[str, ...]) -> None:
        self.beginResetModel()
        self.names = names
        self.endResetModel()

    def set_classes(self, classes: ModelClasses | None, icons: tuple[QIcon, QIcon]) -> None:
        """Mark what ``classes`` knows (None or a general model: no marks)."""
        self.classes = classes if classes is not None and not classes.general else None
        self.icons = icons
        if self.names:
            self.dataChanged.emit(self.index(0), self.index(len(self.names) - 1))

    def known(self, name: str) -> bool | None:
        return None if self.classes is None else name in (self.classes.known or ())

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.names)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.names):
            return None
        name = self.names[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == Qt.ItemDataRole.ToolTipRole:
            label = get_label(name)
            path = html.escape(PATH_SEPARATOR.join((*label.path, label.name)))
            tip = f"<p><b>{path}</b></p><p>{html.escape(label.description)}</p>"
            known = self.known(name)
            if known is not None and self.classes is not None:
                title = html.escape(self.classes.title)
                tip += (f"<p>\u2713 {title} was trained on this class.</p>" if known
                        else f"<p><i>{title} was not trained on this class.</i></p>")
            return tip
        if role == KNOWN_ROLE:
            return self.known(name)
        if role == Qt.ItemDataRole.DecorationRole and self.icons is not None:
            known = self.known(name)
            return None if known is None else self.icons[0 if known else 1]
        return None


class _SearchEdit(QLineEdit):
    """The search box; Down moves into the list."""

    down_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down:
            self.down_pressed.emit()
            return
        super().keyPressEvent(event)


class _ClassList(QListView):
    """The class list; Return/Enter (without modifiers) asks to use the selection."""

    use_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            self.use_requested.emit()
            return
        super().keyPressEvent(event)

    def reveal_current(self) -> None:
        """Scroll the current item into view, even right after a model reset (delayed layout)."""
        if self.currentIndex().isValid():
            self.executeDelayedItemsLayout()
            self.scrollTo(self.currentIndex(), QAbstractItemView.ScrollHint.EnsureVisible)


def _mark_icons(size: int, dark: bool) -> tuple[QIcon, QIcon]:
    """A check mark (a class the model knows) and a blank icon of the same size (one it does not
    know, so names stay aligned)."""
    check = QPixmap(size, size)
    check.fill(Qt.GlobalColor.transparent)
    painter = QPainter(check)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(KNOWN_COLORS[dark]))
    pen.setWidthF(max(1.5, size / 7))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.drawPolyline([QPointF(size * 0.18, size * 0.55), QPointF(size * 0.42, size * 0.78),
                          QPointF(size * 0.84, size * 0.24)])
    painter.end()
    blank = QPixmap(size, size)
    blank.fill(Qt.GlobalColor.transparent)
    return QIcon(check), QIcon(blank)


def _wrapping_label(name: str, *, rich: bool = False) -> QLabel:
    """A word-wrapping label named ``name`` that follows the dock's width instead of widening it."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    return label


class QtClassBrowser(QWidget):
    """Search the AudioSet classes and turn one (or a mix of two) into seed 001's prompt.

    Signals, both ``(prompt, size)`` where ``size`` is :data:`NATIVE_SIZE` ("native") or a key
    of :data:`engine.audioset.OUTPUT_SIZES`:

    - ``prompt_chosen``: "Use prompt", Return in the list, or a double-clicked class (alone);
    - ``generate_chosen``: "Generate" (fill the prompt panel and start a job).

    Neither is emitted without a valid prompt: nothing selected, more than two classes, or two
    classes that share no parent class in the ontology (the preview says which and why).

    With a model that lists the classes it knows (:meth:`follow_model`), those are checked, the
    "only classes this model knows" filter narrows the list to them, and a selected class it
    does not know gets a note (``class_note``) that names a real model and links to the model
    manager; Generate then reads "Generate…" (the main window asks before running it).
    """

    prompt_chosen = Signal(str, str)
    generate_chosen = Signal(str, str)
    #: The caution's "Model Manager" link was clicked.
    model_manager_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._order: list[str] = []  # the selected names, in the order the user picked them
        self._rows: dict[str, int] = {}
        self._syncing = False
        self._prompt: str | None = None
        self._size_from_model = False  # the size was switched to native for the model's sake
        self._classes: ModelClasses | None = None  # what the selected model knows (None: no model yet)
        self._reveal_timer = QTimer(self)
        self._reveal_timer.setSingleShot(True)
        self._reveal_timer.setInterval(0)
        total = len(label_names())

        self.search_edit = _SearchEdit()
        self.search_edit.setObjectName("classSearch")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip(
            "Each word must start a word of the class or of a broader class: \u201cdog\u201d finds "
            "Dog and its sounds (Bark, Howl, \u2026). Return picks the top result."
        )
        fit_placeholder(self.search_edit, f"Search {total} AudioSet classes", f"Search {total} classes", "Search")
        self.count_label = QLabel()
        self.count_label.setObjectName("classCount")
        search_row = QHBoxLayout()
        search_row.setContentsMargins(0, 0, 0, 0)
        search_row.addWidget(self.search_edit, 1)
        search_row.addWidget(self.count_label)
        self.known_only_check = QCheckBox(KNOWN_ONLY_TEXT)
        self.known_only_check.setObjectName("classKnownOnly")
        self.known_only_check.setEnabled(False)
        self.known_only_check.setToolTip("Pick a model in the prompt panel first")
        self.known_only_check.toggled.connect(lambda _checked: self._apply_query(self.search_edit.text()))

        self._model = _LabelModel(self)
        self.list_view = _ClassList()
        self.list_view.setObjectName("classList")
        self.list_view.setModel(self._model)
        self.list_view.setUniformItemSizes(True)
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.empty_label = _wrapping_label("classEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.list_view)
        self.list_stack.addWidget(self.empty_label)

        self.path_label = _wrapping_label("classPath", rich=True)
        self.description_label = _wrapping_label("classDescription")
        self.children_label = _wrapping_label("classChildren", rich=True)
        for label in (self.path_label, self.children_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            label.linkActivated.connect(self._on_link_activated)
        self.description_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QFrame()
        self.details.setObjectName("classDetails")
        details_layout = QVBoxLayout(self.details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.path_label)
        details_layout.addWidget(self.description_label)
        details_layout.addWidget(self.children_label)

        self.preview_label = _wrapping_label("classPreview")
        self.preview_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_label.setToolTip("The prompt seed 001's templates make of the selection")

        self.size_combo = QComboBox()
        self.size_combo.setObjectName("classOutputSize")
        self.size_combo.addItem(NATIVE_SIZE_TEXT, NATIVE_SIZE)
        for name in OUTPUT_SIZES:
            self.size_combo.addItem(name, name)
        self.size_combo.setToolTip(SIZE_TOOLTIP)
        self.set_output_size(DEFAULT_OUTPUT_SIZE)

        self.use_button = QPushButton("Use prompt")
        self.use_button.setObjectName("classUseButton")
        self.use_button.setToolTip("Put this prompt and output size into the prompt panel (Return in the list)")
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("classGenerateButton")
        self.generate_button.setToolTip("Put this prompt and output size into the prompt panel and generate")
        self.use_button.clicked.connect(self.use_prompt)
        self.generate_button.clicked.connect(self.generate)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.generate_button)

        self.caution_label = _wrapping_label("classCaution", rich=True)
        self.caution_label.linkActivated.connect(lambda _link: self.model_manager_requested.emit())
        self.caution_label.hide()
        self.class_note = _wrapping_label("classNote", rich=True)
        self.class_note.linkActivated.connect(lambda _link: self.model_manager_requested.emit())
        self.class_note.hide()

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Output size", self.size_combo)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caution_label)
        layout.addLayout(search_row)
        layout.addWidget(self.known_only_check)
        layout.addWidget(self.list_stack, 1)
        layout.addWidget(self.details)
        prompt_title = QLabel("<b>Prompt</b>")
        prompt_title.setObjectName("classPreviewTitle")
        layout.addWidget(prompt_title)
        layout.addWidget(self.preview_label)
        layout.addWidget(self.class_note)
        layout.addLayout(form)
        layout.addLayout(buttons)

        self.search_edit.textChanged.connect(self._apply_query)
        self.search_edit.returnPressed.connect(self._on_search_return)
        self.search_edit.down_pressed.connect(self._on_search_down)
        self.list_view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.list_view.selectionModel().currentChanged.connect(self._show_details)
        self.list_view.doubleClicked.connect(self._on_double_clicked)
        self.list_view.use_requested.connect(self.use_prompt)
        self._reveal_timer.timeout.connect(self.list_view.reveal_current)
        self._apply_query("")

    # -- search ------------------------------------------------------------------------------

    def set_query(self, text: str) -> None:
        """Type ``text`` into the search box (the list follows at once)."""
        self.search_edit.setText(text)

    def query(self) -> str:
        return self.search_edit.text()

    def visible_labels(self) -> list[str]:
        """The class names the list shows, top to bottom."""
        return list(self._model.names)

    def _apply_query(self, text: str) -> None:
        """Show the classes matching ``text`` in ranking order, keeping the visible selection."""
        names = _search(" ".join(text.split()).casefold())
        if self.known_only():
            known = self._classes.known if self._classes is not None else None
            names = tuple(name for name in names if name in (known or ()))
        self._syncing = True
        try:
            self._model.set_names(names)
            self._rows = {name: row for row, name in enumerate(names)}
            kept = [name for name in self._order if name in self._rows]
            self._select_rows(kept)
        finally:
            self._syncing = False
        self._order = kept
        count = len(names)
        counted = f"{count} class" if count == 1 else f"{count} classes"
        if self._model.classes is not None:
            counted += f" \u00b7 {sum(1 for name in names if self._model.known(name))} \u2713"
        self.count_label.setText(counted)
        if count:
            self.list_stack.setCurrentWidget(self.list_view)
        elif self.known_only() and self._classes is not None:
            where = f" matching \u201c{text.strip()}\u201d" if text.strip() else ""
            self.empty_label.setText(
                f"{self._classes.title} knows no AudioSet class{where}. Untick \u201c{KNOWN_ONLY_TEXT}\u201d "
                "to see every class, or clear the search."
            )
            self.list_stack.setCurrentWidget(self.empty_label)
        else:
            self.empty_label.setText(
                f"No AudioSet class matches \u201c{text.strip()}\u201d. Try fewer or broader words "
                "(\u201cdog\u201d, \u201cengine\u201d, \u201cguitar\u201d), or clear the search."
            )
            self.list_stack.setCurrentWidget(self.empty_label)
        self._show_details()
        self._refresh_preview()

    def _on_search_return(self) -> None:
        """Return in the search box picks the top result and moves into the list."""
        if self._model.names:
            self.select_labels([self._model.names[0]])
            self.list_view.setFocus()

    def _on_search_down(self) -> None:
        if not self._model.names:
            return
        if not self.list_view.currentIndex().isValid():
            self.list_view.setCurrentIndex(self._model.index(0))
        self.list_view.setFocus()

    # -- selection ---------------------------------------------------------------------------

    def selected_labels(self) -> list[str]:
        """The selected class names, in the order they were picked."""
        return list(self._order)

    def select_labels(self, names: list[str]) -> None:
        """Select exactly ``names`` (case-insensitive AudioSet names, in mixing order); the search
        is cleared first if one of them is filtered out. Raises UnknownLabelError for an unknown name."""
        wanted: list[str] = []
        for name in names:
            canonical = get_label(name).name
            if canonical not in wanted:
                wanted.append(canonical)
        if any(name not in self._rows for name in wanted):
            self._order = []
            if self.known_only() and any(not self._model.known(name) for name in wanted):
                self.known_only_check.setChecked(False)  # the user asked for a class it hides
            self.set_query("")
        self._syncing = True
        try:
            self._select_rows(wanted)
        finally:
            self._syncing = False
        self._order = wanted
        self._show_details()
        self._refresh_preview()

    def _select_rows(self, names: list[str]) -> None:
        """Select ``names`` (all visible) in the view; the last one becomes current and is shown."""
        model = self.list_view.selectionModel()
        selection = QItemSelection()
        for name in names:
            index = self._model.index(self._rows[name])
            selection.select(index, index)
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if names:
            current = self._model.index(self._rows[names[-1]])
            model.setCurrentIndex(current, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.list_view.reveal_current()
            self._reveal_timer.start()  # again once the details below have settled the list's height

    def _on_selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        if self._syncing:
            return
        rows = sorted(index.row() for index in self.list_view.selectionModel().selectedRows())
        now = [self._model.names[row] for row in rows]
        self._order = [name for name in self._order if name in now] + [name for name in now if name not in self._order]
        self._refresh_preview()

    def _on_double_clicked(self, index: QModelIndex) -> None:
        """A double-clicked class is used alone."""
        if index.isValid():
            self.select_labels([self._model.names[index.row()]])
            self.use_prompt()

    def _on_link_activated(self, href: str) -> None:
        """A class link in the details: select it (Ctrl/Shift+click adds it to the selection)."""
        if not href.startswith(_LINK_SCHEME):
            return
        name = unquote(href[len(_LINK_SCHEME):])
        modifiers = QGuiApplication.keyboardModifiers()
        adding = bool(modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        self.select_labels([*self._order, name] if adding else [name])

    # -- details -----------------------------------------------------------------------------

    def _details_label(self) -> AudioSetLabel | None:
        index = self.list_view.currentIndex()
        if index.isValid() and index.row() < len(self._model.names):
            return get_label(self._model.names[index.row()])
        return get_label(self._order[-1]) if self._order else None

    def _show_details(self, *_: Any) -> None:
        """Path, description and narrower classes of the current class (links select them)."""
        label = self._details_label()
        if label is None:
            self.path_label.setText("<i>Select a class to see where it sits in the AudioSet ontology.</i>")
            self.description_label.clear()
            self.children_label.clear()
            self.description_label.hide()
            self.children_label.hide()
            return
        # Links in the theme's text colour family: Qt's default link blue is unreadable on dark themes.
        dark = self.palette().color(QPalette.ColorRole.WindowText).lightness() > 128
        color = LINK_COLORS[dark]
        steps = [_link(step, color) if _is_label(step) else html.escape(step) for step in label.path]
        self.path_label.setText(html.escape(PATH_SEPARATOR).join([*steps, f"<b>{html.escape(label.name)}</b>"]))
        self.description_label.setText(label.description)
        self.description_label.setVisible(bool(label.description))
        lines = []
        narrower = label_children(label.name)
        if narrower:
            lines.append("Narrower: " + ", ".join(_link(name, color) for name in narrower))
        direct = label.path[-1] if label.path else None
        others = [parent for parent in label.parents if parent != direct]
        if others:
            lines.append("Also under: " + ", ".join(_link(p, color) if _is_label(p) else html.escape(p) for p in others))
        self.children_label.setText("<br>".join(lines))
        self.children_label.setVisible(bool(lines))

    def changeEvent(self, event: QEvent) -> None:
        """Re-colour the class links and check marks when the theme changes."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange) and hasattr(self, "_model"):
            self._show_details()
            if self._classes is not None:
                self._set_classes(self._classes)

    def children_links(self) -> dict[str, str]:
        """The narrower classes the details show, name -> link target (for tests and wiring)."""
        label = self._details_label()
        if label is None:
            return {}
        return {name: f"{_LINK_SCHEME}{quote(name)}" for name in label_children(label.name)}

    # -- the prompt --------------------------------------------------------------------------

    def prompt(self) -> str | None:
        """The prompt the selection makes, or None when it makes none (the preview says why)."""
        return self._prompt

    def _refresh_preview(self) -> None:
        prompt, message = None, ""
        names = self._order
        if not names:
            message = "Select a class to see its prompt; Ctrl+click a second class to mix two."
        elif len(names) == 1:
            prompt = class_prompt(names[0])
        elif len(names) == 2:
            a, b = names
            try:
                prompt = mixture_prompt(mixture_parent(a, b), a, b)
            except ValueError:
                root_a, root_b = (get_label(n).path[0] if get_label(n).path else n for n in (a, b))
                message = (
                    f"{a} ({root_a}) and {b} ({root_b}) share no parent class in the AudioSet ontology, "
                    "so seed 001's mixture prompt has no group to name. Pick two classes from the same "
                    "branch, e.g. two sounds of one animal or instrument."
                )
        else:
            message = (
                f"{len(names)} classes selected: seed 001's prompts take one class, or two to mix. "
                f"Ctrl+click to deselect {len(names) - 2}."
            )
        self._prompt = prompt
        self.preview_label.setText(prompt if prompt is not None else message)
        self.preview_label.setProperty("invalid", prompt is None and len(names) > 1)
        self.preview_label.style().unpolish(self.preview_label)
        self.preview_label.style().polish(self.preview_label)
        why_not = None if prompt is not None else (
            "Select a class in the list first" if not names else "Select one class, or two to mix (Ctrl+click)")
        enable_or_say_why(self.use_button, why_not)
        enable_or_say_why(self.generate_button, why_not)
        self._show_class_note(names if prompt is not None else [])

    def class_caution(self) -> str | None:
        """What the selected model does not know of the selected classes (and which real model
        to use instead), or None: nothing selected, all known, or a general model."""
        if self._classes is None or self._prompt is None:
            return None
        return self._classes.caution(self._order)

    def _show_class_note(self, names: list[str]) -> None:
        """The note under the prompt: the selected classes the model was not trained on. Generate
        becomes "Generate…": the main window asks before running such a prompt."""
        caution = self.class_caution() if names else None
        if caution:
            self.class_note.setText(
                f"<b>\u26a0</b> {html.escape(caution)} <a href='models'>Open the Model Manager</a>")
        self.class_note.setVisible(bool(caution))
        self.generate_button.setText("Generate\u2026" if caution else "Generate")
        self.generate_button.setToolTip(
            "Asks first: the selected model was not trained on this class" if caution
            else "Put this prompt and output size into the prompt panel and generate")

    def use_prompt(self) -> None:
        """Emit prompt_chosen(prompt, size) if the selection makes a prompt."""
        if self._prompt is not None:
            self.prompt_chosen.emit(self._prompt, self.output_size())

    def generate(self) -> None:
        """Emit generate_chosen(prompt, size) if the selection makes a prompt."""
        if self._prompt is not None:
            self.generate_chosen.emit(self._prompt, self.output_size())

    # -- the model in use --------------------------------------------------------------------

    def follow_model(self, hints: Any, caution: str | None, classes: ModelClasses | None = None) -> None:
        """Adapt to the selected model: ``caution`` (what the model does badly with class
        prompts, or None) shows above the search with a link to the model manager; a model with
        its own native size (the starter's card) gets "Model's native size" instead of seed 001's
        64x400, unless the user chose another size (and the 64x400 comes back for other models).

        ``classes`` (:func:`engine.audioset.model_classes` of the model) marks the classes it
        knows and enables the "only classes this model knows" filter; a general model (or None)
        marks none and the filter is off."""
        self._set_classes(classes)
        if caution:
            self.caution_label.setText(
                f"<b>\u26a0 {html.escape(caution)}</b> <a href='models'>Open the Model Manager</a>")
        self.caution_label.setVisible(bool(caution))
        native = bool(hints is not None and getattr(hints, "starter", False))
        if native and self.output_size() == DEFAULT_OUTPUT_SIZE:
            self.set_output_size(NATIVE_SIZE)
            self._size_from_model = True
        elif not native and self._size_from_model and self.output_size() == NATIVE_SIZE:
            self.set_output_size(DEFAULT_OUTPUT_SIZE)
            self._size_from_model = False

    def _set_classes(self, classes: ModelClasses | None) -> None:
        self._classes = classes
        dark = self.palette().color(QPalette.ColorRole.WindowText).lightness() > 128
        size = self.list_view.iconSize().height()
        self._model.set_classes(classes, _mark_icons(size if size > 0 else self.fontMetrics().height(), dark))
        check = self.known_only_check
        listed = classes is not None and not classes.general
        check.setEnabled(listed)
        check.setText(f"{KNOWN_ONLY_TEXT} ({len(classes.known or ())})" if listed and classes is not None
                      else KNOWN_ONLY_TEXT)
        if classes is None:
            check.setToolTip("Pick a model in the prompt panel first")
        elif classes.general:
            check.setToolTip(f"{classes.title} is a general model: its card lists no classes, so no class "
                             "is marked and any may work")
        else:
            check.setToolTip(f"Show only the {len(classes.known or ())} classes {classes.title} was trained on "
                             "(marked \u2713)")
        self._apply_query(self.search_edit.text())

    def model_classes(self) -> ModelClasses | None:
        """What the model the browser follows knows (None before :meth:`follow_model`)."""
        return self._classes

    def known_only(self) -> bool:
        """Whether the list shows only the classes the model knows (ticked, and the model lists them)."""
        return self.known_only_check.isChecked() and self.known_only_check.isEnabled()

    def set_known_only(self, on: bool) -> None:
        self.known_only_check.setChecked(bool(on))

    def marked_labels(self) -> list[str]:
        """The visible classes marked as known by the selected model, top to bottom."""
        return [name for name in self._model.names if self._model.known(name)]

    # -- output size -------------------------------------------------------------------------

    def output_size(self) -> str:
        """"native" or a key of OUTPUT_SIZES."""
        return str(self.size_combo.currentData())

    def set_output_size(self, name: str) -> None:
        """Pick "native" or a key of OUTPUT_SIZES; raises ValueError for anything else."""
        index = self.size_combo.findData(name) if isinstance(name, str) else -1
        if index < 0:
            raise ValueError(f"unknown output size {name!r}; expected {NATIVE_SIZE!r} or one of {', '.join(OUTPUT_SIZES)}.")
        self.size_combo.setCurrentIndex(index)

    # -- persistence -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"query": self.query(), "output_size": self.output_size(), "selected": self.selected_labels(),
                "known_only": self.known_only_check.isChecked()}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Put back a saved :meth:`state`; unknown or bad values are skipped."""
        if not isinstance(state, dict):
            return
        if isinstance(state.get("known_only"), bool):
            self.set_known_only(state["known_only"])
        query = state.get("query")
        if isinstance(query, str):
            self.set_query(query)
        try:
            self.set_output_size(state.get("output_size", self.output_size()))
        except (TypeError, ValueError):
            pass
        selected = state.get("selected")
        if isinstance(selected, list):
            names = [name for name in selected if isinstance(name, str) and _is_label(name)]
            self.select_labels(names)
