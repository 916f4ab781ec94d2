"""Spectrogram editing in the main window, as a user does it: masks painted with the mouse on the
timeline, edits run on the real engine thread with the tiny model (2 steps), results landing as
undo steps, cancel, project files with masks, autosave and crash recovery."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6 import QtCore
from PySide6.QtCore import Qt
from test_timeline import drag, view_point

from app.edit_tools import EditTools, install_edit_tools
from app.model.commands import AddClip, MoveClip, TrimClip
from app.model.mask import FreqBand, Mask, Rect, Stroke, TimeBand
from app.model.mask_commands import add_shape
from app.model.project import Clip, Selection
from engine.audio.spectrogram import get_preset

RATE = 44100


def make_audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * RATE))) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.15 * np.sin(2 * np.pi * 660 * t + 1.0)
    return np.stack([tone, 0.8 * tone]).astype(np.float32) + (0.01 * rng.standard_normal((2, t.size))).astype(np.float32)


@pytest.fixture
def tools_window(make_window, qtbot, tmp_path):
    """(window, tools, clip): a shown main window with the edit tools and a 1.28 s clip at 2 s."""
    window = make_window()
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    clip = Clip(name="riff", audio=make_audio(1.28), sample_rate_hz=RATE, start_s=2.0)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=window.project.tracks[0].id))
    window.timeline.set_visible_range(0.0, 5.0)
    yield window, tools, clip
    tools.shutdown()


def fast_settings(window, tools, model: str) -> None:
    """The prompt panel's model, 2 steps and a locked seed; small images and quick resynthesis."""
    panel = window.prompt_panel
    panel.set_model(model)
    panel.apply_model_hints()  # as when the user picks it: the starter's preset goes
    panel.prompt_edit.setPlainText("warm synth")
    panel.steps_spin.setValue(2)
    panel.seed_edit.setText("7")
    panel.seed_lock.setChecked(True)
    edit = tools.edit_panel
    edit.window_spin.setValue(1.28)
    edit.height_spin.setValue(64)
    edit.iterations_spin.setValue(4)


def run_and_wait(qtbot, tools: EditTools, start, timeout_ms: int = 180000):
    """Run ``start()`` and wait until the edit lands: (job_id, kind, clip ids). A failure shows its
    message at once instead of a timeout."""
    outcome: dict[str, object] = {}

    def landed(*args):
        outcome["landed"] = args

    def failed(kind, message):
        outcome["failed"] = message

    tools.edit_landed.connect(landed)
    tools.edit_failed.connect(failed)
    try:
        start()
        qtbot.waitUntil(lambda: bool(outcome), timeout=timeout_ms)
    finally:
        tools.edit_landed.disconnect(landed)
        tools.edit_failed.disconnect(failed)
    assert "failed" not in outcome, outcome["failed"]
    return outcome["landed"]


def lane_y(window, hz: float) -> float:
    return window.timeline.frequency_scale.y_of_hz(hz)


