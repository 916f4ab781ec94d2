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
    """A one-line message for the user: what failed and, where we know, what to change."""
    if _is_out_of_memory(exc):
        hints = [
            f"turn on {label}"
            for attr, label in (
                ("cpu_offload", "model CPU offload"),
                ("vae_tiling", "VAE tiling"),
                ("attention_slicing", "attention slicing"),
            )
            if not getattr(settings, attr, False)
        ]
        hints += ["fewer variations", "a shorter duration"]
        return "Out of GPU memory (memory was freed). Try: " + "; ".join(hints) + "."
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if len(text) < 400 else text[:400] + "..."


def _is_out_of_memory(exc: BaseException) -> bool:
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except Exception:  # pragma: no cover - torch always importable in the engine
        pass
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


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
        self._cancel_flags: dict[int, threading.Event] = {}
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
            for flag in self._cancel_flags.values():
                flag.set()
        self._queue.put(_STOP)
        if wait and self._started:
            self._thread.join(timeout_s)

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- jobs ----------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> int:
        if type(spec) not in self._runners:
            raise ValueError(f"no runner for job kind {type(spec).__name__}")
        job_id = next(self._ids)
        with self._lock:
            self._cancel_flags[job_id] = threading.Event()
        self._emit(JobQueued(job_id, spec))
        self._queue.put((job_id, spec))
        return job_id

    def cancel(self, job_id: int) -> bool:
        """Ask a queued or running job to stop; it stops at its next cancel point (one step)."""
        with self._lock:
            flag = self._cancel_flags.get(job_id)
        if flag is None:
            return False
        flag.set()
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
                flag = self._cancel_flags[job_id]
            try:
                self._run_one(job_id, spec, flag)
            finally:
                with self._lock:
                    self._cancel_flags.pop(job_id, None)
        # Drain: everything still queued is cancelled, so no listener waits forever.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                self._emit(JobCancelled(item[0]))

    def _run_one(self, job_id: int, spec: JobSpec, flag: threading.Event) -> None:
        if flag.is_set():
            self._emit(JobCancelled(job_id))
            return
        ctx = JobContext(job_id, self.store, self.pipelines, self.settings, flag)
        self._emit(JobStarted(job_id, spec))
        gen = None
        try:
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
            self._emit(JobCancelled(job_id))
        except BaseException as exc:  # noqa: BLE001 - the worker survives any failing job
            self._close(gen)
            if _is_out_of_memory(exc):
                _free_device_memory(self.pipelines)
            else:
                log.error("job %d (%s) failed:\n%s", job_id, spec.kind, traceback.format_exc())
            self._emit(JobFailed(job_id, describe_error(exc, self.settings), type(exc).__name__))
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            self._emit(JobFinished(job_id, result))

    @staticmethod
    def _close(gen: Any) -> None:
        if gen is not None:
            try:
                gen.close()
            except Exception:
                log.exception("closing a job generator raised")
