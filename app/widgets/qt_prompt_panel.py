"""The prompt panel: a view of the app's :class:`~app.model.generation.GenerationSettings`
(everything a text-to-audio job needs) and the Generate button (Ctrl+Enter).

Each field writes into the settings as it changes and follows the settings when someone else
changes them (a clip's "use these settings", a restored session); the edit tools read the same
settings object, never these widgets.
"""

from __future__ import annotations

import html
import random
from typing import Any

from PySide6.QtCore import QRect, QRegularExpression, Qt, Signal
from PySide6.QtGui import QKeyEvent, QRegularExpressionValidator, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.model.generation import GENERIC_SETTINGS, NATIVE_SIZE, PREVIEWS_PER_JOB, GenerationSettings, upsampler_for
from app.widgets.lora_picker import QtLoraPicker
from app.widgets.model_combo import combo_model_id, make_editable, show_model
from app.widgets.placeholders import fit_placeholder
from app.widgets.spin_boxes import DoubleSpinBox, SpinBox
from app.widgets.wheel_guard import guard_combo_wheels
from engine.api import PRESETS, SCHEDULER_NAMES, VOCODERS, GenerateJob, Recipe
from engine.audio.limits import LONG_WINDOW_S, WHOLE_MAX_S, generation_windows
from engine.audioset import OUTPUT_SIZES
from engine.models.catalog import ModelHints, model_hints
from engine.specs import MAX_DURATION_S, MAX_SEED, MAX_STEPS, MAX_VARIATIONS

__all__ = ["GENERIC_SETTINGS", "NATIVE_SIZE", "NATIVE_SIZE_TEXT", "PREVIEWS_PER_JOB", "QtPromptPanel", "preset_names"]

NATIVE_SIZE_TEXT = "Model's native size"
DEFAULT_PROMPT_PLACEHOLDER = "Describe the sound: 'warm analog synth pad, slow attack'"
#: What a line edit adds around its text: frame, the style sheet's padding (2 px 4 px) and the cursor.
SEED_FIELD_FRAME_PX = 16


def example_placeholder(hints: ModelHints | None, count: int = 3) -> str:
    """The prompt box's placeholder for a model: its card's first ``count`` example prompts
    (prompts that work with it), else a general example that suits any music model."""
    examples = " \u00b7 ".join(f"'{p}'" for p in (hints.example_prompts[:count] if hints is not None else ()))
    return f"Describe the sound, e.g. {examples}" if examples else DEFAULT_PROMPT_PLACEHOLDER


def preset_names() -> list[str]:
    """Spectrogram presets the engine knows (riffusion first)."""
    names = list(PRESETS)
    return sorted(names, key=lambda n: (n != "riffusion", n))