def test_painting_masks_with_the_mouse_survives_moves_zoom_and_trims(qtbot, tools_window):
    window, tools, clip = tools_window
    timeline, stack, masks = window.timeline, window.undo_stack, tools.masks
    lane = timeline.lanes()[0]
    s_per_px = timeline.visible_range()[1] / lane.viewbox.width()

    # Time band: T, then drag from 2.5 s to 3.0 s (clip audio 0.5 .. 1.0 s).
    tools.actions["tool_time_band"].trigger()
    assert timeline.tool == "mask" and tools.mask_tools.tool_buttons["time_band"].isChecked()
    steps = stack.count()
    drag(qtbot, lane.plot, view_point(lane, 2.5, lane_y(window, 1000)), view_point(lane, 3.0, lane_y(window, 3000)))
    assert stack.count() == steps + 1
    (band,) = masks.get(clip.id).shapes
    assert isinstance(band, TimeBand)
    assert band.start_s == pytest.approx(0.5, abs=3 * s_per_px) and band.end_s == pytest.approx(1.0, abs=3 * s_per_px)

    # Rectangle in seconds x Hz.
    tools.actions["tool_rect"].trigger()
    drag(qtbot, lane.plot, view_point(lane, 2.2, lane_y(window, 500)), view_point(lane, 2.4, lane_y(window, 2000)))
    rect = masks.get(clip.id).shapes[-1]
    assert isinstance(rect, Rect)
    assert rect.start_s == pytest.approx(0.2, abs=3 * s_per_px) and rect.end_s == pytest.approx(0.4, abs=3 * s_per_px)
    assert rect.fmin_hz == pytest.approx(500, rel=0.05) and rect.fmax_hz == pytest.approx(2000, rel=0.05)

    # A brush stroke with many pointer moves is one undo step; undo gives back the very same mask.
    before = masks.get(clip.id)
    tools.actions["tool_brush"].trigger()
    steps = stack.count()
    drag(qtbot, lane.plot, view_point(lane, 2.1, lane_y(window, 300)), view_point(lane, 3.2, lane_y(window, 4000)), steps=8)
    assert stack.count() == steps + 1
    stroke = masks.get(clip.id).shapes[-1]
    assert isinstance(stroke, Stroke) and len(stroke.points) >= 8
    assert stroke.radius_s == pytest.approx(tools.painter.brush_px / 2 * s_per_px, rel=0.05)
    assert "Paint mask" in stack.undoText()
    stack.undo()
    assert masks.get(clip.id) is before
    stack.redo()
    assert masks.get(clip.id).shapes[-1] == stroke

    # The overlay shows it; moving, zooming and trimming keep it on the same sound.
    item = tools.painter.mask_item(clip.id)
    shown = item.shown_values()
    assert shown.max() > 0.99 and shown.mean() < 0.9
    raster = masks.get(clip.id).rasterise(item.grid)
    stack.push_command(MoveClip(window.project, clip.id, 6.0))
    timeline.zoom(3.0)
    timeline.resize(timeline.width() - 200, timeline.height())
    qtbot.wait(20)
    item = tools.painter.mask_item(clip.id)
    np.testing.assert_array_equal(item.shown_values(), raster)
    origin = lane.viewbox.mapFromItemToView(item, QtCore.QPointF(0.0, 0.0))
    assert origin.x() == pytest.approx(6.0)
    stack.push_command(TrimClip(window.project, clip.id, 0.25, None))
    origin = lane.viewbox.mapFromItemToView(tools.painter.mask_item(clip.id), QtCore.QPointF(0.0, 0.0))
    assert origin.x() == pytest.approx(6.0)  # the audio's first sample stayed where it was
    assert masks.get(clip.id).shapes[-1] == stroke

    # Invert and clear are single steps too; the feather spin edits the selected clip's mask.
    steps = stack.count()
    tools.actions["invert_mask"].trigger()
    tools.mask_tools.feather_spin.setValue(9)
    tools.mask_tools.feather_spin.setValue(11)
    tools.actions["clear_mask"].trigger()
    assert stack.count() == steps + 3 and masks.get(clip.id).is_empty and masks.get(clip.id).feather_px == 11
    stack.undo()
    stack.undo()
    assert masks.get(clip.id).feather_px == 4 and len(masks.get(clip.id).shapes) == 4

    # A split keeps the mask on both halves (it is in the shared audio's seconds).
    window.project.set_playhead(6.5)
    timeline.split_at_playhead()
    right = next(c for c in window.project.clips() if c.id != clip.id)
    assert right.audio is clip.audio and masks.get(right.id) == masks.get(clip.id)

    # Back to the edit tool: drags move clips again.
    tools.actions["tool_edit"].trigger()
    assert timeline.tool == "edit"


