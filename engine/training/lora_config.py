"""LoRA training settings, presets by memory and estimates: plain data, no torch.

The task spec (:mod:`engine.tasks.train_lora`), the wizard and the CLI use these without
importing torch; the trainer (:mod:`engine.training.lora`) runs them.

Presets by memory: ``cpu-starter`` (the shipped starter model on a CPU, a few minutes on 2 cores),
``gpu-6gb``, ``gpu-8gb``, ``gpu-12gb``, ``gpu-24gb`` (SD 1.5-sized models at 512 px on a CUDA GPU
with that much memory). ``cpu`` is the old name of ``cpu-starter``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

FORMATS = ("diffusers", "kohya")
LR_SCHEDULES = ("constant", "cosine", "linear")
MIXED_PRECISIONS = ("no", "fp16", "bf16")


class LoraTrainingError(ValueError):
    """A training run cannot start or continue; the message says why in one line."""


@dataclass(frozen=True)
class LoraTrainConfig:
    """The settings of one run. Defaults follow diffusers' ``train_text_to_image_lora.py``."""

    rank: int = 4
    alpha: float = 4.0
    learning_rate: float = 1e-4
    train_text_encoder: bool = False
    text_encoder_lr: float | None = None  # None: the UNet's rate
    max_steps: int = 500
    epochs: float | None = None  # set: the number of steps is worked out from it
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    snr_gamma: float | None = 5.0
    max_grad_norm: float = 1.0
    caption_dropout: float = 0.0
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    use_8bit_adam: bool = False
    seed: int = 0
    validation_fraction: float = 0.1
    validation_every: int = 0  # steps between validation losses (0: only at the start and the end)
    sample_every: int = 0  # steps between validation samples (0: never during the run)
    validation_prompts: tuple[str, ...] = ()
    validation_seeds: tuple[int, ...] = (0,)
    sample_steps: int = 20
    sample_guidance_scale: float = 5.0
    sample_scheduler: str = "dpm++2m-karras"
    checkpoint_every: int = 0  # 0: no checkpoints
    num_threads: int | None = None  # torch CPU threads for this job only (None: leave as is)
    device: str = "auto"

    def __post_init__(self) -> None:
        positive = ("rank", "alpha", "learning_rate", "max_steps", "batch_size", "gradient_accumulation_steps",
                    "max_grad_norm", "sample_steps")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise LoraTrainingError(f"`{name}` must be a positive number, got {value!r}.")
        for name in ("warmup_steps", "validation_every", "sample_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LoraTrainingError(f"`{name}` must be a whole number >= 0, got {value!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise LoraTrainingError(f"`lr_schedule` must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}.")
        if self.mixed_precision not in MIXED_PRECISIONS:
            raise LoraTrainingError(
                f"`mixed_precision` must be one of {', '.join(MIXED_PRECISIONS)}, got {self.mixed_precision!r}."
            )
        if self.snr_gamma is not None and not self.snr_gamma > 0:
            raise LoraTrainingError(f"`snr_gamma` must be > 0 (or None for plain MSE), got {self.snr_gamma!r}.")
        if self.epochs is not None and not self.epochs > 0:
            raise LoraTrainingError(f"`epochs` must be > 0, got {self.epochs!r}.")
        if not 0.0 <= self.caption_dropout < 1.0 or not 0.0 <= self.validation_fraction < 1.0:
            raise LoraTrainingError("`caption_dropout` and `validation_fraction` must be in [0, 1).")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise LoraTrainingError(f"`num_threads` must be a positive integer, got {self.num_threads!r}.")

    @property
    def clips_per_step(self) -> int:
        return self.batch_size * self.gradient_accumulation_steps

    def total_steps(self, num_train: int) -> int:
        """Optimizer steps of the run: ``max_steps``, or ``epochs`` passes over ``num_train`` clips."""
        if self.epochs is None:
            return int(self.max_steps)
        return max(1, math.ceil(self.epochs * num_train / self.clips_per_step))

    def times_each_clip_seen(self, num_train: int) -> float:
        """How many times the run shows each training clip (on average)."""
        return self.total_steps(num_train) * self.clips_per_step / max(1, num_train)

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoraTrainConfig:
        """Settings from :meth:`to_json` (unknown keys ignored, lists back to tuples)."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
        return cls(**kwargs)


#: Memory presets: the CPU one is for the starter model (a few minutes on 2 cores); the GPU ones
#: are for SD 1.5-sized models at 512 px and fit the card's memory (see :func:`estimate_memory`).
#: cpu-starter trains with plain MSE: on bench_lora_starter's made-up sound, Min-SNR-5 weighting gave
#: the sound for 78% of seeds 0-59, plain MSE for 85% of seeds 0-39 and 100-159 (lr 5e-4: 63%).
PRESETS: dict[str, LoraTrainConfig] = {
    "cpu-starter": LoraTrainConfig(
        rank=8, alpha=8.0, learning_rate=1e-3, train_text_encoder=True, max_steps=900, batch_size=4,
        lr_schedule="cosine", warmup_steps=20, snr_gamma=None, device="cpu", num_threads=1, checkpoint_every=100,
        sample_every=300, validation_every=50,
    ),
    "gpu-6gb": LoraTrainConfig(
        rank=4, alpha=4.0, max_steps=1500, batch_size=1, gradient_accumulation_steps=4, mixed_precision="fp16",
        gradient_checkpointing=True, use_8bit_adam=True, device="cuda", checkpoint_every=250, sample_every=250,
        validation_every=100,
    ),
    "gpu-8gb": LoraTrainConfig(
        rank=8, alpha=8.0, max_steps=1500, batch_size=1, gradient_accumulation_steps=4, mixed_precision="fp16",
        gradient_checkpointing=True, device="cuda", checkpoint_every=250, sample_every=250,
        validation_every=100,
    ),
    "gpu-12gb": LoraTrainConfig(
        rank=16, alpha=16.0, max_steps=1500, batch_size=2, gradient_accumulation_steps=2, mixed_precision="fp16",
        gradient_checkpointing=True, device="cuda", checkpoint_every=250, sample_every=250,
        validation_every=100,
    ),
    "gpu-24gb": LoraTrainConfig(
        rank=32, alpha=32.0, max_steps=1500, batch_size=4, mixed_precision="bf16", train_text_encoder=True,
        device="cuda", checkpoint_every=250, sample_every=250,
        validation_every=100,
    ),
}


#: Old preset names, still understood.
PRESET_ALIASES = {"cpu": "cpu-starter"}


def preset_name(name: str) -> str:
    """The current name of preset ``name``; LoraTrainingError for an unknown one."""
    name = PRESET_ALIASES.get(name, name)
    if name not in PRESETS:
        raise LoraTrainingError(f"Unknown training preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return name


def preset_config(name: str, **overrides: Any) -> LoraTrainConfig:
    """The named preset with ``overrides``; LoraTrainingError for an unknown name."""
    return replace(PRESETS[preset_name(name)], **overrides)


def default_preset(cuda_memory_bytes: int | None) -> str:
    """The preset for a machine: ``cpu-starter`` without a CUDA GPU, else the largest GPU preset
    whose memory the card has (``gpu-6gb`` for smaller cards)."""
    if not cuda_memory_bytes:
        return "cpu-starter"
    gib = cuda_memory_bytes / 2**30
    for name, size in (("gpu-24gb", 23), ("gpu-12gb", 11.5), ("gpu-8gb", 7.5)):
        if gib >= size:
            return name
    return "gpu-6gb"


@dataclass(frozen=True)
class Estimate:
    """What a run will take, worked out before it starts."""

    total_steps: int
    step_s: float  # measured seconds per optimizer step on this device
    seconds: float
    peak_memory_bytes: int
    trainable_parameters: int
    times_each_clip_seen: float
    device: str

    def describe(self) -> str:
        return (f"{self.total_steps} steps (each clip seen {self.times_each_clip_seen:.1f} times), about "
                f"{_duration(self.seconds)} and {_size(self.peak_memory_bytes)} peak on {self.device}")

def _size(num_bytes: int) -> str:
    return f"{num_bytes / 2**30:.1f} GB" if num_bytes >= 2**30 else f"{num_bytes / 2**20:.0f} MB"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
