"""``specdiff-cli`` edit commands: the spectrogram edits of the app, headless, for batch work.

    specdiff-cli inpaint IN.wav --start 1.0 --end 2.5 [--fmin 200 --fmax 2000] --prompt "train horn" -o OUT.wav
    specdiff-cli extend IN.wav [--left 2.5] [--right 10] --prompt "dog bark" [--prompt-left "rain"] -o OUT.wav
    specdiff-cli loop IN.wav [--start 0 --end 4] -o OUT.wav
    specdiff-cli vary IN.wav --strength 0.4 --prompt "jazz piano" -o OUT.wav
    specdiff-cli interpolate --from "church bells" --to "electronic beats" --steps 5 -o OUT.wav

Each takes ``--model``, ``--seed``, ``--steps`` (denoising steps; for ``interpolate`` the number
of segments, as in the issue's usage line, with ``--inference-steps`` for denoising),
``--guidance`` and ``--scheduler``. The output keeps the input file's sample rate, channels and
sample format (16-bit, 24-bit or float; the engine edits a copy at the spectrogram preset's rate
and brings only the new audio back) so that untouched samples stay exact, and carries its recipe in the
WAV ``comment`` tag, or in ``OUT.recipe.json`` beside it when the recipe is too long for a tag.
Errors are one line on stderr with a non-zero exit status, as for the other commands.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli import (
    EXIT_USAGE,
    RECIPE_METADATA_KEY,
    CliError,
    _check_input,
    _check_output,
    _make_engine,
    _run_job,
    numbered_paths,
)

#: Recipes longer than this (bytes of JSON) go to a sidecar file: WAV INFO tags hold about 2000.
MAX_TAG_BYTES = 1900
OUTPUT_SUFFIXES = (".wav", ".flac")
#: Stands in for the model while the parameters are checked; replaced by --model or the default.
DEFAULT_MODEL_PLACEHOLDER = "riffusion/riffusion-model-v1"


def add_edit_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the inpaint, extend, loop, vary and interpolate subcommands to ``sub`` (argparse subparsers).

    ``common`` is the parent parser with the shared options (--device, --offline, --cache-dir, -q).
    """
    from engine.specs import DEFAULT_SCHEDULER, SCHEDULER_NAMES

    def generation(parser: argparse.ArgumentParser, *, steps_flag: str = "--steps") -> None:
        parser.add_argument("-o", "--output", required=True, help="output WAV or FLAC")
        parser.add_argument("--model", default=None, help="hub repo id or local diffusers folder (default: Riffusion)")
        parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(steps_flag, dest="inference_steps", type=int, default=30, help="denoising steps (default 30)")
        parser.add_argument("--guidance", type=float, default=7.0)
        parser.add_argument("--scheduler", default=DEFAULT_SCHEDULER, help=", ".join(SCHEDULER_NAMES))
        parser.add_argument("--negative", default="", help="negative prompt")
        parser.add_argument("--preset", default="riffusion", help="spectrogram preset (default: riffusion)")
        parser.add_argument("--height", type=int, default=None, help="mel bins (default: the preset's)")
        parser.add_argument("--precision", default="auto", help="auto, fp32, fp16 or bf16")
        parser.add_argument("--window", type=float, default=5.12, help="window the model sees, seconds (default 5.12)")
        parser.add_argument("--gl-iters", type=int, default=32, help="Griffin-Lim iterations (default 32)")
        parser.add_argument("--image", default=None, help="also save the edited spectrogram as PNG")

    inpaint = sub.add_parser("inpaint", parents=[common], help="regenerate a time (and frequency) region")
    inpaint.add_argument("input")
    inpaint.add_argument("--start", type=float, required=True, help="seconds")
    inpaint.add_argument("--end", type=float, required=True, help="seconds")
    inpaint.add_argument("--fmin", type=float, default=None, help="lowest frequency to regenerate, Hz")
    inpaint.add_argument("--fmax", type=float, default=None, help="highest frequency to regenerate, Hz")
    inpaint.add_argument("--prompt", default="")
    inpaint.add_argument("--strength", type=float, default=1.0, help="(0, 1], default 1 (from noise)")
    inpaint.add_argument("--feather", type=int, default=4, help="mask feather, pixels (default 4)")
    inpaint.add_argument("--crossfade", type=float, default=0.02, help="crossfade at the span's edges, s")
    generation(inpaint)
    inpaint.set_defaults(func=cmd_inpaint)

    extend = sub.add_parser("extend", parents=[common], help="add new audio before and/or after a clip")
    extend.add_argument("input")
    extend.add_argument("--left", type=float, default=0.0, help="seconds to add before (default 0)")
    extend.add_argument("--right", type=float, default=0.0, help="seconds to add after (default 0)")
    extend.add_argument("--prompt", default="")
    extend.add_argument("--prompt-left", default=None, help="prompt for the left side (default: --prompt)")
    extend.add_argument("--context", type=float, default=None,
                        help="seconds of context per window (default 2.5, at most half the window)")
    generation(extend)
    extend.set_defaults(func=cmd_extend)

    loop = sub.add_parser("loop", parents=[common], help="make a clip (or a range) loop seamlessly")
    loop.add_argument("input")
    loop.add_argument("--start", type=float, default=None, help="loop range start, s (default: the clip)")
    loop.add_argument("--end", type=float, default=None, help="loop range end, s (default: the clip)")
    loop.add_argument("--seam", type=float, default=1.0, help="seconds regenerated around the wrap (default 1)")
    loop.add_argument("--prompt", default="")
    generation(loop)
    loop.set_defaults(func=cmd_loop)

    vary = sub.add_parser("vary", parents=[common], help="audio-to-audio variations (img2img)")
    vary.add_argument("input")
    vary.add_argument("--strength", type=float, default=0.55, help="0.4 light, 0.55 heavy (default 0.55)")
    vary.add_argument("--prompt", default="")
    vary.add_argument("--overlap", type=float, default=0.2, help="window overlap, s (default 0.2)")
    vary.add_argument("--variations", type=int, default=1, help="OUT_1.wav ... for several")
    generation(vary)
    vary.set_defaults(func=cmd_vary)

    interpolate = sub.add_parser("interpolate", parents=[common], help="morph between two prompts/seeds")
    interpolate.add_argument("--from", dest="prompt_from", required=True, help="first prompt")
    interpolate.add_argument("--to", dest="prompt_to", required=True, help="last prompt")
    interpolate.add_argument("--steps", dest="num_steps", type=int, default=5, help="segments (default 5)")
    interpolate.add_argument("--seed-to", type=int, default=None, help="seed of the last segment (default: --seed)")
    interpolate.add_argument("--crossfade", type=float, default=0.5, help="crossfade between segments, s")
    generation(interpolate, steps_flag="--inference-steps")
    interpolate.set_defaults(func=cmd_interpolate)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _generation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        negative_prompt=args.negative,
        seed=args.seed,
        num_inference_steps=args.inference_steps,
        guidance_scale=args.guidance,
        scheduler=args.scheduler,
        spectrogram_preset=args.preset,
        height=args.height,
        window_s=args.window,
        griffin_lim_iters=args.gl_iters,
        revision=args.revision,
    )


