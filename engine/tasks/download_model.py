"""download_model: fetch a model from the Hugging Face hub into the shared cache (progress: bytes,
rate, ETA; cancellable, resumable). The CLI's ``specdiff-cli models pull`` runs it.

The job is :func:`engine.pipelines.download_model.run_download`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import JobSpec, Progress
from engine.tasks import Needs, Task


@dataclass(frozen=True)
class DownloadModelJob(JobSpec):
    """Download a model from the Hugging Face hub into the shared cache (progress: bytes, rate, ETA).

    ``model_kind`` is the store's kind of model (``"sd"`` pipelines, ``"vocoder"``): which files it fetches.
    """

    kind: ClassVar[str] = "download_model"
    model: str
    revision: str | None = None
    model_kind: str = "sd"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.model or "/" not in self.model:
            raise ValueError(f"`model` must be a hub repo id like 'org/name', got {self.model!r}.")
        from engine.models.store import MODEL_KINDS

        if self.model_kind not in MODEL_KINDS:
            raise ValueError(f"`model_kind` must be one of {', '.join(MODEL_KINDS)}, got {self.model_kind!r}.")

    def describe(self) -> str:
        return f"Download {self.model}"


def run(spec: DownloadModelJob, ctx: Any) -> Generator[Progress, None, Any]:
    from engine.pipelines.download_model import run_download

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