def test_edit_actions_have_unique_shortcuts(tools_window):
    window, tools, _ = tools_window
    seen: dict[str, list[str]] = {}
    for action in window.findChildren(type(tools.actions["inpaint"])):
        for seq in action.shortcuts():
            seen.setdefault(seq.toString(), []).append(action.text())
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
    for name, key in (("inpaint", "Ctrl+Shift+R"), ("extend", "Ctrl+Shift+E"), ("loop", "Ctrl+Shift+L"),
                      ("tool_brush", "B"), ("tool_eraser", "E")):
        assert tools.actions[name].shortcut().toString() == key
    assert tools.edit_dock.widget() is tools.edit_panel and window.history_view is tools.history_view


def test_every_edit_lands_as_one_exact_undo_step(qtbot, tools_window, tiny_model):
    window, tools, clip = tools_window
    project, stack, masks = window.project, window.undo_stack, tools.masks
    fast_settings(window, tools, tiny_model)
    original = clip.audio
    n = original.shape[1]

    # Inpaint a painted time band through the panel: only the band's samples change.
    stack.push_command(add_shape(project, masks, clip.id, TimeBand(0.4, 0.8)))
    mask_before = masks.get(clip.id)
    steps = stack.count()
    job_id, kind, ids = run_and_wait(qtbot, tools, lambda: qtbot.mouseClick(tools.edit_panel.buttons["inpaint"],
                                                                              Qt.MouseButton.LeftButton))
    assert kind == "inpaint" and ids == [clip.id] and stack.count() == steps + 1
    edited = clip.audio
    assert edited.shape == original.shape and clip.recipe.task == "inpaint" and clip.image is not None
    lo, hi = int(round(0.4 * RATE)), int(round(0.8 * RATE))
    np.testing.assert_array_equal(edited[:, :lo], original[:, :lo])
    np.testing.assert_array_equal(edited[:, hi:], original[:, hi:])
    assert np.abs(edited[:, lo + 2000 : hi - 2000] - original[:, lo + 2000 : hi - 2000]).max() > 1e-3
    stack.undo()
    assert clip.audio is original and clip.recipe is None and clip.image is None
    stack.redo()
    assert clip.audio is edited
    stack.undo()

    # Extend 0.5 s left and 1 s right: the original samples stay, at the same timeline time.
    tools.edit_panel.forms["extend"].left.setValue(0.5)
    tools.edit_panel.forms["extend"].right.setValue(1.0)
    run_and_wait(qtbot, tools, lambda: tools.actions["extend"].trigger())
    left = int(round(0.5 * RATE))
    assert clip.audio.shape[1] == left + n + int(round(1.0 * RATE))
    np.testing.assert_array_equal(clip.audio[:, left : left + n], original)
    assert clip.start_s == pytest.approx(1.5) and clip.start_s + left / RATE == pytest.approx(2.0)
    (band,) = masks.get(clip.id).shapes
    assert (band.start_s, band.end_s) == pytest.approx((0.9, 1.3))  # the mask moved with its sound
    stack.undo()
    assert clip.audio is original and clip.start_s == 2.0 and masks.get(clip.id) is mask_before

    # Continue from the end of a selection: the clip up to there, then new audio.
    project.set_selection(Selection(start_s=2.3, end_s=3.0, clip_ids=frozenset({clip.id}), track_id=project.tracks[0].id))
    tools.edit_panel.forms["extend"].right.setValue(0.64)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("continue"))
    keep = int(round(1.0 * RATE))
    assert clip.audio.shape[1] == keep + int(round(0.64 * RATE)) and clip.start_s == 2.0
    np.testing.assert_array_equal(clip.audio[:, :keep], original[:, :keep])
    stack.undo()
    assert clip.audio is original

    # Loop the whole clip, then vary it: each a single exact undo step.
    project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=project.tracks[0].id))
    tools.edit_panel.forms["loop"].seam.setValue(0.3)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("loop"))
    assert clip.audio.shape == original.shape and clip.recipe.task == "loop"
    stack.undo()
    assert clip.audio is original
    tools.edit_panel.forms["vary"].strength.setValue(0.5)
    run_and_wait(qtbot, tools, lambda: tools.run_edit("vary"))
    assert clip.audio.shape == original.shape and clip.recipe.task == "vary"
    assert not np.array_equal(clip.audio, original)
    stack.undo()
    assert clip.audio is original

    # Several variations land as new clips on the tracks below; the clip itself stays.
    tools.edit_panel.forms["vary"].count.setValue(2)
    tracks = len(project.tracks)
    _, _, ids = run_and_wait(qtbot, tools, lambda: tools.run_edit("vary"))
    assert len(ids) == 2 and clip.audio is original and len(project.tracks) == tracks + 2
    assert [project.find_clip(i)[0] for i in ids] == project.tracks[1:3]
    assert all(project.find_clip(i)[1].start_s == clip.start_s for i in ids)
    stack.undo()
    assert len(project.tracks) == tracks and not any(project.has_clip(i) for i in ids)
    tools.edit_panel.forms["vary"].count.setValue(1)

    # A loop of a selected range: the clip becomes that loop, where the range was.
    project.set_selection(Selection(start_s=2.2, end_s=3.1, clip_ids=frozenset({clip.id}), track_id=project.tracks[0].id))
    run_and_wait(qtbot, tools, lambda: tools.run_edit("loop"))
    assert clip.start_s == pytest.approx(2.2) and clip.length_s == pytest.approx(0.9, abs=1e-4)
    (band,) = masks.get(clip.id).shapes
    assert (band.start_s, band.end_s) == pytest.approx((0.2, 0.6))
    stack.undo()
    assert clip.audio is original and clip.start_s == 2.0 and masks.get(clip.id) is mask_before
    project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=project.tracks[0].id))

    # A brush-painted mask: every sample outside the spectrogram columns it touches stays exact.
    stack.push_command(add_shape(project, masks, clip.id, Stroke(((0.5, 800.0), (0.7, 1500.0)), 0.04, 80.0, 0.9)))
    run_and_wait(qtbot, tools, lambda: tools.run_edit("inpaint"))
    params = dataclasses.replace(get_preset("riffusion"), num_frequencies=64)
    columns = np.flatnonzero((masks.get(clip.id).job_mask(n, params) >= 0.5).any(axis=0))
    touched = np.zeros(n, dtype=bool)
    for c in columns:
        touched[c * params.hop_length : (c + 1) * params.hop_length] = True
    assert 0 < touched.sum() < n // 2
    np.testing.assert_array_equal(clip.audio[:, ~touched], original[:, ~touched])
    stack.undo()
    stack.undo()
    assert clip.audio is original and masks.get(clip.id) is mask_before

    # A clip at another rate keeps its rate and length (the engine works on a copy at the preset's).
    other = Clip(name="48k", audio=make_audio(0.7, seed=2)[:, : int(0.64 * 48000)], sample_rate_hz=48000, start_s=4.0)
    before = other.audio
    stack.push_command(AddClip(project, project.tracks[0].id, other))
    project.set_selection(Selection(clip_ids=frozenset({other.id}), track_id=project.tracks[0].id))
    run_and_wait(qtbot, tools, lambda: tools.run_edit("vary"))
    assert other.sample_rate_hz == 48000 and other.audio.shape == before.shape and other.audio is not before
    stack.undo()
    assert other.audio is before

    # Interpolate: a new clip at the playhead (a free spot: a taken one lands after the track's
    # last clip, see test_placement.py), removed again by undo.
    project.set_playhead(6.0)
    tools.edit_panel.forms["interpolate"].prompt_to.setText("bright bells")
    tools.edit_panel.forms["interpolate"].steps.setValue(2)
    tools.edit_panel.forms["interpolate"].segment.setValue(0.64)
    tools.edit_panel.forms["interpolate"].crossfade.setValue(0.1)
    count = len(project.clips())
    _, _, (new_id,) = run_and_wait(qtbot, tools, lambda: tools.run_edit("interpolate"))
    _, new_clip = project.find_clip(new_id)
    assert new_clip.start_s == 6.0 and new_clip.recipe.task == "interpolate" and len(project.clips()) == count + 1
    stack.undo()
    assert not project.has_clip(new_id) and clip.audio is original


