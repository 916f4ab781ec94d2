"""The engine worker: one thread that owns the compute device and runs jobs in FIFO order.

A job runner is a generator function ``runner(spec, ctx)``: every ``yield Progress(...)`` is a
progress report and a cancel point, and its return value is the job's result. The worker turns
that into events (queued, started, progress, finished, failed, cancelled, paused, resumed)
delivered to a sink callable, on the worker thread; the GUI's bridge (app/engine_client.py) moves
them to the GUI thread. No Qt here.

Long jobs share the device: while a ``long_running`` job (training) runs, every one of its yields
is a point where the worker runs the short jobs queued meanwhile (generations, edits), each to
its end, before the long job's next step; other long jobs wait their turn. A long job can be
paused at such a point (:meth:`Worker.pause`: its generator, and so its loaded model, stays as it
is; queued short jobs still run) and resumed where it stopped (:meth:`Worker.resume`).

Thread settings stay with their job: torch's CPU thread count a job sets is put back to the
worker's own after every step and set again before that job's next one, so a training job's
``torch.set_num_threads`` never reaches a generation served between its steps or the next job.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import logging
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from engine.cancel import cancel_scope
from engine.specs import (
    JobCancelled,
    JobCancelledError,
    JobEvent,
    JobFailed,
    JobFinished,
    JobPaused,
    JobProgress,
    JobQueued,
    JobResumed,
    JobSpec,
    JobStarted,
    Progress,
)

log = logging.getLogger(__name__)

Runner = Callable[[JobSpec, "JobContext"], Generator[Progress, None, Any]]
EventSink = Callable[[JobEvent], None]


@dataclass
class JobContext:
    """What a running job may use: the model store and pipeline cache, settings, its cancel flag.

    Only the worker thread touches it. ``check_cancelled()`` raises :class:`JobCancelledError`;
    runners call it inside long loops that cannot yield (and diffusers step callbacks).
    """

    job_id: int
    store: Any  # engine.models.store.ModelStore
    pipelines: Any  # engine.models.loading.PipelineCache
    settings: Any  # engine.api.EngineSettings
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelledError()


def describe_error(exc: BaseException, settings: Any = None) -> str:
    """A one-line message for the user: what failed and, where we know, what to change.

    Out of memory names the device that ran out (a GPU's memory or the machine's RAM) and only the
    settings that lower the use of that memory: model CPU offload moves weights off a CUDA GPU, so
    it is offered only there.
    """
    if _is_out_of_memory(exc):
        device = _out_of_memory_device(exc, settings)
        offers = [("vae_tiling", "VAE tiling"), ("attention_slicing", "attention slicing")]
        if device == "cuda":
            offers.insert(0, ("cpu_offload", "model CPU offload"))
        hints = [f"turn on {label}" for attr, label in offers if not getattr(settings, attr, False)]
        hints += ["fewer variations", "a shorter duration"]
        what = {
            "cuda": "Out of GPU memory",
            "mps": "Out of GPU memory (Apple MPS, shared with the system)",
            "cpu": "Out of memory: the computer's RAM ran out (CPU)",
        }[device]
        wanted = _requested_bytes(str(exc))
        needed = f"; an allocation of {wanted / 1e9:.1f} GB failed" if wanted else ""
        if device == "cpu":
            hints.append("close other programs")
        return f"{what}{needed}; memory was freed. Try: " + "; ".join(hints) + "."
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if len(text) < 400 else text[:400] + "..."


def _out_of_memory_device(exc: BaseException, settings: Any) -> str:
    """``"cuda"``, ``"mps"`` or ``"cpu"``: where an out-of-memory error ran out."""
    text = str(exc).lower()
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError) or "cuda" in text:
            return "cuda"
    except Exception:  # pragma: no cover - torch always importable in the engine
        torch = None
    if "mps" in text:
        return "mps"
    if isinstance(exc, MemoryError) or "cpuallocator" in text or "can't allocate memory" in text:
        return "cpu"
    device = str(getattr(settings, "device", "") or "auto")
    if device == "auto" and torch is not None:
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    return "cuda" if device.startswith("cuda") else "mps" if device.startswith("mps") else "cpu"


def _requested_bytes(text: str) -> int | None:
    """The size of the failed allocation named in a torch OOM message, in bytes (None if absent)."""
    import re

    match = re.search(r"allocate ([0-9.]+) ?(bytes|[KMGT]i?B)", text, re.IGNORECASE)
    if match is None:
        return None
    unit = match.group(2).lower()
    scale = 1 if unit == "bytes" else (1024 if "i" in unit else 1000) ** ("kmgt".index(unit[0]) + 1)
    return int(float(match.group(1)) * scale)


def _is_out_of_memory(exc: BaseException) -> bool:
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except Exception:  # pragma: no cover - torch always importable in the engine
        pass
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(
        phrase in text for phrase in ("out of memory", "not enough memory", "can't allocate memory")
    )


def _free_device_memory(pipelines: Any) -> None:
    try:
        if pipelines is not None:
            pipelines.unload()
        if "engine.vocoders.factory" in sys.modules:  # a loaded neural vocoder holds memory too
            sys.modules["engine.vocoders.factory"].unload_vocoders()
    except Exception:  # freeing memory must never raise
        log.exception("unloading pipelines after OOM failed")
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:
        pass


_STOP = object()
#: Put on the queue to wake a paused long job's wait (resume, cancel); otherwise ignored.
_WAKE = object()


class _Call:
    """A function to run on the worker thread between jobs (:meth:`Worker.call`). ``done`` is set
    when it has run, or when the worker stopped before running it."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.fn()
        except Exception:
            log.exception("a call on the engine thread raised")
        finally:
            self.done.set()


