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


#: The highest learning rate a run accepts. AdamW moves every weight by about the rate each step
#: whatever the gradient's size, so at 0.1 a LoRA's small weights are replaced by noise at once.
MAX_LEARNING_RATE = 0.1
#: Learning rates outside this range get an advice line (see :func:`rate_advice`).
USUAL_LEARNING_RATES = (1e-5, 3e-3)


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
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise LoraTrainingError(f"`{name}` must be a positive number, got {value!r}.")
        if self.learning_rate > MAX_LEARNING_RATE:
            raise LoraTrainingError(
                f"`learning_rate` {self.learning_rate:g} is far too high: LoRA trainers use 1e-5 to 1e-3 "
                f"(diffusers and kohya_ss 1e-4), and above {MAX_LEARNING_RATE:g} AdamW throws the weights away "
                "in a few steps."
            )
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

    # What the run does after optimizer step ``step`` of ``total`` besides training (the trainer
    # and :func:`run_events`, which counts them for the estimate, both ask these).

    def validates_at(self, step: int, total: int) -> bool:
        return bool(self.validation_every) and step % self.validation_every == 0 and step < total

    def samples_at(self, step: int) -> bool:
        return bool(self.sample_every and self.validation_prompts) and step % self.sample_every == 0

    def samples_at_end(self, total: int) -> bool:
        return bool(self.validation_prompts) and not self.samples_at(total)

    def checkpoints_at(self, step: int, total: int) -> bool:
        return bool(self.checkpoint_every) and step % self.checkpoint_every == 0 and step < total

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


#: A model card's (``starter.json``) ``recommended`` entry naming, per preset, the number of steps
#: measured to suit that base model, e.g. ``"lora_steps": {"cpu-starter": 1200}``: bench_lora_starter's
#: made-up sound needs 1200 steps on starter model 2 (900: 78% of held-out seeds) while the first
#: starter, which 900 steps teach, falls to 50% at 1200. A step count typed by the user always wins.
CARD_STEPS_KEY = "lora_steps"


@dataclass(frozen=True)
class PresetSteps:
    """How many steps preset ``preset`` runs on a base model, and why (for the wizard and the CLI)."""

    steps: int
    preset: str
    card: str = ""  # the title of the model card that recommends ``steps`` ('' : the preset's own)

    @property
    def from_card(self) -> bool:
        return bool(self.card)

    @property
    def reason(self) -> str:
        """'recommended for the cpu-starter preset by Starter model 2's card' (or 'the cpu-starter
        preset's own')."""
        if self.card:
            return f"recommended for the {self.preset} preset by {self.card}'s card"
        return f"the {self.preset} preset's own"

    def describe(self) -> str:
        """'1200 steps: recommended for the cpu-starter preset by Starter model 2's card'."""
        return f"{self.steps} steps: {self.reason}"


def card_steps(model: str, preset: str) -> tuple[int, str] | None:
    """``(steps, card title)`` when ``model``'s card (a shipped ``builtin:`` model or a local folder
    with a ``starter.json``) recommends a step count for ``preset`` (:data:`CARD_STEPS_KEY`), else
    None (no card, no such entry, or a malformed one: the preset's own count is used)."""
    import json
    from pathlib import Path

    from engine.models.catalog import MODEL_CARD_FILE, builtin_model_dir

    text = str(model or "").strip()
    if not text:
        return None
    try:
        card_path = (builtin_model_dir(text) or Path(text).expanduser()) / MODEL_CARD_FILE
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else None
    except (ValueError, OSError, UnicodeDecodeError):
        return None
    recommended = card.get("recommended") if isinstance(card, dict) else None
    table = recommended.get(CARD_STEPS_KEY) if isinstance(recommended, dict) else None
    steps = table.get(PRESET_ALIASES.get(preset, preset)) if isinstance(table, dict) else None
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        return None
    title = str(card.get("title") or Path(text).name).split(" (")[0].strip()  # "Starter model 2 (...)": its name
    return steps, title


def preset_steps(preset: str, model: str | None = None) -> PresetSteps:
    """The steps ``preset`` runs on base model ``model``: what the model's card recommends for it
    (:func:`card_steps`), else the preset's own ``max_steps``."""
    name = preset_name(preset)
    found = card_steps(model, name) if model else None
    if found is not None:
        return PresetSteps(found[0], name, found[1])
    return PresetSteps(PRESETS[name].max_steps, name)