def test_a_cancelled_edit_leaves_the_clip_untouched(qtbot, tools_window, tiny_model):
    window, tools, clip = tools_window
    fast_settings(window, tools, tiny_model)
    window.undo_stack.push_command(add_shape(window.project, tools.masks, clip.id, TimeBand(0.2, 0.9)))
    original, steps, mask = clip.audio, window.undo_stack.count(), tools.masks.get(clip.id)
    tools.edit_submitted.connect(lambda job_id, kind: tools.edit_panel.cancel_button.click())
    with qtbot.waitSignal(tools.edit_cancelled, timeout=60000):
        assert tools.run_edit("inpaint")
    qtbot.wait(50)
    assert clip.audio is original and window.undo_stack.count() == steps and tools.masks.get(clip.id) is mask
    assert not tools.edit_panel.cancel_button.isVisible()


def test_an_edit_says_which_prompt_it_used_when_the_prompt_panel_has_other_words(qtbot, tools_window, tiny_model):
    """A new user types "warm synth" in the Prompt panel and presses Inpaint: the edit uses the
    Edit dock's prompt (empty: the clip's own; this imported clip has none). It used to say only
    "Inpaint done."; now the status bar says what it used and where an edit's prompt goes."""
    window, tools, clip = tools_window
    fast_settings(window, tools, tiny_model)  # the Prompt panel says "warm synth"
    window.undo_stack.push_command(add_shape(window.project, tools.masks, clip.id, TimeBand(0.4, 0.8)))
    run_and_wait(qtbot, tools, lambda: tools.actions["inpaint"].trigger())
    message = window.statusBar().currentMessage()
    assert message.startswith("Inpaint done without a prompt") and clip.recipe.params["prompt"] == ""
    assert "'warm synth', type it in the Edit dock's Inpaint tab" in message
    assert tools.edit_panel.status_label.text() == message
    # Typed where an edit's prompt goes, it is used, and the message is the short one, also when
    # the Prompt panel holds other words (as it does after any generation).
    tools.edit_panel.forms["inpaint"].prompt.setText("a sine tone")
    run_and_wait(qtbot, tools, lambda: tools.actions["inpaint"].trigger())
    assert clip.recipe.params["prompt"] == "a sine tone" and window.statusBar().currentMessage() == "Inpaint done."


