"""Job specs, results and events: the plain data that crosses the engine's door (no torch, no Qt).

The GUI thread builds a spec from its document state and hands it to :class:`engine.api.Engine`;
nothing on the worker ever reads GUI state. Results and events come back as the same plain data.

Each task (``engine/tasks/<name>.py``) declares its spec class on one of the bases here, by what
the task takes:

* :class:`JobSpec`: any job. ``kind`` is the task's one name; ``run_only`` fields change how a job
  runs but not what it makes (they stay out of recipes); ``long_running`` marks jobs that run for
  minutes or hours. It maps itself to a :class:`~engine.recipes.Recipe` and back
  (:meth:`JobSpec.make_recipe`, :meth:`JobSpec.from_recipe`).
* :class:`GenerationJob`: diffusion jobs (prompt, seed, steps, guidance, scheduler, model,
  LoRAs, spectrogram preset); :class:`WindowedJob` adds the window and Griffin-Lim settings of
  jobs that work window by window.
* :class:`AudioInputJob`: jobs that take a clip (``audio`` + ``sample_rate_hz``, checked and
  frozen) and need no prompt; the clip is an *input*: recipes keep its fingerprint, not its
  samples. :class:`EditJob` is both (inpaint, extend, loop, vary); :class:`RegionEditJob` repaints
  a region.
* :class:`TrainingJob`: long-running jobs that write files into an output folder, checkpoint
  every N steps and resume from the newest checkpoint.

:class:`TaskResult` carries what a task makes, each part optional: audio, a spectrogram image,
pictures, files; always its recipe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.recipes import (
    GRIFFIN_LIM,
    MissingInputError,
    Recipe,
    audio_fingerprint,
    audio_record,
    from_json_value,
    to_json_value,
)

#: Scheduler names accepted by every generation task (see engine.pipelines.schedulers).
SCHEDULER_NAMES = ("dpm++2m-karras", "dpm++2m", "euler", "euler-a", "ddim", "pndm", "lms")
DEFAULT_SCHEDULER = "dpm++2m-karras"
DEFAULT_MODEL = "riffusion/riffusion-model-v1"
MAX_SEED = 2**32 - 1
MAX_STEPS = 1000
MAX_VARIATIONS = 16
MAX_DURATION_S = 600.0
#: The most audio one extend job adds (left + right), in seconds.
MAX_EXTEND_S = 60.0
#: The most segments one interpolation job makes.
MAX_INTERPOLATION_STEPS = 64
#: Box of an inpainting mask: (start_s, end_s, fmin_hz or None, fmax_hz or None), in clip time.
Box = tuple[float, float, "float | None", "float | None"]

# ---------------------------------------------------------------------------------------------
# Checks shared by the specs. Each raises ValueError saying what was wrong and what was expected.
# ---------------------------------------------------------------------------------------------


def check_range(name: str, value: float, lo: float, hi: float) -> None:
    """Raise ValueError unless ``value`` is a finite number in ``[lo, hi]``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}.")
    if not lo <= value <= hi:
        raise ValueError(f"`{name}` must be between {lo} and {hi}, got {value}.")


