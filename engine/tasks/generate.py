"""generate: clips from a text prompt (text -> spectrogram image -> audio).

    specdiff-cli generate "warm analog synth pad" -o pad.wav --seed 42 --steps 30

The pipeline is :mod:`engine.pipelines.text_to_audio`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.specs import (
    DEFAULT_SCHEDULER,
    MAX_DURATION_S,
    MAX_VARIATIONS,
    GenerationJob,
    Progress,
    TaskResult,
    check_int,
    check_range,
)
from engine.tasks import Needs, Task

#: What the CLI uses when neither the command line nor the model's hints say otherwise.
GENERATE_FALLBACKS: dict[str, Any] = {
    "steps": 30,
    "guidance": 7.0,
    "duration": 5.12,
    "preset": "riffusion",
    "scheduler": DEFAULT_SCHEDULER,
    "upsampler": "",
}
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
    #: Upsampler run on each clip after inversion (``builtin:upsampler`` or a folder; see
    #: engine.tasks.upsample), "" for none. The starter model's card recommends one.
    upsampler: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("duration_s", self.duration_s, 0.08, MAX_DURATION_S)
        if not isinstance(self.upsampler, str):
            raise ValueError(f"`upsampler` must be text (a name, a folder or \"\" for none), got {self.upsampler!r}.")
        check_int("num_variations", self.num_variations, 1, MAX_VARIATIONS)

    def recipe_params(self) -> dict[str, Any]:
        params = super().recipe_params()
        if not self.upsampler:
            del params["upsampler"]  # recipes from before upsamplers read the same: none
        return params

    def describe(self) -> str:
        return f"Generate: {self.prompt[:40]}" if self.prompt else "Generate"


def run(spec: GenerateJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pipelines.text_to_audio import run as generate

    return (yield from generate(spec, ctx))


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.specs import SCHEDULER_NAMES

    parser.add_argument("prompt")
    parser.add_argument("-o", "--output", required=True, help="output WAV (OUT_1.wav, ... for several variations)")
    parser.add_argument(
        "--model",
        default=None,
        help="hub repo id or local diffusers folder (default: Riffusion if downloaded, else the shipped starter model)",
    )
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    parser.add_argument("--seed", type=int, default=None)
    model_default = "default: the model's recommendation, else {}"
    parser.add_argument("--steps", type=int, default=None, help=model_default.format(GENERATE_FALLBACKS["steps"]))
    parser.add_argument("--guidance", type=float, default=None,
                        help=model_default.format(GENERATE_FALLBACKS["guidance"]))
    parser.add_argument(
        "--scheduler", default=None, help=", ".join(SCHEDULER_NAMES) + "; " + model_default.format(DEFAULT_SCHEDULER)
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds; " + model_default.format(5.12))
    parser.add_argument("--negative", default="", help="negative prompt")
    parser.add_argument("--variations", type=int, default=1)
    parser.add_argument("--preset", default=None, help="spectrogram preset; " + model_default.format("riffusion"))
    parser.add_argument("--precision", default="auto", help="auto, fp32, fp16 or bf16")
    parser.add_argument("--image", default=None, help="also save the spectrogram image(s) as PNG")
    from engine.cli.common import add_lora_argument, add_vocoder_argument

    add_vocoder_argument(parser)
    add_lora_argument(parser)
    parser.add_argument("--upsampler", default=None,
                        help="upsampler run after inversion (builtin:upsampler or a folder), 'none' for none; "
                             "default: the model's recommendation (the starter model's: builtin:upsampler)")


def generation_settings(args: argparse.Namespace, model: str) -> dict[str, Any]:
    """Steps, guidance, duration, preset and scheduler for ``model``: the command line's value,
    else the model's recommendation (:func:`engine.models.catalog.model_hints`; the starter
    model works in its own 2.56 s 'starter' spectrogram), else :data:`GENERATE_FALLBACKS`."""
    from engine.models.catalog import model_hints

    hints = model_hints(model)
    recommended = {
        "steps": hints.num_inference_steps if hints else None,
        "guidance": hints.guidance_scale if hints else None,
        "duration": hints.duration_s if hints else None,
        "preset": hints.spectrogram_preset if hints else None,
        "scheduler": hints.scheduler if hints else None,
        "upsampler": hints.upsampler if hints else None,
    }
    settings = {}
    for key, fallback in GENERATE_FALLBACKS.items():
        given = getattr(args, key)
        settings[key] = given if given is not None else recommended[key] if recommended[key] is not None else fallback
    return settings


def spec_from_args(args: argparse.Namespace, cli: Any) -> GenerateJob:
    from engine.audio.params import get_preset
    from engine.cli.common import EXIT_USAGE, CliError, parse_loras

    cli.outputs((".wav",))
    text_bytes = len(args.prompt.encode("utf-8")) + len(args.negative.encode("utf-8"))
    if text_bytes > MAX_PROMPT_BYTES:
        raise CliError(
            f"the prompt and negative prompt are {text_bytes} bytes; at most {MAX_PROMPT_BYTES} fit in the WAV "
            "file's recipe metadata (CLIP reads only the first 77 tokens anyway).",
            EXIT_USAGE,
        )
    model = cli.default_model()
    settings = generation_settings(args, model)
    try:
        get_preset(settings["preset"])
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    upsampler = "" if settings["upsampler"].strip().lower() in ("", "none") else settings["upsampler"].strip()
    if upsampler:
        from engine.upsample.models import UpsamplerError, upsampler_dir

        try:
            upsampler_dir(upsampler)
        except UpsamplerError as error:
            raise CliError(str(error), EXIT_USAGE) from None
    return cli.spec(
        GenerateJob,
        upsampler=upsampler,
        prompt=args.prompt,
        negative_prompt=args.negative,
        seed=args.seed,
        num_inference_steps=settings["steps"],
        guidance_scale=settings["guidance"],
        scheduler=settings["scheduler"],
        duration_s=settings["duration"],
        num_variations=args.variations,
        spectrogram_preset=settings["preset"],
        model=model,
        revision=args.revision,
        vocoder=args.vocoder,
        loras=parse_loras(args.lora),
    )


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
