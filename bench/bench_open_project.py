"""Opening big projects in the app: total time and the longest GUI stall, for 20 to 2000 clips.

A project is a loop chopped into slices, as a user builds one: CLIPS one-second clips cut from 16
distinct 8-second sources (22.05 kHz mono), laid end to end on 4 tracks, saved as a real
``.sdproj``. Ours: ``MainWindow.open_project(path)`` in the real window (offscreen), from the call
until the document is in and every clip is drawn on its lane and in the overview; a 5 ms
``QTimer`` on the GUI thread records the longest gap between its ticks (the longest stall a user
would feel), and the most GUI-thread CPU time spent between two ticks (the same stall on an
idle machine), and the GUI thread's CPU time in all. References, same run: ``load_project(path)``
alone (reading and decoding the file with no GUI), the floor any open is bound by; and the same
probe on the idle event loop for as long as the open took (no work at all), and the wall time
of a 50 ms burst of pure CPU on the GUI thread (on a loaded machine a burst waits for a core: its
wall / CPU ratio is how much longer any stall is there than on a quiet machine). Targets (issue 17): 2000 clips open in
under 5 s with no stall over 100 ms.

Then the mix of the largest project: peak memory (tracemalloc) of exporting it to a WAV block by
block, against rendering the same mix as one array (the reference, measured in the same run).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_open_project.py [--clips 20 100 500 2000] [--sources 16]
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

SOURCE_RATE_HZ = 22050
SOURCES = 16
SOURCE_S = 8.0
TRACKS = 4
TICK_MS = 5
TARGET_OPEN_S = 5.0
TARGET_STALL_MS = 100.0


def make_project(clips: int, sources_n: int = SOURCES):
    """``clips`` one-second slices of ``sources_n`` sources, end to end on TRACKS tracks."""
    from app.model.project import Clip, Project, Track

    rng = np.random.default_rng(0)
    n = int(SOURCE_S * SOURCE_RATE_HZ)
    t = np.arange(n) / SOURCE_RATE_HZ
    sources = [
        (0.3 * np.sin(2 * np.pi * (110 * (k + 1)) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)[None, :]
        for k in range(sources_n)
    ]
    project = Project()
    tracks = [Track(name=f"Track {i + 1}") for i in range(TRACKS)]
    for i in range(clips):
        track = tracks[i % TRACKS]
        source = sources[i % sources_n]
        offset = float((i // sources_n) % int(SOURCE_S))
        track.clips.append(
            Clip(name=f"slice {i}", audio=source, sample_rate_hz=SOURCE_RATE_HZ,
                 start_s=float(i // TRACKS), offset_s=offset, duration_s=1.0)
        )
    for track in tracks:
        project.add_track(track)
    return project


class StallProbe:
    """The longest gap between ticks of a TICK_MS timer on the GUI thread, minus the interval,
    and the longest GUI-thread CPU time between two ticks (what the stall costs on an idle
    machine; on a loaded one the wall time is longer by the wait for a core)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = self.last_cpu = 0.0
        self.longest = self.longest_cpu = 0.0

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.longest = max(self.longest, now - self.last - TICK_MS / 1000)
        self.longest_cpu = max(self.longest_cpu, cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu

    def start(self) -> None:
        self.longest = self.longest_cpu = 0.0
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.timer.start()

    def stop(self) -> tuple[float, float]:
        self._tick()
        self.timer.stop()
        return max(0.0, self.longest), self.longest_cpu


def timeline_done(window, project) -> bool:
    """Every clip has its item on a lane and in the overview."""
    timeline = window.timeline
    pending = getattr(timeline, "rebuild_pending", None)
    if callable(pending) and pending():
        return False
    ids = {c.id for c in project.clips()}
    return timeline.clip_ids_shown() == ids


def idle_stall(app, probe: StallProbe, seconds: float) -> tuple[float, float]:
    """(longest stall ms, longest GUI CPU between ticks ms) of the event loop doing nothing for
    ``seconds``, polled as :func:`open_in_window` polls: the reference for the same machine load."""
    probe.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        time.sleep(0.001)
    stall, cpu = probe.stop()
    return stall * 1000, cpu * 1000


def burst_wall_ms(cpu_ms: float = 50.0) -> float:
    """Wall ms of ``cpu_ms`` of pure Python CPU work on this thread (the load's slow-down)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    x = 0
    while time.thread_time() - c0 < cpu_ms / 1000:
        for i in range(1000):
            x += i
    return (time.perf_counter() - t0) * 1000


def open_in_window(app, window, path: str, probe: StallProbe, timeout_s: float) -> tuple[float, float, float, float]:
    """(seconds, longest stall in ms, longest GUI-thread CPU between ticks in ms, GUI-thread CPU
    in all in s) of opening ``path`` in ``window`` until it is drawn."""
    loaded: list[str] = []
    failed: list[str] = []
    window.project_loaded.connect(loaded.append)
    original_warning = None
    from PySide6.QtWidgets import QMessageBox

    original_warning = QMessageBox.warning
    QMessageBox.warning = staticmethod(lambda *args, **kwargs: failed.append(str(args[-1])))
    try:
        probe.start()
        t0, cpu0 = time.perf_counter(), time.thread_time()
        window.open_project(path)
        while not (loaded and timeline_done(window, window.project)):
            app.processEvents()
            if failed:
                raise RuntimeError(failed[0])
            if time.perf_counter() - t0 > timeout_s:
                raise TimeoutError(f"not open after {timeout_s:.0f} s")
            time.sleep(0.001)
        seconds, gui_cpu = time.perf_counter() - t0, time.thread_time() - cpu0
        stall, cpu = probe.stop()
        return seconds, stall * 1000, cpu * 1000, gui_cpu
    finally:
        QMessageBox.warning = original_warning
        window.project_loaded.disconnect(loaded.append)
        probe.timer.stop()


def mix_memory(project, folder: Path) -> tuple[float, float, float]:
    """(peak MB of exporting the whole mix to a WAV block by block, peak MB of rendering it as
    one array the way a one-shot mix does, the mix's length in s), both measured with tracemalloc."""
    import tracemalloc

    from app import io_actions
    from app.model.mix import render_mix

    tracemalloc.start()
    source = io_actions.export_source(project, "mix")
    io_actions.write_export_source(folder / "mix.wav", source, "wav16")
    _, streamed = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    whole = render_mix(project, 0.0, project.duration_s, channels=source.channels)
    _, one_array = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del whole
    return streamed / 1e6, one_array / 1e6, project.duration_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, nargs="+", default=[20, 100, 500, 2000])
    parser.add_argument("--timeout-s", type=float, default=600.0)
    parser.add_argument("--no-mix", action="store_true", help="skip the mix memory measurement")
    parser.add_argument("--sources", type=int, default=SOURCES,
                        help="distinct sources the slices are cut from (1: a single loop chopped up, so every clip "
                             "in view shares one waveform and one spectrogram)")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.engine_client import EngineClient
    from app.main_window import MainWindow
    from app.model.persistence import load_project, save_project
    from app.settings import AppSettings
    from engine.api import EngineSettings

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; {TRACKS} tracks of 1 s slices of {args.sources} sources")
    with tempfile.TemporaryDirectory(prefix="specdiff-bench-open-") as tmp:
        folder = Path(tmp)
        client = EngineClient(EngineSettings(device="cpu", offline=True, cache_dir=str(folder / "hub")))
        window = MainWindow(client, AppSettings(folder / "settings.ini"))
        window.ask_before_closing = False
        window.resize(1400, 860)
        window.show()
        # As app/__main__.py does: the heavy imports happen at start-up, then gc.freeze().
        warm: list[float] = []
        client.warmed_up.connect(warm.append)
        client.warm_up()
        while not warm:
            app.processEvents()
            time.sleep(0.01)
        print(f"engine warm-up (imports at start-up, as the app does): {warm[0]:.1f} s")
        probe = StallProbe()
        print("open: wall s (GUI CPU s); reference: load_project alone. stall: the longest gap between 5 ms ticks, "
              "wall ms (the most GUI CPU between two ticks); references: the idle event loop as long, and the wall ms "
              "of a 50 ms CPU burst")
        print(f"{'clips':>6} {'file kB':>8} {'load_project s':>15} {'open in app s':>20} {'ratio':>6} "
              f"{'longest stall ms':>18} {'idle loop ms':>14} {'burst ms':>9}  targets: < {TARGET_OPEN_S:.0f} s, "
              f"< {TARGET_STALL_MS:.0f} ms")
        project = None
        try:
            for clips in args.clips:
                project = make_project(clips, max(1, args.sources))
                path = folder / f"p{clips}.sdproj"
                save_project(project, path)
                t0 = time.perf_counter()
                load_project(path)
                reference_s = time.perf_counter() - t0
                window.undo_stack.setClean()
                ours_s, stall_ms, cpu_ms, gui_s = open_in_window(app, window, str(path), probe, args.timeout_s)
                idle_ms, idle_cpu_ms = idle_stall(app, probe, ours_s)
                burst_ms = burst_wall_ms()
                ok = "ok" if ours_s < TARGET_OPEN_S and stall_ms < TARGET_STALL_MS else "MISSED (wall)"
                if ok != "ok" and ours_s < TARGET_OPEN_S and cpu_ms < TARGET_STALL_MS:
                    ok += ", ok in GUI CPU"
                print(f"{clips:>6} {path.stat().st_size / 1000:>8.0f} {reference_s:>15.3f} "
                      f"{ours_s:>11.3f} ({gui_s:>5.2f}) {ours_s / reference_s:>6.1f} {stall_ms:>8.0f} ({cpu_ms:>5.0f}) "
                      f"{idle_ms:>6.0f} ({idle_cpu_ms:>3.0f}) {burst_ms:>9.0f}  {ok}")
            if project is not None and not args.no_mix:
                streamed_mb, whole_mb, seconds = mix_memory(window.project, folder)
                print(f"mix of {len(window.project.clips())} clips, {seconds:.0f} s: exporting it block by block "
                      f"peaks at {streamed_mb:.1f} MB; the same mix rendered as one array (reference) "
                      f"{whole_mb:.1f} MB; ratio {streamed_mb / whole_mb:.3f}")
        finally:
            window.client.wait_for_tasks()
            window.close()
            client.shutdown()


if __name__ == "__main__":
    main()
