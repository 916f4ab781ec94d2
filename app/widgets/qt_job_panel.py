"""The job panel: each engine job's stage, progress, live preview and a cancel button.

Failures stay in the list as a message giving the reason (never a dialog, never a crash).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets.elided_label import ElidedLabel
from app.widgets.qt_inspector import model_name, qimage_from_rgb
from engine.api import JobSpec, Progress

PREVIEW_HEIGHT_PX = 64
BAR_HEIGHT_PX = 6
STAGE_LABELS = {
    "queued": "Waiting",
    "download": "Downloading",
    "load": "Loading model",
    "encode": "Encoding",
    "denoise": "Denoising",
    "decode": "Decoding",
    "invert": "Making audio",
    "save": "Saving",
}


def format_bytes(n: float | None) -> str:
    """'512 KB', '1.5 MB', '4.27 GB' (decimal units, like download sizes)."""
    if n is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(n)} B"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


#: Stages whose progress counts steps (denoising, training): "step 12 of 30".
STEP_STAGES = ("denoise", "train", "sample")


def describe_progress(progress: Progress) -> str:
    """The detail line of a job row: 'step 3 of 30', '1.2 GB of 4.3 GB, 25 MB/s, 2:03 left'."""
    if progress.stage == "download" and progress.bytes_done is not None:
        parts = [f"{format_bytes(progress.bytes_done)} of {format_bytes(progress.bytes_total)}"]
        if progress.rate_bytes_per_s:
            parts.append(f"{format_bytes(progress.rate_bytes_per_s)}/s")
        if progress.eta_s is not None:
            parts.append(f"{format_duration(progress.eta_s)} left")
        return ", ".join(parts)
    text = ""
    if progress.total and progress.stage in STEP_STAGES:
        text = f"step {progress.step} of {progress.total}"
    elif progress.total and progress.total > 1:
        # Other stages count the parts done: while part 1 of 3 runs, step is 0.
        text = f"part {min(progress.step + 1, progress.total)} of {progress.total}"
    if progress.message:
        text = f"{text} - {progress.message}" if text else progress.message
    return text


class JobRow(QFrame):
    """One job in the panel."""

    cancel_requested = Signal(int)

    def __init__(self, job_id: int, spec: JobSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.spec = spec
        self.state = "queued"
        self.started_at: float | None = None
        self.setObjectName("jobRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # Cut with "…" where the stage label begins (a long prompt used to run under it, clipped
        # mid-letter); the whole title is its tooltip.
        self.title = ElidedLabel(spec.describe())
        self.stage = QLabel(STAGE_LABELS["queued"])
        self.stage.setObjectName("jobStage")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(BAR_HEIGHT_PX)
        self.bar.setMinimumWidth(48)
        self.bar.hide()  # waiting: one line; the bar comes when it starts
        # While running: "step 3 of 30" beside the bar, cut with "…" (a download's bytes, rate and
        # time left run long), whole in its tooltip. A failure's reason wraps under the title.
        self.detail = ElidedLabel()
        self.detail.setObjectName("jobDetail")
        self.detail.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.detail.hide()
        self.reason = QLabel()
        self.reason.setObjectName("jobDetail")
        self.reason.setWordWrap(True)
        self.reason.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reason.setTextFormat(Qt.TextFormat.PlainText)
        self.reason.hide()
        self.preview = QLabel()
        self.preview.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("✕")
        self.cancel_button.setToolTip("Cancel this job")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.job_id))

        # One line per job once it ends (title, "Done", its time) and two while it runs (the
        # bar and its step under the title): at 1024 x 700 a finished job took 56 px and the
        # dock showed one and a half.
        # The stage goes beside the bar while the job runs, so that the title keeps the line.
        self._top = QHBoxLayout()
        self._top.setSpacing(6)
        self._top.addWidget(self.title, 1)
        self._top.addWidget(self.stage)
        self._top.addWidget(self.cancel_button)
        self._progress = QHBoxLayout()
        self._progress.setSpacing(6)
        self._progress.addWidget(self.bar, 1)
        self._progress.addWidget(self.detail)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 4, 2)
        layout.setSpacing(1)
        layout.addLayout(self._top)
        layout.addLayout(self._progress)
        layout.addWidget(self.reason)
        layout.addWidget(self.preview)
        self.cancel_button.setFixedHeight(self.title.sizeHint().height() + 2)

    @property
    def is_done(self) -> bool:
        return self.state in ("finished", "failed", "cancelled")

    def set_started(self) -> None:
        self.state = "running"
        self.started_at = time.monotonic()
        self.stage.setText("Starting")
        self._show_progress()

    def _show_progress(self) -> None:
        if self._progress.indexOf(self.stage) < 0:
            self._progress.insertWidget(1, self.stage)
        self.bar.show()
        self.detail.show()

    def set_progress(self, progress: Progress) -> None:
        self.state = "running"
        self._show_progress()
        self.stage.setText(STAGE_LABELS.get(progress.stage, progress.stage.capitalize()))
        if progress.stage == "download" and progress.bytes_total:
            # Bytes do not fit an int progress bar for big models: show per mille.
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * (progress.bytes_done or 0) / progress.bytes_total))
        elif progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.step, progress.total))
        else:
            self.bar.setRange(0, 0)  # busy indicator
        detail = describe_progress(progress)
        model = getattr(self.spec, "model", None)
        if isinstance(model, str) and model and model in detail:  # "Loading Starter model", not "builtin:starter"
            detail = detail.replace(model, model_name(model))
        self.detail.setText(detail)
        if progress.preview is not None:
            # Decimate with numpy first: converting and scaling the full image costs tens of ms.
            step = max(1, progress.preview.shape[0] // PREVIEW_HEIGHT_PX)
            self.preview.setPixmap(QPixmap.fromImage(qimage_from_rgb(progress.preview[::step, ::step])))
            self.preview.show()

    def set_finished(self, summary: str = "") -> None:
        """Done: "✓ 8.0 s" beside the title (the row's one line), "Done in 8.0 s" on hover."""
        self._end("finished", "Done")
        took = summary or self._took()
        if took:
            self.stage.setText(f"\u2713 {took}")
        self.stage.setToolTip(f"Done in {took}" if took else "Done")

    def set_failed(self, message: str, error_type: str) -> None:
        self._end("failed", "Failed")
        self.reason.setText(message)  # whole, wrapped: what went wrong and what to try
        self.reason.setToolTip(error_type)
        self.reason.show()
        self.setProperty("failed", True)
        self.style().unpolish(self)
        self.style().polish(self)

    def set_cancelled(self) -> None:
        self._end("cancelled", "Cancelled")

    def _end(self, state: str, stage: str) -> None:
        self.state = state
        self.stage.setText(stage)
        self.detail.setText("")
        self.cancel_button.hide()
        if self._top.indexOf(self.stage) < 0:
            self._top.insertWidget(1, self.stage)
        self.bar.hide()
        self.detail.hide()
        self.preview.hide()  # the result is on the timeline; the list stays one line a job

    def _took(self) -> str:
        """How long the job ran: "8.0 s", "4:42" from a minute on; "" when it never started."""
        if self.started_at is None:
            return ""
        seconds = time.monotonic() - self.started_at
        return f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)

    def message(self) -> str:
        """What the row says under its title: the step while it runs, the reason it failed."""
        return self.reason.text() if self.state == "failed" else self.detail.text()


