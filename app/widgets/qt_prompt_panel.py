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
from engine.specs import MAX_DURATION_S, MAX_SEED, MAX_STEPS, MAX_VARIATIONS

#: Previews decoded about this many times per generation when live preview is on.
PREVIEWS_PER_JOB = 8


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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._default_model = ""
        self.prompt_edit = _PromptEdit()
        self.prompt_edit.setPlaceholderText("Describe the sound: 'warm analog synth pad, slow attack'")
        self.prompt_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 10)
        self.prompt_edit.setTabChangesFocus(True)
        self.negative_edit = QLineEdit()
        self.negative_edit.setPlaceholderText("What to avoid (optional)")

        self.duration_spin = QDoubleSpinBox()
        self.duration_spin.setRange(0.08, MAX_DURATION_S)
        self.duration_spin.setDecimals(2)
        self.duration_spin.setSingleStep(0.64)
        self.duration_spin.setSuffix(" s")
        self.duration_spin.setValue(5.12)
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
        self.steps_spin.setValue(30)
        self.guidance_spin = QDoubleSpinBox()
        self.guidance_spin.setRange(0.0, 50.0)
        self.guidance_spin.setSingleStep(0.5)
        self.guidance_spin.setValue(7.0)
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
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(preset_names())
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
        form.addRow("Spectrogram", self.preset_combo)
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

    def model_id(self) -> str:
        """The chosen model: the picked entry's id, or what the user typed."""
        text = self.model_combo.currentText().strip()
        index = self.model_combo.findText(text)
        if index >= 0 and self.model_combo.itemData(index):
            return str(self.model_combo.itemData(index))
        return text

    def set_model(self, model_id: str) -> None:
        index = self.model_combo.findData(model_id)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        else:
            self.model_combo.setEditText(model_id)

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
            "preview": self.preview_check.setChecked,
        }
        for key, setter in setters.items():
            if key in state:
                try:
                    setter(state[key])
                except (TypeError, ValueError):
                    pass
