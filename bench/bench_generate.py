"""Text-to-audio timing by stage, against plain diffusers measured in the same run.

    python bench/bench_generate.py [--steps 20] [--repeats 15] [--width 64] [--cuda-steps 50]

Ours: ``engine.pipelines.generate.run`` through the real Engine (worker thread, events),
split into load / denoise (prompt encoding + steps) / decode (VAE) / invert (Griffin-Lim) from
the Progress events' arrival times. Reference: ``StableDiffusionPipeline.from_pretrained`` and
``StableDiffusionPipeline.__call__`` on the same components, same size, steps, scheduler and
seed: ``output_type="latent"`` for the denoise figure, then the VAE decode on its own.

The headline ratio is our denoise time (``engine.pipelines.sampling.denoise`` driven to the end of
its last step, prompt encoding included) over diffusers' ``__call__`` to latents: the cost of
yielding at every step. Target: <= 1.05. Both the median and the best of the alternating runs are
printed; the overhead is read on the best runs, the ones least disturbed by other processes (on
a shared CPU single runs swing by several x).

Runs the tiny test model on CPU (torch threads 2) on a 512-row, 0.64 s wide image (short runs, so
the best of many is a clean measurement on a busy machine); with CUDA also a full-size SD 1.5 geometry
(UNet 320-640-1280-1280, VAE 128-256-512-512, CLIP-L text encoder) with random weights in fp16 at
512x512, 50 steps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY_SD = ROOT / "tests" / "assets" / "tiny-sd"
PROMPT = "jazz piano solo"
SCHEDULER = "dpm++2m-karras"


from engine.specs import run_to_end as drive  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_ours_engine(model_dir: Path, device: str, precision: str, steps: int, width: int, height: int) -> dict[str, float]:
    """One full text-to-audio job through the Engine; seconds per stage from event arrival times."""
    from engine.api import Engine, EngineSettings, GenerateJob
    from engine.audio.spectrogram import duration_for_width, get_preset

    params = get_preset("riffusion")
    marks: list[tuple[str, float]] = []

    def on_progress(progress) -> None:
        if not marks or marks[-1][0] != progress.stage:
            marks.append((progress.stage, time.perf_counter()))

    spec = GenerateJob(
        prompt=PROMPT, seed=1, num_inference_steps=steps, guidance_scale=7.0, scheduler=SCHEDULER,
        duration_s=float(duration_for_width(params, width)), height=height, model=str(model_dir),
    )
    with Engine(EngineSettings(device=device, precision=precision)) as engine:
        engine.run(spec, on_progress)
        end = time.perf_counter()
    times = dict.fromkeys(("load", "denoise", "decode", "invert"), 0.0)
    for (stage, start), (_, stop) in zip(marks, marks[1:] + [("end", end)]):
        key = "denoise" if stage == "encode" else stage
        times[key] = times.get(key, 0.0) + stop - start
    return times


def time_denoise_pair(pipe, device: torch.device, steps: int, width: int, height: int, repeats: int,
                      timer=time.perf_counter):
    """Seconds to final latents, ours and diffusers, over ``repeats`` alternating runs after a warm-up.

    ``timer`` is wall time by default; ``time.thread_time`` (with torch on one thread) counts only
    the CPU time this thread ran, which other processes on a shared machine cannot inflate.
    Returns ``(ours, theirs, decode)``: lists of per-run seconds, and the median VAE decode time.
    """
    from engine.pipelines import sampling
    from engine.pipelines.schedulers import make_scheduler

    captured = {}
    real_decode = sampling.decode_latents

    def stop_at_decode(pipe_, latents, generator=None):  # time only up to the latents, like output_type="latent"
        captured["latents"] = latents
        return None

    def clock():
        sync(device)
        return timer()

    ours, theirs, decode = [], [], []
    for _ in range(repeats + 1):  # the first round warms up both
        sampling.decode_latents = stop_at_decode
        try:
            start = clock()
            drive(sampling.denoise(pipe, prompt=PROMPT, height=height, width=width, num_inference_steps=steps,
                                   guidance_scale=7.0, scheduler=SCHEDULER, generator_seed=1))
            ours.append(clock() - start)
        finally:
            sampling.decode_latents = real_decode

        start = clock()
        pipe.scheduler = make_scheduler(SCHEDULER, pipe.scheduler.config)  # ours builds one per run too
        latents = pipe(PROMPT, height=height, width=width, num_inference_steps=steps, guidance_scale=7.0,
                       generator=torch.Generator("cpu").manual_seed(1), output_type="latent").images
        theirs.append(clock() - start)
        assert torch.equal(latents, captured["latents"]), "ours and diffusers disagree"

        start = clock()
        with torch.no_grad():
            pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)
        decode.append(clock() - start)
    return ours[1:], theirs[1:], statistics.median(decode[1:])


def time_cpu_overhead(pipe, steps: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Ours vs diffusers in CPU seconds of the calling thread, torch on one thread (best of ``repeats``).

    Two cases on a 512x64 image: the real tiny UNet, and a no-op UNet (what is left is each loop's
    own work per step: scheduler, guidance arithmetic, and for ours the generator hand-off and
    the Progress event). Returns {case: (ours s, diffusers s)}.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    unet = pipe.unet
    results = {}
    try:
        ours, theirs, _ = time_denoise_pair(pipe, torch.device("cpu"), steps, 64, 512, repeats, time.thread_time)
        results["tiny UNet"] = (min(ours), min(theirs))

        def no_op(sample, *args, **kwargs):
            return (torch.zeros_like(sample[:, : unet.config.out_channels]),)

        unet.forward = no_op
        ours, theirs, _ = time_denoise_pair(pipe, torch.device("cpu"), steps, 64, 512, repeats, time.thread_time)
        results["no-op UNet"] = (min(ours), min(theirs))
    finally:
        unet.__dict__.pop("forward", None)
        torch.set_num_threads(threads)
    return results


def time_reference_load(model_dir: Path, device: torch.device, dtype: torch.dtype) -> float:
    from diffusers import StableDiffusionPipeline

    sync(device)
    t0 = time.perf_counter()
    pipe = StableDiffusionPipeline.from_pretrained(model_dir, dtype=dtype, safety_checker=None,
                                                   requires_safety_checker=False).to(device)
    sync(device)
    del pipe
    return time.perf_counter() - t0


def report(title: str, model_dir: Path, device_name: str, precision: str, steps: int, width: int, height: int,
           repeats: int) -> None:
    from engine.models.loading import LoadPolicy, load_pipeline, resolve_device, resolve_dtype
    from engine.models.store import ModelStore

    device = resolve_device(device_name)
    dtype = resolve_dtype(device, precision)
    time_ours_engine(model_dir, device_name, precision, 1, width, height)  # warm-up: imports, first kernels
    time_reference_load(model_dir, device, dtype)
    ours_stages = time_ours_engine(model_dir, device_name, precision, steps, width, height)
    ref_load = time_reference_load(model_dir, device, dtype)
    loaded = load_pipeline(ModelStore(offline=True).resolve(str(model_dir)), LoadPolicy(device=device_name, precision=precision))
    ours_runs, ref_runs, ref_decode = time_denoise_pair(loaded.pipeline, device, steps, width, height, repeats)
    ours_med, ref_med = statistics.median(ours_runs), statistics.median(ref_runs)
    ours_best, ref_best = min(ours_runs), min(ref_runs)

    print(f"\n== {title}: {height}x{width} px, {steps} steps, {SCHEDULER}, {device} {str(dtype).removeprefix('torch.')}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'stage':<10}{'ours (Engine job) s':>22}{'diffusers s':>14}")
    print(f"{'load':<10}{ours_stages['load']:>22.3f}{ref_load:>14.3f}")
    print(f"{'denoise':<10}{ours_stages['denoise']:>22.3f}{ref_med:>14.3f}   (diffusers __call__ to latents)")
    print(f"{'decode':<10}{ours_stages['decode']:>22.3f}{ref_decode:>14.3f}")
    print(f"{'invert':<10}{ours_stages['invert']:>22.3f}{'-':>14}   (Griffin-Lim, no diffusers equivalent)")
    print(f"denoise core (prompt encoding + all steps, same components), {repeats} alternating runs:")
    print(f"  median: ours {ours_med:.3f} s vs diffusers {ref_med:.3f} s -> ratio {ours_med / ref_med:.3f}")
    ratio = ours_best / ref_best
    print(f"  best:   ours {ours_best:.3f} s vs diffusers {ref_best:.3f} s -> ratio {ratio:.3f} "
          f"(overhead {100 * (ratio - 1):+.1f} %, target <= +5 %)")
    if device.type == "cpu":
        print(f"same comparison in CPU time of the calling thread, torch on 1 thread, best of {repeats} "
              f"(immune to other processes):")
        for case, (ours_s, ref_s) in time_cpu_overhead(loaded.pipeline, steps, repeats).items():
            print(f"  {case:<11} ours {1e3 * ours_s:8.1f} ms vs diffusers {1e3 * ref_s:8.1f} ms -> ratio "
                  f"{ours_s / ref_s:.3f}  ({1e6 * (ours_s - ref_s) / steps:+.0f} us per step)")


def build_full_size_sd15(folder: Path) -> Path:
    """Save a random-weight pipeline with SD 1.5's geometry (tiny test tokenizer) into ``folder``."""
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
        num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
    ))
    tokenizer = CLIPTokenizer.from_pretrained(TINY_SD / "tokenizer")
    from diffusers import PNDMScheduler

    scheduler = PNDMScheduler.from_pretrained(TINY_SD / "scheduler")
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--width", type=int, default=64, help="CPU run: image width in pixels (64 = 0.64 s)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--cuda-steps", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(2)
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()

    report("tiny test model, CPU", TINY_SD, "cpu", "fp32", args.steps, args.width, 512, args.repeats)
    if torch.cuda.is_available():
        with tempfile.TemporaryDirectory() as tmp:
            folder = build_full_size_sd15(Path(tmp) / "sd15-random")
            report("SD 1.5 geometry, random weights, CUDA", folder, "cuda", "fp16", args.cuda_steps, 512, 512,
                   args.repeats)
    else:
        print("\n(no CUDA device: the full-size SD 1.5 fp16 run was skipped)")


if __name__ == "__main__":
    main()
