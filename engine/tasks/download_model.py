"""download_model: fetch a model from the Hugging Face hub into the shared cache (progress: bytes,
rate, ETA; cancellable, resumable). The CLI's ``specdiff-cli models pull`` runs it.

The job is :func:`engine.pipelines.model_jobs.run_download`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import JobSpec, Progress
from engine.tasks import Needs, Task


@dataclass(frozen=True)
class DownloadModelJob(JobSpec):
    """Download a model from the Hugging Face hub into the shared cache (progress: bytes, rate, ETA)."""

    kind: ClassVar[str] = "download_model"
    model: str
    revision: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.model or "/" not in self.model:
            raise ValueError(f"`model` must be a hub repo id like 'org/name', got {self.model!r}.")

    def describe(self) -> str:
        return f"Download {self.model}"


def run(spec: DownloadModelJob, ctx: Any) -> Generator[Progress, None, Any]:
    from engine.pipelines.model_jobs import run_download

    return (yield from run_download(spec, ctx))


TASK = Task(
    name="download_model",
    spec=DownloadModelJob,
    run=run,
    title="Download model",
    summary="download a model into the hub cache",
    needs=Needs(model=None),
    makes_recipes=False,
)
