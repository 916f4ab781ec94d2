"""The edit panel: Inpaint / Extend / Loop / Vary / Interpolate with their parameters.

The panel only collects parameters and says what the user asked for
(``edit_requested(kind)``); :class:`app.edit_tools.EditTools` reads :meth:`QtEditPanel.params`,
builds the engine job from the project and lands the result. The settings every diffusion job
shares (model, seed, steps, guidance, scheduler, negative prompt, spectrogram preset) come from the
prompt panel; a clip edit's prompt left empty uses the clip's own prompt (from its recipe), the
Interpolate tab's the prompt panel's.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.specs import MAX_EXTEND_S, MAX_INTERPOLATION_STEPS, MAX_SEED, MAX_VARIATIONS

#: What edit_requested(kind) can say.
EDIT_KINDS = ("inpaint", "extend", "continue", "loop", "vary", "interpolate")
#: The image length (s) the window and segment fields assume for a model without a card (Riffusion's 512 px).
GENERIC_WINDOW_S = 5.12
#: Riffusion's suggested img2img strengths.
LIGHT_STRENGTH = 0.4
HEAVY_STRENGTH = 0.55


def _spin(lo: float, hi: float, value: float, *, step: float = 0.1, decimals: int = 2, suffix: str = "",
          tip: str = "") -> QDoubleSpinBox:
    spin = QDoubleSpinBox(minimum=lo, maximum=hi, singleStep=step, decimals=decimals, suffix=suffix, toolTip=tip)
    spin.setValue(value)
    return spin


def _prompt_edit(placeholder: str = "Empty: the clip's own prompt") -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    return edit


def _seed_edit(placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}")))
    edit.setPlaceholderText(placeholder)
    return edit


class QtEditPanel(QWidget):
    """Parameters of the spectrogram edits and the state of the running one.

    Signals: ``edit_requested(str kind)`` (one of :data:`EDIT_KINDS`), ``cancel_requested()``.
    """

    edit_requested = Signal(str)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.buttons: dict[str, QPushButton] = {}

        # Inpaint
        self.inpaint_prompt = _prompt_edit()
        self.inpaint_strength = _spin(0.05, 1.0, 1.0, step=0.05,
                                      tip="1 regenerates the region from noise; lower keeps more of it")
        self._tab("Inpaint", "inpaint", "Repaint", [("Prompt", self.inpaint_prompt), ("Strength", self.inpaint_strength)],
                  "Regenerate the selected clip's painted mask (or the selected time range / box).")

        # Extend
        self.extend_prompt = _prompt_edit()
        self.extend_prompt_left = _prompt_edit("Empty: the right side's prompt")
        self.extend_left = _spin(0.0, MAX_EXTEND_S, 0.0, step=1.0, suffix=" s", tip="Seconds to add before the clip")
        self.extend_right = _spin(0.0, MAX_EXTEND_S, 5.0, step=1.0, suffix=" s",
                                  tip="Seconds to add after the clip (or after the selection's end)")
        self.extend_context = _spin(0.0, 4.48, 2.5, step=0.25, suffix=" s",
                                    tip="How much of what is there each new window sees")
        tab = self._tab("Extend", "extend", "Extend",
                        [("Right", self.extend_right), ("Left", self.extend_left), ("Prompt", self.extend_prompt),
                         ("Left prompt", self.extend_prompt_left), ("Context", self.extend_context)],
                        "Add new audio before and/or after the selected clip; its own samples stay as they are.")
        self.buttons["continue"] = QPushButton("Continue from selection end")
        self.buttons["continue"].setToolTip(
            "Keep the clip up to the end of the selected time range and continue it from there by the "
            "'Right' seconds (the selection is the context the model sees)")
        self.buttons["continue"].clicked.connect(lambda: self.edit_requested.emit("continue"))
        tab.layout().insertWidget(tab.layout().count() - 1, self.buttons["continue"])

        # Loop
        self.loop_prompt = _prompt_edit()
        self.loop_seam = _spin(0.08, 20.0, 1.0, step=0.1, suffix=" s", tip="Length of the regenerated band around the seam")
        self.loop_strength = _spin(0.05, 1.0, 1.0, step=0.05)
        self._tab("Loop", "loop", "Make loop",
                  [("Prompt", self.loop_prompt), ("Seam", self.loop_seam), ("Strength", self.loop_strength)],
                  "Make the selected time range of the clip (or the whole clip) loop seamlessly.")

        # Vary
        self.vary_prompt = _prompt_edit()
        self.vary_strength = _spin(0.05, 1.0, HEAVY_STRENGTH, step=0.05,
                                   tip=f"About {LIGHT_STRENGTH} for light and {HEAVY_STRENGTH} for heavy changes")
        self.vary_count = QSpinBox(minimum=1, maximum=MAX_VARIATIONS, value=1,
                                   toolTip="1 replaces the clip; more land as new clips on the tracks below")
        strength_row = QWidget()
        row = QHBoxLayout(strength_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.vary_strength, 1)
        for text, value in (("Light", LIGHT_STRENGTH), ("Heavy", HEAVY_STRENGTH)):
            button = QToolButton(text=text)
            button.clicked.connect(lambda _=False, v=value: self.vary_strength.setValue(v))
            row.addWidget(button)
        self._tab("Vary", "vary", "Vary",
                  [("Prompt", self.vary_prompt), ("Strength", strength_row), ("Variations", self.vary_count)],
                  "Audio-to-audio variations of the selected clip.")

        # Interpolate
        self.interp_from = _prompt_edit("Empty: the Prompt panel's prompt")
        self.interp_to = _prompt_edit("Where it ends up")
        self.interp_seed_from = _seed_edit("Prompt panel's seed")
        self.interp_seed_to = _seed_edit("Same seed")
        self.interp_steps = QSpinBox(minimum=2, maximum=MAX_INTERPOLATION_STEPS, value=5,
                                     toolTip="Segments from the first prompt to the second")
        self.interp_segment = _spin(0.64, 60.0, 5.12, step=0.64, suffix=" s", tip="Length of each segment")
        self.interp_crossfade = _spin(0.0, 30.0, 0.5, step=0.1, suffix=" s", tip="Crossfade between segments")
        self._tab("Interpolate", "interpolate", "Interpolate",
                  [("From", self.interp_from), ("To", self.interp_to), ("Seed from", self.interp_seed_from),
                   ("Seed to", self.interp_seed_to), ("Steps", self.interp_steps),
                   ("Segment", self.interp_segment), ("Crossfade", self.interp_crossfade)],
                  "One continuous new clip moving from one prompt (and seed) to another, at the playhead.")

        # Shared quality settings
        self.height_spin = QSpinBox(minimum=0, maximum=2048, singleStep=64, value=0, specialValueText="preset",
                                    toolTip="Mel bins of the spectrogram images (a multiple of 8; 'preset' = the preset's)")
        self.iterations_spin = QSpinBox(minimum=0, maximum=1000, value=32,
                                        toolTip="Resynthesis (Griffin-Lim) iterations: more is cleaner and slower")
        self.window_spin = _spin(0.64, 60.0, 5.12, step=0.64, suffix=" s",
                                 tip="Length of the image the model sees at once (5.12 s is Riffusion's 512 px)")
        shared = QGroupBox("All edits")
        form = QFormLayout(shared)
        form.addRow("Window", self.window_spin)
        form.addRow("Mel bins", self.height_spin)
        form.addRow("Resynthesis", self.iterations_spin)
        note = QLabel("Model, seed, steps, guidance, scheduler and negative prompt come from the Prompt panel.")
        note.setWordWrap(True)
        form.addRow(note)

        # The running edit
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(shared)
        layout.addLayout(running)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        self._model_defaults = self._defaults_for(GENERIC_WINDOW_S)
        self.set_running(None)

    def _tab(self, title: str, kind: str, button_text: str, rows: list[tuple[str, QWidget]], help_text: str) -> QWidget:
        page = QWidget()
        form = QFormLayout()
        for label, widget in rows:
            form.addRow(label, widget)
        button = QPushButton(button_text)
        button.clicked.connect(lambda: self.edit_requested.emit(kind))
        self.buttons[kind] = button
        help_label = QLabel(help_text)
        help_label.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(help_label)
        layout.addLayout(form)
        layout.addWidget(button)
        layout.addStretch(1)
        self.tabs.addTab(page, title)
        return page

    # -- following the model ------------------------------------------------------------------

    def _fields_following_the_model(self) -> dict[str, QDoubleSpinBox]:
        return {"window_s": self.window_spin, "segment_s": self.interp_segment, "context_s": self.extend_context}

    @staticmethod
    def _defaults_for(window_s: float) -> dict[str, float]:
        """The window, interpolation segment and extend context for a model whose images are
        ``window_s`` long (5.12 s gives the Riffusion defaults: 5.12, 5.12 and 2.5 s)."""
        return {"window_s": window_s, "segment_s": window_s, "context_s": round(min(2.5, window_s / 2), 2)}

    def apply_model_defaults(self, hints: Any) -> dict[str, float]:
        """Set the fields that depend on the model's image length (its card's ``duration_s``,
        else Riffusion's 5.12 s) to that model's defaults; fields the user changed from the
        previous model's defaults stay. Returns the new defaults."""
        window_s = getattr(hints, "duration_s", None) or GENERIC_WINDOW_S
        defaults = self._defaults_for(float(window_s))
        for name, spin in self._fields_following_the_model().items():
            if abs(spin.value() - self._model_defaults[name]) < 1e-6:
                spin.setValue(defaults[name])
        self._model_defaults = defaults
        return defaults

    # -- reading the fields -------------------------------------------------------------------

    def shared_params(self) -> dict[str, Any]:
        """``window_s``, ``height`` (None = the preset's) and ``griffin_lim_iters``."""
        height = self.height_spin.value()
        return {"window_s": self.window_spin.value(), "height": height or None,
                "griffin_lim_iters": self.iterations_spin.value()}

    def params(self, kind: str) -> dict[str, Any]:
        """The tab's fields for ``kind`` (one of :data:`EDIT_KINDS`); prompts are stripped text
        ("" = the clip's own prompt; for Interpolate the Prompt panel's), seeds None when empty. Raises ValueError for a bad seed."""
        if kind == "inpaint":
            return {"prompt": self.inpaint_prompt.text().strip(), "strength": self.inpaint_strength.value()}
        if kind in ("extend", "continue"):
            left = self.extend_prompt_left.text().strip()
            return {
                "prompt": self.extend_prompt.text().strip(),
                "prompt_left": left or None,
                "left_s": 0.0 if kind == "continue" else self.extend_left.value(),
                "right_s": self.extend_right.value(),
                "context_s": self.extend_context.value(),
            }
        if kind == "loop":
            return {"prompt": self.loop_prompt.text().strip(), "seam_s": self.loop_seam.value(),
                    "strength": self.loop_strength.value()}
        if kind == "vary":
            return {"prompt": self.vary_prompt.text().strip(), "strength": self.vary_strength.value(),
                    "num_variations": self.vary_count.value()}
        if kind == "interpolate":
            return {
                "prompt": self.interp_from.text().strip(),
                "prompt_to": self.interp_to.text().strip(),
                "seed": self._seed(self.interp_seed_from, "Seed from"),
                "seed_to": self._seed(self.interp_seed_to, "Seed to"),
                "num_steps": self.interp_steps.value(),
                "window_s": self.interp_segment.value(),
                "crossfade_s": self.interp_crossfade.value(),
            }
        raise ValueError(f"edit kind must be one of {', '.join(EDIT_KINDS)}, got {kind!r}.")

    @staticmethod
    def _seed(edit: QLineEdit, label: str) -> int | None:
        text = edit.text().strip()
        if not text:
            return None
        seed = int(text)
        if seed > MAX_SEED:
            raise ValueError(f"{label} must be between 0 and {MAX_SEED}, got {seed}.")
        return seed

    # -- state ----------------------------------------------------------------------------------

    def set_running(self, text: str | None) -> None:
        """Show the running edit (``text``) with a cancel button, or nothing (None)."""
        running = text is not None
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.show_message(text)

    def set_progress(self, fraction: float | None) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))

    def show_message(self, text: str) -> None:
        self.status_label.setText(text)
