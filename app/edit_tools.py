"""Spectrogram editing in the main window: masks, inpaint, extend, loop, vary, interpolate,
autosave and crash recovery (issue 4).

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
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox, QToolBar

from app.autosave import Autosaver, AutosaveInfo, discard, find_recoverable, remove_leftovers
from app.model.commands import AddClip, AddTrack, Command, CommandGroup, MoveClip, ReplaceClipAudio
from app.model.mask import Mask, MaskStore
from app.model.mask_commands import SetMask
from app.model.project import Clip, Project, Track
from app.model.project_files import LoadedProject, ProjectFileSnapshot, load_project_file
from app.widgets.qt_edit_panel import EDIT_KINDS, QtEditPanel
from app.widgets.qt_mask_tools import MASK_TOOLS, MAX_BRUSH_PX, MaskPainter, QtMaskTools
from engine.api import ExtendJob, GenerationResult, InpaintJob, InterpolateJob, LoopJob, VariationJob

log = logging.getLogger(__name__)

#: Menu text and shortcut of each mask tool.
TOOL_SHORTCUTS = {"edit": "V", "brush": "B", "eraser": "E", "rect": "R", "time_band": "T", "freq_band": "F"}
EDIT_ACTIONS = {
    "inpaint": ("&Inpaint Mask / Selection", "Ctrl+Shift+R"),
    "extend": ("&Extend Clip", "Ctrl+Shift+E"),
    "continue": ("&Continue from Selection End", "Ctrl+Shift+C"),
    "loop": ("Make &Loop", "Ctrl+Shift+L"),
    "vary": ("&Vary Clip", "Ctrl+Shift+V"),
    "interpolate": ("Inter&polate Prompts", "Ctrl+Shift+P"),
}
#: Extend windows must leave this much room after their context (ExtendJob: context <= window - 0.64).
MIN_NEW_PER_WINDOW_S = 0.64
#: Context each inpaint / loop window shows around the region (RegionEditJob allows up to window / 2 - 0.08).
DEFAULT_REGION_CONTEXT_S = 1.0
BRUSH_STEP = 1.25
EDIT_STATUS_MS = 8000


class EditError(ValueError):
    """An edit cannot start; the message says what to do."""


@dataclass
class _Plan:
    """An edit captured on the GUI thread: what to build off it and where the result lands."""

    kind: str
    clip_id: str | None
    audio: np.ndarray | None  # the clip's array when the edit was asked for (identity is checked)
    trim: tuple[float, float | None]
    build: Callable[[], Any]  # helper thread: -> job spec
    land: Callable[[int, Any], list[str]]  # GUI thread: (job_id, results) -> ids of the clips changed
    cancelled: bool = False
    job_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _region_context_s(window_s: float) -> float:
    """Inpaint / loop context on each side of the region: 1 s, or what the window leaves room for."""
    return min(DEFAULT_REGION_CONTEXT_S, window_s / 2 - 0.08)


def _preset_params(preset: str, height: int | None) -> Any:
    """The job's SpectrogramParams (helper thread only: engine.audio.spectrogram imports torch)."""
    from engine.audio.spectrogram import get_preset

    params = get_preset(preset)
    return dataclasses.replace(params, num_frequencies=height) if height else params


