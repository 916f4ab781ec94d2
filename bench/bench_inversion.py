"""Mel -> audio: our GriffinLimVocoder against Riffusion's own inversion, in the same run.

Run:  .venv/bin/python bench/bench_inversion.py [--threads 2] [--repeats 5] [--device cpu]

For a 5.12 s, 44.1 kHz musical mix (harmonic chords, noise hats, kicks with
clicks) and a log sweep, both analysed with the ``riffusion`` preset, prints for
ours and for Riffusion's settings (InverseMelScale at n_fft 17640 + torchaudio
GriffinLim, 32 iterations, momentum 0.99):

* wall time of mel -> waveform (ours: best and median of ``--repeats`` warm runs;
  the reference: one run, it takes seconds) and the process CPU time of the best
  run (all threads; on a shared machine wall time also counts waiting for a core),
* real-time factor = audio seconds / compute seconds,
* spectral convergence = ||mel - mel(re-analysed output)||_F / ||mel||_F,
* the ratios (speed-up, and our spectral convergence / Riffusion's).

Target: ours >= 10x real time (<= 0.512 s) on 2 CPU threads with spectral
convergence no worse than Riffusion's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.inversion import GriffinLimVocoder, riffusion_reference_inversion, spectral_convergence  # noqa: E402
from engine.audio.spectrogram import get_preset, mel_from_audio  # noqa: E402

SAMPLE_RATE_HZ = 44100
DURATION_S = 5.12


def musical_mix(seed: int = 0) -> np.ndarray:
    """Four bars of three-note chords (7 harmonics each), noise hats and kicks with clicks."""
    rng = np.random.default_rng(seed)
    n = int(round(SAMPLE_RATE_HZ * DURATION_S))
    t = np.arange(n) / SAMPLE_RATE_HZ
    out = np.zeros(n)
    chords = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66)]
    bar = n // 4
    for i in range(4):
        span = slice(i * bar, (i + 1) * bar)
        local = t[span] - t[span][0]
        envelope = np.minimum(1.0, local / 0.02) * np.exp(-1.5 * local)
        for f0 in chords[i % 2]:
            for h in range(1, 8):
                if f0 * h < 9000:
                    out[span] += 0.15 / h * envelope * np.sin(2 * np.pi * f0 * h * local + rng.uniform(0, 2 * np.pi))
    hat = int(0.05 * SAMPLE_RATE_HZ)
    for k in range(20):
        start = int(k * 0.256 * SAMPLE_RATE_HZ)
        out[start : start + hat] += 0.1 * np.exp(-np.arange(hat) / SAMPLE_RATE_HZ * 60) * np.diff(
            rng.standard_normal(hat), prepend=0.0
        )[: n - start]
    kick = int(0.15 * SAMPLE_RATE_HZ)
    tk = np.arange(kick) / SAMPLE_RATE_HZ
    body = 0.6 * np.sin(2 * np.pi * (50 * tk + 100 * (1 - np.exp(-30 * tk)) / 30)) * np.exp(-20 * tk)
    for k in range(10):
        start = int(k * 0.512 * SAMPLE_RATE_HZ)
        out[start : start + kick] += body[: n - start]
        out[start] += 0.5
    return (0.9 * out / np.abs(out).max()).astype(np.float32)[None, :]


def log_sweep() -> np.ndarray:
    """A 40 Hz -> 9 kHz exponential sine sweep at -2 dBFS."""
    n = int(round(SAMPLE_RATE_HZ * DURATION_S))
    t = np.arange(n) / SAMPLE_RATE_HZ
    rate = np.log(9000 / 40) / DURATION_S
    return (0.8 * np.sin(2 * np.pi * 40 * (np.exp(rate * t) - 1) / rate)).astype(np.float32)[None, :]


def convergence(mel: np.ndarray, wave: torch.Tensor, params) -> float:
    again = mel_from_audio(wave.float().cpu().numpy(), params)[..., : mel.shape[-1]]
    return spectral_convergence(mel, again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of ours per signal")
    parser.add_argument("--device", default="cpu", help="device for ours (the reference runs on CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = get_preset("riffusion")
    vocoder = GriffinLimVocoder(n_iter=params.num_griffin_lim_iters, device=args.device)
    print(f"torch {torch.__version__}, {args.threads} CPU threads; ours = {vocoder!r}")
    print(f"clip {DURATION_S} s at {SAMPLE_RATE_HZ} Hz, preset 'riffusion' (n_fft {params.n_fft}, "
          f"win {params.win_length}, hop {params.hop_length}, {params.num_frequencies} mels 0-10 kHz)\n")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    header = (f"{'signal':<7} {'method':<10} {'time s':>8} {'(median)':>9} {'cpu s':>7} "
              f"{'x real time':>12} {'spec. conv.':>12}")
    print(header)
    print("-" * len(header))
    for name, audio in (("mix", musical_mix()), ("sweep", log_sweep())):
        mel = mel_from_audio(audio, params)
        mel_t = torch.from_numpy(mel).to(args.device)
        vocoder(mel_t, params, generator=torch.Generator().manual_seed(0))  # warm-up (caches)
        times, cpu_times, scs = [], [], []
        for seed in range(args.repeats):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start, cpu_start = time.perf_counter(), time.process_time()
            ours = vocoder(mel_t, params, generator=torch.Generator().manual_seed(seed))
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
            scs.append(convergence(mel, ours, params))
        ours_sc = statistics.mean(scs)  # over the seeds
        ours_best, ours_median = min(times), statistics.median(times)
        ours_cpu = cpu_times[times.index(ours_best)]

        start, cpu_start = time.perf_counter(), time.process_time()
        reference = riffusion_reference_inversion(mel, params, seed=0)
        ref_time, ref_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        ref_sc = convergence(mel, reference, params)

        print(f"{name:<7} {'ours':<10} {ours_best:>8.3f} {ours_median:>9.3f} {ours_cpu:>7.2f} "
              f"{DURATION_S / ours_best:>12.1f} {ours_sc:>12.4f}")
        print(f"{name:<7} {'riffusion':<10} {ref_time:>8.3f} {'':>9} {ref_cpu:>7.2f} "
              f"{DURATION_S / ref_time:>12.2f} {ref_sc:>12.4f}")
        print(f"{name:<7} {'ratio':<10} speed-up x{ref_time / ours_best:.1f} (x{ref_time / ours_median:.1f} on the median), "
              f"spectral convergence ours/riffusion = {ours_sc / ref_sc:.2f}")
        target = "met" if ours_best <= DURATION_S / 10 and ours_sc <= ref_sc else "NOT met"
        print(f"{name:<7} target (>= 10x real time and convergence <= riffusion's): {target}\n")
    print(f"load average after: {os.getloadavg()[0]:.2f}; ours' spectral convergence is the mean over {args.repeats} seeds")


if __name__ == "__main__":
    main()
