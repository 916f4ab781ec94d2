"""What every ``specdiff-cli`` command shares, and what a task's CLI part is built from.

One-line errors (:class:`CliError`), the progress bar, running a job on an :class:`engine.api.Engine`,
checking paths, reading an input clip at a preset's rate, and writing audio results with their
recipes (:func:`write_audio_results`). Task modules use :class:`CliRun` and these helpers in their
``spec_from_args`` / ``write_results``; this module imports no task and no registry.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

PROG = "specdiff-cli"
#: Exit statuses: 0 success, 1 the operation failed, 2 bad command line, 130 interrupted.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: The key under which the recipe JSON is stored in an audio file's metadata.
RECIPE_METADATA_KEY = "comment"
#: Recipes longer than this (bytes of JSON) go to a sidecar file: WAV INFO tags hold about 2000.
MAX_TAG_BYTES = 1900
#: Where a recipe too long for the file's tag goes: ``OUT.wav.recipe.json`` beside ``OUT.wav``.
RECIPE_SIDECAR_SUFFIX = ".recipe.json"
AUDIO_SUFFIXES = (".wav", ".flac")


class CliError(Exception):
    """A failure to report as one line, with the exit status to use."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


class Parser(argparse.ArgumentParser):
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
        total = progress.bytes_total if is_bytes else progress.total if progress.stage in ("denoise", "train") else 0
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
        loss = getattr(progress, "loss", None)  # training steps show their loss
        if loss is not None and progress.stage == "train":
            self._bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._key = None


# ---------------------------------------------------------------------------------------------
# Engine, paths
# ---------------------------------------------------------------------------------------------


def make_engine(args: argparse.Namespace, store: Any = None) -> Any:
    """An Engine for the common options (--device, --precision, --offline, --cache-dir)."""
    from engine.api import Engine, EngineSettings

    settings = EngineSettings(
        device=args.device,
        precision=getattr(args, "precision", "auto"),
        offline=args.offline,
        cache_dir=args.cache_dir,
    )
    return Engine(settings, store=store)


def run_job(engine: Any, spec: Any, quiet: bool) -> Any:
    """Run ``spec`` on ``engine`` with a progress bar; failures become CliError."""
    from engine.api import JobCancelledError, JobFailedError

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


def check_output(path: Path, suffixes: tuple[str, ...], what: str) -> Path:
    """``path`` if it ends in one of ``suffixes`` and its folder exists, else a usage CliError."""
    if path.suffix.lower() not in suffixes:
        raise CliError(f"{what} '{path}' must end in {' or '.join(suffixes)}.", EXIT_USAGE)
    if not path.parent.exists():
        raise CliError(f"the folder of {what} '{path}' does not exist.", EXIT_USAGE)
    return path


def check_input(path: Path, what: str) -> Path:
    """``path`` if it is a file, else a usage CliError."""
    if not path.is_file():
        raise CliError(f"{what} '{path}' does not exist or is not a file.", EXIT_USAGE)
    return path


# ---------------------------------------------------------------------------------------------
# One command's run
# ---------------------------------------------------------------------------------------------


