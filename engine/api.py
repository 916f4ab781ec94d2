"""The engine's one door for the desktop app and the CLI.

    engine = Engine(EngineSettings(device="auto"), on_event=print)
    job_id = engine.submit(GenerateJob("warm analog synth pad", seed=42))
    ...
    engine.cancel(job_id)
    engine.shutdown()

Events arrive on the engine's worker thread; the GUI moves them to its own thread in
``app/engine_client.py``. ``Engine.run(spec)`` is the blocking form used by the CLI and tests.
Heavy modules (torch, diffusers) load lazily on the worker, so importing this module is cheap.

The jobs the engine runs are its tasks (:mod:`engine.tasks`): their spec classes are attributes
of this module by class name (``from engine.api import InpaintJob``), built from the task registry
like the worker's runners, and :func:`spec_from_recipe` turns any task's recipe back into its job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from engine.audio.params import PRESETS, SpectrogramParams, SpectrogramParamsError, get_preset  # torch-free
from engine.audio.mel_scale import mel_bin_frequencies  # numpy only: where each image row sits in Hz
from engine.pipelines.landing import working_length  # numpy only: the working copy's length at the model's rate
from engine.models.policy import LoadPolicy  # torch-free: the device / precision rules
from engine.recipes import MissingInputError, Recipe
from engine.specs import (  # re-exported: the app and the CLI import these from here
    DEFAULT_SCHEDULER,
    SCHEDULER_NAMES,
    STAGES,
    AudioInput,
    AudioInputJob,
    EditJob,
    GenerationJob,
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
    RegionEditJob,
    TaskResult,
    TrainingJob,
    WindowedJob,
)
from engine.tasks import Needs, Task, registry
from engine.vocoders import DEFAULT_VOCODER, VOCODERS, VocoderEntry, check_vocoder_name, vocoder_names  # torch-free
from engine.worker import Worker

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SCHEDULER",
    "DEFAULT_VOCODER",
    "PRESETS",
    "SCHEDULER_NAMES",
    "STAGES",
    "AudioInput",
    "AudioInputJob",
    "EditJob",
    "Engine",
    "EngineSettings",
    "GenerationJob",
    "JobCancelled",
    "JobCancelledError",
    "JobEvent",
    "JobFailed",
    "JobFailedError",
    "JobFinished",
    "JobPaused",
    "JobProgress",
    "JobQueued",
    "JobResumed",
    "JobSpec",
    "JobStarted",
    "MissingInputError",
    "Needs",
    "Progress",
    "Recipe",
    "RegionEditJob",
    "SpectrogramParams",
    "SpectrogramParamsError",
    "Task",
    "TaskResult",
    "TrainingJob",
    "VOCODERS",
    "VocoderEntry",
    "WindowedJob",
    "audio_from_mel",
    "check_vocoder_name",
    "get_preset",
    "image_from_audio",
    "check_audio_for_image",
    "export_spectrogram_png",
    "mel_bin_frequencies",
    "mel_from_audio",
    "mel_from_image",
    "register_runner",
    "save_spectrogram_image",
    "spec_from_recipe",
    "task",
    "tasks",
    "vocoder_names",
    "working_length",
]


def __getattr__(name: str) -> Any:
    """Every task's spec class by its class name (``InpaintJob``, ``GenerateJob``, ...)."""
    spec = registry().spec_classes().get(name)
    if spec is None:
        raise AttributeError(f"module 'engine.api' has no attribute {name!r}")
    return spec


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(registry().spec_classes()))


def tasks() -> list[Task]:
    """The tasks this engine runs (built-in ones first, then plugins), see :mod:`engine.tasks`."""
    return list(registry())


def task(name: str) -> Task:
    """The task called ``name`` (or formerly so: ``text_to_audio`` is ``generate``).

    Raises ValueError naming the known tasks.
    """
    return registry().get(name)


def spec_from_recipe(
    recipe: Recipe, inputs: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
) -> JobSpec:
    """The job that makes ``recipe``'s result again, bit-identically on the same device and dtype.

    ``inputs`` gives the task's inputs by name: ``{"audio": AudioInput(samples, rate)}`` (or a
    ``(samples, rate)`` pair) for the tasks that edit a clip; each is checked against the
    fingerprint in ``recipe.inputs``. ``overrides`` sets run-only fields recipes do not keep
    (where a training job writes, ``preview_every``). A job that made several results
    (variations) is rebuilt to make this one only.

    Raises:
        MissingInputError: the task needs an input that was not given (a ValueError).
        ValueError: an unknown task, an input that is not the one the recipe was made from,
            a recipe from a newer version, or one this version cannot reproduce.
    """
    return registry().get(recipe.task).spec_from_recipe(recipe, inputs, overrides)


