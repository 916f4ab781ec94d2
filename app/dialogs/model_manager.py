"""Model manager: catalog, cached and local models with sizes; download (progress, cancel),
delete, add a local folder or a repo id, Hugging Face token, offline mode, the default model.

Listing and deleting run off the GUI thread (EngineClient); downloads are engine jobs, so they
queue with generation jobs and also show in the job panel.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.engine_client import EngineClient, JobHandle, ModelEntry, ModelListing
from app.settings import AppSettings
from app.widgets.greyed import enable_or_say_why
from app.widgets.qt_job_panel import describe_progress, format_bytes
from app.widgets.screen_fit import resize_within_screen
from engine.api import DownloadModelJob, Progress

COLUMNS = ("Model", "Source", "Status", "Size", "Default")
#: Lines of the model card view before it scrolls.
CARD_LINES = 8


def model_card_html(model_id: str) -> str:
    """What a model knows, from its card (or the catalog's hints), as rich text for the model
    manager: its sound families, the AudioSet classes it was trained on (those the Sound Classes
    browser checks) and example prompts that work with it; "" when nothing is known."""
    from engine.audioset import label_names, model_classes
    from engine.models.catalog import model_hints

    hints = model_hints(model_id)
    if hints is None:
        return ""
    parts = []
    if hints.sound_families:
        families = ", ".join(html.escape(f.replace("_", " ")) for f in hints.sound_families)
        parts.append(f"<b>Sound families:</b> {families}")
    classes = model_classes(model_id)
    if classes.known is not None:
        total = len(label_names())
        if classes.known:
            names = " \u00b7 ".join(html.escape(n) for n in sorted(classes.known, key=str.casefold))
            parts.append(f"<b>AudioSet classes it knows</b> ({len(classes.known)} of {total}, "
                         f"\u2713 in Sound Classes): {names}")
        else:
            parts.append(f"<b>AudioSet classes it knows:</b> none of the {total} (it was trained on its own "
                         "captions only; Sound Classes prompts give something else)")
    if hints.example_prompts:
        prompts = " \u00b7 ".join(f"\u2018{html.escape(p)}\u2019" for p in hints.example_prompts)
        parts.append(f"<b>Example prompts:</b> {prompts}")
    return "".join(f"<p>{part}</p>" for part in parts)

SOURCE_LABELS = {"bundled": "Shipped with the app", "catalog": "Catalog", "cached": "Hub cache", "local": "Local folder"}


def _download_tip(entry: ModelEntry | None, downloading: bool, offline: bool) -> str:
    """What Download does, or why it is greyed (it used to be greyed with no word, offline above all)."""
    if entry is None:
        return "Select a model in the list to download it"
    if entry.source == "local":
        return "A folder on this computer: nothing to download"
    if entry.downloaded:
        return "Already downloaded"
    if downloading:
        return "Downloading: see its progress in the Jobs dock"
    if offline:
        return "Offline mode is on: untick it below to download"
    return f"Download {entry.model_id} from the Hugging Face hub"


def _delete_blocker(entry: ModelEntry | None, downloading: bool) -> str | None:
    """Why Delete is greyed for ``entry`` (None: it is not)."""
    if entry is None:
        return "Select a model in the list first"
    if entry.source == "bundled":
        return "Shipped with the app: it cannot be deleted"
    if downloading:
        return "Downloading: cancel the download first"
    if not (entry.downloaded or entry.source == "local"):
        return "Not downloaded: nothing to delete"
    return None


class ModelManagerDialog(QDialog):
    """Non-modal; emits ``models_changed`` (something was added, downloaded or deleted) and
    ``engine_settings_changed(EngineSettings)`` (token or offline mode)."""

    models_changed = Signal()
    engine_settings_changed = Signal(object)

    def __init__(self, client: EngineClient, settings: AppSettings, parent: QWidget | None = None,
                 listing: ModelListing | None = None) -> None:
        """``listing``: the latest listing the caller has, shown at once (a fresh one can take
        seconds on a busy machine; the table stood empty until then)."""
        super().__init__(parent)
        self.setWindowTitle("Model Manager")
        resize_within_screen(self, 820, 560)
        self.client = client
        self.settings = settings
        self.listing: ModelListing | None = None
        self.downloads: dict[int, str] = {}  # job id -> model id
        self.download_state: dict[str, str] = {}  # model id -> status text while downloading
        self.confirm_delete = True
        self._wanted = ""  # a model to select once the listing has it (select_when_listed)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.PlainText)
        self.card_view = QTextBrowser()
        self.card_view.setObjectName("modelCard")
        self.card_view.setOpenLinks(False)
        self.card_view.setMaximumHeight(self.fontMetrics().lineSpacing() * CARD_LINES + 12)
        self.card_view.hide()
        self._card = ""
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.progress_label = QLabel()
        self.progress_label.hide()

        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel download")
        self.delete_button = QPushButton("Delete")
        self.default_button = QPushButton("Make default")
        self.add_folder_button = QPushButton("Add folder…")
        self.refresh_button = QPushButton("Refresh")
        self.download_button.clicked.connect(self._on_download_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.default_button.clicked.connect(self._on_default_clicked)
        self.add_folder_button.clicked.connect(self._on_add_folder_clicked)
        self.refresh_button.clicked.connect(self.refresh)
        row_buttons = QHBoxLayout()
        for button in (self.download_button, self.cancel_button, self.delete_button, self.default_button):
            row_buttons.addWidget(button)
        row_buttons.addStretch(1)
        row_buttons.addWidget(self.add_folder_button)
        row_buttons.addWidget(self.refresh_button)

        self.repo_edit = QLineEdit()
        self.repo_edit.setPlaceholderText("owner/name on the Hugging Face hub")
        self.repo_button = QPushButton("Download repo")
        self.repo_button.clicked.connect(self._on_repo_clicked)
        self.repo_edit.returnPressed.connect(self._on_repo_clicked)
        repo_row = QHBoxLayout()
        repo_row.addWidget(self.repo_edit, 1)
        repo_row.addWidget(self.repo_button)

        hub_box = QGroupBox("Hugging Face hub")
        self.token_edit = QLineEdit(settings.hf_token)
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("hf_… (only for gated or private models)")
        self.token_button = QPushButton("Save token")
        self.token_button.clicked.connect(self._on_token_clicked)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_edit, 1)
        token_row.addWidget(self.token_button)
        self.offline_check = QCheckBox("Offline mode: never contact the hub; only downloaded models work")
        self.offline_check.setChecked(client.settings.offline)
        self.offline_check.toggled.connect(self._on_offline_toggled)
        hub_form = QFormLayout(hub_box)
        hub_form.addRow("Add a repo", repo_row)
        hub_form.addRow("Access token", token_row)
        hub_form.addRow(self.offline_check)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("errorLabel")
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.description)
        layout.addWidget(self.card_view)
        layout.addLayout(row_buttons)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(hub_box)
        layout.addWidget(self.message)

        client.models_listed.connect(self._on_client_models_listed)
        client.model_deleted.connect(self._on_client_model_deleted)
        client.task_failed.connect(self._on_client_task_failed)
        self._update_buttons()
        if listing is not None:
            self._on_client_models_listed(listing)

    # -- listing -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask for a fresh listing (off the GUI thread)."""
        self.client.request_models(self.settings.local_model_folders)

    def _on_client_models_listed(self, listing: ModelListing) -> None:
        self.listing = listing
        selected = self.selected_entry()
        default = self.default_model()
        self.table.setRowCount(0)
        for entry in listing.entries:
            row = self.table.rowCount()
            self.table.insertRow(row)
            name = QTableWidgetItem(entry.label if entry.label == entry.model_id else f"{entry.label}  ({entry.model_id})")
            name.setData(Qt.ItemDataRole.UserRole, entry.model_id)
            name.setToolTip(entry.model_id)
            size = "" if entry.size_bytes is None else ("~" if not entry.downloaded else "") + format_bytes(entry.size_bytes)
            cells = [name, QTableWidgetItem(SOURCE_LABELS.get(entry.source, entry.source)),
                     QTableWidgetItem(self._status_text(entry)), QTableWidgetItem(size),
                     QTableWidgetItem("★" if entry.model_id == default else "")]
            for col, item in enumerate(cells):
                self.table.setItem(row, col, item)
        if self._wanted and self.select(self._wanted):
            self._wanted = ""
        elif selected is not None:
            self.select(selected.model_id)
        self._update_buttons()

    def _status_text(self, entry: ModelEntry) -> str:
        if entry.model_id in self.download_state:
            return self.download_state[entry.model_id]
        if not entry.is_pipeline:
            return "Not a pipeline"
        return "Downloaded" if entry.downloaded else ("Missing" if entry.source == "local" else "Not downloaded")

    def default_model(self) -> str:
        return self.settings.default_model or (self.listing.default_model if self.listing else "")

    def entries(self) -> list[ModelEntry]:
        return list(self.listing.entries) if self.listing else []

    def _default_blocker(self, entry: ModelEntry | None) -> str | None:
        """Why Make default is greyed for ``entry`` (None: it is not)."""
        if entry is None:
            return "Select a model in the list first"
        if not entry.is_pipeline:
            return "Not a generation model (not a diffusers pipeline)"
        if entry.model_id == self.default_model():
            return "Already the default model"
        return None

    def row_of(self, model_id: str) -> int:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == model_id:
                return row
        return -1

    def select(self, model_id: str) -> bool:
        row = self.row_of(model_id)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    def select_when_listed(self, model_id: str) -> None:
        """Select ``model_id`` now if it is listed, else when the next listing has it (the model
        a caution suggests, so its row, card and Download button are what the user sees)."""
        self._wanted = "" if self.select(model_id) else model_id

    def selected_entry(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or self.listing is None:
            return None
        model_id = self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        return self.listing.find(model_id)

    def _update_buttons(self) -> None:
        if self.client.is_shut_down:  # a late reply after the engine shut down (the app closing)
            return
        entry = self.selected_entry()
        downloading = entry is not None and entry.model_id in self.downloads.values()
        offline = self.client.settings.offline
        self.download_button.setEnabled(
            entry is not None and entry.source != "local" and not entry.downloaded and not downloading
            and not offline
        )
        self.download_button.setToolTip(_download_tip(entry, downloading, offline))
        enable_or_say_why(self.cancel_button, None if downloading else "No download of the selected model is running")
        enable_or_say_why(self.delete_button, _delete_blocker(entry, downloading))
        self.delete_button.setText("Remove from list" if entry is not None and entry.source == "local" else "Delete")
        enable_or_say_why(self.default_button, self._default_blocker(entry))
        self.description.setText(entry.description if entry else ("" if self.listing else "Reading the model list…"))
        card = model_card_html(entry.model_id) if entry is not None and entry.is_pipeline else ""
        if card != self._card:  # unchanged: keep where the user scrolled to
            self._card = card
            self.card_view.setHtml(card)
        self.card_view.setVisible(bool(card))

    def _show(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- actions -----------------------------------------------------------------------------

    def download(self, model_id: str) -> int | None:
        """Queue a download job for a hub repo id; returns its job id (None if refused)."""
        try:
            spec = DownloadModelJob(model=model_id.strip())
        except ValueError as exc:
            self._show(str(exc))
            return None
        if self.client.settings.offline:
            self._show("Offline mode is on: turn it off to download models.")
            return None
        job_id = self.track_download(self.client.submit(spec))
        self._set_status(spec.model, "Queued")
        self._show("")
        self._update_buttons()
        return job_id

    def track_download(self, handle: JobHandle) -> int:
        """Show a submitted download job (a :class:`JobHandle`) and react to its end; returns
        its job id."""
        job_id, model_id = handle.job_id, handle.spec.model
        self.downloads[job_id] = model_id
        self.download_state[model_id] = "Queued"
        handle.progressed.connect(lambda progress: self._on_download_progressed(job_id, progress))
        handle.finished.connect(lambda result: self._on_download_finished(job_id, result))
        handle.failed.connect(lambda message, kind: self._on_download_failed(job_id, message, kind))
        handle.cancelled.connect(lambda: self._on_download_cancelled(job_id))
        return job_id

    def _on_download_clicked(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.download(entry.model_id)

    def _on_repo_clicked(self) -> None:
        text = self.repo_edit.text().strip()
        if not text:
            self._show("Type a Hugging Face repo id first, for example riffusion/riffusion-model-v1.")
        elif self.download(text) is not None:
            self.repo_edit.clear()

    def _on_cancel_clicked(self) -> None:
        entry = self.selected_entry()
        for job_id, model_id in self.downloads.items():
            if entry is not None and model_id == entry.model_id:
                self.client.cancel(job_id)

    def _on_delete_clicked(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.delete(entry)

    def delete(self, entry: ModelEntry) -> None:
        """Delete a cached model from disk (after confirming), or forget a local folder.

        The bundled starter model is part of the app and is never deleted."""
        if entry.source == "bundled":
            self._show("The starter model ships with the app and cannot be deleted.")
            return
        if entry.source == "local":
            self.settings.remove_local_model_folder(entry.model_id)
            self.models_changed.emit()
            self.refresh()
            return
        if self.confirm_delete:
            size = format_bytes(entry.size_bytes) if entry.size_bytes else "its files"
            answer = QMessageBox.question(
                self, "Delete model", f"Delete {entry.model_id} from the cache, freeing {size}?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.client.delete_model(entry.model_id)

    def _on_client_model_deleted(self, model_id: str, freed: object) -> None:
        self._show("")
        self.progress_label.setText(f"Deleted {model_id} ({format_bytes(freed or 0)} freed).")
        self.progress_label.show()
        self.models_changed.emit()
        self.refresh()

    def _on_client_task_failed(self, what: str, message: str) -> None:
        self._show(message)

    def add_local_folder(self, folder: str) -> bool:
        """Add a diffusers pipeline folder (one holding model_index.json) to the models."""
        path = Path(folder).expanduser()
        if not (path / "model_index.json").is_file():
            self._show(f"'{path}' is not a diffusers model folder: it has no model_index.json.")
            return False
        self.settings.add_local_model_folder(str(path))
        self._show("")
        self.models_changed.emit()
        self.refresh()
        return True

    def _on_add_folder_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder", self.settings.last_directory)
        if folder:
            self.add_local_folder(folder)

    def _on_default_clicked(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.settings.default_model = entry.model_id
            self.models_changed.emit()
            if self.listing is not None:
                self._on_client_models_listed(self.listing)

    def _on_token_clicked(self) -> None:
        self.settings.hf_token = self.token_edit.text()
        token = self.settings.hf_token or None
        self.engine_settings_changed.emit(self.client.settings.with_changes(token=token))
        self.progress_label.setText("Token saved." if token else "Token cleared.")
        self.progress_label.show()

    def _on_offline_toggled(self, offline: bool) -> None:
        self.engine_settings_changed.emit(self.client.settings.with_changes(offline=offline))
        self._update_buttons()

    # -- download progress -------------------------------------------------------------------

    def _set_status(self, model_id: str, text: str) -> None:
        row = self.row_of(model_id)
        if row >= 0:
            self.table.item(row, 2).setText(text)

    def _on_download_progressed(self, job_id: int, progress: Progress) -> None:
        model_id = self.downloads.get(job_id)
        if model_id is None:
            return
        if progress.bytes_total:
            fraction = (progress.bytes_done or 0) / progress.bytes_total
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * fraction))
            status = f"Downloading {fraction:.0%}"
        else:
            self.progress.setRange(0, 0)
            status = "Downloading"
        self.download_state[model_id] = status
        self._set_status(model_id, status)
        self.progress_label.setText(f"{model_id}: {describe_progress(progress)}")
        self.progress_label.show()
        self.progress.show()

    def _end_download(self, job_id: int, text: str) -> str | None:
        model_id = self.downloads.pop(job_id, None)
        if model_id is None:
            return None
        self.download_state.pop(model_id, None)
        self.progress_label.setText(f"{model_id}: {text}")
        self.progress.setVisible(bool(self.downloads))
        self._update_buttons()
        return model_id

    def _on_download_finished(self, job_id: int, result: object) -> None:
        if self._end_download(job_id, "downloaded.") is not None:
            self.models_changed.emit()
            self.refresh()

    def _on_download_failed(self, job_id: int, message: str, error_type: str) -> None:
        model_id = self._end_download(job_id, "failed.")
        if model_id is not None:
            self._show(message)
            self.refresh()

    def _on_download_cancelled(self, job_id: int) -> None:
        if self._end_download(job_id, "download cancelled (fetched files stay and a new download resumes).") is not None:
            self.refresh()