class CliRun:
    """What a task's CLI part uses while one command runs.

    ``spec_from_args`` reads its input clips with :meth:`read_clip` (which remembers where each
    came from: the recipe gets that path as a hint), checks where results go with
    :meth:`outputs`, builds its spec with :meth:`spec` and asks for :meth:`default_model`.
    ``subtype`` is the sample format to write audio in (the input's, so untouched samples stay
    exact; None: 16-bit PCM).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.output: Path | None = None
        self.image: Path | None = None
        self.subtype: str | None = None
        self.input_paths: dict[str, Path] = {}
        self._store: Any = None

    @property
    def store(self) -> Any:
        """The model store of the common options (no network access until a job downloads)."""
        if self._store is None:
            from engine.models.store import ModelStore

            self._store = ModelStore(self.args.cache_dir, offline=self.args.offline)
        return self._store

    def default_model(self) -> str:
        """``--model``, else Riffusion when it is downloaded, else the shipped starter model."""
        model = getattr(self.args, "model", None)
        if model:
            return model
        from engine.models.catalog import default_model

        return default_model(self.store)

    def outputs(self, suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> Path:
        """Check ``-o`` (and ``--image``, if the command has it) before anything runs; returns ``-o``."""
        self.output = check_output(Path(self.args.output), suffixes, "the output")
        image = getattr(self.args, "image", None)
        self.image = check_output(Path(image), (".png",), "the image") if image else None
        return self.output

    def read_clip(self, path: str | Path, preset: str | None = None, *, name: str = "audio") -> tuple[Any, int]:
        """The audio file at ``path`` as float32 (channels, samples) at its own rate, and that rate.

        The engine edits a copy at the spectrogram ``preset``'s rate (checked here) and brings
        only the new audio back, so the file's rate, channels and sample format (:attr:`subtype`)
        are kept. The path is remembered as input ``name`` (the recipe records it as a hint).
        Raises CliError for a missing file or unknown preset, the AudioFileError family
        (ValueError) for an unreadable one.
        """
        import soundfile

        from engine.audio.io import read_audio
        from engine.audio.params import get_preset

        source = check_input(Path(path), "the audio file")
        if preset is not None:
            try:
                get_preset(preset)
            except ValueError as error:
                raise CliError(str(error), EXIT_USAGE) from None
        audio, rate = read_audio(source)
        self.subtype = soundfile.info(str(source)).subtype
        self.input_paths[name] = source.resolve()
        return audio, rate

    @staticmethod
    def spec(cls: type, **kwargs: Any) -> Any:
        """Build a job spec, reporting bad parameters as a usage error (before the engine starts)."""
        try:
            return cls(**kwargs)
        except ValueError as error:
            raise CliError(str(error), EXIT_USAGE) from None


def add_vocoder_argument(parser: argparse.ArgumentParser) -> None:
    """``--vocoder NAME``: what turns the spectrogram into audio (``engine.vocoders``)."""
    from engine.vocoders import DEFAULT_VOCODER, vocoder_names

    parser.add_argument(
        "--vocoder", default=DEFAULT_VOCODER,
        help=f"{', '.join(vocoder_names())} or a vocoder folder (default {DEFAULT_VOCODER}; see `specdiff-cli vocoders`)",
    )


def add_lora_argument(parser: argparse.ArgumentParser) -> None:
    """``--lora PATH[:WEIGHT]``, repeatable: LoRAs applied to the job (see :func:`parse_loras`)."""
    parser.add_argument("--lora", action="append", default=[], metavar="PATH[:WEIGHT]",
                        help="apply a LoRA (.safetensors file, folder or cached hub id) at WEIGHT (default 1.0); "
                             "repeat for several")


def parse_loras(values: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """``--lora`` values -> ``(path_or_id, weight)`` pairs; a file or folder becomes its absolute path
    (so the recipe regenerates from anywhere). Raises a usage CliError for a LoRA that is neither
    an existing file or folder nor a hub id, or a weight that is not a number."""
    loras = []
    for value in values:
        source, weight = value, 1.0
        head, sep, tail = value.rpartition(":")
        if sep and head and not tail.startswith(("\\", "/")):
            try:
                weight = float(tail)
            except ValueError:
                raise CliError(f"--lora '{value}': the weight after ':' must be a number, like "
                               f"'{head}:0.8'.", EXIT_USAGE) from None
            source = head
        path = Path(source).expanduser()
        if path.exists():
            source = str(path.resolve())
        elif path.is_absolute() or source.startswith((".", "~")) or source.count("/") != 1:
            raise CliError(f"--lora '{source}' does not exist; expected a .safetensors file, a folder or a "
                           "hub repo id.", EXIT_USAGE)
        loras.append((source, weight))
    return tuple(loras)


def add_generation_arguments(parser: argparse.ArgumentParser, *, steps_flag: str = "--steps") -> None:
    """The output and diffusion options of the edit and interpolate commands (see :func:`generation_kwargs`)."""
    from engine.specs import DEFAULT_SCHEDULER, SCHEDULER_NAMES

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
    add_vocoder_argument(parser)
    parser.add_argument("--image", default=None, help="also save the edited spectrogram as PNG")
    add_lora_argument(parser)


def generation_kwargs(args: argparse.Namespace, cli: CliRun) -> dict[str, Any]:
    """Spec fields from :func:`add_generation_arguments`' options (the model: ``cli.default_model()``)."""
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
        vocoder=args.vocoder,
        model=cli.default_model(),
        revision=args.revision,
        loras=parse_loras(args.lora),
    )


