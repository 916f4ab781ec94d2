"""A new task is one engine module plus one app module, with no other file touched: both are
written into a temporary folder and named by SPECDIFF_TASK_MODULES and SPECDIFF_APP_TASK_MODULES;
the task then has its CLI command (help and a run), its Edit dock tab and Edit > Spectrogram
entry (running it lands as one undo step) and the Inspector's Regenerate."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.model.commands import AddClip
from app.model.project import Clip, Selection
from app.tasks import MODULES_ENV, app_tasks
from engine.tasks import MODULES_ENV as ENGINE_MODULES_ENV
from engine.tasks import reload_registry

ENGINE_MODULE = '''
"""Reverse: play a clip backwards (a toy task: audio in, audio out, no prompt, no model)."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.specs import AudioInputJob, Progress, TaskResult
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class ReverseJob(AudioInputJob):
    kind: ClassVar[str] = "reverse"
    flip_channels: bool = False

    def describe(self) -> str:
        return "Reverse"


def run(spec, ctx):
    yield Progress(stage="invert", step=0, total=1, message="Reversing")
    audio = spec.audio[::-1, ::-1] if spec.flip_channels else spec.audio[:, ::-1]
    return (TaskResult(recipe=spec.make_recipe(seed=None), audio=np.ascontiguousarray(audio),
                       sample_rate_hz=spec.sample_rate_hz),)


def add_arguments(parser):
    parser.add_argument("input")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--flip-channels", action="store_true", help="swap the channels too")


def spec_from_args(args, cli):
    audio, rate = cli.read_clip(args.input)
    cli.outputs()
    return cli.spec(ReverseJob, audio=audio, sample_rate_hz=rate, flip_channels=args.flip_channels)


TASK = Task(name="reverse", spec=ReverseJob, run=run, title="Reverse", summary="play a clip backwards (a toy task)",
            needs=Needs(model=None, audio=True), add_arguments=add_arguments, spec_from_args=spec_from_args)
'''

APP_MODULE = '''
"""Reverse in the app: its tab, its spec from the selected clip, its result replacing the clip."""

from PySide6.QtWidgets import QCheckBox

from app.tasks import AppTask, TaskForm
from app.tasks._common import plan_for


class Form(TaskForm):
    def __init__(self):
        self.flip = QCheckBox("Swap channels too")
        self.rows = [("Channels", self.flip)]

    def params(self):
        return {"flip_channels": self.flip.isChecked()}


def plan(tools, params):
    from engine.api import ReverseJob

    clip = tools.target_clip()
    audio, rate = clip.audio, clip.sample_rate_hz

    def build():
        return ReverseJob(audio=audio, sample_rate_hz=rate, **params)

    def land(job_id, results):
        return tools.landing.replace(tools.clip(clip.id), results[0], "Reverse", keep_trim=False)

    return plan_for("reverse", clip, build, land)


TASK = AppTask(name="reverse", title="Reverse", action_text="&Reverse Clip", shortcut="Ctrl+Alt+R",
               button="Reverse", help="Play the selected clip backwards.", engine_task="reverse",
               make_form=Form, plan=plan, order=60)
'''


@pytest.fixture
def toy_task(tmp_path, monkeypatch):
    """The Reverse task's two modules, named by the environment; the registry is rebuilt without them after."""
    (tmp_path / "toy_reverse_task.py").write_text(textwrap.dedent(ENGINE_MODULE))
    (tmp_path / "toy_reverse_app.py").write_text(textwrap.dedent(APP_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(ENGINE_MODULES_ENV, "toy_reverse_task")
    monkeypatch.setenv(MODULES_ENV, "toy_reverse_app, no_such_module_here")  # a broken name is skipped
    registry = reload_registry()
    assert not registry.errors, registry.errors
    yield
    monkeypatch.delenv(ENGINE_MODULES_ENV)
    reload_registry()


def test_a_task_in_one_engine_and_one_app_module_reaches_the_cli(toy_task, tmp_path, capsys):
    from engine.audio.io import read_audio, write_audio
    from engine.cli import main

    with pytest.raises(SystemExit) as shown:
        main(["reverse", "--help"])
    assert shown.value.code == 0 and "--flip-channels" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "play a clip backwards" in capsys.readouterr().out

    audio = np.stack([np.linspace(-0.5, 0.5, 2205, dtype=np.float32), np.zeros(2205, np.float32)])
    write_audio(tmp_path / "in.wav", audio, 22050, subtype="FLOAT")
    assert main(["reverse", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--flip-channels",
                 "--device", "cpu", "-q"]) == 0
    np.testing.assert_array_equal(read_audio(tmp_path / "out.wav")[0], audio[::-1, ::-1])
    assert main(["regenerate", str(tmp_path / "out.wav"), "-o", str(tmp_path / "again.wav"), "-q"]) == 0
    np.testing.assert_array_equal(read_audio(tmp_path / "again.wav")[0], audio[::-1, ::-1])


def test_a_task_in_one_engine_and_one_app_module_joins_the_dock_menu_and_regenerate(toy_task, qtbot, make_window):
    assert [t.name for t in app_tasks()][-1] == "reverse"

    window = make_window()
    tools = window.edit_tools
    panel = tools.edit_panel
    assert [panel.tabs.tabText(i) for i in range(panel.tabs.count())][-1] == "Reverse"
    assert tools.actions["reverse"] in tools.menu.actions()
    assert tools.actions["reverse"] in tools.edit_toolbar.actions()
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
    assert window.undo_stack.count() == steps + 1 and clip.recipe.task == "reverse"

    # The Inspector shows it by its title and regenerates it from the input the project kept.
    qtbot.waitUntil(lambda: window.inspector.clip is clip, timeout=2000)
    assert window.inspector.values("recipe")["Task"] == "Reverse"
    assert window.inspector.regenerate_button.isEnabled(), window.inspector.regenerate_button.toolTip()
    with qtbot.waitSignal(window.clips_generated, timeout=60000) as again:
        qtbot.mouseClick(window.inspector.regenerate_button, Qt.MouseButton.LeftButton)
    (regenerated,) = again.args[1]
    assert regenerated is not clip and regenerated.recipe == clip.recipe
    np.testing.assert_array_equal(regenerated.audio, clip.audio)
    window.undo_stack.undo()
    window.undo_stack.undo()
    np.testing.assert_array_equal(clip.audio, audio)
