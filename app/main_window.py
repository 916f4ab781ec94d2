"""The main window: timeline in the centre, prompt / inspector / jobs / history docks, menus,
status bar, import and export, generation results landing as clips. Wiring only: no DSP, no torch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from app import io_actions
from app.engine_client import EngineClient, ModelListing
from app.model.commands import AddTrack, CommandGroup
from app.model.generation import NATIVE_SIZE, GenerationSettings, duration_for_size
from app.model.project import Clip, Project, Selection
from app.settings import AppSettings
from app.undo import UndoStack
from app.widgets.qt_inspector import QtInspector
from app.widgets.qt_job_panel import QtJobPanel
from app.widgets.qt_class_browser import QtClassBrowser
from app.widgets.qt_prompt_panel import QtPromptPanel, preset_names
from app.widgets.qt_status import QtStatus
from engine.api import EngineSettings, JobSpec, TaskResult

log = logging.getLogger(__name__)

APP_TITLE = "Specdiff Studio"
#: Setting: the timeline's spectrogram colour map and range in dB, as [name, dB].
SPECTROGRAM_STYLE_KEY = "spectrogram_style"
STATUS_MESSAGE_MS = 6000
DEFAULT_WINDOW_SIZE = QSize(1400, 860)
HUB_CHECK_INTERVAL_MS = 60_000


def _optional_widget(module: str, name: str) -> Any:
    """A widget class from the timeline helper's modules, or None while they are not there."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        log.info("%s.%s is not available yet; using a placeholder", module, name)
        return None


class _PendingJob:
    """Where a job's results land: captured on the GUI thread when it was submitted."""

    def __init__(self, spec: JobSpec, track_id: str | None, start_s: float) -> None:
        self.spec = spec
        self.track_id = track_id
        self.start_s = start_s