def _spectrogram_function(name: str) -> Callable[..., Any]:
    """``engine.audio.spectrogram.<name>``, imported when first called: it imports torch, so the
    app calls it on helper threads only."""

    def call(*args: Any, **kwargs: Any) -> Any:
        from engine.audio import spectrogram

        return getattr(spectrogram, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``engine.audio.spectrogram.{name}`` (imports torch: call it off the GUI thread)."
    return call


mel_from_audio = _spectrogram_function("mel_from_audio")
mel_from_image = _spectrogram_function("mel_from_image")
audio_from_mel = _spectrogram_function("audio_from_mel")
image_from_audio = _spectrogram_function("image_from_audio")
check_audio_for_image = _spectrogram_function("check_audio_for_image")
save_spectrogram_image = _spectrogram_function("save_spectrogram_image")


def export_spectrogram_png(read: Callable[[int, int], Any], frames: int, sample_rate_hz: int, params: Any,
                           path: Any) -> int:
    """``engine.audio.spectrogram_png.export_spectrogram_png``: a spectrogram PNG written in chunks
    from ``read(lo, hi)`` (memory of one chunk and one row; refused first if too large). Imports
    torch: call it off the GUI thread."""
    from engine.audio.spectrogram_png import export_spectrogram_png as export

    return export(read, frames, sample_rate_hz, params, path)


@dataclass(frozen=True)
class EngineSettings(LoadPolicy):
    """How the engine loads and runs models: a :class:`LoadPolicy` (device, precision, memory
    savers; its rules check them) plus where models come from. Changing settings means a new Engine."""

    cache_dir: str | None = None
    offline: bool = False
    token: str | None = None
    allow_pickle: bool = False
    max_loaded_models: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()  # LoadPolicy owns the device / precision rules (a ValueError says what)
        if self.max_loaded_models < 1:
            raise ValueError("`max_loaded_models` must be at least 1.")

    def load_policy(self) -> LoadPolicy:
        return LoadPolicy(**{f.name: getattr(self, f.name) for f in fields(LoadPolicy)})

    def with_changes(self, **changes: Any) -> EngineSettings:
        return replace(self, **changes)


#: Runners added by :func:`register_runner` (jobs that are not tasks: tests, tools).
_EXTRA_RUNNERS: dict[type, Any] = {}


def register_runner(spec_type: type, runner: Any) -> None:
    """Run jobs of ``spec_type`` with ``runner`` (a generator function or "module:function") without
    declaring a task: no CLI command, no recipes. Tasks are declared in task modules instead."""
    _EXTRA_RUNNERS[spec_type] = runner


def _runners() -> dict[type, Any]:
    """Spec class -> runner: every task's, then the registered ones."""
    return {**{t.spec: t.run for t in registry()}, **_EXTRA_RUNNERS}


class Engine:
    """Owns the worker thread, the model store and the loaded-pipeline cache.

    ``on_event`` (and listeners added later) are called on the worker thread with every
    :class:`JobEvent`; they must return quickly. A listener that raises is logged and the others
    still get the event.
    """

    def __init__(
        self,
        settings: EngineSettings | None = None,
        on_event: Callable[[JobEvent], None] | None = None,
        *,
        store: Any = None,
        start: bool = True,
    ) -> None:
        from engine.models.store import ModelStore

        self.settings = settings or EngineSettings()
        self.store = store or ModelStore(
            self.settings.cache_dir,
            offline=self.settings.offline,
            token=self.settings.token,
            allow_pickle=self.settings.allow_pickle,
        )
        self.pipelines = _LazyPipelineCache(self.store, self.settings.max_loaded_models)
        self._listeners: list[Callable[[JobEvent], None]] = []
        self._listeners_lock = threading.Lock()
        if on_event is not None:
            self._listeners.append(on_event)
        self._worker = Worker(
            self._dispatch,
            _runners(),
            store=self.store,
            pipelines=self.pipelines,
            settings=self.settings,
        )
        if start:
            self._worker.start()

    # -- events --------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[JobEvent], None]) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[JobEvent], None]) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _dispatch(self, event: JobEvent) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # one broken listener must not starve the others (or Engine.run)
                log.exception("engine event listener %r raised for %r", listener, event)

    # -- jobs ----------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> int:
        """Queue a job; returns its id. Raises ValueError for a spec kind with no runner."""
        runner = _EXTRA_RUNNERS.get(type(spec))
        if runner is not None:  # registered after this engine was made
            self._worker.add_runner(type(spec), runner)
        return self._worker.submit(spec)

    def run_on_worker(self, fn: Callable[[], Any]) -> threading.Event:
        """Run ``fn()`` on the engine's worker thread between jobs (before any job submitted
        later); the returned event is set when it has run or the engine stopped first. For
        importing heavy modules ahead of the first job without racing the jobs' own imports."""
        return self._worker.call(fn)

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job: it stops within one denoising step."""
        return self._worker.cancel(job_id)

    def pause(self, job_id: int) -> bool:
        """Pause a long-running job (training) at its next step, its model kept loaded; jobs
        submitted meanwhile still run. False for short jobs (they cannot pause) and unknown ones."""
        return self._worker.pause(job_id)

    def resume(self, job_id: int) -> bool:
        """Let a paused job go on from where it stopped."""
        return self._worker.resume(job_id)

    def run(
        self,
        spec: JobSpec,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """Submit ``spec`` and block until it ends; return its result.

        Raises :class:`JobCancelledError` if it was cancelled and ``RuntimeError`` with the
        user-facing message if it failed (the original exception type is in the message's
        ``error_type`` attribute).
        """
        cond = threading.Condition()
        terminal: dict[int, JobEvent] = {}
        early: dict[int, list[Progress]] = {}
        mine: dict[str, int] = {}

        def listen(event: JobEvent) -> None:
            with cond:
                job_id = mine.get("id")
                if isinstance(event, (JobFinished, JobFailed, JobCancelled)):
                    terminal[event.job_id] = event
                    cond.notify_all()
                elif isinstance(event, JobProgress) and on_progress is not None:
                    if job_id is None:  # the worker raced ahead of submit() returning
                        early.setdefault(event.job_id, []).append(event.progress)
                        return
                    if event.job_id != job_id:
                        return
            if isinstance(event, JobProgress) and on_progress is not None:
                on_progress(event.progress)

        self.add_listener(listen)
        try:
            job_id = self.submit(spec)
            with cond:
                mine["id"] = job_id
                backlog = early.pop(job_id, [])
            for progress in backlog:
                on_progress(progress)  # type: ignore[misc]
            with cond:
                if not cond.wait_for(lambda: job_id in terminal, timeout_s):
                    self.cancel(job_id)
                    raise TimeoutError(f"{spec.describe()} did not finish within {timeout_s} s")
                event = terminal[job_id]
        finally:
            self.remove_listener(listen)
        if isinstance(event, JobFinished):
            return event.result
        if isinstance(event, JobCancelled):
            raise JobCancelledError()
        assert isinstance(event, JobFailed)
        error = JobFailedError(event.message)
        error.error_type = event.error_type
        raise error

    def shutdown(self, *, wait: bool = True) -> None:
        """Cancel all jobs, stop the worker thread and free loaded models."""
        self._worker.stop(wait=wait)
        try:
            self.pipelines.unload()
        except Exception:
            pass

    @property
    def is_running(self) -> bool:
        return self._worker.is_alive

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class _LazyPipelineCache:
    """A PipelineCache built on first use, on the worker thread: constructing an Engine on the GUI
    thread must not import torch (seconds of stall at start-up)."""

    def __init__(self, store: Any, max_loaded: int) -> None:
        self._store = store
        self._max_loaded = max_loaded
        self._cache: Any = None
        self._lock = threading.Lock()

    def _real(self) -> Any:
        with self._lock:
            if self._cache is None:
                from engine.models.loading import PipelineCache

                self._cache = PipelineCache(self._store, max_loaded=self._max_loaded)
            return self._cache

    def unload(self, model_id: str | None = None) -> int:
        if self._cache is None:  # nothing was ever loaded: nothing to free, nothing to import
            return 0
        return self._cache.unload(model_id)

    def loaded(self) -> list[str]:
        return [] if self._cache is None else self._cache.loaded()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


class JobFailedError(RuntimeError):
    """A job failed; ``str()`` is the user-facing message, ``error_type`` the original type."""

    error_type: str = "Exception"


def default_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)
