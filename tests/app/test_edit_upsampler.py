"""Every app job that makes new audio takes its upsampler from the generation settings (the
prompt panel's "Full band"), as generate does: on, the model's upsampler; off, none. Inpaint,
loop, extend, continue, vary and interpolate each build their spec with it."""

from __future__ import annotations

from test_edit_tools import fast_settings, tools_window  # noqa: F401 (a fixture)

from app.model.generation import upsampler_for
from app.model.project import Selection


def test_every_edit_follows_the_full_band_setting(qtbot, tools_window, tiny_model):  # noqa: F811
    from app.tasks import continue_from, extend, inpaint, interpolate, loop, vary

    window, tools, clip = tools_window
    fast_settings(window, tools, tiny_model)
    window.project.set_selection(Selection(start_s=2.2, end_s=3.1, clip_ids=frozenset({clip.id}),
                                           track_id=window.project.tracks[0].id))
    plans = {
        "inpaint": lambda: inpaint.plan(tools, {"prompt": "", "strength": 1.0}),
        "loop": lambda: loop.plan(tools, {"prompt": "", "seam_s": 0.2, "strength": 1.0}),
        "extend": lambda: extend.plan(tools, {"prompt": "", "prompt_left": None, "left_s": 1.0, "right_s": 1.0,
                                              "context_s": 0.5}),
        "continue": lambda: continue_from.plan(tools, {"prompt": "", "prompt_left": None, "left_s": 0.0,
                                                       "right_s": 1.0, "context_s": 0.5}),
        "vary": lambda: vary.plan(tools, {"prompt": "", "strength": 0.5, "num_variations": 1}),
        "interpolate": lambda: interpolate.plan(tools, {"prompt": "rain", "prompt_to": "wind", "seed": None,
                                                        "seed_to": None, "num_steps": 2, "window_s": 1.28,
                                                        "crossfade_s": 0.2}),
    }
    for full_band in (True, False):
        window.prompt_panel.upsample_check.setChecked(full_band)
        expected = upsampler_for(window.generation) if full_band else ""
        assert window.generation.upsampler == expected
        for name, plan in plans.items():
            assert plan().build().upsampler == expected, name
    assert expected == "" and upsampler_for(window.generation) == "builtin:upsampler"
