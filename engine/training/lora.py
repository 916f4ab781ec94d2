"""LoRA fine-tuning of a spectrogram diffusion model on one's own sounds (seed 000's method).

    dataset = build_dataset("my_sounds/", target_for_model(model), trigger="zorblat")
    result = yield from train_lora(model, dataset, "zorblat.safetensors", preset_for_model("cpu-starter", model))

:func:`train_lora` is a generator: each yield is a :class:`LoraProgress` (a progress report with
the loss, and a cancel and pause point: a consumer that stops pulling pauses the run with the model
loaded, ``ctx.check_cancelled()`` is called before every step). It loads its own copy of the base
model (so generation jobs keep the shared one), adds PEFT LoRA adapters to the UNet's attention
projections (``to_q``, ``to_k``, ``to_v``, ``to_out.0``; optionally the text encoder's), encodes the
dataset to VAE latents once, and trains with AdamW (8-bit where bitsandbytes imports, on CUDA),
warm-up and a schedule, gradient accumulation, Min-SNR-gamma loss weights (as diffusers'
``train_text_to_image_lora.py``), mixed precision and gradient checkpointing on a GPU.

The unit is the optimizer step: ``max_steps`` (or ``epochs``, turned into steps). One step sees
``batch_size * gradient_accumulation_steps`` clips, so each clip is seen
``max_steps * batch_size * gradient_accumulation_steps / len(train set)`` times
(:meth:`LoraTrainConfig.times_each_clip_seen`).

Every random number (data order, posterior samples, noise, timesteps, LoRA init) comes from
generators seeded by ``config.seed`` whose states are saved in the checkpoints, so a run stopped
and resumed from its last checkpoint ends with exactly the weights of an uninterrupted run (on the
same machine, device and thread count). A new run (not a resume) first deletes the ``step-N``
folders an earlier run left in its run folder's ``checkpoints/`` (nothing else there) and says so.

The output is a ``.safetensors`` in diffusers' PEFT layout (``unet.*`` / ``text_encoder.*``, the
LoRA config in ``lora_adapter_metadata`` so diffusers loads it at the trained alpha) or the
kohya/A1111 layout (``lora_unet_*`` with the true ``.alpha``); either carries the training
settings, base model and dataset summary in its metadata (:func:`read_lora_info`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.specs import CHECKPOINT_COMPLETE, Progress, TrainingJob, clear_checkpoints, cleared_checkpoints_message
from engine.training.lora_config import (  # noqa: F401 - re-exported: the trainer's settings live there
    COSTS,
    FORMATS,
    LR_SCHEDULES,
    MIXED_PRECISIONS,
    PRESETS,
    Estimate,
    LoraTrainConfig,
    LoraTrainingError,
    StepTiming,
    _duration,
    _size,
    preset_config,
    preset_for_model,
    preset_steps,
    run_events,
)
from engine.training.lora_data import LoraDataError, LoraDataset, split_dataset

#: The safetensors metadata key holding the training record (JSON).
METADATA_KEY = "specdiff_lora"
UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
CHECKPOINT_FILE = "state.pt"
ADAPTER = "default"
KEEP_CHECKPOINTS = 2


# ---------------------------------------------------------------------------------------------
# Progress payloads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LoraSample:
    """A validation sample at ``step``: the LoRA's output and the base model's for the same prompt/seed."""

    step: int
    prompt: str
    seed: int
    image: np.ndarray  # uint8 (H, W, 3) spectrogram image
    audio: np.ndarray  # (1, samples) float32
    base_image: np.ndarray
    base_audio: np.ndarray
    sample_rate_hz: int


@dataclass(frozen=True, eq=False)
class LoraProgress(Progress):
    """Progress of a training run; ``loss`` is the step's training loss (stage "train")."""

    loss: float | None = None
    learning_rate: float | None = None
    validation_loss: float | None = None
    samples: tuple[LoraSample, ...] = ()
    estimate: Estimate | None = None
    checkpoint: str | None = None


@dataclass(frozen=True)
class LoraResult:
    path: Path
    steps: int
    initial_loss: float
    final_loss: float
    initial_validation_loss: float | None
    final_validation_loss: float | None
    losses: tuple[float, ...]
    seconds: float


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``num_threads`` torch CPU threads, restoring the previous count after."""
    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the peak rate at optimizer step ``step`` (0-based): linear warm-up, then the schedule."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    return 1.0


class _LrLambda:
    """A picklable schedule for LambdaLR (its state then travels in the checkpoint)."""

    def __init__(self, total: int, warmup: int, schedule: str) -> None:
        self.total, self.warmup, self.schedule = total, warmup, schedule

    def __call__(self, step: int) -> float:
        return _lr_factor(step, self.total, self.warmup, self.schedule)


def min_snr_weights(scheduler: Any, timesteps: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-gamma loss weights (Hang et al. 2023) as diffusers' train_text_to_image_lora.py:
    ``min(SNR, gamma) / SNR`` for epsilon prediction, ``min(SNR, gamma) / (SNR + 1)`` for v-prediction."""
    from diffusers.training_utils import compute_snr

    snr = compute_snr(scheduler, timesteps)
    weights = torch.clamp(snr, max=gamma)
    prediction = scheduler.config.prediction_type
    if prediction == "epsilon":
        return weights / snr
    if prediction == "v_prediction":
        return weights / (snr + 1)
    raise LoraTrainingError(f"Min-SNR weighting supports epsilon and v_prediction models, not {prediction!r}.")


def _dataset_fingerprint(dataset: LoraDataset) -> str:
    digest = hashlib.sha256()
    for example in dataset.examples:
        digest.update(example.caption.encode())
        digest.update(example.image.tobytes())
    return digest.hexdigest()[:16]


def resolve_model(model: str, store: Any = None) -> Any:
    """A model folder, or a repo id in the local cache -> its ResolvedModel (never downloads)."""
    from engine.models.store import ModelStore

    return (store or ModelStore()).resolve(str(model), download=False)


# ---------------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------------


