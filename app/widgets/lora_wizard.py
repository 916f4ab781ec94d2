"""Tools > Train a LoRA…: a wizard from a folder of sounds (and/or clips of the open project) to a
LoRA in the library, applied to the prompt panel.

Pages: **Dataset** (base model, folder, clips, captions, trigger word and prefix, split; "Read
the sounds" preprocesses them as training will, on a helper thread, and shows what was skipped and
why and a grid of the spectrograms, each plays), **Training** (a memory preset, rank, alpha,
targets, learning rate, warm-up, schedule, steps or epochs shown as how many times each clip is
seen, batch, accumulation, Min-SNR, mixed precision, gradient checkpointing, 8-bit Adam, seed;
the settings of a LoRA in the library; an estimate of time and peak memory), **Output** (name and
layout: diffusers/PEFT or kohya) and **Training run** (loss curves, validation samples next to the
base model's that play, pause/resume/cancel, checkpoints; the finished LoRA lands in the library
and can be applied at once). An unfinished run (a crash, a restart) is offered at the top of the
first page (:mod:`app.widgets.lora_wizard_runs`): resume it from its last checkpoint, discard it, or later.
A new run never lands on an unfinished run's checkpoints: the name taken gets the next free one
(``blip-2``). The picture wizard, whose folder the user picks, asks first (:meth:`LoraWizard.confirm_start`).

The run is an engine job submitted through :class:`app.engine_client.EngineClient` (the worker
thread trains; the GUI thread only draws what its progress reports carry).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.widgets.lora_wizard_runs import (
    RunOffers,
    StartOverBox,
    forget_run,
    job_fields,
    read_records,
    remember_run,
    scan_runs,
    unfinished_step,
)
from app.widgets.model_combo import combo_model_id, make_editable, show_model
from app.widgets.screen_fit import resize_within_screen
from app.widgets.spin_boxes import DoubleSpinBox, SpinBox
from engine.api import PRESETS as SPECTROGRAM_PRESETS
from engine.models.catalog import STARTER2_MODEL_ID, STARTER_MODEL_ID, model_hints
from engine.training.lora_config import MAX_LEARNING_RATE, LoraTrainConfig, preset_steps, run_advice
from engine.training.lora_library import (
    LoraEntry,
    LoraLibraryError,
    clip,
    library_dir,
    machine_preset,
    presets,
    preview_dataset,
    rank_limit,
    read_lora_entry,
    scan_library,
    train_lora_spec,
    trained_caption,
    unique_output_path,
)

__all__ = ["LoraWizard"]

THUMB = QSize(96, 96)
SCHEDULES = ("constant", "cosine", "linear")
PRECISIONS = ("no", "fp16", "bf16")
DEVICES = ("auto", "cpu", "cuda")
UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
#: The rank box's top while the base model's own limit is not known (``lora_library.rank_limit``).
MAX_RANK = 256
ESTIMATE_HINT = "Loads the model, times steps after a warm-up, a sample and a checkpoint."
ESTIMATE_STALE = "The settings, the sounds or the base model changed since the estimate: estimate again."


def thumbnail_image(image: np.ndarray, size: QSize = THUMB) -> QImage:
    """uint8 (H, W, 3) -> a QImage that owns its pixels, scaled to fit ``size`` (aspect kept).

    QImage is safe off the GUI thread: the wizard calls this on helper threads (the dataset read,
    :func:`sample_thumbnails`), so that the GUI thread only turns thumbnails no larger than
    ``size`` into pixmaps (:func:`thumbnail_pixmap`), whatever the size of the model's images."""
    data = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    height, width = data.shape[:2]
    owned = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return owned.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def thumbnail_pixmap(thumbnail: QImage) -> QPixmap:
    """A thumbnail from :func:`thumbnail_image` as a pixmap (GUI thread: the only image work there)."""
    return QPixmap.fromImage(thumbnail)


def sample_thumbnails(samples: Any) -> list[tuple[QImage, QImage]]:
    """(LoRA, base model) thumbnails of validation samples; run off the GUI thread."""
    return [(thumbnail_image(s.image), thumbnail_image(s.base_image)) for s in samples]


def _strip_head(caption: str, trigger: str, prefix: str) -> str:
    head = " ".join(part for part in (prefix.strip(), trigger.strip()) if part)
    if head and caption.startswith(head + ", "):
        return caption[len(head) + 2:]
    return "" if caption == head else caption


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------


