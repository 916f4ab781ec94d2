"""The vocoder is chosen in the prompt panel: it goes into every generation's and edit's spec (so
into their recipes), a clip's recipe brings it back, and the panel's saved state keeps it."""

from __future__ import annotations

import pytest

from app.model.generation import GenerationSettings
from engine.api import DEFAULT_VOCODER, Recipe, VaryJob


def test_settings_carry_the_vocoder_into_every_job():
    settings = GenerationSettings(model="some/model", prompt="rain")
    assert settings.vocoder == DEFAULT_VOCODER == "griffin-lim"
    settings.set(vocoder="bigvgan-v2")
    assert settings.generate_spec().vocoder == "bigvgan-v2"
    assert settings.edit_kwargs()["vocoder"] == "bigvgan-v2"
    with pytest.raises(ValueError, match="unknown vocoder 'wavenet'"):
        settings.set(vocoder="wavenet")
    assert settings.vocoder == "bigvgan-v2"
    recipe = Recipe(task="generate", params={"prompt": "x"}, model_id="some/model", seed=3, vocoder="griffin-lim")
    settings.apply_spec(recipe)
    assert settings.vocoder == "griffin-lim"


def test_the_prompt_panel_has_a_vocoder_combo_that_follows_and_keeps_the_setting(qtbot):
    import numpy as np

    from app.widgets.qt_prompt_panel import QtPromptPanel

    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    combo = panel.vocoder_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["griffin-lim", "bigvgan-v2"]
    combo.setCurrentIndex(1)
    assert panel.settings.vocoder == "bigvgan-v2"
    state = panel.state()
    panel.settings.set(vocoder="/some/vocoder/folder")  # from a clip's recipe: an entry of its own
    assert combo.currentData() == "/some/vocoder/folder"
    panel.restore_state(state)
    assert combo.currentData() == "bigvgan-v2" and panel.settings.vocoder == "bigvgan-v2"
    clip = np.zeros((1, 22050), dtype=np.float32)
    panel.settings.set(model="some/model")
    spec = VaryJob(audio=clip, sample_rate_hz=22050, **panel.settings.edit_kwargs("piano"))
    assert spec.vocoder == "bigvgan-v2"


def test_re_vocode_a_clip_in_one_undo_step(qtbot, make_window, tmp_path):
    from pathlib import Path

    import numpy as np
    from PySide6.QtCore import Qt

    from app.edit_tools import install_edit_tools
    from app.model.commands import AddClip
    from app.model.project import Clip, Selection

    tiny = Path(__file__).resolve().parents[1] / "assets" / "tiny-bigvgan"
    window = make_window()
    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    try:
        t = np.arange(22050) / 22050
        audio = np.stack([0.3 * np.sin(2 * np.pi * 330 * t)]).astype(np.float32)
        clip = Clip(name="tone", audio=audio, sample_rate_hz=22050, start_s=0.5)
        track = window.project.tracks[0]
        window.undo_stack.push_command(AddClip(window.project, track.id, clip))
        window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id))
        form = tools.edit_panel.forms["vocode"]
        form.vocoder.addItem("tiny", str(tiny))
        form.vocoder.setCurrentIndex(form.vocoder.count() - 1)
        steps = window.undo_stack.count()
        with qtbot.waitSignal(tools.edit_landed, timeout=120000) as landed:
            qtbot.mouseClick(tools.edit_panel.buttons["vocode"], Qt.MouseButton.LeftButton)
        assert landed.args[1] == "vocode" and landed.args[2] == [clip.id]
        assert window.undo_stack.count() == steps + 1
        assert clip.recipe.task == "vocode" and clip.recipe.vocoder == str(tiny)
        assert clip.audio.shape == audio.shape and not np.array_equal(clip.audio, audio)
        window.undo_stack.undo()  # A/B: the clip as it was
        np.testing.assert_array_equal(clip.audio, audio)
    finally:
        tools.shutdown()


def test_a_re_vocoded_clip_keeps_its_input_for_regenerate():
    import numpy as np

    from app.model.project import Project
    from engine.api import task

    clip = np.zeros((1, 22050), dtype=np.float32)
    spec = task("vocode").spec(audio=clip, sample_rate_hz=22050, spectrogram_preset="starter")
    recipe = spec.make_recipe(seed=0)
    project = Project()
    project.remember_inputs(spec, [recipe])
    kept = project.inputs_for(recipe)
    assert kept is not None and np.array_equal(kept["audio"][0], clip)
