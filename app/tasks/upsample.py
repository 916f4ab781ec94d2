"""Upsample: restore the band above a clip's cutoff (the starter model's 4 kHz, an MP3's 16 kHz).

The whole clip replaced (at the upsampler's rate, 44.1 kHz for the shipped one) or added as a
new clip below it, one undo step either way. With a time range selected inside the clip, only
that range changes: the upsampled audio, brought to the clip's own rate, is crossfaded in over
:data:`CROSSFADE_S` at each edge inside the range, and every sample outside it stays as it was.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit

from app.tasks import AppTask, Plan, TaskForm
from app.tasks._common import plan_for

#: The shipped offline upsampler (engine.upsample.models.DEFAULT_UPSAMPLER).
DEFAULT_UPSAMPLER = "builtin:upsampler"
#: Crossfade at each edge of a selected range (inside it).
CROSSFADE_S = 0.02
REPLACE, NEW_CLIP = "Replace the clip", "New clip below"


class Form(TaskForm):
    def __init__(self) -> None:
        self.model = QLineEdit()
        self.model.setPlaceholderText(DEFAULT_UPSAMPLER)
        self.model.setToolTip("builtin:upsampler (offline, ships with the app) or a folder made by train_upsampler")
        self.result = QComboBox()
        self.result.addItems([REPLACE, NEW_CLIP])
        self.rows = [("Upsampler", self.model), ("Result", self.result)]

    def params(self) -> dict[str, Any]:
        return {"model": self.model.text().strip() or DEFAULT_UPSAMPLER, "new_clip": self.result.currentText() == NEW_CLIP}


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    from engine.api import UpsampleJob

    clip = tools.target_clip()
    span = tools.selection_in_clip(clip)
    audio, rate, model = clip.audio, clip.sample_rate_hz, params["model"]

    # A selected range: the engine upsamples it at the clip's rate and crossfades it in (the rest
    # untouched), so the clip's recipe regenerates exactly what lands.
    ranged = {} if span is None else {"start_s": span[0], "end_s": span[1], "crossfade_s": CROSSFADE_S}

    def build() -> Any:
        return UpsampleJob(audio=audio, sample_rate_hz=rate, model=model, **ranged)

    def land(job_id: int, results: list[Any]) -> list[str]:
        (result,) = results
        current = tools.clip(clip.id)
        if span is not None:
            return tools.landing.replace(current, result, "Upsample range", keep_trim=True)
        if not params["new_clip"]:
            return tools.landing.replace(current, result, "Upsample", keep_trim=True)
        track = tools.project.find_clip(clip.id)[0]
        copy = current.copy(name=f"{current.name} (full band)", audio=result.audio, sample_rate_hz=result.sample_rate_hz,
                            recipe=result.recipe, image=None)
        index = tools.project.tracks.index(track)
        below = tools.project.tracks[index + 1].id if index + 1 < len(tools.project.tracks) else None
        return tools.landing.add_clips(f"Upsample {current.name!r}", below, [copy], keep_start=True,
                                       new_track=True if below is None else None)

    return plan_for("upsample", clip, build, land)


TASK = AppTask(
    name="upsample",
    title="Upsample",
    action_text="&Upsample Clip",
    shortcut="Ctrl+Shift+U",
    button="Upsample",
    help="Restore the band above the clip's cutoff (the starter model stops at 4 kHz) with an upsampler.",
    engine_task="upsample",
    make_form=Form,
    plan=plan,
    order=45,
)
