"""The main window: timeline in the centre, prompt / inspector / jobs / history docks, menus,
status bar, import and export, generation results landing as clips. Wiring only: no DSP, no torch.

The window is one class assembled from mixins along its seams (:mod:`app.window`):
:mod:`~app.window.scaffold` builds the widgets, docks, actions and menus;
:mod:`~app.window.files` opens, saves and collects project files;
:mod:`~app.window.import_export` imports and exports audio and images;
:mod:`~app.window.generation` runs generations and lands their results;
:mod:`~app.window.engine` handles models and engine settings. This module wires them together
(signals, state, closing) and holds what is left (About, shortcuts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from app import io_actions
from app.engine_client import EngineClient, ModelListing
from app.model.commands import AddTrack
from app.model.project import Project
from app.settings import AppSettings
from app.undo import UndoStack
from app.window import (  # noqa: F401 - re-exported: app.__main__ and tools import them from here
    APP_TITLE,
    DEFAULT_WINDOW_SIZE,
    SPECTROGRAM_STYLE_KEY,
    STATUS_MESSAGE_MS,
)
from app.window.engine import EngineMixin
from app.window.files import ProjectFilesMixin
from app.window.generation import GenerationMixin
from app.window.import_export import ImportExportMixin
from app.window.scaffold import ScaffoldMixin

log = logging.getLogger(__name__)


class MainWindow(ScaffoldMixin, ProjectFilesMixin, ImportExportMixin, GenerationMixin, EngineMixin, QMainWindow):
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
        from app.widgets.gallery import install_gallery

        self.gallery = install_gallery(self)  # the Pictures dock (Generate > Picture from Audio)
        from app.widgets.lora_wizard_runs import offer_unfinished_runs

        self.unfinished_runs = offer_unfinished_runs(self)  # training runs a restart cut short (looked for off-thread)
        self._restore_state()
        self._update_title()
        self.refresh_models()
        self._remove_save_leftovers()

    def _connect(self) -> None:
        self.prompt_panel.generate_requested.connect(self._on_prompt_panel_generate_requested)
        self.class_browser.model_manager_requested.connect(self._open_models_for_classes)
        self.generation.events.changed.connect(self._on_generation_changed)
        # "download a real model" under the starter: the manager with that real model selected
        # (it opened with no row selected, and the user had to guess among four 4 GB models).
        self.prompt_panel.model_manager_requested.connect(self._open_models_for_classes)
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
            self.timeline.nothing_to_do.connect(self.show_message)
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

    # ------------------------------------------------------------------------------ state

    def _restore_state(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self.prompt_panel.restore_state(self.settings.prompt_state)
        # Edit > Settings' defaults decide the vocoder and Full band wherever the user picked none.
        self.generation.use_defaults(vocoder=self.settings.default_vocoder, full_band=self.settings.full_band_default)
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

    def show_message(self, text: str, timeout_ms: int = STATUS_MESSAGE_MS) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _on_timeline_clip_activated(self, clip_id: str) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()

    def add_track(self) -> None:
        self.undo_stack.push_command(AddTrack(self.project))

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
