"""Autosave and crash recovery for the edit tools (issue 4): a mixin of
:class:`app.edit_tools.EditTools`, which owns the signals ``recovery_found`` and ``recovered``.

While the project has unsaved changes an :class:`app.autosave.Autosaver` writes it (with its
masks) to ``autosave/`` beside the settings file every ``autosave_interval_s`` seconds, off the
GUI thread; a clean exit deletes it. At start the autosaves that crashed sessions left behind
are offered for recovery (a callback, or a message box that does not block).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from app.autosave import Autosaver, AutosaveInfo, discard, find_recoverable, remove_leftovers
from app.model.project_files import LoadedProject, ProjectFileSnapshot, load_project_file

log = logging.getLogger(__name__)


class RecoveryMixin:
    """Autosave and recovery; expects ``window``, ``project``, ``masks``, ``undo_stack``,
    ``client``, ``_show`` and the two signals from the class it is mixed into."""

    autosaver: Autosaver | None
    autosave_folder: Path | None
    recovery_box: QMessageBox | None

    def configure(
        self,
        *,
        autosave_dir: str | Path | None = None,
        autosave_interval_s: float | None = None,
        autosave: bool = True,
        on_recovery: Callable[[list[AutosaveInfo]], None] | None = None,
        check_recovery: bool = True,
    ) -> None:
        """(Re)set autosave and recovery (the options of :func:`install_edit_tools`). A running
        autosaver is finished (its file deleted) and replaced."""
        if self.autosaver is not None:
            self.autosaver.finish()
            self.autosaver.deleteLater()
            self.autosaver = None
        self._on_recovery = on_recovery
        folder = Path(autosave_dir) if autosave_dir is not None else self.default_autosave_dir()
        self.autosave_folder = folder if autosave or autosave_dir is not None else None
        if autosave:
            interval = autosave_interval_s or float(self.window.settings.get("autosave_interval_s", 60.0))
            self.autosaver = Autosaver(
                folder,
                lambda: ProjectFileSnapshot.capture(self.project, self.masks),
                self.client.run_in_thread,
                lambda: self.project.path,
                interval_s=interval,
                parent=self,
            )
            self.autosaver.autosave_failed.connect(self._show)
        if check_recovery and self.autosave_folder is not None and not self._recovery_check_pending:
            self._recovery_check_pending = True
            QTimer.singleShot(0, self.check_recovery)

    def _on_undo_stack_index_changed(self, index: int) -> None:
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

    def default_autosave_dir(self) -> Path:
        """``autosave/`` next to the app's settings file (a test's temporary settings keep theirs)."""
        return Path(self.window.settings.path).parent / "autosave"


    def _on_window_project_saved(self, path: str) -> None:
        if self.autosaver is not None and self.undo_stack.isClean():
            self.autosaver.mark_saved()

    def check_recovery(self) -> list[AutosaveInfo]:
        """Look for autosaves of sessions that crashed; offer them (``on_recovery`` callback, else a
        non-blocking message box). Returns what was found."""
        self._recovery_check_pending = False
        if self.autosave_folder is None:
            return []
        removed = remove_leftovers(self.autosave_folder)  # half-written files of killed autosaves
        if removed:
            log.info("removed %d leftover file(s) of killed autosaves from %s", len(removed), self.autosave_folder)
        found = find_recoverable(self.autosave_folder)
        if not found:
            return []
        self.recovery_found.emit(found)
        if self._on_recovery is not None:
            self._on_recovery(found)
            return found
        newest = found[0]
        box = QMessageBox(QMessageBox.Icon.Question, "Recover work",
                          f"Specdiff Studio did not close properly last time. Recover {newest.describe()}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard, self.window)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.recover(newest) if box.standardButton(button) == QMessageBox.StandardButton.Yes
            else discard(newest))
        box.show()
        self.recovery_box = box
        return found

    def recover(self, info: AutosaveInfo) -> None:
        """Load an autosave in place of the current project (off the GUI thread); it comes back
        unsaved, with its own file name if it had one, and its masks. ``recovered(path)`` follows."""
        self.client.run_in_thread("recover", lambda: load_project_file(info.path),
                                  lambda loaded: self._on_recovered(info, loaded),
                                  lambda exc: self._show(f"Could not recover {info.describe()}: {exc}"))

    def _on_recovered(self, info: AutosaveInfo, loaded: LoadedProject) -> None:
        loaded.project.path = info.project_path
        try:
            self.window.replace_document(loaded)
        except Exception as exc:  # noqa: BLE001 - the previous document is back; the autosave stays
            log.exception("showing the recovered project failed")
            self._show(f"Could not recover {info.describe()}: {exc}")
            return
        self.undo_stack.clear()
        self.undo_stack.resetClean()  # recovered work is unsaved work
        history = getattr(self.window, "history_view", None)
        if history is not None:  # the History's first row
            history.setEmptyLabel(f"Recovered {info.describe()}")
        discard(info)
        if self.autosaver is not None:
            self.autosaver.autosave_now()  # keep it safe under this session's autosave
        self._show(f"Recovered {info.describe()}.")
        self.recovered.emit(str(info.path))

    @staticmethod
    def discard_autosave(info: AutosaveInfo) -> None:
        discard(info)