def preset_for_model(preset: str, model: str | None = None, **overrides: Any) -> LoraTrainConfig:
    """:func:`preset_config` with the step count ``model``'s card recommends for the preset (see
    :func:`preset_steps`); ``max_steps`` in ``overrides`` (the user's own count) wins."""
    overrides.setdefault("max_steps", preset_steps(preset, model).steps)
    return preset_config(preset, **overrides)


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


# How long a run is, against what other LoRA trainers do. Each clip's number of showings
# (steps x clips per step / training clips) is what over- and underfitting follow, whatever the
# batch size or the unit the user picked. What the peers' users do (all at lr 1e-4, the UNet's
# rate in diffusers' and kohya's defaults):
# - diffusers, examples/dreambooth/README.md (LoRA section): 5 dog photos, --max_train_steps=500 at
#   batch 1: each photo 100 times; the Dreambooth training blog (huggingface.co/blog/dreambooth)
#   says it "tends to overfit quickly" and found 800-1200 steps at batch 2 right for faces
#   (4-20 photos: roughly 100-400 showings each).
# - kohya_ss / sd-scripts: the "N_name" folder's N repeats times the epochs; the usual 10 repeats x
#   10-20 epochs for 15-50 images (the guides' "100 showings per image") gives 100-200, rarely
#   more than 400.
# - diffusers, examples/text_to_image/README.md (LoRA): 15000 steps at batch 1 x 4 accumulation on
#   ~830 Pokemon images: ~70 showings each: a large dataset needs fewer passes over it.
# So: 100-400 showings for a small dataset (up to SMALL_DATASET clips); above that the range falls
# with the dataset's size (the same total number of showings) down to 20-100 at ~1000 clips.
# Outside the range the estimate and the wizard advise a length, they never refuse one: a user may
# have reasons (the cpu-starter preset trains at lr 1e-3 and showed 16 clips ~250 times each).
USUAL_SHOWINGS = (100.0, 400.0)
SMALL_DATASET = 50


def usual_showings(num_train: int) -> tuple[float, float]:
    """How many times LoRA trainers usually show each clip of a ``num_train``-clip dataset (low, high)."""
    low, high = USUAL_SHOWINGS
    if num_train <= SMALL_DATASET:
        return low, high
    scale = SMALL_DATASET / num_train
    return max(20.0, low * scale), max(100.0, high * scale)


def suggested_steps(clips_per_step: int, num_train: int) -> int:
    """Steps that show each clip about the middle of :func:`usual_showings` (two significant figures)."""
    low, high = usual_showings(num_train)
    steps = math.sqrt(low * high) * num_train / max(1, clips_per_step)
    digits = max(0, len(str(int(steps))) - 2)
    return max(1, int(round(steps, -digits)))


def length_advice(total_steps: int, clips_per_step: int, num_train: int) -> str:
    """One sentence when a run of ``total_steps`` shows each of ``num_train`` clips far more or far
    fewer times than other trainers do (see :func:`usual_showings`), with a step count to use
    instead; '' when the length is usual (or the dataset is unknown)."""
    if num_train < 1 or total_steps < 1 or clips_per_step < 1:
        return ""
    seen = total_steps * clips_per_step / num_train
    low, high = usual_showings(num_train)
    if low <= seen <= high:
        return ""
    steps = suggested_steps(clips_per_step, num_train)
    then = steps * clips_per_step / num_train
    usual = (f"the {low:.0f}-{high:.0f} times LoRA trainers (kohya_ss, diffusers) usually show each clip of "
             f"{'a dataset this size' if num_train > SMALL_DATASET else 'a small dataset'}")
    clips = f"{num_train} clip{'s' if num_train != 1 else ''}"
    if seen > high:
        return (f"Each clip is seen {seen:.0f} times, more than {usual}: the LoRA will likely memorise the "
                f"{clips} (overfit) and follow prompts less; about {steps} steps would show each clip "
                f"{then:.0f} times (if the validation loss rises while training, it has gone too far).")
    shown = f"{seen:.1f}".rstrip("0").rstrip(".")
    return (f"Each clip is seen only {shown} time{'' if shown == '1' else 's'}, fewer than {usual}: the LoRA will "
            f"likely learn little of the {clips} (underfit); about {steps} steps would show each clip {then:.0f} times.")


