"""LoRA training of an SD 1.5-sized model at 512 px, batch 1: steps per second and peak GPU memory,
ours against diffusers' reference recipe in the same run (issue 13, part 8; target: peak GPU
memory at most 8 GB).

The model is SD 1.5's geometry with random weights (bench/gpu_models.py: speed and memory depend
on the shapes only), saved as a diffusers folder and loaded by the engine's store like any local
model. Measured, one after the other in this process, each from a fresh load:

* ours: engine.training.lora's LoraTrainer with a memory preset (``--preset``, repeatable;
  default gpu-6gb and gpu-8gb: fp16 mixed precision, gradient checkpointing, latents and prompt
  embeddings cached before the first step), ``batch_size`` 1 and one micro-batch per step, so a
  step is one 512 px image as in the reference (the presets accumulate 4: their steps are 4 of these);
* the reference: diffusers' examples/text_to_image/train_text_to_image_lora.py at its defaults
  with batch 1 at 512 px: frozen UNet, VAE and text encoder in fp16, a rank-4 LoRA (alpha 4,
  gaussian init) on to_q/to_k/to_v/to_out.0 through peft's LoraConfig and ``unet.add_adapter``,
  the LoRA weights in fp32, AdamW (lr 1e-4, weight decay 1e-2), fp16 autocast with a gradient
  scaler, grad-norm clipping at 1, no gradient checkpointing; each step encodes its image with the
  VAE and its caption with the text encoder, as the script does (accelerate's wrapping written out).

Each run: ``--warmup`` steps, then ``--steps`` timed steps (CUDA synchronised). Peak GPU memory
is torch.cuda.max_memory_allocated from a reset before loading: the whole run (load, caching, the
steps), which is what the card must hold; the steps' own peak is printed beside it.

    python bench/bench_lora_gpu.py [--device cuda] [--size 512] [--steps 30] [--geometry sd15|tiny]

On a CPU only the tiny geometry runs (seconds; fp32, no peak GPU memory: it says so).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gpu_models import PeakMemory, bench_parser, gb, model_folder, release, start  # noqa: E402

TARGET_BYTES = 8 * 10**9  # "at most 8 GB" (issue 13); 7.45 GiB
CAPTION = "zorblat, a bright synth pluck"
CLIPS = 8


@dataclass
class Run:
    name: str
    steps_per_s: float | None = None
    peak_bytes: int | None = None
    reserved_bytes: int | None = None
    card_used_bytes: int | None = None
    steps_peak_bytes: int | None = None
    note: str = ""
    error: str = ""

    def measured(self, whole: PeakMemory, steps: PeakMemory) -> None:
        """Take the memory figures of the whole run and of its steps."""
        self.peak_bytes, self.reserved_bytes = whole.bytes, whole.reserved_bytes
        self.card_used_bytes = whole.card_used_bytes
        self.steps_peak_bytes = steps.bytes if self.steps_per_s else None


def dataset(size: int, clips: int = CLIPS):
    """``clips`` random ``size`` x ``size`` images with one caption (what the trainer reads)."""
    import numpy as np

    from engine.audio.params import duration_for_width, get_preset
    from engine.training.lora_data import Example, LoraDataset, make_target

    params = get_preset("riffusion")
    target = make_target("riffusion", duration_for_width(params, size), height=size)
    rng = np.random.default_rng(0)
    examples = tuple(Example(f"clip{i:02d}", CAPTION, rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                             np.zeros((1, target.num_samples), np.float32)) for i in range(clips))
    return LoraDataset(examples=examples, target=target, trigger="zorblat")


def timed_steps(step, warmup: int, steps: int, device: str) -> float:
    """Steps per second of ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    import torch

    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - started)


def run_ours(folder: Path, preset: str, args) -> Run:
    import torch

    from engine.training.lora import LoraTrainer, LoraTrainingError, preset_config

    cuda = args.device.startswith("cuda")
    config = preset_config(
        preset, batch_size=1, gradient_accumulation_steps=1, device=args.device, validation_fraction=0.0,
        mixed_precision=preset_config(preset).mixed_precision if cuda else "no", num_threads=None if cuda else 1,
        max_steps=args.warmup + args.steps + 1,
    )  # fmt: skip
    run = Run(f"ours, {preset}")
    steps = PeakMemory(args.device)
    with PeakMemory(args.device) as whole:
        trainer = LoraTrainer(str(folder), dataset(args.size), config)
        try:
            trainer.setup()
            run.note = (f"rank {config.rank}, {config.mixed_precision if cuda else 'fp32'}, gradient checkpointing "
                        f"{'on' if config.gradient_checkpointing else 'off'}, {trainer.optimizer_name}, cached latents "
                        f"and prompt embeddings, {trainer.trainable_parameters:,} LoRA parameters")
            with steps:
                run.steps_per_s = timed_steps(trainer.train_step, args.warmup, args.steps, args.device)
        except (LoraTrainingError, torch.OutOfMemoryError) as error:
            run.error = f"{type(error).__name__}: {error}".splitlines()[0]
    run.measured(whole, steps)
    del trainer
    return run


