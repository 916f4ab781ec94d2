"""What every ``specdiff-cli`` command shares, and what a task's CLI part is built from.

One-line errors (:class:`CliError`), the progress bar, running a job on an :class:`engine.api.Engine`,
checking paths, reading an input clip at a preset's rate, and writing audio results with their
recipes (:func:`write_audio_results`). Task modules use :class:`CliRun` and these helpers in their
``spec_from_args`` / ``write_results``; this module imports no task and no registry.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from engine.recipes import RECIPE_METADATA_KEY, RECIPE_SIDECAR_SUFFIX  # noqa: F401 - used and re-exported here
from engine.specs import DEFAULT_SCHEDULER

PROG = "specdiff-cli"
#: Exit statuses: 0 success, 1 the operation failed, 2 bad command line, 130 interrupted.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Recipes longer than this (bytes of JSON) go to a sidecar file: WAV INFO tags hold about 2000.
MAX_TAG_BYTES = 1900
AUDIO_SUFFIXES = (".wav", ".flac")
#: The sample formats ``--subtype`` offers (FLOAT: WAV only).
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")


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


#: Stages whose message is a line for the user (see :func:`notice`).
NOTICE_STAGES = ("dataset", "estimate", "lora")


def notice(progress: Any, stages: Sequence[str] = NOTICE_STAGES) -> str:
    """The line a user must read, not a bar's label, for a progress event ('' for the others): a
    training run's dataset once read (the sounds used, those skipped and why) and its estimate
    (time, memory, and advice on the run's length and learning rate); a LoRA trained for another
    model than the job's."""
    if not progress.message or progress.stage not in stages:
        return ""
    if progress.stage == "dataset" and not (progress.total and progress.step == progress.total):
        return ""  # "Reading the sounds": the bar's label
    return f"{progress.stage}: {progress.message}"


class ProgressBar:
    """One tqdm bar that follows a job's Progress events (stage, step of total, bytes).

    ``file`` defaults to stderr; the CLI turns the bar off under ``-q`` and when stderr is not a
    terminal, and then prints only the :func:`notice` lines (skipped files, advice, warnings).
    """

    def __init__(self, enabled: bool = True, file: Any = None) -> None:
        self.enabled = enabled
        self.file = file
        self.notices = NOTICE_STAGES
        self._bar: Any = None
        self._key: tuple[str, int, str] | None = None

    def __call__(self, progress: Any) -> None:
        line = notice(progress, self.notices)
        if not self.enabled:  # -q or not a terminal: no bar, but what a user must read still prints
            if line:
                print(line, file=self.file or sys.stderr, flush=True)
            return
        from tqdm import tqdm

        if line:  # above the bar, which the next event draws again
            self.close()
            tqdm.write(line, file=self.file or sys.stderr)
            return
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


class TrainingLines:
    """Progress of a long-running job (training) when stderr is not a terminal (a log file, a
    pipe, a CI job): its :func:`notice` lines (the dataset, the estimate) before the first step, then one line at
    every tenth of the steps and at the last, with the loss, where a terminal gets the bar. Short
    jobs print nothing there, as before."""

    PARTS = 10

    def __init__(self, enabled: bool = True, file: Any = None) -> None:
        self.enabled = enabled
        self.file = file
        self.notices = NOTICE_STAGES
        self._printed = -1

    def __call__(self, progress: Any) -> None:
        line = notice(progress, self.notices)  # printed under -q too: only the step lines are progress
        if line:
            print(line, file=self.file or sys.stderr, flush=True)
            return
        if not self.enabled or progress.stage != "train" or not progress.total or progress.step is None:
            return
        part = progress.step * self.PARTS // progress.total
        if part <= self._printed and progress.step != progress.total:
            return
        if progress.step == progress.total and self._printed == self.PARTS:
            return
        self._printed = self.PARTS if progress.step == progress.total else part
        loss = getattr(progress, "loss", None)
        tail = f", loss {loss:.4f}" if loss is not None else ""
        print(f"train: step {progress.step}/{progress.total}{tail}", file=self.file or sys.stderr, flush=True)

    def close(self) -> None:
        pass


def run_job(engine: Any, spec: Any, quiet: bool) -> Any:
    """Run ``spec`` on ``engine`` with a progress bar (on a terminal; a long-running job prints a
    line at every tenth of its steps elsewhere); failures become CliError."""
    from engine.api import JobCancelledError, JobFailedError

    terminal = sys.stderr.isatty()
    if terminal or not getattr(spec, "long_running", False):
        bar: Any = ProgressBar(enabled=not quiet and terminal)
    else:
        bar = TrainingLines(enabled=not quiet)
    if getattr(spec, "estimate_only", False):  # the estimate is the result, printed once on stdout
        bar.notices = tuple(stage for stage in bar.notices if stage != "estimate")
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


def check_output(path: Path, suffixes: tuple[str, ...], what: str, *, overwrite: bool = False,
                 inputs: Sequence[Path] = ()) -> Path:
    """``path`` if it ends in one of ``suffixes``, its folder exists and it is not a file already
    (unless ``overwrite``), else a usage CliError. ``inputs``: the command's input files, named in
    the error when ``path`` is one of them."""
    if path.suffix.lower() not in suffixes:
        raise CliError(f"{what} '{path}' must end in {' or '.join(suffixes)}.", EXIT_USAGE)
    if not path.parent.exists():
        raise CliError(f"the folder of {what} '{path}' does not exist.", EXIT_USAGE)
    if not overwrite and (path.exists() or path.is_symlink()):
        if any(_same_file(path, source) for source in inputs):
            raise CliError(f"{what} '{path}' is this command's input file; choose another -o (or pass --overwrite "
                           "to replace the input).", EXIT_USAGE)
        raise CliError(f"{what} '{path}' exists; pass --overwrite to replace it.", EXIT_USAGE)
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


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
    ``subtype`` is the input's sample format (what audio is written in unless ``--subtype`` says
    otherwise, so untouched samples stay exact; None: 16-bit PCM).
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
        """``--model``, else Riffusion when it is downloaded, else the shipped starter model 2."""
        model = getattr(self.args, "model", None)
        if model:
            return model
        from engine.models.catalog import default_model

        return default_model(self.store)

    def settings(self, dests: dict[str, str]) -> dict[str, Any]:
        """Steps, guidance, duration, preset and scheduler for :meth:`default_model`: the command
        line's (``dests``: setting -> argument name), else the model card's (:func:`settings_from_args`)."""
        return settings_from_args(self.args, self.default_model(), dests)

    def outputs(self, suffixes: tuple[str, ...] = AUDIO_SUFFIXES, count: int | None = None) -> Path:
        """Check ``-o`` (and ``--image``, if the command has it) before anything runs; returns ``-o``.

        ``count`` outputs (default: ``--variations``, else 1) are numbered as :func:`numbered_paths`
        says; none may exist unless ``--overwrite``; a ``--subtype`` the format cannot hold is refused.
        """
        args = self.args
        overwrite = bool(getattr(args, "overwrite", False))
        count = count if count is not None else int(getattr(args, "variations", None) or 1)
        inputs = [*self.input_paths.values(), *(Path(getattr(args, name)) for name in ("input", "file")
                                                if isinstance(getattr(args, name, None), str))]
        output = Path(args.output)
        for path in numbered_paths(output, count):
            check_output(path, suffixes, "the output", overwrite=overwrite, inputs=inputs)
        subtype = getattr(args, "subtype", None)
        if subtype == "FLOAT" and output.suffix.lower() == ".flac":
            raise CliError("FLAC holds PCM_16 or PCM_24 samples; --subtype FLOAT needs a .wav output.", EXIT_USAGE)
        image = getattr(args, "image", None)
        if image:
            for path in numbered_paths(Path(image), count):
                check_output(path, (".png",), "the image", overwrite=overwrite, inputs=inputs)
        self.output = output
        self.image = Path(image) if image else None
        return output

    def output_subtype(self, path: Path) -> str:
        """The sample format to write ``path`` in: ``--subtype``, else the input's (:attr:`subtype`),
        else 16-bit PCM; an input format the file type cannot hold becomes FLOAT (WAV) or PCM_24 (FLAC)."""
        from engine.audio.io import WRITE_SUBTYPES

        subtype = getattr(self.args, "subtype", None) or self.subtype or "PCM_16"
        file_format = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
        if subtype not in WRITE_SUBTYPES or file_format not in WRITE_SUBTYPES[subtype]:
            subtype = "FLOAT" if file_format == "WAV" else "PCM_24"
        return subtype

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
    (so the recipe regenerates from anywhere); a hub LoRA stays its repo id (read from the cache).
    Raises a usage CliError for a LoRA that is neither an existing file or folder nor a hub id, or
    a weight that is not a number."""
    from engine.training.lora_library import is_hub_ref

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
        if path.exists():  # absolute, links kept: a hub snapshot's file links to a blob without its name
            source = os.path.abspath(path)
        elif not is_hub_ref(source):
            raise CliError(f"--lora '{source}' does not exist; expected a .safetensors file, a folder or a "
                           "hub repo id (owner/name or owner/name/FILE.safetensors).", EXIT_USAGE)
        loras.append((source, weight))
    return tuple(loras)


#: The settings of a model whose card (:func:`engine.models.catalog.model_hints`) does not say:
#: denoising steps, guidance, length (a generation's duration, an edit's window), spectrogram
#: preset, scheduler.
GENERIC_SETTINGS: dict[str, Any] = {
    "steps": 30,
    "guidance": 7.0,
    "duration": 5.12,
    "preset": "riffusion",
    "scheduler": DEFAULT_SCHEDULER,
    "upsampler": "",
}
_HINT_OF_SETTING = {"steps": "num_inference_steps", "guidance": "guidance_scale", "duration": "duration_s",
                    "preset": "spectrogram_preset", "scheduler": "scheduler", "upsampler": "upsampler"}


def model_settings(model: str) -> dict[str, Any]:
    """:data:`GENERIC_SETTINGS` with what ``model``'s card recommends instead (the starter model:
    20 steps, guidance 5, 2.56 s in its own 'starter' spectrogram)."""
    from engine.models.catalog import model_hints

    hints = model_hints(model)
    settings = dict(GENERIC_SETTINGS)
    for key, attr in _HINT_OF_SETTING.items():
        value = getattr(hints, attr, None) if hints is not None else None
        if value is not None:
            settings[key] = value
    return settings


def settings_from_args(args: argparse.Namespace, model: str, dests: dict[str, str]) -> dict[str, Any]:
    """The generation settings for ``model``: each command-line value (``dests``: setting ->
    argument name) where given, else the model card's (:func:`model_settings`). An unknown
    preset is a usage CliError."""
    from engine.audio.params import get_preset

    settings = model_settings(model)
    for key, dest in dests.items():
        given = getattr(args, dest, None)
        if given is not None:
            settings[key] = given
    try:
        get_preset(settings["preset"])
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    return settings


def model_default(key: str, unit: str = "") -> str:
    """Help text for a setting that follows the model: "default: the model card's, 20 for the
    starter, else 30"."""
    from engine.models.catalog import STARTER_MODEL_ID

    starter = model_settings(STARTER_MODEL_ID)[key]
    return f"default: the model card's ({starter:g}{unit} for the starter, else {GENERIC_SETTINGS[key]:g}{unit})" if (
        not isinstance(starter, str)) else f"default: the model card's ('{starter}' for the starter, else " \
        f"'{GENERIC_SETTINGS[key]}')"


