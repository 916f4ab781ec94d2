"""Opening a project never stalls the window (issue 17 part 3): after a new document is swapped in,
the timeline is rebuilt over several event-loop turns with bounded work in each (one lane, or a
batch of detailed items), the scene it ends with is the one an all-at-once build gives, edits made
meanwhile land, a second document overtakes the first, and closing the window half way is safe."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from app.model.commands import AddClip, MoveClip, RemoveTrack
from app.model.project import Selection
from app.plot_items.clip_item import ClipItem
from app.widgets.qt_timeline import DETAIL_MAX_BATCH, LANE_CLEAR_BATCH, QtTimeline
from app.widgets.timeline.lanes import TRACK_COLORS
from tests.app.test_timeline import make_clip, make_timeline  # noqa: F401
from tests.app.test_timeline_scale import expected_overview, sliced_project, wait_built


def scene(timeline: QtTimeline) -> dict:
    """What the timeline shows, as a user would compare it: lanes in order with their names,
    each lane's blocks in stacking order, which are drawn in detail, name lines,
    selection and playhead, the overview and the clip items on each lane's plot."""
    lanes = []
    for lane in timeline.lanes():
        on_plot = sorted(item.clip_id for item in items_on(lane))
        lanes.append({
            "track": lane.track_id,
            "name": lane.header.name_label.text(),
            "visible": lane.row.isVisible(),
            "blocks": list(lane.layer.blocks),
            "hidden": sorted(lane.layer.hidden),
            "selected": sorted(lane.layer.selected),
            "detailed": sorted(lane.clip_items),
            "on_plot": on_plot,
            "label_rows": dict(lane.label_rows),
            "playhead": lane.playhead.value(),
            "y_range": lane.layer._y,
        })
    return {
        "lanes": lanes,
        "overview": timeline.overview_clips(),
        "view": timeline.visible_range(),
        "scale": timeline.frequency_scale,
    }


def items_on(lane) -> list[ClipItem]:
    """The clip items on a lane's plot (its view box's scene)."""
    return [item for item in lane.viewbox.childGroup.childItems() if isinstance(item, ClipItem)]


def one_turn() -> None:
    QApplication.processEvents()


def work_per_call(monkeypatch, name: str, measure) -> list:
    """How much ``measure(timeline)`` changes in each call of ``QtTimeline.<name>``, the unit of
    work one event-loop event does. Patched on the class before a timeline is made, so the
    timers it connects at construction call the wrapper. (One ``processEvents`` may handle
    several due events on a loaded machine, so work is bounded per event, not per call of it.)"""
    calls: list = []
    original = getattr(QtTimeline, name)

    def counted(self, *args, **kwargs):
        before = measure(self)
        result = original(self, *args, **kwargs)
        calls.append(measure(self) - before)
        return result

    monkeypatch.setattr(QtTimeline, name, counted)
    return calls


def test_a_new_document_is_drawn_over_several_turns_with_bounded_work_in_each(make_timeline, qtbot, monkeypatch):
    lanes_per_step = work_per_call(monkeypatch, "_on_lane_timer", lambda t: len(t.lanes()))
    items_per_batch = work_per_call(monkeypatch, "_sync_details", lambda t: len(t.detailed_clip_ids()))
    timeline, project, stack = make_timeline()
    stack.push_command(AddClip(project, project.tracks[0].id, make_clip(3.0, start_s=0.5)))
    wait_built(qtbot, timeline)
    big = sliced_project(120, tracks=6, length_s=0.5)
    lanes_per_step.clear()
    items_per_batch.clear()
    project.replace_contents(big)
    # The swap itself made no lane and no detailed item; the overview already shows every clip.
    assert timeline.lanes() == [] and timeline.detailed_clip_ids() == set()
    assert timeline.overview_clips() == expected_overview(project)
    assert timeline.visible_range()[1] >= project.duration_s  # zoomed to fit the new document
    turns = []
    while timeline.rebuild_pending():
        lanes, detailed = len(timeline.lanes()), len(timeline.detailed_clip_ids())
        one_turn()
        turns.append((len(timeline.lanes()) - lanes, len(timeline.detailed_clip_ids()) - detailed))
        assert len(turns) < 500
    assert len(turns) >= len(project.tracks)
    assert max(lanes_per_step) == 1 and sum(lanes_per_step) == len(project.tracks)  # one lane per step
    assert max(items_per_batch) <= DETAIL_MAX_BATCH and len(items_per_batch) >= 2
    assert len(timeline.detailed_clip_ids()) == len(project.clips()) > DETAIL_MAX_BATCH  # all in view, all wide
    assert sum(made for made, _ in turns) == len(project.tracks)
    assert [lane.track_id for lane in timeline.lanes()] == [t.id for t in project.tracks]
    assert timeline.clip_ids_shown() == {c.id for c in project.clips()}
    assert timeline.overview_clips() == expected_overview(project)


