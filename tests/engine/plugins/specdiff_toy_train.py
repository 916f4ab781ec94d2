"""A training task defined outside the engine: it fits one number by gradient steps, writing a
checkpoint every N steps, and resumes from the newest complete one (engine.specs.TrainingJob)."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from engine.specs import Progress, TaskResult, TrainingJob, check_range
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class FitJob(TrainingJob):
    """Move ``w`` from 0 towards ``target`` by ``lr`` of the error each step; writes ``w.json``."""

    kind: ClassVar[str] = "toy-fit"
    target: float = 3.0
    lr: float = 0.25
    #: Stop (as a crash would) after this many steps of this run: run-only, for the tests.
    stop_after: int = 0
    run_only: ClassVar[frozenset[str]] = TrainingJob.run_only | {"stop_after"}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("lr", self.lr, 0.0, 1.0)


def run(spec: FitJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    step, w = 0, 0.0
    latest = spec.latest_checkpoint() if spec.resume else None
    if latest is not None:
        step, folder = latest
        w = json.loads((folder / "w.json").read_text())["w"]
    done_here = 0
    while step < spec.num_steps:
        w += spec.lr * (spec.target - w)
        step += 1
        done_here += 1
        yield Progress(stage="train", step=step, total=spec.num_steps, message=f"w = {w:.4f}")
        spec.save_checkpoint(step, lambda folder: (folder / "w.json").write_text(json.dumps({"w": w})))
        if spec.stop_after and done_here == spec.stop_after:
            raise RuntimeError(f"stopped after step {step}")
    out = Path(spec.output_dir) / "w.json"
    out.write_text(json.dumps({"w": w}))
    return (TaskResult(recipe=spec.make_recipe(seed=spec.seed, facts={"w": w}), files=(out,)),)


TASK = Task(
    name="toy-fit",
    spec=FitJob,
    run=run,
    title="Fit",
    summary="fit one number (a test plugin)",
    needs=Needs(model=None),
)