MODEL_HELP = ("hub repo id, local diffusers folder, builtin:starter2 or builtin:starter (default: Riffusion if "
              "downloaded, else the shipped starter model 2 builtin:starter2)")


def add_output_arguments(parser: argparse.ArgumentParser, what: str = "output WAV or FLAC (by its extension)") -> None:
    """The output options every command that writes audio shares: ``-o`` (WAV or FLAC by the
    extension), ``--subtype`` and ``--overwrite``."""
    parser.add_argument("-o", "--output", required=True, help=what)
    parser.add_argument("--subtype", default=None, choices=SUBTYPES,
                        help="sample format: PCM_16, PCM_24 or FLOAT (WAV only); default: the input file's, so "
                             "untouched samples stay exact (PCM_16 for commands without an input audio file)")
    add_overwrite_argument(parser)


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that exist (an input file too); default: refuse")


def add_upsampler_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--upsampler NAME|none`` (``what`` says on which audio it runs); the default is the model's
    recommendation (:func:`checked_upsampler` reads it)."""
    parser.add_argument("--upsampler", default=None,
                        help=f"upsampler run on {what} (builtin:upsampler or a folder), 'none' for none; "
                             "default: the model's recommendation (the starter model's: builtin:upsampler)")


def checked_upsampler(value: str | None) -> str:
    """A job's ``upsampler`` from ``--upsampler`` (or the model card's, as :func:`settings_from_args`
    gives it): "" for none or 'none'. Raises a usage CliError (one line) for a name that is not an
    upsampler."""
    name = "" if value is None or value.strip().lower() in ("", "none") else value.strip()
    if name:
        from engine.upsample.models import UpsamplerError, upsampler_dir

        try:
            upsampler_dir(name)
        except UpsamplerError as error:
            raise CliError(str(error), EXIT_USAGE) from None
    return name


def add_generation_arguments(parser: argparse.ArgumentParser, *, steps_flag: str = "--steps") -> None:
    """The output and diffusion options of the edit and interpolate commands (see :func:`generation_kwargs`).

    Steps, guidance, scheduler, preset and window follow the model's card as ``generate`` does."""
    from engine.specs import SCHEDULER_NAMES

    add_output_arguments(parser)
    parser.add_argument("--model", default=None, help=MODEL_HELP)
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(steps_flag, dest="inference_steps", type=int, default=None,
                        help="denoising steps; " + model_default("steps"))
    parser.add_argument("--guidance", type=float, default=None, help=model_default("guidance"))
    parser.add_argument("--scheduler", default=None, help=", ".join(SCHEDULER_NAMES) + "; " + model_default("scheduler"))
    parser.add_argument("--negative", default="", help="negative prompt")
    parser.add_argument("--preset", default=None, help="spectrogram preset; " + model_default("preset"))
    parser.add_argument("--height", type=int, default=None, help="mel bins (default: the preset's)")
    parser.add_argument("--precision", default="auto", help="auto, fp32, fp16 or bf16")
    parser.add_argument("--window", type=float, default=None,
                        help="window the model sees, seconds (its image length); " + model_default("duration", " s"))
    parser.add_argument("--gl-iters", type=int, default=32, help="Griffin-Lim iterations (default 32)")
    add_vocoder_argument(parser)
    add_upsampler_argument(parser, "the new audio before it lands (an edit of a full-band clip stays full-band)")
    parser.add_argument("--image", default=None, help="also save the edited spectrogram as PNG")
    add_lora_argument(parser)


