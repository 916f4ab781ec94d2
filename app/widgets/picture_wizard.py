"""Train a picture model (issue 16 part 2): a wizard from a folder of (sound, picture) pairs and/or
videos to a picture model that Generate > Picture from Audio can use.

Pages: **Your pairs** (the base picture model, the folder, how often a video gives a frame; "Read
the folder" sorts it on a helper thread, as training will, and lists what is skipped and why),
**Training** (steps, batch, learning rate, seed, checkpoints, the output folder) and **Training
run**: the LoRA wizard's monitoring page (:class:`app.widgets.lora_wizard.MonitorPage`: the loss
curve, at each checkpoint the pictures the model draws for a few training sounds beside the base
model's, each plays its sound, pause/resume/cancel, resume from the last checkpoint). A run the
app's closing cut short is offered at the top of the first page when the wizard opens again
(resume, discard or later: :mod:`app.widgets.lora_wizard_runs`); "Train" in the folder of an
unfinished run asks first (Resume that run, Start over, which deletes its checkpoints, or Cancel).

The run is the engine's ``train_pictures`` job submitted through
:class:`app.engine_client.EngineClient`; the worker cuts the videos and trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.widgets.lora_wizard import LoraWizard, MonitorPage
from app.widgets.lora_wizard_runs import RunOffers
from app.widgets.model_combo import combo_model_id, make_editable, show_model
from app.widgets.spin_boxes import DoubleSpinBox, SpinBox

__all__ = ["PictureWizard"]

STARTER = "builtin:pictures"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _folder_row(parent: QWidget, edit: QLineEdit, title: str) -> QHBoxLayout:
    """``edit`` with a Browse… button that fills it from a folder dialog."""

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(parent, title, edit.text())
        if folder:
            edit.setText(folder)

    browse = QPushButton("Browse…")
    browse.clicked.connect(choose)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


class PairsPage(QWizardPage):
    """The base model, the folder of pairs and/or videos, the frame interval; reads the folder."""

    def __init__(self, wizard: PictureWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Your pairs")
        self.setSubTitle("A folder of sounds each beside a picture of the same name (rain.wav + rain.png), "
                         "and/or of videos (mp4, mkv, webm, mov, avi): a frame every few seconds, with the "
                         "2.56 s of sound around it, becomes a pair.")
        self.found: Any = None
        self.model_combo = QComboBox()
        make_editable(self.model_combo)
        self.model_combo.addItem("Starter picture model (offline)", STARTER)
        self.model_combo.setToolTip("The picture model to start from: its audio encoder stays as it is, its "
                                    "projection and diffusion model learn your pairs (type a train-pictures folder)")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder of sound + picture pairs and/or videos")
        folder_row = _folder_row(self, self.folder_edit, "Folder of pairs or videos")
        self.every_spin = DoubleSpinBox(decimals=2, minimum=0.04, maximum=3600.0, value=1.0, suffix=" s")
        self.every_spin.setToolTip("Videos: a frame (and the sound around it) every this many seconds")
        self.read_button = QPushButton("Read the folder")
        self.read_button.clicked.connect(self.read_folder)
        self.summary_label = QLabel("Choose a folder, then read it.")
        self.summary_label.setWordWrap(True)
        self.skipped_list = QListWidget()
        self.skipped_list.setMaximumHeight(110)
        self.skipped_list.hide()
        form = QFormLayout()
        form.addRow("Base model", self.model_combo)
        form.addRow("Folder", folder_row)
        form.addRow("Frame every", self.every_spin)
        read_row = QHBoxLayout()
        read_row.addWidget(self.read_button)
        read_row.addWidget(self.summary_label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(read_row)
        layout.addWidget(self.skipped_list)
        layout.addStretch(1)
        self.folder_edit.textChanged.connect(self._invalidate)

    def _invalidate(self, *_args: Any) -> None:
        self.found = None
        self.summary_label.setText("Read the folder to see what training will use.")
        self.skipped_list.clear()
        self.skipped_list.hide()
        self.completeChanged.emit()

    def read_folder(self) -> None:
        """Sort the folder (pairs, videos, skipped files) on a helper thread, as the run will."""
        from engine.pictures.training import scan_folder

        folder = self.folder_edit.text().strip()
        self.read_button.setEnabled(False)
        self.summary_label.setText("Reading…")

        def failed(error: BaseException) -> None:
            self.read_button.setEnabled(True)
            self.summary_label.setText(str(error).splitlines()[0] if str(error) else type(error).__name__)
            self.w.folder_read.emit(None)

        self.w.client.run_in_thread("picture-pairs", lambda: scan_folder(folder), self._on_read, failed)

    def _on_read(self, found: Any) -> None:
        self.read_button.setEnabled(True)
        self.found = found
        parts = [_count(len(found.pairs), "pair"), _count(len(found.videos), "video")]
        if found.skipped:
            parts.append(_count(len(found.skipped), "file") + " skipped")
        self.summary_label.setText(", ".join(parts) + (" (videos are cut into pairs when training starts)"
                                                       if found.videos else ""))
        self.skipped_list.clear()
        for name, why in found.skipped:
            self.skipped_list.addItem(f"Skipped {name}: {why}")
        self.skipped_list.setVisible(bool(found.skipped))
        self.completeChanged.emit()
        self.w.folder_read.emit(found)

    def model_id(self) -> str:
        return combo_model_id(self.model_combo) or STARTER

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.found is not None


class SettingsPage(QWizardPage):
    """Steps, batch, learning rate, seed, checkpoints and the output folder."""

    def __init__(self, wizard: PictureWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training")
        self.setSubTitle("On the CPU the starter-sized model takes about a second a step; checkpoints also "
                         "draw samples to watch, and a stopped run goes on from the last one.")
        self.steps_spin = SpinBox(minimum=1, maximum=1_000_000, value=500)
        self.batch_spin = SpinBox(minimum=1, maximum=256, value=8)
        self.lr_spin = DoubleSpinBox(decimals=6, minimum=1e-6, maximum=0.1, singleStep=1e-4, value=5e-4)
        self.seed_spin = SpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.checkpoint_spin = SpinBox(minimum=0, maximum=1_000_000, value=50, specialValueText="never")
        self.checkpoint_spin.setToolTip("Save a checkpoint (and draw samples) every this many steps")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("the folder the picture model goes into")
        output_row = _folder_row(self, self.output_edit, "Picture model folder")
        form = QFormLayout(self)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Pairs per step", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Checkpoint every", self.checkpoint_spin)
        form.addRow("Picture model folder", output_row)
        self.output_edit.textChanged.connect(lambda *_: self.completeChanged.emit())

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        if not self.output_edit.text().strip():
            pairs = Path(self.w.pairs_page.folder_edit.text().strip() or "pictures")
            self.output_edit.setText(str(pairs.parent / f"{pairs.name}-picture-model"))

    def isComplete(self) -> bool:  # noqa: N802
        return bool(self.output_edit.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name ("Train")
        return self.w.confirm_start()


class PictureMonitorPage(MonitorPage):
    """The LoRA wizard's monitoring page, its samples named for pictures."""

    def __init__(self, wizard: PictureWizard) -> None:
        super().__init__(wizard)  # type: ignore[arg-type]
        self.samples_box.setTitle("Samples: the pictures it draws for training sounds (click one to hear the sound)")
        self.apply_button.setText("Use it for Picture from Audio")

    def show_samples(self, samples: Any, thumbnails: Any) -> None:
        super().show_samples(samples, thumbnails)
        names = {"with the LoRA": "being trained"}
        for i in range(self.samples_grid.count()):
            widget = self.samples_grid.itemAt(i).widget()
            if isinstance(widget, QLabel) and widget.text() in names:
                widget.setText(names[widget.text()])
            elif isinstance(widget, QPushButton):
                widget.setToolTip(widget.toolTip().replace("Play '", "Hear '").replace("with the LoRA", "(being trained)"))


