"""illustrate: pictures from a clip (issue 16, seed 002), offline or zero-shot.

    specdiff-cli illustrate IN.wav -o OUT.png [--model ID|PATH] [--tagger ID] [--prompt TEXT]
                            [--variations N] [--seed N]

With the shipped starter picture model (``builtin:pictures``, the default) or a folder written by
``train-pictures``, an audio embedding conditions a 64x64 DDPM (:mod:`engine.pictures.model`).
With an SD 1.5-family image model from the store, the clip's AudioSet tags (``--tagger``, an AST
classifier) make the prompt, blended with ``--prompt`` and ``--style`` (:mod:`engine.pictures.zeroshot`).
With an audio adapter folder (``train-pictures --base <SD model>``), the clip becomes pseudo-words
in its base model's prompt, "a photo of <audio>" then ``--prompt`` and ``--style``
(:mod:`engine.pictures.adapter`).
Every PNG carries its recipe; ``specdiff-cli regenerate OUT.png -o AGAIN.png`` makes it again.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import (
    DEFAULT_SCHEDULER,
    MAX_SEED,
    MAX_STEPS,
    MAX_VARIATIONS,
    SCHEDULER_NAMES,
    AudioInputJob,
    Progress,
    TaskResult,
    check_int,
    check_range,
)
from engine.tasks import Needs, Task

STARTER_PICTURES_ID = "builtin:pictures"
#: AudioSet tagger (transformers ASTForAudioClassification, BSD-3-Clause).
DEFAULT_TAGGER = "MIT/ast-finetuned-audioset-10-10-0.4593"
DEFAULT_STYLE = "concept art, detailed, soft light"


@dataclass(frozen=True, eq=False, kw_only=True)
class IllustrateJob(AudioInputJob):
    """Pictures of a clip.

    ``model``: a picture model (``builtin:pictures``, a ``train-pictures`` folder), an audio
    adapter folder (``train-pictures --base <SD model>``: its base SD model draws), or an SD
    1.5-family image model (hub id or folder) for the zero-shot path. ``guidance_scale`` None:
    3 for a picture model (seed 002's baseline), 7.5 for SD (an adapter's too). Zero-shot only: ``tagger`` (an
    AudioSet classifier), the prompt is the top ``num_tags`` tags blended with ``prompt`` and
    ``style`` (or ``prompt`` alone when ``use_tags`` is False: a prompt the user edited),
    ``negative_prompt``, ``scheduler``, ``width`` x ``height``. Picture ``i`` of
    ``num_variations`` uses seed ``seed + i``.
    """

    kind: ClassVar[str] = "illustrate"
    run_only: ClassVar[frozenset[str]] = frozenset({"num_variations"})
    model: str = STARTER_PICTURES_ID
    revision: str | None = None
    seed: int | None = None
    num_inference_steps: int = 50
    guidance_scale: float | None = None
    num_variations: int = 1
    tagger: str = DEFAULT_TAGGER
    prompt: str = ""
    style: str = DEFAULT_STYLE
    use_tags: bool = True
    num_tags: int = 5
    negative_prompt: str = ""
    scheduler: str = DEFAULT_SCHEDULER
    width: int = 512
    height: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        from engine.audio.limits import check_prompt

        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("`model` must name a picture model (builtin:pictures, a folder) or an image model.")
        if not isinstance(self.tagger, str) or not self.tagger.strip():
            raise ValueError("`tagger` must name an AudioSet tagger (a hub id or a folder).")
        for name in ("prompt", "style", "negative_prompt"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"`{name}` must be a string.")
            check_prompt(getattr(self, name), f"`{name}`")
        if self.seed is not None:
            check_int("seed", self.seed, 0, MAX_SEED)
        check_int("num_inference_steps", self.num_inference_steps, 1, MAX_STEPS)
        if self.guidance_scale is not None:
            check_range("guidance_scale", self.guidance_scale, 0.0, 50.0)
        check_int("num_variations", self.num_variations, 1, MAX_VARIATIONS)
        check_int("num_tags", self.num_tags, 0, 20)
        if not isinstance(self.use_tags, bool):
            raise ValueError("`use_tags` must be True or False.")
        if self.scheduler not in SCHEDULER_NAMES:
            raise ValueError(f"`scheduler` must be one of {', '.join(SCHEDULER_NAMES)}, got {self.scheduler!r}.")
        for name in ("width", "height"):
            check_int(name, getattr(self, name), 64, 1024)
            if getattr(self, name) % 8:
                raise ValueError(f"`{name}` must be a multiple of 8, got {getattr(self, name)}.")

    def describe(self) -> str:
        return "Picture from audio"


def run(spec: IllustrateJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pictures.illustrate import run as illustrate

    return (yield from illustrate(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_overwrite_argument

    parser.add_argument("input", help="the audio file (WAV, FLAC...)")
    parser.add_argument("-o", "--output", required=True, help="output PNG (OUT_1.png ... for several)")
    add_overwrite_argument(parser)
    parser.add_argument("--model", default=STARTER_PICTURES_ID,
                        help="picture model (default builtin:pictures, offline), an audio adapter folder "
                             "(train-pictures --base SD_MODEL), or an SD 1.5-family image model (hub id or folder) "
                             "for zero-shot pictures from AudioSet tags")
    parser.add_argument("--revision", default=None, help="hub revision of an image model")
    parser.add_argument("--tagger", default=DEFAULT_TAGGER, help=f"AudioSet tagger (default {DEFAULT_TAGGER})")
    parser.add_argument("--prompt", default="",
                        help="your own words, blended with the tags (zero-shot) or after an adapter's template")
    parser.add_argument("--style", default=DEFAULT_STYLE,
                        help=f"style words (zero-shot and adapters; default '{DEFAULT_STYLE}')")
    parser.add_argument("--no-tags", action="store_true", help="use --prompt as the whole prompt (zero-shot)")
    parser.add_argument("--tags", type=int, default=5, help="how many tags go into the prompt (default 5)")
    parser.add_argument("--negative", default="", help="negative prompt (zero-shot and adapters)")
    parser.add_argument("--variations", type=int, default=1, help="how many pictures (seeds SEED, SEED+1, ...)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--steps", type=int, default=50, help="denoising steps (default 50)")
    parser.add_argument("--guidance", type=float, default=None, help="default: 3 (picture model), 7.5 (image model)")
    parser.add_argument("--scheduler", default=DEFAULT_SCHEDULER,
                        help=", ".join(SCHEDULER_NAMES) + " (zero-shot and adapters)")
    parser.add_argument("--size", type=int, default=512,
                        help="picture width and height, zero-shot and adapters (default 512)")


def spec_from_args(args: argparse.Namespace, cli: Any) -> IllustrateJob:
    audio, rate = cli.read_clip(args.input)
    cli.outputs((".png",))
    return cli.spec(IllustrateJob, audio=audio, sample_rate_hz=rate, model=args.model, revision=args.revision,
                    seed=args.seed, num_inference_steps=args.steps, guidance_scale=args.guidance,
                    num_variations=args.variations, tagger=args.tagger, prompt=args.prompt, style=args.style,
                    use_tags=not args.no_tags, num_tags=args.tags, negative_prompt=args.negative,
                    scheduler=args.scheduler, width=args.size, height=args.size)


def write_results(results: Any, args: argparse.Namespace, cli: Any) -> None:
    """Each picture to ``-o`` (``OUT_1.png`` ... for several) with its recipe in a PNG text chunk."""
    from pathlib import Path

    from engine.cli.common import numbered_paths
    from engine.pictures.png import save_png

    output = cli.output if cli.output is not None else Path(args.output)
    for result, path in zip(results, numbered_paths(output, len(results))):
        recipe = result.recipe
        for name, source in cli.input_paths.items():
            if name in recipe.inputs:
                recipe = recipe.with_input_path(name, str(source))
        save_png(result.pictures[0], path, recipe)
        prompt = recipe.facts.get("prompt")
        print(f"{path}  seed {recipe.seed}" + (f"  prompt: {prompt}" if prompt else ""))


TASK = Task(
    name="illustrate",
    spec=IllustrateJob,
    run=run,
    title="Picture from Audio",
    summary="pictures from a clip (offline picture model, or AudioSet tags -> an image model)",
    needs=Needs(model="pictures", audio=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
    write_results=write_results,
)
