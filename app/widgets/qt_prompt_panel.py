"""The prompt panel: everything a text-to-audio job needs, and the Generate button (Ctrl+Enter)."""

from __future__ import annotations

import random
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QKeyEvent, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import DEFAULT_SCHEDULER, SCHEDULER_NAMES, Recipe, TextToAudioJob
from engine.audioset import OUTPUT_SIZES
from engine.models.catalog import ModelHints, model_hints
from engine.specs import MAX_DURATION_S, MAX_SEED, MAX_STEPS, MAX_VARIATIONS

#: Previews decoded about this many times per generation when live preview is on.
PREVIEWS_PER_JOB = 8
#: The output-size choice that keeps the model's own image height (the preset's mel rows).
NATIVE_SIZE = "native"
NATIVE_SIZE_TEXT = "Model's native size"
#: What a model without recommendations starts from (Riffusion-style SD checkpoints).
GENERIC_SETTINGS: dict[str, Any] = {
    "preset": "riffusion",
    "duration_s": 5.12,
    "steps": 30,
    "guidance": 7.0,
    "scheduler": DEFAULT_SCHEDULER,
}
DEFAULT_PROMPT_PLACEHOLDER = "Describe the sound: 'warm analog synth pad, slow attack'"


def preset_names() -> list[str]:
    """Spectrogram presets the engine knows (riffusion first)."""
    try:
        from engine.audio.spectrogram import PRESETS
    except ImportError:  # pragma: no cover - engine.audio.spectrogram ships with the engine
        return ["riffusion"]
    names = list(PRESETS)
    return sorted(names, key=lambda n: (n != "riffusion", n))


