"""Cancel latency per stage: how long after ``cancel()`` the job reports JobCancelled.

Run:  .venv/bin/python bench/bench_cancel.py [--seconds 120] [--threads 1] [--gen-seconds 20]

Stages of a decode of ``--seconds`` of Riffusion audio (analysis of the audio, mel inversion
(FISTA), the phase-gradient walk, Griffin-Lim, resampling to the output rate) run in a job on the
engine's worker; for each, the job is cancelled a moment into that stage and the time until
JobCancelled is our latency. The reference is the same job run to completion: the time from that
same moment to the job's next yield (its next progress event or its end) - what a cancel waited
before these stages had cancel points, since the worker could only stop a job between yields.
With ``--gen-seconds`` > 0, a tiny-model text-to-audio job (tests/assets) adds its denoise and
decode stages (decode runs the VAE in one call: it has no cancel point, and the figure says so).

Target (issue 17): every stage under 0.5 s.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import engine.audio.inversion as inversion  # noqa: E402
import engine.audio.spectrogram as spectrogram  # noqa: E402
from engine.specs import JobCancelled, JobFailed, JobFinished, JobProgress, JobSpec, Progress  # noqa: E402
from engine.worker import Worker  # noqa: E402

#: Stage name -> the function whose loop holds its cancel points.
STAGES = {
    "analysis (STFT chunks)": "mel_chunks",
    "mel inversion (FISTA)": "mel_to_linear",
    "phase-gradient walk": "pghi_phase",
    "Griffin-Lim": "_griffin_lim",
    "resampling": "_resample_blocks",
}


@dataclass(frozen=True)
class DecodeJob(JobSpec):
    kind: ClassVar[str] = "bench-decode"
    seconds: float = 120.0


def music(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros_like(t)
    for f0 in (220.0, 277.18, 329.63):
        for h in range(1, 6):
            out += 0.1 / h * np.sin(2 * np.pi * f0 * h * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))
    out += 0.02 * rng.standard_normal(t.size)
    return out[None].astype(np.float32)


def decode_runner(spec: DecodeJob, ctx):
    params = spectrogram.PRESETS["riffusion"]
    yield Progress("encode", 0, 1, message="Analysing")
    mel = spectrogram.mel_from_audio(music(spec.seconds, params.sample_rate), params)
    yield Progress("invert", 0, 1, message="Inverting")
    return spectrogram.audio_from_mel(mel, params, generator=torch.Generator().manual_seed(0))


class Timeline:
    """Times of the first/last cancel point of each stage and of every event of the current job."""

    def __init__(self) -> None:
        self.reset()

    def reset(self, trigger: tuple[str, int] | None = None) -> None:
        self.t0 = time.perf_counter()
        self.stage_times: dict[str, list[float]] = {}
        self.events: list[tuple[float, object]] = []
        self.trigger = trigger  # (stage, n): set `reached` at the stage's n-th cancel point
        self.reached = threading.Event()
        self.done = threading.Event()

    def now(self) -> float:
        return time.perf_counter() - self.t0


def install_hooks(timeline: Timeline) -> None:
    for module in (spectrogram, inversion):
        real = module.cancel_point

        def hooked(real=real) -> None:
            name = sys._getframe(1).f_code.co_name
            if name in STAGES.values():
                times = timeline.stage_times.setdefault(name, [])
                times.append(timeline.now())
                if timeline.trigger == (name, len(times)):
                    timeline.reached.set()
            real()

        module.cancel_point = hooked


def run_decode(worker: Worker, timeline: Timeline, seconds: float, trigger: tuple[str, int] | None, offset_s: float):
    """Run one DecodeJob; cancel it ``offset_s`` after the ``trigger`` (stage, n-th cancel point of
    that stage). Returns (cancel time, end time)."""
    timeline.reset(trigger)
    job = worker.submit(DecodeJob(seconds=seconds))
    cancelled_at = None
    if trigger is not None:
        if not timeline.reached.wait(900):
            raise RuntimeError(f"{trigger} never reached")
        time.sleep(offset_s)
        cancelled_at = timeline.now()
        worker.cancel(job)
    timeline.done.wait(900)
    return cancelled_at, timeline.events[-1][0]


def bench_decode(args: argparse.Namespace) -> list[tuple[str, float, float]]:
    timeline = Timeline()

    def sink(event):
        timeline.events.append((timeline.now(), event))
        if isinstance(event, (JobFinished, JobFailed, JobCancelled)):
            timeline.done.set()

    install_hooks(timeline)
    worker = Worker(sink, {DecodeJob: decode_runner})
    worker.start()
    try:
        run_decode(worker, timeline, 2.0, None, 0)  # warm-up (caches, FFT plans)
        run_decode(worker, timeline, args.seconds, None, 0)
        reference = dict(timeline.stage_times)
        yields = [t for t, e in timeline.events if isinstance(e, (JobProgress, JobFinished))]
        rows = []
        for label, name in STAGES.items():
            times = reference.get(name, [])
            if len(times) < 2:
                print(f"  {label}: not reached (input too short?)")
                continue
            # Cancel half a pass after the stage's middle cancel point: inside one of its passes.
            n = len(times) // 2
            pass_s = float(np.median(np.diff(times)))
            at, stopped = run_decode(worker, timeline, args.seconds, (name, n), 0.5 * pass_s)
            kind = type(timeline.events[-1][1]).__name__
            moment = times[n - 1] + 0.5 * pass_s
            next_yield = min(t for t in yields if t > moment)
            rows.append((f"{label}, pass {pass_s:.2f} s", stopped - at, next_yield - moment))
            if kind != "JobCancelled":
                print(f"  {label}: ended with {kind}, not JobCancelled")
        return rows
    finally:
        worker.stop()


def bench_generation(args: argparse.Namespace) -> list[tuple[str, float, float]]:
    from assets.make_tiny_sd import TINY_SD_DIR

    from engine.api import Engine, EngineSettings, GenerateJob

    rows = []
    with Engine(EngineSettings(device="cpu")) as engine:
        spec = GenerateJob("drums", model=str(TINY_SD_DIR), seed=1, num_inference_steps=8,
                              duration_s=args.gen_seconds)
        engine.run(GenerateJob("drums", model=str(TINY_SD_DIR), seed=1, num_inference_steps=2, duration_s=1.0))
        marks: list[tuple[float, str]] = []
        t0 = time.perf_counter()
        engine.run(spec, lambda p: marks.append((time.perf_counter() - t0, p.stage)))
        end = time.perf_counter() - t0
        stage_start = {}
        for t, stage in marks:
            stage_start.setdefault(stage, t)
        steps = [t for t, stage in marks if stage == "denoise"]
        step_s = float(np.median(np.diff(steps))) if len(steps) > 1 else 0.0
        decode_s = stage_start["invert"] - stage_start["decode"]
        for stage, wait_s, reference in (("denoise", 0.5 * step_s, step_s), ("decode (VAE)", 0.4 * decode_s, decode_s)):
            done = threading.Event()
            state = {}

            def listen(event, done=done, state=state):
                if isinstance(event, JobProgress) and event.job_id == state.get("job"):
                    key = "denoise" if event.progress.stage == "denoise" and event.progress.step == 2 else event.progress.stage
                    if key == stage.split()[0] and "armed" not in state:
                        state["armed"] = time.perf_counter()
                if isinstance(event, (JobFinished, JobFailed, JobCancelled)) and event.job_id == state.get("job"):
                    state["end"] = time.perf_counter()
                    done.set()

            engine.add_listener(listen)
            state["job"] = engine.submit(spec)
            while "armed" not in state:
                time.sleep(0.001)
            time.sleep(wait_s)
            cancelled = time.perf_counter()
            engine.cancel(state["job"])
            done.wait(600)
            engine.remove_listener(listen)
            rows.append((f"{stage} ({args.gen_seconds:g} s tiny model)", state["end"] - cancelled, reference - wait_s))
        print(f"  tiny-model generation of {args.gen_seconds:g} s: {end:.1f} s uncancelled")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="audio decoded (default 120)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gen-seconds", type=float, default=20.0, help="tiny-model generation (0 = skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"Cancel latency, {args.seconds:g} s of Riffusion audio, {args.threads} thread(s), CPU")
    rows = bench_decode(args)
    if args.gen_seconds > 0:
        rows += bench_generation(args)
    print(f"{'stage':44s} {'ours (s)':>9s} {'reference (s)':>14s} {'ratio':>7s}")
    for label, ours, reference in rows:
        print(f"{label:44s} {ours:9.3f} {reference:14.3f} {ours / max(reference, 1e-9):7.3f}")
    worst = max(ours for _, ours, _ in rows)
    print(f"worst: {worst:.3f} s (target < 0.5 s): {'met' if worst < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
