"""Edit > Settings' generation defaults: a default vocoder and whether full-band upsampling runs.
They are saved with QSettings and decide the prompt panel's and every edit's vocoder and Full band
wherever the user has not picked one; a pick (in the panel, or restored from the last session)
stays the user's."""

from __future__ import annotations

from app.model.generation import GenerationSettings
from engine.models.catalog import STARTER_MODEL_ID


def test_defaults_decide_what_the_user_has_not_picked():
    s = GenerationSettings(model=STARTER_MODEL_ID)
    s.use_defaults(vocoder="bigvgan-v2")
    assert s.vocoder == "bigvgan-v2" and s.edit_kwargs("x")["vocoder"] == "bigvgan-v2"
    s.set(vocoder="griffin-lim")  # the user's pick
    s.use_defaults(vocoder="bigvgan-v2")
    assert s.vocoder == "griffin-lim"

    off = GenerationSettings(model=STARTER_MODEL_ID)
    off.use_defaults(full_band=False)
    off.apply_model_hints()  # the starter recommends builtin:upsampler; the default says no
    assert off.upsampler == "" and off.generate_spec(prompt="rain").upsampler == ""
    off.use_defaults(full_band=True)  # not picked: follows the default at once
    assert off.upsampler == "builtin:upsampler" and off.edit_kwargs("x")["upsampler"] == "builtin:upsampler"
    off.set(upsampler="")  # the user switches Full band off
    off.use_defaults(full_band=True)
    assert off.upsampler == "" and off.picks() == ["upsampler"]
    again = GenerationSettings(model=STARTER_MODEL_ID, upsampler="")
    again.keep_picks(off.picks())  # a restored session keeps its picks
    again.use_defaults(full_band=True)
    assert again.upsampler == ""


def test_the_dialog_saves_the_defaults_and_the_window_uses_them(qtbot, window, make_settings):
    from app.dialogs.settings_dialog import SettingsDialog

    window.prompt_panel.set_model(STARTER_MODEL_ID)
    window.prompt_panel.apply_model_hints()
    assert window.prompt_panel.upsample_check.isChecked()  # the starter's card: full band
    dialog = SettingsDialog(window.settings, window.client.settings, window.player, window)
    qtbot.addWidget(dialog)
    assert dialog.vocoder_combo.currentData() == "griffin-lim" and dialog.full_band_check.isChecked()
    dialog.vocoder_combo.setCurrentIndex(dialog.vocoder_combo.findData("bigvgan-v2"))
    dialog.full_band_check.setChecked(False)
    dialog.generation_defaults_changed.connect(lambda d: window.generation.use_defaults(**d))
    with qtbot.waitSignal(dialog.generation_defaults_changed) as changed:
        dialog._on_accepted()
    assert changed.args[0] == {"vocoder": "bigvgan-v2", "full_band": False}
    # The prompt panel and the edits follow at once ...
    assert window.prompt_panel.vocoder_combo.currentData() == "bigvgan-v2"
    assert not window.prompt_panel.upsample_check.isChecked()
    assert window.generation.edit_kwargs("x")["vocoder"] == "bigvgan-v2"
    assert window.generation.edit_kwargs("x")["upsampler"] == ""
    # ... and the choice is saved for the next start.
    window.settings.sync()
    saved = make_settings(window.settings.path.rsplit("/", 1)[-1])
    assert saved.default_vocoder == "bigvgan-v2" and saved.full_band_default is False
