"""The task registry: one module per task, built-ins found by pkgutil, plugins by SPECDIFF_TASK_MODULES
and entry points; everything else (engine.api, the worker, recipes, the CLI) is built from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import engine.api as api
from engine.api import AudioInput, Engine, EngineSettings, JobFailedError, Recipe, TaskResult
from engine.recipes import MissingInputError
from engine.tasks import MODULES_ENV, Needs, Task, TaskRegistry, builtin_modules, registry, reload_registry

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).resolve().parent / "plugins"
BUILTIN = ["download_model", "extend", "generate", "illustrate", "inpaint", "interpolate", "loop", "train_lora",
           "train_pictures", "train_vocoder", "unload_models", "upsample", "vary", "vocode"]


@pytest.fixture
def plugins(monkeypatch):
    """The test plugins loaded through SPECDIFF_TASK_MODULES; the registry is rebuilt without them after."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv(MODULES_ENV, "specdiff_toy_gain, specdiff_toy_train")
    yield reload_registry()
    monkeypatch.delenv(MODULES_ENV)
    reload_registry()


def test_every_builtin_task_is_one_module_with_one_name_everywhere():
    assert [m.rsplit(".", 1)[1] for m in builtin_modules()] == BUILTIN
    tasks = {task.name: task for task in registry()}
    assert list(tasks) == BUILTIN
    for name, task in tasks.items():
        assert task.spec.kind == name and task.spec.__module__ == f"engine.tasks.{name}"
        assert getattr(api, task.spec.__name__) is task.spec  # engine.api exports come from the registry
        assert api.task(name) is task
    # The CLI command, the recipe's task and the spec's kind are the same word.
    cli = {task.name for task in registry() if task.has_cli}
    assert cli == {"generate", "inpaint", "extend", "loop", "vary", "interpolate", "upsample", "illustrate",
                   "train_pictures", "vocode", "train_lora", "train_vocoder"}
    assert api.task("text_to_audio").name == "generate" and api.task("variation").name == "vary"
    assert tasks["inpaint"].needs == Needs(model="sd", audio=True, region=True, prompt=True)
    with pytest.raises(ValueError, match="unknown task 'paint'; this version knows: download_model, extend"):
        api.task("paint")


def test_importing_the_tasks_imports_no_torch():
    code = "import sys, engine.api as a; [t.spec for t in a.tasks()]; a.InpaintJob; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_a_task_is_checked_when_declared():
    from engine.api import GenerateJob

    with pytest.raises(ValueError, match="kind 'generate'; a spec's kind is its task's name"):
        Task(name="make", spec=GenerateJob, run=lambda spec, ctx: iter(()), title="Make", summary="x")
    with pytest.raises(ValueError, match="lower-case words"):
        Task(name="Make It", spec=GenerateJob, run=print, title="x", summary="x")
    with pytest.raises(ValueError, match="needs both"):
        Task(name="generate", spec=GenerateJob, run=print, title="x", summary="x", add_arguments=print)
    tasks = TaskRegistry([api.task("generate")])
    with pytest.raises(ValueError, match="already taken"):
        tasks.add(Task(name="vary", spec=api.task("vary").spec, run=print, title="x", summary="x",
                       old_names=("text_to_audio",)))


def test_old_and_new_recipes_name_their_task_once(plugins):
    old = {"task": "variation", "model_id": "m", "prompt": "p", "seed": 1, "num_inference_steps": 2,
           "guidance_scale": 7.0, "scheduler": "ddim", "width": 64, "height": 64,
           "spectrogram": {}, "extra": {"spectrogram_preset": "riffusion", "strength": 0.5}}
    assert Recipe.from_dict(old).task == "vary"
    with pytest.raises(ValueError, match="newer version"):
        Recipe.from_dict({**Recipe(task="generate").to_dict(), "format": 3})


def test_a_plugin_task_runs_through_the_engine_and_regenerates(plugins, make_music):
    gain = plugins.get("toy-gain")
    assert [t.name for t in plugins][-2:] == ["toy-gain", "toy-fit"] and not plugins.errors
    assert api.GainJob is gain.spec  # exported by engine.api like the built-ins
    clip = make_music(0.5)
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        (result,) = engine.run(gain.spec(audio=clip, sample_rate_hz=44100, gain_db=-6.0))
        np.testing.assert_allclose(result.audio, clip * 10 ** (-6 / 20), rtol=1e-6)
        recipe = Recipe.from_json(result.recipe.to_json())
        assert (recipe.task, recipe.params, recipe.model_id) == ("toy-gain", {"gain_db": -6.0}, None)
        with pytest.raises(MissingInputError, match="needs its input audio \\(1 ch, 0.500 s at 44100 Hz"):
            api.spec_from_recipe(recipe)
        with pytest.raises(ValueError, match="not the input the recipe was made from"):
            api.spec_from_recipe(recipe, {"audio": AudioInput(clip[:, ::-1].copy(), 44100)})
        (again,) = engine.run(api.spec_from_recipe(recipe, {"audio": AudioInput(clip, 44100)}))
    np.testing.assert_array_equal(again.audio, result.audio)


