"""How long the starter model takes to learn a sound it does not know, with the CPU LoRA preset.

The sound, "zorblat", is made up: a pure tone that jumps between C5 (523 Hz) and G5 (784 Hz) every
~160 ms (a two-note trill the starter's synthetic training set never had). Sixteen clips of it
(each with its own jump timing, phase, loudness and a little vibrato) are written as WAV files
with a metadata.csv, read through the dataset step, and a LoRA is trained with the "cpu-starter" preset
(one thread, as on a machine that is busy with other work). Then the prompt "zorblat" is
generated for ``--seeds`` seeds through the engine's own LoRA path (``apply_loras``), with the
LoRA and without it (the reference: the base model in the same run), and each clip is measured:

* a clip "is a zorblat" when at least half of its 20 ms frames have their strongest frequency
  within a semitone of C5 or G5, each of the two notes holds at least 8% of those frames, and the
  pitch jumps between them at least 6 times in the 2.56 s (the real clips have ~14 jumps).

The thresholds are set by a second reference, the ceiling: real zorblat clips sent through the
starter's own VAE and Griffin-Lim inversion (what a perfect UNet would give). That path keeps
95-98% of frames on the notes and all the jumps but weakens C5 (10-36% of the frames instead of
half), so a stricter balance test would fail the real sound itself.

Prints the training time against the issue's 10-minute target, and the share of seeds that give
the sound with the LoRA against the base model's share (the targets: >= 80% with, far fewer
without).

    .venv/bin/python bench/bench_lora_starter.py [--model builtin:starter2] [--seeds 40] [--first-seed 100] [--steps N] [--threads 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRIGGER = "zorblat"
NOTES_HZ = (523.25, 783.99)
SR = 22050
TARGET_S = 600.0


def zorblat(rng: np.random.Generator, duration_s: float = 3.0, sr: int = SR) -> np.ndarray:
    """One clip of the made-up sound: a tone trilling between C5 and G5, ~160 ms per note."""
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    segment_s = rng.uniform(0.13, 0.19)
    start_note = int(rng.integers(2))
    which = (np.floor((t + rng.uniform(0, segment_s)) / segment_s).astype(int) + start_note) % 2
    freq = np.asarray(NOTES_HZ)[which] * (1 + 0.004 * np.sin(2 * np.pi * rng.uniform(4, 6) * t))
    phase = 2 * np.pi * np.cumsum(freq) / sr + rng.uniform(0, 2 * np.pi)
    envelope = np.minimum(1.0, t / 0.02) * rng.uniform(0.3, 0.9)
    return (envelope * np.sin(phase)).astype(np.float32)


def is_zorblat(audio: np.ndarray, sr: int) -> tuple[bool, dict[str, float]]:
    """The measurement: per 20 ms frame, the strongest frequency (50 ms Hann window, 80-4000 Hz)."""
    from scipy import signal

    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    _, _, spec = signal.stft(x, sr, window="hann", nperseg=int(0.05 * sr), noverlap=int(0.03 * sr), nfft=4096)
    freqs = np.fft.rfftfreq(4096, 1 / sr)
    band = (freqs >= 80) & (freqs <= 4000)
    power = np.abs(spec[band]) ** 2
    loud = power.sum(axis=0) > 1e-3 * power.sum(axis=0).max()
    peak_hz = freqs[band][np.argmax(power, axis=0)][loud]
    if peak_hz.size == 0:
        return False, {"on_notes": 0.0, "low": 0.0, "high": 0.0, "jumps": 0}
    semitones = 12 * np.log2(peak_hz[:, None] / np.asarray(NOTES_HZ)[None])
    nearest = np.argmin(np.abs(semitones), axis=1)
    on = np.abs(semitones[np.arange(len(peak_hz)), nearest]) <= 1.0
    labels = nearest[on]
    jumps = int(np.count_nonzero(np.diff(labels)))
    facts = {"on_notes": float(on.mean()), "low": float(np.mean(labels == 0)) if labels.size else 0.0,
             "high": float(np.mean(labels == 1)) if labels.size else 0.0, "jumps": jumps}
    ok = facts["on_notes"] >= 0.5 and min(facts["low"], facts["high"]) >= 0.08 and jumps >= 6
    return ok, facts


def write_dataset(folder: Path, count: int = 16, seed: int = 0) -> None:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    rows = ["file_name,text"]
    for i in range(count):
        sf.write(str(folder / f"zorblat_{i:02d}.wav"), zorblat(rng), SR)
        rows.append(f"zorblat_{i:02d}.wav,")  # the caption is the trigger word alone
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def generate(loaded, prompt: str, seed: int, target, guidance: float, steps: int) -> np.ndarray:
    from engine.pipelines.sampling import denoise, to_uint8
    from engine.pipelines.generate import invert, spectrogram_image

    run = denoise(loaded, prompt=prompt, height=target.height, width=target.width, num_inference_steps=steps,
                  guidance_scale=guidance, scheduler="dpm++2m-karras", generator_seed=seed)
    try:
        while True:
            next(run)
    except StopIteration as stop:
        pixels = to_uint8(stop.value)
    audio, _ = invert(spectrogram_image(pixels, target.params), target.params, loaded.device, seed)
    return audio[0]


def _facts(facts: dict[str, float]) -> str:
    return f"{facts['on_notes']:.2f}/{facts['low']:.2f}/{facts['high']:.2f}/{facts['jumps']}"


def through_the_model(loaded, target, count: int = 8) -> list[bool]:
    """The ceiling: real clips -> spectrogram image -> the model's VAE -> Griffin-Lim -> measured."""
    import torch

    from engine.pipelines.sampling import decode_latents, image_to_tensor, to_uint8
    from engine.pipelines.generate import invert, spectrogram_image
    from engine.training.lora_data import preprocess
    from engine.training.lora_data import spectrogram_image as clip_image

    pipe = loaded.pipeline
    passed = []
    for i in range(count):
        audio = preprocess(zorblat(np.random.default_rng(200 + i))[None], SR, target)
        with torch.no_grad():
            latents = pipe.vae.encode(image_to_tensor(clip_image(audio, target), target.height, target.width))
            pixels = to_uint8(decode_latents(pipe, latents.latent_dist.mean * pipe.vae.config.scaling_factor))
        back, _ = invert(spectrogram_image(pixels, target.params), target.params, loaded.device, i)
        passed.append(is_zorblat(back[0], SR)[0])
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="how many seeds to generate")
    parser.add_argument("--first-seed", type=int, default=100,
                        help="the first seed (default 100: seeds the preset was not tuned on)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps (default: what the base model's card recommends for the preset, else the preset's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="write the dataset and the LoRA here")
    parser.add_argument("--model", default="builtin:starter",
                        help="base model (default builtin:starter; builtin:starter2 is the app's default offline model)")
    args = parser.parse_args()

    import torch

    from engine.models.catalog import builtin_model_dir, model_hints
    from engine.models.loading import load_pipeline
    from engine.models.policy import LoadPolicy
    from engine.models.store import ModelStore
    from engine.pipelines.generate import apply_loras, remove_loras
    from engine.tasks.train_lora import TrainLoraJob
    from engine.training.lora import run_train_lora
    from engine.training.lora_config import preset_steps
    from engine.training.lora_data import target_for_model

    torch.set_num_threads(args.threads)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_lora_"))
    data = work / "zorblat"
    data.mkdir(parents=True, exist_ok=True)
    write_dataset(data)
    model = str(builtin_model_dir(args.model)) if args.model.startswith("builtin:") else args.model
    target = target_for_model(model)
    real = [is_zorblat(zorblat(np.random.default_rng(100 + i)), SR)[0] for i in range(8)]
    print(f"measurement on real zorblat clips: {sum(real)}/{len(real)} pass")

    settings = {"num_threads": args.threads}
    started, cpu_started = time.perf_counter(), time.process_time()
    # The task the CLI and the wizard run: dataset step, then training (engine.tasks.train_lora).
    job = TrainLoraJob(output=str(work / "zorblat.safetensors"), model=model, data_dir=str(data), trigger=TRIGGER,
                       preset="cpu-starter", settings=settings, num_steps=args.steps or 0)
    print(preset_steps(job.preset, model).describe() if not args.steps else f"{args.steps} steps (--steps)")
    run = run_train_lora(job)
    try:
        while True:
            event = next(run)
            if event.stage != "train" or event.step % 100 == 0:
                print(f"  [{time.perf_counter() - started:6.1f} s] {event.stage}: {event.message}", flush=True)
    except StopIteration as stop:
        (result,) = stop.value
    train_s, train_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    facts = result.recipe.facts
    lora_path = result.files[0]
    print(f"training: {facts['steps']} steps on {facts['dataset']['num_examples']} clips, loss "
          f"{facts['initial_loss']:.4f} -> {facts['final_loss']:.4f}")

    hints = model_hints(model)
    loaded = load_pipeline(ModelStore().resolve(model), LoadPolicy(device="cpu", precision="fp32"))
    steps, guidance = hints.num_inference_steps or 20, hints.guidance_scale or 5.0
    ceiling = through_the_model(loaded, target)
    print(f"ceiling, real clips through the model's VAE and inversion: {sum(ceiling)}/{len(ceiling)} pass")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    base = [is_zorblat(generate(loaded, TRIGGER, s, target, guidance, steps), SR) for s in seeds]
    names = apply_loras(loaded.pipeline, ((str(lora_path), 1.0),))
    try:
        ours = [is_zorblat(generate(loaded, TRIGGER, s, target, guidance, steps), SR) for s in seeds]
    finally:
        remove_loras(loaded.pipeline, names)
    ours_rate = np.mean([ok for ok, _ in ours])
    base_rate = np.mean([ok for ok, _ in base])
    print(f"LoRA, prompt {TRIGGER!r}: {ours_rate:.0%} of {args.seeds} seeds give the sound; per seed (on notes/C5/G5/jumps) "
          f"{[_facts(f) for _, f in ours]}")
    print(f"reference, base model, same prompt and seeds: {base_rate:.0%}; per seed "
          f"{[_facts(f) for _, f in base]}")
    print(f"ratio (LoRA / base hit rate): {ours_rate / base_rate:.1f}" if base_rate else
          "ratio (LoRA / base hit rate): base never gives it")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"time to learn the sound: {train_s:.0f} s wall, {train_cpu_s:.0f} s CPU with {args.threads} thread(s) "
          f"(dataset step and model loading included, load average {load} on {os.cpu_count()} cores); "
          f"reference, the issue's target: {TARGET_S:.0f} s -> ratio {train_s / TARGET_S:.2f} (wall), "
          f"{train_cpu_s / TARGET_S:.2f} (CPU)")


if __name__ == "__main__":
    main()
