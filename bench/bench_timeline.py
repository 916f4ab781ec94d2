"""Timeline redraw time while panning and zooming over a 10-minute 44.1 kHz stereo clip.

Ours: the real QtTimeline (ruler, lane with waveform + spectrogram, overview, scrollbar), shown
offscreen at WIDTH x HEIGHT; after each view change we time ``QWidget.grab()``, which paints every
view synchronously (the min/max envelope of the visible samples, the visible spectrogram tiles of
the right level, axes). Sequences: pan at a 30 s span, pan with the whole clip in view, a
continuous zoom from 10 minutes down to 50 ms and back, in both display modes.

Reference, same run, same size: pyqtgraph's PlotWidget with a PlotDataItem of the full raw clip
(one channel), (a) with pyqtgraph's own peak downsampling and clipToView (its recommended settings
for long signals) and (b) naive (all 26.5 M points; only a few frames, it is slow). The headline
ratio is ours / (a). Target: at most 16 ms per frame. Both wall-clock and process CPU time are
printed: on a shared machine the wall time includes waiting for a core.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_timeline.py [--minutes 10] [--frames 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

WIDTH, HEIGHT = 1600, 600
RATE_HZ = 44100
TARGET_MS = 16.0


def make_audio(minutes: float) -> np.ndarray:
    """Stereo test signal: a tone sweep, amplitude-modulated noise and sparse clicks."""
    n = int(minutes * 60 * RATE_HZ)
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=np.float64) / RATE_HZ
    sweep = np.sin(2 * np.pi * (200 + 40 * np.sin(2 * np.pi * t / 30)) * t)
    noise = rng.standard_normal(n) * (0.5 + 0.5 * np.sin(2 * np.pi * t / 7))
    left = 0.3 * sweep + 0.1 * noise
    right = 0.3 * np.roll(sweep, 441) + 0.1 * noise[::-1]
    audio = np.stack([left, right]).astype(np.float32)
    audio[:, :: RATE_HZ * 3] = 0.95
    return audio


def view_sequences(duration_s: float, frames: int) -> dict[str, list[tuple[float, float]]]:
    pan_span = 30.0
    pan = [(s, s + pan_span) for s in np.linspace(0, duration_s - pan_span, frames)]
    full_pan = [(s, s + duration_s) for s in np.linspace(0, 0.05 * duration_s, frames)]
    spans = np.geomspace(duration_s, 0.05, frames // 2)
    centre = duration_s * 0.437
    zoom = [(centre - sp / 2, centre + sp / 2) for sp in np.concatenate([spans, spans[::-1]])]
    return {"pan 30 s span": pan, "pan whole clip": full_pan, "zoom 10 min <-> 50 ms": zoom}


def time_frames(app: QApplication, widget, set_range, views) -> np.ndarray:
    """(frames, 2) array: wall-clock and process CPU milliseconds of each frame."""
    times = []
    for start, end in views:
        w0, c0 = time.perf_counter(), time.process_time()
        set_range(start, end)
        widget.grab()
        times.append((time.perf_counter() - w0, time.process_time() - c0))
        app.processEvents()
    return np.array(times) * 1000.0


def summary(ms: np.ndarray) -> str:
    wall, cpu = ms[:, 0], ms[:, 1]
    return (
        f"wall median {np.median(wall):7.2f} p95 {np.percentile(wall, 95):7.2f} max {wall.max():7.2f} | "
        f"cpu median {np.median(cpu):7.2f} p95 {np.percentile(cpu, 95):7.2f} ms/frame"
    )


def painter_leaks_none() -> bool:
    """PySide6 6.12.0 on Python < 3.12 drops a reference to None on every void QPainter call, so a
    few thousand calls kill the interpreter ("none_dealloc"). True when this Qt binding does."""
    from PySide6 import QtGui

    image = QtGui.QImage(8, 8, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(20):
        painter.save()
        painter.restore()
    leaked = sys.getrefcount(None) < before
    painter.end()
    return leaked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--naive-frames", type=int, default=3)
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    import PySide6
    import pyqtgraph as pg

    if painter_leaks_none():
        sys.exit(
            f"PySide6 {PySide6.__version__} leaks references to None on every QPainter call under "
            f"Python {sys.version_info.major}.{sys.version_info.minor} and would crash this benchmark "
            "(and the app) after a few hundred frames; install another version, e.g. "
            "pip install 'PySide6-Essentials==6.11.3'."
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"PySide6 {PySide6.__version__}, pyqtgraph {pg.__version__}; {os.cpu_count()} CPUs, load average {load:.2f}")

    from app.model.commands import AddClip
    from app.model.project import Clip, Project
    from app.undo import UndoStack
    from app.widgets.qt_timeline import QtTimeline

    audio = make_audio(args.minutes)
    duration_s = audio.shape[1] / RATE_HZ
    print(f"clip: {duration_s / 60:.1f} min, {RATE_HZ} Hz, stereo, {audio.shape[1]:,} samples/channel")
    print(f"window: {WIDTH} x {HEIGHT} px, offscreen; each frame = set the view range + QWidget.grab()")

    project = Project.with_track()
    stack = UndoStack()
    timeline = QtTimeline(project, stack)
    timeline.resize(WIDTH, HEIGHT)
    timeline.show()
    app.processEvents()
    t0 = time.perf_counter()
    stack.push_command(AddClip(project, project.tracks[0].id, Clip(name="long", audio=audio, sample_rate_hz=RATE_HZ)))
    added_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    while timeline.spectrogram_pending():
        app.processEvents()
        time.sleep(0.01)
    spectro_s = time.perf_counter() - t0
    print(f"one-off: add clip incl. min/max pyramid {added_s * 1000:.0f} ms (GUI thread); "
          f"display spectrogram {spectro_s:.1f} s on the worker thread (torch import included)")
    timeline.set_visible_range(0.0, 30.0)
    timeline.grab()  # first paint builds the visible tiles' QImages

    results: dict[str, np.ndarray] = {}
    for mode in ("both", "waveform"):
        timeline.set_view_mode(mode)
        for name, views in view_sequences(duration_s, args.frames).items():
            ms = time_frames(app, timeline, timeline.set_visible_range, views)
            results[f"ours [{mode}] {name}"] = ms

    # Reference: pyqtgraph plotting the raw clip.
    x = np.arange(audio.shape[1], dtype=np.float64) / RATE_HZ
    ref_results: dict[str, np.ndarray] = {}
    for label, frames, configure in (
        ("pyqtgraph PlotDataItem, downsample='peak' + clipToView", args.frames,
         lambda item: (item.setDownsampling(auto=True, method="peak"), item.setClipToView(True))),
        ("pyqtgraph PlotDataItem, naive", args.naive_frames, lambda item: None),
    ):
        plot = pg.PlotWidget()
        plot.resize(WIDTH, HEIGHT)
        item = plot.plot(x, audio[0], pen=pg.mkPen((210, 225, 240)))
        configure(item)
        plot.show()
        app.processEvents()
        vb = plot.getPlotItem().getViewBox()
        vb.disableAutoRange()

        def set_range(start: float, end: float, vb=vb) -> None:
            vb.setXRange(start, end, padding=0)

        set_range(0.0, 30.0)
        plot.grab()
        for name, views in view_sequences(duration_s, frames).items():
            ref_results[f"{label}: {name}"] = time_frames(app, plot, set_range, views)
        plot.close()

    print()
    for name, ms in results.items():
        print(f"{name:55s} {summary(ms)}")
    print()
    for name, ms in ref_results.items():
        print(f"{name:80s} {summary(ms)}")
    print()
    ours_all = np.concatenate([ms for name, ms in results.items() if "[both]" in name])
    ref_key = "pyqtgraph PlotDataItem, downsample='peak' + clipToView"
    ref_all = np.concatenate([ms for name, ms in ref_results.items() if name.startswith(ref_key)])
    naive_all = np.concatenate([ms for name, ms in ref_results.items() if "naive" in name])
    for column, what in ((0, "wall"), (1, "cpu")):
        ours, ref, naive = ours_all[:, column], ref_all[:, column], naive_all[:, column]
        verdict = "met" if np.percentile(ours, 95) <= TARGET_MS else "NOT met"
        print(
            f"[{what}] ours (waveform + spectrogram, all sequences): median {np.median(ours):.2f} ms, "
            f"p95 {np.percentile(ours, 95):.2f} ms -> target <= {TARGET_MS:.0f} ms/frame at p95: {verdict}"
        )
        print(
            f"[{what}] reference, pyqtgraph peak-downsampled waveform only: median {np.median(ref):.2f} ms; "
            f"ratio ours/reference = {np.median(ours) / np.median(ref):.2f}"
        )
        print(
            f"[{what}] reference, pyqtgraph naive: median {np.median(naive):.0f} ms; "
            f"ratio ours/naive = {np.median(ours) / np.median(naive):.4f}"
        )
    timeline.shutdown()
    timeline.close()
    timeline.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main()
