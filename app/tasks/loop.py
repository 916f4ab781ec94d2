"""Make loop: make the selected time range of the clip (or the whole clip) loop seamlessly."""

from __future__ import annotations

from typing import Any

from app.tasks import AppTask, Plan, TaskForm
from app.tasks._common import audible, plan_for, prompt_edit, region_context_s, spin


class Form(TaskForm):
    def __init__(self) -> None:
        self.prompt = prompt_edit()
        self.seam = spin(0.08, 20.0, 1.0, step=0.1, suffix=" s", tip="Length of the regenerated band around the seam")
        self.strength = spin(0.05, 1.0, 1.0, step=0.05, tip="1 regenerates the seam's band from noise; lower keeps more of it")
        self.rows = [("Prompt", self.prompt), ("Seam", self.seam), ("Strength", self.strength)]

    def params(self) -> dict[str, Any]:
        return {"prompt": self.prompt.text().strip(), "seam_s": self.seam.value(), "strength": self.strength.value()}


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    from engine.api import LoopJob

    clip = tools.target_clip()
    common = tools.generation_kwargs(params["prompt"], clip)
    span = tools.selection_in_clip(clip)
    # Times relative to the audible start (what is sent).
    rel = None if span is None else (span[0] - clip.offset_s, span[1] - clip.offset_s)
    data, rate = audible(clip), clip.sample_rate_hz

    def build() -> Any:
        duration = data.shape[1] / rate
        start, end = (None, None) if rel is None else (rel[0], min(rel[1], duration))
        return LoopJob(audio=data, sample_rate_hz=rate, start_s=start, end_s=end,
                       seam_s=params["seam_s"], strength=params["strength"],
                       context_s=region_context_s(common["window_s"]), **common)

    def land(job_id: int, results: list[Any]) -> list[str]:
        current = tools.clip(clip.id)
        start_rel = 0.0 if rel is None else rel[0]
        return tools.landing.replace(current, results[0], "Make loop", keep_trim=False,
                                     new_start_s=current.start_s + start_rel,
                                     mask_shift_s=-(current.offset_s + start_rel))

    return plan_for("loop", clip, build, land)


TASK = AppTask(
    name="loop",
    title="Loop",
    action_text="Make &Loop",
    shortcut="Ctrl+Shift+L",
    button="Make loop",
    help="Make the selected time range of the clip (or the whole clip) loop seamlessly.",
    engine_task="loop",
    make_form=Form,
    plan=plan,
    order=30,
)
