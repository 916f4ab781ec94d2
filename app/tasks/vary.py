"""Vary: audio-to-audio variations of the selected clip (one replaces it, more land below)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget

from app.tasks import AppTask, Plan, TaskForm
from app.tasks._common import plan_for, prompt_edit, spin
from app.widgets.spin_boxes import SpinBox
from engine.specs import MAX_VARIATIONS

#: Riffusion's suggested img2img strengths.
LIGHT_STRENGTH = 0.4
HEAVY_STRENGTH = 0.55


class Form(TaskForm):
    def __init__(self) -> None:
        self.prompt = prompt_edit()
        self.strength = spin(0.05, 1.0, HEAVY_STRENGTH, step=0.05,
                             tip=f"About {LIGHT_STRENGTH} for light and {HEAVY_STRENGTH} for heavy changes")
        self.count = SpinBox(minimum=1, maximum=MAX_VARIATIONS, value=1,
                              toolTip="1 replaces the clip; more land as new clips on the tracks below")
        strength_row = QWidget()
        row = QHBoxLayout(strength_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.strength, 1)
        for text, value in (("Light", LIGHT_STRENGTH), ("Heavy", HEAVY_STRENGTH)):
            button = QToolButton(text=text, toolTip=f"Strength {value}: a {text.lower()} change")
            button.clicked.connect(lambda _=False, v=value: self.strength.setValue(v))
            row.addWidget(button)
        self.rows = [("Prompt", self.prompt), ("Strength", strength_row), ("Variations", self.count)]

    def params(self) -> dict[str, Any]:
        return {"prompt": self.prompt.text().strip(), "strength": self.strength.value(),
                "num_variations": self.count.value()}


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    from engine.api import VaryJob

    clip = tools.target_clip()
    common = tools.generation_kwargs(params["prompt"], clip)
    audio, rate, count = clip.audio, clip.sample_rate_hz, params["num_variations"]

    def build() -> Any:
        return VaryJob(audio=audio, sample_rate_hz=rate,
                            strength=params["strength"], num_variations=count, **common)

    def land(job_id: int, results: list[Any]) -> list[str]:
        current = tools.clip(clip.id)
        if len(results) == 1:
            return tools.landing.replace(current, results[0], "Vary", keep_trim=True)
        track = tools.project.find_clip(clip.id)[0]
        copies = [current.copy(name=f"{current.name} var {r.recipe.seed}", audio=r.audio,
                               sample_rate_hz=r.sample_rate_hz, image=r.image, recipe=r.recipe,
                               duration_s=None if current.duration_s is None else
                               min(current.duration_s, r.duration_s - current.offset_s))
                  for r in results]
        # Under the clip, lined up with it: on the tracks below where free, new tracks as needed.
        index = tools.project.tracks.index(track)
        below = tools.project.tracks[index + 1].id if index + 1 < len(tools.project.tracks) else None
        return tools.landing.add_clips(f"Vary {current.name!r} ({len(results)} variations)", below, copies,
                                       keep_start=True, new_track=True if below is None else None)

    return plan_for("vary", clip, build, land)


TASK = AppTask(
    name="vary",
    title="Vary",
    action_text="&Vary Clip",
    shortcut="Ctrl+Shift+V",
    button="Vary",
    help="Audio-to-audio variations of the selected clip.",
    engine_task="vary",
    make_form=Form,
    plan=plan,
    order=40,
)
