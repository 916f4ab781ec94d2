"""Tasks: everything the engine does for a user, one module each, and the registry built from them.

A task module (``engine/tasks/inpaint.py``, or any module a plugin names) declares its spec class
and one :class:`Task` object named ``TASK``::

    TASK = Task(
        name="loop",                      # the one name: CLI command, recipe "task", spec kind
        spec=LoopJob,                     # its immutable, checked spec (engine.specs bases)
        run=run,                          # generator (spec, ctx) -> results, imports torch inside
        title="Make loop",
        summary="make a clip (or a range) loop seamlessly",
        needs=Needs(model="sd", audio=True, region=True, prompt=True),
        add_arguments=add_arguments,      # its CLI subcommand: arguments,
        spec_from_args=spec_from_args,    # the spec from them,
    )                                     # write_results: how results are written (default: audio)

Importing a task module must not import torch: the runner imports its pipeline when it runs, on
the worker. Recipes map back to specs through the spec class (:meth:`JobSpec.from_recipe`).

The registry (:func:`registry`) is built from the list of task modules: every module of this
package whose name does not start with ``_`` (found with pkgutil), then the modules named in the
environment variable ``SPECDIFF_TASK_MODULES`` (comma-separated import paths), then those of the
entry-point group ``specdiff_studio.tasks`` (plugins; an entry point names a module or its
``TASK``). Everything else is built from it: the worker's runner table, ``engine.api``'s spec
classes and :func:`engine.api.spec_from_recipe`, the CLI's subcommands. A plugin that fails to
load or clashes with a known name is skipped and logged (``TaskRegistry.errors``); a built-in
that fails is a bug and raises.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from engine.specs import JobSpec

log = logging.getLogger(__name__)

#: Extra task modules to load: comma-separated import paths.
MODULES_ENV = "SPECDIFF_TASK_MODULES"
#: Entry-point group of task plugins: each entry point names a task module or its TASK.
ENTRY_POINT_GROUP = "specdiff_studio.tasks"
#: Task names: lower case words joined by hyphens or underscores ("generate", "train-lora").
_NAME = re.compile(r"^[a-z][a-z0-9]*([-_][a-z0-9]+)*$")


@dataclass(frozen=True)
class Needs:
    """What a task needs from the user and the machine.

    ``model``: the kind of model it loads (``"sd"``: a Stable Diffusion 1.x pipeline with a 4- or
    9-channel UNet; later kinds: vocoders, upsamplers, taggers, picture models), None for none.
    ``audio``: an input clip. ``region``: a region of that clip (a time span, boxes or a painted
    mask). ``prompt``: a text prompt.
    """

    model: str | None = "sd"
    audio: bool = False
    region: bool = False
    prompt: bool = False


@dataclass(frozen=True)
class Task:
    """One task: what it is called, its spec and runner, what it needs, its CLI command.

    Attributes:
        name: the one name (CLI subcommand, recipe ``task``, ``spec.kind``).
        spec: its spec class (a :class:`engine.specs.JobSpec` whose ``kind`` is ``name``).
        run: its runner, a generator function ``run(spec, ctx)``: every ``yield Progress`` is a
            progress report and a cancel point; it returns the job's result (for tasks that make
            results, a tuple of :class:`engine.specs.TaskResult`). It imports heavy modules inside.
        title: a short human name ("Inpaint") for menus and job rows.
        summary: one line saying what it does (CLI help).
        needs: see :class:`Needs`.
        old_names: names it had before; recipes that use them are read as this task's.
        makes_recipes: False for jobs whose results cannot be regenerated (downloads, unloads).
        add_arguments: ``add_arguments(parser)`` adds its CLI arguments (an argparse parser that
            already has the common ones: --device, --offline, --cache-dir, -q); None: no CLI command.
        spec_from_args: ``spec_from_args(args, cli)`` -> the spec from parsed arguments; ``cli``
            is an :class:`engine.cli.common.CliRun` (input files, default model, output checks).
        write_results: ``write_results(results, args, cli)`` writes what it made; None: the CLI's
            audio writer (audio with its recipe, optionally the spectrogram image).
    """

    name: str
    spec: type[JobSpec]
    run: Callable[..., Any]
    title: str
    summary: str
    needs: Needs = Needs()
    old_names: tuple[str, ...] = ()
    makes_recipes: bool = True
    add_arguments: Callable[..., None] | None = None
    spec_from_args: Callable[..., JobSpec] | None = None
    write_results: Callable[..., None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"a task name is lower-case words joined by '-' or '_', got {self.name!r}.")
        if not (isinstance(self.spec, type) and issubclass(self.spec, JobSpec)):
            raise ValueError(f"task {self.name!r}: `spec` must be a JobSpec subclass, got {self.spec!r}.")
        if self.spec.kind != self.name:
            raise ValueError(
                f"task {self.name!r}: its spec class {self.spec.__name__} has kind {self.spec.kind!r}; "
                "a spec's kind is its task's name."
            )
        if not callable(self.run):
            raise ValueError(f"task {self.name!r}: `run` must be a generator function (spec, ctx).")
        if (self.add_arguments is None) != (self.spec_from_args is None):
            raise ValueError(f"task {self.name!r}: a CLI command needs both `add_arguments` and `spec_from_args`.")

    @property
    def has_cli(self) -> bool:
        return self.add_arguments is not None

    def spec_from_recipe(
        self, recipe: Any, inputs: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> JobSpec:
        """The job that makes ``recipe``'s result again; see :meth:`engine.specs.JobSpec.from_recipe`."""
        if not self.makes_recipes:
            raise ValueError(f"{self.title} jobs make no recipes; there is nothing to regenerate.")
        return self.spec.from_recipe(recipe, inputs, overrides)


