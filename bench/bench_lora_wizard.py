"""The LoRA wizard on the starter model with the CPU preset, driven as a user would, in the app.

Sixteen clips of bench_lora_starter's made-up sound ("zorblat", a C5/G5 trill) are written to a
folder; Tools > Train a LoRA… reads them (dataset step), trains with the CPU preset for
``--steps`` steps (samples and validation losses along the way) and puts the LoRA in a temporary
library. Measured in the same run:

* the run's wall time from its estimate (shown before its first step) to its end, against that
  estimate (ratio; the estimate also gives a range and the CPU time);
* the GUI thread's longest stall (a 5 ms precise timer) while training, against the idle app
  (the reference), so training on the engine worker leaves the app usable;
* a generation submitted from the prompt panel while the run trains (served between training
  steps) against the same generation with nothing else running (the reference).

``--screenshot PATH`` saves the wizard's monitoring page when the run ends (run it under
``xvfb-run`` with ``QT_QPA_PLATFORM=xcb`` for the README's picture).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_lora_wizard.py [--steps 120] [--screenshot docs/lora_wizard.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_gui_latency import LatencyProbe, spin, summary  # noqa: E402
from bench_lora_starter import TRIGGER, write_dataset  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def generate_and_time(app, window, prompt: str, seed: int) -> float:
    done: list = []
    window.clips_generated.connect(lambda job_id, clips: done.append(clips))
    panel = window.prompt_panel
    panel.prompt_edit.setPlainText(prompt)
    panel.seed_lock.setChecked(True)
    panel.seed_edit.setText(str(seed))
    started = time.perf_counter()
    panel.request_generate()
    spin(app, 600, until=lambda: bool(done))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--screenshot", default=None, help="save the monitoring page as this PNG")
    parser.add_argument("--idle-s", type=float, default=3.0)
    parser.add_argument("--trace", action="store_true", help="print the longest stalls and what preceded them")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tmp = Path(tempfile.mkdtemp(prefix="specdiff-bench-wizard-"))
    os.environ["SPECDIFF_DATA_DIR"] = str(tmp / "data")
    from app.engine_client import EngineClient
    from app.main_window import MainWindow
    from app.settings import AppSettings
    from engine.api import EngineSettings
    from engine.models.catalog import STARTER_MODEL_ID

    app = QApplication.instance() or QApplication([])
    client = EngineClient(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp / "hub")))
    window = MainWindow(client, AppSettings(str(tmp / "settings.ini")))
    window.ask_before_closing = False
    window.resize(1280, 800)
    window.show()
    warm: list = []
    client.warmed_up.connect(warm.append)
    client.warm_up()
    spin(app, 300, until=lambda: bool(warm))
    window.prompt_panel.set_model(STARTER_MODEL_ID)
    window.prompt_panel.apply_model_hints()
    window.prompt_panel.steps_spin.setValue(20)

    probe = LatencyProbe()
    probe.start()
    spin(app, args.idle_s)
    idle = probe.stop()
    generate_and_time(app, window, "a sine tone at 440 Hz", 1)  # loads the starter once
    idle_generation_s = generate_and_time(app, window, "a sine tone at 440 Hz", 2)

    data = tmp / "zorblat"
    data.mkdir()
    write_dataset(data, args.clips)
    wizard = window.open_lora_wizard()
    wizard.resize(900, 860)
    spin(app, 60, until=lambda: bool(wizard.training_page.cpu_preset()))
    page = wizard.dataset_page
    page.set_model(STARTER_MODEL_ID)
    page.folder_edit.setText(str(data))
    page.trigger_edit.setText(TRIGGER)
    read: list = []
    wizard.dataset_read.connect(read.append)
    started = time.perf_counter()
    page.read_button.click()
    spin(app, 300, until=lambda: bool(read))
    read_s = time.perf_counter() - started
    if not read or read[0] is None:
        print(f"the dataset step failed: {page.error_label.text()}", file=sys.stderr)
        return 1
    wizard.next()
    training = wizard.training_page
    training.preset_combo.setCurrentIndex(training.preset_combo.findData(training.cpu_preset()))
    training.apply_preset(training.cpu_preset())
    training.length_spin.setValue(args.steps)
    training.sample_every_spin.setValue(max(1, args.steps // 2))
    training.validation_every_spin.setValue(max(1, args.steps // 8))
    training.checkpoint_spin.setValue(max(1, args.steps // 2))
    training.prompts_edit.setText(TRIGGER)
    wizard.next()
    wizard.output_page.name_edit.setText(TRIGGER)

    trained: list = []
    failed: list = []
    estimates: list = []
    wizard.lora_trained.connect(trained.append)
    steps_seen: list = []
    busy_generation: list = []

    def on_run(handle):
        handle.progressed.connect(lambda p: estimates.append((p.estimate, time.perf_counter()))
                                  if getattr(p, "estimate", None) else None)
        handle.progressed.connect(lambda p: steps_seen.append(p.step) if p.stage == "train" else None)
        handle.failed.connect(lambda message, kind: failed.append(message))
        handle.progressed.connect(lambda p: probe.mark(f"{p.stage} {p.step}/{p.total}"))

    wizard.run_started.connect(on_run)
    probe.start()
    started = time.perf_counter()
    wizard.next()  # Train
    spin(app, 3600, until=lambda: len(steps_seen) >= max(2, args.steps // 3) or bool(failed))
    if not failed:
        probe.mark("generation submitted")
        window.clips_generated.connect(lambda job_id, clips: probe.mark("generation landed"))
        busy_generation.append(generate_and_time(app, window, "a sine tone at 440 Hz", 3))
    spin(app, 7200, until=lambda: bool(trained or failed))
    ended = time.perf_counter()
    run_s = ended - started
    training_gaps = probe.stop()
    if args.trace:
        print("while training: longest stalls", *probe.worst(8), sep="\n  ")
    if failed:
        print(f"training failed: {failed[0]}", file=sys.stderr)
        return 1
    spin(app, 1.0)
    if args.screenshot:
        path = Path(args.screenshot)
        path.parent.mkdir(parents=True, exist_ok=True)
        wizard.grab().save(str(path))
        window.grab().save(str(path.with_name(path.stem + "_window.png")))
        print(f"saved {path}")

    estimate, estimated_at = estimates[0] if estimates else (None, 0.0)
    entry = trained[0]
    print(f"LoRA wizard, starter model, '{training.cpu_preset()}' preset, {args.steps} steps, {args.clips} clips, device cpu, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load average {os.getloadavg()[0]:.1f}")
    print(f"  dataset step (read, preprocess, split)   {read_s:6.1f} s")
    if estimate is not None:
        rest_s = ended - estimated_at
        print(f"  run (load, encode, train, samples, save) {run_s:6.1f} s")
        print(f"  from the estimate to the end             {rest_s:6.1f} s   estimate {estimate.seconds:6.1f} s "
              f"({estimate.seconds_low:.1f} to {estimate.seconds_high:.1f} s) of wall time, "
              f"{estimate.cpu_seconds:.1f} s CPU   ratio {rest_s / estimate.seconds:.2f}x   peak memory estimate "
              f"{estimate.peak_memory_bytes / 2**20:.0f} MB")
    print(f"  GUI idle (reference)     {summary(idle)}")
    print(f"  GUI while training       {summary(training_gaps)}   ratio max stall {training_gaps.max() / idle.max():.2f}x")
    if busy_generation:
        print(f"  generation while training {busy_generation[0]:6.1f} s   idle (reference) {idle_generation_s:6.1f} s   "
              f"ratio {busy_generation[0] / idle_generation_s:.2f}x")
    print(f"  wrote {entry.path} ({entry.describe()})")
    wizard.close()
    window.close()
    client.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
