"""The engine worker: one thread that owns the compute device and runs jobs in FIFO order.

A job runner is a generator function ``runner(spec, ctx)``: every ``yield Progress(...)`` is a
progress report and a cancel point, and its return value is the job's result. The worker turns
that into events (queued, started, progress, finished, failed, cancelled) delivered to a sink
callable, on the worker thread; the GUI's bridge (app/engine_client.py) moves them to the GUI
thread. No Qt here.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import logging
import queue
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
    JobProgress,
    JobQueued,
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


@dataclass
class _Job:
    """A queued or running job's cancel flag and whether the worker has started it."""

    flag: threading.Event = field(default_factory=threading.Event)
    started: bool = False


class Worker:
    """One thread, one FIFO queue, one job at a time.

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
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._started = False

    # -- lifetime ------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self, *, wait: bool = True, timeout_s: float | None = 30.0) -> None:
        """Cancel everything queued and running, then end the thread."""
        with self._lock:
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

    def submit(self, spec: JobSpec) -> int:
        if type(spec) not in self._runners:
            raise ValueError(f"no runner for job kind {type(spec).__name__}")
        job_id = next(self._ids)
        self._emit(JobQueued(job_id, spec))  # before the job can be cancelled or started
        with self._lock:
            self._jobs[job_id] = _Job()
        self._queue.put((job_id, spec))
        return job_id

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
            item = self._queue.get()
            if item is _STOP:
                break
            job_id, spec = item
            with self._lock:
                job = self._jobs.get(job_id)
                if job is None:  # cancelled while queued: already reported
                    continue
                job.started = True
            self._run_one(job_id, spec, job.flag)
        # Drain: everything still queued is cancelled, so no listener waits forever.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                with self._lock:
                    pending = self._jobs.pop(item[0], None)
                if pending is not None:
                    self._emit(JobCancelled(item[0]))

    def _finish(self, job_id: int, event: JobEvent) -> None:
        """Emit the job's terminal event: ``event``, or JobCancelled if a cancel got in first."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is not None and job.flag.is_set():
                event = JobCancelled(job_id)
        self._emit(event)

    def _run_one(self, job_id: int, spec: JobSpec, flag: threading.Event) -> None:
        if flag.is_set():
            self._finish(job_id, JobCancelled(job_id))
            return
        ctx = JobContext(job_id, self.store, self.pipelines, self.settings, flag)
        self._emit(JobStarted(job_id, spec))
        gen = None
        try:
            with cancel_scope(ctx.check_cancelled):
                gen = self._runner_for(spec)(spec, ctx)
                while True:
                    if flag.is_set():
                        raise JobCancelledError()
                    try:
                        progress = next(gen)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    if flag.is_set():
                        raise JobCancelledError()
                    self._emit(JobProgress(job_id, progress))
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