class QtJobPanel(QWidget):
    """Lists the jobs of an :class:`app.engine_client.EngineClient`, newest last."""

    def __init__(self, client, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.rows: dict[int, JobRow] = {}
        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._list)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.empty_label = QLabel("No jobs yet. Generate something, or download a model.")
        self.empty_label.setObjectName("hintLabel")
        self.empty_label.setWordWrap(True)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.clicked.connect(self._on_cancel_all_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.cancel_all_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.set_client(client)

    def set_client(self, client) -> None:
        self.client = client
        client.job_queued.connect(self._on_client_job_queued)
        client.job_started.connect(self._on_client_job_started)
        client.job_progressed.connect(self._on_client_job_progressed)
        client.job_finished.connect(self._on_client_job_finished)
        client.job_failed.connect(self._on_client_job_failed)
        client.job_cancelled.connect(self._on_client_job_cancelled)
        client.job_paused.connect(self._on_client_job_paused)
        client.job_resumed.connect(self._on_client_job_resumed)
        self._update_buttons()

    def row(self, job_id: int) -> JobRow | None:
        return self.rows.get(job_id)

    def _row(self, job_id: int, spec: JobSpec | None = None) -> JobRow | None:
        row = self.rows.get(job_id)
        if row is None and spec is not None:
            row = JobRow(job_id, spec)
            row.cancel_requested.connect(self._on_row_cancel_requested)
            self._list_layout.insertWidget(self._list_layout.count() - 1, row)
            self.rows[job_id] = row
            self._update_buttons()
        return row

    def _on_client_job_queued(self, job_id: int, spec: JobSpec) -> None:
        self._row(job_id, spec)

    def _on_client_job_started(self, job_id: int, spec: JobSpec) -> None:
        self._row(job_id, spec).set_started()

    def _on_client_job_progressed(self, job_id: int, progress: Progress) -> None:
        row = self._row(job_id)
        if row is not None:
            row.set_progress(progress)

    def _on_client_job_finished(self, job_id: int, result: object) -> None:
        row = self._row(job_id)
        if row is not None:
            row.set_finished()
        self._update_buttons()

    def _on_client_job_failed(self, job_id: int, message: str, error_type: str) -> None:
        row = self._row(job_id)
        if row is not None:
            row.set_failed(message, error_type)
        self._update_buttons()

    def _on_client_job_cancelled(self, job_id: int) -> None:
        row = self._row(job_id)
        if row is not None:
            row.set_cancelled()
        self._update_buttons()

    def _on_client_job_paused(self, job_id: int) -> None:
        row = self._row(job_id)
        if row is not None and not row.is_done:
            row.state = "paused"
            row.stage.setText("Paused")

    def _on_client_job_resumed(self, job_id: int) -> None:
        row = self._row(job_id)
        if row is not None and not row.is_done:
            row.state = "running"
            row.stage.setText("Resuming")

    def _on_row_cancel_requested(self, job_id: int) -> None:
        row = self.rows.get(job_id)
        if row is not None and not row.is_done:
            row.stage.setText("Cancelling")
            row.cancel_button.setEnabled(False)
            self.client.cancel(job_id)

    def _on_cancel_all_clicked(self) -> None:
        for job_id in list(self.rows):
            self._on_row_cancel_requested(job_id)

    def clear_finished(self) -> None:
        for job_id, row in list(self.rows.items()):
            if row.is_done:
                self._list_layout.removeWidget(row)
                row.deleteLater()
                del self.rows[job_id]
        self._update_buttons()

    def _update_buttons(self) -> None:
        done = any(r.is_done for r in self.rows.values())
        active = any(not r.is_done for r in self.rows.values())
        self.clear_button.setEnabled(done)
        self.cancel_all_button.setEnabled(active)
        # Greyed, they say why when hovered.
        self.clear_button.setToolTip("Remove finished, failed and cancelled jobs from the list" if done
                                     else "No finished jobs to clear")
        self.cancel_all_button.setToolTip("Cancel every queued and running job" if active
                                          else "No job is queued or running")
        self.empty_label.setVisible(not self.rows)