class MainWindow(QMainWindow):
    """The application window over one :class:`Project`.

    Signals (for tests and tools): ``clips_generated(job_id, list[Clip])``,
    ``import_finished(list[ImportResult])``, ``export_finished(path)``,
    ``export_failed(message)``, ``project_saved(path)``, ``project_loaded(path)``,
    ``project_open_failed(message)``, ``document_replaced(LoadedProject)`` (a new document is in,
    masks included: tools that keep per-project state take theirs from it).
    """

    clips_generated = Signal(int, object)
    import_finished = Signal(object)
    export_finished = Signal(str)
    export_failed = Signal(str)
    project_saved = Signal(str)
    #: File > Collect Files… finished copying (the app.model.collect.CollectPlan).
    files_collected = Signal(object)
    project_loaded = Signal(str)
    project_open_failed = Signal(str)
    document_replaced = Signal(object)
    #: The hub reachability check finished (True: reachable).
    hub_checked = Signal(bool)
    #: Opening a project: what the loader thread is doing (shown in the status bar; queued).
    open_progressed = Signal(str)

    def __init__(
        self,
        client: EngineClient,
        settings: AppSettings,
        project: Project | None = None,
        *,
        player: Any = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.project = project or Project.with_track()
        self.undo_stack = UndoStack(self)
        self.ask_before_closing = True
        self.model_listing: ModelListing | None = None
        self._busy_io = 0
        #: Builds the immutable snapshot File > Save writes (on the GUI thread; must be cheap).
        #: Tools that keep more per-project state (masks) replace it to add theirs.
        self.capture_project_snapshot: Callable[[], Any] = lambda: io_actions.ProjectSnapshot.capture(self.project)
        self.last_import_errors: list[tuple[str, str]] = []
        self.open_error_box: QMessageBox | None = None
        self._opened_message = ""
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(default_window_size(self.screen().availableGeometry().size()))

        self.player = player if player is not None else self._make_player()
        self._build_centre()
        self._build_docks()
        self._build_status()
        self._build_actions()
        self._build_menus()
        self._connect()
        # Spectrogram editing (masks, inpaint/extend/loop/vary/interpolate, autosave) adds its own
        # docks and toolbar: install before restoring the saved layout so they get their places.
        from app.edit_tools import install_edit_tools

        self.edit_tools = install_edit_tools(self)
        self._restore_state()
        self._update_title()
        self.refresh_models()
        self._remove_save_leftovers()

    def _remove_save_leftovers(self) -> None:
        """Delete, off the GUI thread, what killed saves of earlier sessions left next to the
        recent projects (temporary files whose writing process is gone; a running instance's
        stay)."""
        from engine.audio.io import remove_leftover_temps

        folders = {str(Path(p).parent) for p in self.settings.recent_files}
        if not folders:
            return

        def work() -> int:
            return sum(len(remove_leftover_temps(folder)) for folder in sorted(folders))

        self.client.run_in_thread("leftovers", work, lambda n: n and log.info("removed %d leftover save file(s)", n),
                                  lambda exc: log.warning("could not remove leftover save files: %s", exc), essential=False)

    # ------------------------------------------------------------------------------ building

    def _make_player(self) -> Any:
        try:
            from engine.audio.playback import Player
        except ImportError:
            return None
        player = Player()
        device = self.settings.audio_output_device
        if device is not None:
            try:
                player.set_device(device)
            except ValueError:
                log.warning("saved audio output device %r is gone; using the default", device)
        return player

    def _build_centre(self) -> None:
        timeline_cls = _optional_widget("app.widgets.qt_timeline", "QtTimeline")
        transport_cls = _optional_widget("app.widgets.qt_transport", "QtTransport")
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        if transport_cls is not None:
            self.transport = self._construct(transport_cls, project=self.project, player=self.player)
        else:
            self.transport = None
        if timeline_cls is not None:
            self.timeline = timeline_cls(self.project, self.undo_stack)
        else:
            self.timeline = QLabel("Timeline")
            self.timeline.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.timeline.setObjectName("timelinePlaceholder")
        if self.transport is not None:
            layout.addWidget(self.transport)
        layout.addWidget(self.timeline, 1)
        self.setCentralWidget(centre)

    @staticmethod
    def _construct(cls: type, **kwargs: Any) -> Any:
        """Build a widget passing only the keyword arguments its constructor accepts."""
        import inspect

        params = inspect.signature(cls).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return cls(**kwargs)
        return cls(**{k: v for k, v in kwargs.items() if k in params})

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() needs object names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        #: The generation settings the prompt panel shows and every job starts from.
        self.generation = GenerationSettings(preset_names())
        self.prompt_panel = QtPromptPanel(settings=self.generation)
        self.prompt_panel.lora_picker.cache_dir = self.client.settings.cache_dir
        self.inspector = QtInspector(self.project)
        self.job_panel = QtJobPanel(self.client)
        self.history_view = QUndoView(self.undo_stack)
        self.history_view.setEmptyLabel("<empty project>")
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.prompt_dock = self._dock("Prompt", "promptDock", self.prompt_panel, left)
        self.class_browser = QtClassBrowser()
        self.classes_dock = self._dock("Sound Classes", "classesDock", self.class_browser, left)
        self.tabifyDockWidget(self.prompt_dock, self.classes_dock)
        self.prompt_dock.raise_()
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector, right)
        self.jobs_dock = self._dock("Jobs", "jobsDock", self.job_panel, right)
        self.history_dock = self._dock("History", "historyDock", self.history_view, right)
        self.tabifyDockWidget(self.inspector_dock, self.history_dock)
        self.inspector_dock.raise_()
        # The timeline gets most of the room: the side docks take about a quarter each, less on
        # a small screen (restored layouts override this).
        width, height = self.width(), self.height()
        side = [min(360, max(270, round(width * 0.22))), min(380, max(290, round(width * 0.23)))]
        self.resizeDocks([self.prompt_dock, self.inspector_dock], side, Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock, self.jobs_dock], [round(height * 0.62), round(height * 0.25)],
                         Qt.Orientation.Vertical)

    def _build_status(self) -> None:
        self.status = QtStatus()
        self.statusBar().addPermanentWidget(self.status)
        self.status.set_engine_settings(self.client.settings)
        self.hub_timer = QTimer(self)
        self.hub_timer.setInterval(HUB_CHECK_INTERVAL_MS)
        self.hub_timer.timeout.connect(self.check_hub)
        self._hub_check_running = False
        QTimer.singleShot(0, self.check_hub)
        available, reason = self.player.available() if self.player is not None else (False, "Playback module missing")
        self.playback_available = available
        self.playback_reason = reason
        self.status.set_playback(available, reason)
        if not available:
            self.statusBar().showMessage(reason, STATUS_MESSAGE_MS * 2)

    def _action(self, text: str, slot: Any, shortcut: Any = None, *, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda *_: slot())
        self.addAction(action)  # shortcuts work even when menus are hidden
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.new_action = a("&New Project", self.new_project, QKeySequence.StandardKey.New)
        self.open_action = a("&Open Project…", self.open_project_dialog, QKeySequence.StandardKey.Open)
        self.save_action = a("&Save Project", self.save_project, QKeySequence.StandardKey.Save)
        self.save_as_action = a("Save Project &As…", self.save_project_as_dialog, "Ctrl+Shift+S")
        self.collect_action = a("&Collect Files…", self.collect_files)
        self.collect_action.setToolTip(
            "Copy the audio files the clips were imported from into a media folder next to the project"
        )
        self.import_action = a("&Import…", self.import_dialog, "Ctrl+I",
                               tip="Add audio files or Riffusion spectrogram images (PNG) as clips")
        self.export_action = a("&Export…", self.export_dialog, "Ctrl+E",
                               tip="Write a clip, a selection or the mix as audio, or as a spectrogram image")
        self.quit_action = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(QKeySequence.StandardKey.Redo)])
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        self.generate_action = a("&Generate", self.prompt_panel.request_generate, ["Ctrl+Return", "Ctrl+Enter"])
        self.settings_action = a("&Settings…", self.open_settings_dialog, ["Ctrl+,"])
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.models_action = a("&Model Manager…", self.open_model_manager, "Ctrl+M")
        self.unload_action = a("&Unload Models", self.unload_models, tip="Free the memory the loaded model uses")
        self.lora_wizard_action = a("Train a &LoRA…", self.open_lora_wizard,
                                    tip="Fine-tune a model on your own sounds; the LoRA joins your library")
        self.add_track_action = a("Add &Track", self.add_track, "Ctrl+T")
        from app.edit_landing import RESULTS_ON_NEW_TRACK_KEY

        self.new_track_results_action = a(
            "Results on a &New Track", lambda: self.settings.set(RESULTS_ON_NEW_TRACK_KEY, self.new_track_results_action.isChecked()),
            tip="Generations, edits that make new clips and imports land on a new track",
        )
        self.new_track_results_action.setCheckable(True)
        self.new_track_results_action.setChecked(bool(self.settings.get(RESULTS_ON_NEW_TRACK_KEY, False)))
        timeline_actions = getattr(self.timeline, "timeline_actions", None)
        if callable(timeline_actions):
            # The timeline's own actions (same objects, so no ambiguous shortcuts), answering
            # whichever widget has focus: zoom, split, delete work from the docks too. Text
            # fields still get the keys they type (+, -, Delete) through Qt's ShortcutOverride.
            self.timeline_menu_actions = list(timeline_actions())
            for action in self.timeline_menu_actions:
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        else:
            self.timeline_menu_actions = [
                a("Zoom &In", lambda: self._timeline_call("zoom_in"), [QKeySequence.StandardKey.ZoomIn, "Ctrl+="]),
                a("Zoom &Out", lambda: self._timeline_call("zoom_out"), QKeySequence.StandardKey.ZoomOut),
                a("Zoom to &Fit", lambda: self._timeline_call("zoom_to_fit"), "Ctrl+0"),
            ]
        if self.transport is not None:
            self.transport_menu_actions = [
                act
                for act in (getattr(self.transport, n, None) for n in
                            ("play_action", "stop_action", "play_selection_action", "loop_action"))
                if act is not None
            ]
        else:
            play = a("&Play / Pause", lambda: self._transport_call("toggle_play"), "Space")
            stop = a("&Stop", lambda: self._transport_call("stop"))
            for action in (play, stop):
                action.setEnabled(False)
                action.setToolTip(self.playback_reason)
            self.transport_menu_actions = [play, stop]
        self.shortcuts_action = a("&Keyboard Shortcuts", self.show_shortcuts, ["Ctrl+/", "F1"],
                                  tip="Every shortcut, searchable")
        self.about_action = a("&About", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.new_action, self.open_action):
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        for action in (self.save_action, self.save_as_action, self.collect_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.add_track_action)
        edit_menu.addAction(self.new_track_results_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.settings_action)

        view_menu = bar.addMenu("&View")
        for action in self.timeline_menu_actions:
            if "zoom" in action.text().lower():
                view_menu.addAction(action)
            else:
                edit_menu.insertAction(self.settings_action, action)
        edit_menu.insertSeparator(self.settings_action)
        view_menu.addSeparator()
        for dock in (self.prompt_dock, self.classes_dock, self.inspector_dock, self.jobs_dock, self.history_dock):
            view_menu.addAction(dock.toggleViewAction())

        transport_menu = bar.addMenu("&Transport")
        for action in self.transport_menu_actions:
            transport_menu.addAction(action)

        generate_menu = bar.addMenu("&Generate")
        generate_menu.addAction(self.generate_action)
        generate_menu.addSeparator()
        generate_menu.addAction(self.models_action)
        generate_menu.addAction(self.unload_action)

        tools_menu = bar.addMenu("&Tools")
        tools_menu.addAction(self.lora_wizard_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

    def _connect(self) -> None:
        self.prompt_panel.generate_requested.connect(self._on_prompt_panel_generate_requested)
        self.class_browser.model_manager_requested.connect(self.open_model_manager)
        self.generation.events.changed.connect(self._on_generation_changed)
        self.prompt_panel.model_manager_requested.connect(self.open_model_manager)
        self.class_browser.prompt_chosen.connect(self.use_class_prompt)
        self.class_browser.generate_chosen.connect(lambda prompt, size: self.use_class_prompt(prompt, size, generate=True))
        self.inspector.regenerate_requested.connect(self.generate)
        self.inspector.regenerate_failed.connect(lambda reason: self.show_message(f"Cannot regenerate: {reason}"))
        self.inspector.use_settings_requested.connect(self._on_inspector_use_settings_requested)
        self.client.models_listed.connect(self._on_client_models_listed)
        self.client.engine_restarted.connect(self._on_client_engine_restarted)
        self.client.task_failed.connect(self._on_client_task_failed)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        if hasattr(self.timeline, "clip_activated"):
            self.timeline.clip_activated.connect(self._on_timeline_clip_activated)
            self.timeline.drag_out_failed.connect(lambda message: self.show_message(message, STATUS_MESSAGE_MS * 2))
        if hasattr(self.timeline, "rebuild_progressed"):
            self.timeline.rebuild_progressed.connect(self._on_timeline_rebuild_progressed)
        if hasattr(self.timeline, "spectrogram_style_changed"):
            saved = self.settings.get(SPECTROGRAM_STYLE_KEY)
            try:
                self.timeline.set_spectrogram_style(*saved)
            except (TypeError, ValueError):  # none saved yet, or from another version
                pass
            self.timeline.spectrogram_style_changed.connect(
                lambda colormap, range_db: self.settings.set(SPECTROGRAM_STYLE_KEY, [colormap, range_db])
            )
        self.open_progressed.connect(lambda text: self.show_message(text, 0))
        if self.transport is not None:
            if hasattr(self.transport, "output_device_changed"):
                self.transport.output_device_changed.connect(self._on_transport_output_device_changed)
            if hasattr(self.transport, "playback_failed"):
                self.transport.playback_failed.connect(lambda message: self.show_message(message))
            if hasattr(self.transport, "track_levels_measured") and hasattr(self.timeline, "set_track_levels"):
                self.transport.track_levels_measured.connect(self.timeline.set_track_levels)

    def _timeline_call(self, method: str, *args: Any) -> None:
        fn = getattr(self.timeline, method, None)
        if callable(fn):
            fn(*args)

    def _transport_call(self, method: str) -> None:
        fn = getattr(self.transport, method, None) if self.transport is not None else None
        if callable(fn):
            fn()
        elif not self.playback_available:
            self.statusBar().showMessage(self.playback_reason, STATUS_MESSAGE_MS)

    # ------------------------------------------------------------------------------ state

    def _restore_state(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self.prompt_panel.restore_state(self.settings.prompt_state)
        self.class_browser.restore_state(self.settings.class_browser_state)
        self._on_generation_changed("model", self.generation.model)

    def save_state(self) -> None:
        """Write window layout and panel fields to the settings."""
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.prompt_state = self.prompt_panel.state()
        self.settings.class_browser_state = self.class_browser.state()
        self.settings.sync()

    def _update_title(self, clean: bool | None = None) -> None:
        name = Path(self.project.path).name if self.project.path else "Untitled"
        self.setWindowModified(not (self.undo_stack.isClean() if clean is None else clean))
        self.setWindowTitle(f"{name}[*] - {APP_TITLE}")

    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        self._update_title(clean)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.ask_before_closing and not self.undo_stack.isClean() and not self._confirm_discard("closing"):
            event.ignore()
            return
        self.save_state()
        self.shutdown_views()
        super().closeEvent(event)

    def close_for_signal(self, signum: int | None = None) -> None:
        """Close without asking (SIGTERM from a logout or ``kill``, Ctrl+C in the terminal).

        With nothing unsaved this is a normal close: the session's autosave is deleted. Unsaved
        changes are not thrown away unasked: the autosave is written one last time and kept, and
        the next start offers to recover it.
        """
        log.info("signal %s: closing", signum)
        tools = getattr(self, "edit_tools", None)
        if tools is not None:
            tools.shutdown(keep_autosave=not self.undo_stack.isClean())
        self.ask_before_closing = False
        self.close()

    def shutdown_views(self) -> None:
        """Stop the views' listeners and workers and release the audio output."""
        self.hub_timer.stop()
        self.inspector.close_model()
        for view in (self.timeline, self.transport):
            shutdown = getattr(view, "shutdown", None)
            if callable(shutdown):
                shutdown()
        if self.transport is None and self.player is not None and hasattr(self.player, "close"):
            self.player.close()

    def _confirm_discard(self, doing: str) -> bool:
        """Ask to save unsaved changes before ``doing``; False = the user cancelled."""
        answer = QMessageBox.question(
            self,
            APP_TITLE,
            f"The project has unsaved changes. Save them before {doing}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    def show_message(self, text: str, timeout_ms: int = STATUS_MESSAGE_MS) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def use_class_prompt(self, prompt: str, size: str, *, generate: bool = False) -> None:
        """A class browser prompt (seed 001's templates) goes into the prompt panel.

        "Use" also puts its output size (and that size's duration) into the panel, as the user
        asked; "Generate" (``generate``) uses the size for that one job only, so the panel's
        size and duration stay what they were for later generations. A model that does class
        prompts badly (the synthetic-sounds starter) says so before generating."""
        overrides: dict[str, Any] = {}
        try:
            if generate and size != NATIVE_SIZE:
                overrides = {"size": size, "duration_s": duration_for_size(size, self.generation.preset)}
            elif not generate:
                self.generation.set_output_size(size)
        except ValueError as exc:
            self.show_message(str(exc))
            return
        self.generation.set(prompt=prompt)
        self.prompt_dock.show()
        self.prompt_dock.raise_()
        if not generate:
            self.prompt_panel.prompt_edit.setFocus()
            return
        try:
            spec = self.prompt_panel.spec(**overrides)
        except ValueError as exc:
            self.prompt_panel.show_message(str(exc))
            return
        self.run_after_caution("sound_classes", spec.model, lambda: self.generate(spec))

    def _on_prompt_panel_generate_requested(self, spec: JobSpec) -> None:
        self.run_after_caution("generate", getattr(spec, "model", ""), lambda: self.generate(spec))

    def run_after_caution(self, task: str, model: str, proceed: Callable[[], Any]) -> bool:
        """Run ``proceed()`` now when nothing is known against ``model`` doing ``task`` (True);
        otherwise say what the model does badly in a box that does not block, whose buttons go
        on anyway, open the model manager, or cancel (False; ``caution_box`` holds the box)."""
        from engine.models.catalog import task_caution

        caution = task_caution(model, task)
        if not caution:
            proceed()
            return True
        box = QMessageBox(QMessageBox.Icon.Warning, APP_TITLE, caution, QMessageBox.StandardButton.Cancel, self)
        go_on = box.addButton("Go On", QMessageBox.ButtonRole.AcceptRole)
        manager = box.addButton("Open Model Manager", QMessageBox.ButtonRole.ActionRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def clicked(button: Any) -> None:
            if button is go_on:
                proceed()
            elif button is manager:
                self.open_model_manager()

        box.buttonClicked.connect(clicked)
        box.show()
        self.caution_box = box
        self.show_message(caution, STATUS_MESSAGE_MS * 2)
        return False

    def _on_generation_changed(self, name: str, value: Any) -> None:
        if name == "model":
            from engine.models.catalog import model_hints, task_caution

            self.class_browser.follow_model(model_hints(value), task_caution(value, "sound_classes"))

    # ------------------------------------------------------------------------------ models

    def refresh_models(self) -> None:
        """List models off the GUI thread; the prompt panel and model manager update after."""
        self.client.request_models(self.settings.local_model_folders)

    def _on_client_models_listed(self, listing: ModelListing) -> None:
        self.model_listing = listing
        self.prompt_panel.set_models(listing, self.settings.default_model)

    def check_hub(self) -> None:
        """Show whether the model hub can be reached (checked off the GUI thread, every
        HUB_CHECK_INTERVAL_MS; in offline mode nothing is checked and no call is made)."""
        from app.widgets.qt_status import HUB_OFFLINE_MODE, HUB_REACHABLE, HUB_UNREACHABLE

        try:
            store = self.client.store
        except RuntimeError:  # the engine has been shut down (the window is closing)
            self.hub_timer.stop()
            return
        if store.is_offline:
            self.hub_timer.stop()
            self.status.set_hub_state(HUB_OFFLINE_MODE)
            return
        self.hub_timer.start()
        if self._hub_check_running:
            return
        self._hub_check_running = True
        endpoint = store.endpoint or "the Hugging Face hub"

        def done(reachable: bool) -> None:
            self._hub_check_running = False
            if not store.is_offline and store is self.client.store:
                self.status.set_hub_state(HUB_REACHABLE if reachable else HUB_UNREACHABLE, endpoint)
            self.hub_checked.emit(bool(reachable))

        def failed(exc: BaseException) -> None:
            done(False)

        self.client.run_in_thread("hub-check", store.hub_reachable, done, failed, essential=False)

    def _on_client_engine_restarted(self, settings: EngineSettings) -> None:
        self.status.set_engine_settings(settings)
        self.prompt_panel.lora_picker.cache_dir = settings.cache_dir
        self.check_hub()
        self.show_message("Engine settings applied.")
        self.refresh_models()

    def _on_client_task_failed(self, what: str, message: str) -> None:
        self.show_message(f"{what}: {message}")

    def apply_engine_settings(self, settings: EngineSettings) -> None:
        """Save new engine settings and restart the engine (now, or when the jobs end)."""
        self.settings.set_engine_settings(settings)
        if settings == self.client.settings:
            return
        if not self.client.restart(settings):
            self.show_message("The new engine settings apply when the running jobs finish.")

    def unload_models(self) -> None:
        from engine.api import UnloadModelsJob

        self.client.submit(UnloadModelsJob())

    def open_model_manager(self) -> None:
        from app.dialogs.model_manager import ModelManagerDialog

        dialog = getattr(self, "model_manager", None)
        if dialog is None:
            dialog = ModelManagerDialog(self.client, self.settings, self)
            dialog.models_changed.connect(self.refresh_models)
            dialog.engine_settings_changed.connect(self.apply_engine_settings)
            self.model_manager = dialog
        dialog.show()
        dialog.raise_()
        dialog.refresh()

    def open_lora_wizard(self) -> Any:
        """Tools > Train a LoRA…: one wizard per window (a run keeps going while it is hidden)."""
        from app.widgets.lora_wizard import LoraWizard

        wizard = getattr(self, "lora_wizard", None)
        if wizard is None:
            combo = self.prompt_panel.model_combo
            models = [(combo.itemData(i), combo.itemText(i)) for i in range(combo.count()) if combo.itemData(i)]
            wizard = LoraWizard(self.client, generation=self.generation, project=self.project, settings=self.settings,
                                models=models, parent=self)
            wizard.lora_trained.connect(lambda _entry: self.prompt_panel.lora_picker.refresh())
            self.lora_wizard = wizard
        wizard.show()
        wizard.raise_()
        return wizard

    def open_settings_dialog(self) -> None:
        from app.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.client.settings, self.player, self)
        dialog.engine_settings_changed.connect(self.apply_engine_settings)
        dialog.audio_device_changed.connect(self._on_settings_audio_device_changed)
        dialog.open()
        self.settings_dialog = dialog

    def _on_timeline_clip_activated(self, clip_id: str) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()

    def _on_transport_output_device_changed(self, device_id: object) -> None:
        self.settings.audio_output_device = device_id

    def _on_settings_audio_device_changed(self, device_id: object) -> None:
        self.settings.audio_output_device = device_id
        set_output_device = getattr(self.transport, "set_output_device", None)
        if callable(set_output_device):
            if not set_output_device(device_id):
                self.show_message("Could not use that output device.")
        elif self.player is not None:
            try:
                self.player.set_device(device_id)
            except Exception as exc:  # a device that vanished, a PortAudio error
                self.show_message(f"Could not use that output device: {exc}")

    # ------------------------------------------------------------------------------ generation

    def generate(self, spec: JobSpec) -> int | None:
        """Submit a generation; its clips land at the current playhead on the selected track.
        Returns the job id (None when the engine refused the job)."""
        track = self.project.selected_track()
        try:
            handle = self.client.submit(spec)
        except (RuntimeError, ValueError) as exc:
            self.show_message(f"Could not start the job: {exc}")
            return None
        pending = _PendingJob(spec, track.id if track else None, self.project.playhead_s)
        handle.finished.connect(lambda result: self._on_generation_finished(handle.job_id, pending, result))
        handle.failed.connect(lambda message, _kind: self._on_generation_failed(pending, message))
        self.jobs_dock.raise_()
        return handle.job_id

    def _on_generation_finished(self, job_id: int, pending: _PendingJob, result: Any) -> None:
        if not isinstance(result, (tuple, list)):
            return
        results = [r for r in result if isinstance(r, TaskResult)]
        if not results:
            return
        self.project.remember_inputs(pending.spec, [r.recipe for r in results])  # for Regenerate
        clips, track_id = self._land_results(pending, results)
        first = results[0].recipe
        self.prompt_panel.note_used_seed(first.seed)
        self.status.set_device_used(first.device)
        # The landing selected the first clip and scrolled to it; listeners hear on the next turn.
        QTimer.singleShot(0, lambda: self.clips_generated.emit(job_id, clips))

    def _on_generation_failed(self, pending: _PendingJob, message: str) -> None:
        self.show_message(f"{pending.spec.describe()} failed: {message}", STATUS_MESSAGE_MS * 2)
        self.jobs_dock.raise_()

    def _land_results(self, pending: _PendingJob, results: list[TaskResult]) -> tuple[list[Clip], str]:
        """One undo step: a clip per variation, at the playhead of the job's start on the target
        track if free (else after its last clip), variations on the tracks below where free
        (app.model.placement: never over another clip)."""
        project = self.project
        track_id = pending.track_id if any(t.id == pending.track_id for t in project.tracks) else None
        if track_id is None:
            selected = project.selected_track() or (project.tracks[0] if project.tracks else None)
            track_id = selected.id if selected is not None else None
        preset = getattr(pending.spec, "spectrogram_preset", "riffusion")
        clips = [Clip(name=_clip_name(r), audio=r.audio, sample_rate_hz=r.sample_rate_hz, start_s=pending.start_s,
                      recipe=r.recipe, image=r.image, spectrogram_preset=preset) for r in results]
        prompt = getattr(pending.spec, "prompt", "")
        text = f"Generate {prompt[:30]!r}" + (f" ({len(clips)} variations)" if len(clips) > 1 else "")
        self.edit_tools.landing.add_clips(text, track_id, clips)
        return clips, project.find_clip(clips[0].id)[0].id

    def _on_inspector_use_settings_requested(self, recipe: Any, clip: Clip) -> None:
        from engine.api import spec_from_recipe

        try:
            spec = spec_from_recipe(recipe) if recipe.task == "generate" else None
        except ValueError:  # a recipe this version cannot reproduce
            spec = None
        if spec is not None:
            self.prompt_panel.apply_spec(spec)
        else:  # another task's recipe: take what text-to-audio shares with it
            self.prompt_panel.apply_recipe(recipe, duration_s=clip.total_s, preset=clip.spectrogram_preset)
        self.prompt_dock.raise_()

    def add_track(self) -> None:
        self.undo_stack.push_command(AddTrack(self.project))

    # ------------------------------------------------------------------------------ import

    def import_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import audio", self.settings.last_directory, io_actions.import_file_filter()
        )
        if paths:
            self.settings.last_directory = str(Path(paths[0]).parent)
            self.import_files(paths)

    def import_files(self, paths: list[str]) -> None:
        """Read files off the GUI thread; they land one after another on the selected track, from
        the playhead if that is free (else after the track's last clip), as one undo step, and are
        selected. Files that fail are reported, the others still import."""
        track = self.project.selected_track()
        target = (track.id if track else None, self.project.playhead_s)
        self.show_message(f"Importing {len(paths)} file(s)…", 0)
        self._busy_io += 1
        self.client.run_in_thread(
            "import",
            lambda: io_actions.read_clips(paths),
            lambda results: self._on_import_read(results, target),
            lambda exc: self._on_import_read([io_actions.ImportResult(str(p), None, str(exc)) for p in paths], target),
        )

    def _on_import_read(self, results: list[io_actions.ImportResult], target: tuple[str | None, float]) -> None:
        self._busy_io -= 1
        clips = [r.clip for r in results if r.clip is not None]
        self.last_import_errors = [(r.path, r.error) for r in results if r.error]
        if clips:
            track_id, start_s = target
            clips[0].start_s = start_s
            text = f"Import {clips[0].name!r}" if len(clips) == 1 else f"Import {len(clips)} files"
            # One after another from the playhead if that is free, else after the track's last clip.
            ids = self.edit_tools.landing.add_clips(text, track_id, clips, arrangement="sequence")
            track_id = self.project.find_clip(ids[0])[0].id
            self.project.set_selection(Selection(clip_ids=frozenset(ids), track_id=track_id))
        if self.last_import_errors:
            lines = "\n".join(f"{Path(p).name}: {e}" for p, e in self.last_import_errors)
            self.show_message(f"{len(self.last_import_errors)} file(s) could not be imported", STATUS_MESSAGE_MS * 2)
            self.import_error_box = self._notify("Import", f"Some files could not be imported:\n\n{lines}")
        else:
            self.show_message(f"Imported {len(clips)} file(s).")
        self.import_finished.emit(results)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if io_actions.dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if io_actions.dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = io_actions.dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            # Leave the drag's event handling before reading files.
            QTimer.singleShot(0, lambda: self.import_files(paths))

    # ------------------------------------------------------------------------------ export

    def export_dialog(self) -> None:
        from app.dialogs.export_dialog import ExportDialog

        dialog = ExportDialog(self.project, self.settings, self)
        dialog.export_requested.connect(self.export_audio)
        dialog.open()
        self.export_dialog_widget = dialog

    def export_audio(self, path: str, scope: str, format_key: str, preset: str = "", *,
                     on_clipping: str = "ask") -> None:
        """Capture ``scope`` ("clip", "selection" or "mix") on the GUI thread and write it as
        ``format_key`` off it, a mix block by block (a spectrogram PNG in ``preset``, by default
        the clip's).
        export_finished(path) or export_failed(message) follows.

        When a 16/24-bit file would clip (samples beyond full scale), ``on_clipping`` says what
        to do: "ask" (a dialog offering the rest), "normalize", "limit" (true peak at
        EXPORT_CEILING_DBTP), "float" (32-bit float WAV, unchanged) or "keep" (write it clipped).
        """
        try:
            source = io_actions.export_source(self.project, scope)  # a mix is not rendered here
            fmt = io_actions.export_format(format_key)
        except ValueError as exc:
            self.show_message(str(exc))
            self.export_failed.emit(str(exc))
            return
        if fmt.is_image and not preset:
            clips = self.project.selected_clips() or self.project.clips()
            preset = clips[0].spectrogram_preset if clips else "riffusion"
        if source.plan is not None and fmt.fixed_point:
            # A mix is measured block by block off the GUI thread (a long one takes a while).
            self.show_message(f"Measuring {Path(path).name}…", 0)
            self._busy_io += 1

            def measured(peak: float) -> None:
                self._busy_io -= 1
                self._export_measured(path, scope, format_key, preset, on_clipping, source, fmt, peak)

            def failed(exc: BaseException) -> None:
                self._on_export_done(path, str(exc))  # also undoes the += 1 above

            self.client.run_in_thread("export-measure", source.peak, measured, failed)
            return
        peak = source.peak() if fmt.fixed_point else 0.0  # a clip: quick
        self._export_measured(path, scope, format_key, preset, on_clipping, source, fmt, peak)

    def _export_measured(self, path: str, scope: str, format_key: str, preset: str, on_clipping: str,
                         source: Any, fmt: Any, peak: float) -> None:
        if fmt.fixed_point and peak > 1.0:
            if on_clipping == "ask":
                self._ask_about_clipping(path, scope, format_key, preset, peak, fmt)
                return
            if on_clipping == "float":
                format_key, path = "wav32f", str(Path(path).with_suffix(".wav"))
        remedy = on_clipping if fmt.fixed_point and peak > 1.0 else "keep"
        self.show_message(f"Exporting {Path(path).name}…", 0)
        self._busy_io += 1

        def work() -> None:
            io_actions.write_export_source(path, source, format_key, remedy=remedy, preset=preset or "riffusion")

        self.client.run_in_thread(
            "export",
            work,
            lambda _: self._on_export_done(path, None),
            lambda exc: self._on_export_done(path, str(exc)),
        )

    def _ask_about_clipping(self, path: str, scope: str, format_key: str, preset: str, peak: float, fmt: Any) -> None:
        """The export would clip: offer Normalise, Limit or 32-bit float (non-modal; the choice
        runs the export again)."""
        import math

        what = {"clip": "The clip", "selection": "The selection", "mix": "The mix"}.get(scope, "The audio")
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Export would clip")
        box.setText(f"{what} peaks at {20 * math.log10(peak):+.1f} dBFS: as a {fmt.label} file every sample "
                    "above full scale would be cut off (audible distortion).")
        box.setInformativeText(
            f"Normalise turns the whole export down so its true peak is {io_actions.EXPORT_CEILING_DBTP:g} dBTP. "
            "Limit turns down only the loud moments, to the same ceiling. 32-bit float keeps every sample "
            "as it is (a WAV file), for mixing elsewhere."
        )
        choices = {
            "normalize": box.addButton("Normalise", QMessageBox.ButtonRole.AcceptRole),
            "limit": box.addButton("Limit", QMessageBox.ButtonRole.AcceptRole),
            "float": box.addButton("Export as 32-bit float", QMessageBox.ButtonRole.AcceptRole),
        }
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(choices["limit"])
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def chosen(button: Any) -> None:
            choice = next((key for key, b in choices.items() if b is button), None)
            if choice is None:
                self.show_message("Export cancelled.")
                self.export_failed.emit("cancelled")
                return
            self.export_audio(path, scope, format_key, preset, on_clipping=choice)

        box.buttonClicked.connect(chosen)
        box.setModal(True)
        box.show()
        self.clipping_box = box

    def _on_export_done(self, path: str, error: str | None) -> None:
        self._busy_io -= 1
        if error:
            self.show_message(f"Export failed: {error}", STATUS_MESSAGE_MS * 2)
            self.export_failed.emit(error)
        else:
            self.settings.last_directory = str(Path(path).parent)
            self.show_message(f"Exported {path}")
            self.export_finished.emit(path)

    # ------------------------------------------------------------------------------ projects

    def new_project(self) -> None:
        if self.ask_before_closing and not self.undo_stack.isClean() and not self._confirm_discard("starting a new one"):
            return
        self.undo_stack.clear()
        self.project.replace_contents(Project.with_track())
        self._update_title()

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", self.settings.last_directory, io_actions.PROJECT_FILE_FILTER
        )
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> None:
        """Read a project file whole off the GUI thread (reading, decoding, then the waveform
        envelopes, with progress in the status bar), then swap it in (project_loaded) and let the
        timeline draw its clips in batches; a file that cannot be read leaves the open project as
        it was (project_open_failed)."""
        if self.ask_before_closing and not self.undo_stack.isClean() and not self._confirm_discard("opening another"):
            return
        from app.model.project_files import load_project_file

        name = Path(path).name
        self.show_message(f"Opening {name}: reading…", 0)
        self._busy_io += 1
        prepare = getattr(self.timeline, "prepare", None)
        say = self.open_progressed.emit
        shown = [-1]

        def progress(done: int, total: int) -> None:  # loader thread
            percent = 100 * done // max(1, total)
            if percent != shown[0]:
                shown[0] = percent
                say(f"Opening {name}: waveforms {percent}%")

        def work() -> tuple[Any, Any]:
            loaded = load_project_file(path)
            return loaded, (prepare(loaded.project, progress) if callable(prepare) else None)

        self.client.run_in_thread(
            "open-project",
            work,
            lambda result: self._on_project_read(path, *result, None),
            lambda exc: self._on_project_read(path, None, None, str(exc) or type(exc).__name__),
        )

    def _on_project_read(self, path: str, loaded: Any, prepared: Any, error: str | None) -> None:
        self._busy_io -= 1
        if loaded is not None:
            if prepared is not None:
                self.timeline.adopt(prepared)
            self._opened_message = f"Opened {path}"
            try:
                self.replace_document(loaded)
            except Exception as exc:  # noqa: BLE001 - a view failed on it; the previous document is back
                log.exception("showing %s failed", path)
                error = f"it could not be shown ({type(exc).__name__}: {exc}); the open project is unchanged."
        if error is not None:
            self._opened_message = ""
            self.show_message(f"Could not open {Path(path).name}: {error}", STATUS_MESSAGE_MS * 2)
            self.open_error_box = self._notify("Open project", f"Could not open {path}:\n{error}")
            self.project_open_failed.emit(error)
            return
        self.undo_stack.clear()
        self.settings.add_recent_file(path)
        self._update_title()
        if not getattr(self.timeline, "rebuild_pending", lambda: False)():
            self._on_timeline_rebuild_progressed(0, 0)  # nothing left to draw: say so now
        if loaded.warnings:
            shown = "\n".join(loaded.warnings[:10]) + (f"\n… and {len(loaded.warnings) - 10} more" if len(loaded.warnings) > 10 else "")
            self.open_error_box = self._notify("Open project", f"{Path(path).name} opened with warnings:\n\n{shown}")
        self.project_loaded.emit(path)

    def replace_document(self, loaded: Any) -> None:
        """Make ``loaded`` (an app.model.project_files.LoadedProject) the open document in one
        step: its project replaces this one's contents (views keep their Project object), then
        ``document_replaced`` hands its masks to the tools. If anything fails on the way, the
        previous document (tracks, masks, playhead, selection, path) is put back and the error
        re-raised. The undo history is the caller's to clear."""
        from app.model.project_files import LoadedProject

        project = self.project
        tools = getattr(self, "edit_tools", None)
        before = LoadedProject(
            Project(sample_rate_hz=project.sample_rate_hz, tracks=list(project.tracks)),
            tools.masks.for_project(project) if tools is not None else {},
        )
        before.project.path = project.path
        before.project.inputs = project.inputs
        playhead, selection = project.playhead_s, project.selection
        try:
            project.replace_contents(loaded.project)
            self.document_replaced.emit(loaded)
        except Exception:
            project.replace_contents(before.project)
            self.document_replaced.emit(before)
            project.set_playhead(playhead)
            project.set_selection(selection)
            raise

    def _on_timeline_rebuild_progressed(self, done: int, total: int) -> None:
        if done < total:
            self.show_message(f"Drawing clips {done}/{total}…", 0)
        elif self._opened_message:
            self.show_message(self._opened_message)
            self._opened_message = ""

    def _notify(self, title: str, text: str) -> QMessageBox:
        """A warning box that does not block (the window keeps working); returned for tests."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()
        return box

    def save_project(self) -> bool:
        """Save to the project's file (asks for one the first time). True when saving started."""
        if not self.project.path:
            return self.save_project_as_dialog()
        self._save_to(self.project.path)
        return True

    def save_project_as_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save project", self.settings.last_directory, io_actions.PROJECT_FILE_FILTER
        )
        if not path:
            return False
        if not path.endswith(io_actions.PROJECT_SUFFIX):
            path += io_actions.PROJECT_SUFFIX
        self._save_to(path)
        return True

    def _save_to(self, path: str) -> None:
        snapshot = self.capture_project_snapshot()  # GUI thread; arrays are immutable
        clean_index = self.undo_stack.index()
        self._busy_io += 1
        self.client.run_in_thread(
            "save-project",
            lambda: snapshot.write(path),
            lambda _: self._on_project_saved(path, clean_index, None),
            lambda exc: self._on_project_saved(path, clean_index, str(exc)),
        )

    def _on_project_saved(self, path: str, clean_index: int, error: str | None) -> None:
        self._busy_io -= 1
        if error:
            self.show_message(f"Could not save {Path(path).name}: {error}", STATUS_MESSAGE_MS * 2)
            QMessageBox.warning(self, APP_TITLE, f"Could not save {path}:\n{error}")
            return
        self.project.path = path
        if self.undo_stack.index() == clean_index:
            self.undo_stack.setClean()
        self.settings.add_recent_file(path)
        self._update_title()
        self.show_message(f"Saved {path}")
        self.project_saved.emit(path)

    def collect_files(self) -> bool:
        """Copy the clips' imported source files next to the project (File > Collect Files…) and
        point the clips at the copies (one undo step). An unsaved project is saved first. The
        copying runs off the GUI thread. True when collecting started."""
        from app.model import collect

        if not self.project.path:
            QMessageBox.information(
                self, APP_TITLE, "Collect Files copies the imported audio next to the project file: save the project first."
            )
            if not self.save_project_as_dialog():
                return False
            # The save runs in the background; collect once it has landed.
            def after_save(_path: str) -> None:
                self.project_saved.disconnect(after_save)
                self.collect_files()

            self.project_saved.connect(after_save)
            return True
        plan = collect.plan_collect(self.project, self.project.path)
        if not plan.copies and not plan.missing:
            self.show_message("Nothing to collect: no clip comes from a file outside the project's media folder.")
            return False
        self._busy_io += 1

        def done(written: list) -> None:
            self._busy_io -= 1
            commands = collect.relink_commands(self.project, plan)
            if commands:
                self.undo_stack.push_command(CommandGroup(self.project, "Collect files", commands))
            self.show_message(collect.describe(plan, written), STATUS_MESSAGE_MS * 2)
            self.files_collected.emit(plan)

        def failed(exc: BaseException) -> None:
            self._busy_io -= 1
            self.show_message(f"Could not collect files: {exc}", STATUS_MESSAGE_MS * 2)
            QMessageBox.warning(self, APP_TITLE, f"Could not collect files into {plan.folder}:\n{exc}")

        self.client.run_in_thread("collect-files", lambda: collect.copy_collected(plan), done, failed)
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda *_, p=path: self.open_project(p))
        if not recent:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", self.settings.clear_recent_files)

    # ------------------------------------------------------------------------------ misc

    @property
    def is_busy(self) -> bool:
        """True while a job or a file task is running."""
        return self.client.is_busy or self._busy_io > 0

    def about_text(self) -> str:
        """The About box's text (rich text): version, the libraries it runs on, the engine's device."""
        import platform

        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        libraries = [f"Python {platform.python_version()}", f"Qt {qVersion()}", f"PySide6 {pyside_version}"]
        libraries += [f"{name} {v}" for name in ("torch", "diffusers") if (v := _package_version(name))]
        settings = self.client.settings
        return (
            f"<h3>{APP_TITLE} {app_version()}</h3>"
            "<p>Edit sound as a picture: clips are waveforms and spectrograms; diffusion models on "
            "your own GPU (or CPU) generate and repaint them.</p>"
            f"<p>{', '.join(libraries)}<br>Engine device: {settings.device}"
            f"{', offline' if settings.offline else ''}</p>"
            "<p>Help &gt; Keyboard Shortcuts lists every shortcut.</p>"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_TITLE}", self.about_text())

    def show_shortcuts(self) -> None:
        """Help > Keyboard Shortcuts: a searchable list built from the window's actions."""
        from app.dialogs.shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.shortcuts_dialog = dialog


def default_window_size(available: QSize) -> QSize:
    """The first window's size: 1400 x 860, or the screen's available area when smaller."""
    return QSize(min(DEFAULT_WINDOW_SIZE.width(), available.width()), min(DEFAULT_WINDOW_SIZE.height(), available.height()))


def app_version() -> str:
    """The installed package's version (pyproject's when running from a source checkout)."""
    version = _package_version("specdiff-studio")
    if version:
        return version
    import re

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    match = re.search(r'^version = "([^"]+)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE) if pyproject.is_file() else None
    return match.group(1) if match else "(unknown version)"


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _clip_name(result: TaskResult) -> str:
    recipe = result.recipe
    prompt = str(recipe.params.get("prompt", "")).strip() or "Generated"
    short = prompt if len(prompt) <= 28 else prompt[:27] + "…"
    return f"{short} #{recipe.seed}"
