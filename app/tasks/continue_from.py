"""Continue from selection end: keep the clip up to the end of the selected time range and
continue it from there (the selection is the context the model sees). Shares Extend's tab."""

from __future__ import annotations

from typing import Any

from app.tasks import AppTask, EditError, Plan, TaskForm
from app.tasks._common import MIN_NEW_PER_WINDOW_S, audible
from app.tasks.extend import plan_extension


def read_params(form: TaskForm) -> dict[str, Any]:
    return {**form.params(), "left_s": 0.0}


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    sel = tools.project.selection
    if not sel.has_time_range:
        raise EditError("Select a time range on a clip: the clip continues from the end of the selection.")
    clip = tools.target_clip()
    if not clip.start_s < sel.end_s <= clip.end_s + 1e-9:
        raise EditError(f"The selection must end inside the clip {clip.name!r}.")
    if params["right_s"] <= 0:
        raise EditError("Set how many seconds to continue by ('Right' in the Extend tab).")
    first, _ = clip.sample_range()
    stop = first + int(round((sel.end_s - clip.start_s) * clip.sample_rate_hz))
    common = tools.generation_kwargs(params["prompt"], clip)
    context_s = min(max(sel.end_s - max(sel.start_s, clip.start_s), 0.0), common["window_s"] - MIN_NEW_PER_WINDOW_S)
    return plan_extension(tools, "continue", "Continue from selection", clip, audible(clip, stop), common,
                          right_s=params["right_s"], context_s=context_s)


TASK = AppTask(
    name="continue",
    title="Continue",
    action_text="&Continue from Selection End",
    shortcut="Ctrl+Shift+C",
    button="Continue from selection end",
    help=("Keep the clip up to the end of the selected time range and continue it from there by the "
          "'Right' seconds (the selection is the context the model sees)"),
    engine_task="extend",
    tab="extend",
    read_params=read_params,
    plan=plan,
    order=25,
)
