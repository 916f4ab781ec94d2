"""GUI-thread cost of painting a mask on a long clip, against copying the clip (the same run).

Painting happens on the GUI thread: every pointer move draws the stroke's newest segment into the
overlay (:meth:`MaskItem.preview`); releasing the button commits the stroke (the overlay keeps the
preview's raster); undo and redo re-rasterise the whole mask. Building the engine's mask (mel bins x 10 ms columns) happens on a
helper thread when an edit starts; it is timed too. The reference is what a naive edit would do
on the GUI thread: copy the clip's audio array.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_mask_paint.py [--minutes 10] [--shapes 40]

Prints median milliseconds per operation and each one's ratio to the reference copy.
Target: a pointer move well under a 16 ms frame.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

RATE = 44100


def median_ms(fn, repeat: int, setup=None) -> float:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="clip length")
    parser.add_argument("--shapes", type=int, default=40, help="strokes already on the mask")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841 - pyqtgraph items need it

    from app.model.mask import Mask, Rect, Stroke
    from app.plot_items.axes import FrequencyScale
    from app.plot_items.mask_item import MaskItem
    from engine.audio.spectrogram import get_preset

    total_s = args.minutes * 60
    audio = np.zeros((2, int(total_s * RATE)), dtype=np.float32)
    rng = np.random.default_rng(0)
    shapes = []
    for _ in range(args.shapes):  # hand-drawn-like strokes: 60 points on a random walk over ~3 s
        t = rng.uniform(0, total_s - 5)
        mel = np.clip(rng.uniform(500, 2500) + np.cumsum(rng.normal(0, 25, 60)), 20, 3000)
        hz = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
        points = tuple((t + 0.05 * k, float(f)) for k, f in enumerate(hz))
        shapes.append(Stroke(points, radius_s=0.08, radius_mel=60.0, hardness=0.8))
    shapes.append(Rect(10.0, 20.0, 500.0, 3000.0))
    mask = Mask(tuple(shapes))
    item = MaskItem(mask, total_s, FrequencyScale())

    # A new stroke of 200 pointer moves: each move draws only its newest segment.
    stroke = Stroke(((30.0, 1000.0),), radius_s=0.1, radius_mel=80.0, hardness=0.8)
    item.preview(stroke)
    per_move = []
    for k in range(1, 200):
        stroke = stroke.with_point(30.0 + 0.02 * k, 1000.0 + 10 * k)
        t0 = time.perf_counter()
        item.preview(stroke)
        per_move.append((time.perf_counter() - t0) * 1000)
    move_ms = statistics.median(per_move)
    committed = mask.with_shape(stroke)
    commit_ms = median_ms(lambda: item.set_mask(committed), 5, setup=lambda: (item.set_mask(mask), item.preview(stroke)))
    redraw_ms = median_ms(lambda: item.set_mask(mask if item.mask is committed else committed), 5)
    params = replace(get_preset("riffusion"))
    job_ms = median_ms(lambda: mask.job_mask(audio.shape[1], params), 3)
    copy_ms = median_ms(lambda: audio.copy(), 5)

    print(f"clip: {args.minutes:g} min stereo at {RATE} Hz; mask: {len(shapes)} shapes; "
          f"overlay grid {item.grid.rows} x {item.grid.columns}")
    print(f"reference: copy the clip's audio (GUI thread, naive capture): {copy_ms:8.2f} ms")
    for label, ms in (("pointer move while painting (GUI)", move_ms),
                      ("commit a stroke (GUI)", commit_ms),
                      ("undo / redo: re-rasterise the overlay (GUI)", redraw_ms),
                      ("engine mask 512 x columns (helper thread)", job_ms)):
        print(f"{label:45s} {ms:8.2f} ms   ratio to copy {ms / copy_ms:6.3f}")


if __name__ == "__main__":
    main()
