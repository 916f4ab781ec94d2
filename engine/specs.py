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
    from engine.audio.limits import check_prompt  # torch-free

    for name in ("prompt", "negative_prompt", "prompt_to", "prompt_left"):
        check_prompt(getattr(spec, name, None), f"`{name}`")
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


# ---------------------------------------------------------------------------------------------
# Spectrogram edits (issue 4): inpaint, extend, loop, variations, interpolation
# ---------------------------------------------------------------------------------------------

#: The most audio one extend job adds (left + right), in seconds.
MAX_EXTEND_S = 60.0
#: The most segments one interpolation job makes.
MAX_INTERPOLATION_STEPS = 64
#: Box of an inpainting mask: (start_s, end_s, fmin_hz or None, fmax_hz or None), in clip time.
Box = tuple[float, float, "float | None", "float | None"]


def _check_optional_band(spec: Any, fmin_name: str, fmin: float | None, fmax: float | None) -> None:
    nyquist = spec.sample_rate_hz / 2
    if fmin is not None:
        _check_range(fmin_name, fmin, 0.0, nyquist)
    if fmax is not None:
        _check_range(fmin_name.replace("fmin", "fmax"), fmax, 0.0, nyquist)
    if fmin is not None and fmax is not None and not fmin < fmax:
        raise ValueError(f"`{fmin_name}` ({fmin} Hz) must be below `{fmin_name.replace('fmin', 'fmax')}` ({fmax} Hz).")


def _check_strength(strength: float, num_inference_steps: int, zero_means: str) -> None:
    _check_range("strength", strength, 0.0, 1.0)
    if strength <= 0:
        raise ValueError(f"`strength` must be above 0 (0 would {zero_means}); expected a value in (0, 1].")
    if strength * num_inference_steps < 1:
        raise ValueError(
            f"`strength` {strength} x `num_inference_steps` {num_inference_steps} leaves no "
            "denoising step; it must be at least 1."
        )


@dataclass(frozen=True, eq=False, kw_only=True)
class GenerationJob(JobSpec):
    """The fields every diffusion job shares (the edit jobs and interpolation).

    ``seed`` None picks a random seed when the job starts (recorded in the recipe). ``height``
    overrides the preset's mel bins (``None`` = the preset's; a multiple of 8).
    ``griffin_lim_iters`` is the resynthesis quality/speed trade-off.
    """

    kind: ClassVar[str] = "generation"
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    num_inference_steps: int = 30
    guidance_scale: float = 7.0
    scheduler: str = DEFAULT_SCHEDULER
    model: str = "riffusion/riffusion-model-v1"
    revision: str | None = None
    spectrogram_preset: str = "riffusion"
    height: int | None = None
    loras: tuple[tuple[str, float], ...] = ()
    preview_every: int = 0
    window_s: float = 5.12
    griffin_lim_iters: int = 32

    def __post_init__(self) -> None:
        _check_common_generation(self)
        _check_int("preview_every", self.preview_every, 0, MAX_STEPS)
        _check_int("griffin_lim_iters", self.griffin_lim_iters, 0, 1000)
        _check_range("window_s", self.window_s, 0.64, 60.0)
        if self.height is not None:
            _check_int("height", self.height, 8, 2048)
            if self.height % 8:
                raise ValueError(f"`height` has to be divisible by 8 but is {self.height}.")


@dataclass(frozen=True, eq=False, kw_only=True)
class AudioEditJob(GenerationJob):
    """An edit of one clip. ``audio`` is the clip (channels, samples) float32, captured on the GUI
    thread; the spec keeps its own read-only copy, at its own ``sample_rate_hz`` and channel count:
    the edit runs on a copy at the spectrogram preset's rate and only the new audio comes back to
    the clip's rate. Times are seconds from the clip's first sample.

    Every result's audio is the full edited clip at the clip's rate and channels, ready to replace it.
    """

    kind: ClassVar[str] = "audio_edit"
    audio: np.ndarray = field(repr=False)
    sample_rate_hz: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("sample_rate_hz", self.sample_rate_hz, 1000, 768000)
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
        _check_range(start_name, start_s, 0.0, MAX_DURATION_S)
        _check_range(end_name, end_s, 0.0, MAX_DURATION_S)
        if not start_s < end_s:
            raise ValueError(f"`{end_name}` ({end_s} s) must be after `{start_name}` ({start_s} s).")
        if end_s > self.duration_s + 0.5 / self.sample_rate_hz:
            raise ValueError(
                f"`{end_name}` ({end_s} s) is past the end of the {self.duration_s:.3f} s clip."
            )