#: :func:`add_generation_arguments`' destinations of the settings that follow the model.
EDIT_SETTING_DESTS = {"steps": "inference_steps", "guidance": "guidance", "duration": "window",
                      "preset": "preset", "scheduler": "scheduler", "upsampler": "upsampler"}


def diffusion_kwargs(args: argparse.Namespace, cli: CliRun, settings: dict[str, Any]) -> dict[str, Any]:
    """The spec fields every diffusion command (generate, the edits, interpolate) takes the same
    way: ``settings`` (:meth:`CliRun.settings`: the command line's, else the model card's), the
    model ``cli.default_model()``, and the options ``--negative``, ``--seed``, ``--revision``,
    ``--vocoder``, ``--lora``."""
    return dict(
        negative_prompt=args.negative,
        seed=args.seed,
        num_inference_steps=settings["steps"],
        guidance_scale=settings["guidance"],
        scheduler=settings["scheduler"],
        spectrogram_preset=settings["preset"],
        vocoder=args.vocoder,
        upsampler=checked_upsampler(settings["upsampler"]),
        model=cli.default_model(),
        revision=args.revision,
        loras=parse_loras(args.lora),
    )


def generation_kwargs(args: argparse.Namespace, cli: CliRun) -> dict[str, Any]:
    """Spec fields from :func:`add_generation_arguments`' options (:func:`diffusion_kwargs`, the
    height, the window and the Griffin-Lim iterations)."""
    settings = cli.settings(EDIT_SETTING_DESTS)
    return dict(diffusion_kwargs(args, cli, settings), height=args.height, window_s=settings["duration"],
                griffin_lim_iters=args.gl_iters)


