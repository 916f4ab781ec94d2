"""An editable model combo box: entries carry a model id as their data, and the user may type an
id or path that is not listed. Shared by the prompt panel and the LoRA wizard."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def make_editable(combo: QComboBox) -> None:
    """Let the user type an id or path, and show the start of a picked entry's name: a long name
    ("Starter model 2 (instruments, drums, effects; preview)") otherwise shows its end, cut on the
    left, because the line edit keeps its cursor at the end."""
    combo.setEditable(True)
    combo.currentIndexChanged.connect(lambda _index: combo.lineEdit().setCursorPosition(0))


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
