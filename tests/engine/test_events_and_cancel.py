"""Engine events and cancel (issue 17 part 4): a raising listener starves no one, a cancelled job never
delivers a result, a queued job reports its cancel at once, and cancel points inside every long stage
of inversion and analysis stop the job where it is. No wall-clock asserts: events and counts."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

import engine.audio.inversion as inversion
import engine.audio.spectrogram as spectrogram
from engine.api import Engine, EngineSettings, register_runner
from engine.api import _EXTRA_RUNNERS as API_RUNNERS
from engine.specs import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobSpec,
    JobStarted,
    Progress,
)
from engine.worker import Worker, describe_error
from test_worker_api import Recorder  # tests/engine is on sys.path (pytest's rootdir-relative import)

TERMINAL = (JobFinished, JobFailed, JobCancelled)


def terminal(rec: Recorder, job_id: int):
    """The job's one terminal event (fails if there are several)."""
    (event,) = [e for e in rec.events if e.job_id == job_id and isinstance(e, TERMINAL)]
    return event


@dataclass(frozen=True)
class GateJob(JobSpec):
    """Yields ``steps`` progress events, then waits for ``gates[name]`` before returning its result."""

    kind: ClassVar[str] = "gate"
    name: str = "a"
    steps: int = 1


GATES: dict[str, threading.Event] = {}
REACHED: dict[str, threading.Event] = {}


def gate_runner(spec: GateJob, ctx):
    for i in range(spec.steps):
        yield Progress("denoise", i + 1, spec.steps)
    REACHED[spec.name].set()
    assert GATES[spec.name].wait(60)  # the final stage: no yield, no cancel point
    return f"result of {spec.name}"


def gate(name):
    GATES[name], REACHED[name] = threading.Event(), threading.Event()
    return GateJob(name=name)


@pytest.fixture
def worker():
    rec = Recorder()
    w = Worker(rec, {GateJob: gate_runner})
    w.start()
    yield w, rec
    for event in GATES.values():
        event.set()
    w.stop()
    assert not w.is_alive


# ----------------------------------------------------------------------------- listeners


@pytest.fixture
def engine_with_gate_jobs(tmp_path):
    register_runner(GateJob, gate_runner)
    engines = []

    def make(on_event):
        engine = Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path)), on_event)
        engines.append(engine)
        return engine

    yield make
    for event in GATES.values():
        event.set()
    for engine in engines:
        engine.shutdown()
        assert not engine.is_running
    API_RUNNERS.pop(GateJob, None)


def test_a_raising_listener_is_logged_and_every_other_listener_still_hears_every_event(engine_with_gate_jobs, caplog):
    calls = []

    def broken(event):
        calls.append(event)
        raise RuntimeError("listener bug")

    engine = engine_with_gate_jobs(broken)
    rec = Recorder()
    engine.add_listener(rec)
    spec = gate("listeners")
    GATES["listeners"].set()
    # Engine.run's own listener comes after the broken one: it must still see the JobFinished.
    assert engine.run(spec, timeout_s=60) == "result of listeners"
    (job_id,) = {e.job_id for e in rec.events}
    assert [type(e) for e in rec.of(job_id)] == [JobQueued, JobStarted, JobProgress, JobFinished]
    assert len(calls) == 4
    assert "listener bug" in caplog.text


# ----------------------------------------------------------------------------- cancel vs result


def test_a_job_cancelled_in_its_last_stage_reports_cancelled_and_never_its_result(worker):
    w, rec = worker
    job_id = w.submit(gate("last"))
    assert REACHED["last"].wait(60)  # running its final stage, past every yield
    assert w.cancel(job_id) is True
    GATES["last"].set()  # the stage completes and returns a result anyway
    assert isinstance(rec.wait_done(job_id), JobCancelled)
    assert not rec.of(job_id, JobFinished)


def test_cancel_after_the_outcome_is_decided_returns_false(worker):
    w, rec = worker
    spec = gate("done")
    GATES["done"].set()
    job_id = w.submit(spec)
    assert isinstance(rec.wait_done(job_id), JobFinished)
    assert w.cancel(job_id) is False
    assert len([e for e in rec.of(job_id) if isinstance(e, TERMINAL)]) == 1