def test_the_old_documents_items_leave_a_batch_per_turn(make_timeline, qtbot, monkeypatch):
    watched = []  # the lane whose items are counted
    removed = work_per_call(monkeypatch, "_on_lane_timer", lambda t: -len(items_on(watched[0])) if watched else 0)
    timeline, project, stack = make_timeline()
    many = [make_clip(0.5, start_s=0.5 * i, name=f"c{i}") for i in range(3 * LANE_CLEAR_BATCH)]
    for clip in many:
        stack.push_command(AddClip(project, project.tracks[0].id, clip))
    timeline.set_visible_range(0.0, 0.5 * len(many))
    wait_built(qtbot, timeline)
    assert len(timeline.detailed_clip_ids()) == len(many)  # all in view, all in detail
    lane = timeline.lanes()[0]
    watched.append(lane)
    removed.clear()
    project.replace_contents(sliced_project(12, tracks=1))
    while timeline.rebuild_pending():
        one_turn()
    assert max(removed) <= LANE_CLEAR_BATCH and len([r for r in removed if r > 0]) >= 3
    assert timeline.lanes() == [lane]  # the lane was given to the new track
    on_plot = {item.clip_id for item in items_on(lane)}
    assert on_plot == timeline.detailed_clip_ids() <= {c.id for c in project.clips()}


def test_the_scene_after_the_rebuild_is_the_one_an_all_at_once_build_gives(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    project.replace_contents(sliced_project(300, tracks=5, length_s=0.5))
    for _ in range(2):
        one_turn()
    assert timeline.rebuild_pending() and len(timeline.lanes()) < len(project.tracks)
    colors = {t.id: TRACK_COLORS[i % len(TRACK_COLORS)] for i, t in enumerate(project.tracks)}
    # Edits while the lanes are still coming: on a track with a lane, on tracks without one, a
    # track removed, the selection and the playhead (as playback moves it).
    late = project.tracks[-1]
    added = make_clip(2.0, start_s=400.0, name="added late")
    stack.push_command(AddClip(project, late.id, added))
    moved = project.tracks[-2].clips[0]
    stack.push_command(MoveClip(project, moved.id, 350.0, project.tracks[0].id))
    stack.push_command(RemoveTrack(project, project.tracks[1].id))
    project.set_selection(Selection(clip_ids=frozenset({added.id, moved.id}), track_id=late.id))
    project.set_playhead(12.5)
    wait_built(qtbot, timeline)
    assert timeline.overview_clips() == expected_overview(project)
    assert timeline.overview_clips()[added.id] == (len(project.tracks) - 1, 400.0, 402.0)

    fresh, _, _ = make_timeline(project)  # built all at once from the same document
    fresh.set_visible_range(*timeline.visible_range())
    wait_built(qtbot, fresh)
    got, want = scene(timeline), scene(fresh)
    assert [lane["track"] for lane in got["lanes"]] == [t.id for t in project.tracks]
    assert all(lane["visible"] for lane in got["lanes"])
    # A track keeps the colour of its place in the document as it was swapped in.
    assert [lane.color.name() for lane in timeline.lanes()] == [colors[t.id] for t in project.tracks]
    assert got == want
    # Undo goes back through the edits made meanwhile, and the timeline follows.
    stack.undo()
    stack.undo()
    stack.undo()
    assert timeline.overview_clips() == expected_overview(project)
    assert added.id not in timeline.clip_ids_shown()
    assert [lane.track_id for lane in timeline.lanes()] == [t.id for t in project.tracks]
    assert scene(timeline)["lanes"] == scene(fresh)["lanes"]


def test_opening_another_project_mid_rebuild_leaves_only_the_new_one(window, qtbot, tmp_path):
    from app.model.persistence import save_project
    from app.model.project_files import load_project_file

    first, second = tmp_path / "first.sdproj", tmp_path / "second.sdproj"
    save_project(sliced_project(400, tracks=6), first)
    save_project(sliced_project(90, tracks=3, length_s=0.5), second)
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(first))
    timeline = window.timeline
    one_turn()
    assert timeline.rebuild_pending() and len(timeline.lanes()) < 6
    window.replace_document(load_project_file(str(second)))  # as an open's last step does
    window.undo_stack.clear()
    wait_built(qtbot, timeline)
    project = window.project
    assert [lane.track_id for lane in timeline.lanes()] == [t.id for t in project.tracks]
    assert timeline.clip_ids_shown() == {c.id for c in project.clips()}
    assert timeline.overview_clips() == expected_overview(project)
    ids = {c.id for c in project.clips()}
    for lane in timeline.lanes():
        items = {item.clip_id for item in items_on(lane)}
        assert items <= ids and items == set(lane.clip_items)
    # The window works on the new document: selection and undo.
    clip = project.tracks[0].clips[0]
    project.set_selection(Selection(clip_ids=frozenset({clip.id})))
    assert clip.id in timeline.lanes()[0].layer.selected
    window.undo_stack.push_command(MoveClip(project, clip.id, 100.0, project.tracks[1].id))
    assert timeline.overview_clips()[clip.id] == (1, 100.0, 100.5)
    window.undo_stack.undo()
    assert timeline.overview_clips() == expected_overview(project)


