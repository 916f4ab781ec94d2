"""The edit panel (the Edit dock): a tab per edit task with its parameters, the settings all edits
share, and the state of the running edit.

The tabs are built from the window's list of :class:`app.tasks.AppTask` (one module per task):
each task's form gives its rows and reads its parameters; a task that shares another's tab
(Continue, in Extend's) adds its button there. The panel only collects parameters and says what
the user asked for (``edit_requested(kind)``); :class:`app.edit_tools.EditTools` plans the job
from the project and lands the result. The settings every diffusion job shares (model, seed,
steps, guidance, scheduler, negative prompt, spectrogram preset) come from the generation
settings (the prompt panel); a clip edit's prompt left empty uses the clip's own prompt (from its
recipe), the Interpolate tab's the prompt panel's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.tasks import AppTask, TaskForm, app_tasks
from app.tasks._common import spin
from app.widgets.elided_label import ElidedLabel
from app.widgets.flow_layout import FlowLayout
from app.widgets.scroll_area import scrolling
from app.widgets.spin_boxes import SpinBox
from app.widgets.wheel_guard import guard_combo_wheels

#: The image length (s) the window and segment fields assume for a model without a card (Riffusion's 512 px).
GENERIC_WINDOW_S = 5.12


class QtEditPanel(QWidget):
    """Parameters of the edit tasks (``tasks``; all of :func:`app_tasks` when None) and the state
    of the running one. ``forms``: task name -> its :class:`TaskForm` (tasks sharing a tab share it).

    The tasks are picked with a row of buttons that wraps (``task_buttons``: task name -> its
    button; ``tabs`` holds the pages, its own tab bar hidden): eight tabs in a 250 px dock needed
    scroll arrows, and most tasks were out of sight.

    Signals: ``edit_requested(str kind)`` (a task name), ``cancel_requested()``.
    """

    edit_requested = Signal(str)
    cancel_requested = Signal()

    def __init__(self, tasks: Sequence[AppTask] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks: dict[str, AppTask] = {t.name: t for t in (app_tasks() if tasks is None else tasks)}
        self.tabs = QTabWidget()
        self.tabs.tabBar().hide()
        self.task_buttons: dict[str, QToolButton] = {}
        self._task_group = QButtonGroup(self)
        self._task_group.setExclusive(True)
        self.task_picker = QWidget()
        self.task_picker.setObjectName("editTaskPicker")
        FlowLayout(self.task_picker, spacing=4).setContentsMargins(0, 0, 0, 0)
        self.buttons: dict[str, QPushButton] = {}
        self.forms: dict[str, TaskForm] = {}
        pages: dict[str, QWidget] = {}
        for task in self.tasks.values():
            if task.make_form is not None:
                self.forms[task.name] = task.make_form()
                pages[task.name] = self._tab(task, self.forms[task.name])
        for task in self.tasks.values():
            if task.tab is not None:
                self.forms[task.name] = self.forms[task.tab]
                button = self._button(task)
                layout = pages[task.tab].layout()
                layout.insertWidget(layout.count() - 1, button)
                # Its button names it too ("Extend / Continue"): Continue was on the toolbar and
                # in the menu but nowhere among the dock's tasks.
                picker = self.task_buttons[task.tab]
                picker.setText(f"{picker.text()} / {task.title}")
                picker.setToolTip(f"{picker.toolTip()}\n{task.title}: {task.help}")
                self.tabs.setTabText(list(self.task_buttons).index(task.tab), picker.text())

        # Shared quality settings
        self.height_spin = SpinBox(minimum=0, maximum=2048, singleStep=64, value=0, specialValueText="preset",
                                    toolTip="Mel bins of the spectrogram images (a multiple of 8; 'preset' = the preset's)")
        self.height_spin.set_multiple_of(8)  # the engine takes only multiples of 8
        self.iterations_spin = SpinBox(minimum=0, maximum=1000, value=32,
                                        toolTip="Resynthesis (Griffin-Lim) iterations: more is cleaner and slower")
        self.window_spin = spin(0.64, 60.0, GENERIC_WINDOW_S, step=0.64, suffix=" s",
                                tip="Length of the image the model sees at once (5.12 s is Riffusion's 512 px)")
        # Folded by default: open, its 170 px squeezed the task's page at 1024 x 700, where
        # Extend's own button was cut in half under a scroll bar.
        shared = QGroupBox()
        shared.setObjectName("allEdits")
        self.shared_fields = QWidget()
        form = QFormLayout(self.shared_fields)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Window", self.window_spin)
        form.addRow("Mel bins", self.height_spin)
        form.addRow("Resynthesis", self.iterations_spin)
        note_text = "Model, seed, steps, guidance, scheduler and negative prompt come from the Prompt panel."
        note = QLabel(note_text)
        note.setWordWrap(True)
        form.addRow(note)
        self.shared_toggle = QToolButton()
        self.shared_toggle.setObjectName("allEditsToggle")
        self.shared_toggle.setCheckable(True)
        self.shared_toggle.setAutoRaise(True)
        self.shared_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.shared_toggle.setText("All edits")
        # Folded, the values beside it (cut to the dock's width, whole on hover): nothing the
        # user changed is out of sight.
        self.shared_summary = ElidedLabel()
        self.shared_summary.setObjectName("hintLabel")
        self.shared_toggle.setToolTip(f"Settings every edit uses: image window, mel bins, resynthesis. {note_text}")
        self.shared_toggle.toggled.connect(self._show_shared)
        shared_layout = QVBoxLayout(shared)
        shared_layout.setContentsMargins(6, 2, 6, 4)
        header = QHBoxLayout()
        header.addWidget(self.shared_toggle)
        header.addWidget(self.shared_summary, 1)
        shared_layout.addLayout(header)
        shared_layout.addWidget(self.shared_fields)
        for box in (self.window_spin, self.height_spin, self.iterations_spin):
            box.valueChanged.connect(lambda *_: self._show_shared(self.shared_toggle.isChecked()))
        self._show_shared(False)

        # The running edit
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)

        self.tabs.currentChanged.connect(self._show_task_picked)
        self._show_task_picked(self.tabs.currentIndex())

        layout = QVBoxLayout(self)
        layout.addWidget(self.task_picker)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(shared)
        layout.addLayout(running)
        layout.addWidget(self.status_label)
        self._model_defaults = self._defaults_for(GENERIC_WINDOW_S)
        self.set_running(None)
        guard_combo_wheels(self)

    def _show_shared(self, shown: bool) -> None:
        """Unfold (``shown``) or fold the settings all edits share; folded, the header says their
        values, so that nothing changed is out of sight."""
        self.shared_fields.setVisible(shown)
        self.shared_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.shared_summary.setText(f"{self.window_spin.text()} window, {self.height_spin.text()} mel bins, "
                                    f"{self.iterations_spin.text()} resynthesis")
        self.shared_summary.setVisible(not shown)

    def _button(self, task: AppTask) -> QPushButton:
        button = QPushButton(task.button)
        # What it does and its key (Repaint and the other run buttons had no tooltip).
        button.setToolTip(f"{task.help} ({task.shortcut})" if task.shortcut else task.help)
        button.clicked.connect(lambda: self.edit_requested.emit(task.name))
        self.buttons[task.name] = button
        return button

    def _tab(self, task: AppTask, task_form: TaskForm) -> QWidget:
        page = QWidget()
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow docks: fields under labels
        for label, widget in task_form.rows:
            form.addRow(label, widget)
        help_label = QLabel(task.help)
        help_label.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(help_label)
        layout.addLayout(form)
        layout.addWidget(self._button(task))
        layout.addStretch(1)
        # Each page scrolls: the tallest (Picture) set the dock's, and so the window's, minimum height.
        index = self.tabs.addTab(scrolling(page), task.title)
        self.tabs.setTabToolTip(index, task.help)
        picker = QToolButton(text=task.title, checkable=True, toolTip=task.help)
        picker.setObjectName(f"editTask_{task.name}")
        picker.setAccessibleName(f"{task.title} task")
        picker.clicked.connect(lambda: self.show_task(task.name))
        self._task_group.addButton(picker)
        self.task_picker.layout().addWidget(picker)
        self.task_buttons[task.name] = picker
        return page

    def show_task(self, name: str) -> None:
        """Bring task ``name``'s page to the front (a task sharing a tab: that tab)."""
        task = self.tasks[name]
        picker = self.task_buttons[task.tab or name]
        self.tabs.setCurrentIndex(list(self.task_buttons.values()).index(picker))

    def current_task(self) -> str:
        """The name of the task whose page is in front."""
        return list(self.task_buttons)[self.tabs.currentIndex()]

    def _show_task_picked(self, index: int) -> None:
        pickers = list(self.task_buttons.values())
        if 0 <= index < len(pickers):
            pickers[index].setChecked(True)

    # -- following the model ------------------------------------------------------------------

    def _fields_following_the_model(self) -> dict[str, tuple[QDoubleSpinBox, Any]]:
        fields: dict[str, tuple[QDoubleSpinBox, Any]] = {"window_s": (self.window_spin, lambda w: w)}
        for name, form in self.forms.items():
            if self.tasks[name].tab is None:
                fields.update({f"{name}.{key}": value for key, value in form.follows_model.items()})
        return fields

    def _defaults_for(self, window_s: float) -> dict[str, float]:
        """The defaults of the fields that depend on the model's image length ``window_s`` (5.12 s
        gives the Riffusion defaults: window and interpolation segment 5.12 s, extend context 2.5 s)."""
        return {name: float(default(window_s)) for name, (_spin, default) in self._fields_following_the_model().items()}

    def apply_model_defaults(self, hints: Any) -> dict[str, float]:
        """Set the fields that depend on the model's image length (its card's ``duration_s``,
        else Riffusion's 5.12 s) to that model's defaults; fields the user changed from the
        previous model's defaults stay. Returns the new defaults."""
        window_s = getattr(hints, "duration_s", None) or GENERIC_WINDOW_S
        defaults = self._defaults_for(float(window_s))
        for name, (box, _default) in self._fields_following_the_model().items():
            if abs(box.value() - self._model_defaults.get(name, box.value())) < 1e-6:
                box.setValue(defaults[name])
        self._model_defaults = defaults
        return defaults

    # -- reading the fields -------------------------------------------------------------------

    def shared_params(self) -> dict[str, Any]:
        """``window_s``, ``height`` (None = the preset's) and ``griffin_lim_iters``."""
        height = self.height_spin.value()
        return {"window_s": self.window_spin.value(), "height": height or None,
                "griffin_lim_iters": self.iterations_spin.value()}

    def params(self, kind: str) -> dict[str, Any]:
        """The parameters of task ``kind`` from its tab; prompts are stripped text ("" = the clip's
        own prompt; for Interpolate the Prompt panel's), seeds None when empty. Raises ValueError
        saying what to fix."""
        task = self.tasks.get(kind)
        if task is None:
            raise ValueError(f"edit kind must be one of {', '.join(self.tasks)}, got {kind!r}.")
        form = self.forms[kind]
        return task.read_params(form) if task.read_params is not None else form.params()

    # -- state ----------------------------------------------------------------------------------

    def set_running(self, text: str | None) -> None:
        """Show the running edit (``text``) with a cancel button, or nothing (None)."""
        running = text is not None
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.show_message(text)

    def set_progress(self, fraction: float | None) -> None:
        show_fraction(self.progress, fraction)

    def show_message(self, text: str) -> None:
        self.status_label.setText(text)


def show_fraction(bar: QProgressBar, fraction: float | None) -> None:
    """Show ``fraction`` (0..1) of a job done on ``bar``; None: busy, no fraction known."""
    if fraction is None:
        bar.setRange(0, 0)
    else:
        bar.setRange(0, 1000)
        bar.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
