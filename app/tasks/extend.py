"""Extend: add new audio before and/or after the selected clip; its own samples stay as they are."""

from __future__ import annotations

from typing import Any

from app.tasks import AppTask, EditError, Plan, TaskForm
from app.tasks._common import MIN_NEW_PER_WINDOW_S, audible, plan_for, prompt_edit, spin
from engine.specs import MAX_EXTEND_S


class Form(TaskForm):
    def __init__(self) -> None:
        self.prompt = prompt_edit()
        self.prompt_left = prompt_edit("Empty: the right side's prompt")
        self.left = spin(0.0, MAX_EXTEND_S, 0.0, step=1.0, suffix=" s", tip="Seconds to add before the clip")
        self.right = spin(0.0, MAX_EXTEND_S, 5.0, step=1.0, suffix=" s",
                          tip="Seconds to add after the clip (or after the selection's end)")
        self.context = spin(0.0, 4.48, 2.5, step=0.25, suffix=" s", tip="How much of what is there each new window sees")
        self.rows = [("Right", self.right), ("Left", self.left), ("Prompt", self.prompt),
                     ("Left prompt", self.prompt_left), ("Context", self.context)]
        # Half the model's image, at most Riffusion's 2.5 s.
        self.follows_model = {"context_s": (self.context, lambda window_s: round(min(2.5, window_s / 2), 2))}

    def params(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.text().strip(),
            "prompt_left": self.prompt_left.text().strip() or None,
            "left_s": self.left.value(),
            "right_s": self.right.value(),
            "context_s": self.context.value(),
        }


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    clip = tools.target_clip()
    if params["left_s"] + params["right_s"] <= 0:
        raise EditError("Set how many seconds to add on the left and/or the right.")
    common = tools.generation_kwargs(params["prompt"], clip)
    context_s = min(params["context_s"], common["window_s"] - MIN_NEW_PER_WINDOW_S)
    return plan_extension(tools, "extend", "Extend", clip, audible(clip), common, context_s=context_s,
                          left_s=params["left_s"], right_s=params["right_s"], prompt_left=params["prompt_left"])


def plan_extension(tools: Any, kind: str, text: str, clip: Any, audio: Any, common: dict[str, Any],
                   **sides: Any) -> Plan:
    """An ExtendJob of ``audio`` (the clip's, at its rate) with ``sides`` (left_s, right_s,
    context_s, ...); the result replaces the clip, its original samples staying where they were
    on the timeline."""
    from engine.api import ExtendJob

    def build() -> Any:
        return ExtendJob(audio=audio, sample_rate_hz=clip.sample_rate_hz, **sides, **common)

    def land(job_id: int, results: list[Any]) -> list[str]:
        return tools.landing.land_extension(tools.clip(clip.id), results[0], text)

    return plan_for(kind, clip, build, land)


TASK = AppTask(
    name="extend",
    title="Extend",
    action_text="&Extend Clip",
    shortcut="Ctrl+Shift+E",
    button="Extend",
    help="Add new audio before and/or after the selected clip; its own samples stay as they are.",
    engine_task="extend",
    make_form=Form,
    plan=plan,
    order=20,
)
