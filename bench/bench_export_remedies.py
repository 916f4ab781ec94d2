"""Peak memory of exporting a long mix with Normalise or Limit (issue 17 part 2): block by block
(what the app does) against rendering the whole mix and processing it as one array (what it did).

Run:  .venv/bin/python bench/bench_export_remedies.py [--minutes 10]

The project: ``--minutes`` of a stereo 44.1 kHz mix made of 20 s clips that reach 1.6 (so both
remedies have work to do). Memory is traced with tracemalloc (numpy and scipy allocations); the
clips' own arrays exist before the measurement starts and are not counted. Both ways write a
16-bit WAV and the files are compared sample for sample.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import io_actions  # noqa: E402
from app.model.project import Clip, Project, Track  # noqa: E402
from engine.audio.limiter import limit, normalize_true_peak  # noqa: E402

RATE = 44100


def long_project(minutes: float) -> Project:
    rng = np.random.default_rng(0)
    t = np.arange(20 * RATE) / RATE
    tone = (0.8 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.1 * t)))
    audio = np.stack([tone, np.roll(tone, 300)]).astype(np.float32)
    audio += (0.05 * rng.standard_normal(audio.shape)).astype(np.float32)
    project = Project(sample_rate_hz=RATE, tracks=[Track(name="A"), Track(name="B")])
    for i in range(int(minutes * 3)):  # one 20 s clip every 20 s on A, overlapping ones on B
        project.tracks[0].clips.append(Clip(audio=audio, sample_rate_hz=RATE, start_s=20.0 * i))
        if i % 2:
            project.tracks[1].clips.append(Clip(audio=audio, sample_rate_hz=RATE, start_s=20.0 * i + 5))
    return project


def measure(fn) -> tuple[float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # imports (scipy, soundfile, ...) before measuring
        short = long_project(1 / 3)
        for remedy in ("normalize", "limit"):
            io_actions.write_export_source(Path(tmp) / "w.wav", io_actions.export_source(short, "mix"), "wav16",
                                           remedy=remedy)
            limit(short.tracks[0].clips[0].audio, RATE)
    project = long_project(args.minutes)
    source = io_actions.export_source(project, "mix")
    print(f"{args.minutes:g} min stereo mix at {RATE} Hz ({source.frames * 8 / 1e6:.0f} MB as float32), "
          f"peak {source.peak():.2f}")
    print(f"{'remedy':10s} {'ours (MB)':>10s} {'whole (MB)':>11s} {'ratio':>6s} {'ours (s)':>9s} {'whole (s)':>10s}  same file")
    with tempfile.TemporaryDirectory() as tmp:
        for remedy in ("normalize", "limit"):
            ours_path, whole_path = Path(tmp) / "ours.wav", Path(tmp) / "whole.wav"

            def ours():
                io_actions.write_export_source(ours_path, io_actions.export_source(project, "mix"), "wav16",
                                               remedy=remedy)

            def whole():
                mix = io_actions.export_source(project, "mix").whole()
                if remedy == "normalize":  # the whole-array forms: one block the length of the mix
                    safe = normalize_true_peak(mix, io_actions.EXPORT_CEILING_DBTP)[0]
                else:
                    safe = limit(mix, RATE, io_actions.EXPORT_CEILING_DBTP)
                io_actions.write_export(whole_path, safe, RATE, "wav16", {})

            ours_mb, ours_s = measure(ours)
            whole_mb, whole_s = measure(whole)
            same = np.array_equal(sf.read(ours_path, dtype="int16")[0], sf.read(whole_path, dtype="int16")[0])
            print(f"{remedy:10s} {ours_mb:10.1f} {whole_mb:11.1f} {ours_mb / whole_mb:6.3f} {ours_s:9.1f} "
                  f"{whole_s:10.1f}  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
