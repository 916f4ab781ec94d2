"""What the edit task modules share: small widget makers, seeds, contexts and plans."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QDoubleSpinBox, QLineEdit

from app.model.project import Clip
from app.tasks import Plan
from app.widgets.spin_boxes import DoubleSpinBox
from engine.specs import MAX_SEED

#: Extend windows must leave this much room after their context (ExtendJob: context <= window - 0.64).
MIN_NEW_PER_WINDOW_S = 0.64
#: Context each inpaint / loop window shows around the region (RegionEditJob allows up to window / 2 - 0.08).
DEFAULT_REGION_CONTEXT_S = 1.0


def spin(lo: float, hi: float, value: float, *, step: float = 0.1, decimals: int = 2, suffix: str = "",
         tip: str = "") -> QDoubleSpinBox:
    box = DoubleSpinBox(minimum=lo, maximum=hi, singleStep=step, decimals=decimals, suffix=suffix, toolTip=tip)
    box.setValue(value)
    return box


def prompt_edit(*placeholders: str) -> QLineEdit:
    """An edit's own prompt field; its placeholder is the first of ``placeholders`` (longest
    first) that shows whole (default: that an empty one means the clip's own prompt)."""
    from app.widgets.placeholders import fit_placeholder

    edit = QLineEdit()
    fit_placeholder(edit, *(placeholders or ("Empty: the clip's own prompt", "Empty: the clip's prompt")))
    return edit


def seed_edit(placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}")))
    edit.setPlaceholderText(placeholder)
    return edit


def read_seed(edit: QLineEdit, label: str) -> int | None:
    """The seed typed into ``edit`` (None when empty); ValueError when out of range."""
    text = edit.text().strip()
    if not text:
        return None
    seed = int(text)
    if seed > MAX_SEED:
        raise ValueError(f"{label} must be between 0 and {MAX_SEED}, got {seed}.")
    return seed


def region_context_s(window_s: float) -> float:
    """Inpaint / loop context on each side of the region: 1 s, or what the window leaves room for."""
    return min(DEFAULT_REGION_CONTEXT_S, window_s / 2 - 0.08)


def preset_params(common: dict[str, Any]) -> Any:
    """The job's SpectrogramParams from the shared kwargs."""
    from engine.api import get_preset

    params = get_preset(common.get("spectrogram_preset", "riffusion"))
    height = common.get("height")
    return dataclasses.replace(params, num_frequencies=height) if height else params


def audible(clip: Clip, stop: int | None = None) -> np.ndarray:
    """The clip's audible samples (up to ``stop``), at its own rate: a view the job spec copies
    (the engine works on a copy at the model's rate and brings back only the new audio)."""
    first, end = clip.sample_range()
    return clip.audio[:, first : end if stop is None else stop]


def plan_for(kind: str, clip: Clip, build: Callable[[], Any], land: Callable[[int, Any], list[str]],
             **extra: Any) -> Plan:
    """The plan of an edit of ``clip`` (its audio and trim are checked before the result lands)."""
    return Plan(kind, clip.id, clip.audio, (clip.offset_s, clip.duration_s), build, land,
                extra={"start_s": clip.start_s, "name": clip.name, **extra})