# ---------------------------------------------------------------------------------------------
# Results and recipes in files
# ---------------------------------------------------------------------------------------------


def write_audio_results(results: Sequence[Any], args: argparse.Namespace, cli: CliRun) -> None:
    """Write each result's audio to ``-o`` (``OUT_1.wav`` ... for several) with its recipe, and its
    spectrogram image to ``--image`` if given.

    Audio is written in :meth:`CliRun.output_subtype` (``--subtype``, else the input's); the recipe, with
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
        sidecar = write_audio_with_recipe(path, result.audio, result.sample_rate_hz, recipe, cli.output_subtype(path))
        print(f"{path}  seed {recipe.seed}  {result.duration_s:.2f} s" + (f"  recipe: {sidecar}" if sidecar else ""))
    if cli.image is not None:
        for result, png_path in zip(results, numbered_paths(cli.image, len(results))):
            save_spectrogram_image(result.image, png_path)


def write_audio_with_recipe(path: Path, audio: Any, sample_rate_hz: int, recipe: Any, subtype: str) -> Path | None:
    """Write ``audio`` in ``subtype`` (one the format holds) carrying ``recipe``; returns the
    sidecar file when the recipe did not fit the WAV tag, else None."""
    from engine.audio.io import atomic_output_path, write_audio

    file_format = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    text = recipe.to_json()
    fits = file_format == "FLAC" or len(text.encode("utf-8")) <= MAX_TAG_BYTES
    write_audio(path, audio, sample_rate_hz, subtype=subtype, metadata={RECIPE_METADATA_KEY: text} if fits else None)
    sidecar = path.with_name(path.name + RECIPE_SIDECAR_SUFFIX)
    if fits:
        sidecar.unlink(missing_ok=True)  # an old one would contradict the file's own recipe
        return None
    with atomic_output_path(sidecar) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return sidecar


def read_recipe(path: str | Path) -> Any:
    """The :class:`engine.recipes.Recipe` a file carries (:func:`engine.recipes.read_file_recipe`:
    an audio file's comment tag or ``PATH.recipe.json``, a PNG picture's text chunk).

    Raises ValueError if the file carries none or it is not a recipe.
    """
    from engine.recipes import read_file_recipe

    return read_file_recipe(path)