@dataclass(frozen=True, eq=False, kw_only=True)
class RegionEditJob(AudioEditJob):
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
        _check_strength(self.strength, self.num_inference_steps, "change nothing")
        _check_int("feather_px", self.feather_px, 0, 64)
        if self.context_s is not None:
            _check_range("context_s", self.context_s, 0.0, self.window_s / 2 - 0.08)
        _check_range("crossfade_s", self.crossfade_s, 0.0, 0.5)

    @property
    def context_seconds(self) -> float:
        """``context_s``, or its default for the window when None."""
        return min(1.0, self.window_s / 4) if self.context_s is None else self.context_s


@dataclass(frozen=True, eq=False, kw_only=True)
class InpaintJob(RegionEditJob):
    """Regenerate a region of a clip's spectrogram (issue 4, part 2).

    The region is exactly one of:

    * ``start_s``/``end_s`` (a time band), optionally limited to ``fmin_hz``..``fmax_hz``;
    * ``boxes``: rectangles ``(start_s, end_s, fmin_hz or None, fmax_hz or None)``, their union;
    * ``mask``: a painted mask ``(mel bins, columns)`` in [0, 1] (1 = regenerate, binarised at
      0.5), rows are mel bins with row 0 the lowest frequency, columns the clip's spectrogram
      columns (``samples // hop_length``, 10 ms each in the riffusion preset).
    """

    kind: ClassVar[str] = "inpaint"
    start_s: float | None = None
    end_s: float | None = None
    fmin_hz: float | None = None
    fmax_hz: float | None = None
    boxes: tuple[Box, ...] = ()
    mask: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        has_span = self.start_s is not None or self.end_s is not None
        given = [name for name, present in (("start_s/end_s", has_span), ("boxes", bool(self.boxes)),
                                            ("mask", self.mask is not None)) if present]
        if len(given) != 1:
            raise ValueError(
                "give exactly one region to inpaint: `start_s` and `end_s` (optionally `fmin_hz`/`fmax_hz`), "
                f"`boxes`, or a painted `mask`; got {', '.join(given) or 'none'}."
            )
        if has_span:
            if self.start_s is None or self.end_s is None:
                raise ValueError("a time band needs both `start_s` and `end_s`.")
            self._check_span("start_s", self.start_s, "end_s", self.end_s)
            _check_optional_band(self, "fmin_hz", self.fmin_hz, self.fmax_hz)
        elif self.fmin_hz is not None or self.fmax_hz is not None:
            raise ValueError("`fmin_hz`/`fmax_hz` limit a `start_s`/`end_s` band; put limits into each box instead.")
        if self.boxes:
            boxes = []
            for i, box in enumerate(self.boxes):
                if len(box) != 4:
                    raise ValueError(f"boxes[{i}] must be (start_s, end_s, fmin_hz, fmax_hz), got {box!r}.")
                start, end, fmin, fmax = box
                self._check_span(f"boxes[{i}] start_s", start, f"boxes[{i}] end_s", end)
                _check_optional_band(self, f"boxes[{i}] fmin_hz", fmin, fmax)
                boxes.append((float(start), float(end), None if fmin is None else float(fmin),
                              None if fmax is None else float(fmax)))
            object.__setattr__(self, "boxes", tuple(boxes))
        if self.mask is not None:
            mask = np.asarray(self.mask)
            if mask.ndim != 2 or mask.dtype.kind not in "fbu":
                raise ValueError(f"`mask` must be a 2-D array (mel bins, columns), got shape {mask.shape}.")
            mask = mask.astype(np.float32)
            if not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
                raise ValueError("`mask` values must be finite and in [0, 1] (1 = regenerate).")
            mask.flags.writeable = False
            object.__setattr__(self, "mask", mask)

    def describe(self) -> str:
        return f"Inpaint: {self.prompt[:40]}" if self.prompt else "Inpaint"


@dataclass(frozen=True, eq=False, kw_only=True)
class ExtendJob(AudioEditJob):
    """Extend a clip by ``left_s`` and/or ``right_s`` seconds (outpainting; issue 4, part 3).

    ``prompt`` steers the right side (and the left one unless ``prompt_left`` is given). The
    window slides outwards from the clip, each step seeing ``context_s`` seconds (None: 2.5 s, or
    half the window if that is less) of what is
    already there; ``feather_px`` columns of the clip's image are faded into the new image at the
    seam (the clip's samples are kept exactly). At most :data:`MAX_EXTEND_S` seconds in one job.
    """

    kind: ClassVar[str] = "extend"
    left_s: float = 0.0
    right_s: float = 0.0
    prompt_left: str | None = None
    context_s: float | None = None
    feather_px: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range("left_s", self.left_s, 0.0, MAX_DURATION_S)
        _check_range("right_s", self.right_s, 0.0, MAX_DURATION_S)
        if self.left_s + self.right_s <= 0:
            raise ValueError("nothing to extend: `left_s` and `right_s` are both 0; expected seconds on at least one side.")
        if self.left_s + self.right_s > MAX_EXTEND_S:
            raise ValueError(
                f"one extend job adds at most {MAX_EXTEND_S:g} s, got {self.left_s + self.right_s:g} s "
                f"(`left_s` {self.left_s:g} + `right_s` {self.right_s:g}); extend in several steps."
            )
        if self.prompt_left is not None and not isinstance(self.prompt_left, str):
            raise ValueError("`prompt_left` must be a string or None.")
        if self.context_s is not None:
            _check_range("context_s", self.context_s, 0.0, self.window_s - 0.64)
        _check_int("feather_px", self.feather_px, 0, 64)

    @property
    def context_seconds(self) -> float:
        """``context_s``, or its default for the window when None."""
        return min(2.5, self.window_s / 2) if self.context_s is None else self.context_s

    def describe(self) -> str:
        sides = " + ".join(f"{s:g} s {side}" for s, side in ((self.left_s, "left"), (self.right_s, "right")) if s)
        return f"Extend {sides}"


