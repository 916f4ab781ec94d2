"""The inspector: the selected clip, its recipe, and Regenerate / Copy seed / Use these settings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGridLayout,
    QScrollArea,
    QSizePolicy,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model.project import Clip, Project, Selection, Track
from app.widgets.greyed import enable_or_say_why
from engine.api import spec_from_recipe, task

THUMBNAIL_HEIGHT_PX = 96
#: Settings every generation recipe has, shown in rows of their own.
SHARED_PARAMS = ("prompt", "negative_prompt", "num_inference_steps", "guidance_scale", "scheduler")
#: Labels of a task's own settings (recipe ``params``; others are named from their key).
EXTRA_LABELS = {
    "spectrogram_preset": "Spectrogram", "strength": "Strength", "start_s": "From", "end_s": "To",
    "fmin_hz": "Lowest frequency", "fmax_hz": "Highest frequency", "left_s": "Extend left",
    "right_s": "Extend right", "prompt_left": "Left prompt", "prompt_to": "To prompt", "seed_to": "To seed",
    "num_steps": "Segments", "num_variations": "Variations", "seam_s": "Seam", "overlap_s": "Overlap",
    "context_s": "Context", "crossfade_s": "Crossfade", "feather_px": "Feather", "window_s": "Window",
    "griffin_lim_iters": "Griffin-Lim iterations", "sample_rate_hz": "Input rate",
}
REGENERATE_TIP = ("Run the recipe again (on the input it edited, for an edit) into a new clip: the same seed gives "
                  "the same audio on this device")
#: Settings that say nothing to a reader (they stay in the copied recipe).
HIDDEN_EXTRA = {"mask"}


def task_title(name: str) -> str:
    """A task's name for people ("Make loop"), from the engine's task registry."""
    try:
        return task(name).title
    except ValueError:  # a task this version does not know
        return name.replace("_", " ").capitalize()


def model_name(model_id: str) -> str:
    """A model's name for people: its card's or the catalog's title, a folder's name, else the
    repo id (never a whole install path)."""
    from engine.models.catalog import find_entry, model_hints

    hints = model_hints(model_id)
    if hints is not None:
        return hints.title
    entry = find_entry(model_id)
    if entry is not None:
        return entry.title
    if "/" in model_id and (model_id.startswith(("/", "~", ".")) or Path(model_id).expanduser().exists()):
        return Path(model_id).name
    return model_id


def wrappable(text: str) -> str:
    """``text`` with break opportunities after path and identifier separators, so a long path or
    repo id wraps in a word-wrapping label instead of running off the panel."""
    return re.sub(r"([/_.,=:\\-])(?=\S)", "\\1\u200b", text)


def _format_value(key: str, value: Any) -> str | None:
    """A recipe setting as text with its unit (None for values too long to show: they are in
    the copied recipe)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        unit = next((u for suffix, u in (("_s", " s"), ("_hz", " Hz"), ("_px", " px")) if key.endswith(suffix)), "")
        return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 4 and all(isinstance(v, (int, float, str)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (list, tuple)):
        return f"{len(value)} items"
    return None


def extra_rows(extra: dict[str, Any]) -> dict[str, str]:
    """A recipe's task settings (its ``params`` but the shared ones) as labelled rows."""
    rows = {}
    for key in sorted(extra, key=lambda k: (list(EXTRA_LABELS).index(k) if k in EXTRA_LABELS else len(EXTRA_LABELS), k)):
        if key in HIDDEN_EXTRA:
            continue
        text = _format_value(key, extra[key])
        if text is not None:
            label = EXTRA_LABELS.get(key) or re.sub(r"_(s|hz|px)$", "", key).replace("_", " ").capitalize()
            rows[label] = text
    return rows


def qimage_from_rgb(array: np.ndarray) -> QImage:
    """A QImage copy of an (H, W, 3) uint8 RGB array."""
    array = np.ascontiguousarray(array[..., :3], dtype=np.uint8)
    h, w = array.shape[:2]
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def qimage_from_pil(image: Any, height_px: int | None = None) -> QImage:
    """A QImage of a PIL image, first scaled (by PIL, fast) to ``height_px`` if given."""
    image = image.convert("RGB")
    if height_px is not None and image.height > height_px:
        width = max(1, round(image.width * height_px / image.height))
        from PIL import Image

        image = image.resize((width, height_px), resample=Image.Resampling.BOX)
    return qimage_from_rgb(np.asarray(image))




#: An Inspector narrower than this shows each value under its label instead of beside it.
VALUES_UNDER_LABELS_BELOW_PX = 300


class QtInspector(QWidget):
    """Shows the first selected clip of ``project``; emits what its buttons ask for.

    Signals: ``regenerate_requested(spec)`` (for any task's recipe, with the inputs the project
    keeps for an edit), ``regenerate_failed(reason)``,
    ``use_settings_requested(recipe, clip)``.
    """

    regenerate_requested = Signal(object)
    regenerate_failed = Signal(str)
    use_settings_requested = Signal(object, object)

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.clip: Clip | None = None

        self.title = QLabel("No clip selected")
        self.title.setObjectName("inspectorTitle")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.thumbnail = QLabel()
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.hide()
        self.clip_form = QFormLayout()
        self.recipe_form = QFormLayout()
        self.recipe_title = QLabel("<b>Recipe</b>")
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip(REGENERATE_TIP)
        self.copy_seed_button = QPushButton("Copy seed")
        self.copy_seed_button.setToolTip("Copy the recipe's seed, to use it again in the prompt panel")
        self.copy_recipe_button = QPushButton("Copy recipe")
        self.copy_recipe_button.setToolTip("Copy the whole recipe as JSON (for a bug report, a script or specdiff-cli)")
        self.use_settings_button = QPushButton("Use these settings")
        self.use_settings_button.setToolTip("Fill the prompt panel from this recipe")
        self.regenerate_button.clicked.connect(self._on_regenerate_clicked)
        self.copy_seed_button.clicked.connect(self._on_copy_seed_clicked)
        self.use_settings_button.clicked.connect(self._on_use_settings_clicked)
        self.copy_recipe_button.clicked.connect(self._on_copy_recipe_clicked)
        buttons = QGridLayout()  # two short rows: the dock stays narrow
        buttons.setContentsMargins(4, 2, 4, 4)  # off the window's edge (they touched it)
        for i, button in enumerate((self.regenerate_button, self.use_settings_button,
                                    self.copy_seed_button, self.copy_recipe_button)):
            buttons.addWidget(button, i // 2, i % 2)

        for form in (self.clip_form, self.recipe_form):
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._values_under_labels = False
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.addWidget(self.title)
        inner.addWidget(self.thumbnail)
        inner.addLayout(self.clip_form)
        inner.addWidget(self.recipe_title)
        inner.addLayout(self.recipe_form)
        inner.addStretch(1)
        # Long prompts wrap to the dock's width and scroll vertically, never off to the side.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

        self._rows: dict[int, dict[str, QLabel]] = {}
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self._show_selected)
        project.events.selection_changed.connect(self._on_project_selection_changed)
        project.events.clip_changed.connect(self._on_project_clip_changed)
        project.events.clip_removed.connect(self._on_project_clip_removed)
        project.events.clip_added.connect(self._on_project_clip_added)
        self.show_clip(None)

    def close_model(self) -> None:
        """Stop listening to the project (the window is closing)."""
        self.project.events.disconnect_all(self._on_project_selection_changed)
        self.project.events.disconnect_all(self._on_project_clip_changed)
        self.project.events.disconnect_all(self._on_project_clip_removed)
        self.project.events.disconnect_all(self._on_project_clip_added)

    # -- model events ------------------------------------------------------------------------

    def _on_project_selection_changed(self, selection: Selection) -> None:
        # Show it on the next event-loop turn: the timeline reacts to the same change first,
        # and the two halves of the work never add up to one long stall.
        self._refresh_timer.start()

    def _show_selected(self) -> None:
        clips = self.project.selected_clips()
        self.show_clip(clips[0] if clips else None)

    def _on_project_clip_changed(self, clip: Clip) -> None:
        if clip is self.clip:
            self.show_clip(clip)

    def _on_project_clip_removed(self, track: Track, clip: Clip) -> None:
        if clip is self.clip:
            self.show_clip(None)

    def _on_project_clip_added(self, track: Track, clip: Clip) -> None:
        if self.clip is None and clip.id in self.project.selection.clip_ids:
            self.show_clip(clip)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        # A narrow dock (an 860 px window gives it about 220 px) puts each value under its label:
        # beside the label column the prompt had about 80 px and read "a rock / beat at".
        under = self.width() < VALUES_UNDER_LABELS_BELOW_PX
        if under != self._values_under_labels:
            self._values_under_labels = under
            policy = QFormLayout.RowWrapPolicy.WrapAllRows if under else QFormLayout.RowWrapPolicy.DontWrapRows
            for form in (self.clip_form, self.recipe_form):
                form.setRowWrapPolicy(policy)

    # -- display -----------------------------------------------------------------------------

    def _row(self, form: QFormLayout, label: str) -> QLabel:
        """The value label of ``label``'s row in ``form`` (rows are made once and reused)."""
        rows = self._rows.setdefault(id(form), {})
        value = rows.get(label)
        if value is None:
            value = rows[label] = _value_label("")
            form.addRow(label, value)
        return value

    def _fill(self, form: QFormLayout, values: dict[str, str | None], tips: dict[str, str] | None = None) -> None:
        """Set each row's text (and tooltip); rows whose value is None (or not given) are hidden."""
        tips = tips or {}
        for label in values:
            self._row(form, label)
        for label, widget in self._rows.get(id(form), {}).items():
            value = values.get(label)
            if value is not None:
                widget.setText(value)
                widget.setToolTip(tips.get(label, ""))
            form.setRowVisible(widget, value is not None)

    def values(self, which: str = "recipe") -> dict[str, str]:
        """The visible rows of the 'clip' or 'recipe' part, label -> text (what the user sees)."""
        form = self.recipe_form if which == "recipe" else self.clip_form
        return {
            label: widget.text().replace("\u200b", "")
            for label, widget in self._rows.get(id(form), {}).items()
            if form.isRowVisible(widget)
        }

    def show_clip(self, clip: Clip | None) -> None:
        self.clip = clip
        recipe = clip.recipe if clip is not None else None
        if clip is None:
            self.title.setText("No clip selected")
            self.thumbnail.hide()
            self._fill(self.clip_form, {})
        else:
            self.title.setText(f"<b>{wrappable(_escape(clip.name))}</b>")  # a long name wraps
            source = clip.source_path
            self._fill(
                self.clip_form,
                {
                    "Start": f"{clip.start_s:.3f} s",
                    "Length": f"{clip.length_s:.3f} s",
                    "Format": f"{clip.sample_rate_hz} Hz, {'stereo' if clip.channels == 2 else 'mono'}",
                    "Gain": f"{clip.gain_db:+.1f} dB",
                    "File": wrappable(Path(source).name) if source else None,
                },
                tips={"File": source or ""},
            )
            if clip.image is not None:
                self.thumbnail.setPixmap(QPixmap.fromImage(qimage_from_pil(clip.image, THUMBNAIL_HEIGHT_PX)))
                self.thumbnail.show()
            else:
                self.thumbnail.hide()
        if recipe is None:
            self._fill(self.recipe_form, {})
        else:
            revision = recipe.model_revision or ""
            model_tip = (recipe.model_id or "") + (f" @ {revision}" if revision else "")
            params, facts = recipe.params, recipe.facts
            rows: dict[str, str | None] = {
                "Task": task_title(recipe.task),
                "Prompt": (params.get("prompt") or "-") if "prompt" in params else None,
                "Negative": params.get("negative_prompt") or None,
                "Seed": None if recipe.seed is None else str(recipe.seed),
                "Model": wrappable(model_name(recipe.model_id)) if recipe.model_id else None,
                "Revision": revision[:10] or None,
                "Steps": str(params["num_inference_steps"]) if "num_inference_steps" in params else None,
                "Guidance": f"{params['guidance_scale']:g}" if "guidance_scale" in params else None,
                "Scheduler": params.get("scheduler"),
                "Size": f"{facts['width']} x {facts['height']} px" if "width" in facts and "height" in facts else None,
                "Device": f"{recipe.device}, {recipe.dtype}",
                "LoRAs": wrappable(", ".join(f"{model_name(p)} x{w:g}" for p, w in recipe.loras)) if recipe.loras else None,
            }
            own = {key: value for key, value in params.items() if key not in SHARED_PARAMS}
            rows.update({label: wrappable(text) for label, text in extra_rows(own).items()})
            self._fill(self.recipe_form, rows, tips={"Model": model_tip, "Revision": revision,
                                                     "LoRAs": "\n".join(p for p, _ in recipe.loras)})
        has_recipe = recipe is not None
        self.recipe_title.setVisible(has_recipe)
        # A greyed button says why when hovered: nothing selected, or a clip without a recipe.
        why_not = ("Select a clip first (its recipe shows here)" if clip is None
                   else "No recipe: this clip was not generated (imported or recorded).")
        for button in (self.copy_seed_button, self.copy_recipe_button, self.use_settings_button):
            enable_or_say_why(button, None if has_recipe else why_not)
        blocker = self.regenerate_blocker(recipe) if has_recipe else why_not
        self.regenerate_button.setEnabled(blocker is None)
        self.regenerate_button.setToolTip(blocker or REGENERATE_TIP)

    def regenerate_blocker(self, recipe: Any) -> str | None:
        """Why ``recipe`` cannot be regenerated here (None when it can): a task this version does
        not know or that makes no recipes, or an input the project does not keep."""
        try:
            known = task(recipe.task)
        except ValueError:
            return f"This version does not know the task {recipe.task!r}."
        if not known.makes_recipes:
            return f"{known.title} cannot be regenerated."
        missing = self.project.missing_inputs(recipe)
        if missing:
            name, record = next(iter(missing.items()))
            what = "spectrogram image" if record.get("kind") == "file" else "input audio" if name == "audio" else f"input {name}"
            if record.get("path"):
                return (f"The {what} this clip was made from is not in the project: it was read from "
                        f"'{record['path']}', which was gone or no longer the same when the clip was imported. "
                        "Put that file back and import the clip again to regenerate it.")
            return (f"The {what} this clip was made from is not in the project (an edit from before inputs "
                    "were kept, or a file that records no input path).")
        return None

    # -- buttons -----------------------------------------------------------------------------

    def _on_regenerate_clicked(self) -> None:
        if self.clip is None or self.clip.recipe is None:
            return
        try:
            spec = spec_from_recipe(self.clip.recipe, inputs=self.project.inputs_for(self.clip.recipe))
        except ValueError as exc:
            self.regenerate_button.setToolTip(str(exc))
            self.regenerate_failed.emit(str(exc))
            return
        self.regenerate_requested.emit(spec)

    def _on_copy_seed_clicked(self) -> None:
        if self.clip is not None and self.clip.recipe is not None:
            QGuiApplication.clipboard().setText(str(self.clip.recipe.seed))

    def _on_copy_recipe_clicked(self) -> None:
        if self.clip is not None and self.clip.recipe is not None:
            QGuiApplication.clipboard().setText(json.dumps(self.clip.recipe.to_dict(), indent=2, sort_keys=True))

    def _on_use_settings_clicked(self) -> None:
        if self.clip is not None and self.clip.recipe is not None:
            self.use_settings_requested.emit(self.clip.recipe, self.clip)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _value_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
