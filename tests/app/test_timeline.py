"""The timeline driven as a user would: mouse drags, clicks, wheel and keys on the real widgets."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from app.model.commands import AddClip, AddTrack, RemoveClip
from app.model.project import Clip, Project, Selection
from app.plot_items.envelope import EnvelopePyramid
from app.undo import UndoStack
from app.widgets.qt_timeline import QtTimeline

RATE_HZ = 8000


def make_clip(seconds: float = 4.0, start_s: float = 1.0, rate: int = RATE_HZ, name: str = "clip", freq_hz: float = 440.0):
    t = np.arange(int(seconds * rate)) / rate
    audio = (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)[None, :]
    return Clip(name=name, audio=audio, sample_rate_hz=rate, start_s=start_s)


@pytest.fixture
def make_timeline(qtbot):
    """make_timeline(project=None) -> (timeline, project, undo_stack); shown, 1000 px wide,
    snapping off; shut down (worker joined) after the test."""
    timelines = []

    def make(project: Project | None = None, snap: bool = False):
        project = project or Project.with_track()
        stack = UndoStack()
        timeline = QtTimeline(project, stack)
        timeline.set_snap_enabled(snap)
        qtbot.addWidget(timeline)
        timeline.resize(1200, 520)
        timeline.show()
        qtbot.waitExposed(timeline)
        timeline.activateWindow()
        qtbot.waitUntil(timeline.isActiveWindow)  # keyboard shortcuts need an active window
        timelines.append(timeline)
        return timeline, project, stack

    yield make
    for timeline in timelines:
        timeline.shutdown()


def add_clip(project, stack, clip, track_index=0):
    stack.push_command(AddClip(project, project.tracks[track_index].id, clip))
    return clip


# -- mouse helpers ---------------------------------------------------------------------------


def view_point(lane_or_plot, t_s: float, y: float) -> QtCore.QPoint:
    """Viewport pixel of plot coordinates (seconds, y) in a lane."""
    plot, vb = lane_or_plot.plot, lane_or_plot.viewbox
    scene = vb.mapViewToScene(QtCore.QPointF(t_s, y))
    return plot.mapFromScene(scene)


def send_mouse(widget, kind, pos, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    pos_f = QtCore.QPointF(pos)
    event = QtGui.QMouseEvent(kind, pos_f, QtCore.QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(
    qtbot,
    plot,
    start: QtCore.QPoint,
    end: QtCore.QPoint,
    modifiers=Qt.KeyboardModifier.NoModifier,
    steps=6,
    button=Qt.MouseButton.LeftButton,
):
    vp = plot.viewport()
    left = button
    send_mouse(vp, QtCore.QEvent.Type.MouseMove, start, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, modifiers)
    qtbot.wait(15)
    send_mouse(vp, QtCore.QEvent.Type.MouseButtonPress, start, left, left, modifiers)
    for i in range(1, steps + 1):
        qtbot.wait(15)  # pyqtgraph drops moves closer than 10 ms
        p = start + (end - start) * (i / steps)
        send_mouse(vp, QtCore.QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, left, modifiers)
    qtbot.wait(15)
    send_mouse(vp, QtCore.QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton, modifiers)


def click(qtbot, plot, pos: QtCore.QPoint, modifiers=Qt.KeyboardModifier.NoModifier, double=False):
    vp = plot.viewport()
    left = Qt.MouseButton.LeftButton
    send_mouse(vp, QtCore.QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, modifiers)
    qtbot.wait(15)
    send_mouse(vp, QtCore.QEvent.Type.MouseButtonPress, pos, left, left, modifiers)
    send_mouse(vp, QtCore.QEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton, modifiers)
    if double:
        send_mouse(vp, QtCore.QEvent.Type.MouseButtonDblClick, pos, left, left, modifiers)
        send_mouse(vp, QtCore.QEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton, modifiers)


def wheel(plot, pos: QtCore.QPoint, notches: float, modifiers=Qt.KeyboardModifier.NoModifier):
    vp = plot.viewport()
    event = QtGui.QWheelEvent(
        QtCore.QPointF(pos),
        QtCore.QPointF(vp.mapToGlobal(pos)),
        QtCore.QPoint(0, 0),
        QtCore.QPoint(0, int(120 * notches)),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QtWidgets.QApplication.sendEvent(vp, event)


def mid_y(lane) -> float:
    """A y inside the lane's spectrogram band (or the waveform band in waveform mode)."""
    band = lane.layout.spectrogram_band or lane.layout.waveform_band
    return (band[0] + band[1]) / 2


