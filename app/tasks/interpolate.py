"""Interpolate: one continuous new clip moving from one prompt (and seed) to another."""

from __future__ import annotations

from typing import Any


from app.model.project import Clip
from app.tasks import AppTask, EditError, Plan, TaskForm
from app.tasks._common import prompt_edit, read_seed, seed_edit, spin
from app.widgets.spin_boxes import SpinBox
from engine.specs import MAX_INTERPOLATION_STEPS


class Form(TaskForm):
    def __init__(self) -> None:
        self.prompt_from = prompt_edit("Empty: the Prompt panel's prompt", "Empty: the Prompt panel's")
        self.prompt_to = prompt_edit("Where it ends up")
        self.seed_from = seed_edit("Prompt panel's seed")
        self.seed_to = seed_edit("Same seed")
        self.steps = SpinBox(minimum=2, maximum=MAX_INTERPOLATION_STEPS, value=5,
                              toolTip="Segments from the first prompt to the second")
        self.segment = spin(0.64, 60.0, 5.12, step=0.64, suffix=" s", tip="Length of each segment")
        self.crossfade = spin(0.0, 30.0, 0.5, step=0.1, suffix=" s", tip="Crossfade between segments")
        self.rows = [("From", self.prompt_from), ("To", self.prompt_to), ("Seed from", self.seed_from),
                     ("Seed to", self.seed_to), ("Steps", self.steps), ("Segment", self.segment),
                     ("Crossfade", self.crossfade)]
        self.follows_model = {"segment_s": (self.segment, lambda window_s: window_s)}

    def params(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt_from.text().strip(),
            "prompt_to": self.prompt_to.text().strip(),
            "seed": read_seed(self.seed_from, "Seed from"),
            "seed_to": read_seed(self.seed_to, "Seed to"),
            "num_steps": self.steps.value(),
            "window_s": self.segment.value(),
            "crossfade_s": self.crossfade.value(),
        }


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    from engine.api import InterpolateJob

    common = tools.generation_kwargs(params["prompt"])
    del common["window_s"]  # the interpolation's segment length is its own field
    if params["seed"] is not None:
        common["seed"] = params["seed"]
    if not params["prompt_to"]:
        raise EditError("Type the prompt to interpolate to ('To').")
    track = tools.project.selected_track()
    track_id = track.id if track is not None else None
    start_s = tools.project.playhead_s
    interp = {k: params[k] for k in ("prompt_to", "seed_to", "num_steps", "window_s", "crossfade_s")}
    interp["crossfade_s"] = min(interp["crossfade_s"], interp["window_s"] / 2)

    def build() -> Any:
        return InterpolateJob(**interp, **common)

    def land(job_id: int, results: list[Any]) -> list[str]:
        r = results[0]
        name = f"{r.recipe.params.get('prompt', '')[:20] or 'silence'} → {params['prompt_to'][:20]}"
        clip = Clip(name=name, audio=r.audio, sample_rate_hz=r.sample_rate_hz, start_s=start_s,
                    recipe=r.recipe, image=r.image, spectrogram_preset=common.get("spectrogram_preset", "riffusion"))
        return tools.landing.add_clips(f"Interpolate to {params['prompt_to'][:30]!r}", track_id, [clip])

    return Plan("interpolate", None, None, (0.0, None), build, land, extra={"start_s": start_s})


TASK = AppTask(
    name="interpolate",
    title="Interpolate",
    action_text="Inter&polate Prompts",
    shortcut="Ctrl+Shift+P",
    button="Interpolate",
    help="One continuous new clip moving from one prompt (and seed) to another, at the playhead.",
    engine_task="interpolate",
    make_form=Form,
    plan=plan,
    menu="generate",
    order=50,
)
