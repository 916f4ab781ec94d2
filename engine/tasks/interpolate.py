"""interpolate: one continuous clip moving from one prompt/seed to another, as Riffusion does.

    specdiff-cli interpolate --from "church bells" --to "electronic beats" --steps 5 -o OUT.wav

``--steps`` is the number of segments (as in the issue's usage line); ``--inference-steps`` the
denoising steps. The pipeline is :mod:`engine.pipelines.interpolate`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import (
    MAX_DURATION_S,
    MAX_INTERPOLATION_STEPS,
    MAX_SEED,
    Progress,
    TaskResult,
    WindowedJob,
    check_int,
    check_range,
)
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class InterpolateJob(WindowedJob):
    """One continuous clip moving from ``prompt``/``seed`` to ``prompt_to``/``seed_to`` (issue 4, part 5).

    ``num_steps`` segments of ``window_s`` seconds; segment ``i`` uses ``alpha = i / (num_steps - 1)``:
    text embeddings interpolated linearly, initial noise spherically (slerp), as Riffusion does.
    Consecutive segments are crossfaded (equal power) over ``crossfade_s``. ``seed_to`` None uses
    ``seed`` (a prompt-only interpolation); ``negative_prompt`` applies throughout.
    """

    kind: ClassVar[str] = "interpolate"
    prompt_to: str = ""
    seed_to: int | None = None
    num_steps: int = 5
    crossfade_s: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.prompt_to, str):
            raise ValueError("`prompt_to` must be a string.")
        if self.seed_to is not None:
            check_int("seed_to", self.seed_to, 0, MAX_SEED)
        check_int("num_steps", self.num_steps, 2, MAX_INTERPOLATION_STEPS)
        check_range("crossfade_s", self.crossfade_s, 0.0, self.window_s / 2)
        total = self.num_steps * self.window_s - (self.num_steps - 1) * self.crossfade_s
        if total > MAX_DURATION_S:
            raise ValueError(f"the interpolation would last {total:.1f} s; at most {MAX_DURATION_S:g} s.")

    def describe(self) -> str:
        return f"Interpolate: {self.prompt[:20]} -> {self.prompt_to[:20]}"


def run(spec: InterpolateJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pipelines.interpolate import run as interpolate

    return (yield from interpolate(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_generation_arguments

    parser.add_argument("--from", dest="prompt_from", required=True, help="first prompt")
    parser.add_argument("--to", dest="prompt_to", required=True, help="last prompt")
    parser.add_argument("--steps", dest="num_steps", type=int, default=5, help="segments (default 5)")
    parser.add_argument("--seed-to", type=int, default=None, help="seed of the last segment (default: --seed)")
    parser.add_argument("--crossfade", type=float, default=0.5, help="crossfade between segments, s")
    add_generation_arguments(parser, steps_flag="--inference-steps")


def spec_from_args(args: argparse.Namespace, cli: Any) -> InterpolateJob:
    from engine.cli.common import generation_kwargs

    cli.outputs()
    return cli.spec(InterpolateJob, prompt=args.prompt_from, prompt_to=args.prompt_to, num_steps=args.num_steps,
                    seed_to=args.seed_to, crossfade_s=args.crossfade, **generation_kwargs(args, cli))


TASK = Task(
    name="interpolate",
    spec=InterpolateJob,
    run=run,
    title="Interpolate",
    summary="morph between two prompts/seeds",
    needs=Needs(model="sd", prompt=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