def run_reference(folder: Path, args) -> Run:
    """diffusers' train_text_to_image_lora.py recipe at its defaults, batch 1 (see the module docstring)."""
    import torch
    import torch.nn.functional as F
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from peft import LoraConfig
    from transformers import CLIPTextModel, CLIPTokenizer

    cuda = args.device.startswith("cuda")
    weight_dtype = torch.float16 if cuda else torch.float32  # --mixed_precision fp16 (none on a CPU)
    run = Run("reference, diffusers' train_text_to_image_lora.py")
    steps = PeakMemory(args.device)
    with PeakMemory(args.device) as whole:
        tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
        noise_scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
        text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
        for module in (unet, vae, text_encoder):
            module.requires_grad_(False)
        unet_lora_config = LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                                      target_modules=["to_k", "to_q", "to_v", "to_out.0"])
        unet.to(args.device, dtype=weight_dtype)
        vae.to(args.device, dtype=weight_dtype)
        text_encoder.to(args.device, dtype=weight_dtype)
        unet.add_adapter(unet_lora_config)
        lora_layers = [p for p in unet.parameters() if p.requires_grad]
        for p in lora_layers:  # cast_training_params(unet, dtype=torch.float32)
            p.data = p.data.float()
        optimizer = torch.optim.AdamW(lora_layers, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
        scaler = torch.amp.GradScaler("cuda", enabled=cuda)
        generator = torch.Generator("cpu").manual_seed(0)
        images = [torch.rand((1, 3, args.size, args.size), generator=generator) * 2 - 1 for _ in range(CLIPS)]
        input_ids = tokenizer([CAPTION], max_length=tokenizer.model_max_length, padding="max_length",
                              truncation=True, return_tensors="pt").input_ids
        counter = [0]

        def step() -> None:
            unet.train()
            pixel_values = images[counter[0] % CLIPS].to(args.device)
            counter[0] += 1
            latents = vae.encode(pixel_values.to(dtype=weight_dtype)).latent_dist.sample()
            latents = latents * vae.config.scaling_factor
            noise = torch.randn_like(latents)
            timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (1,), device=latents.device).long()
            noisy_latents = noise_scheduler.add_noise(latents, noise, timesteps)
            encoder_hidden_states = text_encoder(input_ids.to(args.device), return_dict=False)[0]
            with torch.autocast(args.device.split(":")[0], dtype=torch.float16, enabled=cuda):
                model_pred = unet(noisy_latents, timesteps, encoder_hidden_states, return_dict=False)[0]
            loss = F.mse_loss(model_pred.float(), noise.float(), reduction="mean")
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(lora_layers, 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
            float(loss.detach())  # the script logs the step's loss (a sync, as ours)

        run.note = (f"rank 4, {'fp16' if cuda else 'fp32'}, gradient checkpointing off, AdamW, VAE and text encoder "
                    f"run every step, {sum(p.numel() for p in lora_layers):,} LoRA parameters")
        try:
            with steps:
                run.steps_per_s = timed_steps(step, args.warmup, args.steps, args.device)
        except torch.OutOfMemoryError as error:
            run.error = f"{type(error).__name__}: {error}".splitlines()[0]
    run.measured(whole, steps)
    del unet, vae, text_encoder, optimizer, lora_layers
    return run


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__.splitlines()[0], "timed steps per run (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them (default 3)")
    parser.add_argument("--preset", action="append", default=None,
                        help="our memory preset (repeatable; default gpu-6gb and gpu-8gb)")
    args = parser.parse_args(argv)
    refused = start(args, "trains")
    if refused is not None:
        return refused
    presets = args.preset or ["gpu-6gb", "gpu-8gb"]
    with tempfile.TemporaryDirectory(prefix="specdiff-bench-lora-gpu-") as tmp:
        folder = model_folder(args, tmp)
        runs = []
        for make in [lambda p=p: run_ours(folder, p, args) for p in presets] + [lambda: run_reference(folder, args)]:
            left = release(args.device)
            run = make()
            runs.append(run)
            memory = (f", peak GPU memory {gb(run.peak_bytes)} allocated ({gb(run.reserved_bytes)} reserved by "
                      f"torch's allocator; the steps alone {gb(run.steps_peak_bytes)}; the card's memory in use at "
                      f"the end, CUDA context included: {gb(run.card_used_bytes)})") if run.peak_bytes else ""
            print(f"{run.name}: " + (run.error or f"{run.steps_per_s:.2f} steps/s{memory}")
                  + f"; {run.note}" + (f"; {gb(left)} still allocated before it" if left else ""), flush=True)
    print(f"\n{args.geometry} geometry, {args.size}x{args.size} px, batch 1, {args.steps} timed steps after "
          f"{args.warmup} warm-up, {args.device}")
    reference = runs[-1]
    for run in runs:
        if run.error:
            print(f"  {run.name}: failed: {run.error}")
            continue
        line = f"  {run.name}: {run.steps_per_s:.2f} steps/s, peak GPU memory {gb(run.peak_bytes)}" + (
            f" ({gb(run.reserved_bytes)} reserved)" if run.reserved_bytes else "")
        if run is not reference and reference.steps_per_s:
            line += f"; ratio to the reference: speed {run.steps_per_s / reference.steps_per_s:.2f}"
            if run.peak_bytes is not None and reference.peak_bytes:
                line += f", memory {run.peak_bytes / reference.peak_bytes:.2f}"
        if run.peak_bytes is not None:
            verdict = "under" if run.peak_bytes <= TARGET_BYTES else "OVER"
            line += f"; {verdict} the 8 GB target"
        print(line)
    if not args.device.startswith("cuda"):
        print("  peak GPU memory: not measured (no GPU in this run; the figures above are a CPU check, "
              "not the target's)")
    return 0 if all(not run.error for run in runs) else 1


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
