"""extend: add new audio before and/or after a clip (outpainting); the clip's samples stay exact.

    specdiff-cli extend IN.wav [--left 2.5] [--right 10] --prompt "dog bark" [--prompt-left "rain"] -o OUT.wav

The pipeline is :mod:`engine.pipelines.extend`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import MAX_DURATION_S, MAX_EXTEND_S, EditJob, Progress, TaskResult, check_int, check_range
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class ExtendJob(EditJob):
    """Extend a clip by ``left_s`` and/or ``right_s`` seconds (outpainting; issue 4, part 3).

    ``prompt`` steers the right side (and the left one unless ``prompt_left`` is given). The
    window slides outwards from the clip, each step seeing ``context_s`` seconds (None: 2.5 s, or
    half the window if that is less) of what is
    already there; ``feather_px`` columns of the clip's image are faded into the new image at the
    seam (the clip's samples are kept exactly). At most :data:`MAX_EXTEND_S` seconds in one job.
    """

    kind: ClassVar[str] = "extend"
    left_s: float = 0.0
    right_s: float = 0.0
    prompt_left: str | None = None
    context_s: float | None = None
    feather_px: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("left_s", self.left_s, 0.0, MAX_DURATION_S)
        check_range("right_s", self.right_s, 0.0, MAX_DURATION_S)
        if self.left_s + self.right_s <= 0:
            raise ValueError("nothing to extend: `left_s` and `right_s` are both 0; expected seconds on at least one side.")
        if self.left_s + self.right_s > MAX_EXTEND_S:
            raise ValueError(
                f"one extend job adds at most {MAX_EXTEND_S:g} s, got {self.left_s + self.right_s:g} s "
                f"(`left_s` {self.left_s:g} + `right_s` {self.right_s:g}); extend in several steps."
            )
        if self.prompt_left is not None and not isinstance(self.prompt_left, str):
            raise ValueError("`prompt_left` must be a string or None.")
        if self.context_s is not None:
            check_range("context_s", self.context_s, 0.0, self.window_s - 0.64)
        check_int("feather_px", self.feather_px, 0, 64)

    @property
    def context_seconds(self) -> float:
        """``context_s``, or its default for the window when None."""
        return min(2.5, self.window_s / 2) if self.context_s is None else self.context_s

    def describe(self) -> str:
        sides = " + ".join(f"{s:g} s {side}" for s, side in ((self.left_s, "left"), (self.right_s, "right")) if s)
        return f"Extend {sides}"


def run(spec: ExtendJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pipelines.extend import run as extend

    return (yield from extend(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_generation_arguments

    parser.add_argument("input")
    parser.add_argument("--left", type=float, default=0.0, help="seconds to add before (default 0)")
    parser.add_argument("--right", type=float, default=0.0, help="seconds to add after (default 0)")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--prompt-left", default=None, help="prompt for the left side (default: --prompt)")
    parser.add_argument("--context", type=float, default=None,
                        help="seconds of context per window (default 2.5, at most half the window)")
    add_generation_arguments(parser)


def spec_from_args(args: argparse.Namespace, cli: Any) -> ExtendJob:
    from engine.cli.common import generation_kwargs

    cli.outputs()
    audio, rate = cli.read_clip(args.input)
    return cli.spec(ExtendJob, audio=audio, sample_rate_hz=rate, left_s=args.left, right_s=args.right,
                    prompt=args.prompt, prompt_left=args.prompt_left, context_s=args.context,
                    **generation_kwargs(args, cli))


TASK = Task(
    name="extend",
    spec=ExtendJob,
    run=run,
    title="Extend",
    summary="add new audio before and/or after a clip",
    needs=Needs(model="sd", audio=True, prompt=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