def _read_clip(args: argparse.Namespace) -> tuple[Any, int, str]:
    """The input file's audio at its own rate, the rate, and the subtype to write."""
    import soundfile

    from engine.audio.io import read_audio
    from engine.audio.spectrogram import get_preset

    source = _check_input(Path(args.input), "the audio file")
    try:
        get_preset(args.preset)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    audio, rate = read_audio(source)
    return audio, rate, soundfile.info(str(source)).subtype


def _spec(cls: Any, **kwargs: Any) -> Any:
    """Build a job spec, reporting bad parameters as a usage error (before the engine starts)."""
    try:
        return cls(model=DEFAULT_MODEL_PLACEHOLDER, **kwargs)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None


def _write(result: Any, path: Path, subtype: str) -> None:
    """Write one result: audio in the input's format where possible, the recipe in a tag or beside it."""
    from engine.audio.io import WRITE_SUBTYPES, write_audio

    file_format = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    if subtype not in WRITE_SUBTYPES or file_format not in WRITE_SUBTYPES[subtype]:
        subtype = "FLOAT" if file_format == "WAV" else "PCM_24"
    recipe = result.recipe.to_json()
    fits = file_format == "FLAC" or len(recipe.encode("utf-8")) <= MAX_TAG_BYTES
    metadata = {RECIPE_METADATA_KEY: recipe} if fits else None
    write_audio(path, result.audio, result.sample_rate_hz, subtype=subtype, metadata=metadata)
    if not fits:
        sidecar = path.with_name(path.name + ".recipe.json")
        sidecar.write_text(recipe, encoding="utf-8")
    print(f"{path}  seed {result.recipe.seed}  {result.duration_s:.2f} s" + ("" if fits else f"  recipe: {sidecar}"))