class EditTools(QObject):
    """The spectrogram-editing tools of one main window. Build it with :func:`install_edit_tools`.

    Public attributes: ``masks`` (:class:`MaskStore`), ``painter`` (:class:`MaskPainter`),
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

    def __init__(
        self,
        window: QMainWindow,
        *,
        autosave_dir: str | Path | None = None,
        autosave_interval_s: float | None = None,
        autosave: bool = True,
        on_recovery: Callable[[list[AutosaveInfo]], None] | None = None,
        check_recovery: bool = True,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.project: Project = window.project
        self.undo_stack = window.undo_stack
        self.client = window.client
        self.timeline = window.timeline
        self.masks = MaskStore()
        self._plans: dict[int, _Plan] = {}
        self._preparing: list[_Plan] = []
        self._on_recovery = on_recovery
        self.recovery_box: QMessageBox | None = None
        self._recovery_check_pending = False

        self.painter = MaskPainter(self.project, self.undo_stack, self.masks, self.timeline)
        self.mask_tools = QtMaskTools(self.painter)
        self.mask_toolbar = QToolBar("Mask tools", window)
        self.mask_toolbar.setObjectName("maskToolbar")
        self.mask_toolbar.addWidget(self.mask_tools)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.mask_toolbar)

        self.edit_panel = QtEditPanel()
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
        self._connect()

        self.autosaver: Autosaver | None = None
        self.autosave_folder: Path | None = None
        self.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        window.project_saved.connect(self._on_window_project_saved)
        self._install_save_hook()
        window.installEventFilter(self)
        self.configure(autosave_dir=autosave_dir, autosave_interval_s=autosave_interval_s, autosave=autosave,
                       on_recovery=on_recovery, check_recovery=check_recovery)

    def configure(
        self,
        *,
        autosave_dir: str | Path | None = None,
        autosave_interval_s: float | None = None,
        autosave: bool = True,
        on_recovery: Callable[[list[AutosaveInfo]], None] | None = None,
        check_recovery: bool = True,
    ) -> None:
        """(Re)set autosave and recovery (the options of :func:`install_edit_tools`). A running
        autosaver is finished (its file deleted) and replaced."""
        if self.autosaver is not None:
            self.autosaver.finish()
            self.autosaver.deleteLater()
            self.autosaver = None
        self._on_recovery = on_recovery
        folder = Path(autosave_dir) if autosave_dir is not None else self.default_autosave_dir()
        self.autosave_folder = folder if autosave or autosave_dir is not None else None
        if autosave:
            interval = autosave_interval_s or float(self.window.settings.get("autosave_interval_s", 60.0))
            self.autosaver = Autosaver(
                folder,
                lambda: ProjectFileSnapshot.capture(self.project, self.masks),
                self.client.run_in_thread,
                lambda: self.project.path,
                interval_s=interval,
                parent=self,
            )
            self.autosaver.autosave_failed.connect(self._show)
        if check_recovery and self.autosave_folder is not None and not self._recovery_check_pending:
            self._recovery_check_pending = True
            QTimer.singleShot(0, self.check_recovery)

    def _on_undo_stack_index_changed(self, index: int) -> None:
        if self.autosaver is not None:
            self.autosaver.mark_dirty()

    def default_autosave_dir(self) -> Path:
        """``autosave/`` next to the app's settings file (a test's temporary settings keep theirs)."""
        return Path(self.window.settings.path).parent / "autosave"

    # ------------------------------------------------------------------------------ building

    def _action(self, name: str, text: str, slot: Callable[[], Any], shortcut: str | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda *_: slot())
        self.window.addAction(action)  # shortcuts work with menus hidden
        self.actions[name] = action
        return action

    def _build_actions(self) -> None:
        from app.widgets.qt_mask_tools import TOOL_LABELS

        for tool in MASK_TOOLS:
            text, tip = TOOL_LABELS[tool]
            label = "&Edit Clips (No Mask Tool)" if tool == "edit" else f"Mask {text}"
            action = self._action(f"tool_{tool}", label, lambda t=tool: self.painter.set_tool(t),
                                  TOOL_SHORTCUTS[tool], tip)
            action.setCheckable(True)
        self.actions["tool_edit"].setChecked(True)
        self._action("brush_smaller", "Smaller Brush", lambda: self._scale_brush(1 / BRUSH_STEP), "[")
        self._action("brush_larger", "Larger Brush", lambda: self._scale_brush(BRUSH_STEP), "]")
        self._action("invert_mask", "&Invert Mask", self.painter.invert, "Ctrl+Shift+I",
                     "Swap masked and unmasked on the selected clip")
        self._action("clear_mask", "C&lear Mask", self.painter.clear, "Ctrl+Shift+Backspace",
                     "Remove the selected clip's mask")
        for kind, (text, shortcut) in EDIT_ACTIONS.items():
            self._action(kind, text, lambda k=kind: self.run_edit(k), shortcut)
        self._action("cancel_edits", "Cancel Edits", self.cancel_edits, tip="Cancel the running spectrogram edits")

    def _menu(self, title: str) -> Any:
        for action in self.window.menuBar().actions():
            if action.menu() is not None and action.text().replace("&", "") == title:
                return action.menu()
        return None

    def _build_menu(self) -> None:
        edit_menu = self._menu("Edit") or self.window.menuBar().addMenu("&Edit")
        menu = QMenu("&Spectrogram", edit_menu)
        before = getattr(self.window, "settings_action", None)  # keep Settings last in the Edit menu
        if before is not None and before in edit_menu.actions():
            edit_menu.insertMenu(before, menu)
            edit_menu.insertSeparator(before)
        else:
            edit_menu.addMenu(menu)
        self.menu = menu
        for tool in MASK_TOOLS:
            menu.addAction(self.actions[f"tool_{tool}"])
        menu.addSeparator()
        for name in ("brush_smaller", "brush_larger", "invert_mask", "clear_mask"):
            menu.addAction(self.actions[name])
        menu.addSeparator()
        for kind in EDIT_ACTIONS:
            menu.addAction(self.actions[kind])
        menu.addAction(self.actions["cancel_edits"])
        view_menu = self._menu("View")
        if view_menu is not None:
            view_menu.addAction(self.edit_dock.toggleViewAction())
            view_menu.addAction(self.mask_toolbar.toggleViewAction())

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

    def _scale_brush(self, factor: float) -> None:
        size = int(round(min(max(self.painter.brush_px * factor, 1), MAX_BRUSH_PX)))
        if size == self.painter.brush_px:
            size = min(MAX_BRUSH_PX, max(1, size + (1 if factor > 1 else -1)))
        self.mask_tools.size_spin.setValue(size)

    def _on_painter_tool_changed(self, tool: str) -> None:
        for name in MASK_TOOLS:
            self.actions[f"tool_{name}"].setChecked(name == tool)

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

    def _on_window_project_saved(self, path: str) -> None:
        if self.autosaver is not None and self.undo_stack.isClean():
            self.autosaver.mark_saved()

    def eventFilter(self, obj: QObject, event: Any) -> bool:  # noqa: N802 - Qt API
        # The window closing (the close may still be refused: look again once it was handled).
        from PySide6.QtCore import QEvent

        if obj is self.window and event.type() == QEvent.Type.Close:
            QTimer.singleShot(0, self._maybe_finished)
        return False

    def _maybe_finished(self) -> None:
        if not self.window.isVisible():
            self.shutdown()

    def shutdown(self) -> None:
        """A clean exit: cancel running edits, stop autosaving and delete this session's autosave."""
        for plan in list(self._preparing):
            plan.cancelled = True
        for job_id in list(self._plans):
            self.client.cancel(job_id)
        if self.autosaver is not None:
            self.autosaver.finish()

    # ------------------------------------------------------------------------------ targets

    def _generation_kwargs(self, prompt: str, clip: Clip | None = None) -> dict[str, Any]:
        """What every edit job shares: the window's generation settings (the prompt panel's
        view of them) and the edit panel's shared fields.

        An empty ``prompt`` for an edit of ``clip`` is the clip's own prompt (its recipe's; empty
        for a clip without one); without a clip (interpolation) it is the settings' prompt."""
        if not prompt and clip is not None:
            prompt = clip.recipe.prompt if clip.recipe is not None else ""
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

    def _selection_in_clip(self, clip: Clip) -> tuple[float, float] | None:
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
        """Start an edit of ``kind`` (one of EDIT_KINDS) from the current selection and panel.

        Returns False (and says why, edit_failed) when it cannot start. The job id follows in
        ``edit_submitted`` once the spec is built off the GUI thread. When the model is known
        to do this task badly, the window says so first and the edit starts if the user goes on."""
        if kind not in EDIT_KINDS:
            raise ValueError(f"edit kind must be one of {', '.join(EDIT_KINDS)}, got {kind!r}.")
        try:
            plan = getattr(self, f"_plan_{kind}")(self.edit_panel.params(kind))
        except (EditError, ValueError) as exc:
            self._fail(kind, str(exc))
            return False
        settings = getattr(self.window, "generation", None)
        ask = getattr(self.window, "run_after_caution", None)
        if settings is not None and callable(ask):
            ask(kind, settings.model, lambda: self._prepare(plan))
        else:
            self._prepare(plan)
        return True

    def _prepare(self, plan: _Plan) -> None:
        self._preparing.append(plan)
        self.edit_panel.set_running(f"Preparing {plan.kind}…")
        self.client.run_in_thread(f"prepare-{plan.kind}", plan.build, lambda spec: self._submit(plan, spec),
                                  lambda exc: self._prepare_failed(plan, exc))

    def _submit(self, plan: _Plan, spec: Any) -> None:
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

    def _prepare_failed(self, plan: _Plan, exc: BaseException) -> None:
        self._preparing.remove(plan)
        self._fail(plan.kind, str(exc) or type(exc).__name__)

    def _fail(self, kind: str, message: str) -> None:
        self._update_running()
        self._show(f"{kind.capitalize()}: {message}")
        self.edit_failed.emit(kind, message)

    def _update_running(self) -> None:
        if not self._plans and not self._preparing:
            self.edit_panel.set_running(None)

    def cancel_edits(self) -> None:
        """Cancel every edit being prepared or run; the project stays as it is."""
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
            self._show(f"{plan.kind.capitalize()} cancelled; nothing changed.")
            self.edit_cancelled.emit(plan.kind)

    def _on_job_finished(self, job_id: int, result: Any) -> None:
        plan = self._plans.pop(job_id, None)
        if plan is None:
            return
        self._update_running()
        results = [r for r in (result or ()) if isinstance(r, GenerationResult)]
        if not results:
            self._fail(plan.kind, "the engine returned no audio.")
            return
        try:
            if plan.clip_id is not None and not self._clip_unchanged(plan):
                ids = self._land_as_new_clips(plan, results)
                self._show("The clip changed while the edit ran: the result is a new clip on a new track.")
            else:
                ids = plan.land(job_id, results)
                self._show(f"{plan.kind.capitalize()} done.")
        except (KeyError, ValueError) as exc:
            self._fail(plan.kind, f"the result could not be placed: {exc}")
            return
        self.edit_landed.emit(job_id, plan.kind, ids)

    def _clip_unchanged(self, plan: _Plan) -> bool:
        if not self.project.has_clip(plan.clip_id):
            return False
        _, clip = self.project.find_clip(plan.clip_id)
        return clip.audio is plan.audio and (clip.offset_s, clip.duration_s) == plan.trim

    # -- landing helpers --------------------------------------------------------------------------

    def _push(self, text: str, commands: list[Command]) -> None:
        self.undo_stack.push_command(commands[0] if len(commands) == 1 else CommandGroup(self.project, text, commands))

    def _replace(self, clip: Clip, result: GenerationResult, text: str, *, keep_trim: bool,
                 new_start_s: float | None = None, mask_shift_s: float = 0.0) -> list[str]:
        """One undo step: the clip gets the result's audio (its trim kept, or the whole new audio),
        moves to ``new_start_s``, and its mask moves ``mask_shift_s`` seconds with its sound."""
        offset_s, duration_s = (clip.offset_s, clip.duration_s) if keep_trim else (0.0, None)
        if keep_trim and result.sample_rate_hz != clip.sample_rate_hz and duration_s is not None:
            duration_s = min(duration_s, result.audio.shape[1] / result.sample_rate_hz - offset_s)
        commands: list[Command] = [ReplaceClipAudio(
            self.project, clip.id, result.audio, sample_rate_hz=result.sample_rate_hz, image=result.image,
            recipe=result.recipe, offset_s=offset_s, duration_s=duration_s, text=text)]
        if new_start_s is not None and abs(new_start_s - clip.start_s) > 1e-12:
            commands.append(MoveClip(self.project, clip.id, new_start_s))
        mask = self.masks.get(clip.id)
        if not mask.is_empty and mask_shift_s != 0:
            commands.append(SetMask(self.project, self.masks, clip.id, mask.shifted(mask_shift_s), text="Move mask"))
        self._push(text, commands)
        return [clip.id]

    def _add_clips(self, text: str, base_track_id: str | None, clips: list[Clip]) -> list[str]:
        """One undo step: clip ``i`` on the ``i``-th track from ``base_track_id`` (tracks added below
        as needed; a new track when ``base_track_id`` is None)."""
        tracks = list(self.project.tracks)
        commands: list[Command] = []
        if base_track_id is None or not any(t.id == base_track_id for t in tracks):
            base = len(tracks)
        else:
            base = [t.id for t in tracks].index(base_track_id)
        for i, clip in enumerate(clips):
            if base + i >= len(tracks):
                track = Track(name=f"Track {len(tracks) + 1}")
                commands.append(AddTrack(self.project, track))
                tracks.append(track)
            commands.append(AddClip(self.project, tracks[base + i], clip))
        self._push(text, commands)
        return [c.id for c in clips]

    def _land_as_new_clips(self, plan: _Plan, results: list[GenerationResult]) -> list[str]:
        start_s = plan.extra.get("start_s", 0.0)
        clips = [Clip(name=f"{plan.extra.get('name', 'Edit')} ({plan.kind})", audio=r.audio,
                      sample_rate_hz=r.sample_rate_hz, start_s=max(0.0, start_s), recipe=r.recipe, image=r.image)
                 for r in results]
        return self._add_clips(f"{plan.kind.capitalize()} (new clip)", None, clips)

    def _clip(self, clip_id: str) -> Clip:
        return self.project.find_clip(clip_id)[1]

    def _plan_for(self, kind: str, clip: Clip, build: Callable[[], Any], land: Callable[[int, Any], list[str]],
                  **extra: Any) -> _Plan:
        return _Plan(kind, clip.id, clip.audio, (clip.offset_s, clip.duration_s), build, land,
                     extra={"start_s": clip.start_s, "name": clip.name, **extra})

    # -- the edits (GUI thread: capture; build: helper thread; land: GUI thread) ----------------------

    def _plan_inpaint(self, params: dict[str, Any]) -> _Plan:
        clip = self.target_clip()
        common = self._generation_kwargs(params["prompt"], clip)
        mask = self.masks.get(clip.id)
        boxes = None
        if mask.is_empty:
            span = self._selection_in_clip(clip)
            if span is None:
                raise EditError("Paint a mask on the clip (Edit > Spectrogram) or select a time range on it first.")
            sel = self.project.selection
            boxes = ((span[0], span[1], sel.freq_lo_hz, sel.freq_hi_hz),)
        else:
            boxes = mask.boxes(clip.total_s)
        audio, rate = clip.audio, clip.sample_rate_hz

        def build() -> InpaintJob:
            region: dict[str, Any] = {"boxes": boxes} if boxes is not None else {}
            if boxes is None:
                from engine.pipelines.landing import working_length

                sp = _preset_params(common.get("spectrogram_preset", "riffusion"), common.get("height"))
                raster = mask.job_mask(working_length(audio.shape[1], rate, sp.sample_rate), sp)
                if not (raster >= 0.5).any():
                    raise EditError("The clip's mask covers nothing (paint more, or use less erasing or a harder brush).")
                region = {"mask": raster}
            return InpaintJob(audio=audio, sample_rate_hz=rate, strength=params["strength"],
                              feather_px=mask.feather_px, context_s=_region_context_s(common["window_s"]),
                              **region, **common)

        def land(job_id: int, results: list[GenerationResult]) -> list[str]:
            return self._replace(self._clip(clip.id), results[0], "Inpaint", keep_trim=True)

        return self._plan_for("inpaint", clip, build, land)

    @staticmethod
    def _audible(clip: Clip, stop: int | None = None) -> np.ndarray:
        """The clip's audible samples (up to ``stop``), at its own rate: a view the job spec copies."""
        first, end = clip.sample_range()
        return clip.audio[:, first : end if stop is None else stop]

    def _plan_extend(self, params: dict[str, Any]) -> _Plan:
        clip = self.target_clip()
        if params["left_s"] + params["right_s"] <= 0:
            raise EditError("Set how many seconds to add on the left and/or the right.")
        common = self._generation_kwargs(params["prompt"], clip)
        audible, rate = self._audible(clip), clip.sample_rate_hz
        context_s = min(params["context_s"], common["window_s"] - MIN_NEW_PER_WINDOW_S)

        def build() -> ExtendJob:
            return ExtendJob(audio=audible, sample_rate_hz=rate, left_s=params["left_s"],
                             right_s=params["right_s"], prompt_left=params["prompt_left"], context_s=context_s,
                             **common)

        def land(job_id: int, results: list[GenerationResult]) -> list[str]:
            return self._land_extension(self._clip(clip.id), results[0], "Extend")

        return self._plan_for("extend", clip, build, land)

    def _land_extension(self, clip: Clip, result: GenerationResult, text: str) -> list[str]:
        """The extended audio replaces the clip; the original samples stay where they were on the
        timeline (a left extension moves the clip's start left by the added seconds)."""
        added = int(result.recipe.extra.get("offset_samples", 0)) / result.sample_rate_hz
        new_start = clip.start_s - added
        if new_start < 0:
            self._show(f"The clip cannot start before 0 s: its audio now starts {-new_start:.2f} s later.")
        return self._replace(clip, result, text, keep_trim=False, new_start_s=max(0.0, new_start),
                             mask_shift_s=added - clip.offset_s)

    def _plan_continue(self, params: dict[str, Any]) -> _Plan:
        sel = self.project.selection
        if not sel.has_time_range:
            raise EditError("Select a time range on a clip: the clip continues from the end of the selection.")
        clip = self.target_clip()
        if not clip.start_s < sel.end_s <= clip.end_s + 1e-9:
            raise EditError(f"The selection must end inside the clip {clip.name!r}.")
        if params["right_s"] <= 0:
            raise EditError("Set how many seconds to continue by ('Right' in the Extend tab).")
        first, _ = clip.sample_range()
        stop = first + int(round((sel.end_s - clip.start_s) * clip.sample_rate_hz))
        common = self._generation_kwargs(params["prompt"], clip)
        audible, rate = self._audible(clip, stop), clip.sample_rate_hz
        context_s = min(max(sel.end_s - max(sel.start_s, clip.start_s), 0.0), common["window_s"] - MIN_NEW_PER_WINDOW_S)

        def build() -> ExtendJob:
            return ExtendJob(audio=audible, sample_rate_hz=rate, right_s=params["right_s"],
                             context_s=context_s, **common)

        def land(job_id: int, results: list[GenerationResult]) -> list[str]:
            return self._land_extension(self._clip(clip.id), results[0], "Continue from selection")

        return self._plan_for("continue", clip, build, land)

    def _plan_loop(self, params: dict[str, Any]) -> _Plan:
        clip = self.target_clip()
        common = self._generation_kwargs(params["prompt"], clip)
        span = self._selection_in_clip(clip)
        # Times relative to the audible start (what is sent).
        rel = None if span is None else (span[0] - clip.offset_s, span[1] - clip.offset_s)
        audible, rate = self._audible(clip), clip.sample_rate_hz

        def build() -> LoopJob:
            duration = audible.shape[1] / rate
            start, end = (None, None) if rel is None else (rel[0], min(rel[1], duration))
            return LoopJob(audio=audible, sample_rate_hz=rate, start_s=start, end_s=end,
                           seam_s=params["seam_s"], strength=params["strength"],
                           context_s=_region_context_s(common["window_s"]), **common)

        def land(job_id: int, results: list[GenerationResult]) -> list[str]:
            current = self._clip(clip.id)
            start_rel = 0.0 if rel is None else rel[0]
            return self._replace(current, results[0], "Make loop", keep_trim=False,
                                 new_start_s=current.start_s + start_rel,
                                 mask_shift_s=-(current.offset_s + start_rel))

        return self._plan_for("loop", clip, build, land)

    def _plan_vary(self, params: dict[str, Any]) -> _Plan:
        clip = self.target_clip()
        common = self._generation_kwargs(params["prompt"], clip)
        audio, rate, count = clip.audio, clip.sample_rate_hz, params["num_variations"]

        def build() -> VariationJob:
            return VariationJob(audio=audio, sample_rate_hz=rate,
                                strength=params["strength"], num_variations=count, **common)

        def land(job_id: int, results: list[GenerationResult]) -> list[str]:
            current = self._clip(clip.id)
            if len(results) == 1:
                return self._replace(current, results[0], "Vary", keep_trim=True)
            track = self.project.find_clip(clip.id)[0]
            copies = [current.copy(name=f"{current.name} var {r.recipe.seed}", audio=r.audio,
                                   sample_rate_hz=r.sample_rate_hz, image=r.image, recipe=r.recipe,
                                   duration_s=None if current.duration_s is None else
                                   min(current.duration_s, r.duration_s - current.offset_s))
                      for r in results]
            index = self.project.tracks.index(track)
            below = self.project.tracks[index + 1].id if index + 1 < len(self.project.tracks) else None
            return self._add_clips(f"Vary {current.name!r} ({len(results)} variations)", below, copies)

        return self._plan_for("vary", clip, build, land)

    def _plan_interpolate(self, params: dict[str, Any]) -> _Plan:
        common = self._generation_kwargs(params["prompt"])
        del common["window_s"]  # the interpolation's segment length is its own field
        if params["seed"] is not None:
            common["seed"] = params["seed"]
        if not params["prompt_to"]:
            raise EditError("Type the prompt to interpolate to ('To').")
        track = self.project.selected_track()
        track_id = track.id if track is not None else None
        start_s = self.project.playhead_s
        interp = {k: params[k] for k in ("prompt_to", "seed_to", "num_steps", "window_s", "crossfade_s")}
        interp["crossfade_s"] = min(interp["crossfade_s"], interp["window_s"] / 2)

        def build() -> InterpolateJob:
            return InterpolateJob(**interp, **common)

        def land(job_id: int, results: list[GenerationResult]) -> list[str]:
            r = results[0]
            name = f"{r.recipe.prompt[:20] or 'silence'} → {params['prompt_to'][:20]}"
            clip = Clip(name=name, audio=r.audio, sample_rate_hz=r.sample_rate_hz, start_s=start_s,
                        recipe=r.recipe, image=r.image, spectrogram_preset=common.get("spectrogram_preset", "riffusion"))
            return self._add_clips(f"Interpolate to {params['prompt_to'][:30]!r}", track_id, [clip])

        return _Plan("interpolate", None, None, (0.0, None), build, land, extra={"start_s": start_s})

    # ------------------------------------------------------------------------------ recovery

    def check_recovery(self) -> list[AutosaveInfo]:
        """Look for autosaves of sessions that crashed; offer them (``on_recovery`` callback, else a
        non-blocking message box). Returns what was found."""
        self._recovery_check_pending = False
        if self.autosave_folder is None:
            return []
        removed = remove_leftovers(self.autosave_folder)  # half-written files of killed autosaves
        if removed:
            log.info("removed %d leftover file(s) of killed autosaves from %s", len(removed), self.autosave_folder)
        found = find_recoverable(self.autosave_folder)
        if not found:
            return []
        self.recovery_found.emit(found)
        if self._on_recovery is not None:
            self._on_recovery(found)
            return found
        newest = found[0]
        box = QMessageBox(QMessageBox.Icon.Question, "Recover work",
                          f"Specdiff Studio did not close properly last time. Recover {newest.describe()}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard, self.window)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.recover(newest) if box.standardButton(button) == QMessageBox.StandardButton.Yes
            else discard(newest))
        box.show()
        self.recovery_box = box
        return found

    def recover(self, info: AutosaveInfo) -> None:
        """Load an autosave in place of the current project (off the GUI thread); it comes back
        unsaved, with its own file name if it had one, and its masks. ``recovered(path)`` follows."""
        self.client.run_in_thread("recover", lambda: load_project_file(info.path),
                                  lambda loaded: self._on_recovered(info, loaded),
                                  lambda exc: self._show(f"Could not recover {info.describe()}: {exc}"))

    def _on_recovered(self, info: AutosaveInfo, loaded: LoadedProject) -> None:
        loaded.project.path = info.project_path
        try:
            self.window.replace_document(loaded)
        except Exception as exc:  # noqa: BLE001 - the previous document is back; the autosave stays
            log.exception("showing the recovered project failed")
            self._show(f"Could not recover {info.describe()}: {exc}")
            return
        self.undo_stack.clear()
        self.undo_stack.resetClean()  # recovered work is unsaved work
        discard(info)
        if self.autosaver is not None:
            self.autosaver.autosave_now()  # keep it safe under this session's autosave
        self._show(f"Recovered {info.describe()}.")
        self.recovered.emit(str(info.path))

    @staticmethod
    def discard_autosave(info: AutosaveInfo) -> None:
        discard(info)


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