def rate_advice(learning_rate: float) -> str:
    """One sentence when ``learning_rate`` is outside what LoRA trainers use (:data:`USUAL_LEARNING_RATES`:
    diffusers' and kohya_ss' 1e-4, OneTrainer's LoRA presets 3e-4, up to the 1e-3 the cpu-starter
    preset uses for the small starter model); '' otherwise."""
    low, high = USUAL_LEARNING_RATES
    if learning_rate > high:
        return (f"A learning rate of {learning_rate:g} is high (LoRA trainers use 1e-5 to 1e-3): the loss may jump "
                "or the LoRA drown the prompt; watch the loss curve, or lower it.")
    if learning_rate < low:
        return (f"A learning rate of {learning_rate:g} is low (LoRA trainers use 1e-5 to 1e-3): the LoRA will barely "
                "change in this many steps.")
    return ""


def run_advice(total_steps: int, clips_per_step: int, num_train: int, learning_rate: float) -> str:
    """:func:`length_advice` and :func:`rate_advice` together ('' when both have nothing to say)."""
    return " ".join(a for a in (length_advice(total_steps, clips_per_step, num_train), rate_advice(learning_rate)) if a)


def _multiples(every: int, after: int, below: int) -> int:
    """How many multiples of ``every`` lie in ``(after, below)``."""
    if not every or below <= after + 1:
        return 0
    return max(0, (below - 1) // every - after // every)


def run_events(config: LoraTrainConfig, total_steps: int, from_step: int = 0, *, has_validation: bool = True,
               base_samples_cached: bool = False, started: bool = False) -> dict[str, int]:
    """What a run from optimizer step ``from_step`` to ``total_steps`` does besides its steps, as
    :func:`engine.training.lora.train_lora` does it (the trainer asks :meth:`LoraTrainConfig`'s
    ``*_at`` predicates below, so the two cannot drift apart):

    ``steps``; ``train_evaluations`` (the training loss at the start and the end);
    ``validation_evaluations`` (start, every ``validation_every`` steps, end; none without a
    validation set); ``generations`` (validation samples: prompts x seeds per round, every
    ``sample_every`` steps and at the end, plus the base model's once unless ``base_samples_cached``);
    ``checkpoints``; ``saves``. With ``started`` the losses at the start are done already.
    """
    steps = max(0, total_steps - from_step)
    per_round = len(config.validation_prompts) * len(config.validation_seeds)
    rounds = 0
    if per_round:
        every = config.sample_every
        rounds = _multiples(every, from_step, total_steps + 1) if every else 0
        if not (every and total_steps % every == 0):
            rounds += 1  # the samples at the end
    base = per_round if per_round and not base_samples_cached else 0
    mid_validations = _multiples(config.validation_every, from_step, total_steps) if has_validation else 0
    return {
        "steps": steps,
        "train_evaluations": 1 if started else 2,
        "validation_evaluations": ((1 if started else 2) + mid_validations) if has_validation else 0,
        "generations": rounds * per_round + base,
        "checkpoints": _multiples(config.checkpoint_every, from_step, total_steps),
        "saves": 1,
    }


@dataclass(frozen=True)
class StepTiming:
    """The optimizer steps timed before a run: wall and CPU seconds of each, warm-up steps excluded.

    ``cpu_clock`` says whose CPU time: "thread" (the training thread, when torch runs on one
    thread: nothing else the process does is counted) or "process" (every thread of the process,
    when torch runs several). On a quiet machine a one-thread step's wall time equals its CPU time;
    a wall time well above it means other work (other programs) took turns on the cores.
    """

    wall_s: tuple[float, ...]
    cpu_s: tuple[float, ...]
    warmup_steps: int
    cpu_clock: str = "thread"
    threads: int = 1

    @classmethod
    def from_clocks(cls, walls: list[float], cpus: list[float], warmup_steps: int, **kw: Any) -> StepTiming:
        """From the clocks read before the first step and after each: ``len(walls) == steps + 1``;
        the first ``warmup_steps`` steps (caches, allocator, lazy initialisation) are dropped."""
        wall = [b - a for a, b in zip(walls, walls[1:])][warmup_steps:]
        cpu = [b - a for a, b in zip(cpus, cpus[1:])][warmup_steps:]
        if not wall:
            raise ValueError("No step was timed after the warm-up.")
        return cls(tuple(wall), tuple(cpu), int(warmup_steps), **kw)

    @property
    def count(self) -> int:
        return len(self.wall_s)

    @property
    def mean_wall_s(self) -> float:
        return sum(self.wall_s) / len(self.wall_s)

    @property
    def spread_wall_s(self) -> float:
        """The standard deviation of the timed steps' wall time (0 for one step)."""
        n = len(self.wall_s)
        if n < 2:
            return 0.0
        mean = self.mean_wall_s
        return math.sqrt(sum((x - mean) ** 2 for x in self.wall_s) / (n - 1))

    @property
    def mean_cpu_s(self) -> float:
        return sum(self.cpu_s) / len(self.cpu_s) if self.cpu_s else 0.0


#: Costs of a run besides its steps, as :func:`run_events` names them.
COSTS = ("train_evaluations", "validation_evaluations", "generations", "checkpoints", "saves", "setup")
_COST_WORDS = {"train_evaluations": ("training-loss pass", "training-loss passes"),
               "validation_evaluations": ("validation", "validations"),
               "generations": ("sample generation", "sample generations"), "checkpoints": ("checkpoint", "checkpoints"),
               "saves": ("save", "saves"), "setup": ("load and encode", "loads and encodes")}


@dataclass(frozen=True)
class Estimate:
    """What a run will take, worked out before it starts from what was measured on this machine.

    The model: ``seconds = steps_left * step_s + sum(count * wall_each for each cost)``, where
    ``step_s`` is the mean wall time of ``timed_steps`` optimizer steps timed after
    ``warmup_steps`` warm-up steps, and ``costs`` are ``(what, count, wall seconds each, CPU
    seconds each)`` for the rest of the run (:data:`COSTS`: losses, sample generations,
    checkpoints, the save, and for an estimate made before a run, loading and encoding again), each
    timed once. ``seconds_low``/``seconds_high`` take the steps at ``step_s`` minus/plus the
    timed steps' standard deviation (the spread seen while timing, as if it lasted the whole run);
    ``cpu_seconds`` is the same model in CPU time (``cpu_clock``: whose CPU time), the work itself,
    which the load of the machine does not change. Wall time is what the user waits.
    """

    total_steps: int
    step_s: float  # mean wall seconds per optimizer step, as timed
    seconds: float  # wall seconds from now to the end (the model above)
    peak_memory_bytes: int
    trainable_parameters: int
    times_each_clip_seen: float
    device: str
    steps_left: int = 0
    step_spread_s: float = 0.0
    step_cpu_s: float = 0.0
    timed_steps: int = 0
    warmup_steps: int = 0
    cpu_clock: str = "thread"
    threads: int = 1
    costs: tuple[tuple[str, int, float, float], ...] = ()
    process_peak_bytes: int = 0  # the process's measured peak resident memory so far (CPU runs; 0: unknown)
    num_train: int = 0  # training clips (0: unknown; no advice on the run's length)
    clips_per_step: int = 1
    learning_rate: float = 1e-4
    #: Where the step count comes from when a model card recommends it (see :class:`PresetSteps`), '' else.
    length_note: str = ""

    @classmethod
    def build(cls, *, total_steps: int, steps_left: int, timing: StepTiming,
              costs: tuple[tuple[str, int, float, float], ...] = (), **kw: Any) -> Estimate:
        """The estimate for ``steps_left`` steps timed as ``timing`` plus ``costs`` (see the class)."""
        step_s = timing.mean_wall_s
        return cls(total_steps=total_steps, step_s=step_s, seconds=steps_left * step_s + _fixed(costs, 2),
                   steps_left=steps_left, step_spread_s=timing.spread_wall_s, step_cpu_s=timing.mean_cpu_s,
                   timed_steps=timing.count, warmup_steps=timing.warmup_steps, cpu_clock=timing.cpu_clock,
                   threads=timing.threads, costs=tuple(costs), **kw)

    @property
    def fixed_s(self) -> float:
        """Wall seconds of everything but the steps."""
        return _fixed(self.costs, 2)

    @property
    def seconds_low(self) -> float:
        return self.steps_left * max(0.0, self.step_s - self.step_spread_s) + self.fixed_s

    @property
    def seconds_high(self) -> float:
        return self.steps_left * (self.step_s + self.step_spread_s) + self.fixed_s

    @property
    def cpu_seconds(self) -> float:
        return self.steps_left * self.step_cpu_s + _fixed(self.costs, 3)

    @property
    def busy(self) -> float:
        """Wall time per CPU time of a one-thread step on the CPU (1 on a quiet machine); 0 when that
        says nothing (several threads, or a GPU doing the work while the CPU waits)."""
        if self.threads != 1 or self.step_cpu_s <= 0 or not self.device.startswith("cpu"):
            return 0.0
        return self.step_s / self.step_cpu_s

    def remaining_s(self, step: int, step_s: float, config: LoraTrainConfig, *, has_validation: bool = True) -> float:
        """Wall seconds left at ``step`` when a step takes ``step_s`` (the ETA during the run): the
        steps left plus the costs still to come, each at the wall time timed for it."""
        each = {what: wall for what, _n, wall, _c in self.costs}
        events = run_events(config, self.total_steps, step, has_validation=has_validation, base_samples_cached=True,
                            started=True)
        return max(0, self.total_steps - step) * step_s + sum(events.get(k, 0) * each.get(k, 0.0) for k in COSTS)

    def for_steps(self, total_steps: int, config: LoraTrainConfig) -> Estimate:
        """This estimate, made before a run of ``config`` (its validation prompts as the run samples them:
        the trigger word when none were given), for the same run at ``total_steps`` steps: the
        same timings, the steps and what they bring (validations, samples, checkpoints) counted again
        (:func:`run_events`), so a length changed after an estimate needs no new one."""
        each = {what: (wall, cpu) for what, _n, wall, cpu in self.costs}
        counts = {what: n for what, n, _w, _c in self.costs}
        events = run_events(replace(config, max_steps=total_steps, epochs=None), total_steps,
                            has_validation=counts.get("validation_evaluations", 0) > 0)
        costs = tuple((what, counts[what] if what == "setup" else int(events.get(what, 0)), *each[what])
                      for what in COSTS if what in each)
        steps_left = max(0, total_steps - (self.total_steps - self.steps_left))
        seen = self.times_each_clip_seen * total_steps / self.total_steps if self.total_steps else 0.0
        return replace(self, total_steps=total_steps, steps_left=steps_left, costs=costs, times_each_clip_seen=seen,
                       seconds=steps_left * self.step_s + _fixed(costs, 2),
                       length_note=self.length_note if total_steps == self.total_steps else "")

    def describe(self) -> str:
        note = f"{self.length_note}; " if self.length_note else ""
        text = (f"{self.total_steps} steps ({note}each clip seen {self.times_each_clip_seen:.1f} times), about "
                f"{_duration(self.seconds)} ({_duration(self.seconds_low)} to {_duration(self.seconds_high)}) of "
                f"wall time at the load measured now, {_duration(self.cpu_seconds)} of {self.cpu_clock} CPU time, "
                # On the CPU the process's measured peak is what the machine must have (the model and
                # torch too): a user reading the run's tensors alone as 'peak' would expect far less.
                + (f"{_size(self.process_peak_bytes)} peak memory on {self.device} (this process's measured peak so "
                   f"far, the model and torch included; the run's own tensors {_size(self.peak_memory_bytes)}, "
                   "worked out from their sizes)" if self.process_peak_bytes
                   else f"{_size(self.peak_memory_bytes)} peak memory on {self.device}"))
        if self.timed_steps:
            text += (f"; timed {self.timed_steps} steps after {self.warmup_steps} warm-up: "
                     f"{self.step_s:.3g} ± {self.step_spread_s:.2g} s wall, {self.step_cpu_s:.3g} s CPU each")
            parts = [f"{n} {_COST_WORDS.get(what, (what, what))[n != 1]}" for what, n, _w, _c in self.costs if n]
            if parts:
                text += f", plus {', '.join(parts)} ({_duration(self.fixed_s)})"
        if self.busy > 1.5:
            text += (f". The machine is busy (a step took {self.busy:.1f}x its CPU time): "
                     "the run takes longer if the load grows")
        advice = self.advice
        return f"{text}.\n{advice}" if advice else text  # on a line of its own: the part to act on

    @property
    def advice(self) -> str:
        """Sentences when the run is far longer or shorter than other trainers', or its learning rate
        outside theirs (see :func:`run_advice`)."""
        return run_advice(self.total_steps, self.clips_per_step, self.num_train, self.learning_rate)


def _fixed(costs: tuple[tuple[str, int, float, float], ...], index: int) -> float:
    return sum(cost[1] * cost[index] for cost in costs)


def _size(num_bytes: int) -> str:
    return f"{num_bytes / 2**30:.1f} GB" if num_bytes >= 2**30 else f"{num_bytes / 2**20:.0f} MB"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