def test_a_cancelled_queued_job_reports_at_once_and_never_starts(worker):
    w, rec = worker
    first = w.submit(gate("first"))
    assert REACHED["first"].wait(60)
    second = w.submit(gate("second"))
    assert w.cancel(second) is True
    # Reported before cancel() returned, while the worker is still busy with the first job.
    assert [type(e) for e in rec.of(second)] == [JobQueued, JobCancelled]
    assert not rec.of(first, JobFinished)
    GATES["first"].set()
    assert isinstance(rec.wait_done(first), JobFinished)
    third = w.submit(gate("third"))
    GATES["third"].set()
    rec.wait_done(third)
    assert not rec.of(second, JobStarted)
    assert terminal(rec, second)  # exactly one terminal event
    assert w.cancel(second) is False


def test_stop_reports_queued_jobs_cancelled_once(worker):
    w, rec = worker
    first = w.submit(gate("s1"))
    assert REACHED["s1"].wait(60)
    queued = [w.submit(gate(f"q{i}")) for i in range(3)]
    w.cancel(queued[0])
    GATES["s1"].set()
    w.stop()
    for job_id in queued:
        assert isinstance(terminal(rec, job_id), JobCancelled)
    assert terminal(rec, first)


# ----------------------------------------------------------------------------- cancel points


@dataclass(frozen=True)
class InvertJob(JobSpec):
    kind: ClassVar[str] = "invert"
    seconds: float = 4.0
    chunk_frames: int | None = None
    n_iter: int = 8


def _music(seconds: float, params) -> np.ndarray:
    rate = params.sample_rate
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1230 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)
    return wave[None].astype(np.float32)


def invert_runner(spec: InvertJob, ctx):
    params = spectrogram.PRESETS["riffusion"]
    yield Progress("encode", 0, 1, message="Analysing")
    mel = spectrogram.mel_from_audio(_music(spec.seconds, params), params)
    yield Progress("invert", 0, 1, message="Inverting")
    vocoder = inversion.GriffinLimVocoder(n_iter=spec.n_iter, max_chunk_frames=spec.chunk_frames)
    return spectrogram.audio_from_mel(mel, params, vocoder=vocoder, generator=torch.Generator().manual_seed(0))


STAGES = {
    # stage: (module whose cancel points it uses, function name, job)
    "analysis chunks": (spectrogram, "mel_chunks", InvertJob()),
    "mel inversion (FISTA)": (inversion, "mel_to_linear", InvertJob()),
    "phase-gradient walk": (inversion, "pghi_phase", InvertJob(seconds=8.0, n_iter=1)),
    "Griffin-Lim iterations": (inversion, "_griffin_lim", InvertJob(n_iter=50)),
    "Griffin-Lim chunks": (inversion, "_griffin_lim", InvertJob(seconds=6.0, chunk_frames=128, n_iter=4)),
    "resampling blocks": (inversion, "_resample_blocks", InvertJob(seconds=6.0, chunk_frames=128, n_iter=1)),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_cancel_inside_a_long_stage_stops_it_at_the_next_cancel_point(stage, monkeypatch):
    module, function, spec = STAGES[stage]
    if module is spectrogram:
        monkeypatch.setattr(spectrogram, "ANALYSIS_CHUNK_BINS", 8821 * 40)
    rec = Recorder()
    w = Worker(rec, {InvertJob: invert_runner})
    seen: list[str] = []
    state = {"job": None, "cancelled_at": None}
    real = module.cancel_point

    def watching_cancel_point():
        seen.append(sys._getframe(1).f_code.co_name)
        # The user presses cancel while the third pass of this stage's loop is under way.
        if state["cancelled_at"] is None and seen.count(function) == 3:
            state["cancelled_at"] = len(seen)
            assert w.cancel(state["job"])
        real()

    monkeypatch.setattr(module, "cancel_point", watching_cancel_point)
    w.start()
    try:
        state["job"] = w.submit(spec)
        terminal = rec.wait_done(state["job"])
    finally:
        w.stop()
    assert isinstance(terminal, JobCancelled), terminal
    assert not rec.of(state["job"], JobFinished)
    assert state["cancelled_at"] is not None, f"{function} never reached its third cancel point: {set(seen)}"
    # The cancel point that saw the cancel raised: no further pass of any loop ran.
    assert len(seen) == state["cancelled_at"]


def cancel_at_iteration(monkeypatch, n: int, cancel) -> list[int]:
    """Count Griffin-Lim iterations (one magnitude projection each); call ``cancel`` during the n-th."""
    iterations: list[int] = []
    real = inversion._with_magnitude

    def counting(spectrum, magnitude):
        iterations.append(1)
        if len(iterations) == n:
            cancel()
        return real(spectrum, magnitude)

    monkeypatch.setattr(inversion, "_with_magnitude", counting)
    return iterations


def test_griffin_lim_runs_no_iteration_after_a_cancel(monkeypatch):
    rec = Recorder()
    w = Worker(rec, {InvertJob: invert_runner})
    state = {}
    iterations = cancel_at_iteration(monkeypatch, 5, lambda: w.cancel(state["job"]))
    w.start()
    try:
        state["job"] = w.submit(InvertJob(seconds=1.0, n_iter=500))
        assert isinstance(rec.wait_done(state["job"]), JobCancelled)
    finally:
        w.stop()
    assert len(iterations) == 5  # of 500


# ----------------------------------------------------------------------------- out of memory


@dataclass
class _Settings:
    device: str = "cpu"
    cpu_offload: bool = False
    vae_tiling: bool = False
    attention_slicing: bool = True


def test_running_out_of_ram_on_the_cpu_names_the_ram_and_no_gpu_advice():
    cpu_oom = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
        "you tried to allocate 50800000000 bytes."
    )
    for exc in (cpu_oom, MemoryError()):
        message = describe_error(exc, _Settings())
        assert message.startswith("Out of memory: the computer's RAM ran out (CPU)"), message
        assert "GPU" not in message and "offload" not in message
        assert "VAE tiling" in message and "attention slicing" not in message  # already on
        assert "\n" not in message
    assert "50.8 GB" in describe_error(cpu_oom, _Settings())