# ---------------------------------------------------------------------------------------------
# Results and recipes in files
# ---------------------------------------------------------------------------------------------


def write_audio_results(results: Sequence[Any], args: argparse.Namespace, cli: CliRun) -> None:
    """Write each result's audio to ``-o`` (``OUT_1.wav`` ... for several) with its recipe, and its
    spectrogram image to ``--image`` if given.

    Audio keeps ``cli.subtype`` where the format allows (16-bit PCM when None); the recipe, with
    the input paths as hints, goes into the file's comment tag, or into ``OUT.wav.recipe.json``
    beside a WAV whose tag cannot hold it.
    """
    from engine.audio.spectrogram import save_spectrogram_image

    output = cli.output if cli.output is not None else cli.outputs()
    for result, path in zip(results, numbered_paths(output, len(results))):
        recipe = result.recipe
        for name, source in cli.input_paths.items():
            if name in recipe.inputs:
                recipe = recipe.with_input_path(name, str(source))
        sidecar = write_audio_with_recipe(path, result.audio, result.sample_rate_hz, recipe, cli.subtype or "PCM_16")
        print(f"{path}  seed {recipe.seed}  {result.duration_s:.2f} s" + (f"  recipe: {sidecar}" if sidecar else ""))
    if cli.image is not None:
        for result, png_path in zip(results, numbered_paths(cli.image, len(results))):
            save_spectrogram_image(result.image, png_path)


def write_audio_with_recipe(path: Path, audio: Any, sample_rate_hz: int, recipe: Any, subtype: str) -> Path | None:
    """Write ``audio`` (in ``subtype`` where the format allows) carrying ``recipe``; returns the
    sidecar file when the recipe did not fit the WAV tag, else None."""
    from engine.audio.io import WRITE_SUBTYPES, write_audio

    file_format = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    if subtype not in WRITE_SUBTYPES or file_format not in WRITE_SUBTYPES[subtype]:
        subtype = "FLOAT" if file_format == "WAV" else "PCM_24"
    text = recipe.to_json()
    fits = file_format == "FLAC" or len(text.encode("utf-8")) <= MAX_TAG_BYTES
    write_audio(path, audio, sample_rate_hz, subtype=subtype, metadata={RECIPE_METADATA_KEY: text} if fits else None)
    sidecar = path.with_name(path.name + RECIPE_SIDECAR_SUFFIX)
    if fits:
        sidecar.unlink(missing_ok=True)  # an old one would contradict the file's own recipe
        return None
    sidecar.write_text(text, encoding="utf-8")
    return sidecar


def read_recipe(path: str | Path) -> Any:
    """The :class:`engine.recipes.Recipe` a file written by ``specdiff-cli`` carries: an audio file's
    comment tag, else ``PATH.recipe.json`` beside it (format-1 recipes are migrated); a PNG
    picture's ``specdiff-recipe`` text chunk.

    Raises ValueError if the file carries none or it is not a recipe.
    """
    from engine.audio.io import read_audio_metadata
    from engine.recipes import Recipe

    path = Path(path)
    if path.suffix.lower() == ".png":  # a picture (specdiff-cli illustrate): the recipe is in a text chunk
        from engine.pictures.png import read_png_recipe

        return read_png_recipe(path)
    text = read_audio_metadata(path).get(RECIPE_METADATA_KEY)
    if not text:
        sidecar = path.with_name(path.name + RECIPE_SIDECAR_SUFFIX)
        if not sidecar.is_file():
            raise ValueError(f"'{path}' carries no recipe in its {RECIPE_METADATA_KEY!r} metadata (and has no "
                             f"'{sidecar.name}' beside it).")
        text = sidecar.read_text(encoding="utf-8")
    return Recipe.from_json(text)
