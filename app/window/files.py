"""The main window's project files: New, Open (read whole off the GUI thread, then swapped in),
Save / Save As (captured on the GUI thread, written off it), Collect Files, recent projects and
leftovers of killed saves. A mixin of :class:`app.main_window.MainWindow`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app import io_actions
from app.model.commands import CommandGroup
from app.model.project import Project
from app.window import APP_TITLE, STATUS_MESSAGE_MS

log = logging.getLogger(__name__)


class ProjectFilesMixin:
    """Project file I/O of the main window."""

    def _remove_save_leftovers(self) -> None:
        """Delete, off the GUI thread, what killed saves of earlier sessions left next to the
        recent projects (temporary files whose writing process is gone; a running instance's
        stay)."""
        from engine.audio.io import remove_leftover_temps

        folders = {str(Path(p).parent) for p in self.settings.recent_files}
        if not folders:
            return

        def work() -> int:
            return sum(len(remove_leftover_temps(folder)) for folder in sorted(folders))

        self.client.run_in_thread("leftovers", work, lambda n: n and log.info("removed %d leftover save file(s)", n),
                                  lambda exc: log.warning("could not remove leftover save files: %s", exc), essential=False)

    def _confirm_discard(self, doing: str) -> bool:
        """Ask to save unsaved changes before ``doing``; False = the user cancelled."""
        answer = QMessageBox.question(
            self,
            APP_TITLE,
            f"The project has unsaved changes. Save them before {doing}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> None:
        if self.ask_before_closing and not self.undo_stack.isClean() and not self._confirm_discard("starting a new one"):
            return
        self.undo_stack.clear()
        self.project.replace_contents(Project.with_track())
        self.history_view.setEmptyLabel("New project")
        self._update_title()

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", self.settings.last_directory, io_actions.PROJECT_FILE_FILTER
        )
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> None:
        """Read a project file whole off the GUI thread (reading, decoding, then the waveform
        envelopes, with progress in the status bar), then swap it in (project_loaded) and let the
        timeline draw its clips in batches; a file that cannot be read leaves the open project as
        it was (project_open_failed)."""
        if self.ask_before_closing and not self.undo_stack.isClean() and not self._confirm_discard("opening another"):
            return
        from app.model.project_files import load_project_file

        name = Path(path).name
        self.show_message(f"Opening {name}: reading…", 0)
        self._busy_io += 1
        prepare = getattr(self.timeline, "prepare", None)
        say = self.open_progressed.emit
        shown = [-1]

        def progress(done: int, total: int) -> None:  # loader thread
            percent = 100 * done // max(1, total)
            if percent != shown[0]:
                shown[0] = percent
                say(f"Opening {name}: waveforms {percent}%")

        def work() -> tuple[Any, Any]:
            loaded = load_project_file(path)
            return loaded, (prepare(loaded.project, progress) if callable(prepare) else None)

        self.client.run_in_thread(
            "open-project",
            work,
            lambda result: self._on_project_read(path, *result, None),
            lambda exc: self._on_project_read(path, None, None, str(exc) or type(exc).__name__),
        )

    def _on_project_read(self, path: str, loaded: Any, prepared: Any, error: str | None) -> None:
        self._busy_io -= 1
        if loaded is not None:
            if prepared is not None:
                self.timeline.adopt(prepared)
            self._opened_message = f"Opened {path}"
            try:
                self.replace_document(loaded)
            except Exception as exc:  # noqa: BLE001 - a view failed on it; the previous document is back
                log.exception("showing %s failed", path)
                error = f"it could not be shown ({type(exc).__name__}: {exc}); the open project is unchanged."
        if error is not None:
            self._opened_message = ""
            self.show_message(f"Could not open {Path(path).name}: {error}", STATUS_MESSAGE_MS * 2)
            self.open_error_box = self._notify("Open project", f"Could not open {path}:\n{error}")
            self.project_open_failed.emit(error)
            return
        self.undo_stack.clear()
        self.history_view.setEmptyLabel(f"Opened {Path(path).name}")
        self.settings.add_recent_file(path)
        self._update_title()
        if not getattr(self.timeline, "rebuild_pending", lambda: False)():
            self._on_timeline_rebuild_progressed(0, 0)  # nothing left to draw: say so now
        if loaded.warnings:
            shown = "\n".join(loaded.warnings[:10]) + (f"\n… and {len(loaded.warnings) - 10} more" if len(loaded.warnings) > 10 else "")
            self.open_error_box = self._notify("Open project", f"{Path(path).name} opened with warnings:\n\n{shown}")
        self.project_loaded.emit(path)

    def replace_document(self, loaded: Any) -> None:
        """Make ``loaded`` (an app.model.project_files.LoadedProject) the open document in one
        step: its project replaces this one's contents (views keep their Project object), then
        ``document_replaced`` hands its masks to the tools. If anything fails on the way, the
        previous document (tracks, masks, playhead, selection, path) is put back and the error
        re-raised. The undo history is the caller's to clear."""
        from app.model.project_files import LoadedProject

        project = self.project
        tools = getattr(self, "edit_tools", None)
        before = LoadedProject(
            Project(sample_rate_hz=project.sample_rate_hz, tracks=list(project.tracks)),
            tools.masks.for_project(project) if tools is not None else {},
        )
        before.project.path = project.path
        before.project.inputs = project.inputs
        playhead, selection = project.playhead_s, project.selection
        try:
            project.replace_contents(loaded.project)
            self.document_replaced.emit(loaded)
        except Exception:
            project.replace_contents(before.project)
            self.document_replaced.emit(before)
            project.set_playhead(playhead)
            project.set_selection(selection)
            raise

    def _on_timeline_rebuild_progressed(self, done: int, total: int) -> None:
        if done < total:
            self.show_message(f"Drawing clips {done}/{total}…", 0)
        elif self._opened_message:
            self._on_open_spectrogram_computed()

    def _on_open_spectrogram_computed(self, *_: Any) -> None:
        """The last part of opening: the spectrograms of the clips in view, computed on the
        timeline's worker thread after the swap (shown column by column as they come); the status
        bar counts them until none is left, then says the project is open."""
        if not self._opened_message:
            return
        pending = getattr(self.timeline, "spectrogram_pending", lambda: False)()
        signals = [getattr(self.timeline, name, None) for name in ("spectrogram_computed", "spectrogram_failed")]
        if pending:
            if not getattr(self, "_open_spectrograms_done", None):
                self._open_spectrograms_done = [0]
                for signal in filter(None, signals):
                    signal.connect(self._on_open_spectrogram_computed)
            else:
                self._open_spectrograms_done[0] += 1
            self.show_message(f"{self._opened_message}: spectrograms ({self._open_spectrograms_done[0]} done)…", 0)
            return
        if getattr(self, "_open_spectrograms_done", None):
            for signal in filter(None, signals):
                signal.disconnect(self._on_open_spectrogram_computed)
            self._open_spectrograms_done = None
        self.show_message(self._opened_message)
        self._opened_message = ""

    def _notify(self, title: str, text: str) -> QMessageBox:
        """A warning box that does not block (the window keeps working); returned for tests."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()
        return box

    def save_project(self) -> bool:
        """Save to the project's file (asks for one the first time). True when saving started."""
        if not self.project.path:
            return self.save_project_as_dialog()
        self._save_to(self.project.path)
        return True

    def save_project_as_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save project", self.settings.last_directory, io_actions.PROJECT_FILE_FILTER
        )
        if not path:
            return False
        if not path.endswith(io_actions.PROJECT_SUFFIX):
            path += io_actions.PROJECT_SUFFIX
        self._save_to(path)
        return True

    def _save_to(self, path: str) -> None:
        snapshot = self.capture_project_snapshot()  # GUI thread; arrays are immutable
        clean_index = self.undo_stack.index()
        self._busy_io += 1
        self.client.run_in_thread(
            "save-project",
            lambda: snapshot.write(path),
            lambda _: self._on_project_saved(path, clean_index, None),
            lambda exc: self._on_project_saved(path, clean_index, str(exc)),
        )

    def _on_project_saved(self, path: str, clean_index: int, error: str | None) -> None:
        self._busy_io -= 1
        if error:
            self.show_message(f"Could not save {Path(path).name}: {error}", STATUS_MESSAGE_MS * 2)
            QMessageBox.warning(self, APP_TITLE, f"Could not save {path}:\n{error}")
            return
        self.project.path = path
        if self.undo_stack.index() == clean_index:
            self.undo_stack.setClean()
        self.settings.add_recent_file(path)
        self._update_title()
        self.show_message(f"Saved {path}")
        self.project_saved.emit(path)

    def collect_files(self) -> bool:
        """Copy the clips' imported source files next to the project (File > Collect Files…) and
        point the clips at the copies (one undo step). An unsaved project is saved first. The
        copying runs off the GUI thread. True when collecting started."""
        from app.model import collect

        if not self.project.path:
            QMessageBox.information(
                self, APP_TITLE, "Collect Files copies the imported audio next to the project file: save the project first."
            )
            if not self.save_project_as_dialog():
                return False
            # The save runs in the background; collect once it has landed.
            def after_save(_path: str) -> None:
                self.project_saved.disconnect(after_save)
                self.collect_files()

            self.project_saved.connect(after_save)
            return True
        plan = collect.plan_collect(self.project, self.project.path)
        if not plan.copies and not plan.missing:
            self.show_message("Nothing to collect: no clip comes from a file outside the project's media folder.")
            return False
        self._busy_io += 1

        def done(written: list) -> None:
            self._busy_io -= 1
            commands = collect.relink_commands(self.project, plan)
            if commands:
                self.undo_stack.push_command(CommandGroup(self.project, "Collect files", commands))
            self.show_message(collect.describe(plan, written), STATUS_MESSAGE_MS * 2)
            self.files_collected.emit(plan)

        def failed(exc: BaseException) -> None:
            self._busy_io -= 1
            self.show_message(f"Could not collect files: {exc}", STATUS_MESSAGE_MS * 2)
            QMessageBox.warning(self, APP_TITLE, f"Could not collect files into {plan.folder}:\n{exc}")

        self.client.run_in_thread("collect-files", lambda: collect.copy_collected(plan), done, failed)
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        self.recent_menu.setToolTipsVisible(True)  # the whole path on hover
        recent = self.settings.recent_files
        names = [Path(path).name for path in recent]
        for path, name in zip(recent, names):
            # Two "song.sdproj" from different folders read the same: name the folder too.
            action = self.recent_menu.addAction(f"{name}  ({Path(path).parent.name or path})" if names.count(name) > 1
                                                else name)
            action.setToolTip(path)
            action.triggered.connect(lambda *_, p=path: self.open_project(p))
        if not recent:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", self.settings.clear_recent_files)