class _PromptEdit(QPlainTextEdit):
    """A few lines of prompt text; Ctrl+Enter submits instead of adding a line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class QtPromptPanel(QWidget):
    """Builds a :class:`TextToAudioJob` from its fields; ``generate_requested(spec)`` on Generate.

    Invalid input (an empty prompt, a seed out of range, a missing model) shows a message under
    the button and emits nothing.
    """

    generate_requested = Signal(object)
    #: The user clicked the "download a real model" link under the model picker.
    model_manager_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._default_model = ""
        self._hinted_model: str | None = None
        self._hinted_values: dict[str, Any] = {}
        self.prompt_edit = _PromptEdit()
        self.prompt_edit.setPlaceholderText(DEFAULT_PROMPT_PLACEHOLDER)
        self.prompt_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 10)
        self.prompt_edit.setTabChangesFocus(True)
        self.negative_edit = QLineEdit()
        self.negative_edit.setPlaceholderText("What to avoid (optional)")

        self.duration_spin = QDoubleSpinBox()
        self.duration_spin.setRange(0.08, MAX_DURATION_S)
        self.duration_spin.setDecimals(2)
        self.duration_spin.setSingleStep(0.64)
        self.duration_spin.setSuffix(" s")
        self.duration_spin.setValue(GENERIC_SETTINGS["duration_s"])
        self.duration_spin.setToolTip("Rounded to whole 8-pixel image columns of the spectrogram preset")

        self.seed_edit = QLineEdit()
        self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}")))
        self.seed_edit.setPlaceholderText("random")
        self.seed_lock = QCheckBox("Lock")
        self.seed_lock.setToolTip("Locked: use this seed. Unlocked: a new random seed each time.")
        self.seed_dice = QToolButton()
        self.seed_dice.setText("Random")
        self.seed_dice.setToolTip("Pick a random seed")
        self.seed_dice.clicked.connect(self.randomize_seed)
        seed_row = QHBoxLayout()
        seed_row.setContentsMargins(0, 0, 0, 0)
        seed_row.addWidget(self.seed_edit, 1)
        seed_row.addWidget(self.seed_lock)
        seed_row.addWidget(self.seed_dice)

        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, MAX_STEPS)
        self.steps_spin.setValue(GENERIC_SETTINGS["steps"])
        self.guidance_spin = QDoubleSpinBox()
        self.guidance_spin.setRange(0.0, 50.0)
        self.guidance_spin.setSingleStep(0.5)
        self.guidance_spin.setValue(GENERIC_SETTINGS["guidance"])
        self.scheduler_combo = QComboBox()
        self.scheduler_combo.addItems(list(SCHEDULER_NAMES))
        self.scheduler_combo.setCurrentText(DEFAULT_SCHEDULER)
        self.variations_spin = QSpinBox()
        self.variations_spin.setRange(1, MAX_VARIATIONS)
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_combo.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.model_combo.lineEdit().setPlaceholderText("repo id or folder")
        self.model_combo.setToolTip("A model from the model manager, a Hugging Face repo id or a local folder")
        self.model_combo.activated.connect(lambda _index: self.apply_model_hints())
        self.model_combo.lineEdit().editingFinished.connect(self._on_model_typed)
        self.model_note = QLabel()
        self.model_note.setObjectName("modelNote")
        self.model_note.setWordWrap(True)
        self.model_note.setTextFormat(Qt.TextFormat.RichText)
        self.model_note.linkActivated.connect(lambda _link: self.model_manager_requested.emit())
        self.model_note.hide()
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(preset_names())
        self.size_combo = QComboBox()
        self.size_combo.addItem(NATIVE_SIZE_TEXT, NATIVE_SIZE)
        for name, (height, width) in OUTPUT_SIZES.items():
            self.size_combo.addItem(name, name)
        self.size_combo.setToolTip(
            "Image size in mel rows x time columns. Seed 001 generated 64 x 400 (4 s at 10 ms per "
            "column) instead of 512 x 512; choosing a size sets the duration to its width."
        )
        self.size_combo.activated.connect(lambda _index: self._on_size_chosen())
        self.preview_check = QCheckBox("Live preview while denoising")

        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setToolTip("Generate (Ctrl+Enter)")
        self.generate_button.clicked.connect(self.request_generate)
        self.prompt_edit.submitted.connect(self.request_generate)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setObjectName("errorLabel")
        self.message_label.hide()

        form = QFormLayout()
        form.addRow("Prompt", self.prompt_edit)
        form.addRow("Negative", self.negative_edit)
        form.addRow("Duration", self.duration_spin)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Guidance", self.guidance_spin)
        form.addRow("Scheduler", self.scheduler_combo)
        form.addRow("Variations", self.variations_spin)
        form.addRow("Model", self.model_combo)
        form.addRow("", self.model_note)
        form.addRow("Spectrogram", self.preset_combo)
        form.addRow("Size", self.size_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview_check)
        layout.addWidget(self.generate_button)
        layout.addWidget(self.message_label)
        layout.addStretch(1)

    # -- models ------------------------------------------------------------------------------

    def set_models(self, listing: Any, default_model: str = "") -> None:
        """Fill the model picker from a :class:`app.engine_client.ModelListing` (pipelines only),
        keeping the current choice; ``default_model`` (or the listing's) is picked when none is."""
        current = self.model_id()
        self._default_model = default_model or listing.default_model
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        ids = []
        for entry in listing.entries:
            if not entry.is_pipeline or "text_to_audio" not in (entry.tasks or ("text_to_audio",)):
                continue
            mark = "" if entry.downloaded else "  (not downloaded)"
            self.model_combo.addItem(f"{entry.label}{mark}", entry.model_id)
            self.model_combo.setItemData(self.model_combo.count() - 1, entry.model_id, Qt.ItemDataRole.ToolTipRole)
            ids.append(entry.model_id)
        if self._default_model and self._default_model not in ids:
            self.model_combo.addItem(self._default_model, self._default_model)
        self.model_combo.blockSignals(False)
        self.set_model(current or self._default_model)
        if not current:  # first listing (nothing chosen or restored yet): the default's settings
            self.apply_model_hints()
        else:
            self._update_model_note()

    def model_id(self) -> str:
        """The chosen model: the picked entry's id, or what the user typed."""
        text = self.model_combo.currentText().strip()
        index = self.model_combo.findText(text)
        if index >= 0 and self.model_combo.itemData(index):
            return str(self.model_combo.itemData(index))
        return text

    def set_model(self, model_id: str) -> None:
        """Select ``model_id`` without changing other fields (see :meth:`apply_model_hints`)."""
        index = self.model_combo.findData(model_id)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        else:
            self.model_combo.setEditText(model_id)
        self._update_model_note()

    def _on_model_typed(self) -> None:
        if self.model_id() != self._hinted_model:
            self.apply_model_hints()

    def apply_model_hints(self) -> ModelHints | None:
        """Preset the fields the chosen model recommends (its spectrogram preset, native length,
        steps, guidance, scheduler) and label it; called when the user picks a model.

        Switching to a model that recommends nothing puts back the general defaults in the
        fields that still hold the previous model's recommendation (so the starter's 2.56 s
        'starter' spectrogram does not stick to a Riffusion-style model); fields the user
        changed stay as they are."""
        model = self.model_id()
        hints = model_hints(model)
        self._hinted_model = model
        fields = self._hint_fields()
        if hints is not None:
            wanted = {
                "preset": hints.spectrogram_preset,
                "duration_s": hints.duration_s,
                "steps": hints.num_inference_steps,
                "guidance": hints.guidance_scale,
                "scheduler": hints.scheduler,
            }
            wanted = {k: v for k, v in wanted.items() if v is not None}
            self.size_combo.setCurrentIndex(self.size_combo.findData(NATIVE_SIZE))
        else:
            wanted = {k: v for k, v in GENERIC_SETTINGS.items() if self._hinted_values.get(k) == fields[k][0]()}
        applied = {}
        for key, value in wanted.items():
            getter, setter = fields[key]
            try:
                setter(value)
            except (TypeError, ValueError):
                continue
            applied[key] = getter()
        self._hinted_values = applied if hints is not None else {}
        self._update_model_note(hints)
        return hints

    def _hint_fields(self) -> dict[str, tuple[Any, Any]]:
        """(getter, setter) of each field a model's hints may set."""

        def set_preset(name: str) -> None:
            if self.preset_combo.findText(name) < 0:
                raise ValueError(name)
            self.preset_combo.setCurrentText(name)

        def set_scheduler(name: str) -> None:
            if name not in SCHEDULER_NAMES:
                raise ValueError(name)
            self.scheduler_combo.setCurrentText(name)

        return {
            "preset": (self.preset_combo.currentText, set_preset),
            "duration_s": (self.duration_spin.value, self.duration_spin.setValue),
            "steps": (self.steps_spin.value, self.steps_spin.setValue),
            "guidance": (self.guidance_spin.value, self.guidance_spin.setValue),
            "scheduler": (self.scheduler_combo.currentText, set_scheduler),
        }

    def _update_model_note(self, hints: ModelHints | None = None) -> None:
        """The line under the model picker: the starter model says what it is and links to the
        model manager; other models with a description show it."""
        hints = hints if hints is not None else model_hints(self.model_id())
        if hints is None:
            self.model_note.hide()
            self.prompt_edit.setPlaceholderText(DEFAULT_PROMPT_PLACEHOLDER)
            return
        if hints.starter:
            text = (
                f"<b>{hints.title}</b>: tones, chords, sweeps, noise, clicks and plucks. "
                "For music and sound effects, <a href='models'>download a real model</a>."
            )
        else:
            text = hints.description
        self.model_note.setText(text)
        self.model_note.setToolTip(hints.description)
        self.model_note.setVisible(bool(text))
        examples = " · ".join(f"'{p}'" for p in hints.example_prompts[:3])
        self.prompt_edit.setPlaceholderText(f"Describe the sound, e.g. {examples}" if examples else DEFAULT_PROMPT_PLACEHOLDER)

    # -- output size -------------------------------------------------------------------------

    def output_size(self) -> str:
        """``NATIVE_SIZE`` or a key of :data:`engine.audioset.OUTPUT_SIZES`."""
        return str(self.size_combo.currentData())

    def set_output_size(self, name: str) -> None:
        """Choose an output size (``"native"`` or an OUTPUT_SIZES key) and set the duration to its
        width under the current preset. Raises ValueError for an unknown name."""
        index = self.size_combo.findData(name)
        if index < 0:
            raise ValueError(f"unknown output size {name!r}; expected {NATIVE_SIZE!r} or one of {', '.join(OUTPUT_SIZES)}.")
        self.size_combo.setCurrentIndex(index)
        self._on_size_chosen()

    def _on_size_chosen(self) -> None:
        name = self.output_size()
        if name == NATIVE_SIZE:
            return
        from engine.audio.spectrogram import get_preset
        from engine.audioset import output_size_settings

        try:
            settings = output_size_settings(name, get_preset(self.preset_combo.currentText()))
        except ValueError as exc:
            self.show_message(str(exc))
            return
        self.duration_spin.setValue(float(settings["duration_s"]))

    def _height(self) -> int | None:
        name = self.output_size()
        return None if name == NATIVE_SIZE else OUTPUT_SIZES[name][0]

    # -- seed --------------------------------------------------------------------------------

    def randomize_seed(self) -> None:
        self.seed_edit.setText(str(random.randint(0, MAX_SEED)))

    def note_used_seed(self, seed: int) -> None:
        """Show the seed a generation used (unless the user locked another one)."""
        if not self.seed_lock.isChecked():
            self.seed_edit.setText(str(seed))

    # -- the job -----------------------------------------------------------------------------

    def spec(self) -> TextToAudioJob:
        """The job the fields describe; raises ValueError saying what to fix."""
        prompt = self.prompt_edit.toPlainText().strip()
        if not prompt:
            raise ValueError("Type a prompt first.")
        seed = None
        if self.seed_lock.isChecked():
            text = self.seed_edit.text().strip()
            if not text:
                raise ValueError("The seed is locked but empty: type a seed or unlock it.")
            seed = int(text)
            if seed > MAX_SEED:
                raise ValueError(f"The seed must be between 0 and {MAX_SEED}.")
        model = self.model_id()
        if not model:
            raise ValueError("Pick a model (Models > Model Manager) or type a repo id or folder.")
        steps = self.steps_spin.value()
        return TextToAudioJob(
            prompt=prompt,
            negative_prompt=self.negative_edit.text().strip(),
            seed=seed,
            num_inference_steps=steps,
            guidance_scale=float(self.guidance_spin.value()),
            scheduler=self.scheduler_combo.currentText(),
            duration_s=float(self.duration_spin.value()),
            num_variations=self.variations_spin.value(),
            model=model,
            spectrogram_preset=self.preset_combo.currentText(),
            height=self._height(),
            preview_every=max(1, steps // PREVIEWS_PER_JOB) if self.preview_check.isChecked() else 0,
        )

    def request_generate(self) -> None:
        """Emit generate_requested with the spec, or show why not."""
        try:
            spec = self.spec()
        except ValueError as exc:
            self.show_message(str(exc))
            return
        self.show_message("")
        self.generate_requested.emit(spec)

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def apply_spec(self, spec: TextToAudioJob) -> None:
        """Fill the fields from a job spec (one made from a clip's recipe); a set seed gets locked."""
        self.prompt_edit.setPlainText(spec.prompt)
        self.negative_edit.setText(spec.negative_prompt)
        self.seed_edit.setText("" if spec.seed is None else str(spec.seed))
        self.seed_lock.setChecked(spec.seed is not None)
        self.steps_spin.setValue(spec.num_inference_steps)
        self.guidance_spin.setValue(spec.guidance_scale)
        self.scheduler_combo.setCurrentText(spec.scheduler)
        self.set_model(spec.model)
        self.duration_spin.setValue(spec.duration_s)
        if self.preset_combo.findText(spec.spectrogram_preset) >= 0:
            self.preset_combo.setCurrentText(spec.spectrogram_preset)
        size = next((name for name, (h, _w) in OUTPUT_SIZES.items() if h == spec.height), NATIVE_SIZE)
        self.size_combo.setCurrentIndex(self.size_combo.findData(size))

    def apply_recipe(self, recipe: Recipe, *, duration_s: float | None = None, preset: str | None = None) -> None:
        """Fill the fields a recipe of any task shares with text-to-audio; the seed gets locked."""
        self.apply_spec(
            TextToAudioJob(
                prompt=recipe.prompt,
                negative_prompt=recipe.negative_prompt,
                seed=recipe.seed,
                num_inference_steps=recipe.num_inference_steps,
                guidance_scale=recipe.guidance_scale,
                scheduler=recipe.scheduler,
                duration_s=duration_s if duration_s is not None else self.duration_spin.value(),
                model=recipe.model_id,
                spectrogram_preset=preset or self.preset_combo.currentText(),
            )
        )

    # -- persistence -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt_edit.toPlainText(),
            "negative": self.negative_edit.text(),
            "duration_s": self.duration_spin.value(),
            "seed": self.seed_edit.text(),
            "seed_locked": self.seed_lock.isChecked(),
            "steps": self.steps_spin.value(),
            "guidance": self.guidance_spin.value(),
            "scheduler": self.scheduler_combo.currentText(),
            "variations": self.variations_spin.value(),
            "model": self.model_id(),
            "preset": self.preset_combo.currentText(),
            "size": self.output_size(),
            "preview": self.preview_check.isChecked(),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Put back a saved :meth:`state`; unknown or bad values are skipped."""
        setters = {
            "prompt": self.prompt_edit.setPlainText,
            "negative": self.negative_edit.setText,
            "duration_s": self.duration_spin.setValue,
            "seed": self.seed_edit.setText,
            "seed_locked": self.seed_lock.setChecked,
            "steps": self.steps_spin.setValue,
            "guidance": self.guidance_spin.setValue,
            "scheduler": lambda v: self.scheduler_combo.setCurrentText(v) if v in SCHEDULER_NAMES else None,
            "variations": self.variations_spin.setValue,
            "model": self.set_model,
            "preset": lambda v: self.preset_combo.setCurrentText(v) if self.preset_combo.findText(v) >= 0 else None,
            "size": lambda v: self.size_combo.setCurrentIndex(i) if (i := self.size_combo.findData(v)) >= 0 else None,
            "preview": self.preview_check.setChecked,
        }
        for key, setter in setters.items():
            if key in state:
                try:
                    setter(state[key])
                except (TypeError, ValueError):
                    pass