def test_closing_the_window_mid_rebuild_is_safe(make_window, qtbot, tmp_path):
    from app.model.persistence import save_project

    path = tmp_path / "big.sdproj"
    save_project(sliced_project(400, tracks=6), path)
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(path))
    timeline = window.timeline
    assert timeline.rebuild_pending()
    window.close()
    qtbot.wait(200)  # the steps that were due: none runs on a closed timeline
    assert not timeline.rebuild_pending()
    assert len(timeline.lanes()) < len(window.project.tracks)  # it stopped where it was


@pytest.mark.parametrize("mode", ["waveform", "spectrogram"])
def test_a_view_mode_change_mid_rebuild_reaches_every_lane(make_timeline, qtbot, mode):
    timeline, project, stack = make_timeline()
    project.replace_contents(sliced_project(60, tracks=4))
    one_turn()
    timeline.set_view_mode(mode)
    wait_built(qtbot, timeline)
    assert {lane.layout.mode for lane in timeline.lanes()} == {mode}
    assert len(timeline.lanes()) == 4


def test_a_spectrogram_reaches_the_items_of_its_audio_a_batch_per_turn(make_timeline, qtbot, monkeypatch):
    """A loop chopped into slices: every item in view shows the same audio, so one spectrogram
    arriving used to be given to all of them in one turn."""
    import time

    import numpy as np

    from app.model.commands import CommandGroup
    from app.model.project import Clip
    from app.widgets.qt_timeline import SPECTROGRAM_BATCH
    from tests.app.test_timeline import RATE_HZ

    counted_slices: list = []
    given_per_batch = work_per_call(monkeypatch, "_give_spectrograms", lambda t: sum(
        t.clip_item(c.id) is not None and t.clip_item(c.id).spectrogram is not None for c in counted_slices))
    timeline, project, stack = make_timeline()
    t = np.arange(4 * RATE_HZ) / RATE_HZ
    loop = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)[None, :]
    slices = [Clip(name=f"slice {i}", audio=loop, sample_rate_hz=RATE_HZ, start_s=0.5 * i,
                   offset_s=(i % 8) * 0.5, duration_s=0.5) for i in range(5 * SPECTROGRAM_BATCH)]
    counted_slices.extend(slices)
    timeline.set_visible_range(0.0, 0.5 * len(slices))
    with_image = lambda: sum(  # noqa: E731
        timeline.clip_item(c.id).spectrogram is not None for c in slices)
    at_arrival, at_computed = [], []
    timeline.visuals.spectrogram_started.connect(lambda *_: at_arrival.append(with_image()))
    timeline.spectrogram_computed.connect(lambda *_: at_computed.append(with_image()))
    stack.push_command(CommandGroup(project, "slices", [AddClip(project, project.tracks[0].id, c) for c in slices]))
    assert timeline.detailed_clip_ids() == {c.id for c in slices}
    for _ in range(30000):  # the worker computes it meanwhile
        if at_arrival:
            break
        one_turn()
        time.sleep(0.002)
    assert at_arrival == [0]  # none in the turn it arrived in
    given = [with_image()]
    while given[-1] < len(slices):
        one_turn()
        given.append(with_image())
        assert len(given) < 1000
    assert max(given_per_batch) <= SPECTROGRAM_BATCH and len([g for g in given_per_batch if g]) >= len(slices) // SPECTROGRAM_BATCH
    assert len(given) - 1 >= len(slices) // SPECTROGRAM_BATCH - 1  # over several turns
    qtbot.waitUntil(lambda: bool(at_computed), timeout=60000)
    assert at_computed == [len(slices)]  # told once every item shows it
    assert not timeline.spectrogram_pending()