# -- clips appear and disappear ---------------------------------------------------------------


def test_clip_items_follow_the_project_through_add_remove_undo_redo(make_timeline):
    timeline, project, stack = make_timeline()
    clip = add_clip(project, stack, make_clip())
    assert timeline.clip_ids_shown() == {clip.id}
    item = timeline.clip_item(clip.id)
    assert item.start_s == 1.0 and item.length_s == pytest.approx(4.0)
    stack.undo()
    assert timeline.clip_ids_shown() == set()
    stack.redo()
    assert timeline.clip_ids_shown() == {clip.id}
    stack.push_command(RemoveClip(project, clip.id))
    assert timeline.clip_ids_shown() == set()
    stack.undo()
    assert timeline.clip_ids_shown() == {clip.id}
    # A new track gets a lane; undoing it removes the lane.
    stack.push_command(AddTrack(project))
    assert timeline.lane_count() == 2
    stack.undo()
    assert timeline.lane_count() == 1


# -- dragging clips ------------------------------------------------------------------------------


def test_dragging_a_clip_moves_it_through_an_undoable_command(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    clip = add_clip(project, stack, make_clip(start_s=2.0))
    timeline.set_visible_range(0.0, 20.0)
    lane = timeline.lanes()[0]
    y = mid_y(lane)
    drag(qtbot, lane.plot, view_point(lane, 4.0, y), view_point(lane, 7.0, y))
    assert clip.start_s == pytest.approx(5.0, abs=0.05)
    assert stack.count() == 2 and "Move" in stack.text(1)
    assert clip.id in project.selection.clip_ids
    stack.undo()
    assert clip.start_s == 2.0
    assert timeline.clip_item(clip.id).start_s == 2.0


def test_dragging_a_clip_onto_another_track_moves_it_there(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    stack.push_command(AddTrack(project))
    clip = add_clip(project, stack, make_clip(start_s=2.0))
    timeline.set_visible_range(0.0, 20.0)
    top, bottom = timeline.lanes()
    qtbot.waitUntil(lambda: bottom.plot.mapTo(timeline, QtCore.QPoint(0, 0)).y() > top.plot.mapTo(timeline, QtCore.QPoint(0, 0)).y())
    start = view_point(top, 3.0, mid_y(top))
    # The same x, over the second lane (mapped through global coordinates).
    target_global = bottom.plot.viewport().mapToGlobal(view_point(bottom, 3.0, mid_y(bottom)))
    end = top.plot.viewport().mapFromGlobal(target_global)
    drag(qtbot, top.plot, start, end)
    track, _ = project.find_clip(clip.id)
    assert track is project.tracks[1]
    assert clip.start_s == pytest.approx(2.0, abs=0.05)
    assert timeline.clip_item(clip.id).track_id == project.tracks[1].id
    stack.undo()
    assert project.find_clip(clip.id)[0] is project.tracks[0]


def test_dragging_clip_edges_trims_without_moving_the_audio(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    clip = add_clip(project, stack, make_clip(seconds=4.0, start_s=2.0))
    timeline.set_visible_range(0.0, 10.0)
    lane = timeline.lanes()[0]
    y = mid_y(lane)
    right_edge = view_point(lane, 6.0, y) - QtCore.QPoint(2, 0)
    drag(qtbot, lane.plot, right_edge, view_point(lane, 5.0, y) - QtCore.QPoint(2, 0))
    assert clip.length_s == pytest.approx(3.0, abs=0.03) and clip.start_s == 2.0
    # Dragging the right edge past the end of the audio stops at the audio's end.
    drag(qtbot, lane.plot, view_point(lane, 5.0, y) - QtCore.QPoint(2, 0), view_point(lane, 9.0, y))
    assert clip.end_s == pytest.approx(6.0) and clip.offset_s + clip.length_s <= clip.total_s
    stack.undo()  # each drag is its own undo step
    assert clip.length_s == pytest.approx(3.0, abs=0.03)
    left_edge = view_point(lane, 2.0, y) + QtCore.QPoint(2, 0)
    drag(qtbot, lane.plot, left_edge, view_point(lane, 3.0, y) + QtCore.QPoint(2, 0))
    # The left trim moves the start with the offset: the remaining audio stays where it was.
    assert clip.offset_s == pytest.approx(1.0, abs=0.03)
    assert clip.start_s - clip.offset_s == pytest.approx(2.0, abs=1e-9)
    assert clip.end_s == pytest.approx(5.0, abs=0.03)
    stack.undo()
    stack.undo()
    assert (clip.offset_s, clip.duration_s, clip.start_s) == (0.0, None, 2.0)


def test_snapping_puts_a_dragged_clip_against_its_neighbour(make_timeline, qtbot):
    timeline, project, stack = make_timeline(snap=True)
    first = add_clip(project, stack, make_clip(seconds=3.0, start_s=1.0, name="a"))  # ends at 4.0
    second = add_clip(project, stack, make_clip(seconds=2.0, start_s=8.0, name="b"))
    timeline.set_visible_range(0.0, 12.0)
    lane = timeline.lanes()[0]
    y = mid_y(lane)
    # Drop b's start a few pixels right of a's end (4.0 s): it snaps exactly onto it.
    px_per_s = lane.viewbox.width() / 12.0
    near = 4.0 + 4 / px_per_s
    drag(qtbot, lane.plot, view_point(lane, 9.0, y), view_point(lane, 9.0 - (8.0 - near), y))
    assert second.start_s == first.end_s == 4.0
    # The playhead and the grid attract too; with snapping off nothing does.
    project.set_playhead(6.3)
    assert timeline.snap_time(6.3 + 3 / px_per_s) == 6.3
    step = timeline.grid_step_s()
    assert step * px_per_s >= 40
    assert timeline.snap_time(7 * step + 2 / px_per_s, second.id) == pytest.approx(7 * step)
    timeline.set_snap_enabled(False)
    assert timeline.snap_time(4.0 + 2 / px_per_s) == pytest.approx(4.0 + 2 / px_per_s)


# -- keyboard edits ---------------------------------------------------------------------------


def test_split_duplicate_and_delete_by_shortcut(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    clip = add_clip(project, stack, make_clip(seconds=4.0, start_s=1.0))
    timeline.set_visible_range(0.0, 12.0)
    lane = timeline.lanes()[0]
    click(qtbot, lane.plot, view_point(lane, 2.5, mid_y(lane)))  # select the clip, seek to 2.5 s
    assert project.selection.clip_ids == {clip.id}
    assert project.playhead_s == pytest.approx(2.5, abs=0.02)
    timeline.setFocus()
    qtbot.keyClick(timeline, Qt.Key.Key_S)
    clips = project.tracks[0].clips
    assert len(clips) == 2
    left, right = sorted(clips, key=lambda c: c.start_s)
    assert left.end_s == pytest.approx(right.start_s)
    assert left.end_s == pytest.approx(project.playhead_s, abs=1 / RATE_HZ)
    np.testing.assert_array_equal(
        np.concatenate([left.audible_audio(), right.audible_audio()], axis=1), clip.audio
    )
    qtbot.keyClick(timeline, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(project.tracks[0].clips) == 3
    copy_id = next(iter(project.selection.clip_ids))
    _, copy = project.find_clip(copy_id)
    assert copy.start_s == pytest.approx(left.end_s) and copy.audio is clip.audio
    qtbot.keyClick(timeline, Qt.Key.Key_Delete)
    assert not project.has_clip(copy_id) and len(project.tracks[0].clips) == 2
    assert timeline.clip_ids_shown() == {c.id for c in project.tracks[0].clips}
    stack.undo()  # delete
    stack.undo()  # duplicate
    stack.undo()  # split
    assert [c.id for c in project.tracks[0].clips] == [clip.id] and clip.duration_s is None
    assert timeline.clip_ids_shown() == {clip.id}


# -- zoom, scroll, overview ----------------------------------------------------------------------


def test_zoom_scroll_and_overview_stay_linked_both_ways(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    add_clip(project, stack, make_clip(seconds=60.0, start_s=0.0))
    timeline.set_visible_range(0.0, 40.0)
    lane = timeline.lanes()[0]
    anchor = view_point(lane, 10.0, mid_y(lane))
    wheel(lane.plot, anchor, 2, Qt.KeyboardModifier.ControlModifier)  # zoom in around 10 s
    start, end = timeline.visible_range()
    assert end - start == pytest.approx(40.0 / 1.25**2, rel=1e-3)
    assert start < 10.0 < end
    assert (10.0 - start) / (end - start) == pytest.approx(10.0 / 40.0, abs=0.01)  # anchor stays put
    assert timeline.overview_range() == pytest.approx((start, end), abs=1e-6)
    wheel(lane.plot, anchor, -1)  # plain wheel scrolls forward in time
    s2, e2 = timeline.visible_range()
    assert s2 > start and e2 - s2 == pytest.approx(end - start)
    assert timeline.overview_range() == pytest.approx((s2, e2), abs=1e-6)
    # Dragging the overview's region moves the detail view.
    timeline.set_overview_range(30.0, 45.0)
    assert timeline.visible_range() == pytest.approx((30.0, 45.0))
    # Keys zoom; the scrollbar follows.
    timeline.setFocus()
    qtbot.keyClick(timeline, Qt.Key.Key_Plus)
    s3, e3 = timeline.visible_range()
    assert e3 - s3 == pytest.approx(15.0 / 1.5)
    qtbot.keyClick(timeline, Qt.Key.Key_Minus)
    assert timeline.visible_range()[1] - timeline.visible_range()[0] == pytest.approx(15.0)
    assert timeline.scrollbar.value() == round(timeline.visible_range()[0] * 1000)
    timeline.scrollbar.setValue(5000)
    assert timeline.visible_range()[0] == pytest.approx(5.0)
    assert timeline.overview_range()[0] == pytest.approx(5.0)
    # Middle-drag pans: the content follows the pointer.
    y = mid_y(lane)
    drag(qtbot, lane.plot, view_point(lane, 12.0, y), view_point(lane, 10.0, y), button=Qt.MouseButton.MiddleButton)
    assert timeline.visible_range() == pytest.approx((7.0, 22.0), abs=0.05)
    assert project.tracks[0].clips[0].start_s == 0.0, "panning never moves clips"


# -- seeking and selections ----------------------------------------------------------------------


def test_click_seeks_and_drag_selects_time(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    add_clip(project, stack, make_clip(seconds=2.0, start_s=0.5))
    timeline.set_visible_range(0.0, 10.0)
    lane = timeline.lanes()[0]
    with qtbot.waitSignal(timeline.seek_requested) as blocker:
        click(qtbot, lane.plot, view_point(lane, 6.0, mid_y(lane)))  # empty area
    assert project.playhead_s == pytest.approx(6.0, abs=0.02)
    assert blocker.args[0] == pytest.approx(project.playhead_s)
    assert lane.playhead.value() == pytest.approx(project.playhead_s)
    # Clicking the ruler seeks too.
    ruler_vb = timeline.ruler_viewbox
    ruler_pos = timeline.ruler.mapFromScene(ruler_vb.mapViewToScene(QtCore.QPointF(3.0, 0.5)))
    click(qtbot, timeline.ruler, ruler_pos)
    assert project.playhead_s == pytest.approx(3.0, abs=0.02)
    drag(qtbot, lane.plot, view_point(lane, 4.0, mid_y(lane)), view_point(lane, 7.5, mid_y(lane)))
    sel = project.selection
    assert (sel.start_s, sel.end_s) == pytest.approx((4.0, 7.5), abs=0.02)
    assert sel.freq_lo_hz is None and sel.track_id == project.tracks[0].id
    assert lane.time_region.isVisible()
    assert lane.time_region.getRegion() == pytest.approx((sel.start_s, sel.end_s))


def test_box_selection_on_the_spectrogram_sets_a_frequency_band(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    with qtbot.waitSignal(timeline.spectrogram_computed, timeout=60000):
        add_clip(project, stack, make_clip(seconds=6.0, start_s=0.0))
    timeline.set_visible_range(0.0, 8.0)
    lane = timeline.lanes()[0]
    scale = timeline.frequency_scale
    assert scale.f_max_hz == RATE_HZ / 2, "an 8 kHz clip's spectrogram ends at Nyquist"
    y_lo, y_hi = scale.y_of_hz(500.0), scale.y_of_hz(2000.0)
    drag(
        qtbot,
        lane.plot,
        view_point(lane, 1.0, y_lo),
        view_point(lane, 3.0, y_hi),
        Qt.KeyboardModifier.AltModifier,  # over a clip: alt-drag selects instead of moving it
    )
    sel = project.selection
    px_mel = (lane.layout.y_range[1] - lane.layout.y_range[0]) / lane.viewbox.height()
    assert (sel.start_s, sel.end_s) == pytest.approx((1.0, 3.0), abs=0.02)
    assert scale.y_of_hz(sel.freq_lo_hz) == pytest.approx(y_lo, abs=1.5 * px_mel)
    assert scale.y_of_hz(sel.freq_hi_hz) == pytest.approx(y_hi, abs=1.5 * px_mel)
    assert project.tracks[0].clips[0].start_s == 0.0, "the clip under the box did not move"
    assert lane.box.isVisible() and not lane.time_region.isVisible()
    # The box tool does the same without a modifier.
    timeline.set_tool("box")
    drag(qtbot, lane.plot, view_point(lane, 4.0, scale.y_of_hz(100.0)), view_point(lane, 5.0, scale.y_of_hz(300.0)))
    assert project.selection.start_s == pytest.approx(4.0, abs=0.02)
    assert project.selection.freq_hi_hz == pytest.approx(300.0, rel=0.1)


def test_double_click_activates_a_clip(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    clip = add_clip(project, stack, make_clip())
    timeline.set_visible_range(0.0, 10.0)
    lane = timeline.lanes()[0]
    with qtbot.waitSignal(timeline.clip_activated) as blocker:
        click(qtbot, lane.plot, view_point(lane, 2.0, mid_y(lane)), double=True)
    assert blocker.args == [clip.id]


# -- waveform envelope ----------------------------------------------------------------------


def test_envelope_pyramid_keeps_the_exact_extremes_of_any_range():
    rng = np.random.default_rng(1)
    audio = rng.uniform(-0.5, 0.5, (2, 1_000_003)).astype(np.float32)
    audio[1, 777_777] = 0.97
    audio[0, 123_457] = -0.93
    pyramid = EnvelopePyramid(audio)
    for first, stop, columns in ((0, audio.shape[1], 800), (123_000, 124_000, 300), (777_700, 777_800, 1000), (5, 9, 50)):
        x, lo, hi = pyramid.envelope(first, stop, columns)
        part = audio[:, first:stop]
        assert lo.min() <= part.min() and hi.max() >= part.max()
        assert x.shape[0] <= max(2 * columns, stop - first)
    x, lo, hi = pyramid.envelope(0, audio.shape[1], 1000)
    assert hi.max() == pytest.approx(0.97) and lo.min() == pytest.approx(-0.93)
    assert 1000 <= x.shape[0] <= 2000


def test_a_short_loud_burst_shows_at_every_zoom(make_timeline, qtbot):
    rate = 44100
    seconds = 180.0
    audio = np.full((2, int(seconds * rate)), 0.01, np.float32)
    burst_at = int(97.3 * rate)
    audio[1, burst_at : burst_at + 44] = 0.9  # 1 ms in one channel
    project = Project.with_track()
    timeline, project, stack = make_timeline(project)
    clip = add_clip(project, stack, Clip(name="long", audio=audio, sample_rate_hz=rate, start_s=0.0))
    timeline.set_view_mode("waveform")
    item = timeline.clip_item(clip.id)
    # A clip this long gets its envelope pyramid from the worker thread.
    qtbot.waitUntil(lambda: item.waveform.pyramid is not None, timeout=30000)
    lane = timeline.lanes()[0]
    pixels = lane.viewbox.width()
    for span in (200.0, 60.0, 10.0, 1.0, 0.05):
        timeline.set_visible_range(97.3 - span / 3, 97.3 + 2 * span / 3)
        x, y = item.waveform.envelope_data()
        assert y.max() == pytest.approx(0.9), f"burst lost at a {span} s view"
        assert item.waveform.columns_drawn <= 2 * pixels + 2, "draws about the pixel count"
    timeline.set_visible_range(10.0, 20.0)  # away from the burst
    assert item.waveform.envelope_data()[1].max() == pytest.approx(0.01)


# -- spectrograms ----------------------------------------------------------------------------


def test_spectrogram_is_computed_off_the_gui_thread_and_shown_on_the_fast_path(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    timeline.set_view_mode("spectrogram")
    rate = 22050
    clip = make_clip(seconds=3.0, start_s=0.0, rate=rate, freq_hz=2000.0)
    with qtbot.waitSignal(timeline.spectrogram_computed, timeout=60000) as blocker:
        add_clip(project, stack, clip)
        item = timeline.clip_item(clip.id)
        # Until the image arrives, the waveform stands in.
        assert item.spectrogram is None and item.waveform.isVisible()
    assert blocker.args == [clip.id]
    timeline.set_visible_range(0.0, 4.0)
    qtbot.waitUntil(lambda: item.spectrogram is not None and item.spectrogram.tiles_shown > 0)
    assert not item.waveform.isVisible()
    tile = next(t for t in item.spectrogram.childItems() if t.isVisible())
    data = tile.image
    assert data.dtype == np.uint8 and data.flags.c_contiguous and data.ndim == 2
    assert tuple(tile.levels) == (0, 255) and tile.lut.shape == (256, 3) and tile.lut.dtype == np.uint8
    # The brightest row is the tone's frequency, placed at its mel position on the Hz axis.
    image = item.spectrogram.image
    row = int(np.argmax(image.levels[0][:, 50:-50].mean(axis=1)))
    scale = timeline.frequency_scale
    rect = tile.mapRectToItem(item.spectrogram, tile.boundingRect())
    row_y = rect.top() + (row + 0.5) * rect.height() / data.shape[0]
    assert scale.hz_of_y(row_y) == pytest.approx(2000.0, rel=0.05)
    assert scale.f_max_hz == pytest.approx(10000.0)
    # Zooming far out switches to a pooled level.
    timeline.set_visible_range(0.0, 1000.0)
    assert item.spectrogram.level_shown > 0


def test_chunked_display_spectrogram_has_no_seams():
    from engine.audio.spectrogram import get_preset, mel_from_audio

    from app.plot_items import spectrogram_compute as sc

    rate = 8000
    rng = np.random.default_rng(3)
    audio = rng.uniform(-0.5, 0.5, (1, rate * 8)).astype(np.float32)
    job = sc.SpectrogramJob(audio, rate, "riffusion")
    original = sc.CHUNK_COLUMNS
    sc.CHUNK_COLUMNS = 100  # many chunks in 8 s
    try:
        job.run()
    finally:
        sc.CHUNK_COLUMNS = original
    assert job.error is None
    params = sc.display_params(get_preset("riffusion"), rate)
    whole = mel_from_audio(audio, params)[0]
    reference = sc.full_scale_reference(params, mel_from_audio)
    expected = sc.mel_to_uint8(whole, reference)
    got = job.image.levels[0]
    assert got.shape == expected.shape
    edge = -(-(params.n_fft // 2) // params.hop_length)
    # Away from the clip's two ends (where the engine pads by reflection and we by silence)
    # the chunked image equals the whole-clip one to within float rounding.
    diff = np.abs(got[:, edge:-edge].astype(int) - expected[:, edge:-edge].astype(int))
    assert diff.max() <= 1


def test_view_modes_show_the_right_items(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    clip = make_clip(seconds=2.0, start_s=0.0)
    with qtbot.waitSignal(timeline.spectrogram_computed, timeout=60000):
        add_clip(project, stack, clip)
    item = timeline.clip_item(clip.id)
    timeline.set_view_mode("waveform")
    assert item.waveform.isVisible() and not item.spectrogram.isVisible()
    assert timeline.mode_combo.currentText() == "Waveform"
    timeline.set_view_mode("both")
    assert item.waveform.isVisible() and item.spectrogram.isVisible()
    timeline.mode_combo.setCurrentIndex(1)
    assert timeline.view_mode == "spectrogram"
    assert not item.waveform.isVisible() and item.spectrogram.isVisible()
    with pytest.raises(ValueError, match="view mode"):
        timeline.set_view_mode("3d")


def test_selection_set_elsewhere_is_drawn(make_timeline):
    timeline, project, stack = make_timeline()
    clip = add_clip(project, stack, make_clip())
    project.set_selection(Selection(start_s=1.5, end_s=2.5, clip_ids=frozenset({clip.id})))
    lane = timeline.lanes()[0]
    assert lane.time_region.isVisible() and timeline.clip_item(clip.id).selected
    project.set_selection(Selection())
    assert not lane.time_region.isVisible() and not timeline.clip_item(clip.id).selected


def test_track_header_mutes_solos_and_sets_gain_through_undoable_commands(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    track = project.tracks[0]
    header = timeline.lanes()[0].header
    qtbot.mouseClick(header.mute_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(header.solo_button, Qt.MouseButton.LeftButton)
    header.gain_spin.setValue(-6.0)
    assert (track.mute, track.solo, track.gain_db) == (True, True, -6.0)
    stack.undo()
    assert track.gain_db == 0.0 and header.gain_spin.value() == 0.0
    stack.undo()
    stack.undo()
    assert not track.mute and not header.mute_button.isChecked() and not track.solo
    qtbot.mouseClick(header, Qt.MouseButton.LeftButton)
    assert project.selection.track_id == track.id


def test_dragging_a_clip_out_of_the_window_carries_it_as_a_wav_file(make_timeline, qtbot, monkeypatch):
    import soundfile as sf

    carried = []

    def fake_exec(self, *args):  # the system drag loop cannot run offscreen: record what it carries
        carried.append([url.toLocalFile() for url in self.mimeData().urls()])
        return Qt.DropAction.CopyAction

    monkeypatch.setattr(QtGui.QDrag, "exec", fake_exec)
    timeline, project, stack = make_timeline()
    clip = add_clip(project, stack, make_clip(start_s=2.0))
    timeline.set_visible_range(0.0, 20.0)
    lane = timeline.lanes()[0]
    y = mid_y(lane)
    start = view_point(lane, 4.0, y)
    outside = QtCore.QPoint(start.x(), start.y() - timeline.height() - 200)  # above the whole timeline
    with qtbot.waitSignal(timeline.clip_dragged_out, timeout=5000) as signal:
        drag(qtbot, lane.plot, start, outside)
    assert signal.args[0] == clip.id
    assert carried == [[signal.args[1]]]
    data, rate = sf.read(signal.args[1], dtype="float32", always_2d=True)
    assert rate == RATE_HZ
    np.testing.assert_array_equal(data.T, clip.audible_audio())  # the exact samples leave the window
    # The clip did not move and nothing entered the undo history.
    assert clip.start_s == 2.0 and timeline.clip_item(clip.id).start_s == 2.0
    assert stack.count() == 1
