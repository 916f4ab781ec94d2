"""The main window's scaffolding: the centre (transport over timeline), the docks, the status
bar, the window-wide actions and the menu bar. A mixin of :class:`app.main_window.MainWindow`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QLabel, QStyle, QUndoView, QVBoxLayout, QWidget

from app.model.generation import GenerationSettings
from app.widgets.dock_action import dock_view_action
from app.widgets.qt_class_browser import QtClassBrowser
from app.widgets.qt_inspector import QtInspector
from app.widgets.qt_job_panel import QtJobPanel
from app.widgets.qt_prompt_panel import QtPromptPanel, preset_names
from app.widgets.qt_status import QtStatus
from app.widgets.qt_transport import playback_off_message
from app.widgets.scroll_area import scrolling
from app.widgets.spin_boxes import range_notices
from app.window import HUB_CHECK_INTERVAL_MS, STATUS_MESSAGE_MS

log = logging.getLogger(__name__)

#: The right docks' (Inspector, Jobs) first width on a narrow window.
RIGHT_DOCK_MIN_PX = 220


def _optional_widget(module: str, name: str) -> Any:
    """A widget class from the timeline helper's modules, or None while they are not there."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        log.info("%s.%s is not available yet; using a placeholder", module, name)
        return None


class ScaffoldMixin:
    """Builds the window's widgets, docks, actions and menus (called once from ``__init__``)."""

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
        # The History's first row (click it to undo everything): what the project started as. It
        # read "<empty project>" even above an opened project full of clips.
        self.history_view.setEmptyLabel(f"Opened {Path(self.project.path).name}" if self.project.path else "New project")
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        # In a scroll area: on a short window (700 px) the panel was squeezed below its height,
        # the Examples button over the prompt and the model's note cut by the LoRAs row.
        self.prompt_scroll = scrolling(self.prompt_panel)
        # Generate stays in sight under the scrolling fields (at 1024 x 700 it was below the fold).
        prompt_column = QWidget()
        prompt_column.setObjectName("promptColumn")
        column = QVBoxLayout(prompt_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.prompt_scroll, 1)
        column.addWidget(self.prompt_panel.take_footer())
        self.prompt_dock = self._dock("Prompt", "promptDock", prompt_column, left)
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
        # a small screen (restored layouts override this). The Prompt dock gets the width that
        # keeps its rows beside their labels where that is at most 28% of the window; narrower,
        # the seed row goes under its label.
        width, height = self.width(), self.height()
        unwrapped = self.prompt_panel.sizeHint().width() + self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        left = max(270, round(width * 0.25), min(unwrapped, round(width * 0.28)))
        # The right docks' floor is their narrowest (the Inspector's three tab titles): with a
        # 290 px floor an 860 px window left the timeline about 310 px, its lane 55 px of sound.
        side = [min(380, left), min(380, max(RIGHT_DOCK_MIN_PX, round(width * 0.23)))]
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
        # A typed value a spin box could not use (anywhere: docks, dialogs, wizards) is said here.
        range_notices().said.connect(self.show_message)
        self.status.set_playback(available, playback_off_message(reason))
        if not available:  # in the transport bar's and Settings' words
            self.statusBar().showMessage(playback_off_message(reason), STATUS_MESSAGE_MS * 2)

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
        for action, name in ((self.undo_action, "Undo"), (self.redo_action, "Redo")):
            action.setProperty("shortcutName", name)  # their text names the step ("Undo Generate 'x'")
            self.addAction(action)
        self._say_history_steps()
        self.generate_action = a("&Generate", self.generate_from_panel, ["Ctrl+Return", "Ctrl+Enter"])
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
                            ("play_action", "stop_action", "play_selection_action", "loop_action",
                             "go_to_start_action", "go_to_end_action"))
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

    def _say_history_steps(self) -> None:
        """Undo and Redo say in the status bar what they did ("Undo: Add track"); their
        shortcuts pressed with nothing to undo or redo say so instead of doing nothing silently."""
        stack = self.undo_stack
        # Connected after the stack's own step (slots run in connection order): the stack has
        # moved, so the step undone is now at index() and the step redone just below it.
        self.undo_action.triggered.connect(lambda *_: self.show_message(f"Undo: {stack.text(stack.index())}"))
        self.redo_action.triggered.connect(lambda *_: self.show_message(f"Redo: {stack.text(stack.index() - 1)}"))
        # A greyed action's shortcut does nothing; these take its keys only while it is greyed.
        self.nothing_to_undo_shortcut = QShortcut(self)
        self.nothing_to_undo_shortcut.setKeys(self.undo_action.shortcuts())
        self.nothing_to_undo_shortcut.activated.connect(lambda: self.show_message("Nothing to undo"))
        self.nothing_to_redo_shortcut = QShortcut(self)
        self.nothing_to_redo_shortcut.setKeys(self.redo_action.shortcuts())
        self.nothing_to_redo_shortcut.activated.connect(lambda: self.show_message("Nothing to redo"))
        for shortcut, can_step, changed in ((self.nothing_to_undo_shortcut, stack.canUndo, stack.canUndoChanged),
                                            (self.nothing_to_redo_shortcut, stack.canRedo, stack.canRedoChanged)):
            shortcut.setEnabled(not can_step())
            changed.connect(lambda can, shortcut=shortcut: shortcut.setEnabled(not can))

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.new_action, self.open_action):
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        _add_actions(file_menu, (self.save_action, self.save_as_action, self.collect_action, None, self.import_action,
                                 self.export_action, None, self.quit_action))

        edit_menu = bar.addMenu("&Edit")
        _add_actions(edit_menu, (self.undo_action, self.redo_action, None, self.add_track_action,
                                 self.new_track_results_action, None, self.settings_action))

        view_menu = bar.addMenu("&View")
        for action in self.timeline_menu_actions:
            if "zoom" in action.text().lower():
                view_menu.addAction(action)
            else:
                edit_menu.insertAction(self.settings_action, action)
        edit_menu.insertSeparator(self.settings_action)
        view_menu.addSeparator()
        for dock in (self.prompt_dock, self.classes_dock, self.inspector_dock, self.jobs_dock, self.history_dock):
            view_menu.addAction(dock_view_action(dock))

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


def _add_actions(menu: Any, actions: tuple[QAction | None, ...]) -> None:
    """Add ``actions`` to ``menu`` in order, a separator for each None."""
    for action in actions:
        if action is None:
            menu.addSeparator()
        else:
            menu.addAction(action)
