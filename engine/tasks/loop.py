"""loop: make a clip, or a range of it, loop seamlessly by inpainting its wrap-around seam.

    specdiff-cli loop IN.wav [--start 0 --end 4] -o OUT.wav

The pipeline is :mod:`engine.pipelines.loop`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import Progress, RegionEditJob, TaskResult, check_range
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class LoopJob(RegionEditJob):
    """Make a clip, or its ``start_s``..``end_s`` range, loop seamlessly (issue 4, part 4).

    The wrap-around seam is inpainted: the loop is rotated so the seam sits in the middle, a band
    of ``seam_s`` seconds around it is regenerated from ``prompt``, and the loop is rotated back.
    The result's audio is the loop (the range), not the whole clip; outside the band every sample
    is the input's.
    """

    kind: ClassVar[str] = "loop"
    start_s: float | None = None
    end_s: float | None = None
    seam_s: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        start = 0.0 if self.start_s is None else self.start_s
        end = self.duration_s if self.end_s is None else self.end_s
        self._check_span("start_s", start, "end_s", end)
        check_range("seam_s", self.seam_s, 0.08, 20.0)
        if end - start < 2 * self.seam_s:
            raise ValueError(
                f"the loop is {end - start:.3f} s long; it must be at least twice `seam_s` ({self.seam_s:g} s)."
            )

    def describe(self) -> str:
        return "Make loop"


def run(spec: LoopJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pipelines.loop import run as loop

    return (yield from loop(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_generation_arguments

    parser.add_argument("input")
    parser.add_argument("--start", type=float, default=None, help="loop range start, s (default: the clip)")
    parser.add_argument("--end", type=float, default=None, help="loop range end, s (default: the clip)")
    parser.add_argument("--seam", type=float, default=1.0, help="seconds regenerated around the wrap (default 1)")
    parser.add_argument("--prompt", default="")
    add_generation_arguments(parser)


def spec_from_args(args: argparse.Namespace, cli: Any) -> LoopJob:
    from engine.cli.common import generation_kwargs

    cli.outputs()
    audio, rate = cli.read_clip(args.input)
    return cli.spec(LoopJob, audio=audio, sample_rate_hz=rate, start_s=args.start, end_s=args.end,
                    seam_s=args.seam, prompt=args.prompt,
                    **generation_kwargs(args, cli))


TASK = Task(
    name="loop",
    spec=LoopJob,
    run=run,
    title="Make loop",
    summary="make a clip (or a range) loop seamlessly",
    needs=Needs(model="sd", audio=True, region=True, prompt=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