def test_edits_that_cannot_start_say_why(qtbot, tools_window, tiny_model):
    window, tools, clip = tools_window
    fast_settings(window, tools, tiny_model)
    failures = []
    tools.edit_failed.connect(lambda kind, message: failures.append((kind, message)))
    assert not tools.run_edit("inpaint")  # no mask, no selected time range
    assert "Paint a mask" in failures[-1][1] and "Paint a mask" in tools.edit_panel.status_label.text()
    assert "Brush, Rectangle or Time Band on the Mask toolbar" in failures[-1][1]  # the tools in sight, by name
    bar = tools.mask_toolbar  # ... and named as the toolbar names them
    from PySide6.QtWidgets import QAbstractButton

    assert {"Brush", "Rectangle", "Time Band"} <= {b.text() for b in bar.findChildren(QAbstractButton)}
    window.project.set_selection(Selection())
    window.project.set_playhead(0.5)
    assert not tools.run_edit("vary")
    assert "Select a clip" in failures[-1][1]
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id})))
    tools.edit_panel.forms["extend"].right.setValue(0.0)
    assert not tools.run_edit("extend")
    assert "seconds to add" in failures[-1][1]


def test_masks_are_saved_with_the_project_and_come_back(qtbot, tools_window, tmp_path):
    window, tools, clip = tools_window
    mask = Mask((Stroke(((0.2, 400.0), (0.6, 1200.0)), 0.05, 60.0, 0.6), FreqBand(3000.0, 5000.0)), feather_px=8)
    tools.masks.set_mask(clip.id, mask)
    path = str(tmp_path / "song.sdproj")
    window.project.path = path
    with qtbot.waitSignal(window.project_saved, timeout=30000):
        window.save_project()
    tools.masks.set_mask(clip.id, Mask())
    with qtbot.waitSignal(tools.masks_loaded, timeout=30000):
        window.open_project(path)
    (again,) = window.project.clips()
    assert again.id == clip.id and again is not clip
    np.testing.assert_array_equal(again.audio, clip.audio)
    assert tools.masks.get(clip.id) == mask
    assert tools.painter.mask_item(clip.id).shown_values().max() > 0.99


