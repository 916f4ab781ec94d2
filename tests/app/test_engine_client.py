"""The EngineClient bridge: engine events arrive as signals on the GUI thread, in order; cancel,
restart and shutdown leave no thread behind. Real jobs run through the real engine thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from engine.api import EngineSettings, GenerateJob, JobSpec, Progress, TaskResult, register_runner

GATES: dict[str, threading.Event] = {}


@dataclass(frozen=True)
class GatedJob(JobSpec):
    """A job that reports progress until its gate opens (or it is cancelled)."""

    kind: ClassVar[str] = "test_gated"
    gate: str = "default"
    fail: bool = False

    def describe(self) -> str:
        return f"Gated {self.gate}"


def run_gated(spec: GatedJob, ctx):
    gate = GATES[spec.gate]
    step = 0
    while not gate.wait(0.01):
        step += 1
        yield Progress(stage="denoise", step=step, total=0)
    if spec.fail:
        raise ValueError(f"gate {spec.gate} was told to fail")
    yield Progress(stage="save", step=1, total=1)
    return f"done {spec.gate}"


register_runner(GatedJob, run_gated)


@pytest.fixture
def gate():
    def make(name):
        GATES[name] = threading.Event()
        return GATES[name]

    yield make
    for event in GATES.values():
        event.set()
    GATES.clear()


def test_events_arrive_on_the_gui_thread_in_order(qtbot, client, gate):
    main = threading.get_ident()
    seen = []

    def record(name):
        return lambda *args: seen.append((name, args[0], threading.get_ident()))

    for name in ("job_queued", "job_started", "job_progressed", "job_finished"):
        getattr(client, name).connect(record(name))
    g = gate("a")
    with qtbot.waitSignal(client.busy_changed, timeout=5000) as busy:
        job_id = client.submit(GatedJob(gate="a")).job_id
    assert busy.args == [True] and client.is_busy
    with qtbot.waitSignal(client.job_progressed, timeout=10000):
        pass
    with qtbot.waitSignal(client.job_finished, timeout=10000) as finished:
        g.set()
    assert finished.args == [job_id, "done a"]
    names = [n for n, _, _ in seen]
    assert names[:2] == ["job_queued", "job_started"] and names[-1] == "job_finished"
    assert all(tid == main for _, _, tid in seen), "a signal was emitted off the GUI thread"
    assert not client.is_busy


def test_failure_is_a_signal_with_the_reason(qtbot, client, gate):
    gate("f").set()
    with qtbot.waitSignal(client.job_failed, timeout=10000) as failed:
        job_id = client.submit(GatedJob(gate="f", fail=True)).job_id
    assert failed.args == [job_id, "gate f was told to fail", "ValueError"]
    # The worker survives: the next job runs.
    gate("g").set()
    with qtbot.waitSignal(client.job_finished, timeout=10000):
        client.submit(GatedJob(gate="g"))


def test_cancel_queued_and_running_jobs(qtbot, client, gate):
    gate("run")
    gate("queued")
    with qtbot.waitSignal(client.job_started, timeout=10000):
        running = client.submit(GatedJob(gate="run"))
    queued = client.submit(GatedJob(gate="queued"))
    with qtbot.waitSignals([client.job_cancelled, client.job_cancelled], timeout=10000):
        queued.cancel()
        running.cancel()
    assert not client.is_busy and client.running_job is None


def test_a_handle_hears_only_its_own_job(qtbot, client, gate):
    first, second = gate("h1"), gate("h2")
    a = client.submit(GatedJob(gate="h1"))
    b = client.submit(GatedJob(gate="h2"))
    heard = {"a": [], "b": []}
    for name, handle in (("a", a), ("b", b)):
        handle.started.connect(lambda spec, n=name: heard[n].append(("started", spec.gate)))
        handle.finished.connect(lambda result, n=name: heard[n].append(("finished", result)))
        handle.cancelled.connect(lambda n=name: heard[n].append(("cancelled",)))
    assert (a.state, b.state) == ("queued", "queued") and a.job_id != b.job_id
    with qtbot.waitSignal(a.started, timeout=10000):
        pass
    with qtbot.waitSignal(a.progressed, timeout=10000):
        pass
    assert b.cancel()  # queued: it never starts
    with qtbot.waitSignals([a.finished, b.cancelled], timeout=10000):
        first.set()
    assert heard == {"a": [("started", "h1"), ("finished", "done h1")], "b": [("cancelled",)]}
    assert (a.state, a.result, b.state) == ("finished", "done h1", "cancelled")
    assert not a.cancel() and client.handle(a.job_id) is None and not client.is_busy
    second.set()


def test_restart_waits_for_idle_and_leaves_no_thread(qtbot, client, gate):
    old_thread = client.engine._worker._thread
    g = gate("busy")
    with qtbot.waitSignal(client.job_started, timeout=10000):
        client.submit(GatedJob(gate="busy"))
    new_settings = client.settings.with_changes(attention_slicing=True)
    assert client.restart(new_settings) is False  # busy: deferred
    assert client.restart_pending and client.settings.attention_slicing is False
    with qtbot.waitSignal(client.engine_restarted, timeout=30000) as restarted:
        g.set()
    assert restarted.args[0] == new_settings and client.settings == new_settings
    assert not old_thread.is_alive()
    assert client.engine._worker._thread.is_alive()


def test_shutdown_cancels_and_joins(qtbot, make_client, gate):
    client = make_client()
    gate("forever")
    with qtbot.waitSignal(client.job_started, timeout=10000):
        client.submit(GatedJob(gate="forever"))
    thread = client.engine._worker._thread
    client.shutdown()
    assert not thread.is_alive() and client.is_shut_down
    with pytest.raises(RuntimeError, match="shut down"):
        client.submit(GatedJob())


def test_background_task_result_and_error_come_back_on_the_gui_thread(qtbot, client):
    main = threading.get_ident()
    got = []
    client.run_in_thread("ok", lambda: threading.get_ident(), lambda r: got.append((r, threading.get_ident())))
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    assert got[0][0] != main and got[0][1] == main
    with qtbot.waitSignal(client.task_failed, timeout=5000) as failed:
        client.run_in_thread("broken", lambda: 1 / 0, lambda r: None)
    assert failed.args[0] == "broken" and "division" in failed.args[1]


def test_the_warm_up_imports_on_the_engine_thread_after_a_running_job(qtbot, client, gate, monkeypatch, tmp_path):
    # On its own thread, the warm-up raced a first Generate's imports of the same packages (the
    # job failed with "cannot import name 'CLIPImageProcessor' from 'transformers'").
    import sys

    from app import engine_client

    (tmp_path / "warm_probe.py").write_text(
        "import threading\nTHREAD = threading.current_thread().name\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(engine_client, "WARM_UP_MODULES", ("warm_probe",))
    monkeypatch.delitem(sys.modules, "warm_probe", raising=False)
    gate("warm")
    job = client.submit(GatedJob(gate="warm"))
    client.warm_up()
    qtbot.wait(200)
    assert "warm_probe" not in sys.modules  # it waits for the running job
    try:
        with qtbot.waitSignal(client.warmed_up, timeout=10000):
            GATES["warm"].set()
        assert sys.modules["warm_probe"].THREAD == "specdiff-engine" and client.is_warm
        qtbot.waitUntil(lambda: job.is_done, timeout=5000)
    finally:
        import gc

        gc.enable()
        gc.unfreeze()  # what the warm-up froze: the rest of the test session collects as usual


def test_real_generation_through_the_engine_thread(qtbot, client, tiny_model, wait_job):
    progress = []
    client.job_progressed.connect(lambda job_id, p: progress.append(p.stage))
    spec = GenerateJob("bright plucked synth", seed=3, num_inference_steps=2, duration_s=0.64, model=tiny_model)
    outcome, args = wait_job(client, lambda: client.submit(spec))
    assert outcome == "finished", args
    (result,) = args[1]
    assert isinstance(result, TaskResult)
    assert result.recipe.seed == 3 and result.recipe.params["prompt"] == "bright plucked synth"
    assert result.audio.dtype == np.float32 and result.audio.ndim == 2
    assert result.duration_s == pytest.approx(0.64, abs=0.02)
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0
    assert "denoise" in progress


def test_missing_model_fails_with_a_message_naming_it(qtbot, client, tmp_path):
    missing = str(tmp_path / "no-model-here")
    spec = GenerateJob("x", num_inference_steps=2, duration_s=0.64, model=missing)
    with qtbot.waitSignal(client.job_failed, timeout=60000) as failed:
        client.submit(spec)
    assert "no-model-here" in failed.args[1]


def test_engine_settings_reach_the_engine(qtbot, make_client, tmp_path):
    settings = EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path / "cache"), vae_tiling=True)
    client = make_client(settings)
    assert client.settings == settings
    assert str(client.store.cache_dir) == str(tmp_path / "cache")
    assert client.store.is_offline
