"""generate: clips from a text prompt (text -> spectrogram image -> audio).

    specdiff-cli generate "warm analog synth pad" -o pad.wav --seed 42 --steps 30

The pipeline is :mod:`engine.pipelines.generate`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.specs import (
    MAX_DURATION_S,
    MAX_VARIATIONS,
    GenerationJob,
    Progress,
    TaskResult,
    check_int,
    check_range,
)
from engine.tasks import Needs, Task

#: WAV INFO tags hold about 2000 bytes; the rest of a recipe takes about 900.
MAX_PROMPT_BYTES = 1000


@dataclass(frozen=True, kw_only=True)
class GenerateJob(GenerationJob):
    """Generate ``num_variations`` clips from a text prompt.

    ``upsampler`` names an upsampler that extends each clip's band after inversion (the
    result then has the upsampler's rate, 44.1 kHz for the shipped one); "" for none.
    ``seed`` None picks a random seed when the job starts (recorded in each result's recipe);
    variation ``i`` uses ``seed + i`` and regenerates alone from its recipe. ``duration_s`` is
    rounded to a whole number of 8-pixel image columns of the spectrogram preset (5.12 s is
    512 px for the ``riffusion`` preset).
    """

    kind: ClassVar[str] = "generate"
    run_only: ClassVar[frozenset[str]] = GenerationJob.run_only | {"num_variations"}
    prompt: str = field(kw_only=False)
    duration_s: float = 5.12
    num_variations: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("duration_s", self.duration_s, 0.08, MAX_DURATION_S)
        check_int("num_variations", self.num_variations, 1, MAX_VARIATIONS)

    def describe(self) -> str:
        return f"Generate: {self.prompt[:40]}" if self.prompt else "Generate"


def run(spec: GenerateJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pipelines.generate import run as generate

    return (yield from generate(spec, ctx))


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import MODEL_HELP, add_output_arguments, model_default
    from engine.specs import SCHEDULER_NAMES

    parser.add_argument("prompt")
    add_output_arguments(parser, "output WAV or FLAC (OUT_1.wav, ... for several variations)")
    parser.add_argument("--model", default=None, help=MODEL_HELP)
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="denoising steps; " + model_default("steps"))
    parser.add_argument("--guidance", type=float, default=None, help=model_default("guidance"))
    parser.add_argument("--scheduler", default=None, help=", ".join(SCHEDULER_NAMES) + "; " + model_default("scheduler"))
    parser.add_argument("--duration", type=float, default=None, help="seconds; " + model_default("duration", " s"))
    parser.add_argument("--negative", default="", help="negative prompt")
    parser.add_argument("--variations", type=int, default=1)
    parser.add_argument("--preset", default=None, help="spectrogram preset; " + model_default("preset"))
    parser.add_argument("--precision", default="auto", help="auto, fp32, fp16 or bf16")
    parser.add_argument("--image", default=None, help="also save the spectrogram image(s) as PNG")
    from engine.cli.common import add_lora_argument, add_upsampler_argument, add_vocoder_argument

    add_vocoder_argument(parser)
    add_lora_argument(parser)
    add_upsampler_argument(parser, "each clip after inversion")


#: The settings that follow the model card -> generate's argument names.
SETTING_DESTS = {"steps": "steps", "guidance": "guidance", "duration": "duration", "preset": "preset",
                 "scheduler": "scheduler", "upsampler": "upsampler"}


def spec_from_args(args: argparse.Namespace, cli: Any) -> GenerateJob:
    from engine.cli.common import EXIT_USAGE, CliError, diffusion_kwargs

    cli.outputs()
    text_bytes = len(args.prompt.encode("utf-8")) + len(args.negative.encode("utf-8"))
    if text_bytes > MAX_PROMPT_BYTES:
        raise CliError(
            f"the prompt and negative prompt are {text_bytes} bytes; at most {MAX_PROMPT_BYTES} fit in the WAV "
            "file's recipe metadata (CLIP reads only the first 77 tokens anyway).",
            EXIT_USAGE,
        )
    settings = cli.settings(SETTING_DESTS)
    return cli.spec(GenerateJob, prompt=args.prompt, duration_s=settings["duration"], num_variations=args.variations,
                    **diffusion_kwargs(args, cli, settings))


TASK = Task(
    name="generate",
    spec=GenerateJob,
    run=run,
    title="Generate",
    summary="text to audio",
    needs=Needs(model="sd", prompt=True),
    old_names=("text_to_audio",),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