def test_running_out_of_gpu_memory_offers_cpu_offload():
    message = describe_error(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                             _Settings(device="cuda"))
    assert message.startswith("Out of GPU memory") and "model CPU offload" in message and "2.1 GB" in message


def test_cancel_during_a_generation_s_final_inversion_lands_no_clip(tmp_path, monkeypatch):
    """The issue's case: cancel while the text-to-audio job inverts its image -> JobCancelled, no result."""
    from assets.make_tiny_sd import TINY_SD_DIR

    from engine.api import GenerateJob

    rec = Recorder()
    state = {}
    iterations = cancel_at_iteration(monkeypatch, 3, lambda: engine.cancel(state["job"]))
    engine = Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path)), rec)
    try:
        spec = GenerateJob("drums", model=str(TINY_SD_DIR), seed=1, num_inference_steps=2, duration_s=0.64)
        state["job"] = engine.submit(spec)
        assert isinstance(rec.wait_done(state["job"]), JobCancelled)
    finally:
        engine.shutdown()
    assert [e.progress.stage for e in rec.of(state["job"], JobProgress)][-1] == "invert"
    assert not rec.of(state["job"], JobFinished)
    assert len(iterations) == 3  # of the 32 Griffin-Lim iterations


@pytest.mark.parametrize("stage", ["denoise", "decode"])
def test_cancel_inside_the_unet_or_the_vae_stops_at_the_next_layer(stage, tmp_path, monkeypatch):
    """A denoising step or a VAE decode of a big model takes seconds on a CPU: a cancel arriving in
    the middle of one stops the model at its next ResNet/transformer layer, and the step or decode
    never completes."""
    from assets.make_tiny_sd import TINY_SD_DIR
    from diffusers.models.resnet import ResnetBlock2D

    from engine.api import GenerateJob

    rec = Recorder()
    state = {"stage": None, "layers": 0, "after": 0}
    real_forward = ResnetBlock2D.forward

    def counting_forward(self, *args, **kwargs):
        state["after"] += state.get("cancelled", False)
        stages = [e.progress.stage for e in rec.of(state.get("job"), JobProgress)]
        if stages and stages[-1] == stage and (stage == "decode" or len(stages) >= 3):
            state["layers"] += 1
            if state["layers"] == 2 and not state.get("cancelled"):  # two layers into the step / decode
                state["cancelled"] = engine.cancel(state["job"])
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(ResnetBlock2D, "forward", counting_forward)
    engine = Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path)), rec)
    try:
        spec = GenerateJob("drums", model=str(TINY_SD_DIR), seed=1, num_inference_steps=4, duration_s=0.64)
        state["job"] = engine.submit(spec)
        assert isinstance(rec.wait_done(state["job"]), JobCancelled)
    finally:
        engine.shutdown()
    assert state.get("cancelled") is True
    assert state["after"] == 0  # no layer ran after the cancel
    progress = [e.progress for e in rec.of(state["job"], JobProgress)]
    assert progress[-1].stage == stage and not rec.of(state["job"], JobFinished)
    if stage == "denoise":
        assert progress[-1].step == 1  # the step under way (step 2) never reported done