class PictureWizard(QWizard):
    """Train a picture model on the engine.

    ``client``: the app's EngineClient; ``use_model(path)``: called by "Use it for Picture from
    Audio" (e.g. set the Picture tab's model); ``player``: an engine Player for the samples' sounds
    (one is made when first needed); ``settings``: the AppSettings that remember an unfinished run
    across restarts. ``picture_model_trained(str)`` when a run wrote its folder;
    ``folder_read(TrainingFolder or None)`` after "Read the folder".
    """

    picture_model_trained = Signal(str)
    folder_read = Signal(object)
    run_started = Signal(object)

    run_kind = "pictures"

    def __init__(self, client: Any, *, use_model: Any = None, player: Any = None, settings: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a Picture Model")
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.client = client
        self.use_model = use_model
        self.player = player
        self.app_settings = settings
        self.job: Any = None
        self._resume_pending = False  # read by MonitorPage
        self._start_confirmed = False  # read by confirm_start
        self.start_over_box: Any = None
        self.pairs_page = PairsPage(self)
        self.dataset_page = self.pairs_page  # LoraWizard.play notes a failure on its summary label
        self.settings_page = SettingsPage(self)
        self.monitor_page = PictureMonitorPage(self)
        self.addPage(self.pairs_page)
        self.addPage(self.settings_page)
        self.monitor_id = self.addPage(self.monitor_page)
        self.settings_page.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Train")
        self.resize(760, 680)
        self.run_offers = RunOffers(self, (self.run_kind,), self.pairs_page, self.resume_run)

    def set_base(self, model: str) -> None:
        show_model(self.pairs_page.model_combo, model)

    # -- the run (what MonitorPage calls) -------------------------------------------------------

    def make_job(self, *, resume: bool = False) -> Any:
        from engine.api import task

        page = self.settings_page
        return task("train_pictures").spec(
            pairs_dir=self.pairs_page.folder_edit.text().strip(), output_dir=page.output_edit.text().strip(),
            base=self.pairs_page.model_id(), num_steps=page.steps_spin.value(), batch_size=page.batch_spin.value(),
            learning_rate=page.lr_spin.value(), seed=page.seed_spin.value(),
            checkpoint_every=min(page.checkpoint_spin.value(), page.steps_spin.value()),
            frame_every_s=self.pairs_page.every_spin.value(), resume=resume)

    # The run's plumbing is the LoRA wizard's own (its MonitorPage calls these): the same
    # functions, not copies. They use make_job, job, monitor_page, run_started, _remember_run,
    # client, player and dataset_page.summary_label, which this wizard has too.
    start = LoraWizard.start
    pause_job = LoraWizard.pause_job
    resume_job = LoraWizard.resume_job
    has_checkpoint = LoraWizard.has_checkpoint
    play = LoraWizard.play
    # An unfinished run is offered after a restart, as the LoRA wizard's are (the same functions).
    _remember_run = LoraWizard._remember_run
    _forget_run = LoraWizard._forget_run
    resume_on_monitor = LoraWizard.resume_on_monitor
    # A new run where an unfinished one left its checkpoints asks first (Resume, Start over, Cancel).
    confirm_start = LoraWizard.confirm_start
    _on_start_over = LoraWizard._on_start_over
    resume_unfinished = LoraWizard.resume_unfinished

    def resume_run(self, run: Any) -> None:
        """Go on with the unfinished ``run``: the pages show the settings it was started with and the
        monitoring page resumes it from its checkpoint."""
        self.run_offers.hide_offer(run.output_dir)  # however it was chosen (here, or the notice at startup)
        job = run.job
        self.set_base(job.base)
        self.pairs_page.folder_edit.setText(job.pairs_dir)
        self.pairs_page.every_spin.setValue(job.frame_every_s)
        page = self.settings_page
        page.steps_spin.setValue(job.num_steps)
        page.batch_spin.setValue(job.batch_size)
        page.lr_spin.setValue(job.learning_rate)
        page.seed_spin.setValue(job.seed or 0)
        page.checkpoint_spin.setValue(job.checkpoint_every)
        page.output_edit.setText(job.output_dir)
        self.job = job
        self.resume_on_monitor()

    def on_trained(self, result: Any) -> None:
        page = self.monitor_page
        (first,) = result[:1]
        facts = first.recipe.facts
        folder = str(first.files[0])
        losses = facts.get("loss_first_last") or [float("nan")] * 2
        skipped = facts.get("skipped") or []
        page.entry = folder  # the page is complete once something was trained
        page.status_label.setText(
            f"Done: trained on {facts.get('pairs')} pairs ({facts.get('pairs_from_videos', 0)} from videos), "
            f"loss {losses[0]:.4f} -> {losses[1]:.4f}" + (f", {_count(len(skipped), 'file')} skipped" if skipped else "")
            + f". Saved to {folder}.")
        page.apply_button.setVisible(self.use_model is not None)
        page.apply_button.setEnabled(True)
        page.completeChanged.emit()
        self._forget_run()
        self.picture_model_trained.emit(folder)

    def apply_trained(self) -> bool:
        """Hand the new model to ``use_model`` (Picture from Audio's model)."""
        if self.monitor_page.entry is None or self.use_model is None:
            return False
        self.use_model(self.monitor_page.entry)
        self.monitor_page.apply_button.setEnabled(False)
        return True

    def showEvent(self, event: Any) -> None:  # noqa: N802
        """Shown again after a run ended: back to the first page (the fields keep their values)."""
        handle = self.monitor_page.handle
        if self.currentPage() is self.monitor_page and (handle is None or handle.is_done):
            self.restart()
        super().showEvent(event)
