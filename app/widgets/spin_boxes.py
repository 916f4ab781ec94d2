"""The app's spin boxes: a typed value outside the range is used at the nearest limit and said.

Qt's own boxes refuse the keystroke that takes a number past the maximum (typing 5000 into Steps,
0 to 150, leaves "50") and put back the old value when a number below the minimum is confirmed,
both silently. :class:`SpinBox` and :class:`DoubleSpinBox` let the whole number be typed, and on
Enter or leaving the box use the nearest limit and say so ("Steps: 5000 is above the maximum
150; using 150") in a tooltip at the box and through :func:`range_notices` (the main window
shows it in the status bar). The wheel turns only a box that has the focus, so that scrolling a
panel past a box leaves it alone. Every spin box in the app is one of these.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QValidator, QWheelEvent
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox, QToolTip, QWidget


class RangeNotices(QObject):
    """``said(str)``: a spin box used a limit instead of the typed value."""

    said = Signal(str)


_notices: RangeNotices | None = None


def range_notices() -> RangeNotices:
    """The app-wide :class:`RangeNotices` (made on first use)."""
    global _notices
    if _notices is None:
        _notices = RangeNotices()
    return _notices


def field_name(box: QAbstractSpinBox) -> str:
    """What the user calls ``box``: its ``fieldName`` property, its accessible name, the form
    label that names it (or the row it sits in), else its tooltip's first words."""
    for name in (box.property("fieldName"), box.accessibleName()):
        if name:
            return str(name)
    window = box.window()
    for label in window.findChildren(QLabel):
        if label.buddy() is box and label.text():
            return _label_words(label.text())
    for form in window.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if field is None or label is None or not isinstance(label.widget(), QLabel):
                continue
            if _holds(field, box):
                return _label_words(label.widget().text())
    tip = box.toolTip().split(":")[0].split("(")[0].strip()
    return tip if 0 < len(tip) <= 40 else "Value"


def _label_words(text: str) -> str:
    return text.replace("&", "").rstrip(": ").strip()


def _holds(item: Any, box: QWidget) -> bool:
    """True when the layout item ``item`` is ``box`` or has it inside."""
    widget = item.widget()
    if widget is not None:
        return widget is box or widget.isAncestorOf(box)
    layout = item.layout()
    return layout is not None and any(_holds(layout.itemAt(i), box) for i in range(layout.count()))


class _SaysLimits:
    """The shared part of :class:`SpinBox` and :class:`DoubleSpinBox` (before the Qt class in
    the bases, so that its ``validate``/``fixup`` come first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The wheel no longer focuses a box (Qt's WheelFocus): see wheelEvent.
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        """Only a box you clicked or tabbed into turns with the wheel: scrolling the Prompt dock
        or the track list over a box changed its steps, guidance or gain on the way past."""
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()  # the scroll area under it scrolls instead

    def set_multiple_of(self, step: int) -> None:
        """Take only multiples of ``step`` (spectrogram heights: 8): a typed value between them
        is used at the nearest one, and said (the minimum, a special value such as "preset",
        counts as one)."""
        self._multiple = int(step)

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        state, text, pos = super().validate(text, pos)
        if state == QValidator.State.Invalid and (self._typed(text) is not None or self._bare(text) in ("-", "+")):
            state = QValidator.State.Intermediate  # let the whole number be typed; fixup() says
        elif state == QValidator.State.Acceptable and self._between_multiples(self._typed(text)):
            state = QValidator.State.Intermediate
        return state, text, pos

    def fixup(self, text: str) -> str:
        typed = self._typed(text)
        if typed is None:
            return super().fixup(text)
        if typed > self.maximum() or typed < self.minimum():
            above = typed > self.maximum()
            value = self.maximum() if above else self.minimum()
            why = f"is {'above the maximum' if above else 'below the minimum'} {self.textFromValue(value)}{self.suffix()}"
        elif self._between_multiples(typed):
            step = self._multiple
            value = min(max(math.floor(typed / step + 0.5) * step, math.ceil(self.minimum() / step) * step),
                        math.floor(self.maximum() / step) * step)
            why = f"is not a multiple of {step}"
        else:
            return super().fixup(text)
        shown = f"{self.textFromValue(value)}{self.suffix()}"
        special = value == self.minimum() and self.specialValueText()  # the box will show "preset"
        message = f"{field_name(self)}: {self._bare(text)}{self.suffix()} {why}; using {special or shown}"
        self.setProperty("rangeNotice", message)
        QToolTip.showText(self.mapToGlobal(QPoint(0, self.height())), message, self)
        range_notices().said.emit(message)
        return f"{self.prefix()}{shown}"

    def _between_multiples(self, typed: float | None) -> bool:
        step = getattr(self, "_multiple", 0)
        return bool(step) and typed is not None and typed != self.minimum() and typed % step != 0

    def _bare(self, text: str) -> str:
        text = text.strip()
        if self.prefix() and text.startswith(self.prefix().strip()):
            text = text[len(self.prefix().strip()):]
        if self.suffix() and text.endswith(self.suffix().strip()):
            text = text[: -len(self.suffix().strip())]
        return text.strip()

    def _typed(self, text: str) -> float | None:
        """The number ``text`` spells (group separators and the locale's decimal point
        allowed), or None."""
        locale = self.locale()
        bare = self._bare(text).replace(locale.groupSeparator(), "").replace(locale.decimalPoint(), ".")
        try:
            number = float(bare)
        except ValueError:
            return None
        if not math.isfinite(number) or (isinstance(self, QSpinBox) and not number.is_integer()):
            return None
        return number


class SpinBox(_SaysLimits, QSpinBox):
    """A QSpinBox that uses the nearest limit for a typed value out of range and says so."""


class DoubleSpinBox(_SaysLimits, QDoubleSpinBox):
    """A QDoubleSpinBox that uses the nearest limit for a typed value out of range and says so."""
