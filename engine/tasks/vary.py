"""vary: audio-to-audio variations of a clip (img2img over its spectrogram), any length.

    specdiff-cli vary IN.wav --strength 0.4 --prompt "jazz piano" [--variations 3] -o OUT.wav

The pipeline is :mod:`engine.pipelines.vary`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import MAX_VARIATIONS, EditJob, Progress, TaskResult, check_int, check_range, check_strength
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class VaryJob(EditJob):
    """Audio-to-audio variations of the whole clip (img2img; issue 4, part 5).

    ``strength`` in (0, 1]: Riffusion suggests about 0.4 for light and 0.55 for heavy changes.
    Clips longer than one window are processed in windows overlapping by ``overlap_s`` and
    crossfaded (equal power). ``num_variations`` results use seeds ``seed``, ``seed + 1``, ...
    Each result has the input's length and channel count.
    """

    kind: ClassVar[str] = "vary"
    run_only: ClassVar[frozenset[str]] = EditJob.run_only | {"num_variations"}
    strength: float = 0.55
    overlap_s: float = 0.2
    num_variations: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_strength(self.strength, self.num_inference_steps, "return the input")
        check_range("overlap_s", self.overlap_s, 0.0, self.window_s / 2)
        check_int("num_variations", self.num_variations, 1, MAX_VARIATIONS)

    def describe(self) -> str:
        return f"Vary: {self.prompt[:40]}" if self.prompt else "Vary"


def run(spec: VaryJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pipelines.vary import run as vary

    return (yield from vary(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_generation_arguments

    parser.add_argument("input")
    parser.add_argument("--strength", type=float, default=0.55, help="0.4 light, 0.55 heavy (default 0.55)")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--overlap", type=float, default=0.2, help="window overlap, s (default 0.2)")
    parser.add_argument("--variations", type=int, default=1, help="OUT_1.wav ... for several")
    add_generation_arguments(parser)


def spec_from_args(args: argparse.Namespace, cli: Any) -> VaryJob:
    from engine.cli.common import generation_kwargs

    cli.outputs()
    audio, rate = cli.read_clip(args.input)
    return cli.spec(VaryJob, audio=audio, sample_rate_hz=rate, strength=args.strength, prompt=args.prompt,
                    overlap_s=args.overlap, num_variations=args.variations, **generation_kwargs(args, cli))


TASK = Task(
    name="vary",
    spec=VaryJob,
    run=run,
    title="Vary",
    summary="audio-to-audio variations (img2img)",
    needs=Needs(model="sd", audio=True, prompt=True),
    old_names=("variation",),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
