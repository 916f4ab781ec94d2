"""The one Qt bridge to the engine: submit and cancel jobs; engine events become Qt signals.

:meth:`EngineClient.submit` returns a :class:`JobHandle`: the job's own signals (started,
progressed, finished, failed, cancelled) and ``cancel()``, so whoever submitted a job listens to
that job only. The client's ``job_*`` signals still announce every job (the Jobs panel).

The engine calls its listeners on its worker thread. :class:`EngineClient` re-emits each event
through a private signal connected with ``Qt.QueuedConnection``, so every public signal is
emitted on the GUI thread (the thread the client lives in). Nothing else in the app crosses
threads for engine work (napari's ``ensure_main_thread`` idea, at one place).

Slow store queries (listing a large hub cache, deleting a model) run on short-lived Python
threads named ``specdiff-*`` whose results come back the same way.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from engine.api import (
    Engine,
    EngineSettings,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobPaused,
    JobProgress,
    JobQueued,
    JobResumed,
    JobSpec,
    JobStarted,
)

log = logging.getLogger(__name__)

#: Threads started here are named with this prefix (tests check none is left running).
THREAD_PREFIX = "specdiff-"
#: What the first generation would otherwise import on the worker (seconds of module code).
WARM_UP_MODULES = (
    "engine.pipelines.generate",
    "engine.audio.inversion",
    "engine.models.loading",
    "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion",
    "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_inpaint",
    "transformers.models.clip.modeling_clip",
)


@dataclass(frozen=True)
class ModelEntry:
    """One model the user can pick: from the catalog, the hub cache or a local folder.

    ``model_id`` is what goes into a job spec (a repo id or an absolute folder path);
    ``size_bytes`` is on disk when downloaded, else the catalog's approximate download size.
    """

    model_id: str
    label: str
    source: str  # "bundled" (the starter model), "catalog", "cached" or "local"
    downloaded: bool
    size_bytes: int | None = None
    description: str = ""
    tasks: tuple[str, ...] = ()
    is_pipeline: bool = True
    revisions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelListing:
    """What :func:`list_models` found, and the engine's default model on this machine."""

    entries: tuple[ModelEntry, ...]
    default_model: str

    def find(self, model_id: str) -> ModelEntry | None:
        return next((e for e in self.entries if e.model_id == model_id), None)


