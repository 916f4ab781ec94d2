"""App tasks: one module per task the Edit dock, the Edit menu and the edit toolbar offer.

The app's half of the engine's task registry (``engine/tasks/``). A task module declares one
:class:`AppTask` named ``TASK``::

    TASK = AppTask(
        name="loop",                        # edit_requested("loop"), the action's name
        title="Loop",                       # its Edit dock tab and toolbar text
        action_text="Make &Loop",           # its menu entry
        shortcut="Ctrl+Shift+L",
        button="Make loop",                 # the tab's button
        help="Make the selected time range of the clip (or the whole clip) loop seamlessly.",
        engine_task="loop",                 # what it runs (the model's cautions are about this)
        make_form=Form,                     # its parameter widgets (a TaskForm)
        plan=plan,                          # how it builds its spec from the selection and mask,
    )                                       # and how its results land

The list (:func:`app_tasks`) is built from the modules of this package whose names do not
start with ``_`` (found with pkgutil), then the modules named in the environment variable
``SPECDIFF_APP_TASK_MODULES`` (comma-separated import paths), ordered by ``order``. The Edit
dock's tabs, the Edit > Spectrogram menu and the edit toolbar loop over it: a new task is one
module here (plus its engine module), no other file.

``plan(tools, params)`` runs on the GUI thread: it captures what the job needs (the clip's
audio array, the mask, the settings; see :class:`app.edit_tools.EditTools` for the helpers) and
returns a :class:`Plan` whose ``build()`` makes the job spec on a helper thread and whose
``land(job_id, results)`` puts the results into the project on the GUI thread, as one undo step.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Extra app task modules to load: comma-separated import paths.
MODULES_ENV = "SPECDIFF_APP_TASK_MODULES"


class EditError(ValueError):
    """An edit cannot start; the message says what to do."""


@dataclass
class Plan:
    """An edit captured on the GUI thread: what to build off it and where the result lands.

    ``clip_id``/``audio``/``trim``: the clip it edits and its audio array and trim when the edit
    was asked for (a clip changed meanwhile gets the result as a new clip instead); None for
    tasks that make new clips. ``extra``: ``start_s`` and ``name`` for that fallback.
    """

    kind: str
    clip_id: str | None
    audio: np.ndarray | None
    trim: tuple[float, float | None]
    build: Callable[[], Any]  # helper thread: -> job spec
    land: Callable[[int, Any], list[str]]  # GUI thread: (job_id, results) -> ids of the clips changed
    cancelled: bool = False
    job_id: int | None = None
    spec: Any = None  # the job spec once built (its inputs are kept for Regenerate)
    extra: dict[str, Any] = field(default_factory=dict)


class TaskForm:
    """A task's parameter widgets: ``rows`` of (label, widget) for its tab, :meth:`params` to read
    them (raise ValueError saying what to fix), and ``follows_model``: name -> (spin box, function
    of the model's image length in seconds giving its default) for fields whose default depends
    on the model."""

    rows: list[tuple[str, Any]] = []
    follows_model: dict[str, tuple[Any, Callable[[float], float]]] = {}

    def params(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class AppTask:
    """One task the Edit dock offers (see the module docstring).

    ``tab``: the name of another task whose tab (and form) this one shares, e.g. "continue"
    lives in "extend"'s tab with its own button; then ``make_form`` is None and
    ``read_params(form)`` turns that form's fields into this task's parameters.
    ``menu``: "edit" (Edit > Spectrogram: tasks that change a clip) or "generate" (the Generate
    menu: tasks that make new clips).
    """

    name: str
    title: str
    action_text: str
    button: str
    help: str
    plan: Callable[[Any, dict[str, Any]], Plan]
    make_form: Callable[[], TaskForm] | None = None
    read_params: Callable[[TaskForm], dict[str, Any]] | None = None
    shortcut: str = ""
    engine_task: str = ""
    tab: str | None = None
    menu: str = "edit"
    order: int = 100

    def __post_init__(self) -> None:
        if self.menu not in ("edit", "generate"):
            raise ValueError(f"app task {self.name!r}: `menu` is 'edit' or 'generate', got {self.menu!r}.")
        if (self.make_form is None) == (self.tab is None):
            raise ValueError(f"app task {self.name!r}: give either `make_form` (its own tab) or `tab` (another's).")


def _module_names() -> list[str]:
    names = [f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
    extra = [n.strip() for n in os.environ.get(MODULES_ENV, "").split(",") if n.strip()]
    return names + extra


def app_tasks() -> tuple[AppTask, ...]:
    """Every app task, built-ins and those ``SPECDIFF_APP_TASK_MODULES`` names, by ``order``.

    A named module that fails to import, has no ``TASK`` or clashes with a known name is skipped
    and logged; a built-in that does is a bug and raises."""
    tasks: dict[str, AppTask] = {}
    for module_name in _module_names():
        builtin = module_name.startswith(__name__ + ".")
        try:
            task = getattr(importlib.import_module(module_name), "TASK", None)
            if not isinstance(task, AppTask):
                raise ValueError(f"{module_name} has no TASK = AppTask(...)")
            if task.name in tasks:
                raise ValueError(f"{module_name}: the task name {task.name!r} is already taken")
        except Exception:
            if builtin:
                raise
            log.exception("app task module %s skipped", module_name)
            continue
        tasks[task.name] = task
    ordered = sorted(tasks.values(), key=lambda t: t.order)
    for task in ordered:
        if task.tab is not None and task.tab not in tasks:
            raise ValueError(f"app task {task.name!r} shares the tab of {task.tab!r}, which is not a task.")
    return tuple(ordered)
