"""Inpaint: regenerate the selected clip's painted mask (or the selected time range / box)."""

from __future__ import annotations

from typing import Any

from app.tasks import AppTask, EditError, Plan, TaskForm
from app.tasks._common import plan_for, preset_params, prompt_edit, region_context_s, spin


class Form(TaskForm):
    def __init__(self) -> None:
        self.prompt = prompt_edit()
        self.strength = spin(0.05, 1.0, 1.0, step=0.05, tip="1 regenerates the region from noise; lower keeps more of it")
        self.rows = [("Prompt", self.prompt), ("Strength", self.strength)]

    def params(self) -> dict[str, Any]:
        return {"prompt": self.prompt.text().strip(), "strength": self.strength.value()}


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    from engine.api import InpaintJob

    clip = tools.target_clip()
    common = tools.generation_kwargs(params["prompt"], clip)
    mask = tools.masks.get(clip.id)
    boxes = None
    if mask.is_empty:
        span = tools.selection_in_clip(clip)
        if span is None:
            # Name the tools in sight (the Mask toolbar), not a menu path a new user must hunt for.
            raise EditError("Paint a mask on the clip first (Brush, Rectangle or Time Band on the Mask toolbar), "
                            "or select a time range on it.")
        sel = tools.project.selection
        boxes = ((span[0], span[1], sel.freq_lo_hz, sel.freq_hi_hz),)
    else:
        boxes = mask.boxes(clip.total_s)
    audio, rate = clip.audio, clip.sample_rate_hz

    def build() -> Any:
        region: dict[str, Any] = {"boxes": boxes} if boxes is not None else {}
        if boxes is None:
            from engine.api import working_length

            sp = preset_params(common)
            raster = mask.job_mask(working_length(audio.shape[1], rate, sp.sample_rate), sp)
            if not (raster >= 0.5).any():
                raise EditError("The clip's mask covers nothing (paint more, or use less erasing or a harder brush).")
            region = {"mask": raster}
        return InpaintJob(audio=audio, sample_rate_hz=rate, strength=params["strength"],
                          feather_px=mask.feather_px, context_s=region_context_s(common["window_s"]),
                          **region, **common)

    def land(job_id: int, results: list[Any]) -> list[str]:
        return tools.landing.replace(tools.clip(clip.id), results[0], "Inpaint", keep_trim=True)

    return plan_for("inpaint", clip, build, land)


TASK = AppTask(
    name="inpaint",
    title="Inpaint",
    action_text="&Inpaint Mask / Selection",
    shortcut="Ctrl+Shift+R",
    button="Repaint",
    help="Regenerate the selected clip's painted mask (or the selected time range / box).",
    engine_task="inpaint",
    make_form=Form,
    plan=plan,
    order=10,
)
