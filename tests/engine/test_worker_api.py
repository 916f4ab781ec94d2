"""Engine and worker behaviour with real jobs: tiny-model generation, downloads, unloads (CPU).

FIFO order, a cancel stops within one denoising step, a failing job leaves the worker running,
out-of-memory frees the loaded models and says which settings to change.
"""

from __future__ import annotations

import threading

import pytest
import torch
from assets.make_tiny_sd import TINY_SD_DIR, make_hub_cache_entry
from diffusers import UNet2DConditionModel

from engine.api import (
    DownloadModelJob,
    Engine,
    EngineSettings,
    GenerateJob,
    JobCancelled,
    JobCancelledError,
    JobFailed,
    JobFinished,
    JobProgress,
    JobStarted,
    UnloadModelsJob,
)
from engine.models import ModelStore

COMMIT = "d" * 40
TINY = str(TINY_SD_DIR)


def job(**kwargs) -> GenerateJob:
    args = dict(prompt="drums", model=TINY, seed=1, num_inference_steps=2, duration_s=0.64)
    args.update(kwargs)
    return GenerateJob(**args)


class Recorder:
    """Collects engine events; ``wait_for`` blocks until a predicate over them holds."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()
        self.on_event = None

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()
        if self.on_event is not None:
            self.on_event(event)

    def wait_for(self, predicate, timeout=300):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.events), timeout), self.events[-5:]

    def wait_done(self, job_id):
        self.wait_for(lambda evs: any(e.job_id == job_id and isinstance(e, (JobFinished, JobFailed, JobCancelled))
                                      for e in evs))
        return next(e for e in self.events if e.job_id == job_id and isinstance(e, (JobFinished, JobFailed, JobCancelled)))

    def of(self, job_id, kind=None):
        return [e for e in self.events if e.job_id == job_id and (kind is None or isinstance(e, kind))]


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("hub")
    make_hub_cache_entry(cache, "org/tiny-sd", TINY_SD_DIR, commit=COMMIT)
    return cache


@pytest.fixture(scope="module")
def engine_and_events(hub_cache):
    recorder = Recorder()
    engine = Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(hub_cache)), recorder)
    yield engine, recorder
    engine.shutdown()
    assert not engine.is_running


@pytest.fixture
def count_unet_calls(monkeypatch):
    """Counts UNet forward passes (every pipeline instance); the list grows by one per call."""
    calls = []
    real_forward = UNet2DConditionModel.forward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(UNet2DConditionModel, "forward", counting)
    return calls


def test_jobs_run_one_at_a_time_in_submission_order(engine_and_events):
    engine, rec = engine_and_events
    ids = [
        engine.submit(job(seed=1)),
        engine.submit(job(seed=2, model="org/tiny-sd")),
        engine.submit(UnloadModelsJob()),
        engine.submit(job(seed=3)),
    ]
    for job_id in ids:
        rec.wait_done(job_id)
    started = [e.job_id for e in rec.events if isinstance(e, JobStarted) and e.job_id in ids]
    assert started == ids
    # No interleaving: each job's events end before the next job starts.
    position = {id(e): i for i, e in enumerate(rec.events)}
    for first, second in zip(ids, ids[1:]):
        assert position[id(rec.of(first)[-1])] < position[id(rec.of(second, JobStarted)[0])]
    finished = [rec.of(job_id, JobFinished)[0].result for job_id in ids]
    assert [r[0].recipe.seed for r in (finished[0], finished[1], finished[3])] == [1, 2, 3]
    assert finished[2] == 1  # one model at a time stays loaded: the hub copy had replaced the folder
    assert engine.pipelines.loaded() == [str(TINY_SD_DIR.resolve())]


def test_cancel_stops_within_one_step_and_the_next_job_runs(engine_and_events, count_unet_calls):
    engine, rec = engine_and_events
    engine.run(job(), timeout_s=300)  # loaded: the long job starts denoising at once
    long_job = engine.submit(job(num_inference_steps=200))
    rec.wait_for(lambda evs: any(isinstance(e, JobProgress) and e.job_id == long_job
                                 and e.progress.stage == "denoise" and e.progress.step >= 2 for e in evs))
    engine.cancel(long_job)
    calls_at_cancel = len(count_unet_calls)
    steps_at_cancel = len([e for e in rec.of(long_job, JobProgress) if e.progress.stage == "denoise"])
    assert isinstance(rec.wait_done(long_job), JobCancelled)

    assert len(count_unet_calls) - calls_at_cancel <= 1  # the step under way, nothing after
    steps = [e for e in rec.of(long_job, JobProgress) if e.progress.stage == "denoise"]
    assert len(steps) - steps_at_cancel <= 1 and len(steps) < 200
    assert engine.is_running
    (result,) = engine.run(job(seed=7), timeout_s=300)
    assert result.recipe.seed == 7


def test_cancel_from_an_event_listener_stops_before_the_next_step(engine_and_events, count_unet_calls):
    engine, rec = engine_and_events
    engine.run(job(), timeout_s=300)
    target = {}

    def cancel_at_step_3(event):
        if (isinstance(event, JobProgress) and event.job_id == target.get("id")
                and event.progress.stage == "denoise" and event.progress.step == 3):
            target["calls"] = len(count_unet_calls)
            engine.cancel(event.job_id)

    rec.on_event = cancel_at_step_3
    try:
        target["id"] = job_id = engine.submit(job(num_inference_steps=50))
        assert isinstance(rec.wait_done(job_id), JobCancelled)
    finally:
        rec.on_event = None
    assert len(count_unet_calls) == target["calls"]  # no UNet call after the cancel
    assert [e.progress.step for e in rec.of(job_id, JobProgress) if e.progress.stage == "denoise"] == [1, 2, 3]


def test_a_failing_job_is_reported_and_the_worker_keeps_going(engine_and_events, tmp_path):
    engine, rec = engine_and_events
    missing = tmp_path / "no-such-model"
    bad = engine.submit(job(model=str(missing)))
    good = engine.submit(job(seed=4))
    failed = rec.wait_done(bad)
    assert isinstance(failed, JobFailed)
    assert failed.error_type == "ModelNotFoundError"
    assert str(missing) in failed.message and "does not exist" in failed.message
    assert "\n" not in failed.message
    assert isinstance(rec.wait_done(good), JobFinished)
    assert engine.is_running


def test_out_of_memory_frees_the_models_and_names_settings_to_lower(engine_and_events, monkeypatch):
    engine, rec = engine_and_events
    engine.run(job(), timeout_s=300)
    assert engine.pipelines.loaded()

    def out_of_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(UNet2DConditionModel, "forward", out_of_memory)
        failed = rec.wait_done(engine.submit(job()))
    assert isinstance(failed, JobFailed) and failed.error_type == "OutOfMemoryError"
    assert failed.message.startswith("Out of GPU memory") and "Try:" in failed.message
    for setting in ("model CPU offload", "VAE tiling", "attention slicing"):
        assert setting in failed.message
    assert engine.pipelines.loaded() == []  # unloaded to give the memory back
    (result,) = engine.run(job(seed=9), timeout_s=300)  # reloads and works
    assert result.recipe.seed == 9


def test_unload_job_frees_loaded_models(engine_and_events):
    engine, _ = engine_and_events
    engine.run(job(), timeout_s=300)
    assert engine.run(UnloadModelsJob(), timeout_s=60) == 1
    assert engine.pipelines.loaded() == []
    assert engine.run(UnloadModelsJob(), timeout_s=60) == 0


def test_download_in_offline_mode_fails_naming_the_model_and_the_setting(engine_and_events):
    engine, rec = engine_and_events
    failed = rec.wait_done(engine.submit(DownloadModelJob("org/not-here")))
    assert isinstance(failed, JobFailed) and failed.error_type == "OfflineModeError"
    assert "'org/not-here'" in failed.message and "Offline mode is on" in failed.message


def test_download_of_a_cached_model_returns_it_without_network(engine_and_events):
    engine, _ = engine_and_events
    resolved = engine.run(DownloadModelJob("org/tiny-sd"), timeout_s=60)
    assert (resolved.model_id, resolved.revision, resolved.source) == ("org/tiny-sd", COMMIT, "hub")


# ------------------------------------------------------------------- downloads from a local hub

@pytest.fixture
def local_hub():
    from test_model_store import FakeHub, sd_repo_files  # the stand-in hub of the store's tests

    hub = FakeHub({"org/tiny-sd": sd_repo_files()})
    yield hub
    hub.close()


def test_download_job_reports_bytes_and_returns_the_model(tmp_path, local_hub):
    recorder = Recorder()
    store = ModelStore(tmp_path / "hub", endpoint=local_hub.url)
    with Engine(EngineSettings(device="cpu"), recorder, store=store) as engine:
        resolved = engine.run(DownloadModelJob("org/tiny-sd"), timeout_s=120)
        (result,) = engine.run(job(model="org/tiny-sd"), timeout_s=300)  # and it generates
    assert resolved.revision == result.recipe.model_revision and (resolved.path / "model_index.json").is_file()
    reports = [e.progress for e in recorder.events if isinstance(e, JobProgress) and e.progress.stage == "download"]
    byte_reports = [p for p in reports if p.bytes_done is not None]
    assert byte_reports, reports
    total = sum(p.stat().st_size for p in TINY_SD_DIR.rglob("*") if p.is_file())
    assert byte_reports[-1].bytes_done == byte_reports[-1].bytes_total == total
    assert [p.bytes_done for p in byte_reports] == sorted(p.bytes_done for p in byte_reports)


def test_cancelled_download_ends_as_cancelled_and_a_later_one_completes(tmp_path, local_hub):
    local_hub.slow_files = {"unet/diffusion_pytorch_model.safetensors"}
    recorder = Recorder()
    store = ModelStore(tmp_path / "hub", endpoint=local_hub.url)
    with Engine(EngineSettings(device="cpu"), recorder, store=store) as engine:
        def cancel_on_first_bytes(event):
            if isinstance(event, JobProgress) and event.progress.bytes_done is not None:
                engine.cancel(event.job_id)
                local_hub.release.set()

        recorder.on_event = cancel_on_first_bytes
        with pytest.raises(JobCancelledError):
            engine.run(DownloadModelJob("org/tiny-sd"), timeout_s=120)
        recorder.on_event = None
        assert not store.is_downloaded("org/tiny-sd")
        assert engine.is_running
        resolved = engine.run(DownloadModelJob("org/tiny-sd"), timeout_s=120)
    assert store.is_downloaded("org/tiny-sd") and resolved.path.is_dir()
