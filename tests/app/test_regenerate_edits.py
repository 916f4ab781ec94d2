"""The Inspector's Regenerate works for every clip: each edit task (inpaint, extend, continue,
loop, vary, interpolate) run in the app keeps its input audio in the project, the project file
stores it (once per fingerprint), and after saving and reopening, Regenerate reruns the edit's
recipe on that input into a new clip with bit-identical audio."""

from __future__ import annotations

import zipfile

import numpy as np
from PySide6.QtCore import Qt
from test_edit_tools import RATE, fast_settings, make_audio, run_and_wait

from app.edit_tools import install_edit_tools
from app.model.commands import AddClip
from app.model.mask import TimeBand
from app.model.mask_commands import add_shape
from app.model.persistence import INPUTS_FOLDER
from app.model.project import Clip, Selection


def select(project, clip, **time_range):
    track = project.find_clip(clip.id)[0]
    project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id, **time_range))


def test_every_edit_regenerates_bit_identically_after_save_and_reopen(qtbot, make_window, tiny_model, tmp_path):
    window = make_window()
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    project, stack = window.project, window.undo_stack
    fast_settings(window, tools, tiny_model)
    track_id = project.tracks[0].id
    sources = {}
    for i, kind in enumerate(("inpaint", "extend", "continue", "loop", "vary")):
        clip = Clip(name=kind, audio=make_audio(1.28, seed=i), sample_rate_hz=RATE, start_s=2.0 + 10.0 * i)
        stack.push_command(AddClip(project, track_id, clip))
        sources[kind] = clip

    edited: dict[str, str] = {}  # task -> id of a clip it made
    select(project, sources["inpaint"])
    stack.push_command(add_shape(project, tools.masks, sources["inpaint"].id, TimeBand(0.4, 0.8)))
    before = sources["inpaint"].audio
    run_and_wait(qtbot, tools, lambda: tools.run_edit("inpaint"))
    edited["inpaint"] = sources["inpaint"].id
    # The input kept is the clip's own earlier array (which its undo step holds anyway), not a copy.
    assert project.inputs[sources["inpaint"].recipe.inputs["audio"]["sha256"]][0] is before

    select(project, sources["extend"])
    tools.edit_panel.forms["extend"].left.setValue(0.5)
    tools.edit_panel.forms["extend"].right.setValue(0.64)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("extend"))
    edited["extend"] = sources["extend"].id

    clip = sources["continue"]
    select(project, clip, start_s=clip.start_s + 0.3, end_s=clip.start_s + 1.0)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("continue"))
    edited["continue"] = clip.id

    select(project, sources["loop"])
    tools.edit_panel.forms["loop"].seam.setValue(0.3)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("loop"))
    edited["loop"] = sources["loop"].id

    select(project, sources["vary"])
    tools.edit_panel.forms["vary"].strength.setValue(0.5)
    tools.edit_panel.forms["vary"].count.setValue(2)  # new clips; the second is regenerated alone
    _, _, (_, second) = run_and_wait(qtbot, tools, lambda: tools.run_edit("vary"))
    edited["vary"] = second

    project.set_playhead(60.0)
    form = tools.edit_panel.forms["interpolate"]
    form.prompt_to.setText("bright bells")
    form.steps.setValue(2)
    form.segment.setValue(0.64)
    form.crossfade.setValue(0.1)
    _, _, (edited["interpolate"],) = run_and_wait(qtbot, tools, lambda: tools.run_edit("interpolate"))

    made = {kind: project.find_clip(cid)[1] for kind, cid in edited.items()}
    assert {kind: c.recipe.task for kind, c in made.items()} == {
        "inpaint": "inpaint", "extend": "extend", "continue": "extend", "loop": "loop", "vary": "vary",
        "interpolate": "interpolate"}
    expected = {kind: (c.audio.copy(), c.recipe) for kind, c in made.items()}

    path = tmp_path / "edits.sdproj"
    project.path = str(path)
    with qtbot.waitSignal(window.project_saved, timeout=30000):
        window.save_project()
    with zipfile.ZipFile(path) as zf:
        kept = [n for n in zf.namelist() if n.startswith(INPUTS_FOLDER)]
    # One input per edited clip, the two variations sharing theirs; the interpolation has none.
    assert len(kept) == 5

    with qtbot.waitSignal(window.project_loaded, timeout=60000):
        window.open_project(str(path))
    assert len(project.inputs) == 5
    for kind, (audio, recipe) in expected.items():
        _, clip = project.find_clip(edited[kind])
        select(project, clip)
        qtbot.waitUntil(lambda clip=clip: window.inspector.clip is clip, timeout=2000)
        assert window.inspector.regenerate_button.isEnabled(), window.inspector.regenerate_button.toolTip()
        steps = stack.count()
        with qtbot.waitSignal(window.clips_generated, timeout=180000) as again:
            qtbot.mouseClick(window.inspector.regenerate_button, Qt.MouseButton.LeftButton)
        (regenerated,) = again.args[1]
        assert stack.count() == steps + 1, kind  # one undo step
        assert regenerated.recipe == recipe, kind
        np.testing.assert_array_equal(regenerated.audio, audio, err_msg=kind)


