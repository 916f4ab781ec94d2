"""Zero-shot pictures with an SD 1.5-sized image model at 512 px: seconds per picture and peak GPU
memory through our ``illustrate`` path, against a plain diffusers StableDiffusionPipeline call in
the same run (issue 16, part 6: "on a GPU when one is lent, SD 1.5 at 512 px").

The image model is SD 1.5's geometry with random weights and the tagger an AST at
MIT/ast-finetuned-audioset-10-10-0.4593's geometry with random weights (bench/gpu_models.py: time
and memory depend on the shapes only); both are saved as folders and loaded through the engine's
store. Measured one after the other:

* ours: the real task (Engine + IllustrateJob, zero-shot path): the clip is tagged, the prompt
  blended, and one picture drawn per job (``--steps`` steps, guidance 7.5, DPM++ 2M Karras, the
  job's default). The first job (loading the tagger and the pipeline) is not timed; then
  ``--pictures`` jobs are, each a whole job as a user waits for it. The tagging alone is timed
  too (engine.pictures.zeroshot.tag, on the clip): it is part of each job.
* the reference: ``StableDiffusionPipeline.from_pretrained(folder, torch_dtype=fp16)`` on the same
  device with the same scheduler, prompt, steps, guidance and size, called once untimed, then
  ``--pictures`` times.

Peak GPU memory: torch.cuda.max_memory_allocated from a reset before each side loads.

    python bench/bench_pictures_gpu.py [--device cuda] [--size 512] [--steps 30] [--pictures 3] [--geometry sd15|tiny]

On a CPU only the tiny geometry runs (seconds, one thread; no peak GPU memory: it says so).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gpu_models import PeakMemory, bench_parser, build_ast_folder, gb, model_folder, release, start  # noqa: E402

SAMPLE_RATE_HZ = 16000
GUIDANCE = 7.5


def test_clip(seconds: float = 10.24):
    """A clip that is not silent: a decaying tone over light noise, 16 kHz mono."""
    import numpy as np

    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    rng = np.random.default_rng(0)
    return (0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-t / 3) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def time_illustrate(args, job) -> dict:
    """Our side of a picture bench: ``job(seed)`` (an IllustrateJob) run through the engine, the
    first job (loading included) and the median of ``args.pictures`` more, with peak GPU memory;
    also the first picture's prompt."""
    from engine.api import Engine, EngineSettings

    out: dict = {}
    with PeakMemory(args.device) as peak:
        with Engine(EngineSettings(device=args.device, offline=True)) as engine:
            started = time.perf_counter()
            first = engine.run(job(0))[0]
            out["first_s"] = time.perf_counter() - started
            out["prompt"] = first.recipe.facts["prompt"]
            seconds = []
            for seed in range(1, args.pictures + 1):
                started = time.perf_counter()
                engine.run(job(seed))
                seconds.append(time.perf_counter() - started)
            out["seconds"] = statistics.median(seconds)
    out["peak"], out["reserved"] = peak.bytes, peak.reserved_bytes
    return out


def run_ours(model: Path, tagger: Path, audio, args) -> dict:
    from engine.pictures.zeroshot import tag
    from engine.tasks.illustrate import IllustrateJob

    def job(seed: int):
        return IllustrateJob(audio=audio[None, :], sample_rate_hz=SAMPLE_RATE_HZ, model=str(model),
                             tagger=str(tagger), seed=seed, num_inference_steps=args.steps,
                             guidance_scale=GUIDANCE, width=args.size, height=args.size)

    out = time_illustrate(args, job)
    tagging = []
    for _ in range(args.pictures):
        started = time.perf_counter()
        tag(tagger, audio[None, :], SAMPLE_RATE_HZ, 5)
        tagging.append(time.perf_counter() - started)
    out["tagging_s"] = statistics.median(tagging)
    return out


def run_reference(model: Path, prompt: str, args) -> dict:
    import torch
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    cuda = args.device.startswith("cuda")
    out: dict = {}
    with PeakMemory(args.device) as peak:
        from engine.models.loading import _dtype_keyword  # 'dtype' or, on older diffusers, 'torch_dtype'

        pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None, requires_safety_checker=False,
                                                       **{_dtype_keyword(): torch.float16 if cuda else torch.float32})
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, algorithm_type="dpmsolver++",
                                                                 solver_order=2, use_karras_sigmas=True)
        pipe.to(args.device)
        pipe.set_progress_bar_config(disable=True)

        def draw(seed: int) -> float:
            generator = torch.Generator(args.device).manual_seed(seed)
            started = time.perf_counter()
            pipe(prompt, height=args.size, width=args.size, num_inference_steps=args.steps, guidance_scale=GUIDANCE,
                 generator=generator).images[0]
            return time.perf_counter() - started

        out["first_s"] = draw(0)
        out["seconds"] = statistics.median(draw(seed) for seed in range(1, args.pictures + 1))
    out["peak"], out["reserved"] = peak.bytes, peak.reserved_bytes
    del pipe
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__.splitlines()[0], "denoising steps per picture (default 30)")
    parser.add_argument("--pictures", type=int, default=3, help="timed pictures per side (default 3)")
    args = parser.parse_args(argv)
    refused = start(args, "draws")
    if refused is not None:
        return refused
    with tempfile.TemporaryDirectory(prefix="specdiff-bench-pictures-gpu-") as tmp:
        model, tagger = model_folder(args, tmp), Path(tmp) / f"ast-{args.geometry}-random"
        build_ast_folder(tagger, args.geometry)
        audio = test_clip()
        release(args.device)
        ours = run_ours(model, tagger, audio, args)
        print(f"ours (illustrate, zero-shot): {ours['seconds']:.2f} s per picture (tagging {ours['tagging_s']:.2f} s "
              f"of it; the first job, loading included, {ours['first_s']:.1f} s); prompt {ours['prompt']!r}",
              flush=True)
        left = release(args.device)
        reference = run_reference(model, ours["prompt"], args)
        print(f"reference (StableDiffusionPipeline): {reference['seconds']:.2f} s per picture (the first "
              f"{reference['first_s']:.1f} s)" + (f"; {gb(left)} still allocated before it" if left else ""),
              flush=True)

    print(f"\n{args.geometry} geometry, {args.size}x{args.size} px, {args.steps} steps, guidance {GUIDANCE}, "
          f"median of {args.pictures} pictures, {args.device}")
    sides = (("ours, illustrate zero-shot (tagging included)", ours), ("reference, diffusers pipeline", reference))
    for name, side in sides:
        memory = f", peak GPU memory {gb(side['peak'])} ({gb(side['reserved'])} reserved)" if side["peak"] else ""
        print(f"  {name}: {side['seconds']:.2f} s per picture{memory}")
    line = f"  ratio ours / reference: time {ours['seconds'] / reference['seconds']:.2f}"
    without = ours["seconds"] - ours["tagging_s"]
    line += f" ({without / reference['seconds']:.2f} without the tagging)"
    if ours["peak"] and reference["peak"]:
        line += f", memory {ours['peak'] / reference['peak']:.2f}"
    print(line)
    if not args.device.startswith("cuda"):
        print("  peak GPU memory: not measured (no GPU in this run; the figures above are a CPU check)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
