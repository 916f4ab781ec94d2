"""The app's inpaint and loop jobs take their upsampler from the generation settings (the prompt
panel's "Full band"), as generate does: on, the model's upsampler; off, none."""

from __future__ import annotations

from test_edit_tools import fast_settings, tools_window  # noqa: F401 (a fixture)

from app.model.generation import upsampler_for
from app.model.project import Selection


def test_inpaint_and_loop_follow_the_full_band_setting(qtbot, tools_window, tiny_model):  # noqa: F811
    from app.tasks import inpaint, loop

    window, tools, clip = tools_window
    fast_settings(window, tools, tiny_model)
    window.project.set_selection(Selection(start_s=2.2, end_s=3.1, clip_ids=frozenset({clip.id}),
                                           track_id=window.project.tracks[0].id))
    for full_band in (True, False):
        window.prompt_panel.upsample_check.setChecked(full_band)
        expected = upsampler_for(window.generation) if full_band else ""
        assert window.generation.upsampler == expected
        assert inpaint.plan(tools, {"prompt": "", "strength": 1.0}).build().upsampler == expected
        assert loop.plan(tools, {"prompt": "", "seam_s": 0.2, "strength": 1.0}).build().upsampler == expected
    assert expected == "" and upsampler_for(window.generation) == "builtin:upsampler"
