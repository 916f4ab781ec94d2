"""``specdiff-cli``: the engine without the GUI.

    specdiff-cli generate "warm analog synth pad" -o pad.wav --seed 42 --steps 30
    specdiff-cli models list | pull riffusion/riffusion-model-v1 | rm riffusion/riffusion-model-v1
    specdiff-cli to-image song.wav -o song.png
    specdiff-cli to-audio song.png -o song.wav

Generation and downloads go through :class:`engine.api.Engine` (the same worker, cancel points
and errors as the app), with a progress bar on stderr. Bad input ends with a non-zero exit status
and one line ``specdiff-cli: error: ...`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from engine.specs import DEFAULT_SCHEDULER

PROG = "specdiff-cli"
#: Exit statuses: 0 success, 1 the operation failed, 2 bad command line, 130 interrupted.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: The key under which the recipe JSON is stored in a WAV file's metadata.
RECIPE_METADATA_KEY = "comment"
#: WAV INFO tags hold about 2000 bytes; the rest of a recipe takes about 800.
MAX_PROMPT_BYTES = 1000


class CliError(Exception):
    """A failure to report as one line, with the exit status to use."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)", EXIT_USAGE)


# ---------------------------------------------------------------------------------------------
# Progress bar
# ---------------------------------------------------------------------------------------------


