"""Immutable job specs, recipes, results and events: the data that crosses the engine's door.

Everything here is plain data (dataclasses, numpy arrays, PIL images): no torch, no Qt. The GUI
thread builds a spec from its document state and hands it to :class:`engine.api.Engine`; nothing on
the worker ever reads GUI state. Results and events come back as the same plain data.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np

#: Scheduler names accepted by every generation task (see engine.pipelines.schedulers).
SCHEDULER_NAMES = ("dpm++2m-karras", "dpm++2m", "euler", "euler-a", "ddim", "pndm", "lms")
DEFAULT_SCHEDULER = "dpm++2m-karras"
MAX_SEED = 2**32 - 1
MAX_STEPS = 1000
MAX_VARIATIONS = 16
MAX_DURATION_S = 600.0

# ---------------------------------------------------------------------------------------------
# Checks shared by the specs. Each raises ValueError saying what was wrong and what was expected.
# ---------------------------------------------------------------------------------------------


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}.")
    if not lo <= value <= hi:
        raise ValueError(f"`{name}` must be between {lo} and {hi}, got {value}.")


def _check_int(name: str, value: int, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    _check_range(name, value, lo, hi)


def _check_common_generation(spec: Any) -> None:
    if not isinstance(spec.prompt, str):
        raise ValueError(f"`prompt` must be a string, got {type(spec.prompt).__name__}.")
    if not isinstance(spec.negative_prompt, str):
        raise ValueError("`negative_prompt` must be a string.")
    if spec.seed is not None:
        _check_int("seed", spec.seed, 0, MAX_SEED)
    _check_int("num_inference_steps", spec.num_inference_steps, 1, MAX_STEPS)
    _check_range("guidance_scale", spec.guidance_scale, 0.0, 50.0)
    if spec.scheduler not in SCHEDULER_NAMES:
        raise ValueError(
            f"`scheduler` must be one of {', '.join(SCHEDULER_NAMES)}, got {spec.scheduler!r}."
        )
    if not spec.model:
        raise ValueError("`model` must name a Hugging Face repo id or a local folder.")
    for lora in spec.loras:
        if not (isinstance(lora, tuple) and len(lora) == 2):
            raise ValueError(f"each LoRA must be a (path_or_id, weight) pair, got {lora!r}.")
        _check_range("LoRA weight", lora[1], -4.0, 4.0)


# ---------------------------------------------------------------------------------------------
# Recipes and results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """Everything needed to regenerate a result identically on the same device.

    ``spectrogram`` is ``SpectrogramParams.to_dict()``; ``loras`` are ``(path_or_id, weight)``
    pairs; ``extra`` holds task-specific settings (mask, strength, tiles, ...), JSON-able only.
    """

    task: str
    model_id: str
    model_revision: str | None
    prompt: str
    negative_prompt: str
    seed: int
    num_inference_steps: int
    guidance_scale: float
    scheduler: str
    width: int
    height: int
    spectrogram: dict[str, Any]
    loras: tuple[tuple[str, float], ...] = ()
    device: str = "cpu"
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)
    engine_version: str = "0.1.0"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["loras"] = [list(pair) for pair in self.loras]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown recipe fields {sorted(unknown)}; this recipe may be from a newer version.")
        data = dict(data)
        data["loras"] = tuple((str(p), float(w)) for p, w in data.get("loras", ()))
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the recipe is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("the recipe must be a JSON object.")
        return cls.from_dict(data)


@dataclass(frozen=True, eq=False)
class GenerationResult:
    """One generated clip: audio (channels, samples) float32, its spectrogram image, its recipe."""

    audio: np.ndarray
    sample_rate_hz: int
    image: Any  # PIL.Image.Image (RGB, Riffusion's convention, params in EXIF)
    recipe: Recipe

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate_hz


# ---------------------------------------------------------------------------------------------
# Job specs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """Base of all job specs. Subclasses set ``kind`` and check themselves in ``__post_init__``."""

    kind: ClassVar[str] = "job"

    def describe(self) -> str:
        """A short human label for the job panel."""
        return self.kind


@dataclass(frozen=True)
class TextToAudioJob(JobSpec):
    """Generate ``num_variations`` clips from a text prompt.

    ``seed`` None picks a random seed when the job starts (recorded in each result's recipe);
    variation ``i`` uses ``seed + i``. ``duration_s`` is rounded to a whole number of 8-pixel
    image columns of the spectrogram preset (5.12 s is 512 px for the ``riffusion`` preset).
    ``preview_every`` > 0 sends a decoded preview image every that many steps.
    """

    kind: ClassVar[str] = "text_to_audio"
    prompt: str
    negative_prompt: str = ""
    seed: int | None = None
    num_inference_steps: int = 30
    guidance_scale: float = 7.0
    scheduler: str = DEFAULT_SCHEDULER
    duration_s: float = 5.12
    height: int | None = None
    num_variations: int = 1
    model: str = "riffusion/riffusion-model-v1"
    revision: str | None = None
    spectrogram_preset: str = "riffusion"
    loras: tuple[tuple[str, float], ...] = ()
    preview_every: int = 0

    def __post_init__(self) -> None:
        _check_common_generation(self)
        _check_range("duration_s", self.duration_s, 0.08, MAX_DURATION_S)
        _check_int("num_variations", self.num_variations, 1, MAX_VARIATIONS)
        _check_int("preview_every", self.preview_every, 0, MAX_STEPS)
        if self.height is not None:
            _check_int("height", self.height, 8, 2048)
            if self.height % 8:
                raise ValueError(f"`height` has to be divisible by 8 but is {self.height}.")

    def describe(self) -> str:
        return f"Generate: {self.prompt[:40]}" if self.prompt else "Generate"


@dataclass(frozen=True)
class DownloadModelJob(JobSpec):
    """Download a model from the Hugging Face hub into the shared cache (progress: bytes, rate, ETA)."""

    kind: ClassVar[str] = "download_model"
    model: str
    revision: str | None = None

    def __post_init__(self) -> None:
        if not self.model or "/" not in self.model:
            raise ValueError(f"`model` must be a hub repo id like 'org/name', got {self.model!r}.")

    def describe(self) -> str:
        return f"Download {self.model}"


@dataclass(frozen=True)
class UnloadModelsJob(JobSpec):
    """Free the loaded pipelines (and GPU memory) between jobs."""

    kind: ClassVar[str] = "unload_models"

    def describe(self) -> str:
        return "Unload models"


def with_seed(spec: JobSpec, seed: int) -> JobSpec:
    """A copy of ``spec`` with ``seed`` fixed (for specs that have one)."""
    return replace(spec, seed=seed)  # type: ignore[type-var]


# ---------------------------------------------------------------------------------------------
# Progress and events
# ---------------------------------------------------------------------------------------------

#: Stages a job reports, in the order they usually happen.
STAGES = ("queued", "download", "load", "encode", "denoise", "decode", "invert", "save")


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
    result: Any  # tuple[GenerationResult, ...] for generation jobs


@dataclass(frozen=True, eq=False)
class JobFailed(JobEvent):
    message: str
    error_type: str


@dataclass(frozen=True, eq=False)
class JobCancelled(JobEvent):
    pass


class JobCancelledError(Exception):
    """Raised inside a job when the user cancelled it."""