@dataclass(frozen=True, eq=False, kw_only=True)
class LoopJob(RegionEditJob):
    """Make a clip, or its ``start_s``..``end_s`` range, loop seamlessly (issue 4, part 4).

    The wrap-around seam is inpainted: the loop is rotated so the seam sits in the middle, a band
    of ``seam_s`` seconds around it is regenerated from ``prompt``, and the loop is rotated back.
    The result's audio is the loop (the range), not the whole clip; outside the band every sample
    is the input's.
    """

    kind: ClassVar[str] = "loop"
    start_s: float | None = None
    end_s: float | None = None
    seam_s: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        start = 0.0 if self.start_s is None else self.start_s
        end = self.duration_s if self.end_s is None else self.end_s
        self._check_span("start_s", start, "end_s", end)
        _check_range("seam_s", self.seam_s, 0.08, 20.0)
        if end - start < 2 * self.seam_s:
            raise ValueError(
                f"the loop is {end - start:.3f} s long; it must be at least twice `seam_s` ({self.seam_s:g} s)."
            )

    def describe(self) -> str:
        return "Make loop"


@dataclass(frozen=True, eq=False, kw_only=True)
class VariationJob(AudioEditJob):
    """Audio-to-audio variations of the whole clip (img2img; issue 4, part 5).

    ``strength`` in (0, 1]: Riffusion suggests about 0.4 for light and 0.55 for heavy changes.
    Clips longer than one window are processed in windows overlapping by ``overlap_s`` and
    crossfaded (equal power). ``num_variations`` results use seeds ``seed``, ``seed + 1``, ...
    Each result has the input's length and channel count.
    """

    kind: ClassVar[str] = "variation"
    strength: float = 0.55
    overlap_s: float = 0.2
    num_variations: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_strength(self.strength, self.num_inference_steps, "return the input")
        _check_range("overlap_s", self.overlap_s, 0.0, self.window_s / 2)
        _check_int("num_variations", self.num_variations, 1, MAX_VARIATIONS)

    def describe(self) -> str:
        return f"Vary: {self.prompt[:40]}" if self.prompt else "Vary"


@dataclass(frozen=True, eq=False, kw_only=True)
class InterpolateJob(GenerationJob):
    """One continuous clip moving from ``prompt``/``seed`` to ``prompt_to``/``seed_to`` (issue 4, part 5).

    ``num_steps`` segments of ``window_s`` seconds; segment ``i`` uses ``alpha = i / (num_steps - 1)``:
    text embeddings interpolated linearly, initial noise spherically (slerp), as Riffusion does.
    Consecutive segments are crossfaded (equal power) over ``crossfade_s``. ``seed_to`` None uses
    ``seed`` (a prompt-only interpolation); ``negative_prompt`` applies throughout.
    """

    kind: ClassVar[str] = "interpolate"
    prompt_to: str = ""
    seed_to: int | None = None
    num_steps: int = 5
    crossfade_s: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.prompt_to, str):
            raise ValueError("`prompt_to` must be a string.")
        if self.seed_to is not None:
            _check_int("seed_to", self.seed_to, 0, MAX_SEED)
        _check_int("num_steps", self.num_steps, 2, MAX_INTERPOLATION_STEPS)
        _check_range("crossfade_s", self.crossfade_s, 0.0, self.window_s / 2)
        total = self.num_steps * self.window_s - (self.num_steps - 1) * self.crossfade_s
        if total > MAX_DURATION_S:
            raise ValueError(f"the interpolation would last {total:.1f} s; at most {MAX_DURATION_S:g} s.")

    def describe(self) -> str:
        return f"Interpolate: {self.prompt[:20]} -> {self.prompt_to[:20]}"


def with_seed(spec: JobSpec, seed: int) -> JobSpec:
    """A copy of ``spec`` with ``seed`` fixed (for specs that have one)."""
    return replace(spec, seed=seed)  # type: ignore[type-var]


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
