"""A task defined outside the engine, in this one module: audio in, audio out, no prompt, no model.

Loaded by the tests through ``SPECDIFF_TASK_MODULES=specdiff_toy_gain`` or an entry point of the
group ``specdiff_studio.tasks``; it must then appear in ``engine.api``, the worker, the CLI and
``specdiff-cli regenerate`` with nothing else touched.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.specs import AudioInputJob, Progress, TaskResult, check_range
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class GainJob(AudioInputJob):
    """Scale a clip by ``gain_db`` decibels."""

    kind: ClassVar[str] = "toy-gain"
    gain_db: float = -6.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("gain_db", self.gain_db, -60.0, 12.0)


def run(spec: GainJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    yield Progress(stage="invert", step=0, total=1, message="Scaling")
    audio = (spec.audio * np.float32(10 ** (spec.gain_db / 20))).astype(np.float32)
    recipe = spec.make_recipe(seed=None, facts={"peak": float(np.abs(audio).max())})
    return (TaskResult(recipe=recipe, audio=audio, sample_rate_hz=spec.sample_rate_hz),)


def add_arguments(parser: Any) -> None:
    parser.add_argument("input")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--gain-db", type=float, default=-6.0)


def spec_from_args(args: Any, cli: Any) -> GainJob:
    audio, rate = cli.read_clip(args.input)
    cli.outputs()
    return cli.spec(GainJob, audio=audio, sample_rate_hz=rate, gain_db=args.gain_db)


TASK = Task(
    name="toy-gain",
    spec=GainJob,
    run=run,
    title="Gain",
    summary="scale a clip (a test plugin)",
    needs=Needs(model=None, audio=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
