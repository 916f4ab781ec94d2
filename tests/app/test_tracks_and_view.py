"""Tracks and view (issue 11 part 7, the timeline's parts): rename, delete and reorder tracks as
undo steps from the track header, zoom to the selection (window-wide Z), the spectrogram's colour
map and dB range applied live and remembered, and a gain field that shows its whole "dB"."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from app.model.commands import AddClip, AddTrack, MoveTrack
from app.model.project import Project, Selection, Track
from app.plot_items.spectrogram_item import spectrogram_lut
from tests.app.test_timeline import make_clip, make_timeline, send_mouse  # noqa: F401


def three_tracks(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    stack.push_command(AddTrack(project, Track(name="Drums")))
    stack.push_command(AddTrack(project, Track(name="Bass")))
    qtbot.waitUntil(lambda: all(lane.row.isVisible() and lane.header.height() > 50 for lane in timeline.lanes()))
    return timeline, project, stack


def names(project: Project) -> list[str]:
    return [t.name for t in project.tracks]


def lane_names(timeline) -> list[str]:
    return [lane.header.name_label.text() for lane in timeline.lanes()]


def test_move_track_is_one_undoable_step_that_keeps_the_clips():
    project = Project(tracks=[Track(name="A"), Track(name="B"), Track(name="C")])
    clip = make_clip()
    AddClip(project, project.tracks[0].id, clip).redo()
    moved: list[tuple[str, int]] = []
    project.events.track_moved.connect(lambda track, index: moved.append((track.name, index)))
    command = MoveTrack(project, project.tracks[0].id, 2)
    command.redo()
    assert names(project) == ["B", "C", "A"] and project.find_clip(clip.id)[0].name == "A"
    command.undo()
    assert names(project) == ["A", "B", "C"] and moved == [("A", 2), ("A", 0)]
    with pytest.raises(IndexError):
        MoveTrack(project, project.tracks[0].id, 3)


def test_rename_a_track_by_double_clicking_its_name(make_timeline, qtbot):
    timeline, project, stack = three_tracks(make_timeline, qtbot)
    header = timeline.lanes()[1].header
    qtbot.mouseDClick(header, Qt.MouseButton.LeftButton, pos=header.name_label.geometry().center())
    assert header.renaming and header.name_edit.hasFocus()
    header.name_edit.selectAll()
    qtbot.keyClicks(header.name_edit, "Kick & snare")
    qtbot.keyClick(header.name_edit, Qt.Key.Key_Return)
    assert names(project)[1] == "Kick & snare" and header.name_label.text() == "Kick & snare"
    assert not header.renaming and stack.undoText() == "Set name of 'Drums'"
    stack.undo()
    assert header.name_label.text() == "Drums"
    # Escape keeps the name; an empty name changes nothing.
    header.start_rename()
    qtbot.keyClicks(header.name_edit, "zzz")
    qtbot.keyClick(header.name_edit, Qt.Key.Key_Escape)
    assert names(project)[1] == "Drums" and not header.renaming
    assert not timeline.rename_track(project.tracks[1].id, "   ")


def test_the_header_menu_moves_and_deletes_tracks_as_undo_steps(make_timeline, qtbot):
    timeline, project, stack = three_tracks(make_timeline, qtbot)
    clip = make_clip(start_s=1.0)
    stack.push_command(AddClip(project, project.tracks[0].id, clip))
    header = timeline.lanes()[0].header
    menu = header.context_menu()
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert set(actions) == {"Rename…", "Move Up", "Move Down", "Delete Track"}
    assert not actions["Move Up"].isEnabled()
    actions["Move Down"].trigger()
    assert names(project) == ["Drums", "Track 1", "Bass"] and lane_names(timeline) == names(project)
    assert timeline.overview_clips()[clip.id][0] == 1  # the clip's row moved with its track
    stack.undo()
    assert lane_names(timeline) == ["Track 1", "Drums", "Bass"]
    timeline.lanes()[0].header.context_menu()
    [a for a in timeline.lanes()[0].header.menu.actions() if a.text() == "Delete Track"][0].trigger()
    assert names(project) == ["Drums", "Bass"] and not project.has_clip(clip.id)
    assert clip.id not in timeline.clip_ids_shown()
    stack.undo()
    assert lane_names(timeline) == ["Track 1", "Drums", "Bass"] and timeline.clip_ids_shown() == {clip.id}
    # The Edit menu's track actions work on the selected track.
    project.set_selection(Selection(track_id=project.tracks[2].id))
    timeline.move_track_up_action.trigger()
    assert names(project) == ["Track 1", "Bass", "Drums"]


def test_dragging_a_header_onto_another_lane_moves_the_track(make_timeline, qtbot):
    timeline, project, stack = three_tracks(make_timeline, qtbot)
    source = timeline.lanes()[0].header
    target = timeline.lanes()[2].header
    start = source.rect().center()
    end = source.mapFromGlobal(target.mapToGlobal(target.rect().center()))
    left = Qt.MouseButton.LeftButton
    send_mouse(source, QtCore.QEvent.Type.MouseButtonPress, start, left, left)
    for i in range(1, 6):
        send_mouse(source, QtCore.QEvent.Type.MouseMove, start + (end - start) * (i / 5), Qt.MouseButton.NoButton, left)
    send_mouse(source, QtCore.QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton)
    assert names(project) == ["Drums", "Bass", "Track 1"]
    assert stack.undoText() == "Move track 'Track 1'"


def test_zoom_to_the_selected_range_or_clips(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    clip = make_clip(2.0, start_s=12.0)
    stack.push_command(AddClip(project, project.tracks[0].id, clip))
    timeline.set_visible_range(0.0, 60.0)
    project.set_selection(Selection(start_s=3.0, end_s=5.0))
    timeline.zoom_selection_action.trigger()
    start, end = timeline.visible_range()
    assert start <= 3.0 and end >= 5.0 and end - start < 2.5
    project.set_selection(Selection(clip_ids=frozenset({clip.id})))
    assert timeline.zoom_to_selection()
    start, end = timeline.visible_range()
    assert start <= 12.0 and end >= 14.0 and end - start < 2.5
    project.set_selection(Selection())
    assert not timeline.zoom_to_selection()


def test_zoom_keys_answer_window_wide_and_text_fields_keep_their_letters(qtbot, window):
    timeline, project = window.timeline, window.project
    clip = make_clip(2.0, start_s=20.0)
    window.undo_stack.push_command(AddClip(project, project.tracks[0].id, clip))
    project.set_selection(Selection(clip_ids=frozenset({clip.id})))
    timeline.set_visible_range(0.0, 100.0)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.inspector.setFocus()
    qtbot.keyClick(window.inspector, Qt.Key.Key_Z)
    start, end = timeline.visible_range()
    assert start <= 20.0 and end >= 22.0 and end - start < 3.0
    qtbot.keyClick(window.inspector, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert timeline.visible_range()[1] >= 22.0 and timeline.visible_range()[1] - timeline.visible_range()[0] > 3.0
    edit = window.prompt_panel.prompt_edit
    edit.setFocus()
    edit.clear()
    before = timeline.visible_range()
    qtbot.keyClicks(edit, "z+-")
    assert edit.toPlainText() == "z+-" and timeline.visible_range() == before
    assert timeline.zoom_selection_action in window.timeline_menu_actions


def test_spectrogram_colours_and_range_apply_live_and_are_remembered(qtbot, make_window, make_timeline):
    timeline, project, stack = make_timeline()
    clip = make_clip(1.0, start_s=1.0)
    with qtbot.waitSignal(timeline.spectrogram_computed, timeout=60000):
        stack.push_command(AddClip(project, project.tracks[0].id, clip))
    item = timeline.clip_item(clip.id)
    np.testing.assert_array_equal(item.spectrogram.lut, spectrogram_lut("inferno", 90.0))
    with qtbot.waitSignal(timeline.spectrogram_style_changed) as changed:
        timeline.colormap_combo.setCurrentIndex(timeline.colormap_combo.findData("viridis"))
    assert changed.args == ["viridis", 90.0]
    timeline.range_spin.setValue(40)
    lut = spectrogram_lut("viridis", 40.0)
    np.testing.assert_array_equal(item.spectrogram.lut, lut)
    tiles = [t for t in item.spectrogram._tiles.values()]
    assert tiles and all(np.array_equal(t.lut, lut) for t in tiles)
    # 40 dB shown: a pixel 50 dB down is the darkest colour, full scale the brightest.
    assert (lut[int(255 * 40 / 90)] == lut[0]).all() and not (lut[255] == lut[0]).all()
    with pytest.raises(ValueError, match="colour map"):
        timeline.set_spectrogram_style("rainbow", 60.0)
    with pytest.raises(ValueError, match="range"):
        timeline.set_spectrogram_style("viridis", 5.0)

    first = make_window()
    first.timeline.set_spectrogram_style("magma", 60.0)
    second = make_window()
    assert second.timeline.spectrogram_style == ("magma", 60.0)
    assert second.timeline.colormap_combo.currentData() == "magma" and second.timeline.range_spin.value() == 60


def test_the_gain_field_shows_its_whole_db_suffix_in_a_large_font(qtbot):
    from app.undo import UndoStack
    from app.widgets.qt_timeline import QtTimeline

    app = QtWidgets.QApplication.instance()
    font = app.font()
    try:
        big = QtGui.QFont(font)
        big.setPointSize(max(14, font.pointSize() * 2))
        app.setFont(big)
        project = Project.with_track()
        project.tracks[0].gain_db = -60.0
        timeline = QtTimeline(project, UndoStack())
        qtbot.addWidget(timeline)
        timeline.resize(1400, 500)
        timeline.show()
        qtbot.waitExposed(timeline)
        spin = timeline.lanes()[0].header.gain_spin
        edit = spin.lineEdit()
        assert edit.text() == "-60.0 dB"
        assert edit.fontMetrics().horizontalAdvance(edit.text()) <= edit.width()
        # The ruler starts where the lanes' plots start, however wide the headers became.
        lane = timeline.lanes()[0]
        assert lane.header.width() == timeline.header_width >= 150
        timeline.shutdown()
    finally:
        app.setFont(font)


def test_clip_and_track_actions_with_nothing_to_act_on_say_what_to_select(qtbot, window):
    """Edit > Duplicate clip, Delete clip and Split at playhead used to do nothing at all with
    nothing to act on, and Move track up on the top track too; the status bar now says why."""
    from app.model.project import Clip

    project = window.project
    window.undo_stack.push_command(AddClip(project, project.tracks[0].id, Clip(
        name="tone", audio=np.zeros((1, 44100), np.float32), sample_rate_hz=44100, start_s=0.0)))
    timeline = window.timeline
    project.set_selection(Selection())
    project.set_playhead(5.0)  # past the clip
    steps = window.undo_stack.count()
    expected = {
        timeline.duplicate_action: "select a clip first",
        timeline.delete_action: "select a clip first",
        timeline.split_action: "put the playhead inside a clip",
    }
    for action, words in expected.items():
        window.statusBar().clearMessage()
        action.trigger()
        assert words in window.statusBar().currentMessage(), action.text()
    assert window.undo_stack.count() == steps and len(project.tracks[0].clips) == 1  # nothing changed
    timeline.move_track_up_action.trigger()  # the selected track is the first one
    assert window.statusBar().currentMessage() == "'Track 1' is already the top track."
    assert [t.name for t in project.tracks] == ["Track 1"]