class LoraTrainer:
    """The state of one run, built by :meth:`setup`; :func:`train_lora` drives it step by step.

    Kept out of the generator body so that no grad-mode or thread setting spans a ``yield``.
    """

    def __init__(self, model: str, dataset: LoraDataset, config: LoraTrainConfig, *, store: Any = None) -> None:
        if len(dataset) == 0:
            raise LoraDataError("The dataset is empty: add sounds before training.")
        self.model = str(model)
        self.config = config
        self.store = store
        self.train_set, self.val_set = split_dataset(dataset, config.validation_fraction, config.seed)
        self.dataset = dataset
        self.total_steps = config.total_steps(len(self.train_set))
        self.step = 0
        self.losses: list[float] = []
        self.validation_losses: list[tuple[int, float]] = []
        self._base_samples: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, int]] = {}
        self._generation_s = (0.0, 0.0)

    # -- setup ----------------------------------------------------------------------------------

    def setup(self) -> None:
        """Load the model, add the adapters, cache the latents (and the prompts' embeddings)."""
        from engine.models.loading import load_pipeline
        from engine.models.policy import LoadPolicy

        cfg = self.config
        precision = {"no": "fp32", "fp16": "fp16", "bf16": "bf16"}[cfg.mixed_precision]
        policy = LoadPolicy(device=cfg.device, precision=precision)
        loaded = load_pipeline(resolve_model(self.model, self.store), policy)
        if loaded.is_inpainting:
            raise LoraTrainingError("LoRA training needs a text-to-image model; this one is an inpainting model.")
        self.loaded = loaded
        self.pipe = pipe = loaded.pipeline
        self.device = loaded.device
        self.weight_dtype = loaded.dtype
        if cfg.mixed_precision != "no" and self.device.type != "cuda":
            raise LoraTrainingError("Mixed precision needs a CUDA GPU; use mixed_precision='no' on this device.")
        self.unet, self.vae, self.text_encoder = pipe.unet, pipe.vae, pipe.text_encoder
        for module in (self.unet, self.vae, self.text_encoder):
            module.requires_grad_(False)
        self._add_adapters()
        from diffusers import DDPMScheduler

        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        if self.noise_scheduler.config.prediction_type not in ("epsilon", "v_prediction"):
            raise LoraTrainingError(
                f"The model predicts {self.noise_scheduler.config.prediction_type!r}; supported are epsilon and v_prediction."
            )
        self.generator = torch.Generator("cpu").manual_seed(int(cfg.seed))
        self._cache_latents()
        self._make_optimizer()
        self.perm: list[int] = []
        self.position = 0

    def _add_adapters(self) -> None:
        from peft import LoraConfig

        cfg = self.config
        widest = max(_layer_width(self.unet, UNET_TARGETS),
                     _layer_width(self.text_encoder, TEXT_TARGETS) if cfg.train_text_encoder else 0)
        if widest and cfg.rank > widest:  # refused before the adapters take the memory
            raise LoraTrainingError(
                f"A LoRA rank of {cfg.rank} is more than this model's attention layers are wide ({widest}): the "
                f"rank cannot usefully exceed a layer's width; use {widest} or less (LoRAs of SD 1.5 use 4-128).")
        # The LoRA init draws from torch's global generator: seed it inside a fork (restored after).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(cfg.seed))
            self.unet_lora_config = LoraConfig(r=int(cfg.rank), lora_alpha=float(cfg.alpha),
                                               init_lora_weights="gaussian", target_modules=list(UNET_TARGETS))
            self.unet.add_adapter(self.unet_lora_config)
            self.text_lora_config = None
            if cfg.train_text_encoder:
                self.text_lora_config = LoraConfig(r=int(cfg.rank), lora_alpha=float(cfg.alpha),
                                                   init_lora_weights="gaussian", target_modules=list(TEXT_TARGETS))
                # transformers' add_adapter wants a newer peft than diffusers needs: inject directly.
                from peft import inject_adapter_in_model

                inject_adapter_in_model(self.text_lora_config, self.text_encoder, adapter_name=ADAPTER)
        params = []
        for module in self._trained_modules():
            for p in module.parameters():
                if p.requires_grad:
                    p.data = p.data.float()  # LoRA weights train in fp32 under mixed precision
                    params.append(p)
        self.unet_params = [p for p in self.unet.parameters() if p.requires_grad]
        self.text_params = [p for p in self.text_encoder.parameters() if p.requires_grad] if cfg.train_text_encoder else []
        self.trainable_parameters = sum(p.numel() for p in params)
        if cfg.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
            if cfg.train_text_encoder:
                self.text_encoder.gradient_checkpointing_enable()

    def _trained_modules(self) -> list[Any]:
        return [self.unet, self.text_encoder] if self.config.train_text_encoder else [self.unet]

    @torch.no_grad()
    def _cache_latents(self) -> None:
        from engine.pipelines.sampling import image_to_tensor

        target = self.dataset.target
        scale = float(self.vae.config.scaling_factor)

        def encode(examples: tuple[Any, ...]) -> tuple[torch.Tensor, torch.Tensor]:
            means, stds = [], []
            for example in examples:
                x = image_to_tensor(example.image, target.height, target.width).to(self.device, self.weight_dtype)
                dist = self.vae.encode(x).latent_dist
                means.append(dist.mean.float() * scale)
                stds.append(dist.std.float() * scale)
            if not means:
                return torch.empty(0), torch.empty(0)
            return torch.cat(means), torch.cat(stds)

        self.train_mean, self.train_std = encode(self.train_set.examples)
        self.val_mean, self.val_std = encode(self.val_set.examples)
        tokenizer = self.pipe.tokenizer

        def ids(texts: list[str]) -> torch.Tensor:
            return tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                             return_tensors="pt").input_ids

        self.train_ids = ids(self.train_set.captions)
        self.val_ids = ids(self.val_set.captions) if len(self.val_set) else None
        self.empty_ids = ids([""])
        self.train_hidden = self.val_hidden = None
        if not self.config.train_text_encoder:  # a frozen encoder: embed every caption once
            self.train_hidden = self._embed(self.train_ids)
            self.val_hidden = self._embed(self.val_ids) if self.val_ids is not None else None
            self.empty_hidden = self._embed(self.empty_ids)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text_encoder(ids.to(self.device))[0]

    def _make_optimizer(self) -> None:
        cfg = self.config
        groups = [{"params": self.unet_params, "lr": cfg.learning_rate}]
        if self.text_params:
            groups.append({"params": self.text_params, "lr": cfg.text_encoder_lr or cfg.learning_rate})
        optimizer_class = torch.optim.AdamW
        self.optimizer_name = "AdamW"
        if cfg.use_8bit_adam and self.device.type == "cuda":
            try:
                import bitsandbytes as bnb

                optimizer_class, self.optimizer_name = bnb.optim.AdamW8bit, "AdamW8bit"
            except Exception:  # noqa: BLE001 - bitsandbytes fails in many ways; plain AdamW then
                pass
        self.optimizer = optimizer_class(groups, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
        self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _LrLambda(self.total_steps, cfg.warmup_steps, cfg.lr_schedule)
        )
        use_scaler = cfg.mixed_precision == "fp16"
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_scaler) if use_scaler else None

    # -- one step -------------------------------------------------------------------------------

    def _next_indices(self, count: int) -> list[int]:
        out = []
        n = len(self.train_set)
        while len(out) < count:
            if self.position >= len(self.perm):
                self.perm = torch.randperm(n, generator=self.generator).tolist()
                self.position = 0
            out.append(self.perm[self.position])
            self.position += 1
        return out

    def _autocast(self) -> Any:
        if self.config.mixed_precision == "no":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.weight_dtype)

    def _loss(self, mean: torch.Tensor, std: torch.Tensor, ids: torch.Tensor | None, hidden: torch.Tensor | None,
              generator: torch.Generator, drop: torch.Tensor | None = None, timesteps: torch.Tensor | None = None,
              weighted: bool = True) -> torch.Tensor:
        """The (Min-SNR-weighted) denoising loss of a batch; all draws from ``generator`` on the CPU."""
        batch = mean.shape[0]
        z0 = mean + std * torch.randn(mean.shape, generator=generator).to(self.device)
        noise = torch.randn(z0.shape, generator=generator).to(self.device)
        if timesteps is None:
            timesteps = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (batch,), generator=generator)
        timesteps = timesteps.to(self.device)
        noisy = self.noise_scheduler.add_noise(z0, noise, timesteps)
        with self._autocast():
            if self.config.train_text_encoder:
                if drop is not None:
                    ids = torch.where(drop[:, None].to(ids.device), self.empty_ids.to(ids.device), ids)
                hidden = self._embed(ids)
            elif drop is not None:
                hidden = torch.where(drop[:, None, None].to(hidden.device), self.empty_hidden, hidden)
            pred = self.unet(noisy.to(self.weight_dtype), timesteps, encoder_hidden_states=hidden.to(self.weight_dtype)).sample
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(z0, noise, timesteps)
        else:
            target = noise
        per_example = (pred.float() - target.float()).pow(2).mean(dim=(1, 2, 3))
        if weighted and self.config.snr_gamma is not None:
            per_example = per_example * min_snr_weights(self.noise_scheduler, timesteps, self.config.snr_gamma)
        return per_example.mean()

    def train_step(self) -> tuple[float, float]:
        """One optimizer step (``gradient_accumulation_steps`` micro-batches); returns (loss, lr)."""
        cfg = self.config
        self.unet.train()
        if cfg.train_text_encoder:
            self.text_encoder.train()
        total = 0.0
        for _ in range(cfg.gradient_accumulation_steps):
            idx = torch.tensor(self._next_indices(cfg.batch_size))
            drop = None
            if cfg.caption_dropout > 0:
                drop = torch.rand(len(idx), generator=self.generator) < cfg.caption_dropout
            hidden = self.train_hidden[idx.to(self.train_hidden.device)] if self.train_hidden is not None else None
            loss = self._loss(self.train_mean[idx], self.train_std[idx], self.train_ids[idx].to(self.device), hidden,
                              self.generator, drop)
            loss = loss / cfg.gradient_accumulation_steps
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
            else:
                loss.backward()
            total += float(loss.detach())
        params = self.unet_params + self.text_params
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        lr = float(self.optimizer.param_groups[0]["lr"])
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        if not math.isfinite(total):
            raise LoraTrainingError(
                f"The loss became {total} at step {self.step}"
                + (" (fp16 overflow: try bf16 or mixed_precision='no')" if cfg.mixed_precision == "fp16" else "")
                + "; lower the learning rate."
            )
        self.losses.append(total)
        return total, lr

    @torch.no_grad()
    def evaluate(self, which: str = "validation") -> float | None:
        """The unweighted denoising MSE on the validation (or training) set, with fixed noise and
        timesteps (the same draws every time), so values along the run compare."""
        if which == "validation":
            mean, std, ids, hidden = self.val_mean, self.val_std, self.val_ids, self.val_hidden
        else:
            mean, std, ids, hidden = self.train_mean, self.train_std, self.train_ids, self.train_hidden
        if ids is None or len(ids) == 0:
            return None
        self.unet.eval()
        self.text_encoder.eval()
        generator = torch.Generator("cpu").manual_seed(int(self.config.seed) + 7919)
        num_train = self.noise_scheduler.config.num_train_timesteps
        losses = []
        for repeat in range(4):  # four timesteps per clip, spread over the schedule
            for start in range(0, len(ids), 8):
                stop = min(len(ids), start + 8)
                count = stop - start
                t = ((torch.arange(count) + repeat * count + 0.5) / (4 * count) * num_train).long().clamp(0, num_train - 1)
                loss = self._loss(mean[start:stop], std[start:stop], ids[start:stop].to(self.device),
                                  hidden[start:stop] if hidden is not None else None, generator, timesteps=t,
                                  weighted=False)
                losses.append(float(loss) * count)
        return sum(losses) / (4 * len(ids))

    def time_steps(self, *, warmup: int = 2, min_steps: int = 10, min_seconds: float = 3.0, max_steps: int = 50,
                   max_seconds: float = 30.0, clock: Any = time.perf_counter) -> StepTiming:
        """Time optimizer steps with forward and backward passes that change nothing (own generator,
        gradients dropped, no optimizer step: the LoRA's few weights make that step negligible):
        ``warmup`` steps first (not counted), then at least ``min_steps`` and ``min_seconds`` of wall
        time, at most ``max_steps`` or ``max_seconds``. Wall time by ``clock``; CPU time of this thread
        when torch runs on one thread, else of the whole process (:class:`StepTiming`)."""
        cfg = self.config
        threads = torch.get_num_threads() if self.device.type == "cpu" else 1
        cpu_clock, cpu = ("thread", time.thread_time) if threads == 1 else ("process", time.process_time)
        generator = torch.Generator("cpu").manual_seed(12345)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.unet.train()
        walls, cpus = [clock()], [cpu()]
        while True:
            for _ in range(cfg.gradient_accumulation_steps):
                idx = torch.randint(0, len(self.train_set), (cfg.batch_size,), generator=generator)
                hidden = self.train_hidden[idx] if self.train_hidden is not None else None
                loss = self._loss(self.train_mean[idx], self.train_std[idx], self.train_ids[idx].to(self.device),
                                  hidden, generator)
                loss.backward()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            walls.append(clock())
            cpus.append(cpu())
            timed = len(walls) - 1 - warmup
            spent = walls[-1] - walls[min(warmup, len(walls) - 1)]
            if timed >= max_steps or (timed >= 1 and spent >= max_seconds) or (timed >= min_steps and spent >= min_seconds):
                break
        self.optimizer.zero_grad(set_to_none=True)
        return StepTiming.from_clocks(walls, cpus, warmup, cpu_clock=cpu_clock, threads=threads)

    def time_generations(self) -> tuple[float, float]:
        """Compute the base model's validation samples (needed at the first sample round anyway)
        and return the (wall, CPU) seconds of one generation; (0, 0) without validation prompts."""
        keys = [(p, int(s)) for p in self.config.validation_prompts for s in self.config.validation_seeds]
        missing = [key for key in keys if key not in self._base_samples]
        if not missing:
            return self._generation_s
        wall, cpu = time.perf_counter(), time.process_time()
        self._set_adapters(False)
        try:
            for prompt, seed in missing:
                self._base_samples[(prompt, seed)] = self._generate(prompt, seed)
        finally:
            self._set_adapters(True)
        self._generation_s = ((time.perf_counter() - wall) / len(missing), (time.process_time() - cpu) / len(missing))
        return self._generation_s

    def time_checkpoint(self) -> tuple[float, float]:
        """(wall, CPU) seconds to serialise this run's checkpoint state (into memory: nothing is written)."""
        import io

        wall, cpu = time.perf_counter(), time.process_time()
        torch.save(self._checkpoint_state(), io.BytesIO())
        return time.perf_counter() - wall, time.process_time() - cpu

    def estimate(self, timing: StepTiming, measured: dict[str, tuple[float, float]] | None = None,
                 *, from_step: int | None = None, started: bool = False) -> Estimate:
        """The run's :class:`Estimate` from ``timing`` and the (wall, CPU) seconds ``measured`` for one
        of each cost (:data:`engine.training.lora_config.COSTS`), counted by :func:`run_events`.
        ``started``: inside a run, whose starting losses and base-model samples are done already (an
        estimate before a run counts them: the run does them again)."""
        start = self.step if from_step is None else from_step
        events = run_events(self.config, self.total_steps, start, has_validation=len(self.val_set) > 0,
                            base_samples_cached=started and bool(self._base_samples),
                            started=started)
        events["setup"] = 1 if "setup" in (measured or {}) else 0
        # costs timed but not in this run stay in, counted 0: Estimate.for_steps may count them again
        costs = tuple((what, int(events.get(what, 0)), *(measured or {}).get(what, (0.0, 0.0)))
                      for what in COSTS if events.get(what, 0) or what in (measured or {}))
        return Estimate.build(
            total_steps=self.total_steps,
            steps_left=max(0, self.total_steps - start),
            timing=timing,
            costs=costs,
            peak_memory_bytes=self.peak_memory_bytes(),
            process_peak_bytes=_process_peak_bytes() if self.device.type == "cpu" else 0,
            trainable_parameters=self.trainable_parameters,
            times_each_clip_seen=self.config.times_each_clip_seen(len(self.train_set)),
            num_train=len(self.train_set),
            clips_per_step=self.config.clips_per_step,
            learning_rate=float(self.config.learning_rate),
            device=str(self.device),
        )

    def measure(self, costs: dict[str, tuple[float, float]] | None = None, *, started: bool = False) -> Estimate:
        """Time the steps, one generation and one checkpoint, and return the estimate of the rest of
        the run; ``costs`` holds what the caller timed already (the losses, the setup); ``started``:
        the losses at the start are done."""
        measured = dict(costs or {})
        timing = self.time_steps()
        if self.config.validation_prompts:
            measured["generations"] = self.time_generations()
        measured["checkpoints"] = measured["saves"] = self.time_checkpoint()
        return self.estimate(timing, measured, started=started)

    def peak_memory_bytes(self) -> int:
        """Measured on CUDA (after :meth:`time_steps`); on the CPU, worked out from the sizes."""
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        return estimate_memory(self.pipe, self.config, self.dataset.target.height, self.dataset.target.width,
                               self.trainable_parameters)

    # -- samples --------------------------------------------------------------------------------

    def _generate(self, prompt: str, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
        from engine.pipelines.sampling import denoise, to_uint8
        from engine.pipelines.generate import invert, spectrogram_image

        target = self.dataset.target
        self.unet.eval()
        self.text_encoder.eval()
        run = denoise(self.pipe, prompt=prompt, height=target.height, width=target.width,
                      num_inference_steps=self.config.sample_steps, guidance_scale=self.config.sample_guidance_scale,
                      scheduler=self.config.sample_scheduler, generator_seed=int(seed))
        try:
            while True:
                next(run)
        except StopIteration as stop:
            pixels = to_uint8(stop.value)
        image = spectrogram_image(pixels, target.params)
        audio, rate = invert(image, target.params, self.device, int(seed))
        return pixels, np.asarray(audio[:1], dtype=np.float32), int(rate)

    def _set_adapters(self, enabled: bool) -> None:
        from peft.tuners.tuners_utils import BaseTunerLayer

        for module in self._trained_modules():
            for layer in module.modules():
                if isinstance(layer, BaseTunerLayer):
                    layer.enable_adapters(enabled)

    def samples(self) -> tuple[LoraSample, ...]:
        """Every validation prompt x seed with the LoRA and (computed once) without it."""
        out = []
        for prompt in self.config.validation_prompts:
            for seed in self.config.validation_seeds:
                key = (prompt, int(seed))
                if key not in self._base_samples:
                    self._set_adapters(False)
                    try:
                        self._base_samples[key] = self._generate(prompt, seed)
                    finally:
                        self._set_adapters(True)
                image, audio, rate = self._generate(prompt, seed)
                base_image, base_audio, _ = self._base_samples[key]
                out.append(LoraSample(self.step, prompt, int(seed), image, audio, base_image, base_audio, rate))
        return tuple(out)

    # -- weights and checkpoints ----------------------------------------------------------------

    def lora_state_dicts(self) -> dict[str, dict[str, torch.Tensor]]:
        """{"unet": ..., "text_encoder": ...}: the LoRA weights in PEFT's keys (no adapter name), fp32 on the CPU."""
        out = {"unet": _lora_weights(self.unet)}
        if self.config.train_text_encoder:
            out["text_encoder"] = _lora_weights(self.text_encoder)
        return out

    def _checkpoint_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "lora": self.lora_state_dicts(),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "generator": self.generator.get_state(),
            "perm": list(self.perm),
            "position": self.position,
            "losses": list(self.losses),
            "validation_losses": list(self.validation_losses),
            "config": self.config.to_json(),
            "model": self.model,
            "dataset": _dataset_fingerprint(self.dataset),
        }

    def save_checkpoint(self, folder: Path) -> Path:
        """Write the state after this step (LoRA weights, optimizer, schedule, RNG, data order, losses)
        into ``folder/checkpoints/step-NNNNNNNN/state.pt`` (the :class:`engine.specs.TrainingJob`
        layout), mark it complete last, and keep the newest :data:`KEEP_CHECKPOINTS`. Returns the file."""
        state = self._checkpoint_state()
        step_dir = Path(folder) / "checkpoints" / f"step-{self.step:08d}"
        if step_dir.exists():  # an incomplete one from a crash: write it again
            shutil.rmtree(step_dir)
        step_dir.mkdir(parents=True)
        path = step_dir / CHECKPOINT_FILE
        torch.save(state, path)
        TrainingJob.mark_complete(step_dir)
        for old in list_checkpoints(folder)[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old.parent, ignore_errors=True)
        return path

    def load_checkpoint(self, path: Path) -> None:
        """Continue from ``path``; LoraTrainingError if it is from another model, dataset or settings."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # noqa: BLE001 - a truncated or foreign file
            raise LoraTrainingError(f"Cannot read the checkpoint '{path}': {error}".splitlines()[0]) from error
        mine = self.config.to_json()
        theirs = state.get("config", {})
        differing = sorted(k for k in mine if k not in _RESUMABLE and theirs.get(k) != mine[k])
        if differing:
            raise LoraTrainingError(f"The checkpoint '{path.name}' was made with other settings ({', '.join(differing)}).")
        if state.get("dataset") != _dataset_fingerprint(self.dataset):
            raise LoraTrainingError(f"The checkpoint '{path.name}' was made from another dataset.")
        _load_lora_weights(self.unet, state["lora"]["unet"])
        if self.config.train_text_encoder:
            _load_lora_weights(self.text_encoder, state["lora"]["text_encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        # LambdaLR restores its schedule objects too; keep this run's (a resume may set more steps).
        schedule = _LrLambda(self.total_steps, self.config.warmup_steps, self.config.lr_schedule)
        self.lr_scheduler.lr_lambdas = [schedule] * len(self.optimizer.param_groups)
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        self.perm, self.position = list(state["perm"]), int(state["position"])
        self.step = int(state["step"])
        self.losses = list(state["losses"])
        self.validation_losses = [tuple(x) for x in state["validation_losses"]]

    def training_record(self, fmt: str) -> dict[str, Any]:
        from engine.models.catalog import model_hints

        hints = model_hints(self.model)
        return {
            "version": 1,
            "format": fmt,
            "base_model": self.model,
            "base_model_title": hints.title if hints else "",
            "settings": self.config.to_json(),
            "steps": self.step,
            "dataset": {**self.dataset.summary(), "num_train": len(self.train_set), "num_validation": len(self.val_set)},
            "final_loss": self.losses[-1] if self.losses else None,
            "validation_losses": [list(x) for x in self.validation_losses],
            "trigger_words": [self.dataset.trigger] if self.dataset.trigger else [],
            "optimizer": self.optimizer_name,
        }


#: Settings a resumed run may change (they do not touch the weights' arithmetic).
_RESUMABLE = frozenset({"validation_every", "sample_every", "validation_prompts", "validation_seeds", "sample_steps",
                        "sample_guidance_scale", "sample_scheduler", "checkpoint_every", "max_steps", "epochs",
                        "num_threads"})


def _lora_weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``module``'s LoRA weights keyed as PEFT saves them ("...to_q.lora_A.weight")."""
    suffix = f".{ADAPTER}.weight"
    return {name.replace(suffix, ".weight"): p.detach().float().cpu().contiguous()
            for name, p in module.named_parameters() if ".lora_" in name and name.endswith(suffix)}


