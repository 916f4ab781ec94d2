"""The README's first session, as a new user does it, on the model a fresh offline install picks
(starter model 2): generate, import a 44.1 kHz stereo file, paint a mask and inpaint it, extend,
vary with an empty prompt, undo, save, reopen and export. It checks what a user would notice:
nothing clips, new sounds land near the target loudness, an imported clip keeps its sample rate
and channels, untouched samples stay exactly as they were, an empty edit prompt means the clip's
own prompt, and no clips overlap."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from test_edit_tools import run_and_wait

from app.edit_tools import install_edit_tools
from app.model.mask import TimeBand
from app.model.mask_commands import add_shape
from app.model.project import Selection
from engine.audio.loudness import CEILING_DBTP, TARGET_LUFS, integrated_loudness, true_peak_dbtp
from engine.models.catalog import STARTER2_MODEL_ID

IMPORT_RATE = 44100


def stereo_file(path) -> np.ndarray:
    """3 s at 44.1 kHz, a different chord in each channel with content up to 15 kHz; written as float WAV."""
    t = np.arange(3 * IMPORT_RATE) / IMPORT_RATE
    left = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * np.sin(2 * np.pi * 15000 * t)
    right = 0.25 * np.sin(2 * np.pi * 495 * t + 1.0) + 0.05 * np.sin(2 * np.pi * 12000 * t)
    audio = np.stack([left, right]).astype(np.float32)
    sf.write(path, audio.T, IMPORT_RATE, subtype="FLOAT")
    return audio


def no_overlaps(project) -> bool:
    for track in project.tracks:
        spans = sorted((c.start_s, c.end_s) for c in track.clips)
        if any(b_start < a_end - 1e-9 for (_, a_end), (b_start, _) in zip(spans, spans[1:])):
            return False
    return True


def job_prompts(window) -> list[str]:
    """The prompt of every job the engine starts from now on."""
    prompts: list[str] = []
    window.client.job_started.connect(lambda _job_id, spec: prompts.append(getattr(spec, "prompt", None)))
    return prompts


#: The rate of starter model 2's clips: its 22.05 kHz audio upsampled to 44.1 kHz (its card's pipeline).
TONE_RATE = 44100


def test_a_first_session_on_the_default_offline_model(qtbot, window, tmp_path):
    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() > 0, timeout=30000)
    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    project, stack, panel = window.project, window.undo_stack, window.prompt_panel
    assert panel.model_id() == STARTER2_MODEL_ID  # a fresh offline install's default
    panel.steps_spin.setValue(8)  # fewer steps than the card's 20 keep the test quick
    panel.seed_edit.setText("0")
    panel.seed_lock.setChecked(True)
    tools.edit_panel.window_spin.setValue(2.56)  # the model's own image width
    prompts = job_prompts(window)

    # 1. Generate a tone: it lands at the target loudness, under the true-peak ceiling.
    panel.prompt_edit.setPlainText("a sine tone at 440 Hz")
    with qtbot.waitSignal(window.clips_generated, timeout=240000) as generated:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    _job, (tone,) = generated.args
    # The model's recommended pipeline ends with the shipped upsampler: full band at 44.1 kHz.
    assert tone.sample_rate_hz == TONE_RATE and tone.audio.shape[0] == 1
    assert tone.recipe.params["upsampler"] == "builtin:upsampler"
    # At the target loudness, unless the true-peak ceiling held it lower (a click in the clip, as
    # starter model 2 draws at this seed with 8 steps: its peak then sits at the ceiling).
    loudness, peak = integrated_loudness(tone.audio, TONE_RATE), true_peak_dbtp(tone.audio)
    assert loudness == pytest.approx(TARGET_LUFS, abs=1.0) or (
        peak == pytest.approx(CEILING_DBTP, abs=0.05) and TARGET_LUFS - 3.0 < loudness < TARGET_LUFS)
    assert peak <= CEILING_DBTP + 1e-3

    # 2. Import a 44.1 kHz stereo file after it.
    path = tmp_path / "take.wav"
    source = stereo_file(path)
    project.set_playhead(4.0)
    with qtbot.waitSignal(window.import_finished, timeout=30000):
        window.import_files([str(path)])
    (imported,) = [c for c in project.clips() if c is not tone]
    assert (imported.sample_rate_hz, imported.audio.shape) == (IMPORT_RATE, source.shape)

    # 3. Paint a time band on it (0.5 s to 1.5 s of its audio) and inpaint with an empty prompt:
    # the clip keeps its rate, its channels and every sample outside the band.
    stack.push_command(add_shape(project, tools.masks, imported.id, TimeBand(0.5, 1.5)))
    project.set_selection(Selection(clip_ids=frozenset({imported.id}), track_id=project.tracks[0].id))
    run_and_wait(qtbot, tools, lambda: tools.run_edit("inpaint"))
    assert prompts[-1] == ""  # an imported clip has no prompt of its own; not the panel's leftover text
    assert (imported.sample_rate_hz, imported.audio.shape) == (IMPORT_RATE, source.shape)
    lo, hi = int(0.5 * IMPORT_RATE), int(1.5 * IMPORT_RATE)
    np.testing.assert_array_equal(imported.audio[:, :lo], source[:, :lo])
    np.testing.assert_array_equal(imported.audio[:, hi:], source[:, hi:])
    assert np.abs(imported.audio).max() <= 1.0
    assert not np.array_equal(imported.audio[0, lo:hi], imported.audio[1, lo:hi])  # still stereo
    around = integrated_loudness(np.concatenate([source[:, :lo], source[:, hi:]], axis=1), IMPORT_RATE)
    level = imported.recipe.facts["level"]
    assert level["gain_db"] == 12.0 or integrated_loudness(imported.audio[:, lo:hi], IMPORT_RATE) == pytest.approx(
        around, abs=2.0)

    # 4. Extend the tone by a second with an empty prompt: its own prompt, its samples kept.
    panel.prompt_edit.setPlainText("clicks at 4 per second")  # leftover text in the prompt panel
    original_tone = tone.audio
    project.set_selection(Selection(clip_ids=frozenset({tone.id}), track_id=project.tracks[0].id))
    tools.edit_panel.forms["extend"].right.setValue(1.0)
    tools.edit_panel.forms["extend"].left.setValue(0.0)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("extend"))
    assert prompts[-1] == "a sine tone at 440 Hz"
    assert tone.sample_rate_hz == TONE_RATE and tone.audio.shape == (1, original_tone.shape[1] + TONE_RATE)
    np.testing.assert_array_equal(tone.audio[:, : original_tone.shape[1]], original_tone)
    assert np.abs(tone.audio).max() <= 1.0 and true_peak_dbtp(tone.audio[:, original_tone.shape[1] :]) <= CEILING_DBTP + 1e-3

    # 5. Vary it with an empty prompt: the clip's own prompt, at the clip's loudness, no blow-up.
    extended = tone.audio
    tools.edit_panel.forms["vary"].strength.setValue(0.5)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("vary"))
    assert prompts[-1] == "a sine tone at 440 Hz"
    assert tone.audio.shape == extended.shape and not np.array_equal(tone.audio, extended)
    assert true_peak_dbtp(tone.audio) <= CEILING_DBTP + 1e-3
    assert integrated_loudness(tone.audio, TONE_RATE) == pytest.approx(integrated_loudness(extended, TONE_RATE), abs=2.0)

    # 6. Undo the variation.
    stack.undo()
    assert tone.audio is extended
    assert no_overlaps(project)  # the import was placed after the tone by hand (the playhead)

    # 7. Save, reopen: the same clips, rates and samples.
    project_path = tmp_path / "first.sdproj"
    with qtbot.waitSignal(window.project_saved, timeout=60000):
        window._save_to(str(project_path))
    before = {c.id: (c.sample_rate_hz, c.audio.copy()) for c in project.clips()}
    with qtbot.waitSignal(window.project_loaded, timeout=60000):
        window.open_project(str(project_path))
    after = {c.id: (c.sample_rate_hz, c.audio) for c in window.project.clips()}
    assert after.keys() == before.keys()
    for clip_id, (rate, audio) in before.items():
        assert after[clip_id][0] == rate
        np.testing.assert_array_equal(after[clip_id][1], audio)

    # 8. Export the mix as 16-bit WAV: nothing clips.
    out = tmp_path / "mix.wav"
    with qtbot.waitSignal(window.export_finished, timeout=60000):
        window.export_audio(str(out), "mix", "wav16")
    mix, _rate = sf.read(out, dtype="int16", always_2d=True)
    assert np.abs(mix.astype(np.int32)).max() < 32767
    assert no_overlaps(window.project)
