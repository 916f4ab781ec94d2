"""Upsample a clip in the app: replace it or add a new clip, one undo step; a selected range is
crossfaded in at the clip's rate, every other sample stays bit-identical, and the clip's recipe
(the range's) regenerates exactly what landed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_edit_tools import run_and_wait

from app.ab_compare import toggle
from app.edit_tools import install_edit_tools
from app.model.commands import AddClip
from app.model.project import Clip, Selection
from app.tasks import app_tasks
from engine.api import spec_from_recipe, task
from engine.specs import run_to_end

TINY = str(Path(__file__).resolve().parents[1] / "assets" / "tiny-upsampler")
RATE = 22050


def band_limited_clip(window) -> Clip:
    rng = np.random.default_rng(0)
    spectrum = np.fft.rfft(rng.standard_normal(2 * RATE))
    spectrum[np.fft.rfftfreq(2 * RATE, 1 / RATE) >= 3000] = 0
    audio = (0.2 * np.fft.irfft(spectrum, n=2 * RATE) / 30)[None].astype(np.float32)
    clip = Clip(audio=audio, sample_rate_hz=RATE, name="dull", start_s=0.0)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=window.project.tracks[0].id))
    return clip


def test_upsample_replaces_a_clip_or_a_selected_range_in_one_undo_step(qtbot, window, tmp_path):
    assert "upsample" in [t.name for t in app_tasks()]
    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    form = tools.edit_panel.forms["upsample"]
    form.model.setText(TINY)
    clip = band_limited_clip(window)
    original = clip.audio
    with pytest.raises(ValueError, match="Nothing to compare"):
        toggle(window.undo_stack, clip.id)

    # The whole clip: the tiny upsampler's rate (22.05 kHz here), the band above 3 kHz filled.
    run_and_wait(qtbot, tools, lambda: tools.run_edit("upsample"))
    assert clip.audio is not original and clip.audio.shape == original.shape
    assert clip.recipe.task == "upsample" and clip.recipe.model_id == TINY
    high = np.abs(np.fft.rfft(clip.audio[0]))[np.fft.rfftfreq(clip.audio.shape[1], 1 / RATE) > 3500]
    assert high.mean() > 1e-3 * np.abs(np.fft.rfft(original[0])).mean()
    # Compare A/B flips between the two versions (Edit > Spectrogram > Compare A/B) and says which.
    upsampled = clip.audio
    tools.actions["compare_ab"].trigger()
    assert clip.audio is original
    tools.actions["compare_ab"].trigger()
    assert clip.audio is upsampled
    assert toggle(window.undo_stack, clip.id) == "A/B: hearing A, before 'Upsample' (22.05 kHz)"
    assert toggle(window.undo_stack, clip.id).startswith(f"A/B: hearing B, after 'Upsample' (upsampled by {TINY}")
    window.undo_stack.undo()
    assert clip.audio is original

    # A range (0.5 s to 1.5 s of the clip): the rest stays bit-identical.
    window.project.set_selection(Selection(start_s=0.5, end_s=1.5, clip_ids=frozenset({clip.id}),
                                           track_id=window.project.tracks[0].id))
    run_and_wait(qtbot, tools, lambda: tools.run_edit("upsample"))
    lo, hi = int(0.5 * RATE), int(1.5 * RATE)
    assert clip.sample_rate_hz == RATE and clip.audio.shape == original.shape
    np.testing.assert_array_equal(clip.audio[:, :lo], original[:, :lo])
    np.testing.assert_array_equal(clip.audio[:, hi:], original[:, hi:])
    assert not np.array_equal(clip.audio[:, lo:hi], original[:, lo:hi])
    # Its recipe is the range's: regenerating it from the clip's input makes exactly what landed.
    assert (clip.recipe.params["start_s"], clip.recipe.params["end_s"]) == (0.5, 1.5)
    again = spec_from_recipe(clip.recipe, {"audio": (original, RATE)})
    (result,) = run_to_end(task(again.kind).run(again, None))
    np.testing.assert_array_equal(result.audio, clip.audio)
    window.undo_stack.undo()
    assert clip.audio is original

    # A new clip below, the original untouched.
    form.result.setCurrentIndex(1)
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=window.project.tracks[0].id))
    count = len(window.project.clips())
    run_and_wait(qtbot, tools, lambda: tools.run_edit("upsample"))
    assert len(window.project.clips()) == count + 1 and clip.audio is original
    window.undo_stack.undo()
    assert len(window.project.clips()) == count
