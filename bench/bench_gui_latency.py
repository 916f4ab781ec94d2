"""GUI event-loop latency while a real generation runs through the real engine thread.

A 5 ms precise QTimer ticks on the GUI thread; every gap between two ticks longer than the
interval is time the event loop could not run (a stall). We measure the gaps:

* idle: the main window open, nothing running (the reference, same run, same machine);
* during a generation started from the prompt panel with the tiny test model (through
  EngineClient -> engine worker thread -> queued signals -> job panel, clip landing on the
  timeline, inspector), first cold (imports, model load) then warm.

Prints max / p99 / mean gap for each, and the ratio of the max gaps. Target: max stall <= 50 ms.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_latency.py [--steps 20] [--duration 5.12]
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
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TICK_MS = 5
TARGET_MAX_STALL_MS = 50.0


class LatencyProbe:
    """Records the intervals between consecutive ticks of a precise 5 ms timer."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._on_tick)
        self.clock = QElapsedTimer()
        self.last_ns = 0
        self.gaps_ms: list[float] = []
        self.ends_ns: list[int] = []
        self.events: list[tuple[int, str]] = []

    def mark(self, label: str) -> None:
        """Note what happened now (to explain stalls with --trace)."""
        if self.timer.isActive():
            self.events.append((self.clock.nsecsElapsed(), label))

    def worst(self, n: int = 5) -> list[str]:
        """The n longest gaps with the last event noted before each one ended."""
        lines = []
        for i in np.argsort(self.gaps_ms)[::-1][:n]:
            end = self.ends_ns[i]
            before = [label for t, label in self.events if t <= end]
            lines.append(f"{self.gaps_ms[i]:7.1f} ms at {end / 1e9:6.2f} s after: {before[-1] if before else '-'}")
        return lines

    def start(self) -> None:
        self.gaps_ms = []
        self.ends_ns = []
        self.events = []
        self.clock.start()
        self.last_ns = self.clock.nsecsElapsed()
        self.timer.start()

    def stop(self) -> np.ndarray:
        self.timer.stop()
        return np.array(self.gaps_ms)

    def _on_tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.gaps_ms.append((now - self.last_ns) / 1e6)
        self.ends_ns.append(now)
        self.last_ns = now


def spin(app: QApplication, seconds: float, until=None) -> None:
    """Run the event loop for ``seconds`` (or until ``until()`` is true, at most ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        if until is not None and until():
            return
        time.sleep(0.0005)


def summary(gaps: np.ndarray) -> str:
    return (f"max {gaps.max():6.1f} ms   p99 {np.percentile(gaps, 99):6.1f} ms   "
            f"mean {gaps.mean():5.2f} ms   ticks {len(gaps)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--duration", type=float, default=5.12, help="clip length in seconds (5.12 = 512 px)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=str(ROOT / "tests" / "assets" / "tiny-sd"))
    parser.add_argument("--idle-s", type=float, default=3.0)
    parser.add_argument("--trace", action="store_true", help="print the longest stalls and what preceded them")
    args = parser.parse_args()

    from app.engine_client import EngineClient
    from app.main_window import MainWindow
    from app.settings import AppSettings
    from engine.api import EngineSettings

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp(prefix="specdiff-bench-")
    client = EngineClient(EngineSettings(device=args.device, offline=True, cache_dir=os.path.join(tmp, "hub")))
    window = MainWindow(client, AppSettings(os.path.join(tmp, "settings.ini")))
    window.ask_before_closing = False
    window.show()
    spin(app, 1.0)
    probe = LatencyProbe()

    # Start-up as app/__main__.py does it: heavy engine imports off the GUI thread, then gc.freeze.
    warm: list = []
    client.warmed_up.connect(warm.append)
    probe.start()
    client.warm_up()
    spin(app, 300, until=lambda: bool(warm))
    warmup_gaps = probe.stop()
    if args.trace:
        print("warm-up: longest stalls", *probe.worst(), sep="\n  ")
    spin(app, 0.5)

    # Reference: the idle event loop with the same window.
    probe.start()
    spin(app, args.idle_s)
    idle = probe.stop()

    panel = window.prompt_panel
    panel.prompt_edit.setPlainText("warm analog synth pad")
    panel.set_model(args.model)
    panel.steps_spin.setValue(args.steps)
    panel.duration_spin.setValue(args.duration)
    panel.seed_lock.setChecked(True)
    panel.seed_edit.setText("42")
    panel.preview_check.setChecked(True)

    client.job_progressed.connect(lambda job_id, p: probe.mark(f"progress {p.stage} {p.step}/{p.total}"))
    client.job_started.connect(lambda job_id, spec: probe.mark("job started"))
    client.job_finished.connect(lambda job_id, result: probe.mark("job finished (clips landing)"))
    window.clips_generated.connect(lambda job_id, clips: probe.mark("clips landed"))
    window.inspector._refresh_timer.timeout.connect(lambda: probe.mark("inspector shown"))
    if hasattr(window.timeline, "spectrogram_computed"):
        window.timeline.spectrogram_computed.connect(lambda clip_id: probe.mark("timeline spectrogram computed"))
    runs = {}
    for label in ("cold", "warm"):
        done: list = []
        failed: list = []
        window.clips_generated.connect(lambda job_id, clips, d=done: d.append(clips))
        client.job_failed.connect(lambda job_id, msg, kind, f=failed: f.append(msg))
        probe.start()
        t0 = time.perf_counter()
        panel.request_generate()
        spin(app, 600, until=lambda: bool(done or failed))
        elapsed = time.perf_counter() - t0
        spin(app, 0.5)  # the landed clip's views settle (timeline draws it)
        gaps = probe.stop()
        if args.trace:
            print(f"{label}: longest stalls", *probe.worst(), sep="\n  ")
        if failed:
            print(f"generation failed: {failed[0]}", file=sys.stderr)
            return 1
        runs[label] = (gaps, elapsed)

    print(f"GUI event-loop latency, {TICK_MS} ms precise timer, device {args.device}, "
          f"tiny model, {args.steps} steps, {args.duration} s clip, live preview on")
    print(f"  start-up warm-up        {summary(warmup_gaps)}   ({warm[0]:.1f} s, no job running)")
    print(f"  idle (reference)        {summary(idle)}")
    for label, (gaps, elapsed) in runs.items():
        print(f"  generating, {label:5s}       {summary(gaps)}   (job {elapsed:.1f} s)")
    worst = max(gaps.max() for gaps, _ in runs.values())
    warm = runs["warm"][0].max()
    print(f"  ratio max stall warm/idle: {warm / idle.max():.2f}x   cold/idle: {runs['cold'][0].max() / idle.max():.2f}x")
    verdict = "PASS" if worst <= TARGET_MAX_STALL_MS else "FAIL"
    print(f"  target max stall <= {TARGET_MAX_STALL_MS:.0f} ms during generation: {verdict} (worst {worst:.1f} ms)")

    window.close()
    client.shutdown()
    return 0 if verdict == "PASS" else 2


if __name__ == "__main__":
    sys.exit(main())
