"""A new edit task is one app module (plus its engine job): written into a temporary folder and
named by SPECDIFF_APP_TASK_MODULES, it gets its Edit dock tab, its Edit > Spectrogram menu entry
and runs and lands as one undo step, with no other file touched."""

from __future__ import annotations

import textwrap

import numpy as np
from PySide6.QtCore import Qt

from app.model.commands import AddClip
from app.model.project import Clip, Selection
from app.tasks import MODULES_ENV, app_tasks

TOY_MODULE = '''
"""Reverse: play the selected clip backwards (a toy task: an engine job and its app task)."""

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from PySide6.QtWidgets import QCheckBox

from app.tasks import AppTask, TaskForm
from app.tasks._common import plan_for
from engine.api import JobSpec, Progress, Recipe, TaskResult, register_runner


@dataclass(frozen=True)
class ReverseJob(JobSpec):
    kind: ClassVar[str] = "toy_reverse"
    audio: np.ndarray = field(repr=False, default=None)
    sample_rate_hz: int = 22050
    flip_channels: bool = False

    def describe(self) -> str:
        return "Reverse"


def run(spec, ctx):
    yield Progress(stage="reverse", step=0, total=1)
    audio = spec.audio[::-1, ::-1] if spec.flip_channels else spec.audio[:, ::-1]
    recipe = Recipe(task="toy_reverse", params={"flip_channels": spec.flip_channels})
    return (TaskResult(audio=np.ascontiguousarray(audio), sample_rate_hz=spec.sample_rate_hz, recipe=recipe),)


register_runner(ReverseJob, run)


class Form(TaskForm):
    def __init__(self):
        self.flip = QCheckBox("Swap channels too")
        self.rows = [("Channels", self.flip)]

    def params(self):
        return {"flip_channels": self.flip.isChecked()}


def plan(tools, params):
    clip = tools.target_clip()
    audio, rate = clip.audio, clip.sample_rate_hz

    def build():
        return ReverseJob(audio=audio, sample_rate_hz=rate, **params)

    def land(job_id, results):
        return tools.landing.replace(tools.clip(clip.id), results[0], "Reverse", keep_trim=False)

    return plan_for("reverse", clip, build, land)


TASK = AppTask(name="reverse", title="Reverse", action_text="&Reverse Clip", shortcut="Ctrl+Alt+R",
               button="Reverse", help="Play the selected clip backwards.", make_form=Form, plan=plan, order=60)
'''


def test_a_task_module_named_by_the_environment_joins_the_dock_and_menu_and_runs(
        qtbot, make_window, tmp_path, monkeypatch):
    (tmp_path / "toy_reverse_task.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(MODULES_ENV, "toy_reverse_task, no_such_module_here")  # a broken name is skipped
    assert [t.name for t in app_tasks()][-1] == "reverse"

    window = make_window()
    tools = window.edit_tools
    panel = tools.edit_panel
    assert [panel.tabs.tabText(i) for i in range(panel.tabs.count())][-1] == "Reverse"
    assert tools.actions["reverse"] in tools.menu.actions()
    assert tools.actions["reverse"].shortcut().toString() == "Ctrl+Alt+R"
    generate_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Generate")
    assert tools.actions["interpolate"] in generate_menu.actions()  # a task making new clips

    audio = np.stack([np.linspace(-0.5, 0.5, 2205, dtype=np.float32), np.zeros(2205, np.float32)])
    clip = Clip(name="ramp", audio=audio, sample_rate_hz=22050, start_s=1.0)
    track = window.project.tracks[0]
    window.undo_stack.push_command(AddClip(window.project, track.id, clip))
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id))
    panel.forms["reverse"].flip.setChecked(True)
    steps = window.undo_stack.count()
    with qtbot.waitSignal(tools.edit_landed, timeout=60000) as landed:
        qtbot.mouseClick(panel.buttons["reverse"], Qt.MouseButton.LeftButton)
    assert landed.args[1] == "reverse" and landed.args[2] == [clip.id]
    np.testing.assert_array_equal(clip.audio, audio[::-1, ::-1])
    assert window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    np.testing.assert_array_equal(clip.audio, audio)