class DatasetPage(QWizardPage):
    """Base model, sounds, captions, trigger and prefix, split; reads and shows the dataset."""

    def __init__(self, wizard: LoraWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Your sounds")
        self.setSubTitle("A folder of audio files and/or clips of the open project. Captions come from "
                         "metadata.csv / metadata.jsonl (file_name, text), a NAME.txt beside each file, "
                         "the table below, else the file name.")
        self.dataset: Any = None
        self.train_set: Any = None
        self.validation_set: Any = None
        self.clips: list[tuple[str, np.ndarray, int]] = []
        self.typed: dict[str, str] = {}
        self._reading = False

        self.model_combo = QComboBox()
        make_editable(self.model_combo)
        self.model_combo.setToolTip("The model the LoRA adapts; it also sets the spectrogram the sounds become")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder of .wav / .flac / .ogg / .mp3 files")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.add_clips_button = QPushButton("Add the selected clips")
        self.add_clips_button.setToolTip("The audible part of each selected clip (or the selected time range)")
        self.add_clips_button.clicked.connect(self.add_selected_clips)
        self.clips_label = QLabel("No clips")
        clips_row = QHBoxLayout()
        clips_row.addWidget(self.clips_label, 1)
        clips_row.addWidget(self.add_clips_button)
        self.trigger_edit = QLineEdit()
        self.trigger_edit.setPlaceholderText("a made-up word, e.g. zorblat")
        self.prefix_edit = QLineEdit()
        self.prefix_edit.setPlaceholderText("optional text before every caption")
        self.validation_spin = SpinBox()
        self.validation_spin.setRange(0, 50)
        self.validation_spin.setSuffix(" %")
        self.validation_spin.setValue(10)
        self.validation_spin.setToolTip("Clips kept out of training to measure the validation loss")
        self.spectrogram_combo = QComboBox()
        self.spectrogram_combo.addItem("The model's own", "")
        for name in sorted(SPECTROGRAM_PRESETS):
            self.spectrogram_combo.addItem(name, name)
        self.duration_spin = DoubleSpinBox()
        self.duration_spin.setRange(0.0, 60.0)
        self.duration_spin.setDecimals(2)
        self.duration_spin.setSpecialValueText("the model's own")
        self.duration_spin.setSuffix(" s")
        self.height_spin = SpinBox()
        self.height_spin.setRange(0, 1024)
        self.height_spin.setSingleStep(8)
        self.height_spin.set_multiple_of(8)  # a spectrogram image is a multiple of 8 pixels high
        self.height_spin.setSpecialValueText("the preset's")
        spectrogram = QGroupBox("Spectrogram (for a model that does not name its own)")
        spectrogram_form = QFormLayout(spectrogram)
        spectrogram_form.addRow("Preset", self.spectrogram_combo)
        spectrogram_form.addRow("Clip length", self.duration_spin)
        spectrogram_form.addRow("Height (mel rows)", self.height_spin)

        self.read_button = QPushButton("Read the sounds")
        self.read_button.clicked.connect(self.read_dataset)
        self.summary_label = QLabel("Choose sounds, then read them.")
        self.summary_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        # "Trained as": the caption with the trigger word and prefix in front, what the model sees (a
        # caption that is the trigger word alone left the editable column blank, as if none were read)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Sound", "Caption (editable)", "Trained as", "Set"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.itemChanged.connect(self._on_table_item_changed)
        self.skipped_list = QListWidget()
        self.skipped_list.setMaximumHeight(70)
        self.skipped_list.hide()
        self.grid = QListWidget()
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(THUMB)
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setMovement(QListWidget.Movement.Static)
        self.grid.setMinimumHeight(THUMB.height() + 40)
        self.grid.setToolTip("Double-click a spectrogram to hear the sound as the model will learn it")
        self.grid.itemActivated.connect(self._on_grid_item_activated)

        form = QFormLayout()
        form.addRow("Base model", self.model_combo)
        form.addRow("Folder", folder_row)
        form.addRow("Clips", clips_row)
        form.addRow("Trigger word", self.trigger_edit)
        form.addRow("Caption prefix", self.prefix_edit)
        form.addRow("Validation", self.validation_spin)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(spectrogram)
        read_row = QHBoxLayout()
        read_row.addWidget(self.read_button)
        read_row.addWidget(self.summary_label, 1)
        layout.addLayout(read_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.skipped_list)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.grid, 1)
        for signal in (self.folder_edit.textChanged, self.trigger_edit.textChanged, self.prefix_edit.textChanged,
                       self.validation_spin.valueChanged, self.model_combo.currentTextChanged,
                       self.spectrogram_combo.currentIndexChanged, self.duration_spin.valueChanged,
                       self.height_spin.valueChanged):
            signal.connect(self._invalidate)

    # -- inputs ------------------------------------------------------------------------------

    def model_id(self) -> str:
        return combo_model_id(self.model_combo)

    def set_model(self, model_id: str) -> None:
        show_model(self.model_combo, model_id)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of sounds", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def add_selected_clips(self) -> int:
        """Add the project's selected clips (their audible part, or the selected time range of
        each); returns how many were added."""
        project = self.w.project
        if project is None:
            return 0
        selection = project.selection
        added = 0
        for item in project.selected_clips():
            audio = item.audible_audio()
            if selection.has_time_range:
                first = max(0, int(round((selection.start_s - item.start_s) * item.sample_rate_hz)))
                last = min(audio.shape[1], int(round((selection.end_s - item.start_s) * item.sample_rate_hz)))
                if last <= first:
                    continue
                audio = audio[:, first:last]
            name = f"{item.name} ({item.id[:6]})"
            if any(n == name for n, _a, _r in self.clips):
                continue
            self.clips.append((name, np.array(audio, dtype=np.float32), int(item.sample_rate_hz)))
            prompt = item.recipe.params.get("prompt") if item.recipe is not None else None
            if prompt and name not in self.typed:
                self.typed[name] = str(prompt)
            added += 1
        self.clips_label.setText(f"{len(self.clips)} clips" if self.clips else "No clips")
        self._invalidate()
        return added

    def job_inputs(self) -> dict[str, Any]:
        """What a run needs from this page (TrainLoraJob fields)."""
        preset = self.spectrogram_combo.currentData() or None
        return {
            "model": self.model_id(),
            "data_dir": self.folder_edit.text().strip() or None,
            "clips": tuple(clip(name, audio, rate, "") for name, audio, rate in self.clips),
            "trigger": self.trigger_edit.text().strip(),
            "prefix": self.prefix_edit.text().strip(),
            "captions": tuple(sorted(self.typed.items())),
            "spectrogram_preset": preset,
            "duration_s": self.duration_spin.value() or None,
            "height": self.height_spin.value() or None,
        }

    # -- reading -----------------------------------------------------------------------------

    def _invalidate(self, *_args: Any) -> None:
        if self.dataset is not None:
            self.dataset = self.train_set = self.validation_set = None
            self.summary_label.setText("Changed: read the sounds again.")
            self.table.setRowCount(0)
            self.grid.clear()
            self.skipped_list.clear()
            self.skipped_list.hide()
        self.completeChanged.emit()

    def read_dataset(self) -> None:
        """Preprocess the dataset as training will, off the GUI thread; the page fills when done."""
        inputs = self.job_inputs()
        if not inputs["model"]:
            self.show_error("Choose a base model first.")
            return
        if inputs["data_dir"] is None and not inputs["clips"]:
            self.show_error("No sounds to train on: choose a folder of audio files or add clips.")
            return
        self.show_error("")
        self._reading = True
        self.read_button.setEnabled(False)
        self.summary_label.setText("Reading the sounds…")
        fraction = self.validation_spin.value() / 100.0
        seed = self.w.training_page.seed_spin.value()
        kwargs = {k: inputs[k] for k in ("trigger", "prefix", "spectrogram_preset", "duration_s", "height")}

        def work() -> Any:
            dataset, train, validation = preview_dataset(
                inputs["model"], inputs["data_dir"], inputs["clips"], captions=dict(inputs["captions"]),
                validation_fraction=fraction, seed=seed, **kwargs)
            return dataset, train, validation, [thumbnail_image(e.image) for e in dataset.examples]

        self.w.client.run_in_thread("lora-dataset", work, self._on_dataset_read, self._on_dataset_failed)

    def _on_dataset_failed(self, error: BaseException) -> None:
        self._reading = False
        self.read_button.setEnabled(True)
        self.summary_label.setText("")
        self.show_error(str(error).splitlines()[0] if str(error) else type(error).__name__)
        self.w.dataset_read.emit(None)

    def _on_dataset_read(self, result: tuple[Any, Any, Any, list[QImage]]) -> None:
        self._reading = False
        self.read_button.setEnabled(True)
        self.dataset, self.train_set, self.validation_set, thumbnails = result
        dataset = self.dataset
        validation = {e.name for e in self.validation_set.examples}
        trigger, prefix = self.trigger_edit.text(), self.prefix_edit.text()
        self.table.blockSignals(True)
        self.table.setRowCount(len(dataset.examples))
        for row, example in enumerate(dataset.examples):
            name_item = QTableWidgetItem(example.name)
            name_item.setFlags(name_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            caption_item = QTableWidgetItem(_strip_head(example.caption, trigger, prefix))
            caption_item.setData(Qt.ItemDataRole.UserRole, example.name)
            caption_item.setToolTip(f"Trained as: {example.caption}")
            trained_item = QTableWidgetItem(example.caption)
            trained_item.setFlags(trained_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            set_item = QTableWidgetItem("validation" if example.name in validation else "training")
            set_item.setFlags(set_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, name_item)
            self.table.setItem(row, 1, caption_item)
            self.table.setItem(row, 2, trained_item)
            self.table.setItem(row, 3, set_item)
        self.table.blockSignals(False)
        self.grid.clear()
        for example, thumbnail in zip(dataset.examples, thumbnails):
            item = QListWidgetItem(QIcon(thumbnail_pixmap(thumbnail)), example.name)
            item.setData(Qt.ItemDataRole.UserRole, example.name)
            item.setToolTip(example.caption)
            self.grid.addItem(item)
        self.skipped_list.clear()
        for name, why in dataset.skipped:
            self.skipped_list.addItem(f"Skipped {name}: {why}")
        for name in dataset.unmatched_captions:  # a typo in metadata.csv: the caption went nowhere
            self.skipped_list.addItem(f"Caption for {name} unused: no such file in the folder")
        self.skipped_list.setVisible(bool(dataset.skipped or dataset.unmatched_captions))
        spec = dataset.target
        self.summary_label.setText(
            f"{len(dataset)} sounds ({len(self.train_set)} training, {len(self.validation_set)} validation)"
            + (f", {len(dataset.skipped)} skipped" if dataset.skipped else "")
            + f"; each becomes a {spec.height} x {spec.width} '{spec.preset}' spectrogram of {spec.duration_s:.2f} s."
        )
        self.completeChanged.emit()
        self.w.training_page.update_seen()
        self.w.dataset_read.emit(dataset)

    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 1:
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        self.typed[str(name)] = item.text().strip()
        trained = trained_caption(item.text(), self.trigger_edit.text(), self.prefix_edit.text())
        item.setToolTip(f"Trained as: {trained}")
        trained_item = self.table.item(item.row(), 2)
        if trained_item is not None:
            trained_item.setText(trained)

    def example(self, name: str) -> Any:
        return next((e for e in self.dataset.examples if e.name == name), None) if self.dataset else None

    def _on_grid_item_activated(self, item: QListWidgetItem) -> None:
        example = self.example(item.data(Qt.ItemDataRole.UserRole))
        if example is not None:
            self.w.play(example.audio, int(self.dataset.target.params.sample_rate))

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.dataset is not None and len(self.dataset) > 0 and not self._reading


# ---------------------------------------------------------------------------------------------
# Training settings
# ---------------------------------------------------------------------------------------------


class TrainingPage(QWizardPage):
    """The run's settings, a memory preset to start from, and an estimate before starting."""

    def __init__(self, wizard: LoraWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training")
        self.setSubTitle("Start from a preset for your memory, or from the settings of a LoRA you trained.")
        self.presets: dict[str, dict[str, Any]] = {}
        self.base: dict[str, Any] = {}  # settings not shown as fields (thread count, sampling)
        self.preset_combo = QComboBox()
        self.machine_preset = ""
        self._preset_picked = False
        self.preset_combo.activated.connect(self._on_preset_activated)
        self.from_lora_combo = QComboBox()
        self.from_lora_combo.addItem("—", "")
        self.from_lora_combo.activated.connect(lambda _i: self.apply_lora_settings(self.from_lora_combo.currentData()))
        self.rank_spin = SpinBox()
        self.rank_spin.setRange(1, MAX_RANK)
        self.set_rank_limit("", 0)
        self.alpha_spin = DoubleSpinBox()
        self.alpha_spin.setRange(0.01, 512.0)
        self.alpha_spin.setToolTip("The LoRA's scale is alpha / rank")
        self.target_checks = [QCheckBox(name) for name in UNET_TARGETS]
        for check in self.target_checks:
            check.setChecked(True)
            check.setEnabled(False)
            check.setToolTip("The UNet's attention projections the LoRA adapts")
        self.text_encoder_check = QCheckBox("text encoder (q/k/v/out)")
        targets = QHBoxLayout()
        for check in (*self.target_checks, self.text_encoder_check):
            targets.addWidget(check)
        self.lr_spin = DoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(1e-6, MAX_LEARNING_RATE)
        self.lr_spin.setSingleStep(1e-4)
        self.warmup_spin = SpinBox()
        self.warmup_spin.setRange(0, 100000)
        self.schedule_combo = QComboBox()
        self.schedule_combo.addItems(SCHEDULES)
        self.unit_combo = QComboBox()
        self.unit_combo.addItems(["steps", "epochs"])
        self.length_spin = DoubleSpinBox()
        self.length_spin.setRange(1, 1_000_000)
        self.length_spin.setDecimals(0)
        length_row = QHBoxLayout()
        length_row.addWidget(self.length_spin, 1)
        length_row.addWidget(self.unit_combo)
        self.seen_label = QLabel()
        self.seen_label.setObjectName("hintLabel")
        self.seen_label.setWordWrap(True)
        # Where the length came from: the preset (the count the base model's card recommends for it,
        # else the preset's own), the user, a LoRA's stored settings or an unfinished run's own.
        self.length_source = "preset"
        self.length_origin = ""  # the LoRA whose settings it is
        self._setting_length = False
        self.length_why_label = QLabel()
        self.length_why_label.setObjectName("hintLabel")
        self.length_why_label.setWordWrap(True)
        self.length_spin.valueChanged.connect(self._on_length_edited)
        self.unit_combo.currentIndexChanged.connect(self._on_length_edited)
        self.batch_spin = SpinBox()
        self.batch_spin.setRange(1, 64)
        self.accumulation_spin = SpinBox()
        self.accumulation_spin.setRange(1, 64)
        self.snr_check = QCheckBox("Min-SNR weighting, gamma")
        self.snr_spin = DoubleSpinBox()
        self.snr_spin.setRange(0.1, 50.0)
        self.snr_spin.setValue(5.0)
        self.snr_spin.setAccessibleName("Min-SNR gamma")
        snr_row = QHBoxLayout()
        snr_row.addWidget(self.snr_check)
        snr_row.addWidget(self.snr_spin)
        self.device_combo = QComboBox()
        self.device_combo.addItems(DEVICES)
        self.precision_combo = QComboBox()
        self.precision_combo.addItems(PRECISIONS)
        self.precision_combo.setToolTip("fp16 / bf16 on a CUDA GPU only")
        self.checkpointing_check = QCheckBox("Gradient checkpointing (GPU: less memory, slower)")
        self.adam8_check = QCheckBox("8-bit Adam (where bitsandbytes runs)")
        self.latents_check = QCheckBox("Cached latents (each clip is encoded once)")
        self.latents_check.setChecked(True)
        self.latents_check.setEnabled(False)
        self.seed_spin = SpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.sample_every_spin = SpinBox()
        self.sample_every_spin.setRange(0, 100000)
        self.sample_every_spin.setSpecialValueText("at the end only")
        self.validation_every_spin = SpinBox()
        self.validation_every_spin.setRange(0, 100000)
        self.validation_every_spin.setSpecialValueText("at the start and end")
        self.checkpoint_spin = SpinBox()
        self.checkpoint_spin.setRange(0, 100000)
        self.checkpoint_spin.setSpecialValueText("never")
        self.prompts_edit = QLineEdit()
        self.prompts_edit.setPlaceholderText("validation prompts, separated by '|' (default: the trigger word)")
        self.estimate_button = QPushButton("Estimate time and memory")
        self.estimate_button.clicked.connect(self.estimate)
        self.estimate_label = QLabel(ESTIMATE_HINT)
        self.last_estimate: Any = None  # and what it was made for (see refresh_estimate)
        self._estimated_for: tuple[Any, str] | None = None
        self.estimate_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        form = QFormLayout()
        form.addRow("Preset", self.preset_combo)
        form.addRow("Settings of a LoRA", self.from_lora_combo)
        form.addRow("Rank", self.rank_spin)
        form.addRow("Alpha", self.alpha_spin)
        form.addRow("Adapts", targets)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Warm-up steps", self.warmup_spin)
        form.addRow("Schedule", self.schedule_combo)
        form.addRow("Length", length_row)
        length_notes = QWidget()  # one block under the length (two form rows spread it apart)
        notes_layout = QVBoxLayout(length_notes)
        notes_layout.setContentsMargins(0, 0, 0, 0)
        notes_layout.setSpacing(2)
        notes_layout.addWidget(self.length_why_label)
        notes_layout.addWidget(self.seen_label)
        notes_layout.addStretch(1)  # any height the form gives the row goes below the lines, not between them
        form.addRow("", length_notes)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Gradient accumulation", self.accumulation_spin)
        form.addRow("", snr_row)
        form.addRow("Device", self.device_combo)
        form.addRow("Mixed precision", self.precision_combo)
        form.addRow("", self.checkpointing_check)
        form.addRow("", self.adam8_check)
        form.addRow("", self.latents_check)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Samples every", self.sample_every_spin)
        form.addRow("Validation loss every", self.validation_every_spin)
        form.addRow("Checkpoint every", self.checkpoint_spin)
        form.addRow("Validation prompts", self.prompts_edit)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        # The estimate stays in view below the fields (at the end of a long scrolled form it was missed)
        estimate_row = QHBoxLayout()
        estimate_row.addWidget(self.estimate_button, 0, Qt.AlignmentFlag.AlignTop)
        estimate_row.addWidget(self.estimate_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(estimate_row)
        layout.addWidget(self.error_label)
        for signal in (self.length_spin.valueChanged, self.unit_combo.currentIndexChanged,
                       self.batch_spin.valueChanged, self.accumulation_spin.valueChanged, self.lr_spin.valueChanged):
            signal.connect(self.update_seen)
        for signal in (self.rank_spin.valueChanged, self.alpha_spin.valueChanged, self.text_encoder_check.toggled,
                       self.warmup_spin.valueChanged, self.schedule_combo.currentIndexChanged, self.snr_check.toggled,
                       self.snr_spin.valueChanged, self.device_combo.currentIndexChanged,
                       self.precision_combo.currentIndexChanged, self.checkpointing_check.toggled,
                       self.adam8_check.toggled, self.seed_spin.valueChanged, self.sample_every_spin.valueChanged,
                       self.validation_every_spin.valueChanged, self.checkpoint_spin.valueChanged,
                       self.prompts_edit.textChanged):
            signal.connect(self.refresh_estimate)

    def set_rank_limit(self, model: str, limit: int) -> None:
        """Cap the rank at ``limit``, the largest useful rank of ``model`` (0: unknown, no cap but
        :data:`MAX_RANK`); the tooltip says why. A larger rank shown is lowered to it."""
        if 0 < limit <= MAX_RANK:  # (SD 1.5's widest is 1280: the box keeps its own top of 256)
            hints = model_hints(model)
            name = hints.title if hints is not None else Path(model).name or model
            self.rank_spin.setMaximum(limit)
            self.rank_spin.setToolTip(
                f"The LoRA's size. At most {limit} for {name}: the widest layer the LoRA adapts there is {limit} wide "
                "(the smaller of a layer's inputs and outputs), and a larger rank adds memory and nothing else.")
        else:
            self.rank_spin.setMaximum(MAX_RANK)
            self.rank_spin.setToolTip("The LoRA's size: at most the width of the model's attention layers "
                                      "(LoRAs of SD 1.5 use 4-128)")

    # -- presets and stored settings -------------------------------------------------------

    def set_presets(self, found: dict[str, dict[str, Any]]) -> None:
        self.presets = dict(found)
        self.preset_combo.clear()
        for name in found:
            self.preset_combo.addItem(name, name)
        self.choose_preset(self.cpu_preset())

    def choose_preset(self, name: str) -> None:
        """Select and apply preset ``name`` (unknown names are ignored)."""
        if name in self.presets:
            self.preset_combo.setCurrentIndex(self.preset_combo.findData(name))
            self.apply_preset(name)

    def set_machine_preset(self, name: str) -> None:
        """The preset this machine suits (found off the GUI thread; see :meth:`initializePage`)."""
        self.machine_preset = name

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        """The first time the page shows, unless settings were chosen already: the CPU preset for
        the starter model, else the one for this machine's GPU memory."""
        if not self._preset_picked:
            self._preset_picked = True
            small = _small_model(self.w.dataset_page.model_id())
            self.choose_preset(self.cpu_preset() if small or not self.machine_preset else self.machine_preset)
        self.update_seen()

    def _on_preset_activated(self, _index: int) -> None:
        self._preset_picked = True
        self.apply_preset(self.preset_combo.currentData())

    def cpu_preset(self) -> str:
        """The name of the CPU preset (for the starter model), '' before the presets are known."""
        return next((name for name in self.presets if name.startswith("cpu")), "")

    def apply_preset(self, name: str) -> None:
        """Show preset ``name``'s settings, its length the count the base model's card recommends."""
        if name in self.presets:
            settings = dict(self.presets[name])
            settings["max_steps"] = preset_steps(name, self.w.dataset_page.model_id()).steps
            self.set_settings(settings)

    def recommended(self) -> Any:
        """The preset's step count on the chosen base model, and why (:class:`PresetSteps`); None
        before the presets are known."""
        name = self.preset_combo.currentData()
        return preset_steps(name, self.w.dataset_page.model_id()) if name in self.presets else None

    def follow_model(self, *_args: Any) -> None:
        """The base model changed: a length that came from the preset becomes the new model's count
        (a length typed, or from a LoRA's settings or a run, stays)."""
        recommended = self.recommended()
        if recommended is not None and self.length_source == "preset" and self.unit_combo.currentText() == "steps":
            self._set_length(recommended.steps)
        self.update_seen()

    def _set_length(self, value: float) -> None:
        self._setting_length = True
        try:
            self.length_spin.setValue(float(value))
        finally:
            self._setting_length = False

    def _on_length_edited(self, *_args: Any) -> None:
        if not self._setting_length:
            self.length_source, self.length_origin = "user", ""

    def length_why(self) -> str:
        """Where the run's length comes from, for the line under it."""
        recommended = self.recommended()
        said = recommended.describe() if recommended is not None else ""
        if self.length_source == "preset" and self.unit_combo.currentText() == "steps":
            return said
        own = self._own_length()
        return f"{own} (the preset's: {said})" if said else own

    def _own_length(self) -> str:
        return {"user": "Your own length", "run": "The unfinished run's own length",
                "lora": f"From the settings of {self.length_origin}"}.get(self.length_source, "The preset's length")

    def set_library(self, entries: list[LoraEntry]) -> None:
        self.from_lora_combo.clear()
        self.from_lora_combo.addItem("—", "")
        for entry in entries:
            if entry.trained_here:
                self.from_lora_combo.addItem(f"{entry.name} ({entry.describe()})", entry.path)

    def apply_lora_settings(self, path: str) -> bool:
        """Start from the settings, base model and trigger word stored in the LoRA at ``path``."""
        if not path:
            return False
        try:
            entry = read_lora_entry(path)
        except LoraLibraryError as error:
            self.show_error(str(error))
            return False
        if not entry.settings:
            self.show_error(f"'{entry.name}' holds no training settings (it was not trained by this app).")
            return False
        self.set_settings(entry.settings, "lora", f"'{entry.name}'")
        self._preset_picked = True
        page = self.w.dataset_page
        if entry.base_model:
            page.set_model(entry.base_model)
        if entry.trigger_words and not page.trigger_edit.text().strip():
            page.trigger_edit.setText(entry.trigger_words[0])
        if entry.dataset.get("prefix") and not page.prefix_edit.text().strip():
            page.prefix_edit.setText(str(entry.dataset["prefix"]))
        spectrogram = entry.dataset.get("spectrogram") or {}
        if spectrogram and model_hints(page.model_id()) is None:
            index = page.spectrogram_combo.findData(spectrogram.get("preset", ""))
            if index >= 0:
                page.spectrogram_combo.setCurrentIndex(index)
            page.duration_spin.setValue(float(spectrogram.get("duration_s") or 0.0))
            page.height_spin.setValue(int(spectrogram.get("height") or 0))
        self.show_error("")
        return True

    def set_settings(self, settings: dict[str, Any], source: str = "preset", origin: str = "") -> None:
        """Show ``settings`` (LoraTrainConfig.to_json) in the fields; the rest is kept as is.
        ``source``: where their length comes from ("preset", "lora" ``origin``, "run")."""
        self.base = dict(settings)
        s = settings
        self._setting_length = True
        self.rank_spin.setValue(int(s.get("rank", 4)))
        self.alpha_spin.setValue(float(s.get("alpha", 4.0)))
        self.text_encoder_check.setChecked(bool(s.get("train_text_encoder", False)))
        self.lr_spin.setValue(float(s.get("learning_rate", 1e-4)))
        self.warmup_spin.setValue(int(s.get("warmup_steps", 0)))
        self.schedule_combo.setCurrentText(str(s.get("lr_schedule", "constant")))
        if s.get("epochs"):
            self.unit_combo.setCurrentText("epochs")
            self.length_spin.setValue(float(s["epochs"]))
        else:
            self.unit_combo.setCurrentText("steps")
            self.length_spin.setValue(float(s.get("max_steps", 500)))
        self._setting_length = False
        self.length_source, self.length_origin = source, origin
        self.batch_spin.setValue(int(s.get("batch_size", 1)))
        self.accumulation_spin.setValue(int(s.get("gradient_accumulation_steps", 1)))
        self.snr_check.setChecked(s.get("snr_gamma") is not None)
        if s.get("snr_gamma") is not None:
            self.snr_spin.setValue(float(s["snr_gamma"]))
        self.device_combo.setCurrentText(str(s.get("device", "auto")))
        self.precision_combo.setCurrentText(str(s.get("mixed_precision", "no")))
        self.checkpointing_check.setChecked(bool(s.get("gradient_checkpointing", False)))
        self.adam8_check.setChecked(bool(s.get("use_8bit_adam", False)))
        self.seed_spin.setValue(int(s.get("seed", 0)))
        self.sample_every_spin.setValue(int(s.get("sample_every", 0)))
        self.validation_every_spin.setValue(int(s.get("validation_every", 0)))
        self.checkpoint_spin.setValue(int(s.get("checkpoint_every", 0)))
        self.prompts_edit.setText(" | ".join(s.get("validation_prompts") or ()))
        self.update_seen()

    def settings(self) -> dict[str, Any]:
        """The run's settings (LoraTrainConfig.to_json) from the fields."""
        s = dict(self.base)
        epochs = self.unit_combo.currentText() == "epochs"
        s.update(
            rank=self.rank_spin.value(), alpha=self.alpha_spin.value(),
            train_text_encoder=self.text_encoder_check.isChecked(), learning_rate=self.lr_spin.value(),
            warmup_steps=self.warmup_spin.value(), lr_schedule=self.schedule_combo.currentText(),
            epochs=self.length_spin.value() if epochs else None,
            max_steps=int(self.length_spin.value()) if not epochs else int(s.get("max_steps", 500)),
            batch_size=self.batch_spin.value(), gradient_accumulation_steps=self.accumulation_spin.value(),
            snr_gamma=self.snr_spin.value() if self.snr_check.isChecked() else None,
            device=self.device_combo.currentText(), mixed_precision=self.precision_combo.currentText(),
            gradient_checkpointing=self.checkpointing_check.isChecked(), use_8bit_adam=self.adam8_check.isChecked(),
            seed=self.seed_spin.value(), sample_every=self.sample_every_spin.value(),
            validation_every=self.validation_every_spin.value(), checkpoint_every=self.checkpoint_spin.value(),
            validation_prompts=[p.strip() for p in self.prompts_edit.text().split("|") if p.strip()],
            validation_fraction=self.w.dataset_page.validation_spin.value() / 100.0,
        )
        return s

    def total_steps(self, num_train: int) -> int:
        """As LoraTrainConfig.total_steps: steps, or epochs turned into steps."""
        per_step = self.batch_spin.value() * self.accumulation_spin.value()
        if self.unit_combo.currentText() == "epochs":
            return max(1, math.ceil(self.length_spin.value() * num_train / per_step))
        return int(self.length_spin.value())

    def update_seen(self, *_args: Any) -> None:
        """'N steps: each clip is seen K times' for the dataset read (or per clip count unknown), where
        the length comes from, and the estimate for it."""
        self.length_why_label.setText(self.length_why())
        self.refresh_estimate()
        train_set = self.w.dataset_page.train_set
        per_step = self.batch_spin.value() * self.accumulation_spin.value()
        if train_set is None or not len(train_set):
            self.seen_label.setText(f"{per_step} clips per step; read the sounds to see how often each is seen.")
            return
        n = len(train_set)
        steps = self.total_steps(n)
        advice = run_advice(steps, per_step, n, self.lr_spin.value())
        self.seen_label.setText(f"{steps} steps x {per_step} clips per step over {n} training clips: "
                                f"each clip is seen {steps * per_step / n:.1f} times." + (f"\n{advice}" if advice else ""))

    # -- estimate ------------------------------------------------------------------------------

    def estimate(self) -> None:
        page = self.w.dataset_page
        if page.dataset is None:
            self.estimate_label.setText("Read the sounds first.")
            return
        self.estimate_button.setEnabled(False)
        self.estimate_label.setText("Estimating…")
        self.show_error("")
        self.last_estimate = None
        made_for = (page.train_set, self._estimate_key())

        def done(estimate: Any) -> None:
            self.estimate_button.setEnabled(True)
            self.last_estimate, self._estimated_for = estimate, made_for
            self.estimate_label.setText(estimate.describe())
            self.refresh_estimate()
            self.w.estimated.emit(estimate)

        def failed(message: str) -> None:
            self.estimate_button.setEnabled(True)
            self.estimate_label.setText("")
            self.show_error(message.splitlines()[0] if message else "The estimate failed.")

        try:  # an estimate-only run on the engine worker
            job = self.w.make_job(estimate_only=True)
        except ValueError as error:
            failed(str(error))
            return
        handle = self.w.client.submit(job)
        handle.finished.connect(done)
        handle.failed.connect(lambda message, _kind: failed(message))

    def _estimate_key(self) -> str:
        """The settings an estimate depends on besides the length (which it can follow)."""
        settings = {k: v for k, v in self.settings().items() if k not in ("max_steps", "epochs")}
        return json.dumps(settings, sort_keys=True, default=str)

    def current_estimate(self) -> Any:
        """The estimate for the run the fields describe: the one measured, worked out again for a
        length changed since (``Estimate.for_steps``); None when there is none or anything else it
        depends on (settings, sounds, base model) changed."""
        estimate, train_set = self.last_estimate, self.w.dataset_page.train_set
        if estimate is None or train_set is None or self._estimated_for is None \
                or self._estimated_for[0] is not train_set or self._estimated_for[1] != self._estimate_key():
            return None
        steps = self.total_steps(len(train_set))
        if steps == estimate.total_steps:
            return estimate
        settings = self.settings()
        prompts = settings.get("validation_prompts") or [self.w.dataset_page.trigger_edit.text().strip() or "x"]
        config = LoraTrainConfig.from_json({**settings, "epochs": None, "max_steps": steps,
                                            "validation_prompts": prompts})
        return estimate.for_steps(steps, config)

    def refresh_estimate(self, *_args: Any) -> None:
        """Keep the estimate shown true to the fields (see :meth:`current_estimate`)."""
        if self.last_estimate is None:
            return
        estimate = self.current_estimate()
        if estimate is None:
            self.estimate_label.setText(ESTIMATE_STALE)  # (the measured one is kept: changed back, it holds again)
        elif estimate is self.last_estimate:
            self.estimate_label.setText(estimate.describe())
        else:
            self.estimate_label.setText(f"For {estimate.total_steps} steps, worked out from the timings measured for "
                                        f"{self.last_estimate.total_steps}: " + estimate.describe())

    def run_summary(self) -> str:
        """What Train will run, for the last page: the length and where it comes from, each clip's
        showings, and the time estimated (or that there is none)."""
        train_set = self.w.dataset_page.train_set
        n = len(train_set) if train_set is not None else 0
        steps = self.total_steps(n) if n else int(self.length_spin.value())
        recommended = self.recommended()
        own = self._own_length()
        why = (recommended.reason if self.length_source == "preset" and recommended is not None
               and recommended.steps == steps else own[0].lower() + own[1:])
        per_step = self.batch_spin.value() * self.accumulation_spin.value()
        text = f"Train runs {steps} steps ({why})"
        if n:
            text += f" over {n} training clips, each seen {steps * per_step / n:.1f} times"
        estimate = self.current_estimate()
        if estimate is None:
            return text + ". Not estimated: go Back to estimate its time and memory."
        return (text + f"; about {_minutes(estimate.seconds)} of wall time at the load measured "
                f"({_minutes(estimate.cpu_seconds)} of CPU time).")

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))


def _small_model(model: str) -> bool:
    hints = model_hints(model)
    return bool(hints is not None and hints.starter)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


class OutputPage(QWizardPage):
    def __init__(self, wizard: LoraWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("The LoRA file")
        self.setSubTitle("It goes into your LoRA library, with its settings, base model and dataset in its metadata.")
        self.name_edit = QLineEdit()
        self.name_edit.textChanged.connect(self._update_path)
        self.diffusers_radio = QRadioButton("diffusers / PEFT (loads with diffusers' load_lora_weights)")
        self.kohya_radio = QRadioButton("kohya / A1111 (lora_unet_* keys with the true alpha)")
        self.diffusers_radio.setChecked(True)
        self.apply_check = QCheckBox("Apply it in the prompt panel when it is done")
        self.apply_check.setChecked(True)
        self.path_label = QLabel()
        self.path_label.setWordWrap(True)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_label = QLabel()  # what Train starts, read before committing
        self.run_label.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Name", self.name_edit)
        form.addRow("Layout", self.diffusers_radio)
        form.addRow("", self.kohya_radio)
        form.addRow("", self.apply_check)
        form.addRow("File", self.path_label)
        form.addRow("Run", self.run_label)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        if not self.name_edit.text().strip():
            self.name_edit.setText(self.w.dataset_page.trigger_edit.text().strip() or "my-lora")
        self._update_path()
        self.run_label.setText(self.w.training_page.run_summary())

    def output_path(self) -> Path:
        return unique_output_path(self.name_edit.text().strip() or "lora", self.w.library_folder)

    def fmt(self) -> str:
        return "kohya" if self.kohya_radio.isChecked() else "diffusers"

    def _update_path(self, *_args: Any) -> None:
        self.path_label.setText(str(self.output_path()))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return bool(self.name_edit.text().strip())


# ---------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------


class MonitorPage(QWizardPage):
    """The run: loss curves, samples next to the base model's, pause/resume/cancel, checkpoints."""

    def __init__(self, wizard: LoraWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training")
        self.handle: Any = None
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.validation: list[tuple[int, float]] = []
        self.samples: list[Any] = []
        self._sample_batch = 0
        self.result: Any = None
        self.entry: LoraEntry | None = None
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(160)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.addLegend()
        self.train_curve = self.plot.plot([], [], pen=pg.mkPen("#4aa3ff", width=1.5), name="training")
        self.validation_curve = self.plot.plot([], [], pen=pg.mkPen("#ffb347", width=1.5), symbol="o", symbolSize=6,
                                               symbolBrush="#ffb347", name="validation")
        self.progress = QProgressBar()
        self.status_label = QLabel("Not started")
        self.status_label.setWordWrap(True)
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        self.checkpoint_label = QLabel("No checkpoint yet")
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume from the last checkpoint")
        self.resume_button.clicked.connect(lambda: self.w.start(resume=True))
        self.resume_button.hide()
        self.apply_button = QPushButton("Apply it now")
        self.apply_button.clicked.connect(self.w.apply_trained)
        self.apply_button.hide()
        buttons = QHBoxLayout()
        for button in (self.pause_button, self.cancel_button, self.resume_button, self.apply_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.samples_box = QGroupBox("Validation samples (click one to play it)")
        self.samples_grid = QGridLayout(self.samples_box)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.checkpoint_label)
        layout.addLayout(buttons)
        layout.addWidget(self.samples_box, 1)

    def initializePage(self) -> None:  # noqa: N802
        if self.w._resume_pending:
            self.w._resume_pending = False
            self.w.start(resume=True)
        elif self.handle is None or self.handle.is_done:
            self.w.start()

    def reset(self) -> None:
        self.steps, self.losses, self.validation, self.samples = [], [], [], []
        self._sample_batch += 1  # thumbnails of the last run still on their way are dropped
        self.result = self.entry = None
        self.train_curve.setData([], [])
        self.validation_curve.setData([], [])
        self.progress.setValue(0)
        self.checkpoint_label.setText("No checkpoint yet")
        self.resume_button.hide()
        self.apply_button.hide()
        while self.samples_grid.count():
            widget = self.samples_grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()

    def watch(self, handle: Any) -> None:
        self.handle = handle
        handle.progressed.connect(self._on_progress)
        handle.finished.connect(self._on_finished)
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(self._on_cancelled)
        for name, slot in (("paused", self._on_paused), ("resumed", self._on_resumed)):
            signal = getattr(handle, name, None)
            if signal is not None:
                signal.connect(slot)
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Pause")
        self.cancel_button.setEnabled(True)
        self.status_label.setText("Queued")
        self.completeChanged.emit()

    def _on_progress(self, progress: Any) -> None:
        stage = progress.stage
        self.status_label.setText(f"{stage}: {progress.message}")
        if progress.total:
            self.progress.setMaximum(int(progress.total))
            self.progress.setValue(int(progress.step))
        if getattr(progress, "estimate", None) is not None:
            self.estimate_label.setText("Estimate: " + progress.estimate.describe())
        loss = getattr(progress, "loss", None)
        if stage == "train" and loss is not None:
            self.steps.append(int(progress.step))
            self.losses.append(float(loss))
            self.train_curve.setData(self.steps, self.losses)
        validation = getattr(progress, "validation_loss", None)
        if validation is not None:
            self.validation.append((int(progress.step), float(validation)))
            self.validation_curve.setData([s for s, _v in self.validation], [v for _s, v in self.validation])
        if getattr(progress, "checkpoint", None):
            where = "/".join(Path(progress.checkpoint).parts[-2:])
            self.checkpoint_label.setText(f"Checkpoint at step {progress.step}: {where}")
        if getattr(progress, "samples", None):
            self.request_samples(progress.samples)

    def request_samples(self, samples: Any) -> None:
        """Show validation samples: their thumbnails are made on a helper thread (a model's images
        may be large and many), then :meth:`show_samples` lays them out; an older batch that
        arrives after a newer one is dropped."""
        self._sample_batch += 1
        batch = self._sample_batch
        samples = tuple(samples)

        def shown(thumbnails: list[tuple[QImage, QImage]]) -> None:
            if batch == self._sample_batch:
                self.show_samples(samples, thumbnails)

        self.w.client.run_in_thread("lora-samples", lambda: sample_thumbnails(samples), shown,
                                    lambda error: self.status_label.setText(f"Cannot show the samples: {error}"),
                                    essential=False)

    def show_samples(self, samples: Any, thumbnails: list[tuple[QImage, QImage]]) -> None:
        """A row per prompt/seed: the LoRA's spectrogram and the base model's (``thumbnails`` from
        :func:`sample_thumbnails`), each plays."""
        self.samples = list(samples)
        while self.samples_grid.count():
            widget = self.samples_grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        for column, text in enumerate(("", "with the LoRA", "base model")):
            self.samples_grid.addWidget(QLabel(text), 0, column, Qt.AlignmentFlag.AlignHCenter)
        for row, (sample, (thumbnail, base_thumbnail)) in enumerate(zip(self.samples, thumbnails), start=1):
            label = QLabel(f"step {sample.step}: '{sample.prompt}', seed {sample.seed}")
            label.setWordWrap(True)
            self.samples_grid.addWidget(label, row, 0)
            for column, (image, audio, what) in enumerate(((thumbnail, sample.audio, "with the LoRA"),
                                                           (base_thumbnail, sample.base_audio, "base model")), 1):
                button = QPushButton()
                button.setIcon(QIcon(thumbnail_pixmap(image)))
                button.setIconSize(THUMB)
                button.setToolTip(f"Play '{sample.prompt}' {what}")
                button.setProperty("sample_kind", what)
                button.clicked.connect(lambda _c=False, a=audio, r=sample.sample_rate_hz: self.w.play(a, r))
                self.samples_grid.addWidget(button, row, column)

    def sample_buttons(self) -> list[QPushButton]:
        return [self.samples_grid.itemAt(i).widget() for i in range(self.samples_grid.count())
                if isinstance(self.samples_grid.itemAt(i).widget(), QPushButton)]

    def toggle_pause(self) -> None:
        if self.handle is None or self.handle.is_done:
            return
        if self.pause_button.text() == "Pause":
            if self.w.pause_job(self.handle.job_id):
                self.pause_button.setText("Pausing…")
                self.pause_button.setEnabled(False)
        elif self.w.resume_job(self.handle.job_id):
            self.pause_button.setText("Pause")

    def _on_paused(self, *_args: Any) -> None:
        self.pause_button.setText("Resume")
        self.pause_button.setEnabled(True)
        self.status_label.setText(f"Paused at step {self.steps[-1] if self.steps else 0} (the model stays loaded)")

    def _on_resumed(self, *_args: Any) -> None:
        self.pause_button.setText("Pause")
        self.pause_button.setEnabled(True)

    def cancel(self) -> None:
        if self.handle is not None and not self.handle.is_done:
            self.handle.cancel()
            self.cancel_button.setEnabled(False)

    def _ended(self) -> None:
        self.pause_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.completeChanged.emit()

    def _on_finished(self, result: Any) -> None:
        self.result = result
        self._ended()
        self.w.on_trained(result)

    def _on_failed(self, message: str, _error_type: str) -> None:
        self._ended()
        self.status_label.setText(f"Training failed: {message}")
        self.resume_button.setVisible(self.w.has_checkpoint())

    def _on_cancelled(self) -> None:
        self._ended()
        self.status_label.setText("Cancelled." + (" The last checkpoint is kept: resume from it." if self.w.has_checkpoint() else ""))
        self.resume_button.setVisible(self.w.has_checkpoint())

    def isComplete(self) -> bool:  # noqa: N802
        return self.entry is not None


# ---------------------------------------------------------------------------------------------
# The wizard
# ---------------------------------------------------------------------------------------------


class LoraWizard(QWizard):
    """Train a LoRA on the engine and put it into the library.

    ``client``: the app's EngineClient (jobs and helper threads); ``generation``: the prompt
    panel's GenerationSettings (the base model to start from; the new LoRA is applied there);
    ``project``: the open project (its selected clips can join the dataset); ``settings``: the
    AppSettings that remember an unfinished run across restarts; ``models``: ``(model_id, label)``
    pairs to offer (the starter is always there); ``player``: an engine Player for the previews
    (one is made when first needed); ``library_folder``: where LoRAs go (default: the library).

    ``lora_trained(LoraEntry)`` when a run wrote its file; ``dataset_read(dataset or None)``,
    ``estimated(Estimate)``.
    """

    #: What :mod:`app.widgets.lora_wizard_runs` calls this wizard's runs.
    run_kind = "lora"
    lora_trained = Signal(object)
    dataset_read = Signal(object)
    estimated = Signal(object)
    run_started = Signal(object)
    #: The rank box's new top (0: not known) after the base model changed.
    rank_limit_found = Signal(int)

    def __init__(self, client: Any, *, generation: Any = None, project: Any = None, settings: Any = None,
                 models: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (), player: Any = None,
                 library_folder: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a LoRA")
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.HaveFinishButtonOnEarlyPages, False)
        self.client = client
        self.generation = generation
        self.project = project
        self.app_settings = settings
        self.player = player
        self.library_folder = Path(library_folder) if library_folder is not None else library_dir()
        self.job: Any = None
        self.dataset_page = DatasetPage(self)
        self.training_page = TrainingPage(self)
        self.output_page = OutputPage(self)
        self.monitor_page = MonitorPage(self)
        self._resume_pending = False
        self._start_confirmed = False  # read by confirm_start
        self.start_over_box: StartOverBox | None = None
        for page in (self.dataset_page, self.training_page, self.output_page):
            self.addPage(page)
        self.monitor_id = self.addPage(self.monitor_page)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Train")
        self.output_page.setCommitPage(True)
        resize_within_screen(self, 820, 720)
        self.set_models(models)
        self.training_page.set_presets(presets())
        device = str(getattr(client.settings, "device", "auto"))
        self.client.run_in_thread("lora-device", lambda: machine_preset(device), self.training_page.set_machine_preset,
                                  self._on_helper_failed)
        folder = self.library_folder
        self.client.run_in_thread("lora-library", lambda: scan_library([folder], hub=False)[0],
                                  self.training_page.set_library, self._on_helper_failed)
        self.run_offers = RunOffers(self, (self.run_kind,), self.dataset_page, self.resume_run)
        self._rank_request = 0
        self.dataset_page.model_combo.currentTextChanged.connect(self.update_rank_limit)
        self.dataset_page.model_combo.currentTextChanged.connect(self.training_page.follow_model)
        self.training_page.text_encoder_check.toggled.connect(self.update_rank_limit)
        self.update_rank_limit()

    def update_rank_limit(self, *_args: Any) -> None:
        """Cap the rank box at the chosen base model's largest useful rank (its configs are read on
        a helper thread; the answer for a model chosen since is dropped)."""
        self._rank_request += 1
        request, model = self._rank_request, self.dataset_page.model_id()
        text_encoder = self.training_page.text_encoder_check.isChecked()
        cache_dir = getattr(self.client.settings, "cache_dir", None)

        def done(limit: int) -> None:
            if request == self._rank_request:
                self.training_page.set_rank_limit(model, limit)
                self.rank_limit_found.emit(limit)

        self.client.run_in_thread("lora-rank", lambda: rank_limit(model, train_text_encoder=text_encoder,
                                                                  cache_dir=cache_dir), done, self._on_helper_failed)

    def _on_helper_failed(self, error: BaseException) -> None:
        self.dataset_page.show_error(str(error).splitlines()[0] if str(error) else type(error).__name__)

    def set_models(self, models: Any) -> None:
        combo = self.dataset_page.model_combo
        combo.clear()
        seen = set()
        # The shipped starters come first, by their own names ("Starter model 2 (...)", "Starter
        # model (synthetic sounds only)"): a plain "Starter model" did not say which of the two.
        shipped = [(m, hints.title) for m in (STARTER2_MODEL_ID, STARTER_MODEL_ID) if (hints := model_hints(m))]
        for model_id, label in [*shipped, *models]:
            if model_id and model_id not in seen:
                combo.addItem(label, model_id)
                seen.add(model_id)
        current = getattr(self.generation, "model", "") or (shipped[0][0] if shipped else STARTER_MODEL_ID)
        if current not in seen:
            combo.addItem(current, current)
        self.dataset_page.set_model(current)

    # -- the run -------------------------------------------------------------------------------

    def make_job(self, *, resume: bool = False, estimate_only: bool = False) -> Any:
        """The run the pages describe: the train_lora task's spec. The length is in steps (epochs
        are turned into steps for the dataset read).
        Raises ValueError saying what is wrong."""
        inputs = self.dataset_page.job_inputs()
        settings = self.training_page.settings()
        train_set = self.dataset_page.train_set
        steps = self.training_page.total_steps(len(train_set)) if train_set is not None else int(settings["max_steps"])
        settings.update(epochs=None, max_steps=steps)
        return train_lora_spec()(output=str(self.output_page.output_path()), settings=settings,
                                 preset=self.training_page.preset_combo.currentData() or "cpu-starter",
                                 num_steps=steps, fmt=self.output_page.fmt(), resume=resume,
                                 estimate_only=estimate_only, **inputs)

    def start(self, *, resume: bool = False) -> Any:
        """Submit the run (or resume the last one from its checkpoint) to the engine."""
        page = self.monitor_page
        try:
            job = self.job if resume and self.job is not None else self.make_job()
            if resume:
                job = type(job)(**{**job_fields(job), "resume": True})
        except ValueError as error:
            page.status_label.setText(str(error).splitlines()[0])
            return None
        self.job = job
        page.reset()
        handle = self.client.submit(job)
        page.watch(handle)
        self._remember_run(job)
        self.run_started.emit(handle)
        return handle

    def confirm_start(self) -> bool:
        """"Train" on the last settings page: True to go on to the run. When the run's folder holds an
        unfinished run's checkpoints (a new run there deletes them), asks first instead
        (:attr:`start_over_box`, which does not block): Resume that run, Start over or Cancel."""
        if self._start_confirmed:
            self._start_confirmed = False
            return True
        try:
            job = self.make_job()
        except ValueError:
            return True  # the monitoring page says what is wrong
        step = unfinished_step(self.run_kind, job)
        if step is None:
            return True
        self.start_over_box = StartOverBox(self, self.run_kind, job, step, lambda choice: self._on_start_over(job, choice))
        return False

    def _on_start_over(self, job: Any, choice: str) -> None:
        self.start_over_box = None
        if choice == "resume":
            self.resume_unfinished(job)
        elif choice == "start over":  # the engine deletes the old run's checkpoints and says so
            self.run_offers.hide_offer(job.output_dir)
            self._start_confirmed = True
            self.next()

    def resume_unfinished(self, job: Any) -> None:
        """Go on with the unfinished run in ``job``'s folder: with the settings it was started with when
        the app remembers it (read off the GUI thread), else with the pages' settings."""
        records = [r for r in read_records(self.app_settings, self.run_kind)
                   if (r.get("fields") or {}).get("output_dir") == job.output_dir]

        def found(scanned: Any) -> None:
            runs = scanned[0]
            if runs:
                self.resume_run(runs[0])
            else:
                self.job = job
                self.resume_on_monitor()

        if records:
            self.client.run_in_thread("unfinished-runs", lambda: scan_runs(records), found, lambda _e: found(([], [])))
        else:
            found(([], []))

    def pause_job(self, job_id: int) -> bool:
        """Pause the run at its next step (the model stays loaded; generations still run)."""
        return bool(self.client.pause(job_id))

    def resume_job(self, job_id: int) -> bool:
        return bool(self.client.resume(job_id))

    def has_checkpoint(self, job: Any = None) -> bool:
        """Whether the run ``job`` (default: the last one) left a checkpoint to resume from."""
        job = job or self.job
        if job is None:
            return False
        return job.latest_checkpoint() is not None

    def on_trained(self, result: Any) -> None:
        page = self.monitor_page
        run = run_summary(result)
        try:
            entry = read_lora_entry(run["path"], source="library")
        except LoraLibraryError as error:
            page.status_label.setText(str(error))
            return
        page.entry = entry
        initial, final = run.get("initial_validation_loss"), run.get("final_validation_loss")
        page.status_label.setText(
            f"Done: {entry.name} in {_minutes(run['seconds'])}, loss {run['initial_loss']:.4f} -> {run['final_loss']:.4f}"
            + (f", validation {initial:.4f} -> {final:.4f}" if initial is not None and final is not None else "")
            + f". Saved to {run['path']}."
        )
        page.apply_button.setVisible(self.generation is not None)
        page.completeChanged.emit()
        self._forget_run()
        if self.output_page.apply_check.isChecked():
            self.apply_trained()
        self.lora_trained.emit(entry)

    def apply_trained(self) -> bool:
        """Apply the new LoRA (weight 1) in the prompt panel's settings."""
        entry = self.monitor_page.entry
        if entry is None or self.generation is None:
            return False
        loras = tuple(self.generation.loras)
        if all(ref != entry.ref for ref, _w in loras):
            self.generation.set(loras=(*loras, (entry.ref, 1.0)))
        if entry.base_model and not self.generation.model:
            self.generation.set(model=entry.base_model)
        self.monitor_page.apply_button.setEnabled(False)
        return True

    # -- previews ------------------------------------------------------------------------------

    def play(self, audio: np.ndarray, sample_rate_hz: int) -> bool:
        """Play a preview; False (and a message) when there is no audio output."""
        try:
            if self.player is None:
                from engine.audio.playback import Player

                self.player = Player()
            self.player.load(np.asarray(audio, dtype=np.float32).reshape(-1, np.asarray(audio).shape[-1]),
                             int(sample_rate_hz))
            self.player.play()
        except Exception as error:  # noqa: BLE001 - no device, no PortAudio: say so, keep going
            self.monitor_page.status_label.setText(f"Cannot play: {error}".splitlines()[0])
            self.dataset_page.summary_label.setToolTip(f"Cannot play: {error}")
            return False
        return True

    # -- an unfinished run survives a restart ------------------------------------------------------

    def _remember_run(self, job: Any) -> None:
        """Remember the run's settings to offer a resume after a restart (until it finishes); its
        clips (which live in memory) are kept by the engine in the run's folder (``lora_library.save_clips``)."""
        remember_run(self.app_settings, self.run_kind, job)

    def _forget_run(self) -> None:
        if self.job is not None:
            forget_run(self.app_settings, self.job.output_dir)
            self.run_offers.hide_offer(self.job.output_dir)

    def resume_run(self, run: Any) -> None:
        """Go on with the unfinished ``run`` (offered at the top of the first page): the pages show
        the settings it was started with, and the monitoring page resumes it from its checkpoint."""
        self.run_offers.hide_offer(run.output_dir)  # however it was chosen (here, or the notice at startup)
        job = run.job
        page = self.dataset_page
        page.set_model(job.model)
        page.folder_edit.setText(job.data_dir or "")
        page.clips = [(c.name, np.asarray(c.audio), int(c.sample_rate_hz)) for c in job.clips]
        page.clips_label.setText(f"{len(page.clips)} clips" if page.clips else "No clips")
        page.typed = dict(job.captions)
        page.trigger_edit.setText(job.trigger)
        page.prefix_edit.setText(job.prefix)
        page.spectrogram_combo.setCurrentIndex(max(0, page.spectrogram_combo.findData(job.spectrogram_preset or "")))
        page.duration_spin.setValue(job.duration_s or 0.0)
        page.height_spin.setValue(job.height or 0)
        page.validation_spin.setValue(round(100 * float(job.settings.get("validation_fraction", 0.1))))
        training = self.training_page
        index = training.preset_combo.findData(job.preset)
        if index >= 0:
            training.preset_combo.setCurrentIndex(index)
        training.set_settings(job.settings, "run")
        training._preset_picked = True
        self.output_page.name_edit.setText(Path(job.output).stem)
        self.output_page.kohya_radio.setChecked(job.fmt == "kohya")
        self.output_page.diffusers_radio.setChecked(job.fmt != "kohya")
        self.job = job
        self.resume_on_monitor()

    def resume_on_monitor(self) -> None:
        """Show the monitoring page, which resumes :attr:`job` from its last checkpoint."""
        self._resume_pending = True
        first = self.startId()
        self.setStartId(self.monitor_id)
        self.restart()
        self.setStartId(first)

    def showEvent(self, event: Any) -> None:  # noqa: N802
        """Shown again after a run ended: back to the first page (the fields keep their values)."""
        handle = self.monitor_page.handle
        if self.currentPage() is self.monitor_page and (handle is None or handle.is_done):
            self.restart()
        super().showEvent(event)

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        if self.player is not None and hasattr(self.player, "stop"):
            try:
                self.player.stop()
            except Exception:  # noqa: BLE001
                pass
        super().closeEvent(event)


def run_summary(result: Any) -> dict[str, Any]:
    """Path, seconds and losses of a finished run (the facts of its TaskResult's recipe)."""
    (first,) = result[:1]
    facts = dict(first.recipe.facts)
    return {**facts, "path": str(first.files[0]), "seconds": float(facts.get("seconds") or 0.0)}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
