"""The main window's imports (File > Import, drag and drop) and exports (File > Export: a clip,
the selection or the mix as audio or a spectrogram image, asking first when it would clip).
A mixin of :class:`app.main_window.MainWindow`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app import io_actions
from app.model.project import Selection
from app.window import STATUS_MESSAGE_MS


class ImportExportMixin:
    """Imports and exports of the main window, read and written off the GUI thread."""

    def import_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import audio", self.settings.last_directory, io_actions.import_file_filter()
        )
        if paths:
            self.settings.last_directory = str(Path(paths[0]).parent)
            self.import_files(paths)

    def import_files(self, paths: list[str]) -> None:
        """Read files off the GUI thread; they land one after another on the selected track, from
        the playhead if that is free (else after the track's last clip), as one undo step, and are
        selected. Files that fail are reported, the others still import."""
        track = self.project.selected_track()
        target = (track.id if track else None, self.project.playhead_s)
        self.show_message(f"Importing {files(len(paths))}…", 0)
        self._busy_io += 1
        self.client.run_in_thread(
            "import",
            lambda: io_actions.read_clips(paths),
            lambda results: self._on_import_read(results, target),
            lambda exc: self._on_import_read([io_actions.ImportResult(str(p), None, str(exc)) for p in paths], target),
        )

    def _on_import_read(self, results: list[io_actions.ImportResult], target: tuple[str | None, float]) -> None:
        self._busy_io -= 1
        clips = [r.clip for r in results if r.clip is not None]
        for result in results:  # the inputs imported results were made from, for Regenerate
            for sha, value in result.inputs.items():
                self.project.inputs.setdefault(sha, value)
        pictures = [r.picture for r in results if r.picture is not None]
        if pictures:  # PNGs made by Picture from Audio join the Pictures dock
            from app.model.pictures import AddPictures

            text = f"Import picture {pictures[0].name!r}" if len(pictures) == 1 else f"Import {len(pictures)} pictures"
            self.undo_stack.push_command(AddPictures(self.project, pictures, text=text))
            gallery = getattr(self, "gallery", None)
            if gallery is not None:
                gallery.reveal([p.id for p in pictures])
        self.last_import_errors = [(r.path, r.error) for r in results if r.error]
        if clips:
            track_id, start_s = target
            clips[0].start_s = start_s
            text = f"Import {clips[0].name!r}" if len(clips) == 1 else f"Import {len(clips)} files"
            # One after another from the playhead if that is free, else after the track's last clip.
            ids = self.edit_tools.landing.add_clips(text, track_id, clips, arrangement="sequence")
            track_id = self.project.find_clip(ids[0])[0].id
            self.project.set_selection(Selection(clip_ids=frozenset(ids), track_id=track_id))
        if self.last_import_errors:
            lines = io_actions.import_errors_text(self.last_import_errors)
            self.show_message(f"{files(len(self.last_import_errors))} could not be imported", STATUS_MESSAGE_MS * 2)
            self.import_error_box = self._notify("Import", f"Some files could not be imported:\n\n{lines}")
        else:
            self.show_message(f"Imported {files(len(clips) + len(pictures))}"
                              + (f", {len(pictures)} of them to the Pictures dock." if pictures else "."))
        self.import_finished.emit(results)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if io_actions.dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if io_actions.dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = io_actions.dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            # Leave the drag's event handling before reading files.
            QTimer.singleShot(0, lambda: self.import_files(paths))

    def export_dialog(self) -> None:
        from app.dialogs.export_dialog import ExportDialog

        dialog = ExportDialog(self.project, self.settings, self)
        dialog.export_requested.connect(self.export_audio)
        dialog.open()
        self.export_dialog_widget = dialog

    def export_audio(self, path: str, scope: str, format_key: str, preset: str = "", *,
                     on_clipping: str = "ask") -> None:
        """Capture ``scope`` ("clip", "selection" or "mix") on the GUI thread and write it as
        ``format_key`` off it, a mix block by block (a spectrogram PNG in ``preset``, by default
        the clip's).
        export_finished(path) or export_failed(message) follows.

        When a 16/24-bit file would clip (samples beyond full scale), ``on_clipping`` says what
        to do: "ask" (a dialog offering the rest), "normalize", "limit" (true peak at
        EXPORT_CEILING_DBTP), "float" (32-bit float WAV, unchanged) or "keep" (write it clipped).
        """
        try:
            source = io_actions.export_source(self.project, scope)  # a mix is not rendered here
            fmt = io_actions.export_format(format_key)
        except ValueError as exc:
            self.show_message(str(exc))
            self.export_failed.emit(str(exc))
            return
        if fmt.is_image and not preset:
            clips = self.project.selected_clips() or self.project.clips()
            preset = clips[0].spectrogram_preset if clips else "riffusion"
        if source.plan is not None and fmt.fixed_point:
            # A mix is measured block by block off the GUI thread (a long one takes a while).
            self.show_message(f"Measuring {Path(path).name}…", 0)
            self._busy_io += 1

            def measured(peak: float) -> None:
                self._busy_io -= 1
                self._export_measured(path, scope, format_key, preset, on_clipping, source, fmt, peak)

            def failed(exc: BaseException) -> None:
                self._on_export_done(path, str(exc))  # also undoes the += 1 above

            self.client.run_in_thread("export-measure", source.peak, measured, failed)
            return
        peak = source.peak() if fmt.fixed_point else 0.0  # a clip: quick
        self._export_measured(path, scope, format_key, preset, on_clipping, source, fmt, peak)

    def _export_measured(self, path: str, scope: str, format_key: str, preset: str, on_clipping: str,
                         source: Any, fmt: Any, peak: float) -> None:
        if fmt.fixed_point and peak > 1.0:
            if on_clipping == "ask":
                self._ask_about_clipping(path, scope, format_key, preset, peak, fmt)
                return
            if on_clipping == "float":
                format_key, path = "wav32f", str(Path(path).with_suffix(".wav"))
        remedy = on_clipping if fmt.fixed_point and peak > 1.0 else "keep"
        self.show_message(f"Exporting {Path(path).name}…", 0)
        self._busy_io += 1

        def work() -> None:
            io_actions.write_export_source(path, source, format_key, remedy=remedy, preset=preset or "riffusion")

        self.client.run_in_thread(
            "export",
            work,
            lambda _: self._on_export_done(path, None),
            lambda exc: self._on_export_done(path, str(exc)),
        )

    def _ask_about_clipping(self, path: str, scope: str, format_key: str, preset: str, peak: float, fmt: Any) -> None:
        """The export would clip: offer Normalise, Limit or 32-bit float (non-modal; the choice
        runs the export again)."""
        import math

        what = {"clip": "The clip", "selection": "The selection", "mix": "The mix"}.get(scope, "The audio")
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Export would clip")
        box.setText(f"{what} peaks at {20 * math.log10(peak):+.1f} dBFS: as a {fmt.label} file every sample "
                    "above full scale would be cut off (audible distortion).")
        box.setInformativeText(
            f"Normalise turns the whole export down so its true peak is {io_actions.EXPORT_CEILING_DBTP:g} dBTP. "
            "Limit turns down only the loud moments, to the same ceiling. 32-bit float keeps every sample "
            "as it is (a WAV file), for mixing elsewhere."
        )
        choices = {
            "normalize": box.addButton("Normalise", QMessageBox.ButtonRole.AcceptRole),
            "limit": box.addButton("Limit", QMessageBox.ButtonRole.AcceptRole),
            "float": box.addButton("Export as 32-bit float", QMessageBox.ButtonRole.AcceptRole),
        }
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(choices["limit"])
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def chosen(button: Any) -> None:
            choice = next((key for key, b in choices.items() if b is button), None)
            if choice is None:
                self.show_message("Export cancelled.")
                self.export_failed.emit("cancelled")
                return
            self.export_audio(path, scope, format_key, preset, on_clipping=choice)

        box.buttonClicked.connect(chosen)
        box.setModal(True)
        box.show()
        self.clipping_box = box

    def _on_export_done(self, path: str, error: str | None) -> None:
        self._busy_io -= 1
        if error:
            self.show_message(f"Export failed: {error}", STATUS_MESSAGE_MS * 2)
            self.export_failed.emit(error)
        else:
            self.settings.last_directory = str(Path(path).parent)
            self.show_message(f"Exported {path}")
            self.export_finished.emit(path)


def files(count: int) -> str:
    """'1 file', '3 files' (the status bar said "Imported 1 file(s).")."""
    return f"{count} file" if count == 1 else f"{count} files"