def _layer_width(module: torch.nn.Module, targets: tuple[str, ...]) -> int:
    """The widest of ``module``'s adapted linear layers (named ``*.TARGET``): the smaller of its in and
    out features, the most a LoRA's rank can use there; 0 when there are none."""
    widths = [min(m.in_features, m.out_features) for name, m in module.named_modules()
              if isinstance(m, torch.nn.Linear) and any(name == t or name.endswith("." + t) for t in targets)]
    return max(widths, default=0)


def rank_limit(model: str, *, train_text_encoder: bool = False, store: Any = None) -> int:
    """The largest LoRA rank of any use on ``model``: the widest of the layers a LoRA adapts (the
    UNet's attention projections, and the text encoder's with ``train_text_encoder``), a layer's
    width being the smaller of its in and out features (:func:`_layer_width` of the loaded model,
    which :meth:`LoraTrainer.setup` refuses a larger rank by). Read from the model's config files
    alone: no weights, no diffusers import (helper threads may call it while a job imports).
    0 when the configs do not say; raises as :func:`resolve_model` does."""
    path = Path(resolve_model(model, store).path)

    def config(part: str) -> dict[str, Any]:
        try:
            found = json.loads((path / part / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    unet = config("unet")
    channels = [int(c) for c in unet.get("block_out_channels") or ()]
    # An attention block's projections are as wide as its block's channels (a cross-attention's
    # keys and values take the text's width in, and are no wider than that); the up blocks run
    # the channels in reverse; the mid block has the last, and attention unless told otherwise.
    widths = [c for c, kind in zip(channels, unet.get("down_block_types") or ()) if "Attn" in str(kind)]
    widths += [c for c, kind in zip(channels[::-1], unet.get("up_block_types") or ()) if "Attn" in str(kind)]
    if channels and "Attn" in str(unet.get("mid_block_type", "UNetMidBlock2DCrossAttn")):
        widths.append(channels[-1])
    if train_text_encoder:
        widths.append(int(config("text_encoder").get("hidden_size") or 0))
    return max(widths, default=0)


def _load_lora_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    params = dict(module.named_parameters())
    with torch.no_grad():
        for key, value in weights.items():
            name = key.removesuffix(".weight") + f".{ADAPTER}.weight"
            if name not in params:
                raise LoraTrainingError(f"The checkpoint's LoRA weight '{key}' does not fit this model.")
            params[name].copy_(value.to(params[name].device, params[name].dtype))


def list_checkpoints(folder: str | Path) -> list[Path]:
    """The complete checkpoints of the run folder ``folder``, oldest first (their ``state.pt`` files)."""
    root = Path(folder) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for step_dir in root.iterdir():
        match = re.fullmatch(r"step-(\d{8})", step_dir.name)
        if match and (step_dir / CHECKPOINT_COMPLETE).is_file() and (step_dir / CHECKPOINT_FILE).is_file():
            found.append((int(match.group(1)), step_dir / CHECKPOINT_FILE))
    return [path for _, path in sorted(found)]


def checkpoint_folder_for(output: str | Path) -> Path:
    """A run's folder (its checkpoints) when none is given: ``OUTPUT_STEM.training/`` beside ``output``."""
    output = Path(output)
    return output.with_name(output.stem + ".training")


def estimate_memory(pipe: Any, config: LoraTrainConfig, height: int, width: int, trainable: int) -> int:
    """Peak memory of a run, worked out from sizes: the frozen weights at their dtype, the LoRA
    weights with gradients and Adam state, and the UNet's activations for backpropagation (about
    ``24`` float values per latent pixel per channel of every block level, a quarter of that
    with gradient checkpointing)."""
    bytes_per = 2 if config.mixed_precision != "no" else 4
    frozen = sum(p.numel() for module in (pipe.unet, pipe.vae, pipe.text_encoder) for p in module.parameters())
    adam = 2 if config.use_8bit_adam else 8
    lora = trainable * (4 + 4 + adam)
    channels = list(pipe.unet.config.block_out_channels)
    latent_pixels = (height // 8) * (width // 8)
    per_sample = sum(c * latent_pixels / 4**level for level, c in enumerate(channels)) * 24 * bytes_per
    per_sample *= max(1, pipe.unet.config.layers_per_block) * 2  # down and up paths
    if config.gradient_checkpointing:
        per_sample /= 4
    return int(frozen * bytes_per + lora + per_sample * config.batch_size)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return sorted(value) if isinstance(value, set) else list(value)
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.value
    return str(value)


def _adapter_metadata(config: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(config.to_dict(), default=_json_safe))
    return data


def save_lora(trainer: LoraTrainer, output: str | Path, fmt: str = "diffusers") -> Path:
    """Write the trained LoRA to ``output`` (.safetensors) atomically, in ``fmt`` ("diffusers" or
    "kohya"), the training record in the metadata under :data:`METADATA_KEY`."""
    import safetensors.torch
    from diffusers.utils import convert_state_dict_to_diffusers

    if fmt not in FORMATS:
        raise LoraTrainingError(f"Unknown LoRA format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    output = Path(output).expanduser()
    if output.suffix != ".safetensors":
        raise LoraTrainingError(f"The LoRA file must end in .safetensors, got '{output.name}'.")
    output.parent.mkdir(parents=True, exist_ok=True)
    states = trainer.lora_state_dicts()
    metadata = {"format": "pt", METADATA_KEY: json.dumps(trainer.training_record(fmt), sort_keys=True)}
    if fmt == "diffusers":
        tensors = {f"unet.{k}": v for k, v in convert_state_dict_to_diffusers(states["unet"]).items()}
        packed = {f"unet.{k}": v for k, v in _adapter_metadata(trainer.unet_lora_config).items()}
        if "text_encoder" in states:
            tensors.update({f"text_encoder.{k}": v for k, v in convert_state_dict_to_diffusers(states["text_encoder"]).items()})
            packed.update({f"text_encoder.{k}": v for k, v in _adapter_metadata(trainer.text_lora_config).items()})
        metadata["lora_adapter_metadata"] = json.dumps(packed, indent=2, sort_keys=True)
    else:
        tensors = kohya_state_dict(states, float(trainer.config.alpha))
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        safetensors.torch.save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return output


def kohya_state_dict(states: dict[str, dict[str, torch.Tensor]], alpha: float) -> dict[str, torch.Tensor]:
    """PEFT state dicts -> kohya/A1111 keys (``lora_unet_*`` / ``lora_te1_*`` ``.lora_down/.lora_up.weight``)
    with ``.alpha`` set to the true ``alpha`` (diffusers' convert_state_dict_to_kohya writes the rank)."""
    from diffusers.utils import convert_state_dict_to_kohya

    prefixed = {f"{prefix}.{k}": v for prefix, state in states.items() for k, v in state.items()}
    out = {}
    for key, value in convert_state_dict_to_kohya(prefixed).items():
        # SD 1.x names the text encoder "lora_te_text_model_*" in kohya/A1111 files (lora_te1 is SDXL's).
        if key.startswith("lora_te1_"):
            rest = key.removeprefix("lora_te1_")
            key = "lora_te_" + (rest if rest.startswith("text_model_") else "text_model_" + rest)
        out[key] = torch.tensor(float(alpha)) if key.endswith(".alpha") else value
    return out


def read_lora_info(path: str | Path) -> dict[str, Any]:
    """The training record stored in a LoRA file (base model, settings, dataset summary, trigger words),
    or ``{}`` for a LoRA made elsewhere. Raises LoraTrainingError for a file that is not safetensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as error:  # noqa: BLE001 - safetensors raises several types
        raise LoraTrainingError(f"'{path}' is not a readable .safetensors file: {error}".splitlines()[0]) from error
    text = metadata.get(METADATA_KEY)
    if not text:
        return {}
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return info if isinstance(info, dict) else {}


def config_from_lora(path: str | Path, **overrides: Any) -> LoraTrainConfig:
    """The settings a LoRA was trained with (to start a new run from them), with ``overrides``."""
    info = read_lora_info(path)
    if not info.get("settings"):
        raise LoraTrainingError(f"'{path}' holds no training settings (it was not trained by this app).")
    return replace(LoraTrainConfig.from_json(info["settings"]), **overrides)


# ---------------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------------


def train_lora(
    model: str,
    dataset: LoraDataset,
    output: str | Path,
    config: LoraTrainConfig = LoraTrainConfig(),
    *,
    fmt: str = "diffusers",
    resume: bool = False,
    checkpoint_dir: str | Path | None = None,
    ctx: Any = None,
    store: Any = None,
    length_note: str = "",
) -> Generator[LoraProgress, None, LoraResult]:
    """Train a LoRA of ``model`` on ``dataset`` and write it to ``output``; see the module docstring.

    Yields LoraProgress: "load", "encode", "estimate" (with :class:`Estimate`), "validate" (the
    starting losses), then "train" after every step (``loss``, ``learning_rate``), "validate" every
    ``validation_every`` steps, "sample" (with :class:`LoraSample` s) every ``sample_every`` steps,
    "checkpoint" every ``checkpoint_every`` steps, and "save". With ``resume`` it continues from the
    last checkpoint in ``checkpoint_dir`` (default: :func:`checkpoint_folder_for` ``output``).
    ``length_note``: where the step count came from, for the estimate (:attr:`Estimate.length_note`).

    Raises LoraTrainingError / LoraDataError with a one-line message; ``JobCancelledError`` from
    ``ctx.check_cancelled()`` on cancel (the last checkpoint stays for a resume).
    """
    if fmt not in FORMATS:
        raise LoraTrainingError(f"Unknown LoRA format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if Path(output).suffix != ".safetensors":
        raise LoraTrainingError(f"The LoRA file must end in .safetensors, got '{Path(output).name}'.")
    cfg = config
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else checkpoint_folder_for(output)

    def check_cancelled() -> None:
        if ctx is not None:
            ctx.check_cancelled()

    started = time.perf_counter()
    yield LoraProgress("load", 0, 1, f"Loading {model}")
    trainer = LoraTrainer(model, dataset, cfg, store=store)
    with torch_threads(cfg.num_threads):
        trainer.setup()
    total = trainer.total_steps
    yield LoraProgress("encode", 1, 1, f"Encoded {len(trainer.train_set)} training and {len(trainer.val_set)} "
                                       "validation clips to latents")
    if not resume:  # a new run: an old run's checkpoints must not be resumed (a user's own files stay)
        removed = clear_checkpoints(folder)
        if removed:
            yield LoraProgress("load", 1, 1, cleared_checkpoints_message(folder, removed))
    if resume:
        checkpoints = list_checkpoints(folder)
        if not checkpoints:
            raise LoraTrainingError(f"Nothing to resume: no complete checkpoint in '{folder}'.")
        with torch_threads(cfg.num_threads):
            trainer.load_checkpoint(checkpoints[-1])
        yield LoraProgress("load", 1, 1, f"Resumed from step {trainer.step} ({checkpoints[-1].parent.name})")
    check_cancelled()
    with torch_threads(cfg.num_threads):
        initial_train, train_eval_s = _timed(trainer.evaluate, "train")
        initial_val, val_eval_s = _timed(trainer.evaluate, "validation")
        estimate = replace(trainer.measure({"train_evaluations": train_eval_s, "validation_evaluations": val_eval_s},
                                           started=True), length_note=length_note)
    has_validation = initial_val is not None
    yield LoraProgress("estimate", trainer.step, total, estimate.describe(), estimate=estimate)
    if initial_val is not None and trainer.step == 0:
        trainer.validation_losses.append((0, initial_val))
    yield LoraProgress("validate", trainer.step, total, _losses_text(initial_train, initial_val),
                       loss=initial_train, validation_loss=initial_val)
    step_times: list[float] = []
    while trainer.step < total:
        check_cancelled()
        begun = time.perf_counter()
        with torch_threads(cfg.num_threads):
            loss, lr = trainer.train_step()
        step_times.append(time.perf_counter() - begun)
        step = trainer.step
        recent = step_times[-50:]  # the ETA follows the steps' own pace once a few are done
        step_s = sum(recent) / len(recent) if len(recent) >= 3 else estimate.step_s
        yield LoraProgress("train", step, total, f"step {step}/{total} loss {loss:.4f}", loss=loss, learning_rate=lr,
                           eta_s=estimate.remaining_s(step, step_s, cfg, has_validation=has_validation))
        if cfg.validates_at(step, total):
            with torch_threads(cfg.num_threads):
                val = trainer.evaluate("validation")
            if val is not None:
                trainer.validation_losses.append((step, val))
                yield LoraProgress("validate", step, total, f"validation loss {val:.4f}", validation_loss=val)
        if cfg.samples_at(step):
            check_cancelled()
            with torch_threads(cfg.num_threads):
                samples = trainer.samples()
            yield LoraProgress("sample", step, total, f"{len(samples)} samples at step {step}", samples=samples)
        if cfg.checkpoints_at(step, total):
            with torch_threads(cfg.num_threads):
                path = trainer.save_checkpoint(folder)
            yield LoraProgress("checkpoint", step, total, f"Saved {path.parent.name}", checkpoint=str(path.parent))
    with torch_threads(cfg.num_threads):
        final_train = trainer.evaluate("train")
        final_val = trainer.evaluate("validation")
    if final_val is not None:
        trainer.validation_losses.append((trainer.step, final_val))
    yield LoraProgress("validate", trainer.step, total, _losses_text(final_train, final_val),
                       loss=final_train, validation_loss=final_val)
    if cfg.samples_at_end(trainer.step):
        with torch_threads(cfg.num_threads):
            samples = trainer.samples()
        yield LoraProgress("sample", trainer.step, total, f"{len(samples)} samples at step {trainer.step}", samples=samples)
    yield LoraProgress("save", 0, 1, f"Writing {Path(output).name}")
    path = save_lora(trainer, output, fmt)
    yield LoraProgress("save", 1, 1, f"Wrote {path}")
    return LoraResult(
        path=path,
        steps=trainer.step,
        initial_loss=float(initial_train),
        final_loss=float(final_train),
        initial_validation_loss=initial_val,
        final_validation_loss=final_val,
        losses=tuple(trainer.losses),
        seconds=time.perf_counter() - started,
    )


def _process_peak_bytes() -> int:
    """The process's peak resident memory so far (getrusage), 0 where it cannot be read. On the CPU
    it holds what the timed steps needed (and whatever else the process did before)."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB elsewhere
    except (ImportError, OSError, ValueError):
        return 0


def _timed(fn: Any, *args: Any) -> tuple[Any, tuple[float, float]]:
    """``fn(*args)`` and the (wall, CPU) seconds it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn(*args)
    return value, (time.perf_counter() - wall, time.process_time() - cpu)


def _losses_text(train: float | None, val: float | None) -> str:
    text = f"training loss {train:.4f}" if train is not None else ""
    if val is not None:
        text += f", validation loss {val:.4f}"
    return text


def estimate_lora_run(model: str, dataset: LoraDataset, config: LoraTrainConfig, *, store: Any = None) -> Estimate:
    """What the run would take, measured (nothing is trained, nothing written): load ``model``, add
    the adapters and encode the dataset (timed: a run does it again), time the losses, the steps
    (:meth:`LoraTrainer.time_steps`), a sample generation and a checkpoint (see :class:`Estimate`)."""
    trainer = LoraTrainer(model, dataset, config, store=store)
    with torch_threads(config.num_threads):
        _none, setup = _timed(trainer.setup)
        _loss, train_eval = _timed(trainer.evaluate, "train")
        _loss, val_eval = _timed(trainer.evaluate, "validation")
        return trainer.measure({"setup": setup, "train_evaluations": train_eval, "validation_evaluations": val_eval})


__all__ = [
    "Estimate", "FORMATS", "LoraProgress", "LoraResult", "LoraSample", "LoraTrainConfig", "LoraTrainer",
    "LoraTrainingError", "METADATA_KEY", "PRESETS", "checkpoint_folder_for", "config_from_lora", "estimate_lora_run",
    "estimate_memory", "kohya_state_dict", "list_checkpoints", "min_snr_weights", "preset_config", "preset_for_model", "read_lora_info",
    "run_train_lora", "save_lora", "torch_threads", "train_lora",
]


# ---------------------------------------------------------------------------------------------
# The task's runner: dataset step + training (engine.tasks.train_lora)
# ---------------------------------------------------------------------------------------------


def run_train_lora(spec: Any, ctx: Any = None) -> Generator[LoraProgress, None, Any]:
    """Run a :class:`engine.tasks.train_lora.TrainLoraJob`: build the dataset (a "dataset" progress
    says how many sounds were used and which were skipped, and why), then :func:`train_lora`.

    Returns a one-tuple of :class:`engine.specs.TaskResult` (``files``: the LoRA; the recipe's
    facts: steps, losses, seconds, the dataset summary), or the :class:`Estimate` for an
    ``estimate_only`` job. Raises LoraDataError / LoraTrainingError with one line.
    """
    from engine.specs import TaskResult
    from engine.training.lora_data import build_dataset, target_for_model

    yield LoraProgress("dataset", 0, 1, "Reading the sounds")
    store = getattr(ctx, "store", None)
    model = spec.model
    resolve_model(model, store)  # a model that is missing or not a model says so, before its spectrogram is asked
    target = target_for_model(model, preset=spec.spectrogram_preset, duration_s=spec.duration_s, height=spec.height)
    dataset = build_dataset(spec.data_dir, target, clips=spec.clips, trigger=spec.trigger, prefix=spec.prefix,
                            captions=dict(spec.captions))
    yield LoraProgress("dataset", 1, 1, dataset.describe())
    config = spec.config
    if not config.validation_prompts:  # sample the trigger word (or the first caption) unless told otherwise
        config = replace(config, validation_prompts=(dataset.trigger or dataset.examples[0].caption,))
    if spec.clips and not spec.estimate_only:  # the project's clips live in memory: keep them for a resume
        from engine.training.lora_library import save_clips

        save_clips(spec.output_dir, spec.clips)
    # A length the base model's card recommends for the preset says so in the estimate (the CLI's
    # line before the run): a user who did not choose it learns where it came from.
    recommended = preset_steps(spec.preset, model)
    note = recommended.reason if recommended.from_card and recommended.steps == config.max_steps else ""
    if spec.estimate_only:
        yield LoraProgress("load", 0, 1, f"Loading {model}")
        estimate = replace(estimate_lora_run(model, dataset, config, store=store), length_note=note)
        yield LoraProgress("estimate", 0, estimate.total_steps, estimate.describe(), estimate=estimate)
        return estimate
    result = yield from train_lora(model, dataset, spec.output, config, fmt=spec.fmt, resume=spec.resume,
                                   checkpoint_dir=spec.output_dir, ctx=ctx, store=store, length_note=note)
    facts = {
        "steps": result.steps, "initial_loss": result.initial_loss, "final_loss": result.final_loss,
        "initial_validation_loss": result.initial_validation_loss,
        "final_validation_loss": result.final_validation_loss, "seconds": round(result.seconds, 3),
        "dataset": {**dataset.summary(), "fingerprint": _dataset_fingerprint(dataset)},
        "lora_sha256": hashlib.sha256(Path(result.path).read_bytes()).hexdigest(),
    }
    recipe = spec.make_recipe(seed=config.seed, model_id=model, device=config.device,
                              dtype={"no": "float32", "fp16": "float16", "bf16": "bfloat16"}[config.mixed_precision],
                              facts=facts)
    return (TaskResult(recipe=recipe, files=(Path(result.path),)),)
