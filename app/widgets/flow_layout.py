"""A layout that lays its items out in a row and wraps them onto further rows when the row is too
narrow (Qt's flow layout example), so that a row of controls does not set a wide minimum width."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Items left to right, as many to a row as fit; its minimum width is its widest item's.

    A widget marked with :meth:`fill_row` (a message) takes the rest of its row. It goes to a
    row of its own only when that shows it whole (its size hint) or the row it is on leaves it
    less than half the width (or less than its minimum); a text too long for any row otherwise
    stays beside the others, where it costs no extra row.
    """

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._fillers: set[QWidget] = set()
        self.setSpacing(spacing)

    def fill_row(self, widget: QWidget) -> None:
        """Let ``widget`` (one of this layout's) take the rest of its row, as described above."""
        self._fillers.add(widget)
        self.invalidate()

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's name
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - everything on one row
        shown = [item for item in self._items if not item.isEmpty()]
        width = sum(item.sizeHint().width() for item in shown) + self.spacing() * max(0, len(shown) - 1)
        height = max((item.sizeHint().height() for item in shown), default=0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), height + margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 - the widest item
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _arrange(self, rect: QRect, move: bool) -> int:
        """Place the items in ``rect`` (when ``move``), each row's items centred on the row; the
        height they take."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        rows: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = area.x()
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint().boundedTo(QSize(max(1, area.width()), item.sizeHint().height()))
            fills = item.widget() is not None and item.widget() in self._fillers
            room = area.right() + 1 - x
            if fills:
                whole = item.sizeHint().width()
                short = room < max(item.minimumSize().width(), area.width() // 2)
                if rows[-1] and whole > room and (whole <= area.width() or short):
                    rows.append([])
                    x = area.x()
                hint = QSize(max(1, area.right() + 1 - x), hint.height())
            elif rows[-1] and hint.width() > room:
                rows.append([])
                x = area.x()
            rows[-1].append((item, hint))
            x += hint.width() + self.spacing()
        y = area.y()
        for row in rows:
            height = max((hint.height() for _, hint in row), default=0)
            x = area.x()
            for item, hint in row:
                if move:
                    item.setGeometry(QRect(QPoint(x, y + (height - hint.height()) // 2), hint))
                x += hint.width() + self.spacing()
            y += height + self.spacing()
        return y - self.spacing() - rect.y() + margins.bottom()
