"""Regenerate for clips made from files: a clip re-vocoded from its spectrogram image keeps that
PNG in the project (``inputs/<sha256>.png``) and regenerates bit-identically after save and
reopen; a file written by ``specdiff-cli`` imports with its recipe, and the input its recipe
records by path (a clip or a spectrogram PNG) comes into the project, so the Inspector's
Regenerate makes the same samples; an input that is gone is named in the Inspector's reason."""

from __future__ import annotations

import zipfile

import numpy as np
import soundfile as sf
from PySide6.QtCore import Qt

from app.model.commands import AddClip
from app.model.persistence import INPUTS_FOLDER
from app.model.project import Clip, Selection
from engine.api import get_preset, image_from_audio

PARAMS = get_preset("starter")
RATE = PARAMS.sample_rate


def tone(seconds: float = 1.0, hz: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t))[None].astype(np.float32)


def select(project, clip) -> None:
    track = project.find_clip(clip.id)[0]
    project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id))


def regenerate(qtbot, window, clip):
    """Click the Inspector's Regenerate for ``clip``; the new clip it lands."""
    select(window.project, clip)
    qtbot.waitUntil(lambda: window.inspector.clip is clip, timeout=2000)
    button = window.inspector.regenerate_button
    assert button.isEnabled(), button.toolTip()
    with qtbot.waitSignal(window.clips_generated, timeout=120000) as again:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    (regenerated,) = again.args[1]
    return regenerated


def test_a_clip_vocoded_from_its_spectrogram_image_regenerates_after_save_and_reopen(qtbot, make_window, tmp_path):
    from app.edit_tools import install_edit_tools

    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    try:
        project = window.project
        audio = tone()
        clip = Clip(name="drawn", audio=audio, sample_rate_hz=RATE, image=image_from_audio(audio, PARAMS),
                    spectrogram_preset="starter")
        window.undo_stack.push_command(AddClip(project, project.tracks[0].id, clip))
        select(project, clip)
        form = tools.edit_panel.forms["vocode"]
        form.vocoder.setCurrentIndex(form.vocoder.findData("griffin-lim"))
        with qtbot.waitSignal(tools.edit_landed, timeout=120000):
            qtbot.mouseClick(tools.edit_panel.buttons["vocode"], Qt.MouseButton.LeftButton)
        recipe = clip.recipe
        assert recipe.task == "vocode" and recipe.inputs["image"]["kind"] == "file"
        sha = recipe.inputs["image"]["sha256"]
        assert isinstance(project.inputs[sha], bytes) and project.inputs[sha].startswith(b"\x89PNG")
        expected = clip.audio.copy()

        path = tmp_path / "vocoded.sdproj"
        project.path = str(path)
        with qtbot.waitSignal(window.project_saved, timeout=30000):
            window.save_project()
        with zipfile.ZipFile(path) as zf:
            assert f"{INPUTS_FOLDER}{sha}.png" in zf.namelist()
        with qtbot.waitSignal(window.project_loaded, timeout=60000):
            window.open_project(str(path))
        _, reopened = project.find_clip(clip.id)
        regenerated = regenerate(qtbot, window, reopened)
        assert regenerated.recipe == recipe
        np.testing.assert_array_equal(regenerated.audio, expected)
    finally:
        tools.shutdown()


def test_files_made_by_the_cli_import_with_their_recipe_and_input_and_regenerate(qtbot, window, tmp_path, capsys):
    from engine.api import save_spectrogram_image
    from engine.cli import main

    source, picture = tmp_path / "in.wav", tmp_path / "in.png"
    sf.write(str(source), tone().T, RATE, subtype="FLOAT")
    save_spectrogram_image(image_from_audio(tone(hz=550.0), PARAMS), picture)
    from_clip, from_png = tmp_path / "from_clip.wav", tmp_path / "from_png.wav"
    assert main(["vocode", str(source), "-o", str(from_clip), "--preset", "starter", "--subtype", "FLOAT", "-q"]) == 0
    assert main(["vocode", str(picture), "-o", str(from_png), "--subtype", "FLOAT", "-q"]) == 0
    capsys.readouterr()

    with qtbot.waitSignal(window.import_finished, timeout=60000):
        window.import_files([str(from_clip), str(from_png)])
    clips = {c.name: c for c in window.project.clips()}
    for name, input_name in (("from_clip", "audio"), ("from_png", "image")):
        clip = clips[name]
        assert clip.recipe is not None and clip.recipe.task == "vocode", name
        assert clip.recipe.inputs[input_name]["sha256"] in window.project.inputs, name
        regenerated = regenerate(qtbot, window, clip)
        np.testing.assert_array_equal(regenerated.audio, clip.audio, err_msg=name)  # the file's float samples

    # The recorded input is gone: the clip imports with its recipe, and the Inspector says why
    # Regenerate is off and where the input was read from.
    window.project.inputs.clear()
    source.unlink()
    with qtbot.waitSignal(window.import_finished, timeout=60000):
        window.import_files([str(from_clip)])
    again = [c for c in window.project.clips() if c.name == "from_clip" and c is not clips["from_clip"]][-1]
    select(window.project, again)
    qtbot.waitUntil(lambda: window.inspector.clip is again, timeout=2000)
    button = window.inspector.regenerate_button
    assert not button.isEnabled()
    assert str(source) in button.toolTip() and "gone" in button.toolTip()
