"""unload_models: free the loaded pipelines (and their GPU memory) between jobs.

The job is :func:`engine.pipelines.model_jobs.run_unload`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import JobSpec, Progress
from engine.tasks import Needs, Task


@dataclass(frozen=True)
class UnloadModelsJob(JobSpec):
    """Free the loaded pipelines (and GPU memory) between jobs."""

    kind: ClassVar[str] = "unload_models"

    def describe(self) -> str:
        return "Unload models"


def run(spec: UnloadModelsJob, ctx: Any) -> Generator[Progress, None, int]:
    from engine.pipelines.model_jobs import run_unload

    return (yield from run_unload(spec, ctx))


TASK = Task(
    name="unload_models",
    spec=UnloadModelsJob,
    run=run,
    title="Unload models",
    summary="free the loaded models",
    needs=Needs(model=None),
    makes_recipes=False,
)
