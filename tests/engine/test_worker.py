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


def test_a_call_runs_on_the_worker_thread_before_jobs_submitted_after_it(make_worker):
    # The app's warm-up imports run this way: on another thread, a job's own imports of the
    # same package got half-imported modules.
    w, rec = make_worker()
    order = []
    first = w.submit(CountJob(steps=2))
    done = w.call(lambda: order.append(("call", threading.current_thread().name, len(rec.of(first, JobFinished)))))
    second = w.submit(CountJob(steps=1))
    w.call(lambda: 1 / 0)  # a call that raises is logged; the worker goes on
    rec.wait_for(_done(second))
    assert done.wait(10)
    assert order == [("call", "specdiff-engine", 1)]  # after the first job, on the worker thread
    started = [e.job_id for e in rec.events if isinstance(e, JobStarted)]
    assert started == [first, second]
    w.stop()
    assert w.call(lambda: order.append("late")).is_set() and order == [("call", "specdiff-engine", 1)]


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


# -- long jobs share the worker (issue 12 part 8) ------------------------------------------------


@dataclass(frozen=True)
class LongJob(JobSpec):
    """A 'training' job: a running sum over its steps; it sets its own torch thread count."""

    kind: ClassVar[str] = "long"
    long_running: ClassVar[bool] = True
    steps: int = 40
    threads: int = 0


SEEN_THREADS: dict[str, list[int]] = {"long": [], "short": []}


def long_runner(spec: LongJob, ctx):
    import torch

    if spec.threads:
        torch.set_num_threads(spec.threads)  # set once, as train_starter does: must not leak
    total = 0
    for i in range(spec.steps):
        SEEN_THREADS["long"].append(torch.get_num_threads())
        total = total * 31 + i + 1
        time.sleep(0.01)
        yield Progress("train", i + 1, spec.steps)
    return total


def short_runner(spec: CountJob, ctx):
    import torch

    SEEN_THREADS["short"].append(torch.get_num_threads())
    return (yield from count_runner(spec, ctx))


@pytest.fixture
def long_worker():
    rec = Recorder()
    w = Worker(rec, {CountJob: short_runner, LongJob: long_runner})
    w.start()
    yield w, rec
    w.stop()
    assert not w.is_alive


def _progress_steps(rec, job_id):
    return [e.progress.step for e in rec.of(job_id, JobProgress)]


def test_a_generation_submitted_during_training_finishes_before_training_does(long_worker):
    w, rec = long_worker
    train = w.submit(LongJob(steps=200))
    rec.wait_for(lambda evs: len(rec.of(train, JobProgress)) >= 3)
    short = w.submit(CountJob(steps=2))
    rec.wait_for(_done(short))
    assert isinstance(rec.of(short)[-1], JobFinished)
    assert not rec.of(train, JobFinished)  # served between training steps, not after them
    steps_then = len(rec.of(train, JobProgress))
    assert steps_then < 200
    rec.wait_for(_done(train))
    finished = [e.job_id for e in rec.events if isinstance(e, JobFinished)]
    assert finished == [short, train]
    assert _progress_steps(rec, train) == list(range(1, 201))  # training went on where it was


def test_long_jobs_wait_for_each_other_in_order(long_worker):
    w, rec = long_worker
    first = w.submit(LongJob(steps=20))
    second = w.submit(LongJob(steps=5))
    short = w.submit(CountJob(steps=1))
    rec.wait_for(_done(second))
    finished = [e.job_id for e in rec.events if isinstance(e, JobFinished)]
    assert finished == [short, first, second]


def test_pause_stops_progress_resume_continues_and_the_result_is_unchanged(long_worker):
    from engine.specs import JobPaused, JobResumed

    w, rec = long_worker
    uninterrupted = w.submit(LongJob(steps=30))
    rec.wait_for(_done(uninterrupted))
    expected = rec.of(uninterrupted, JobFinished)[0].result

    job = w.submit(LongJob(steps=30))
    rec.wait_for(lambda evs: len(rec.of(job, JobProgress)) >= 2)
    assert w.pause(job)
    rec.wait_for(lambda evs: rec.of(job, JobPaused))
    at_pause = len(rec.of(job, JobProgress))
    time.sleep(0.3)  # 30 steps' worth of time
    assert len(rec.of(job, JobProgress)) == at_pause and w.is_paused(job)
    short = w.submit(CountJob(steps=2))  # a paused job still lets generations run
    rec.wait_for(_done(short))
    assert isinstance(rec.of(short)[-1], JobFinished) and len(rec.of(job, JobProgress)) == at_pause
    assert w.resume(job)
    rec.wait_for(_done(job))
    assert rec.of(job, JobResumed)
    assert rec.of(job, JobFinished)[0].result == expected
    assert _progress_steps(rec, job) == list(range(1, 31))
    assert not w.pause(short) and not w.pause(job)  # short and finished jobs cannot pause


def test_cancel_and_stop_end_a_paused_job(long_worker):
    w, rec = long_worker
    job = w.submit(LongJob(steps=1000))
    rec.wait_for(lambda evs: rec.of(job, JobProgress))
    w.pause(job)
    w.cancel(job)
    rec.wait_for(_done(job))
    assert isinstance(rec.of(job)[-1], JobCancelled)
    other = w.submit(LongJob(steps=1000))
    rec.wait_for(lambda evs: rec.of(other, JobProgress))
    w.pause(other)
    w.stop()
    assert isinstance(rec.of(other)[-1], JobCancelled)


def test_a_jobs_thread_count_stays_with_it(long_worker):
    import torch

    w, rec = long_worker
    before = torch.get_num_threads()
    mine = before + 1
    SEEN_THREADS["long"].clear()
    SEEN_THREADS["short"].clear()
    train = w.submit(LongJob(steps=100, threads=mine))
    rec.wait_for(lambda evs: len(rec.of(train, JobProgress)) >= 3)
    short = w.submit(CountJob(steps=1))
    rec.wait_for(_done(train))
    assert rec.of(short, JobFinished)
    assert set(SEEN_THREADS["long"]) == {mine}  # the job keeps its own setting across the yields
    assert SEEN_THREADS["short"] == [before]  # a job served between its steps does not inherit it
    after = w.submit(CountJob(steps=1))
    rec.wait_for(_done(after))
    assert SEEN_THREADS["short"] == [before, before]  # nor does the next job
    assert torch.get_num_threads() == before
