"""Export dialog: what to export (clip, selection, mix), the file format (audio, or a
Riffusion-format spectrogram PNG in a chosen preset) and the file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.io_actions import EXPORT_FORMATS, EXPORT_SCOPES, export_format, safe_file_name
from app.model.project import Project
from app.settings import AppSettings
from app.widgets.qt_prompt_panel import preset_names


#: A path the File field shows whole.
TYPICAL_PATH = "/home/someone/Music/sessions/2026-12-07/kick-and-snare-take-3.wav"


class ExportDialog(QDialog):
    """Emits ``export_requested(path, scope, format_key, preset)`` on OK (``preset``: the
    spectrogram preset of a PNG export, "" for audio)."""

    export_requested = Signal(str, str, str, str)

    def __init__(self, project: Project, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export audio")
        self.project = project
        self.settings = settings
        self.scope_combo = QComboBox()
        available = self.available_scopes()
        for key, label in EXPORT_SCOPES.items():
            self.scope_combo.addItem(label, key)
            item = self.scope_combo.model().item(self.scope_combo.count() - 1)
            item.setEnabled(key in available)
        if available:
            self.scope_combo.setCurrentIndex(self.scope_combo.findData(available[0]))
        self.format_combo = QComboBox()
        for fmt in EXPORT_FORMATS:
            self.format_combo.addItem(fmt.label, fmt.key)
        self.format_combo.setCurrentIndex(self.format_combo.findData("wav24"))
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("The spectrogram's parameters (written into the PNG's EXIF, as Riffusion does)")
        for name in preset_names():
            self.preset_combo.addItem(name, name)
        clips = project.selected_clips() or project.clips()
        self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(clips[0].spectrogram_preset if clips else "riffusion")))
        self.path_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.message = QLabel()
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        self.message.hide()
        form = QFormLayout()
        form.addRow("Export", self.scope_combo)
        form.addRow("Format", self.format_combo)
        form.addRow("Spectrogram", self.preset_combo)
        form.addRow("File", path_row)
        self.form = form
        note = QLabel("Generated clips carry their recipe (model, seed, settings) in the file's comment tag.")
        note.setObjectName("hintLabel")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_accepted)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Export")  # what it does ("OK" said nothing)
        self.ok_button.setEnabled(bool(available))
        # Room for a path such as /home/someone/Music/sessions/kick-and-snare.wav: in a 280 px
        # dialog the field showed "/root/mix.wav" and cut anything longer.
        self.path_edit.setMinimumWidth(self.path_edit.fontMetrics().horizontalAdvance(TYPICAL_PATH) + 16)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.format_combo.currentIndexChanged.connect(lambda *_: self._on_format_changed())
        self.scope_combo.currentIndexChanged.connect(lambda *_: self._suggest_path())
        self._suggest_path()
        self._on_format_changed()
        if not available:
            self._show("The project is empty: import or generate a clip first.")

    def available_scopes(self) -> list[str]:
        project = self.project
        scopes = []
        if project.selected_clips():
            scopes.append("clip")
        if project.selection.has_time_range or project.selection.clip_ids:
            scopes.append("selection")
        if project.clips():
            scopes.append("mix")
        return scopes

    def _suggest_path(self) -> None:
        scope = self.scope_combo.currentData()
        clips = self.project.selected_clips()
        if scope == "clip" and clips:
            stem = clips[0].name
        elif self.project.path:
            stem = Path(self.project.path).stem + ("-selection" if scope == "selection" else "")
        else:
            stem = "mix" if scope == "mix" else "selection"
        fmt = export_format(self.format_combo.currentData())
        self.path_edit.setText(str(Path(self.settings.last_directory) / (safe_file_name(stem) + fmt.extension)))

    def _on_format_changed(self) -> None:
        self.form.setRowVisible(self.preset_combo, export_format(self.format_combo.currentData()).is_image)
        self._fix_extension()

    def _fix_extension(self) -> None:
        text = self.path_edit.text().strip()
        if text:
            self.path_edit.setText(str(Path(text).with_suffix(export_format(self.format_combo.currentData()).extension)))

    def _on_browse_clicked(self) -> None:
        fmt = export_format(self.format_combo.currentData())
        path, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.path_edit.text(), f"{fmt.label} (*{fmt.extension})"
        )
        if path:
            self.path_edit.setText(path)
            self._fix_extension()

    def _show(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _on_accepted(self) -> None:
        text = self.path_edit.text().strip()
        if not text:
            self._show("Choose a file to export to.")
            return
        fmt = export_format(self.format_combo.currentData())
        path = Path(text).expanduser()
        if path.suffix.lower() != fmt.extension:
            path = path.with_suffix(fmt.extension)
        if not path.parent.is_dir():
            self._show(f"The folder '{path.parent}' does not exist.")
            return
        preset = self.preset_combo.currentData() if fmt.is_image else ""
        self.export_requested.emit(str(path), self.scope_combo.currentData(), fmt.key, preset)
        self.accept()
