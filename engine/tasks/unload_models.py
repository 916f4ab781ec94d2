"""unload_models: free the loaded pipelines (and their GPU memory) between jobs.

Its runner is :func:`run` here (no pipeline module: it only empties the caches).
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


def run(spec: UnloadModelsJob | None, ctx: Any) -> Generator[Progress, None, int]:
    """Unload every loaded pipeline (and neural vocoder) and free their (GPU) memory; returns how
    many pipelines were unloaded."""
    from engine.vocoders.factory import unload_vocoders

    yield Progress(stage="load", message="Unloading models")
    unload_vocoders()
    return int(ctx.pipelines.unload() or 0)


TASK = Task(
    name="unload_models",
    spec=UnloadModelsJob,
    run=run,
    title="Unload models",
    summary="free the loaded models",
    needs=Needs(model=None),
    makes_recipes=False,
)