def test_a_clip_whose_input_is_not_kept_says_why_it_cannot_regenerate(qtbot, window):
    from engine.api import InpaintJob

    audio = make_audio(0.64)
    spec = InpaintJob(audio=audio, sample_rate_hz=RATE, start_s=0.1, end_s=0.3, prompt="x")
    recipe = spec.make_recipe(seed=3)
    clip = Clip(name="edited elsewhere", audio=audio, sample_rate_hz=RATE, recipe=recipe)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    select(window.project, clip)
    qtbot.waitUntil(lambda: window.inspector.clip is clip, timeout=2000)
    button = window.inspector.regenerate_button
    assert not button.isEnabled() and "input audio" in button.toolTip()

    window.project.remember_inputs(spec, [recipe])  # what a finished edit keeps
    window.inspector.show_clip(clip)
    assert button.isEnabled()


def test_inputs_are_stored_once_by_fingerprint_and_checked_when_read(tmp_path):
    import json

    import pytest

    from app.model.persistence import ProjectArchive, load_project, project_from_archive, save_project
    from app.model.project import Project
    from app.model.project_schema import ProjectFileError
    from engine.api import VaryJob

    audio = make_audio(0.64)
    spec = VaryJob(audio=audio, sample_rate_hz=RATE, prompt="x", num_variations=2)
    recipes = [spec.make_recipe(seed=s) for s in (1, 2)]
    project = Project.with_track()
    for recipe in recipes:
        project.add_clip(project.tracks[0].id, Clip(audio=audio * np.float32(0.5), sample_rate_hz=RATE, recipe=recipe))
    project.remember_inputs(spec, recipes)
    path = tmp_path / "p.sdproj"
    save_project(project, path)
    again = load_project(path)
    (sha,) = again.inputs
    assert sha == recipes[0].inputs["audio"]["sha256"]
    kept, rate = again.inputs_for(again.clips()[1].recipe)["audio"]
    assert rate == RATE and kept.dtype == np.float32
    np.testing.assert_array_equal(kept, audio)

    # An input whose samples are not the ones its name says is left out, with a warning.
    other = tmp_path / "swapped.sdproj"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(other, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith(INPUTS_FOLDER):
                data = src.read(json.loads(src.read("project.json"))["tracks"][0]["clips"][0]["audio"])
            dst.writestr(info.filename, data)
    with ProjectArchive(other) as archive:
        swapped, warnings = project_from_archive(archive)
    assert swapped.inputs == {} and any("cannot be regenerated" in w for w in warnings)
    # A damaged input: the project still opens, with a warning (only Regenerate needs it).
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(other, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, b"RIFF not a wav" if info.filename.startswith(INPUTS_FOLDER) else src.read(info))
    with ProjectArchive(other) as archive:
        damaged, warnings = project_from_archive(archive)
    assert damaged.inputs == {} and len(damaged.clips()) == 2
    assert any("cannot be regenerated" in w and "inputs/" in w for w in warnings)

    # A key that is no fingerprint is refused with a one-line message.
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("project.json"))
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest["inputs"] = {"../evil": manifest["inputs"][sha]}
    members["project.json"] = json.dumps(manifest).encode()
    bad = tmp_path / "bad.sdproj"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(ProjectFileError, match="sha256 fingerprints"):
        load_project(bad)