class TaskRegistry:
    """The tasks by name, old name and spec class, in load order (built-ins first).

    ``errors`` lists the plugins that were skipped and why (one line each).
    """

    def __init__(self, tasks: Iterable[Task] = (), errors: Sequence[str] = ()) -> None:
        self._tasks: dict[str, Task] = {}
        self._aliases: dict[str, str] = {}
        self._by_spec: dict[type, Task] = {}
        self.errors: list[str] = list(errors)
        for task in tasks:
            self.add(task)

    def add(self, task: Task) -> None:
        """Add ``task``; ValueError if its name, an old name or its spec class is taken."""
        for name in (task.name, *task.old_names):
            if name in self._tasks or name in self._aliases:
                raise ValueError(f"task {task.name!r}: the name {name!r} is already taken by task "
                                 f"{self.canonical_name(name)!r}.")
        if task.spec in self._by_spec:
            raise ValueError(f"task {task.name!r}: its spec class {task.spec.__name__} is already task "
                             f"{self._by_spec[task.spec].name!r}'s.")
        self._tasks[task.name] = task
        self._aliases.update({old: task.name for old in task.old_names})
        self._by_spec[task.spec] = task

    def canonical_name(self, name: str) -> str:
        """``name``, or the current name of the task that was called ``name`` before."""
        return self._aliases.get(name, name)

    def get(self, name: str) -> Task:
        """The task called ``name`` (or formerly so). Raises ValueError naming the known tasks."""
        task = self._tasks.get(self.canonical_name(name))
        if task is None:
            raise ValueError(f"unknown task {name!r}; this version knows: {', '.join(self._tasks)}.")
        return task

    def for_spec(self, spec_type: type) -> Task | None:
        """The task whose spec class is ``spec_type``, or None."""
        return self._by_spec.get(spec_type)

    def spec_classes(self) -> dict[str, type[JobSpec]]:
        """Every task's spec class by class name."""
        return {task.spec.__name__: task.spec for task in self}

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self._tasks.values()))

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical_name(name) in self._tasks


# ---------------------------------------------------------------------------------------------
# Building the registry from task modules
# ---------------------------------------------------------------------------------------------


def builtin_modules() -> list[str]:
    """The built-in task modules: every module of this package not starting with '_', by name."""
    return sorted(f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def _task_of(obj: Any, source: str) -> Task:
    task = getattr(obj, "TASK", None) if isinstance(obj, ModuleType) else obj
    if not isinstance(task, Task):
        raise ValueError(f"{source} declares no task (a module-level `TASK = Task(...)`).")
    return task


def _plugin_sources() -> list[tuple[str, Callable[[], Any]]]:
    """(label, loader) for each module named by SPECDIFF_TASK_MODULES and each entry point."""
    sources: list[tuple[str, Callable[[], Any]]] = []
    for name in os.environ.get(MODULES_ENV, "").split(","):
        if name.strip():
            sources.append((f"task module '{name.strip()}' ({MODULES_ENV})",
                            lambda name=name.strip(): importlib.import_module(name)))
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        sources.append((f"task plugin '{point.name}' ({point.value})", point.load))
    return sources


def load_registry() -> TaskRegistry:
    """A registry of the built-in tasks and the plugins configured now (environment, entry points)."""
    tasks = TaskRegistry()
    for module in builtin_modules():
        tasks.add(_task_of(importlib.import_module(module), module))
    for label, load in _plugin_sources():
        try:
            tasks.add(_task_of(load(), label))
        except Exception as error:  # noqa: BLE001 - a broken plugin must not take the engine down
            message = f"{label} was skipped: {str(error).strip() or type(error).__name__}"
            log.warning("%s", message)
            tasks.errors.append(message)
    return tasks


_registry: TaskRegistry | None = None
_registry_lock = threading.RLock()


def registry() -> TaskRegistry:
    """The task registry, built on first use (importing every task module: no torch)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = load_registry()
        return _registry


def reload_registry() -> TaskRegistry:
    """Build the registry again (after SPECDIFF_TASK_MODULES or the installed plugins changed)."""
    global _registry
    with _registry_lock:
        _registry = None
        return registry()


def canonical_name(name: str) -> str:
    """The current name of a task given a current or old name (unknown names are returned as is)."""
    return registry().canonical_name(name)