class _PromptEdit(QPlainTextEdit):
    """A few lines of prompt text; Ctrl+Enter submits instead of adding a line. Its placeholder
    gives as many of the model's example prompts as it shows whole (:meth:`set_examples`)."""

    submitted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._hints: ModelHints | None = None
        self.setPlaceholderText(example_placeholder(None))

    def set_examples(self, hints: ModelHints | None) -> None:
        """Show ``hints``' example prompts in the placeholder (None: a general example)."""
        self._hints = hints
        self._fit_placeholder()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit_placeholder()

    def _fit_placeholder(self) -> None:
        """Three examples where they show whole, else two, else one: at a 1024 or 860 px window
        the third was cut off in the middle ("'a rock beat at")."""
        count = 3
        if self.isVisible() and self._hints is not None:  # laid out: its room is known
            margin = round(self.document().documentMargin())
            room = self.viewport().rect().adjusted(margin, margin, -margin, -margin)
            metrics = self.fontMetrics()
            while count > 1 and metrics.boundingRect(
                    QRect(0, 0, room.width(), 100_000), Qt.TextFlag.TextWordWrap,
                    example_placeholder(self._hints, count)).height() > room.height():
                count -= 1
        self.setPlaceholderText(example_placeholder(self._hints, count))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class QtPromptPanel(QWidget):
    """A view of :class:`GenerationSettings` (``settings``; a new one when none is given) that
    builds a :class:`GenerateJob`; ``generate_requested(spec)`` on Generate.

    Invalid input (an empty prompt, a seed out of range, a missing model) shows a message under
    the button and emits nothing.
    """

    generate_requested = Signal(object)
    #: The user clicked the "download a real model" link under the model picker.
    model_manager_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, settings: GenerationSettings | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else GenerationSettings(preset_names())
        self._default_model = ""
        self._hinted_model: str | None = None
        self.prompt_edit = _PromptEdit()
        self.prompt_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 10)
        self.prompt_edit.setTabChangesFocus(True)
        self.examples_button = QToolButton()
        self.examples_button.setText("Examples")
        self.examples_button.setToolTip("Prompts the selected model does well")
        self.examples_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.examples_menu = QMenu(self.examples_button)
        self.examples_menu.triggered.connect(lambda action: self.settings.set(prompt=action.text()))
        self.examples_button.setMenu(self.examples_menu)
        self.examples_button.hide()
        prompt_column = QVBoxLayout()
        prompt_column.setContentsMargins(0, 0, 0, 0)
        prompt_column.addWidget(self.prompt_edit)
        prompt_column.addWidget(self.examples_button, 0, Qt.AlignmentFlag.AlignRight)
        self.negative_edit = QLineEdit()
        fit_placeholder(self.negative_edit, "What to avoid (optional)", "What to avoid")
        self.negative_edit.setToolTip("Words the model steers away from, e.g. 'noise, distortion'")

        self.duration_spin = DoubleSpinBox()
        self.duration_spin.setRange(0.08, MAX_DURATION_S)
        self.duration_spin.setDecimals(2)
        self.duration_spin.setSingleStep(0.64)
        self.duration_spin.setSuffix(" s")
        self.duration_spin.setToolTip(
            f"Rounded to whole 8-pixel image columns of the spectrogram preset. Up to {WHOLE_MAX_S:g} s a clip "
            f"is drawn as one image; longer ones (up to {MAX_DURATION_S:g} s) window by window."
        )
        self.duration_note = QLabel()  # says when a long clip is drawn window by window
        self.duration_note.setObjectName("durationNote")
        self.duration_note.setWordWrap(True)
        self.duration_note.hide()

        self.seed_edit = QLineEdit()
        self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}")))
        self.seed_edit.setPlaceholderText("random")
        self.seed_edit.setToolTip("The same seed, prompt and settings make the same sound again; empty: a new "
                                  "random seed each time")
        # A whole 10-digit seed in view (it used to show "365966504" of 2365966504).
        margins = self.seed_edit.textMargins()
        self.seed_edit.setMinimumWidth(self.seed_edit.fontMetrics().horizontalAdvance("0" * 10)
                                       + margins.left() + margins.right() + SEED_FIELD_FRAME_PX)
        self.seed_lock = QCheckBox("Lock")
        self.seed_lock.setToolTip("Locked: use this seed. Unlocked: a new random seed each time.")
        self.seed_dice = QToolButton()
        self.seed_dice.setText("Random")
        self.seed_dice.setToolTip("Pick a random seed and lock it, to hear it again")
        self.seed_dice.clicked.connect(self.randomize_seed)
        # Typing a seed means "use this seed": Lock ticks itself (unlocked, a typed seed was
        # replaced by a random one without a word); clearing the field unticks it.
        self.seed_edit.textEdited.connect(lambda text: self.seed_lock.setChecked(bool(text.strip())))
        seed_row = QHBoxLayout()
        seed_row.setContentsMargins(0, 0, 0, 0)
        seed_row.addWidget(self.seed_edit, 1)
        seed_row.addWidget(self.seed_lock)
        seed_row.addWidget(self.seed_dice)

        self.steps_spin = SpinBox()
        self.steps_spin.setRange(1, MAX_STEPS)
        self.steps_spin.setToolTip("Denoising steps: more take longer and add detail, with little gain past 30-50")
        self.guidance_spin = DoubleSpinBox()
        self.guidance_spin.setRange(0.0, 50.0)
        self.guidance_spin.setSingleStep(0.5)
        self.guidance_spin.setToolTip("How closely the sound follows the prompt: higher follows it more literally "
                                      "and can sound harsher; 0 ignores the prompt")
        self.scheduler_combo = QComboBox()
        self.scheduler_combo.addItems(list(SCHEDULER_NAMES))
        self.scheduler_combo.setToolTip("The denoising method: each turns the same seed into a slightly different "
                                        "sound; dpm++2m-karras does well in few steps")
        self.variations_spin = SpinBox()
        self.variations_spin.setRange(1, MAX_VARIATIONS)
        self.variations_spin.setToolTip("How many clips one Generate makes (each with its own seed, on the tracks "
                                        "below)")
        self.model_combo = QComboBox()
        make_editable(self.model_combo)
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
        self.preset_combo.setToolTip("How audio maps to the image (sample rate, mel bands, hop): the model's own "
                                     "is picked with it; another one only suits a model trained on it")
        self.size_combo = QComboBox()
        self.size_combo.addItem(NATIVE_SIZE_TEXT, NATIVE_SIZE)
        for name, (height, width) in OUTPUT_SIZES.items():
            self.size_combo.addItem(name, name)
        self.size_combo.setToolTip(
            "Image size in mel rows x time columns. Seed 001 generated 64 x 400 (4 s at 10 ms per "
            "column) instead of 512 x 512; choosing a size sets the duration to its width."
        )
        self.size_combo.activated.connect(lambda _index: self._on_size_chosen())
        self.vocoder_combo = QComboBox()  # what turns spectrograms into audio, for generations and edits
        for entry in VOCODERS:
            self.vocoder_combo.addItem(entry.title, entry.name)
            self.vocoder_combo.setItemData(self.vocoder_combo.count() - 1, entry.description, Qt.ItemDataRole.ToolTipRole)
        self.vocoder_combo.setToolTip("The vocoder of generations and edits (recorded in each clip's recipe)")
        self.preview_check = QCheckBox("Live preview while denoising")
        self.preview_check.setToolTip("Show the spectrogram taking shape in the Jobs dock (a little slower)")
        self.upsample_check = QCheckBox("Full band (upsample to 44.1 kHz)")
        self.upsample_check.setToolTip(
            "Run an upsampler after inversion: it restores the band above the model's top (the starter "
            "model stops at 4 kHz). On by default where the model's card recommends it."
        )
        self.lora_picker = QtLoraPicker(self.settings)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setToolTip("Generate (Ctrl+Enter)")
        self.generate_button.clicked.connect(lambda *_: self.request_generate())
        self.prompt_edit.submitted.connect(lambda: self.request_generate())
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setObjectName("errorLabel")
        self.message_label.hide()

        form = QFormLayout()
        # In a narrow dock a row too wide beside its label (the seed row) goes under it instead
        # of widening the dock, and so the window.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Prompt", prompt_column)
        form.addRow("Negative", self.negative_edit)
        form.addRow("Duration", self.duration_spin)
        form.addRow("", self.duration_note)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Guidance", self.guidance_spin)
        form.addRow("Scheduler", self.scheduler_combo)
        form.addRow("Variations", self.variations_spin)
        form.addRow("Model", self.model_combo)
        form.addRow(self.model_note)  # the whole width: fewer lines
        form.addRow("LoRAs", self.lora_picker)
        form.addRow("Spectrogram", self.preset_combo)
        form.addRow("Size", self.size_combo)
        form.addRow("Vocoder", self.vocoder_combo)
        #: Generate and the message under it (:meth:`take_footer` moves them under the dock's
        #: scroll area, so that they stay in sight).
        self.footer = QWidget()
        self.footer.setObjectName("promptFooter")
        footer_layout = QVBoxLayout(self.footer)
        footer_layout.setContentsMargins(0, 0, 0, 0)
        footer_layout.addWidget(self.generate_button)
        footer_layout.addWidget(self.message_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview_check)
        layout.addWidget(self.upsample_check)
        layout.addWidget(self.footer)
        layout.addStretch(1)
        guard_combo_wheels(self)  # the dock scrolls: the wheel scrolls it past the combos
        self._bind()

    def take_footer(self) -> QWidget:
        """Take Generate and its message out of the panel, for a place that does not scroll
        (the Prompt dock puts them under the panel's scroll area: at 1024 x 700 the panel's own
        Generate was below the fold). The footer keeps the panel's side margins."""
        self.layout().removeWidget(self.footer)
        margins = self.layout().contentsMargins()
        self.footer.layout().setContentsMargins(margins.left(), 4, margins.right(), 4)
        return self.footer

    # -- the settings <-> the widgets ----------------------------------------------------------

    def _bind(self) -> None:
        """Each widget shows its field now, follows it, and writes the user's changes into it."""
        s = self.settings
        # field -> (show the value in the widget, the widget's change signal, read the widget)
        self._views: dict[str, tuple[Any, Any, Any]] = {
            "prompt": (self._show_prompt, self.prompt_edit.textChanged, self.prompt_edit.toPlainText),
            "negative_prompt": (self.negative_edit.setText, self.negative_edit.textChanged, self.negative_edit.text),
            "duration_s": (self.duration_spin.setValue, self.duration_spin.valueChanged, self.duration_spin.value),
            "seed": (lambda v: self.seed_edit.setText("" if v is None else str(v)), self.seed_edit.textChanged,
                     lambda: int(t) if (t := self.seed_edit.text().strip()) else None),
            "seed_locked": (self.seed_lock.setChecked, self.seed_lock.toggled, self.seed_lock.isChecked),
            "steps": (self.steps_spin.setValue, self.steps_spin.valueChanged, self.steps_spin.value),
            "guidance": (self.guidance_spin.setValue, self.guidance_spin.valueChanged, self.guidance_spin.value),
            "scheduler": (self.scheduler_combo.setCurrentText, self.scheduler_combo.currentTextChanged,
                          self.scheduler_combo.currentText),
            "variations": (self.variations_spin.setValue, self.variations_spin.valueChanged, self.variations_spin.value),
            "model": (self._show_model, self.model_combo.currentTextChanged, self.model_id),
            "preset": (self.preset_combo.setCurrentText, self.preset_combo.currentTextChanged,
                       self.preset_combo.currentText),
            "size": (lambda v: self.size_combo.setCurrentIndex(max(0, self.size_combo.findData(v))),
                     self.size_combo.currentIndexChanged, self.output_size),
            "preview": (self.preview_check.setChecked, self.preview_check.toggled, self.preview_check.isChecked),
            "vocoder": (self._show_vocoder, self.vocoder_combo.currentIndexChanged,
                        lambda: self.vocoder_combo.currentData() or self.settings.vocoder),
            "upsampler": (lambda v: self.upsample_check.setChecked(bool(v)), self.upsample_check.toggled,
                          lambda: upsampler_for(s) if self.upsample_check.isChecked() else ""),
        }
        for name, (show, changed, read) in self._views.items():
            show(getattr(s, name))
            changed.connect(lambda *_, n=name, r=read: self._on_widget_changed(n, r))
        s.events.changed.connect(self._on_settings_changed)
        s.events.model_hints_applied.connect(self._update_model_note)
        self._update_duration_note()

    def _show_vocoder(self, name: str) -> None:
        """Select vocoder ``name``; a vocoder folder (from a recipe) gets an entry of its own."""
        index = self.vocoder_combo.findData(name)
        if index < 0:
            self.vocoder_combo.addItem(name, name)
            index = self.vocoder_combo.count() - 1
        self.vocoder_combo.setCurrentIndex(index)

    def _on_widget_changed(self, name: str, read: Any) -> None:
        try:
            self.settings.set(**{name: read()})
        except ValueError:
            pass  # a half-typed value: spec() says what is wrong

    def _on_settings_changed(self, name: str, value: Any) -> None:
        view = self._views.get(name)
        if view is None:
            return
        show, _changed, read = view
        try:
            current = read()
        except ValueError:
            current = None
        if current != value:
            show(value)
        if name == "model":
            self._update_model_note()
        if name in ("duration_s", "preset"):
            self._update_duration_note()

    def _update_duration_note(self) -> None:
        """Over WHOLE_MAX_S seconds: how many windows the clip is drawn in (time grows with them)."""
        params = PRESETS.get(self.settings.preset)
        windows = generation_windows(self.settings.duration_s, params) if params is not None else 1
        self.duration_note.setText(
            f"Longer than {WHOLE_MAX_S:g} s: drawn in {windows} windows of {LONG_WINDOW_S:g} s, one after "
            "another (about as long as generating each; Cancel stops within a step)."
        )
        self.duration_note.setVisible(windows > 1)

    def _show_prompt(self, text: str) -> None:
        if self.prompt_edit.toPlainText() != text:
            self.prompt_edit.setPlainText(text)

    # -- models ------------------------------------------------------------------------------

    def set_models(self, listing: Any, default_model: str = "") -> None:
        """Fill the model picker from a :class:`app.engine_client.ModelListing` (pipelines only),
        keeping the current choice; ``default_model`` (or the listing's) is picked when none is."""
        current = self.settings.model
        self._default_model = default_model or listing.default_model
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        ids = []
        for entry in listing.entries:
            if not entry.is_pipeline or "generate" not in (entry.tasks or ("generate",)):
                continue
            mark = "" if entry.downloaded else "  (not downloaded)"
            self.model_combo.addItem(f"{entry.label}{mark}", entry.model_id)
            self.model_combo.setItemData(self.model_combo.count() - 1, entry.model_id, Qt.ItemDataRole.ToolTipRole)
            ids.append(entry.model_id)
        if self._default_model and self._default_model not in ids:
            self.model_combo.addItem(self._default_model, self._default_model)
        self._show_model(current or self._default_model)
        self.model_combo.blockSignals(False)
        self.set_model(current or self._default_model)
        if not current:  # first listing (nothing chosen or restored yet): the default's settings
            self.apply_model_hints()
        else:
            self._update_model_note()

    def model_id(self) -> str:
        """The chosen model: the picked entry's id, or what the user typed."""
        return combo_model_id(self.model_combo)

    def _show_model(self, model_id: str) -> None:
        show_model(self.model_combo, model_id)

    def set_model(self, model_id: str) -> None:
        """Select ``model_id`` without changing other fields (see :meth:`apply_model_hints`)."""
        self._show_model(model_id)
        self.settings.set(model=self.model_id())
        self._update_model_note()

    def _on_model_typed(self) -> None:
        if self.model_id() != self._hinted_model:
            self.apply_model_hints()

    def apply_model_hints(self) -> ModelHints | None:
        """Preset the fields the chosen model recommends and label it (called when the user picks
        a model); see :meth:`GenerationSettings.apply_model_hints`."""
        self.settings.set(model=self.model_id())
        self._hinted_model = self.settings.model
        return self.settings.apply_model_hints()

    def _update_model_note(self, hints: ModelHints | None = None) -> None:
        """The line under the model picker: the starter model says what it is and links to the
        model manager; other models with a description show it. The prompt's placeholder gives
        the model's own example prompts."""
        hints = hints if hints is not None else model_hints(self.model_id())
        self.examples_menu.clear()
        for prompt in hints.example_prompts if hints is not None else ():
            self.examples_menu.addAction(prompt)
        self.examples_button.setVisible(not self.examples_menu.isEmpty())
        if hints is None:
            self.model_note.hide()
            self.prompt_edit.set_examples(None)
            return
        if hints.starter:
            # Two short lines at the dock's width (it took 5-7 lines naming the model and its
            # classes): what it is and what to do for real sounds; the rest in the tooltip.
            if hints.audioset_classes:
                text = "<b>Offline preview.</b> For recordings and music, <a href='models'>download a real model</a>."
                more = (f" It knows {len(hints.audioset_classes)} AudioSet classes (\u2713 in Sound Classes) and "
                        "synthetic tones and noises.")
            else:
                text = ("<b>Synthetic sounds only</b>: tones, sweeps, noise, plucks. For music and effects, "
                        "<a href='models'>download a real model</a>.")
                more = ""
            tip = f"{hints.title}: {hints.description}{more}"
        else:
            text = tip = hints.description
        self.model_note.setText(text)
        self.model_note.setToolTip(tip)
        self.model_note.setVisible(bool(text))
        self.prompt_edit.set_examples(hints)

    # -- output size -------------------------------------------------------------------------

    def output_size(self) -> str:
        """``NATIVE_SIZE`` or a key of :data:`engine.audioset.OUTPUT_SIZES`."""
        return str(self.size_combo.currentData())

    def set_output_size(self, name: str) -> None:
        """Choose an output size (``"native"`` or an OUTPUT_SIZES key) and set the duration to its
        width under the current preset. Raises ValueError for an unknown name."""
        self.settings.set_output_size(name)

    def _on_size_chosen(self) -> None:
        try:
            self.settings.set_output_size(self.output_size())
        except ValueError as exc:
            self.show_message(str(exc))

    # -- seed --------------------------------------------------------------------------------

    def randomize_seed(self) -> None:
        """A new random seed, locked (unlocked, the next generation would pick yet another one
        and the button did nothing the user could hear)."""
        self.settings.set(seed=random.randint(0, MAX_SEED), seed_locked=True)

    def note_used_seed(self, seed: int) -> None:
        """Show the seed a generation used (unless the user locked another one)."""
        if not self.settings.seed_locked:
            self.settings.set(seed=seed)

    # -- the job -----------------------------------------------------------------------------

    def spec(self, **overrides: Any) -> GenerateJob:
        """The job the settings describe (``overrides`` for this job only); raises ValueError
        saying what to fix."""
        return self.settings.generate_spec(**overrides)

    def request_generate(self, **overrides: Any) -> bool:
        """Emit generate_requested with the spec (``overrides``: settings for this job only),
        or show why not. True when emitted."""
        try:
            spec = self.spec(**overrides)
        except ValueError as exc:
            self.show_message(str(exc))
            return False
        self.show_message("")
        self.generate_requested.emit(spec)
        return True

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def apply_spec(self, spec: GenerateJob) -> None:
        """Fill the fields from a job spec (one made from a clip's recipe); a set seed gets locked."""
        self.settings.apply_spec(spec)

    def apply_recipe(self, recipe: Recipe, *, duration_s: float | None = None, preset: str | None = None) -> None:
        """Fill the fields a recipe of any task shares with text-to-audio; the seed gets locked."""
        self.settings.apply_spec(recipe, duration_s=duration_s, preset=preset)

    # -- persistence -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        s = self.settings
        return {
            "prompt": s.prompt,
            "negative": s.negative_prompt,
            "duration_s": s.duration_s,
            "seed": "" if s.seed is None else str(s.seed),
            "seed_locked": s.seed_locked,
            "steps": s.steps,
            "guidance": s.guidance,
            "scheduler": s.scheduler,
            "variations": s.variations,
            "model": s.model,
            "preset": s.preset,
            "size": s.size,
            "preview": s.preview,
            "upsampler": s.upsampler,
            "loras": [[ref, weight] for ref, weight in s.loras],
            "vocoder": s.vocoder,
            "picked": s.picks(),  # vocoder/upsampler the user chose; the rest follow Settings' defaults
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
            "upsampler": lambda v: self.settings.set(upsampler=str(v)),
            "loras": lambda v: self.settings.set(loras=tuple((str(r), float(w)) for r, w in v)),
            "vocoder": lambda v: self.settings.set(vocoder=str(v)),
        }
        for key, setter in setters.items():
            if key in state:
                try:
                    setter(state[key])
                except (TypeError, ValueError):
                    pass
        self.settings.keep_picks(state.get("picked", ()))