def folder_size_bytes(folder: Path) -> int:
    """Bytes of all files below ``folder`` (symlinks not followed)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            pass
    return total


def list_models(store: Any, local_folders: list[str] | tuple[str, ...] = ()) -> ModelListing:
    """Catalog models (marked downloaded or not), other cached pipelines, and local folders.

    Touches only the disk (the hub cache scan); never the network. Slow for a big cache: call it
    off the GUI thread (:meth:`EngineClient.request_models`).
    """
    from engine.models.catalog import (
        CATALOG,
        STARTER2_MODEL_ID,
        STARTER_MODEL_ID,
        builtin_model_dir,
        default_model,
        model_hints,
        shipped_model_ids,
    )

    cached = {m.model_id: m for m in store.list_cached()}
    entries: list[ModelEntry] = []
    seen: set[str] = set()
    # The shipped sound models (starter model 2, the offline default, first; then the first
    # starter ...): every builtin folder whose card marks it a starter; the shipped upsampler and
    # picture model are not listed here.
    for model_id in sorted(shipped_model_ids(), key=lambda m: (m != STARTER2_MODEL_ID, m != STARTER_MODEL_ID, m)):
        hints = model_hints(model_id)
        if hints is None or not hints.starter:
            continue
        entries.append(
            ModelEntry(
                model_id=model_id,
                label=hints.title,
                source="bundled",
                downloaded=True,
                size_bytes=folder_size_bytes(builtin_model_dir(model_id)),
                description=hints.description,
                tasks=("generate", "vary", "inpaint", "extend"),
            )
        )
        seen.add(model_id)
    for item in CATALOG:
        hit = cached.get(item.model_id)
        entries.append(
            ModelEntry(
                model_id=item.model_id,
                label=item.title,
                source="catalog",
                downloaded=hit is not None and store.is_downloaded(item.model_id),
                size_bytes=hit.size_bytes if hit else item.approx_size_bytes,
                description=" ".join(x for x in (item.description, item.notes) if x),
                tasks=item.tasks,
                revisions=hit.revisions if hit else (),
            )
        )
        seen.add(item.model_id)
    for model_id, hit in cached.items():
        if model_id in seen:
            continue
        entries.append(
            ModelEntry(
                model_id=model_id,
                label=model_id,
                source="cached",
                downloaded=True,
                size_bytes=hit.size_bytes,
                description="" if hit.is_pipeline else "Not a diffusers pipeline (another tool's model).",
                is_pipeline=hit.is_pipeline,
                revisions=hit.revisions,
            )
        )
        seen.add(model_id)
    for folder in local_folders:
        path = Path(folder).expanduser()
        if str(path) in seen:
            continue
        exists = (path / "model_index.json").is_file()
        entries.append(
            ModelEntry(
                model_id=str(path),
                label=path.name or str(path),
                source="local",
                downloaded=exists,
                size_bytes=folder_size_bytes(path) if exists else None,
                description=str(path) if exists else f"Missing or not a diffusers folder: {path}",
                is_pipeline=exists,
            )
        )
        seen.add(str(path))
    return ModelListing(tuple(entries), default_model(store))


class JobHandle(QObject):
    """One submitted job, as :meth:`EngineClient.submit` returns it.

    Signals (on the GUI thread, each at most once except ``progressed``): ``started(spec)``,
    ``progressed(Progress)``, ``finished(result)``, ``failed(message, error_type)``,
    ``cancelled()``, ``paused()`` / ``resumed()`` (a long job, see :meth:`EngineClient.pause`).
    ``state`` is "queued", "running", "paused", "finished", "failed" or "cancelled";
    ``result`` / ``error`` hold the outcome once it is known.
    """

    started = Signal(object)
    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    paused = Signal()
    resumed = Signal()

    def __init__(self, client: EngineClient, job_id: int, spec: JobSpec) -> None:
        super().__init__()
        self._client = client
        self.job_id = job_id
        self.spec = spec
        self.state = "queued"
        self.result: Any = None
        self.error: tuple[str, str] | None = None

    @property
    def is_done(self) -> bool:
        return self.state in ("finished", "failed", "cancelled")

    def cancel(self) -> bool:
        """Ask the job to stop (within one denoising step); False when it already ended."""
        return not self.is_done and self._client.cancel(self.job_id)

    def _deliver(self, event: JobEvent) -> None:
        if isinstance(event, JobStarted):
            self.state = "running"
            self.started.emit(event.spec)
        elif isinstance(event, JobProgress):
            self.progressed.emit(event.progress)
        elif isinstance(event, JobPaused):
            self.state = "paused"
            self.paused.emit()
        elif isinstance(event, JobResumed):
            self.state = "running"
            self.resumed.emit()
        elif isinstance(event, JobFinished):
            self.state, self.result = "finished", event.result
            self.finished.emit(event.result)
        elif isinstance(event, JobFailed):
            self.state, self.error = "failed", (event.message, event.error_type)
            self.failed.emit(event.message, event.error_type)
        elif isinstance(event, JobCancelled):
            self.state = "cancelled"
            self.cancelled.emit()

    def __repr__(self) -> str:
        return f"<JobHandle {self.job_id} {self.spec.kind} {self.state}>"


class EngineClient(QObject):
    """Owns an :class:`engine.api.Engine`; its events arrive as signals on the GUI thread.

    :meth:`submit` returns a :class:`JobHandle` with the job's own signals. The client's
    signals announce every job: ``job_queued(id, spec)``, ``job_started(id, spec)``, ``job_progressed(id, Progress)``,
    ``job_finished(id, result)``, ``job_failed(id, message, error_type)``, ``job_cancelled(id)``,
    ``job_paused(id)``, ``job_resumed(id)``,
    ``busy_changed(bool)``, ``engine_restarted(EngineSettings)``, ``models_listed(ModelListing)``,
    ``task_failed(what, message)`` (a background store task failed), ``model_deleted(model_id, bytes)``.
    """

    job_queued = Signal(int, object)
    job_started = Signal(int, object)
    job_progressed = Signal(int, object)
    job_finished = Signal(int, object)
    job_failed = Signal(int, str, str)
    job_cancelled = Signal(int)
    job_paused = Signal(int)
    job_resumed = Signal(int)
    busy_changed = Signal(bool)
    engine_restarted = Signal(object)
    models_listed = Signal(object)
    model_deleted = Signal(str, object)
    task_failed = Signal(str, str)
    warmed_up = Signal(float)

    # Emitted from other threads; delivered queued to the GUI thread.
    _event_arrived = Signal(object)
    _call_arrived = Signal(object)

    def __init__(self, settings: EngineSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._event_arrived.connect(self._on_engine_event, Qt.ConnectionType.QueuedConnection)
        self._call_arrived.connect(self._on_call, Qt.ConnectionType.QueuedConnection)
        self._jobs: dict[int, JobSpec] = {}
        self._handles: dict[int, JobHandle] = {}
        self._running: int | None = None
        self._pending_settings: EngineSettings | None = None
        self._threads: list[threading.Thread] = []
        self._engine: Engine | None = None
        self._engine = Engine(settings or EngineSettings(), on_event=self._event_arrived.emit)
        self.is_warm = False

    # -- state -----------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the engine has been shut down")
        return self._engine

    @property
    def settings(self) -> EngineSettings:
        return self.engine.settings

    @property
    def store(self) -> Any:
        return self.engine.store

    @property
    def is_busy(self) -> bool:
        """True while any job is queued or running."""
        return bool(self._jobs)

    def jobs(self) -> dict[int, JobSpec]:
        """Queued and running jobs by id."""
        return dict(self._jobs)

    @property
    def running_job(self) -> int | None:
        return self._running

    # -- jobs ------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> JobHandle:
        """Queue a job on the engine; returns its :class:`JobHandle` (connect to its signals
        now: the first event arrives on a later turn of the event loop)."""
        was_busy = self.is_busy
        job_id = self.engine.submit(spec)
        self._jobs[job_id] = spec
        handle = self._handles[job_id] = JobHandle(self, job_id, spec)
        if not was_busy:
            self.busy_changed.emit(True)
        return handle

    def handle(self, job_id: int) -> JobHandle | None:
        """The handle of a queued or running job."""
        return self._handles.get(job_id)

    def cancel(self, job_id: int) -> bool:
        """Ask a queued or running job to stop (within one denoising step)."""
        if self._engine is None:
            return False
        return self._engine.cancel(job_id)

    def pause(self, job_id: int) -> bool:
        """Pause a long-running job (training) at its next step, its model kept loaded; jobs
        submitted meanwhile still run. False for short jobs and unknown ones."""
        return self._engine is not None and self._engine.pause(job_id)

    def resume(self, job_id: int) -> bool:
        """Let a paused job go on from where it stopped."""
        return self._engine is not None and self._engine.resume(job_id)

    def cancel_all(self) -> None:
        for job_id in list(self._jobs):
            self.cancel(job_id)

    def _on_engine_event(self, event: JobEvent) -> None:
        job_id = event.job_id
        handle = self._handles.get(job_id)
        if handle is not None:  # the submitter hears its job first, then every listener
            if isinstance(event, (JobFinished, JobFailed, JobCancelled)):
                del self._handles[job_id]
            handle._deliver(event)
        if isinstance(event, JobQueued):
            self.job_queued.emit(job_id, event.spec)
        elif isinstance(event, JobStarted):
            self._running = job_id
            self.job_started.emit(job_id, event.spec)
        elif isinstance(event, JobProgress):
            self.job_progressed.emit(job_id, event.progress)
        elif isinstance(event, JobPaused):
            self.job_paused.emit(job_id)
        elif isinstance(event, JobResumed):
            self.job_resumed.emit(job_id)
        else:
            self._jobs.pop(job_id, None)
            if self._running == job_id:
                self._running = None
            if isinstance(event, JobFinished):
                self.job_finished.emit(job_id, event.result)
            elif isinstance(event, JobFailed):
                self.job_failed.emit(job_id, event.message, event.error_type)
            elif isinstance(event, JobCancelled):
                self.job_cancelled.emit(job_id)
            if not self._jobs:
                self.busy_changed.emit(False)
                if self._pending_settings is not None:
                    settings, self._pending_settings = self._pending_settings, None
                    self.restart(settings)

    # -- lifetime --------------------------------------------------------------------------

    def restart(self, settings: EngineSettings) -> bool:
        """Use new engine settings: a new Engine replaces the old one.

        When idle this happens now (returns True, engine_restarted emitted). While jobs are queued
        or running it happens when the last one ends (returns False). The old worker thread is
        joined, so no thread is left behind.
        """
        if not isinstance(settings, EngineSettings):
            raise TypeError(f"restart expects EngineSettings, got {type(settings).__name__}")
        if self.is_busy:
            self._pending_settings = settings
            return False
        old, self._engine = self._engine, None
        if old is not None:
            old.shutdown(wait=True)
        self._engine = Engine(settings, on_event=self._event_arrived.emit)
        self.engine_restarted.emit(settings)
        return True

    @property
    def restart_pending(self) -> bool:
        return self._pending_settings is not None

    def shutdown(self, *, wait_for_all: bool = True) -> None:
        """Cancel every job, stop the worker thread and wait for it and the background tasks
        (only the essential ones when ``wait_for_all`` is False: quitting need not wait for
        the warm-up's imports)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown(wait=True)
        for thread in self._threads:
            if wait_for_all or getattr(thread, "essential", True):
                thread.join(timeout=30)
        self._threads.clear()
        self._jobs.clear()
        self._handles.clear()
        self._running = None

    @property
    def is_shut_down(self) -> bool:
        return self._engine is None

    # -- store tasks off the GUI thread --------------------------------------------------------

    def run_in_thread(
        self,
        name: str,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        *,
        essential: bool = True,
    ) -> threading.Thread:
        """Run ``work()`` on a new thread ``specdiff-<name>``; ``on_done(result)`` (or
        ``on_error(exc)``) is then called on the GUI thread. :meth:`shutdown` waits for
        essential threads (saving a file); others (the warm-up) are left to end with the process."""

        def target() -> None:
            try:
                result = work()
            except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
                log.exception("%s failed", name)
                handler = on_error or self._report(name)
                self._call_arrived.emit(lambda error=exc: handler(error))  # `exc` is unbound after except
            else:
                self._call_arrived.emit(lambda: on_done(result))

        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, name=THREAD_PREFIX + name, daemon=True)
        thread.essential = essential  # type: ignore[attr-defined]
        self._threads.append(thread)
        thread.start()
        return thread

    def _report(self, what: str) -> Callable[[BaseException], None]:
        return lambda exc: self.task_failed.emit(what, str(exc) or type(exc).__name__)

    def _on_call(self, fn: Callable[[], None]) -> None:
        fn()

    def request_models(self, local_folders: list[str] | tuple[str, ...] = ()) -> None:
        """List catalog, cached and local models off the GUI thread; models_listed follows."""
        store = self.store
        folders = tuple(local_folders)
        self.run_in_thread("models", lambda: list_models(store, folders), self.models_listed.emit)

    def delete_model(self, model_id: str, revision: str | None = None) -> None:
        """Delete a cached model off the GUI thread; model_deleted(model_id, bytes_freed) follows
        (task_failed on error)."""
        store = self.store
        self.run_in_thread(
            "delete-model",
            lambda: store.delete(model_id, revision),
            lambda freed: self.model_deleted.emit(model_id, freed),
        )

    def warm_up(self) -> None:
        """Import the engine's heavy modules (diffusers, transformers) off the GUI thread now,
        then freeze the garbage collector's view of them; warmed_up(seconds) follows.

        Why: a full garbage collection walks every live object while holding the GIL. With torch,
        transformers and diffusers loaded that takes hundreds of milliseconds, and the GUI thread
        cannot run meanwhile. ``gc.freeze()`` moves the objects alive after start-up out of the
        collector's sight, so later collections (during generations) stay short. The imports
        themselves happen at start-up instead of inside the first generation.
        """
        gc.freeze()  # what is loaded so far (Qt, numpy, torch via the engine)
        # Module code makes almost no cyclic garbage: no collections while importing, so the
        # imports cannot stall the GUI either. Re-enabled when the warm-up ends, however it ends.
        gc.disable()
        started = time.perf_counter()

        def imports() -> None:
            for name in WARM_UP_MODULES:
                try:
                    importlib.import_module(name)
                except ImportError as exc:  # a missing optional piece must not stop the app
                    log.warning("warm-up could not import %s: %s", name, exc)

        engine = self.engine

        def work() -> None:
            # On the engine's own thread, ahead of any job: a first Generate pressed while these
            # imports ran on another thread got half-imported modules ("cannot import name
            # 'CLIPImageProcessor' from 'transformers'") and failed. This thread only waits.
            engine.run_on_worker(imports).wait()

        def done(_: object) -> None:
            gc.freeze()
            gc.enable()
            self.is_warm = True
            self.warmed_up.emit(time.perf_counter() - started)

        def failed(exc: BaseException) -> None:
            gc.enable()
            self.task_failed.emit("warm-up", str(exc))

        self.run_in_thread("warmup", work, done, failed, essential=False)

    def wait_for_tasks(self, timeout_s: float = 30.0) -> None:
        """Join the background store threads (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout_s)