class ProgressBar:
    """One tqdm bar that follows a job's Progress events (stage, step of total, bytes).

    ``file`` defaults to stderr; the CLI turns the bar off when stderr is not a terminal.
    """

    def __init__(self, enabled: bool = True, file: Any = None) -> None:
        self.enabled = enabled
        self.file = file
        self._bar: Any = None
        self._key: tuple[str, int, str] | None = None

    def __call__(self, progress: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        is_bytes = progress.bytes_total is not None
        total = progress.bytes_total if is_bytes else progress.total if progress.stage == "denoise" else 0
        # Multi-variation jobs prefix their messages with "Variation i/N".
        label = progress.message.split(":")[0] if progress.message.startswith("Variation ") else ""
        key = (progress.stage, int(total or 0), label)
        if key != self._key:
            self.close()
            desc = f"{label} {progress.stage}".strip()
            self._bar = tqdm(
                total=total or None,
                desc=desc,
                unit="B" if is_bytes else "step",
                unit_scale=is_bytes,
                file=self.file or sys.stderr,
                leave=False,
                dynamic_ncols=True,
                mininterval=0,  # events are already paced (one per step, throttled bytes)
                bar_format=None if total else "{desc}...",
            )
            self._key = key
        done = progress.bytes_done if is_bytes else progress.step
        if total and done is not None and done > self._bar.n:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._key = None


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _make_engine(args: argparse.Namespace) -> Any:
    from engine.api import Engine, EngineSettings

    settings = EngineSettings(
        device=args.device,
        precision=getattr(args, "precision", "auto"),
        offline=args.offline,
        cache_dir=args.cache_dir,
    )
    return Engine(settings)


def _run_job(engine: Any, spec: Any, quiet: bool) -> Any:
    """Run ``spec`` on ``engine`` with a progress bar; failures become CliError."""
    from engine.api import JobCancelledError
    from engine.api import JobFailedError

    bar = ProgressBar(enabled=not quiet and sys.stderr.isatty())
    try:
        return engine.run(spec, bar)
    except JobFailedError as error:
        raise CliError(str(error)) from None
    except JobCancelledError:
        raise CliError("cancelled", EXIT_INTERRUPTED) from None
    finally:
        bar.close()


def numbered_paths(path: Path, count: int) -> list[Path]:
    """``out.wav`` for one output; ``out_1.wav`` ... ``out_N.wav`` for N > 1."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}_{i}{path.suffix}") for i in range(1, count + 1)]


def _check_output(path: Path, suffixes: tuple[str, ...], what: str) -> Path:
    if path.suffix.lower() not in suffixes:
        raise CliError(f"{what} '{path}' must end in {' or '.join(suffixes)}.", EXIT_USAGE)
    if not path.parent.exists():
        raise CliError(f"the folder of {what} '{path}' does not exist.", EXIT_USAGE)
    return path


def _check_input(path: Path, what: str) -> Path:
    if not path.is_file():
        raise CliError(f"{what} '{path}' does not exist or is not a file.", EXIT_USAGE)
    return path


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


#: What ``generate`` uses when neither the command line nor the model's hints say otherwise.
GENERATE_FALLBACKS: dict[str, Any] = {
    "steps": 30,
    "guidance": 7.0,
    "duration": 5.12,
    "preset": "riffusion",
    "scheduler": DEFAULT_SCHEDULER,
}


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
    }
    settings = {}
    for key, fallback in GENERATE_FALLBACKS.items():
        given = getattr(args, key)
        settings[key] = given if given is not None else recommended[key] if recommended[key] is not None else fallback
    return settings


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.api import TextToAudioJob
    from engine.audio.io import write_audio
    from engine.audio.spectrogram import get_preset, save_spectrogram_image

    output = _check_output(Path(args.output), (".wav",), "the output")
    image_path = _check_output(Path(args.image), (".png",), "the image") if args.image else None
    text_bytes = len(args.prompt.encode("utf-8")) + len(args.negative.encode("utf-8"))
    if text_bytes > MAX_PROMPT_BYTES:
        raise CliError(
            f"the prompt and negative prompt are {text_bytes} bytes; at most {MAX_PROMPT_BYTES} fit in the WAV "
            "file's recipe metadata (CLIP reads only the first 77 tokens anyway).",
            EXIT_USAGE,
        )

    with _make_engine(args) as engine:
        model = args.model
        if model is None:
            from engine.models.catalog import default_model

            model = default_model(engine.store)
        settings = generation_settings(args, model)
        try:
            get_preset(settings["preset"])
            spec = TextToAudioJob(
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
            )
        except ValueError as error:
            raise CliError(str(error), EXIT_USAGE) from None
        results = _run_job(engine, spec, args.quiet)

    for result, wav_path in zip(results, numbered_paths(output, len(results))):
        write_audio(
            wav_path,
            result.audio,
            result.sample_rate_hz,
            subtype="PCM_16",
            metadata={RECIPE_METADATA_KEY: result.recipe.to_json()},
        )
        print(f"{wav_path}  seed {result.recipe.seed}  {result.duration_s:.2f} s")
    if image_path is not None:
        for result, png_path in zip(results, numbered_paths(image_path, len(results))):
            save_spectrogram_image(result.image, png_path)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models.store import ModelStore

    store = ModelStore(args.cache_dir, offline=args.offline)
    if args.models_command == "list":
        models = store.list_cached()
        if not models:
            print(f"No models in {store.cache_dir}.")
        for model in models:
            kind = "pipeline" if model.is_pipeline else "other"
            refs = f" [{', '.join(model.refs)}]" if model.refs else ""
            print(f"{model.model_id}  {model.size_bytes / 1e9:.2f} GB  {kind}  {len(model.revisions)} revision(s){refs}")
        return 0
    if args.models_command == "pull":
        from engine.api import DownloadModelJob

        try:
            spec = DownloadModelJob(args.model_id, revision=args.revision)
        except ValueError as error:
            raise CliError(str(error), EXIT_USAGE) from None
        with _make_engine(args) as engine:
            resolved = _run_job(engine, spec, args.quiet)
        print(f"{resolved.model_id} {resolved.revision or ''} -> {resolved.path}")
        return 0
    if args.models_command == "rm":
        freed = store.delete(args.model_id, args.revision)
        print(f"Deleted {args.model_id}: {freed / 1e9:.2f} GB freed.")
        return 0
    raise CliError("choose a models command: list, pull or rm", EXIT_USAGE)


def cmd_to_image(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engine.audio.io import read_audio, read_audio_info, resample, to_channels
    from engine.audio.spectrogram import check_audio_for_image, get_preset, image_from_audio, save_spectrogram_image

    source = _check_input(Path(args.input), "the audio file")
    output = _check_output(Path(args.output), (".png",), "the output")
    try:
        params = get_preset(args.preset)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    if args.stereo:
        params = replace(params, stereo=True)
    frames, sample_rate_hz, _ = read_audio_info(source)
    check_audio_for_image(frames, sample_rate_hz, params)  # too big: refused before reading a sample
    audio, sample_rate_hz = read_audio(source)
    note = ""
    if sample_rate_hz != params.sample_rate:
        audio = to_channels(audio, 2 if params.stereo else 1)  # resample only what the image uses
        audio = resample(audio, sample_rate_hz, params.sample_rate)
        note = f" (resampled from {sample_rate_hz} Hz to the preset's {params.sample_rate} Hz)"
    image = image_from_audio(audio, params)
    save_spectrogram_image(image, output)
    print(f"{output}  {image.width}x{image.height} px{note}")
    return 0


def cmd_to_audio(args: argparse.Namespace) -> int:
    from engine.audio.inversion import GriffinLimVocoder
    from engine.audio.io import write_audio
    from engine.audio.limits import load_image
    from engine.audio.spectrogram import audio_from_image

    source = _check_input(Path(args.input), "the image")
    output = _check_output(Path(args.output), (".wav",), "the output")
    if not 1 <= args.iters <= 10_000:
        raise CliError(f"--iters must be between 1 and 10000, got {args.iters}.", EXIT_USAGE)
    image = load_image(source)  # size checked before decoding; one-line errors
    audio, sample_rate_hz = audio_from_image(image, vocoder=GriffinLimVocoder(n_iter=args.iters))
    write_audio(output, audio, sample_rate_hz, subtype="PCM_16")
    print(f"{output}  {audio.shape[-1] / sample_rate_hz:.2f} s at {sample_rate_hz} Hz")
    return 0


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from engine.specs import DEFAULT_SCHEDULER, SCHEDULER_NAMES

    common = _Parser(add_help=False)
    common.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    common.add_argument("--offline", action="store_true", help="make no network calls")
    common.add_argument("--cache-dir", default=None, help="Hugging Face hub cache folder (default: the standard one)")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    parser = _Parser(prog=PROG, description="Specdiff Studio's engine on the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks) to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = sub.add_parser("generate", parents=[common], help="text to audio")
    gen.add_argument("prompt")
    gen.add_argument("-o", "--output", required=True, help="output WAV (OUT_1.wav, ... for several variations)")
    gen.add_argument(
        "--model",
        default=None,
        help="hub repo id or local diffusers folder (default: Riffusion if downloaded, else the shipped starter model)",
    )
    gen.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    gen.add_argument("--seed", type=int, default=None)
    model_default = "default: the model's recommendation, else {}"
    gen.add_argument("--steps", type=int, default=None, help=model_default.format(GENERATE_FALLBACKS["steps"]))
    gen.add_argument("--guidance", type=float, default=None, help=model_default.format(GENERATE_FALLBACKS["guidance"]))
    gen.add_argument(
        "--scheduler", default=None, help=", ".join(SCHEDULER_NAMES) + "; " + model_default.format(DEFAULT_SCHEDULER)
    )
    gen.add_argument("--duration", type=float, default=None, help="seconds; " + model_default.format(5.12))
    gen.add_argument("--negative", default="", help="negative prompt")
    gen.add_argument("--variations", type=int, default=1)
    gen.add_argument("--preset", default=None, help="spectrogram preset; " + model_default.format("riffusion"))
    gen.add_argument("--precision", default="auto", help="auto, fp32, fp16 or bf16")
    gen.add_argument("--image", default=None, help="also save the spectrogram image(s) as PNG")
    gen.set_defaults(func=cmd_generate)

    models = sub.add_parser("models", help="list, download or delete models")
    models_sub = models.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    listing = models_sub.add_parser("list", parents=[common], help="models in the cache")
    listing.set_defaults(func=cmd_models)
    pull = models_sub.add_parser("pull", parents=[common], help="download a model")
    pull.add_argument("model_id")
    pull.add_argument("--revision", default=None)
    pull.set_defaults(func=cmd_models)
    remove = models_sub.add_parser("rm", parents=[common], help="delete a cached model")
    remove.add_argument("model_id")
    remove.add_argument("--revision", default=None)
    remove.set_defaults(func=cmd_models)

    to_image = sub.add_parser("to-image", help="audio file -> spectrogram PNG")
    to_image.add_argument("input")
    to_image.add_argument("-o", "--output", required=True)
    to_image.add_argument("--preset", default="riffusion")
    to_image.add_argument("--stereo", action="store_true", help="keep both channels (default: mix to mono)")
    to_image.set_defaults(func=cmd_to_image)

    to_audio = sub.add_parser("to-audio", help="spectrogram PNG -> audio file (Griffin-Lim)")
    to_audio.add_argument("input")
    to_audio.add_argument("-o", "--output", required=True)
    to_audio.add_argument("--iters", type=int, default=32, help="Griffin-Lim iterations (default 32)")
    to_audio.set_defaults(func=cmd_to_audio)

    from engine.cli_edit import add_edit_commands  # inpaint, extend, loop, vary, interpolate

    add_edit_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 on success). Errors print one line to stderr."""
    # Library chatter (missing optional backends, LoRA key notes) would bury the one-line errors.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    from engine.models.errors import ModelError

    engine_log = logging.getLogger("engine")
    quiet_handler = logging.NullHandler()
    propagate = engine_log.propagate
    try:
        args = build_parser().parse_args(argv)
        if args.verbose:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        else:  # failures are reported as one line below; the worker's tracebacks stay out
            engine_log.addHandler(quiet_handler)
            engine_log.propagate = False
        return int(args.func(args) or 0)
    except CliError as error:
        status, message = error.status, str(error)
    except KeyboardInterrupt:
        status, message = EXIT_INTERRUPTED, "interrupted"
    except (ModelError, ValueError, OSError) as error:  # AudioFileError, ResourceLimitError: ValueErrors
        text = str(error).strip()
        status, message = EXIT_FAILED, text.splitlines()[0] if text else type(error).__name__
    except MemoryError as error:  # an allocation our estimates did not foresee: still one line
        from engine.worker import describe_error

        status, message = EXIT_FAILED, describe_error(error)
    finally:
        engine_log.removeHandler(quiet_handler)
        engine_log.propagate = propagate
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def read_recipe(path: str | Path) -> Any:
    """The :class:`engine.specs.Recipe` stored in a WAV written by ``specdiff-cli generate``.

    Raises ValueError if the file carries no recipe.
    """
    from engine.audio.io import read_audio_metadata
    from engine.specs import Recipe

    text = read_audio_metadata(path).get(RECIPE_METADATA_KEY)
    if not text:
        raise ValueError(f"'{path}' carries no recipe in its {RECIPE_METADATA_KEY!r} metadata.")
    return Recipe.from_json(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