def check_int(name: str, value: int, lo: int, hi: int) -> None:
    """Raise ValueError unless ``value`` is an int (not a bool) in ``[lo, hi]``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    check_range(name, value, lo, hi)


def check_optional_band(spec: Any, fmin_name: str, fmin: float | None, fmax: float | None) -> None:
    """Raise ValueError unless the optional band ``fmin``..``fmax`` lies in [0, Nyquist] and is ordered."""
    nyquist = spec.sample_rate_hz / 2
    if fmin is not None:
        check_range(fmin_name, fmin, 0.0, nyquist)
    if fmax is not None:
        check_range(fmin_name.replace("fmin", "fmax"), fmax, 0.0, nyquist)
    if fmin is not None and fmax is not None and not fmin < fmax:
        raise ValueError(f"`{fmin_name}` ({fmin} Hz) must be below `{fmin_name.replace('fmin', 'fmax')}` ({fmax} Hz).")


def check_strength(strength: float, num_inference_steps: int, zero_means: str) -> None:
    """Raise ValueError unless ``strength`` is in (0, 1] and leaves at least one denoising step."""
    check_range("strength", strength, 0.0, 1.0)
    if strength <= 0:
        raise ValueError(f"`strength` must be above 0 (0 would {zero_means}); expected a value in (0, 1].")
    if strength * num_inference_steps < 1:
        raise ValueError(
            f"`strength` {strength} x `num_inference_steps` {num_inference_steps} leaves no "
            "denoising step; it must be at least 1."
        )


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, kw_only=True)
class TaskResult:
    """What one run of a task made, each part optional, and the recipe that makes it again.

    ``audio`` is (channels, samples) float32 at ``sample_rate_hz``; ``image`` a spectrogram image
    (PIL RGB, Riffusion's convention, params in EXIF); ``pictures`` other images (PIL); ``files``
    what the task wrote (trained weights, checkpoints).
    """

    recipe: Recipe
    audio: np.ndarray | None = None
    sample_rate_hz: int | None = None
    image: Any = None
    pictures: tuple[Any, ...] = ()
    files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if (self.audio is None) != (self.sample_rate_hz is None):
            raise ValueError("a result's `audio` and `sample_rate_hz` come together; got one without the other.")

    @property
    def duration_s(self) -> float | None:
        """Length of the audio in seconds, None when the result has no audio."""
        return None if self.audio is None else self.audio.shape[-1] / self.sample_rate_hz  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Job specs
# ---------------------------------------------------------------------------------------------

#: Spec fields that recipes keep in their header, and the header field each goes to.
RECIPE_HEADER_FIELDS = {"model": "model_id", "revision": "model_revision", "seed": "seed", "loras": "loras",
                        "vocoder": "vocoder"}


@dataclass(frozen=True, eq=False)
class JobSpec:
    """Base of all job specs. A task's spec class sets ``kind`` (the task's name) and checks
    itself in ``__post_init__`` (calling ``super().__post_init__()`` first). Specs compare by
    identity unless their class asks for field equality (``@dataclass(eq=True)``)."""

    kind: ClassVar[str] = "job"
    #: Fields that change how a job runs but not what it makes; recipes leave them out and
    #: regenerating uses their defaults.
    run_only: ClassVar[frozenset[str]] = frozenset()
    #: Jobs that run for minutes or hours (training): the worker may treat them apart.
    long_running: ClassVar[bool] = False

    def __post_init__(self) -> None:
        pass

    def describe(self) -> str:
        """A short human label for the job panel."""
        return self.kind

    # -- recipes -----------------------------------------------------------------------------

    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        """The inputs a recipe of this spec records by fingerprint (``"audio"`` for a clip)."""
        return ()

    @classmethod
    def _input_field_names(cls) -> frozenset[str]:
        return frozenset()

    @classmethod
    def recorded_fields(cls) -> list[str]:
        """The fields a recipe keeps in ``params``: all but the header's, the inputs' and run-only ones."""
        skip = set(RECIPE_HEADER_FIELDS) | cls._input_field_names() | cls.run_only
        return [f.name for f in fields(cls) if f.init and f.name not in skip]

    def recipe_params(self) -> dict[str, Any]:
        """This job's settings as recipe ``params`` (JSON values)."""
        return {name: to_json_value(getattr(self, name)) for name in self.recorded_fields()}

    def recipe_inputs(self) -> dict[str, dict[str, Any]]:
        """Fingerprints of this job's inputs, by input name (nothing for a job without inputs)."""
        return {}

    def input_values(self) -> dict[str, Any]:
        """This job's inputs by name, as :meth:`from_recipe` takes them back (what a caller keeps
        to regenerate its results: the recipe holds only their fingerprints)."""
        return {}

    def make_recipe(
        self,
        *,
        seed: int | None,
        model_id: str | None = None,
        model_revision: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        vocoder: str | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> Recipe:
        """The recipe of a result this job made with ``seed`` on the model, device and dtype given."""
        loras = getattr(self, "loras", ())
        return Recipe(
            task=self.kind,
            params=self.recipe_params(),
            inputs=self.recipe_inputs(),
            facts=dict(facts or {}),
            model_id=model_id,
            model_revision=model_revision,
            seed=seed,
            loras=tuple((str(p), float(w)) for p, w in loras),
            device=device,
            dtype=dtype,
            vocoder=vocoder if vocoder is not None else getattr(self, "vocoder", None),
        )

    @classmethod
    def from_recipe(
        cls, recipe: Recipe, inputs: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> JobSpec:
        """The job that makes ``recipe``'s result again (one result, run-only fields at their defaults).

        ``inputs`` gives the inputs by name (``{"audio": AudioInput(samples, rate)}``);
        ``overrides`` sets run-only fields the recipe does not keep (a training job's
        ``output_dir``, ``preview_every``).

        Raises:
            MissingInputError: an input the recipe needs was not given (a ValueError).
            ValueError: the recipe is another task's, has settings this version does not know
                or lacks some, an input is not the one it was made from, or a value is invalid.
        """
        if recipe.task != cls.kind:
            raise ValueError(f"this recipe is for the task {recipe.task!r}, not {cls.kind!r}.")
        recorded = set(cls.recorded_fields())
        unknown = sorted(set(recipe.params) - recorded)
        if unknown:
            raise ValueError(
                f"the {cls.kind} recipe has settings this version does not know ({unknown}); it may be from a "
                "newer version."
            )
        kwargs: dict[str, Any] = {name: from_json_value(value) for name, value in recipe.params.items()}
        names = {f.name for f in fields(cls) if f.init}
        for name, header in RECIPE_HEADER_FIELDS.items():
            if name in names:
                value = getattr(recipe, header)
                if value is not None:
                    kwargs[name] = tuple(value) if name == "loras" else value
        kwargs.update(cls._fields_from_inputs(recipe, inputs or {}))
        kwargs.update(overrides or {})
        missing = [f.name for f in fields(cls)
                   if f.init and f.default is MISSING and f.default_factory is MISSING and f.name not in kwargs]
        if missing:
            raise ValueError(f"the {cls.kind} recipe lacks the settings {missing}.")
        return cls(**kwargs)

    @classmethod
    def _fields_from_inputs(cls, recipe: Recipe, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The spec fields that hold ``inputs`` (checked against the recipe's fingerprints)."""
        return {}


@dataclass(frozen=True, eq=False, kw_only=True)
class GenerationJob(JobSpec):
    """The fields every diffusion job shares.

    ``seed`` None picks a random seed when the job starts (recorded in the recipe). ``height``
    overrides the preset's mel bins (``None`` = the preset's; a multiple of 8).
    ``preview_every`` > 0 sends a decoded preview image every that many steps. ``vocoder`` turns
    the spectrogram into audio (``engine.vocoders``: a registry name or a vocoder folder).
    ``upsampler`` (``builtin:upsampler`` or a folder made by train_upsampler; "" for none; the
    starter model's card recommends one) extends the band of the job's new audio above the
    spectrogram's top: a generated clip (generate, interpolate) comes out at the upsampler's
    rate; an edit's new audio is upsampled to the clip's rate before it lands
    (:func:`engine.pipelines.landing.upsample_runs`), so an edit of a full-band clip is full-band.
    """

    kind: ClassVar[str] = "generation"
    run_only: ClassVar[frozenset[str]] = frozenset({"preview_every"})
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    num_inference_steps: int = 30
    guidance_scale: float = 7.0
    scheduler: str = DEFAULT_SCHEDULER
    model: str = DEFAULT_MODEL
    revision: str | None = None
    spectrogram_preset: str = "riffusion"
    height: int | None = None
    loras: tuple[tuple[str, float], ...] = ()
    preview_every: int = 0
    vocoder: str = GRIFFIN_LIM
    upsampler: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        from engine.vocoders import check_vocoder_name  # torch-free

        check_vocoder_name(self.vocoder)
        if not isinstance(self.upsampler, str):
            raise ValueError(f"`upsampler` must be text (a name, a folder or \"\" for none), got {self.upsampler!r}.")
        if not isinstance(self.prompt, str):
            raise ValueError(f"`prompt` must be a string, got {type(self.prompt).__name__}.")
        if not isinstance(self.negative_prompt, str):
            raise ValueError("`negative_prompt` must be a string.")
        from engine.audio.limits import check_prompt  # torch-free

        for name in ("prompt", "negative_prompt", "prompt_to", "prompt_left"):
            check_prompt(getattr(self, name, None), f"`{name}`")
        if self.seed is not None:
            check_int("seed", self.seed, 0, MAX_SEED)
        check_int("num_inference_steps", self.num_inference_steps, 1, MAX_STEPS)
        check_range("guidance_scale", self.guidance_scale, 0.0, 50.0)
        if self.scheduler not in SCHEDULER_NAMES:
            raise ValueError(
                f"`scheduler` must be one of {', '.join(SCHEDULER_NAMES)}, got {self.scheduler!r}."
            )
        if not self.model:
            raise ValueError("`model` must name a Hugging Face repo id or a local folder.")
        for lora in self.loras:
            if not (isinstance(lora, tuple) and len(lora) == 2):
                raise ValueError(f"each LoRA must be a (path_or_id, weight) pair, got {lora!r}.")
            check_range("LoRA weight", lora[1], -4.0, 4.0)
        check_int("preview_every", self.preview_every, 0, MAX_STEPS)
        if self.height is not None:
            check_int("height", self.height, 8, 2048)
            if self.height % 8:
                raise ValueError(f"`height` has to be divisible by 8 but is {self.height}.")

    def recipe_params(self) -> dict[str, Any]:
        params = super().recipe_params()
        if not self.upsampler:
            del params["upsampler"]  # recipes from before upsamplers read the same: none
        return params

    def spectrogram_params(self) -> Any:
        """The job's ``SpectrogramParams``: its preset, with ``num_frequencies`` = ``height`` if set.

        Raises ValueError (from ``get_preset``) for an unknown preset name.
        """
        from engine.audio.params import get_preset

        params = get_preset(self.spectrogram_preset)
        if self.height is not None and self.height != params.num_frequencies:
            params = replace(params, num_frequencies=self.height)
        return params

    @classmethod
    def from_recipe(
        cls, recipe: Recipe, inputs: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> JobSpec:
        """As :meth:`JobSpec.from_recipe`; also raises ValueError when the recipe's spectrogram
        parameters are not its preset's (this version's preset changed: it could not reproduce them)."""
        spec = super().from_recipe(recipe, inputs, overrides)
        recorded = recipe.facts.get("spectrogram")
        if recorded is not None and recorded != spec.spectrogram_params().to_dict():  # type: ignore[attr-defined]
            raise ValueError(
                f"the recipe's spectrogram parameters differ from the {spec.spectrogram_preset!r} preset; it "  # type: ignore[attr-defined]
                f"cannot be regenerated by a {cls.kind} job."
            )
        return spec


@dataclass(frozen=True, eq=False, kw_only=True)
class WindowedJob(GenerationJob):
    """A diffusion job that works on windows of ``window_s`` seconds and resynthesises audio with
    ``griffin_lim_iters`` Griffin-Lim iterations (the quality/speed trade-off)."""

    kind: ClassVar[str] = "windowed"
    window_s: float = 5.12
    griffin_lim_iters: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("griffin_lim_iters", self.griffin_lim_iters, 0, 1000)
        check_range("window_s", self.window_s, 0.64, 60.0)


class AudioInput(NamedTuple):
    """An input clip for :meth:`JobSpec.from_recipe`: float32 (channels, samples) and its rate."""

    samples: np.ndarray
    sample_rate_hz: int


@dataclass(frozen=True, eq=False, kw_only=True)
class AudioInputJob(JobSpec):
    """A job on one clip. ``audio`` is the clip (channels, samples) float32, captured on the GUI
    thread; the spec keeps its own read-only copy, at its own ``sample_rate_hz`` and channel count.
    Times are seconds from the clip's first sample.

    The clip is the job's input ``"audio"``: its recipe keeps the fingerprint, shape and rate
    (not the samples), and :meth:`from_recipe` needs it back as ``inputs={"audio": AudioInput(...)}``.
    """

    kind: ClassVar[str] = "audio_input"
    audio: np.ndarray = field(repr=False)
    sample_rate_hz: int

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("sample_rate_hz", self.sample_rate_hz, 1000, 768000)
        audio = self.audio
        if not isinstance(audio, np.ndarray) or audio.ndim != 2 or audio.dtype != np.float32:
            shape = getattr(audio, "shape", None)
            dtype = getattr(audio, "dtype", type(audio).__name__)
            raise ValueError(
                f"`audio` must be a float32 numpy array shaped (channels, samples), got {dtype} with shape {shape}."
            )
        if not 1 <= audio.shape[0] <= 8 or audio.shape[1] < 1:
            raise ValueError(f"`audio` must have 1 to 8 channels and at least one sample, got shape {audio.shape}.")
        if not np.isfinite(audio).all():
            raise ValueError("`audio` contains NaN or infinite samples.")
        frozen = audio.copy()
        frozen.flags.writeable = False
        object.__setattr__(self, "audio", frozen)

    @property
    def duration_s(self) -> float:
        """Length of the input clip in seconds."""
        return self.audio.shape[1] / self.sample_rate_hz

    def _check_span(self, start_name: str, start_s: float, end_name: str, end_s: float) -> None:
        check_range(start_name, start_s, 0.0, MAX_DURATION_S)
        check_range(end_name, end_s, 0.0, MAX_DURATION_S)
        if not start_s < end_s:
            raise ValueError(f"`{end_name}` ({end_s} s) must be after `{start_name}` ({start_s} s).")
        if end_s > self.duration_s + 0.5 / self.sample_rate_hz:
            raise ValueError(
                f"`{end_name}` ({end_s} s) is past the end of the {self.duration_s:.3f} s clip."
            )

    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        return ("audio",)

    @classmethod
    def _input_field_names(cls) -> frozenset[str]:
        return frozenset({"audio", "sample_rate_hz"})

    def recipe_inputs(self) -> dict[str, dict[str, Any]]:
        return {"audio": audio_record(self.audio, self.sample_rate_hz)}

    def input_values(self) -> dict[str, Any]:
        return {"audio": AudioInput(self.audio, self.sample_rate_hz)}

    @classmethod
    def _fields_from_inputs(cls, recipe: Recipe, inputs: Mapping[str, Any]) -> dict[str, Any]:
        record = recipe.inputs.get("audio", {})
        given = inputs.get("audio")
        if given is None:
            raise MissingInputError(recipe.task, "audio", record)
        samples, rate = given
        expected = record.get("sha256")
        if expected is not None and expected != audio_fingerprint(np.asarray(samples), int(rate)):
            raise ValueError(
                "this audio is not the input the recipe was made from (its fingerprint differs); "
                "regenerating needs the same input audio."
            )
        return {"audio": samples, "sample_rate_hz": int(rate)}


@dataclass(frozen=True, eq=False, kw_only=True)
class EditJob(WindowedJob, AudioInputJob):
    """A diffusion edit of one clip: a generation job with an input clip. The edit runs on a copy
    at the spectrogram preset's rate and only the new audio comes back to the clip's rate; every
    result's audio is the full edited clip at the clip's rate and channels, ready to replace it."""

    kind: ClassVar[str] = "edit"


@dataclass(frozen=True, eq=False, kw_only=True)
class RegionEditJob(EditJob):
    """An edit that repaints a region of the clip and splices the new audio in (inpaint, loop).

    ``strength`` (0, 1]: 1 regenerates from noise, lower keeps more of the original region.
    ``feather_px`` softens the mask's edges inwards (pixels); ``context_s`` is the least context
    each window shows the model on either side of the region when it needs several windows
    (None: 1 s, or a quarter of the window if that is less);
    ``crossfade_s`` is the linear crossfade at the edges of the replaced time span (inside it).
    """

    kind: ClassVar[str] = "region_edit"
    strength: float = 1.0
    feather_px: int = 4
    context_s: float | None = None
    crossfade_s: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        check_strength(self.strength, self.num_inference_steps, "change nothing")
        check_int("feather_px", self.feather_px, 0, 64)
        if self.context_s is not None:
            check_range("context_s", self.context_s, 0.0, self.window_s / 2 - 0.08)
        check_range("crossfade_s", self.crossfade_s, 0.0, 0.5)

    @property
    def context_seconds(self) -> float:
        """``context_s``, or its default for the window when None."""
        return min(1.0, self.window_s / 4) if self.context_s is None else self.context_s


#: A checkpoint folder's name: ``step-`` and the step, zero-padded so they sort.
_CHECKPOINT = re.compile(r"^step-(\d{8})$")
#: Written last into a checkpoint folder: a folder without it is incomplete and never resumed.
CHECKPOINT_COMPLETE = "complete"


@dataclass(frozen=True, eq=False, kw_only=True)
class TrainingJob(JobSpec):
    """A long-running job that trains for ``num_steps`` steps and writes files into ``output_dir``.

    Every ``checkpoint_every`` steps (0: never) the runner saves a checkpoint into
    :meth:`checkpoint_dir` and marks it complete last (:meth:`mark_complete`); with ``resume`` it
    starts from the newest complete checkpoint (:meth:`latest_checkpoint`) instead of step 0.
    Its result's ``files`` are what it made; its recipe records the training settings and the
    fingerprints of its data. Where it writes and whether it resumes are run-only.
    """

    kind: ClassVar[str] = "training"
    run_only: ClassVar[frozenset[str]] = frozenset({"output_dir", "resume", "checkpoint_every"})
    long_running: ClassVar[bool] = True
    output_dir: str
    num_steps: int
    checkpoint_every: int = 0
    resume: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.output_dir, str) or not self.output_dir.strip():
            raise ValueError(f"`output_dir` must name a folder, got {self.output_dir!r}.")
        check_int("num_steps", self.num_steps, 1, 10_000_000)
        check_int("checkpoint_every", self.checkpoint_every, 0, self.num_steps)
        if not isinstance(self.resume, bool):
            raise ValueError(f"`resume` must be True or False, got {self.resume!r}.")
        if self.seed is not None:
            check_int("seed", self.seed, 0, MAX_SEED)

    def checkpoint_dir(self, step: int) -> Path:
        """Where the checkpoint after ``step`` steps goes: ``output_dir/checkpoints/step-NNNNNNNN``."""
        return Path(self.output_dir) / "checkpoints" / f"step-{step:08d}"

    def due_checkpoint(self, step: int) -> bool:
        """Whether to save a checkpoint after ``step`` steps (every ``checkpoint_every``, not at the end)."""
        return bool(self.checkpoint_every) and step % self.checkpoint_every == 0 and step < self.num_steps

    def save_checkpoint(self, step: int, write: Callable[[Path], Any]) -> Path | None:
        """The checkpoint after ``step`` steps, if one is due (:meth:`due_checkpoint`): makes its folder,
        lets ``write(folder)`` fill it, then marks it complete. Returns the folder, or None when none was due."""
        if not self.due_checkpoint(step):
            return None
        folder = self.checkpoint_dir(step)
        folder.mkdir(parents=True, exist_ok=True)
        write(folder)
        self.mark_complete(folder)
        return folder

    @staticmethod
    def mark_complete(folder: Path) -> None:
        """Mark a checkpoint folder whose files are all written as complete (call it last)."""
        (Path(folder) / CHECKPOINT_COMPLETE).write_text("", encoding="utf-8")

    def latest_checkpoint(self) -> tuple[int, Path] | None:
        """The newest complete checkpoint in ``output_dir`` as ``(step, folder)``, or None."""
        root = Path(self.output_dir) / "checkpoints"
        found = []
        if root.is_dir():
            for folder in root.iterdir():
                match = _CHECKPOINT.match(folder.name)
                if match and (folder / CHECKPOINT_COMPLETE).is_file():
                    found.append((int(match.group(1)), folder))
        return max(found) if found else None

    def clear_checkpoints(self) -> list[int]:
        """Delete the checkpoint folders (``step-NNNNNNNN``, complete or not) an earlier run left in
        ``output_dir``: call it when a new run (not a resume) starts there, or a later resume would
        go on from the old run's newest checkpoint. Anything else in ``checkpoints/`` is kept (and the
        folder with it). Returns the steps deleted, oldest first (tell the user:
        :func:`cleared_checkpoints_message`)."""
        return clear_checkpoints(self.output_dir)


def clear_checkpoints(run_dir: str | Path) -> list[int]:
    """:meth:`TrainingJob.clear_checkpoints` for the run folder ``run_dir`` (a trainer that keeps its
    checkpoints in the same ``checkpoints/step-NNNNNNNN/`` layout without a job, such as the LoRA one)."""
    import shutil

    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    steps = sorted((int(m.group(1)), folder) for folder in root.iterdir()
                   if (m := _CHECKPOINT.match(folder.name)) and folder.is_dir() and not folder.is_symlink())
    for _step, folder in steps:
        shutil.rmtree(folder)
    try:
        root.rmdir()  # only when nothing else is in it
    except OSError:
        pass
    return [step for step, _folder in steps]


def cleared_checkpoints_message(run_dir: str | Path, steps: list[int]) -> str:
    """What a new run says after :func:`clear_checkpoints` deleted an earlier run's checkpoints."""
    what = "the checkpoint" if len(steps) == 1 else f"the {len(steps)} checkpoints"
    return (f"Deleted {what} an earlier run left in '{Path(run_dir) / 'checkpoints'}' (the newest after "
            f"step {steps[-1]}): this new run starts from step 0")


# ---------------------------------------------------------------------------------------------
# Progress and events
# ---------------------------------------------------------------------------------------------

#: Stages a job reports, in the order they usually happen.
STAGES = ("queued", "download", "load", "tile", "encode", "denoise", "decode", "invert", "save")


@dataclass(frozen=True, eq=False)
class Progress:
    """Yielded by a running job: each one is a progress report and a cancel point.

    ``step``/``total`` count within the stage (denoising steps, bytes for downloads, tiles).
    ``preview`` is an optional RGB uint8 image (H, W, 3) of the spectrogram being made.
    """

    stage: str
    step: int = 0
    total: int = 0
    message: str = ""
    preview: np.ndarray | None = None
    bytes_done: int | None = None
    bytes_total: int | None = None
    rate_bytes_per_s: float | None = None
    eta_s: float | None = None

    @property
    def fraction(self) -> float | None:
        return self.step / self.total if self.total else None


def run_to_end(gen: Generator[Any, None, Any]) -> Any:
    """Run a job's (or any) generator to its end outside the worker (scripts, benches, tests, a
    sampler's steps): its return value; what it yields is dropped."""
    return collect_progress(gen, keep=False)[0]


def collect_progress(gen: Generator[Any, None, Any], *, keep: bool = True) -> tuple[Any, list[Any]]:
    """Run ``gen`` to its end: ``(its return value, what it yielded)`` (an empty list unless ``keep``)."""
    yielded: list[Any] = []
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value, yielded
        if keep:
            yielded.append(item)


@dataclass(frozen=True, eq=False)
class JobEvent:
    job_id: int


@dataclass(frozen=True, eq=False)
class JobQueued(JobEvent):
    spec: JobSpec


@dataclass(frozen=True, eq=False)
class JobStarted(JobEvent):
    spec: JobSpec


@dataclass(frozen=True, eq=False)
class JobProgress(JobEvent):
    progress: Progress


@dataclass(frozen=True, eq=False)
class JobFinished(JobEvent):
    result: Any  # tuple[TaskResult, ...] for the tasks that make results


@dataclass(frozen=True, eq=False)
class JobFailed(JobEvent):
    message: str
    error_type: str


@dataclass(frozen=True, eq=False)
class JobCancelled(JobEvent):
    pass


@dataclass(frozen=True, eq=False)
class JobPaused(JobEvent):
    """A long job stopped between two steps on request (its model stays loaded)."""


@dataclass(frozen=True, eq=False)
class JobResumed(JobEvent):
    """A paused long job goes on."""


class JobCancelledError(Exception):
    """Raised inside a job when the user cancelled it."""
