"""The Qt undo stack over the model's Qt-free commands (app/model/commands.py)."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack

from app.model.commands import Command


class _QtCommand(QUndoCommand):
    """Wraps one model command; forwards redo/undo, the merge id and merging.

    The first redo() (the one QUndoStack.push makes) is skipped: push_command already ran it.
    """

    def __init__(self, command: Command) -> None:
        super().__init__(command.text)
        self.command = command
        self._pushed = False

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True
            return
        self.command.redo()

    def undo(self) -> None:
        self.command.undo()

    def id(self) -> int:
        return self.command.id

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _QtCommand):
            return False
        merged = self.command.merge_with(other.command)
        if merged:
            self.setText(self.command.text)
        return merged


class UndoStack(QUndoStack):
    """``push_command(cmd)`` runs a model command and makes it one undo step.

    A command that raises in its first ``redo()`` is not kept: the error propagates and the
    stack is unchanged (the model's mutators check their input before changing anything).
    """

    def push_command(self, command: Command) -> None:
        if not isinstance(command, Command):
            raise TypeError(f"push_command expects an app.model.commands.Command, got {type(command).__name__}")
        command.redo()  # raises before anything enters the stack
        self.push(_QtCommand(command))

    def model_command(self, index: int) -> Command | None:
        """The model command at ``index`` (None out of range)."""
        qt = self.command(index)
        return getattr(qt, "command", None)