def test_a_training_task_checkpoints_and_resumes(plugins, tmp_path):
    fit = plugins.get("toy-fit").spec
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        (whole,) = engine.run(fit(output_dir=str(tmp_path / "a"), num_steps=10, checkpoint_every=3, target=3.0))
        steps = []
        with pytest.raises(JobFailedError, match="stopped after step 7"):
            engine.run(fit(output_dir=str(tmp_path / "b"), num_steps=10, checkpoint_every=3, stop_after=7),
                       lambda p: steps.append(p.step))
        assert fit(output_dir=str(tmp_path / "b"), num_steps=10).latest_checkpoint()[0] == 6
        resumed_steps = []
        (resumed,) = engine.run(fit(output_dir=str(tmp_path / "b"), num_steps=10, checkpoint_every=3, resume=True),
                                lambda p: resumed_steps.append(p.step))
    assert isinstance(whole, TaskResult) and whole.audio is None and whole.files == (tmp_path / "a" / "w.json",)
    assert steps == list(range(1, 8)) and resumed_steps == [7, 8, 9, 10]
    assert json.loads(resumed.files[0].read_text()) == json.loads(whole.files[0].read_text())
    assert sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir()) == [
        "step-00000003", "step-00000006", "step-00000009"]
    # Where it writes and whether it resumed are not part of what it makes.
    assert whole.recipe.params == {"num_steps": 10, "target": 3.0, "lr": 0.25} == resumed.recipe.params
    assert fit.long_running
    with pytest.raises(ValueError, match="lacks the settings \\['output_dir'\\]"):
        api.spec_from_recipe(whole.recipe)
    again = api.spec_from_recipe(whole.recipe, overrides={"output_dir": str(tmp_path / "c")})
    assert isinstance(again, fit) and (again.num_steps, again.target, again.resume) == (10, 3.0, False)


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != MODULES_ENV}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(PLUGINS), *extra.pop("paths", "").split(os.pathsep)]))
    env.update(extra)
    return env


def run_cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, argv)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_plugin_task_gets_a_cli_command_and_regenerates(tmp_path, make_music):
    from engine.audio.io import read_audio, write_audio

    source = tmp_path / "in.wav"
    write_audio(source, make_music(0.3, channels=2), 44100, subtype="FLOAT")
    env = cli_env(**{MODULES_ENV: "specdiff_toy_gain"})
    made = run_cli("toy-gain", source, "-o", tmp_path / "quiet.wav", "--gain-db", "-12", "--device", "cpu", "-q",
                   env=env)
    assert made.returncode == 0, made.stderr
    again = run_cli("regenerate", tmp_path / "quiet.wav", "-o", tmp_path / "again.wav", "-q", env=env)
    assert again.returncode == 0, again.stderr
    np.testing.assert_array_equal(read_audio(tmp_path / "again.wav")[0], read_audio(tmp_path / "quiet.wav")[0])
    # Without the plugin, the recipe names a task this version does not know: one line.
    gone = run_cli("regenerate", tmp_path / "quiet.wav", "-o", tmp_path / "x.wav", env=cli_env())
    assert gone.returncode == 1 and gone.stderr.strip().splitlines() == [
        f"specdiff-cli: error: unknown task 'toy-gain'; this version knows: {', '.join(BUILTIN)}."]


def test_entry_point_plugins_load_and_broken_ones_are_skipped(tmp_path):
    dist = tmp_path / "toyplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [specdiff_studio.tasks]
        gain = specdiff_toy_gain
        fit = specdiff_toy_train:TASK
        broken = specdiff_no_such_module
    """))
    env = cli_env(paths=str(tmp_path))
    helped = run_cli("--help", env=env)
    assert helped.returncode == 0, helped.stderr
    assert "toy-gain" in helped.stdout and "toy-fit" not in helped.stdout  # toy-fit has no CLI part
    code = ("import engine.api as a; r = a.tasks(); print([t.name for t in r][-2:]);"
            "from engine.tasks import registry; print(registry().errors)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    names, errors = out.stdout.strip().splitlines()
    assert names == "['toy-gain', 'toy-fit']"
    assert "task plugin 'broken' (specdiff_no_such_module) was skipped: No module named 'specdiff_no_such_module'" in errors
