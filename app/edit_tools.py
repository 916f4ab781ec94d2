"""Spectrogram editing in the main window: masks, the edit tasks (inpaint, extend, continue, loop,
vary, interpolate and any task module of :mod:`app.tasks`), autosave and crash recovery (issue 4).

    tools = install_edit_tools(window)

adds to an existing :class:`app.main_window.MainWindow`: the mask toolbar, the "Edit" dock
(:class:`~app.widgets.qt_edit_panel.QtEditPanel`), the "Edit > Spectrogram" menu with shortcuts,
mask overlays and painting on the timeline, masks saved in the project file, autosave, and the
offer to recover an autosave a crashed session left behind. The window's History dock (a
QUndoView) shows every step.

How an edit runs (ARCHITECTURE.md's data flow): on the GUI thread the tools capture what the job
needs (the clip's audio array, which the model never writes into, the mask value, the settings);
a helper thread builds the job spec (rasterising the mask, copying the audio into the spec); the
engine's worker runs it on a copy at the model's rate and brings only the new audio back at the
clip's own rate and channels, level-matched; the result lands as one undo step that replaces the
clip's audio (or adds clips). If the clip was edited while the job ran, the result lands as a new
clip on a new track instead of overwriting that edit. Cancelling leaves the project untouched.

An empty prompt in the Edit dock means the clip's own prompt (from its recipe; none for an
imported clip), not whatever the Prompt panel holds.

The pieces: each task's parameters, spec and landing live in its module of :mod:`app.tasks`
(the Edit dock's tabs and the Edit > Spectrogram menu loop over :func:`app.tasks.app_tasks`);
:mod:`app.edit_landing` puts results into the project; :mod:`app.edit_recovery` autosaves and
recovers; :mod:`app.edit_menus` builds the actions and menus; this module captures, runs and
cancels edits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox

from app.autosave import Autosaver, AutosaveInfo
from app.edit_landing import RESULTS_ON_NEW_TRACK_KEY, Landing
from app.edit_menus import EditMenusMixin
from app.edit_recovery import RecoveryMixin
from app.model.mask import MaskStore
from app.model.project import Clip, Project, Track
from app.model.project_files import LoadedProject, ProjectFileSnapshot
from app.tasks import AppTask, EditError, Plan, app_tasks
from app.widgets.qt_edit_panel import QtEditPanel
from app.widgets.qt_mask_tools import MaskPainter, QtMaskTools
from engine.api import TaskResult

__all__ = ["EditError", "EditTools", "install_edit_tools"]

log = logging.getLogger(__name__)

EDIT_STATUS_MS = 8000


class EditTools(EditMenusMixin, RecoveryMixin, QObject):
    """The spectrogram-editing tools of one main window. Build it with :func:`install_edit_tools`.

    Public attributes: ``tasks`` (name -> :class:`AppTask`, the window's one list of edit tasks),
    ``landing`` (:class:`Landing`), ``masks`` (:class:`MaskStore`), ``painter`` (:class:`MaskPainter`),
    ``mask_tools`` / ``mask_toolbar``, ``edit_panel`` / ``edit_dock``, ``history_view``,
    ``actions`` (name -> QAction), ``autosaver`` (None when autosave is off).

    Signals: ``edit_submitted(job_id, kind)``, ``edit_landed(job_id, kind, clip_ids)``,
    ``edit_failed(kind, message)``, ``edit_cancelled(kind)``, ``recovery_found(list[AutosaveInfo])``,
    ``recovered(str path)``, ``masks_loaded(str path)``.
    """

    edit_submitted = Signal(int, str)
    edit_landed = Signal(int, str, object)
    edit_failed = Signal(str, str)
    edit_cancelled = Signal(str)
    recovery_found = Signal(object)
    recovered = Signal(str)
    masks_loaded = Signal(str)

    def __init__(self, window: QMainWindow, **options: Any) -> None:
        """``options``: those of :meth:`configure` (autosave and recovery)."""
        super().__init__(window)
        self.window = window
        self.project: Project = window.project
        self.undo_stack = window.undo_stack
        self.client = window.client
        self.timeline = window.timeline
        self.masks = MaskStore()
        self.tasks: dict[str, AppTask] = {task.name: task for task in app_tasks()}
        reveal = getattr(self.timeline, "reveal_clips", None)
        settings = getattr(window, "settings", None)
        self.landing = Landing(
            self.project, self.undo_stack, self.masks, self._show, reveal=reveal if callable(reveal) else None,
            new_track=(lambda: bool(settings.get(RESULTS_ON_NEW_TRACK_KEY, False))) if settings is not None else None,
        )
        self._plans: dict[int, Plan] = {}
        self._preparing: list[Plan] = []
        self._on_recovery = None
        self.recovery_box: QMessageBox | None = None
        self._recovery_check_pending = False

        self.painter = MaskPainter(self.project, self.undo_stack, self.masks, self.timeline)
        self.mask_tools = QtMaskTools(self.painter, window)
        self.mask_toolbar = self.mask_tools
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.mask_toolbar)

        self.edit_panel = QtEditPanel(tuple(self.tasks.values()))
        self.edit_dock = QDockWidget("Edit", window)
        self.edit_dock.setObjectName("editDock")
        self.edit_dock.setWidget(self.edit_panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.edit_dock)
        prompt_dock = getattr(window, "prompt_dock", None)
        if prompt_dock is not None:
            window.tabifyDockWidget(prompt_dock, self.edit_dock)
            prompt_dock.raise_()
        self.history_view = getattr(window, "history_view", None)  # MainWindow's QUndoView dock

        self.actions: dict[str, QAction] = {}
        self._build_actions()
        self._build_menu()
        self._build_toolbar()
        self._connect()

        self.autosaver: Autosaver | None = None
        self.autosave_folder: Path | None = None
        self.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        window.project_saved.connect(self._on_window_project_saved)
        self._install_save_hook()
        window.installEventFilter(self)
        self.configure(**options)

    # ------------------------------------------------------------------------------ building

    def _connect(self) -> None:
        self.edit_panel.edit_requested.connect(self.run_edit)
        self.edit_panel.cancel_requested.connect(self.cancel_edits)
        self.painter.tool_changed.connect(self._on_painter_tool_changed)
        self.painter.message.connect(self._show)
        self.project.events.project_reset.connect(self._on_project_reset)
        settings = getattr(self.window, "generation", None)
        if settings is not None:  # the Edit dock's window and segment follow the model's card
            settings.events.model_hints_applied.connect(self.edit_panel.apply_model_defaults)
            if settings.hints is not None:
                self.edit_panel.apply_model_defaults(settings.hints)
        self.project.events.clip_added.connect(self._on_project_clip_added)
        self.window.document_replaced.connect(self._on_window_document_replaced)

    def _install_save_hook(self) -> None:
        # File > Save writes whatever the window's snapshot factory captures: add the masks.
        self.window.capture_project_snapshot = lambda: ProjectFileSnapshot.capture(self.window.project, self.masks)

    # ------------------------------------------------------------------------------ small slots

    def _show(self, text: str) -> None:
        self.edit_panel.show_message(text)
        show = getattr(self.window, "show_message", None)
        if callable(show):
            show(text, EDIT_STATUS_MS)

    def _on_project_reset(self, project: Project) -> None:
        self.masks.replace_all({})

    def _on_project_clip_added(self, track: Track, clip: Clip) -> None:
        # A split or duplicated clip shares its source's audio array: give it the source's mask too
        # (coordinates are in that shared audio, so it covers the same sound). Not an undo step of
        # its own: undoing the split removes the clip, and a mask without its clip is inert.
        if not self.masks.get(clip.id).is_empty:
            return
        for other in self.project.clips():
            if other is not clip and other.audio is clip.audio and not self.masks.get(other.id).is_empty:
                self.masks.set_mask(clip.id, self.masks.get(other.id))
                return

    def _on_window_document_replaced(self, loaded: LoadedProject) -> None:
        # The project was swapped in whole (its project_reset cleared the masks): its masks follow.
        present = {clip.id for clip in self.project.clips()}
        self.masks.replace_all({cid: m for cid, m in loaded.masks.items() if cid in present})
        self.masks_loaded.emit(loaded.project.path or "")

    def eventFilter(self, obj: QObject, event: Any) -> bool:  # noqa: N802 - Qt API
        # The window closing (the close may still be refused: look again once it was handled);
        # resized (the toolbars may need a second row).
        from PySide6.QtCore import QEvent

        if obj is self.window and event.type() == QEvent.Type.Close:
            QTimer.singleShot(0, self._maybe_finished)
        elif obj is self.window and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self.fit_toolbars)  # after the resize: the toolbars' row may change
        return False

    def _maybe_finished(self) -> None:
        if not self.window.isVisible():
            self.shutdown()

    def shutdown(self, *, keep_autosave: bool = False) -> None:
        """A clean exit: cancel running edits, stop autosaving and delete this session's autosave
        (``keep_autosave``: write it one last time and keep it for recovery at the next start)."""
        for plan in list(self._preparing):
            plan.cancelled = True
        for job_id in list(self._plans):
            self.client.cancel(job_id)
        if self.autosaver is not None:
            if keep_autosave:
                self.autosaver.finish_keeping()
                self.autosaver = None  # a later shutdown (the close event) must not delete it
            else:
                self.autosaver.finish()

    # ------------------------------------------------------------------------------ targets

    def generation_kwargs(self, prompt: str, clip: Clip | None = None) -> dict[str, Any]:
        """What every edit job shares: the window's generation settings (the prompt panel's
        view of them) and the edit panel's shared fields.

        An empty ``prompt`` for an edit of ``clip`` is the clip's own prompt (its recipe's; empty
        for a clip without one); without a clip (interpolation) it is the settings' prompt."""
        if not prompt and clip is not None:
            prompt = clip.recipe.params.get("prompt", "") if clip.recipe is not None else ""
        kwargs: dict[str, Any] = {"prompt": prompt, **self.edit_panel.shared_params()}
        settings = getattr(self.window, "generation", None)
        if settings is None:
            return kwargs
        if not settings.model.strip():
            raise EditError("Pick a model in the Prompt panel (or Generate > Model Manager) first.")
        kwargs.update(settings.edit_kwargs(prompt))
        if clip is not None:
            kwargs["prompt"] = prompt  # never the Prompt panel's text for an edit of a clip
        return kwargs

    def target_clip(self) -> Clip:
        """The clip an edit acts on: the first selected clip, else the clip under the selection's
        time range (or the playhead) on the selected track. Raises EditError if there is none."""
        clip = self.painter.target_clip()
        sel = self.project.selection
        if clip is None and sel.has_time_range:
            track = self.project.selected_track()
            if track is not None:
                inside = [c for c in track.clips if c.start_s < sel.end_s and c.end_s > sel.start_s]
                clip = inside[-1] if inside else None
        if clip is None:
            raise EditError("Select a clip first (click it on the timeline).")
        return clip

    def clip(self, clip_id: str) -> Clip:
        """The project's clip ``clip_id`` (KeyError when it is gone)."""
        return self.project.find_clip(clip_id)[1]

    def selection_in_clip(self, clip: Clip) -> tuple[float, float] | None:
        """The selected time range inside ``clip``'s audible part, in seconds of the clip's audio."""
        sel = self.project.selection
        if not sel.has_time_range:
            return None
        track = self.project.find_clip(clip.id)[0]
        if sel.track_id is not None and sel.track_id != track.id:
            return None
        lo, hi = max(sel.start_s, clip.start_s), min(sel.end_s, clip.end_s)
        if hi <= lo:
            return None
        to_audio = clip.offset_s - clip.start_s
        return lo + to_audio, hi + to_audio

    # ------------------------------------------------------------------------------ running edits

    def run_edit(self, kind: str) -> bool:
        """Start an edit of ``kind`` (a task name of ``tasks``) from the current selection and panel.

        Returns False (and says why, edit_failed) when it cannot start. The job id follows in
        ``edit_submitted`` once the spec is built off the GUI thread. When the model is known
        to do this task badly, the window says so first and the edit starts if the user goes on."""
        task = self.tasks.get(kind)
        if task is None:
            raise ValueError(f"edit kind must be one of {', '.join(self.tasks)}, got {kind!r}.")
        try:
            params = self.edit_panel.params(kind)
            plan = task.plan(self, params)
        except (EditError, ValueError) as exc:
            self._fail(kind, str(exc))
            return False
        plan.extra.setdefault("typed_prompt", params.get("prompt") or "")  # for the message when it lands
        settings = getattr(self.window, "generation", None)
        ask = getattr(self.window, "run_after_caution", None)
        if settings is not None and callable(ask) and _uses_model(task.engine_task or kind):
            ask(task.engine_task or kind, settings.model, lambda: self._prepare(plan))
        else:
            self._prepare(plan)
        return True

    def _prepare(self, plan: Plan) -> None:
        self._preparing.append(plan)
        self.edit_panel.set_running(f"Preparing {plan.kind}…")
        self.client.run_in_thread(f"prepare-{plan.kind}", plan.build, lambda spec: self._submit(plan, spec),
                                  lambda exc: self._prepare_failed(plan, exc))

    def _submit(self, plan: Plan, spec: Any) -> None:
        self._preparing.remove(plan)
        if plan.cancelled:
            self.edit_cancelled.emit(plan.kind)
            self._update_running()
            return
        try:
            handle = self.client.submit(spec)
        except (RuntimeError, ValueError) as exc:
            self._fail(plan.kind, f"Could not start the job: {exc}")
            return
        plan.spec = spec
        job_id = plan.job_id = handle.job_id
        self._plans[job_id] = plan
        handle.started.connect(lambda spec: self.edit_panel.set_running(f"{spec.describe()}: running"))
        handle.progressed.connect(
            lambda p: self.edit_panel.set_progress(p.fraction if p.stage in ("tile", "denoise") else None))
        handle.finished.connect(lambda result: self._on_job_finished(job_id, result))
        handle.failed.connect(lambda message, _kind: self._on_job_failed(job_id, message))
        handle.cancelled.connect(lambda: self._on_job_cancelled(job_id))
        self.edit_panel.set_running(f"{spec.describe()}: queued")
        self.edit_submitted.emit(job_id, plan.kind)

    def _prepare_failed(self, plan: Plan, exc: BaseException) -> None:
        self._preparing.remove(plan)
        self._fail(plan.kind, str(exc) or type(exc).__name__)

    def _title(self, kind: str) -> str:
        """What the user knows an edit as: its toolbar button and Edit dock tab ("Picture", not
        the task's name "illustrate"; "Vocoder", not "vocode")."""
        return getattr(self.tasks.get(kind), "title", kind.capitalize())

    def _fail(self, kind: str, message: str) -> None:
        self._update_running()
        self._show(f"{self._title(kind)}: {message}")
        self.edit_failed.emit(kind, message)

    def _update_running(self) -> None:
        if not self._plans and not self._preparing:
            self.edit_panel.set_running(None)

    def cancel_edits(self) -> None:
        """Cancel every edit being prepared or run; the project stays as it is."""
        if not self._preparing and not self._plans:
            self._show("No edit is running; nothing to cancel.")
            return
        for plan in self._preparing:
            plan.cancelled = True
        for job_id in list(self._plans):
            self.client.cancel(job_id)

    def _on_job_failed(self, job_id: int, message: str) -> None:
        plan = self._plans.pop(job_id, None)
        if plan is not None:
            self._fail(plan.kind, message)

    def _on_job_cancelled(self, job_id: int) -> None:
        plan = self._plans.pop(job_id, None)
        if plan is not None:
            self._update_running()
            self._show(f"{self._title(plan.kind)} cancelled; nothing changed.")
            self.edit_cancelled.emit(plan.kind)

    def _on_job_finished(self, job_id: int, result: Any) -> None:
        plan = self._plans.pop(job_id, None)
        if plan is None:
            return
        self._update_running()
        results = [r for r in (result or ()) if isinstance(r, TaskResult)]
        if not results:
            self._fail(plan.kind, "the engine returned no audio.")
            return
        self.project.remember_inputs(plan.spec, [r.recipe for r in results], (plan.audio,))  # for Regenerate
        try:
            if plan.clip_id is not None and not self._clip_unchanged(plan):
                ids = self.landing.land_as_new_clips(plan, results)
                self._show("The clip changed while the edit ran: the result is a new clip on a new track.")
            else:
                ids = plan.land(job_id, results)
                self._show(self._done_message(plan))
        except (KeyError, ValueError) as exc:
            self._fail(plan.kind, f"the result could not be placed: {exc}")
            return
        self.edit_landed.emit(job_id, plan.kind, ids)

    def _done_message(self, plan: Plan) -> str:
        """'Inpaint done.', and when the edit's own prompt was left empty while the Prompt panel
        holds other words than the edit used, which prompt it was and where an edit's prompt goes
        (typing in the Prompt panel and pressing Inpaint silently used the clip's own prompt, or
        none for an imported clip)."""
        done = f"{self._title(plan.kind)} done."
        form = self.edit_panel.forms.get(plan.kind)
        panel = getattr(getattr(self.window, "prompt_panel", None), "prompt_edit", None)
        if plan.clip_id is None or not hasattr(form, "prompt") or panel is None or plan.extra.get("typed_prompt"):
            return done
        wanted, used = panel.toPlainText().strip(), (getattr(plan.spec, "prompt", "") or "").strip()
        if not wanted or wanted == used:
            return done
        with_what = f"with the prompt {used!r}" if used else "without a prompt (the clip has none of its own)"
        tab = self._title(plan.kind)
        return (f"{tab} done {with_what}. The Prompt panel's text is for new clips: for "
                f"{wanted!r}, type it in the Edit dock's {tab} tab.")

    def _clip_unchanged(self, plan: Plan) -> bool:
        if not self.project.has_clip(plan.clip_id):
            return False
        _, clip = self.project.find_clip(plan.clip_id)
        return clip.audio is plan.audio and (clip.offset_s, clip.duration_s) == plan.trim

    # -- landing helpers --------------------------------------------------------------------------

def _uses_model(engine_task: str) -> bool:
    """Whether the engine task runs the Prompt panel's sound model (a caution about that model
    applies to it); tasks with a model of their own kind (a vocoder, a picture model) do not."""
    from engine.api import task

    try:
        return task(engine_task).needs.model == "sd"
    except ValueError:  # an app task whose engine task is not loaded: its job says so when submitted
        return True


def install_edit_tools(window: QMainWindow, **options: Any) -> EditTools:
    """Add the spectrogram-editing tools to ``window`` (a MainWindow) and return them.

    Options (all keyword): ``autosave_dir`` (default: ``autosave/`` next to the settings file),
    ``autosave_interval_s`` (default: the ``autosave_interval_s`` setting, else 60),
    ``autosave`` (False: no autosave), ``on_recovery`` (called with the list of
    :class:`AutosaveInfo` found at start instead of showing a message box), ``check_recovery``
    (False: do not look for crashed sessions). Calling it again on the same window returns the
    same tools with the new options.
    """
    existing = getattr(window, "edit_tools", None)
    if isinstance(existing, EditTools):  # installed already (by MainWindow): only the options change
        existing.configure(**options)
        return existing
    tools = EditTools(window, **options)
    window.edit_tools = tools
    return tools
