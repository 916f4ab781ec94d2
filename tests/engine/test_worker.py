"""The worker thread on its own: FIFO order, cancel points, failures, events. No models here."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import pytest

from engine.api import GenerateJob
from engine.specs import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobSpec,
    JobStarted,
    Progress,
    Recipe,
)
from engine.worker import Worker


@dataclass(frozen=True)
class CountJob(JobSpec):
    kind: ClassVar[str] = "count"
    steps: int = 3
    fail_at: int = -1
    oom: bool = False


def count_runner(spec: CountJob, ctx):
    for i in range(spec.steps):
        if i == spec.fail_at:
            if spec.oom:
                import torch

                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            raise ValueError(f"step {i} is broken")
        time.sleep(0.01)
        yield Progress("denoise", i + 1, spec.steps)
    return spec.steps


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=10):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.events), timeout), self.events

    def of(self, job_id, kind=None):
        return [e for e in self.events if e.job_id == job_id and (kind is None or isinstance(e, kind))]


class FakePipelines:
    unloaded = 0

    def unload(self, model_id=None):
        self.unloaded += 1


@pytest.fixture
def make_worker():
    workers = []

    def make(**kw):
        rec = Recorder()
        w = Worker(rec, {CountJob: count_runner}, pipelines=kw.get("pipelines"))
        w.start()
        workers.append(w)
        return w, rec

    yield make
    for w in workers:
        w.stop()
        assert not w.is_alive


def _done(job_id):
    return lambda evs: any(e.job_id == job_id and isinstance(e, (JobFinished, JobFailed, JobCancelled)) for e in evs)


def test_jobs_run_in_fifo_order_with_events(make_worker):
    w, rec = make_worker()
    ids = [w.submit(CountJob(steps=2)) for _ in range(3)]
    rec.wait_for(_done(ids[-1]))
    started = [e.job_id for e in rec.events if isinstance(e, JobStarted)]
    assert started == ids
    for job_id in ids:
        kinds = [type(e) for e in rec.of(job_id)]
        assert kinds == [JobQueued, JobStarted, JobProgress, JobProgress, JobFinished]
        assert rec.of(job_id, JobFinished)[0].result == 2


def test_cancel_stops_within_one_step(make_worker):
    w, rec = make_worker()
    job = w.submit(CountJob(steps=1000))
    rec.wait_for(lambda evs: len([e for e in evs if isinstance(e, JobProgress)]) >= 3)
    w.cancel(job)
    n_at_cancel = len(rec.of(job, JobProgress))
    rec.wait_for(_done(job))
    assert isinstance(rec.of(job)[-1], JobCancelled)
    assert len(rec.of(job, JobProgress)) <= n_at_cancel + 1


def test_cancel_queued_job_never_starts(make_worker):
    w, rec = make_worker()
    first = w.submit(CountJob(steps=20))
    second = w.submit(CountJob(steps=2))
    w.cancel(second)
    rec.wait_for(_done(second))
    rec.wait_for(_done(first))
    assert not rec.of(second, JobStarted)
    assert isinstance(rec.of(first)[-1], JobFinished)


def test_worker_survives_a_failing_job(make_worker):
    w, rec = make_worker()
    bad = w.submit(CountJob(steps=3, fail_at=1))
    good = w.submit(CountJob(steps=1))
    rec.wait_for(_done(good))
    failed = rec.of(bad, JobFailed)[0]
    assert failed.message == "step 1 is broken"
    assert failed.error_type == "ValueError"
    assert isinstance(rec.of(good)[-1], JobFinished)


def test_out_of_memory_frees_models_and_names_settings(make_worker):
    pipelines = FakePipelines()
    w, rec = make_worker(pipelines=pipelines)
    job = w.submit(CountJob(steps=3, fail_at=0, oom=True))
    rec.wait_for(_done(job))
    failed = rec.of(job, JobFailed)[0]
    assert failed.message.startswith("Out of GPU memory")
    assert "offload" in failed.message and "variations" in failed.message
    assert pipelines.unloaded == 1


def test_stop_cancels_queued_jobs(make_worker):
    w, rec = make_worker()
    ids = [w.submit(CountJob(steps=50)) for _ in range(3)]
    w.stop()
    for job_id in ids:
        assert isinstance(rec.of(job_id)[-1], JobCancelled)


def test_specs_reject_absurd_parameters_with_clear_messages():
    with pytest.raises(ValueError, match="num_inference_steps"):
        GenerateJob("x", num_inference_steps=0)
    with pytest.raises(ValueError, match="scheduler"):
        GenerateJob("x", scheduler="magic")
    with pytest.raises(ValueError, match="duration_s"):
        GenerateJob("x", duration_s=float("nan"))
    with pytest.raises(ValueError, match="divisible by 8"):
        GenerateJob("x", height=100)
    with pytest.raises(ValueError, match="seed"):
        GenerateJob("x", seed=-1)


def test_recipe_round_trips_through_json():
    recipe = Recipe(
        task="generate", model_id="riffusion/riffusion-model-v1", model_revision="abc", seed=7,
        params={"prompt": "jazz", "negative_prompt": "", "num_inference_steps": 30, "guidance_scale": 7.0,
                "scheduler": "ddim"},
        facts={"width": 512, "height": 512, "spectrogram": {"sample_rate": 44100}},
        loras=(("my-lora", 0.8),), inputs={"audio": {"sha256": "ab", "shape": [1, 10], "sample_rate_hz": 44100}},
    )
    assert Recipe.from_json(recipe.to_json()) == recipe
    with pytest.raises(ValueError, match="newer version"):
        Recipe.from_dict({**recipe.to_dict(), "future_field": 1})