def _run_and_write(args: argparse.Namespace, spec: Any, subtype: str) -> int:
    from dataclasses import replace

    from engine.audio.spectrogram import save_spectrogram_image

    output = _check_output(Path(args.output), OUTPUT_SUFFIXES, "the output")
    image_path = _check_output(Path(args.image), (".png",), "the image") if args.image else None
    with _make_engine(args) as engine:
        model = args.model
        if model is None:
            from engine.models.catalog import default_model

            model = default_model(engine.store)
        results = _run_job(engine, replace(spec, model=model), args.quiet)
    for result, path in zip(results, numbered_paths(output, len(results))):
        _write(result, path, subtype)
    if image_path is not None:
        for result, png_path in zip(results, numbered_paths(image_path, len(results))):
            save_spectrogram_image(result.image, png_path)
    return 0


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def cmd_inpaint(args: argparse.Namespace) -> int:
    from engine.specs import InpaintJob

    audio, rate, subtype = _read_clip(args)
    spec = _spec(InpaintJob, audio=audio, sample_rate_hz=rate, start_s=args.start, end_s=args.end,
                 fmin_hz=args.fmin, fmax_hz=args.fmax, prompt=args.prompt, strength=args.strength,
                 feather_px=args.feather, crossfade_s=args.crossfade, **_generation_kwargs(args))
    return _run_and_write(args, spec, subtype)


def cmd_extend(args: argparse.Namespace) -> int:
    from engine.specs import ExtendJob

    audio, rate, subtype = _read_clip(args)
    spec = _spec(ExtendJob, audio=audio, sample_rate_hz=rate, left_s=args.left, right_s=args.right,
                 prompt=args.prompt, prompt_left=args.prompt_left, context_s=args.context,
                 **_generation_kwargs(args))
    return _run_and_write(args, spec, subtype)


def cmd_loop(args: argparse.Namespace) -> int:
    from engine.specs import LoopJob

    audio, rate, subtype = _read_clip(args)
    spec = _spec(LoopJob, audio=audio, sample_rate_hz=rate, start_s=args.start, end_s=args.end,
                 seam_s=args.seam, prompt=args.prompt, **_generation_kwargs(args))
    return _run_and_write(args, spec, subtype)


def cmd_vary(args: argparse.Namespace) -> int:
    from engine.specs import VariationJob

    audio, rate, subtype = _read_clip(args)
    spec = _spec(VariationJob, audio=audio, sample_rate_hz=rate, strength=args.strength, prompt=args.prompt,
                 overlap_s=args.overlap, num_variations=args.variations, **_generation_kwargs(args))
    return _run_and_write(args, spec, subtype)


def cmd_interpolate(args: argparse.Namespace) -> int:
    from engine.specs import InterpolateJob

    spec = _spec(InterpolateJob, prompt=args.prompt_from, prompt_to=args.prompt_to, num_steps=args.num_steps,
                 seed_to=args.seed_to, crossfade_s=args.crossfade, **_generation_kwargs(args))
    return _run_and_write(args, spec, "PCM_16")