@dataclass
class _Job:
    """A queued or running job's cancel flag, whether the worker has started it, and (long jobs)
    whether it is asked to pause."""

    flag: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    long_running: bool = False
    paused: threading.Event = field(default_factory=threading.Event)


class _Threads:
    """One job's torch CPU thread count, kept apart from the worker's (see the module docstring).

    ``enter()`` before each step sets the job's own count (when it set one), ``leave()`` after it
    remembers the count the job left and puts the worker's back. Without torch it does nothing.
    """

    def __init__(self) -> None:
        # An import statement, not sys.modules: while another thread (a model listing, the
        # warm-up) is still importing torch, sys.modules holds it half-initialised.
        self.torch = None
        try:
            import torch

            self.torch = torch
        except ImportError:  # pragma: no cover - the engine always has torch
            pass
        self.worker_count = self.torch.get_num_threads() if self.torch is not None else None
        self.job_count = self.worker_count

    def enter(self) -> None:
        if self.torch is not None and self.job_count != self.torch.get_num_threads():
            self.torch.set_num_threads(self.job_count)

    def leave(self) -> None:
        if self.torch is not None:
            self.job_count = self.torch.get_num_threads()
            if self.job_count != self.worker_count:
                self.torch.set_num_threads(self.worker_count)


class Worker:
    """One thread, one FIFO queue, one job at a time, but short jobs queued while a long one runs
    are served between its steps (see the module docstring).

    ``runners`` maps a spec class to a runner or to a ``"module:function"`` string imported lazily
    on the worker thread (so importing the engine stays cheap for the GUI).
    """

    def __init__(
        self,
        sink: EventSink,
        runners: dict[type, Runner | str],
        *,
        store: Any = None,
        pipelines: Any = None,
        settings: Any = None,
        name: str = "specdiff-engine",
    ) -> None:
        self._sink = sink
        self._runners = dict(runners)
        self.store = store
        self.pipelines = pipelines
        self.settings = settings
        self._queue: queue.Queue[Any] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # Jobs queued or running, by id, with their cancel flags. A job leaves this table exactly
        # when its terminal event is decided (under the lock), so a True from cancel() always
        # ends in JobCancelled and never in JobFinished.
        self._jobs: dict[int, _Job] = {}
        # Items taken off the queue while a long job ran that must wait for it to end (other long
        # jobs, the stop marker), oldest first; the loop takes them before the queue.
        self._deferred: list[Any] = []
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._started = False
        self._stopping = False

    # -- lifetime ------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self, *, wait: bool = True, timeout_s: float | None = 30.0) -> None:
        """Cancel everything queued and running, then end the thread."""
        with self._lock:
            self._stopping = True
            for job in self._jobs.values():
                job.flag.set()
            queued = [job_id for job_id, job in self._jobs.items() if not job.started]
            for job_id in queued:
                del self._jobs[job_id]
        for job_id in queued:
            self._emit(JobCancelled(job_id))
        self._queue.put(_STOP)
        if wait and self._started:
            self._thread.join(timeout_s)

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- jobs ----------------------------------------------------------------------------------

    def add_runner(self, spec_type: type, runner: Runner | str) -> None:
        """Run jobs of ``spec_type`` with ``runner`` from now on (unless it has one already)."""
        self._runners.setdefault(spec_type, runner)

    def call(self, fn: Callable[[], Any]) -> threading.Event:
        """Run ``fn()`` on the worker thread, after what is queued now and before any job queued
        later (a long job runs it at its next step); returns an event set once it has run (or
        the worker stopped first). Module imports go here: Python hands a thread a half-imported
        module when two threads import the same package at once."""
        call = _Call(fn)
        with self._lock:
            if self._stopping:
                call.done.set()
                return call.done
            self._queue.put(call)
        return call.done

    def submit(self, spec: JobSpec) -> int:
        if type(spec) not in self._runners:
            raise ValueError(f"no runner for job kind {type(spec).__name__}")
        job_id = next(self._ids)
        self._emit(JobQueued(job_id, spec))  # before the job can be cancelled or started
        with self._lock:
            self._jobs[job_id] = _Job(long_running=bool(getattr(spec, "long_running", False)))
        self._queue.put((job_id, spec))
        return job_id

    def pause(self, job_id: int) -> bool:
        """Ask a long-running job to pause at its next step boundary (queued: at its first).

        It keeps everything it holds (its loaded model), emits :class:`JobPaused`, and stays
        until :meth:`resume` or :meth:`cancel`; short jobs queued meanwhile still run. Returns
        False for unknown, finished or short jobs (a generation cannot pause), True otherwise.
        """
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.long_running or job.flag.is_set():
                return False
            job.paused.set()
        return True

    def resume(self, job_id: int) -> bool:
        """Let a paused long job go on from where it stopped; False if it is unknown or finished."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.long_running:
                return False
            job.paused.clear()
        self._queue.put(_WAKE)
        return True

    def is_paused(self, job_id: int) -> bool:
        """Whether ``job_id`` is asked to pause (and has not been resumed or cancelled)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job is not None and job.paused.is_set()

    def cancel(self, job_id: int) -> bool:
        """Ask a queued or running job to stop.

        A queued job is reported cancelled at once (on the calling thread) and never starts; a
        running one stops at its next cancel point (one denoising step, a few Griffin-Lim
        iterations) and reports :class:`JobCancelled`, never a result. Returns False when the
        job is unknown or its outcome was already decided.
        """
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return False
            job.flag.set()
            queued = not job.started
            if queued:
                del self._jobs[job_id]
        if queued:
            self._emit(JobCancelled(job_id))
        elif job.paused.is_set():
            self._queue.put(_WAKE)  # a paused job waits on the queue: wake it to end
        return True

    def _emit(self, event: JobEvent) -> None:
        try:
            self._sink(event)
        except Exception:  # a broken listener must not kill the worker
            log.exception("event sink raised for %r", event)

    def _runner_for(self, spec: JobSpec) -> Runner:
        runner = self._runners[type(spec)]
        if isinstance(runner, str):
            module_name, _, func_name = runner.partition(":")
            runner = getattr(importlib.import_module(module_name), func_name)
            self._runners[type(spec)] = runner
        return runner

    def _loop(self) -> None:
        while True:
            item = self._deferred.pop(0) if self._deferred else self._queue.get()
            if item is _STOP:
                break
            if isinstance(item, _Call):
                item.run()
            elif item is not _WAKE:
                self._start(item)
        # Drain: everything still queued is cancelled, so no listener waits forever.
        leftovers = list(self._deferred)
        self._deferred.clear()
        while True:
            try:
                leftovers.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for item in leftovers:
            if isinstance(item, _Call):
                item.done.set()
            elif item is not _STOP and item is not _WAKE:
                with self._lock:
                    pending = self._jobs.pop(item[0], None)
                if pending is not None:
                    self._emit(JobCancelled(item[0]))

    def _start(self, item: tuple[int, JobSpec]) -> None:
        """Run a queued job unless it was cancelled while queued (then it is already reported)."""
        job_id, spec = item
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job.started = True
        self._run_one(job_id, spec, job)

    def _between_steps(self, job_id: int, job: _Job) -> None:
        """At a long job's step boundary: run the short jobs queued meanwhile, and wait here while
        the job is paused (still serving short jobs). Returns when it may go on or was cancelled."""
        announced = False
        while not job.flag.is_set():
            paused = job.paused.is_set()
            if paused and not announced:
                self._emit(JobPaused(job_id))
                announced = True
            elif not paused and announced:
                self._emit(JobResumed(job_id))
                announced = False
            try:
                item = self._queue.get() if paused else self._queue.get_nowait()
            except queue.Empty:
                return
            if item is _WAKE:
                continue
            if isinstance(item, _Call):
                item.run()
                continue
            if item is _STOP or self._is_long(item):
                self._deferred.append(item)  # stop() has set every job's flag; long jobs wait
                continue
            self._start(item)

    def _is_long(self, item: tuple[int, JobSpec]) -> bool:
        with self._lock:
            job = self._jobs.get(item[0])
        return bool(job is not None and job.long_running)

    def _finish(self, job_id: int, event: JobEvent) -> None:
        """Emit the job's terminal event: ``event``, or JobCancelled if a cancel got in first."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is not None and job.flag.is_set():
                event = JobCancelled(job_id)
        self._emit(event)

    def _run_one(self, job_id: int, spec: JobSpec, job: _Job) -> None:
        flag = job.flag
        if flag.is_set():
            self._finish(job_id, JobCancelled(job_id))
            return
        ctx = JobContext(job_id, self.store, self.pipelines, self.settings, flag)
        self._emit(JobStarted(job_id, spec))
        gen = None
        threads = _Threads()
        try:
            while True:
                if flag.is_set():
                    raise JobCancelledError()
                threads.enter()
                try:
                    with cancel_scope(ctx.check_cancelled):
                        if gen is None:
                            gen = self._runner_for(spec)(spec, ctx)
                        progress = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                finally:
                    threads.leave()
                if flag.is_set():
                    raise JobCancelledError()
                self._emit(JobProgress(job_id, progress))
                if job.long_running:
                    self._between_steps(job_id, job)
        except JobCancelledError:
            self._close(gen)
            self._finish(job_id, JobCancelled(job_id))
        except BaseException as exc:  # noqa: BLE001 - the worker survives any failing job
            self._close(gen)
            if _is_out_of_memory(exc):
                _free_device_memory(self.pipelines)
            else:
                log.error("job %d (%s) failed:\n%s", job_id, spec.kind, traceback.format_exc())
            self._finish(job_id, JobFailed(job_id, describe_error(exc, self.settings), type(exc).__name__))
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            self._finish(job_id, JobFinished(job_id, result))

    @staticmethod
    def _close(gen: Any) -> None:
        if gen is not None:
            try:
                gen.close()
            except Exception:
                log.exception("closing a job generator raised")
