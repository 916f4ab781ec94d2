"""upsample: restore the missing top of a band-limited clip (super-resolution).

    specdiff-cli upsample starter.wav -o full.wav                      # the shipped offline model
    specdiff-cli upsample old.wav -o new.wav --model ~/my-upsampler --rate 48000

The clip's cutoff is detected (the starter model's audio stops at 4 kHz, an MP3 often at
16 kHz) and the clip is low-passed there; the band above is made by the upsampler
(:mod:`engine.upsample`) up to the model's Nyquist frequency, in chunks with overlap and
crossfade. Silent or already full-band clips pass through unchanged with a note.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import MAX_SEED, MAX_STEPS, AudioInputJob, Progress, TaskResult, check_int
from engine.tasks import Needs, Task

#: The shipped offline upsampler (engine.upsample.models.DEFAULT_UPSAMPLER, without importing it).
DEFAULT_UPSAMPLER = "builtin:upsampler"


@dataclass(frozen=True, eq=False, kw_only=True)
class UpsampleJob(AudioInputJob):
    """Upsample ``audio`` with the upsampler ``model`` (``builtin:<name>`` or a folder).

    ``output_rate_hz`` 0 means the model's rate (or the clip's, if higher). ``seed`` and
    ``steps`` are for sampling upsamplers (diffusion; 0 steps = the model's default); the
    spectral upsampler is deterministic and ignores them.
    """

    kind: ClassVar[str] = "upsample"
    model: str = DEFAULT_UPSAMPLER
    output_rate_hz: int = 0
    seed: int = 0
    steps: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("`model` must name an upsampler (builtin:<name> or a folder).")
        if self.output_rate_hz:
            check_int("output_rate_hz", self.output_rate_hz, 8000, 192000)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("steps", self.steps, 0, MAX_STEPS)

    def describe(self) -> str:
        return "Upsample"


def upsample_result(spec: UpsampleJob, ctx: Any = None) -> Generator[Progress, None, TaskResult]:
    """Run ``spec``: the result with its recipe (the note, cutoffs and chunks in its facts)."""
    from engine.upsample.models import load_upsampler
    from engine.upsample.run import upsample_clip

    yield Progress(stage="load", message=f"Loading upsampler {spec.model}")
    upsampler = load_upsampler(spec.model, getattr(ctx, "store", None))
    outcome = yield from upsample_clip(
        upsampler, spec.audio, spec.sample_rate_hz, output_rate_hz=spec.output_rate_hz or None,
        seed=spec.seed, steps=spec.steps,
    )
    facts = dict(outcome.facts)
    if outcome.note:
        facts["note"] = outcome.note
    recipe = spec.make_recipe(seed=spec.seed, model_id=spec.model, facts=facts)
    return TaskResult(recipe=recipe, audio=outcome.audio, sample_rate_hz=outcome.sample_rate_hz)


def run(spec: UpsampleJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    result = yield from upsample_result(spec, ctx)
    return (result,)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_output_arguments

    parser.add_argument("input", help="audio file (WAV, FLAC, ...)")
    add_output_arguments(parser)
    parser.add_argument("--model", default=DEFAULT_UPSAMPLER,
                        help=f"upsampler: builtin:<name> or a folder made by train_upsampler (default {DEFAULT_UPSAMPLER})")
    parser.add_argument("--rate", type=int, default=0, help="output sample rate in Hz (default: the model's, 44100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling upsamplers (diffusion)")
    parser.add_argument("--steps", type=int, default=0, help="sampling steps of diffusion upsamplers (default: the model's)")


def spec_from_args(args: argparse.Namespace, cli: Any) -> UpsampleJob:
    from engine.cli.common import EXIT_USAGE, CliError
    from engine.upsample.models import UpsamplerError, upsampler_dir

    try:
        upsampler_dir(args.model, cli.store)
    except UpsamplerError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    audio, rate = cli.read_clip(args.input)
    cli.outputs()
    return cli.spec(UpsampleJob, audio=audio, sample_rate_hz=rate, model=args.model,
                    output_rate_hz=args.rate, seed=args.seed, steps=args.steps)


def write_results(results: Any, args: argparse.Namespace, cli: Any) -> None:
    from engine.cli.common import write_audio_results

    for result in results:
        note = result.recipe.facts.get("note")
        if note:
            print(f"note: {note}")
    write_audio_results(results, args, cli)


TASK = Task(
    name="upsample",
    spec=UpsampleJob,
    run=run,
    title="Upsample",
    summary="restore the missing top band of a band-limited clip (super-resolution)",
    needs=Needs(model=None, audio=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
    write_results=write_results,
)