def test_autosave_is_offered_after_a_crash_and_recovers_the_work(qtbot, make_window, tmp_path):
    folder = tmp_path / "autosave"
    crashed = make_window()
    tools_a = install_edit_tools(crashed, autosave_dir=folder, check_recovery=False)
    clip = Clip(name="take 1", audio=make_audio(0.5, seed=4), sample_rate_hz=RATE, start_s=1.0)
    crashed.undo_stack.push_command(AddClip(crashed.project, crashed.project.tracks[0].id, clip))
    crashed.undo_stack.push_command(add_shape(crashed.project, tools_a.masks, clip.id, TimeBand(0.1, 0.3)))
    assert tools_a.autosaver.dirty
    with qtbot.waitSignal(tools_a.autosaver.autosaved, timeout=30000):
        tools_a.autosaver.autosave_now()
    assert tools_a.autosaver.path.is_file() and tools_a.autosaver.sidecar.is_file()
    tools_a.autosaver.abandon()  # the process "dies": nothing is cleaned up

    offered = []
    restarted = make_window()
    tools_b = install_edit_tools(restarted, autosave_dir=folder, on_recovery=offered.append)
    qtbot.waitUntil(lambda: bool(offered), timeout=5000)
    (info,) = offered[0]
    assert info.path == tools_a.autosaver.path and info.project_path is None
    with qtbot.waitSignal(tools_b.recovered, timeout=30000):
        tools_b.recover(info)
    (again,) = restarted.project.clips()
    assert again.id == clip.id and again.start_s == 1.0
    np.testing.assert_array_equal(again.audio, clip.audio)
    assert tools_b.masks.get(clip.id) == tools_a.masks.get(clip.id)
    assert not restarted.undo_stack.isClean() and restarted.isWindowModified()
    assert restarted.history_view.model().index(0, 0).data() == f"Recovered {info.describe()}"  # History's first row
    assert not info.path.exists()
    # Closing the window (a clean exit) leaves nothing to recover.
    qtbot.waitUntil(lambda: tools_b.autosaver.path.exists(), timeout=30000)
    restarted.close()
    qtbot.waitUntil(lambda: not tools_b.autosaver.path.exists(), timeout=5000)
    assert tools_b.check_recovery() == []


def test_without_a_callback_recovery_is_offered_in_a_box_that_does_not_block(qtbot, make_window, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    folder = tmp_path / "autosave"
    crashed = make_window()
    tools_a = install_edit_tools(crashed, autosave_dir=folder, check_recovery=False)
    with qtbot.waitSignal(tools_a.autosaver.autosaved, timeout=30000):
        tools_a.autosaver.autosave_now()
    tools_a.autosaver.abandon()
    leftover = tools_a.autosaver.path

    restarted = make_window()
    tools_b = install_edit_tools(restarted, autosave_dir=folder)
    qtbot.waitUntil(lambda: tools_b.recovery_box is not None, timeout=5000)
    box = tools_b.recovery_box
    assert box.isVisible() and not box.isModal() and "did not close properly" in box.text()
    box.button(QMessageBox.StandardButton.Discard).click()
    assert not leftover.exists() and tools_b.check_recovery() == []
