"""Placeholders that are never cut: a field shows the longest of its placeholder's wordings that
fits its width ("Search 527 AudioSet classes" in a wide dock, "Search 527 classes" in a narrow
one), where Qt cut the one wording it had to "Search 527 Audio…" in an 860 px window. The longest
wording is the field's tooltip when it has none."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLineEdit, QStyle, QStyleOptionFrame

#: Qt's own room between a line edit's contents rectangle and its text, each side.
_TEXT_MARGIN_PX = 2


def placeholder_room_px(edit: QLineEdit) -> int:
    """The width a placeholder has in ``edit``: its contents less Qt's text margins and the
    clear button's place (reserved while the field is empty)."""
    option = QStyleOptionFrame()
    edit.initStyleOption(option)
    room = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, edit).width()
    margins = edit.textMargins()
    room -= margins.left() + margins.right() + 2 * _TEXT_MARGIN_PX
    if edit.isClearButtonEnabled():
        room -= edit.height()  # the clear button is about as wide as the field is high
    return room


class _Fitter(QObject):
    def __init__(self, edit: QLineEdit, wordings: tuple[str, ...]) -> None:
        super().__init__(edit)
        self.edit, self.wordings = edit, wordings
        edit.installEventFilter(self)
        self.fit()

    def fit(self) -> None:
        room = placeholder_room_px(self.edit)
        metrics = self.edit.fontMetrics()
        text = next((w for w in self.wordings if metrics.horizontalAdvance(w) <= room), self.wordings[-1])
        if self.edit.placeholderText() != text:
            self.edit.setPlaceholderText(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.edit and event.type() in (QEvent.Type.Resize, QEvent.Type.FontChange,
                                                      QEvent.Type.StyleChange, QEvent.Type.Show):
            self.fit()
        return False


def fit_placeholder(edit: QLineEdit, *wordings: str) -> None:
    """Give ``edit`` the first of ``wordings`` (longest first) that fits it whole, again whenever
    it is resized; the first wording becomes its tooltip when it has none."""
    if not wordings:
        raise ValueError("fit_placeholder needs at least one wording")
    if not edit.toolTip():
        edit.setToolTip(wordings[0])
    for child in edit.findChildren(_Fitter):
        child.edit.removeEventFilter(child)
        child.setParent(None)
    _Fitter(edit, tuple(wordings))
