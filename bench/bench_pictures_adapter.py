"""The AudioToken-style audio adapter on an SD 1.5-sized model at 512 px: adapter training steps per
second and seconds per picture through ``illustrate`` with the adapter, against a plain diffusers
StableDiffusionPipeline call in the same run (issue 16, parts 2 and 6, the GPU target).

The image model is SD 1.5's geometry with random weights (bench/gpu_models.py: time and memory
depend on the shapes only), saved as a folder and loaded through the engine's store; the audio
encoder is the shipped starter picture model's. Measured one after the other:

* ours, training: the real task (Engine + TrainPicturesJob with the SD folder as its base, so
  engine.pictures.adapter trains an adapter) on a folder of ``--pairs`` generated (sound, picture)
  pairs at ``--size`` px, batch ``--batch`` (default 1); SD frozen (fp16 on a GPU), the embedder
  trained, gradient checkpointing on a GPU. Steps per second from the task's own progress reports,
  after the first 2 steps (warm-up); the whole job's time (loading, latents, saving) printed too.
* ours, sampling: IllustrateJob with the trained adapter folder: the clip's pseudo-words -> the
  prompt's embeddings -> the engine's denoising loop (``--steps`` steps, guidance 7.5, DPM++ 2M
  Karras, the job's default); the first job (loading) untimed, then ``--pictures`` jobs.
* the reference: ``StableDiffusionPipeline.from_pretrained(folder, fp16 on a GPU)`` with the same
  scheduler, steps, guidance and size, prompted with the adapter's template in plain words ("a
  photo of sound"), called once untimed, then ``--pictures`` times.

Peak GPU memory: torch.cuda.max_memory_allocated from a reset before each side loads.

    python bench/bench_pictures_adapter.py [--device cuda] [--size 512] [--steps 30] [--train-steps 20]
                                           [--batch 1] [--pictures 3] [--geometry sd15|tiny]

On a CPU only the tiny geometry runs (seconds, one thread; no peak GPU memory: it says so).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_pictures_gpu import run_reference, time_illustrate  # noqa: E402  (the same plain-pipeline reference, same settings)
from gpu_models import PeakMemory, bench_parser, gb, model_folder, release, start  # noqa: E402

RATE = 16000
GUIDANCE = 7.5
WARMUP_STEPS = 2


def write_pairs(folder: Path, count: int, size: int) -> Path:
    """``count`` (sound, picture) pairs: tones at different pitches with pictures of bands of colour."""
    import numpy as np
    import soundfile
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(3.0 * RATE)) / RATE
    for i in range(count):
        hz = 220.0 * 2 ** (i / 3)
        soundfile.write(folder / f"tone{i}.wav", (0.4 * np.sin(2 * np.pi * hz * t) * np.exp(-t)).astype(np.float32), RATE)
        picture = np.zeros((size, size, 3), np.uint8)
        picture[: (i + 1) * size // (count + 1)] = ((60 * i) % 256, 128, 255 - (60 * i) % 256)
        Image.fromarray(picture).save(folder / f"tone{i}.png")
    return folder


def run_training(model: Path, pairs: Path, out: Path, args) -> dict:
    from engine.api import Engine, EngineSettings
    from engine.tasks.train_pictures import TrainPicturesJob

    spec = TrainPicturesJob(pairs_dir=str(pairs), output_dir=str(out), base=str(model), size=args.size,
                            num_steps=args.train_steps + WARMUP_STEPS, batch_size=args.batch, learning_rate=1e-4, seed=0)
    stamps: list[float] = []
    result: dict = {}
    with PeakMemory(args.device) as peak:
        with Engine(EngineSettings(device=args.device, offline=True)) as engine:
            def note(progress) -> None:  # on the worker thread, as each step ends
                if progress.stage == "train":
                    stamps.append(time.perf_counter())

            started = time.perf_counter()
            engine.run(spec, on_progress=note)
            result["job_s"] = time.perf_counter() - started
    timed = stamps[WARMUP_STEPS:]
    result["steps_per_s"] = (len(timed) - 1) / (timed[-1] - timed[0]) if len(timed) > 1 else len(stamps) / result["job_s"]
    result["peak"], result["reserved"] = peak.bytes, peak.reserved_bytes
    return result


def run_ours(adapter: Path, audio, args) -> dict:
    from engine.tasks.illustrate import IllustrateJob

    def job(seed: int):
        return IllustrateJob(audio=audio[None, :], sample_rate_hz=RATE, model=str(adapter), seed=seed, style="",
                             num_inference_steps=args.steps, guidance_scale=GUIDANCE, width=args.size,
                             height=args.size)

    return time_illustrate(args, job)


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__.splitlines()[0], "denoising steps per picture (default 30)")
    parser.add_argument("--train-steps", type=int, default=20, help="timed training steps (default 20, after 2 more)")
    parser.add_argument("--batch", type=int, default=1, help="pairs per training step (default 1)")
    parser.add_argument("--pairs", type=int, default=4, help="(sound, picture) pairs to train on (default 4)")
    parser.add_argument("--pictures", type=int, default=3, help="timed pictures per side (default 3)")
    args = parser.parse_args(argv)
    refused = start(args, "trains and draws")
    if refused is not None:
        return refused
    with tempfile.TemporaryDirectory(prefix="specdiff-bench-adapter-") as tmp:
        model = model_folder(args, tmp)
        pairs = write_pairs(Path(tmp) / "pairs", args.pairs, args.size)
        adapter = Path(tmp) / "adapter"
        release(args.device)
        training = run_training(model, pairs, adapter, args)
        print(f"ours (train-pictures, adapter): {training['steps_per_s']:.2f} steps/s at batch {args.batch} (the whole "
              f"job of {args.train_steps + WARMUP_STEPS} steps, loading and latents included, {training['job_s']:.1f} s)",
              flush=True)
        release(args.device)
        import numpy as np

        t = np.arange(int(3.0 * RATE)) / RATE
        audio = (0.4 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
        ours = run_ours(adapter, audio, args)
        print(f"ours (illustrate, adapter): {ours['seconds']:.2f} s per picture (the first job, loading included, "
              f"{ours['first_s']:.1f} s); prompt {ours['prompt']!r}", flush=True)
        left = release(args.device)
        reference = run_reference(model, ours["prompt"].replace("<audio>", "sound"), args)
        print(f"reference (StableDiffusionPipeline): {reference['seconds']:.2f} s per picture (the first "
              f"{reference['first_s']:.1f} s)" + (f"; {gb(left)} still allocated before it" if left else ""),
              flush=True)

    print(f"\n{args.geometry} geometry, {args.size}x{args.size} px, {args.device}")
    memory = f", peak GPU memory {gb(training['peak'])} ({gb(training['reserved'])} reserved)" if training["peak"] else ""
    print(f"  ours, adapter training: {training['steps_per_s']:.2f} steps/s at batch {args.batch} (timed over "
          f"the last {args.train_steps} steps){memory}")
    print(f"  sampling: {args.steps} steps, guidance {GUIDANCE}, median of {args.pictures} pictures")
    for name, side in (("ours, illustrate with the adapter", ours), ("reference, diffusers pipeline", reference)):
        memory = f", peak GPU memory {gb(side['peak'])} ({gb(side['reserved'])} reserved)" if side["peak"] else ""
        print(f"  {name}: {side['seconds']:.2f} s per picture{memory}")
    line = f"  ratio ours / reference: time {ours['seconds'] / reference['seconds']:.2f}"
    if ours["peak"] and reference["peak"]:
        line += f", memory {ours['peak'] / reference['peak']:.2f}"
    print(line)
    if not args.device.startswith("cuda"):
        print("  peak GPU memory: not measured (no GPU in this run; the figures above are a CPU check)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
