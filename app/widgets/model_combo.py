"""An editable model combo box: entries carry a model id as their data, and the user may type an
id or path that is not listed. Shared by the prompt panel and the LoRA and picture wizards."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QFocusEvent, QFontMetrics, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QComboBox, QLineEdit, QStyle, QStyleOptionFrame

#: Room QLineEdit keeps on either side of its text (QLineEditPrivate::horizontalMargin).
LINE_EDIT_MARGIN_PX = 2
#: What a name cut at a word may end with before its "…" is added ("drums," -> "drums…").
_TRAILING = " ,;:(-\u2013"


def elide_words(metrics: QFontMetrics, text: str, width: int) -> str:
    """``text`` whole where it fits in ``width`` px, else cut after a whole word with "…"
    ("Starter model 2 (instruments, drums…"); cut within a word only where not even the first
    word fits."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    ends = [i for i in range(1, len(text)) if text[i] == " "]
    for end in reversed(ends):
        head = text[:end].rstrip(_TRAILING)
        if head and metrics.horizontalAdvance(head + "\u2026") <= width:
            return head + "\u2026"
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, width))


#: Focus that means the user came to type (a click, Tab); a pick from the list does not.
_TYPING_FOCUS = (Qt.FocusReason.MouseFocusReason, Qt.FocusReason.TabFocusReason,
                 Qt.FocusReason.BacktabFocusReason, Qt.FocusReason.ShortcutFocusReason)


class ElidingLineEdit(QLineEdit):
    """A combo box's line edit that shows a name too long for it cut at a word with "…" and the
    whole name in its tooltip (a plain QLineEdit cut "Starter model 2 (instr" mid-word); once
    the user clicks or tabs into it, or types, it is an ordinary line edit for an id or path."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.editing = False
        self.textChanged.connect(lambda _text: self._update_tip())
        self.textEdited.connect(lambda _text: self._set_editing(True))

    def _set_editing(self, editing: bool) -> None:
        if editing != self.editing:
            self.editing = editing
            self.update()

    def stop_editing(self) -> None:
        """A name was picked from the list: show it cut at a word again."""
        self._set_editing(False)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt API
        super().focusInEvent(event)
        self._set_editing(event.reason() in _TYPING_FOCUS)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt API
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.PopupFocusReason:  # the completer's list keeps it
            self._set_editing(False)

    def text_rect(self) -> QRect:
        """Where the text goes: the contents rect less the text margins and QLineEdit's own margin."""
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, self)
        margins = self.textMargins()
        return rect.adjusted(margins.left() + LINE_EDIT_MARGIN_PX, margins.top(),
                             -margins.right() - LINE_EDIT_MARGIN_PX, -margins.bottom())

    def shown_text(self) -> str:
        """What the box shows while it has no focus: the text, cut at a word where it is too long."""
        return elide_words(self.fontMetrics(), self.text(), self.text_rect().width())

    def is_elided(self) -> bool:
        return bool(self.text()) and self.shown_text() != self.text()

    def _update_tip(self) -> None:
        self.setToolTip(self.text() if self.is_elided() else "")  # none: the combo's own tooltip shows

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._update_tip()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt API
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._update_tip()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        if self.editing or not self.is_elided():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, option, painter, self)
        role = QPalette.ColorRole.Text if self.isEnabled() else QPalette.ColorRole.PlaceholderText
        painter.setPen(self.palette().color(role))
        painter.drawText(self.text_rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         self.shown_text())
        painter.end()


#: What the popup list adds to its widest name: the frame, the item padding, a scroll bar.
POPUP_EXTRA_PX = 40


def fit_popup_to_names(combo: QComboBox) -> None:
    """Make the combo's popup list wide enough for its longest name (QComboBox opened it at
    the box's width, cutting "Starter model 2 (instruments, drums, effects; preview)" in a
    narrow dock), at most as wide as the screen."""
    metrics = combo.view().fontMetrics()
    widest = max((metrics.horizontalAdvance(combo.itemText(i)) for i in range(combo.count())), default=0)
    screen = combo.screen().availableGeometry().width() if combo.screen() is not None else 10_000
    combo.view().setMinimumWidth(min(widest + POPUP_EXTRA_PX, screen))


def make_editable(combo: QComboBox) -> None:
    """Let the user type an id or path, and show the start of a picked entry's name: a long name
    ("Starter model 2 (instruments, drums, effects; preview)") is cut at a word with "…" and
    whole in the tooltip (a plain line edit showed its end, cut on the left, because it keeps its
    cursor at the end, or later its start cut mid-word). The list shows whole names."""
    combo.setEditable(True)
    line_edit = ElidingLineEdit(combo)
    combo.setLineEdit(line_edit)
    model = combo.model()
    for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset, model.dataChanged):
        signal.connect(lambda *_: fit_popup_to_names(combo))
    combo.currentIndexChanged.connect(lambda _index: combo.lineEdit().setCursorPosition(0))
    combo.activated.connect(lambda _index: line_edit.stop_editing())


def combo_model_id(combo: QComboBox) -> str:
    """The chosen model: the picked entry's id, or what the user typed."""
    text = combo.currentText().strip()
    index = combo.findText(text)
    if index >= 0 and combo.itemData(index):
        return str(combo.itemData(index))
    return text


def show_model(combo: QComboBox, model_id: str) -> None:
    """Select the entry whose id is ``model_id``, else show ``model_id`` as typed text."""
    index = combo.findData(model_id)
    if index >= 0:
        combo.setCurrentIndex(index)
        if combo.isEditable():
            combo.lineEdit().setCursorPosition(0)
    else:
        combo.setEditText(model_id)
