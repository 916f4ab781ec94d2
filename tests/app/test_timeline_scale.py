"""Big projects on the timeline: every clip present and in order, the overview kept right by
incremental updates, clips drawn as blocks until they are wide enough to show in detail, and
opening a project off the GUI thread with progress."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.commands import AddClip, AddTrack, CommandGroup, MoveClip, RemoveClip, RemoveTrack, TrimClip
from app.model.project import Clip, Project, Track
from tests.app.test_timeline import RATE_HZ, click, make_clip, make_timeline, mid_y, view_point  # noqa: F401

N_SOURCES = 4


def sliced_project(clips: int, tracks: int = 3, length_s: float = 0.25) -> Project:
    """``clips`` slices of a few shared sources, end to end, dealt over ``tracks`` tracks."""
    t = np.arange(2 * RATE_HZ) / RATE_HZ
    sources = [(0.3 * np.sin(2 * np.pi * 220 * (k + 1) * t)).astype(np.float32)[None, :] for k in range(N_SOURCES)]
    project = Project(sample_rate_hz=RATE_HZ)
    rows = [Track(name=f"T{i}") for i in range(tracks)]
    for i in range(clips):
        rows[i % tracks].clips.append(
            Clip(name=f"s{i}", audio=sources[i % N_SOURCES], sample_rate_hz=RATE_HZ,
                 start_s=(i // tracks) * length_s, offset_s=(i % 4) * length_s, duration_s=length_s)
        )
    for row in rows:
        project.add_track(row)
    return project


def expected_overview(project: Project) -> dict[str, tuple[int, float, float]]:
    return {c.id: (row, c.start_s, c.end_s) for row, t in enumerate(project.tracks) for c in t.clips}


def wait_built(qtbot, timeline) -> None:
    qtbot.waitUntil(lambda: not timeline.rebuild_pending(), timeout=20000)


def test_a_new_document_of_hundreds_of_clips_shows_every_clip_in_order(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    big = sliced_project(600)
    order = [[c.id for c in t.clips] for t in big.tracks]
    project.replace_contents(big)
    wait_built(qtbot, timeline)
    assert [[c.id for c in t.clips] for t in project.tracks] == order
    assert [lane.track_id for lane in timeline.lanes()] == [t.id for t in project.tracks]
    assert timeline.clip_ids_shown() == {c.id for c in project.clips()}
    assert timeline.overview_clips() == expected_overview(project)
    # Zoomed to fit, 200 quarter-second clips per lane are a few pixels wide: blocks, not items.
    assert timeline.visible_range()[1] >= project.duration_s
    assert len(timeline.detailed_clip_ids()) < 50


def test_replacing_a_document_sends_one_reset_and_no_clip_events():
    project = Project.with_track()
    seen: list[str] = []
    for event in project.events:
        event.connect(lambda *args, name=event.name: seen.append(name))
    project.set_playhead(3.0)
    seen.clear()
    big = sliced_project(50)
    tracks = list(big.tracks)
    project.replace_contents(big)
    assert project.tracks == tracks and not big.tracks
    assert seen == ["playhead_moved", "project_reset"]


def test_the_overview_follows_adds_removes_moves_and_track_changes(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    stack.push_command(AddTrack(project))
    a = make_clip(2.0, start_s=1.0, name="a")
    b = make_clip(1.0, start_s=4.0, name="b")
    stack.push_command(AddClip(project, project.tracks[0].id, a))
    stack.push_command(AddClip(project, project.tracks[1].id, b))
    assert timeline.overview_clips() == expected_overview(project)
    stack.push_command(MoveClip(project, a.id, 6.0, project.tracks[1].id))
    assert timeline.overview_clips() == expected_overview(project)
    assert timeline.overview_clips()[a.id] == (1, 6.0, 8.0)
    stack.push_command(TrimClip(project, b.id, 0.25, 0.5))
    assert timeline.overview_clips()[b.id] == (1, pytest.approx(4.25), pytest.approx(4.75))
    stack.push_command(RemoveClip(project, b.id))
    assert b.id not in timeline.overview_clips()
    stack.undo()
    stack.undo()
    stack.undo()
    assert timeline.overview_clips() == expected_overview(project)
    assert timeline.overview_clips()[a.id] == (0, 1.0, 3.0)
    stack.push_command(RemoveTrack(project, project.tracks[0].id))
    assert timeline.overview_clips() == expected_overview(project) == {b.id: (0, 4.0, 5.0)}
    stack.undo()
    assert timeline.overview_clips() == expected_overview(project)
    assert timeline.clip_ids_shown() == {a.id, b.id}


def test_narrow_clips_are_blocks_until_zoomed_in_and_a_click_picks_the_topmost(make_timeline, qtbot):
    timeline, project, stack = make_timeline()
    clips = [make_clip(0.05, start_s=i * 0.05, name=f"c{i}") for i in range(200)]
    stack.push_command(CommandGroup(project, "add", [AddClip(project, project.tracks[0].id, c) for c in clips]))
    timeline.set_visible_range(0.0, 30.0)  # 0.05 s is under 2 px here
    wait_built(qtbot, timeline)
    assert timeline.detailed_clip_ids() == set()
    assert timeline.clip_ids_shown() == {c.id for c in clips}
    timeline.set_visible_range(2.0, 3.0)  # now ~50 px each
    wait_built(qtbot, timeline)
    shown = timeline.detailed_clip_ids()
    assert {c.id for c in clips if 2.0 < c.start_s < 2.95} <= shown
    assert len(shown) < 40
    # Two clips at the same place: the later one is drawn on top, and a click selects it.
    timeline.set_visible_range(0.0, 30.0)
    wait_built(qtbot, timeline)
    under = make_clip(0.05, start_s=20.0, name="under")
    over = make_clip(0.05, start_s=20.0, name="over")
    stack.push_command(AddClip(project, project.tracks[0].id, under))
    stack.push_command(AddClip(project, project.tracks[0].id, over))
    lane = timeline.lanes()[0]
    assert lane.layer.block_at(20.02) is over
    click(qtbot, lane.plot, view_point(lane, 20.02, mid_y(lane)))
    assert project.selection.clip_ids == {over.id}
    # Zoomed in, the detailed items stack the same way.
    timeline.set_visible_range(19.9, 20.2)
    wait_built(qtbot, timeline)
    assert timeline.clip_item(over.id).zValue() > timeline.clip_item(under.id).zValue()
    click(qtbot, lane.plot, view_point(lane, 20.02, mid_y(lane)))
    assert project.selection.clip_ids == {over.id}


def test_dragging_a_block_moves_its_clip(make_timeline, qtbot):
    from tests.app.test_timeline import drag

    timeline, project, stack = make_timeline()
    clip = make_clip(0.05, start_s=10.0)
    stack.push_command(AddClip(project, project.tracks[0].id, clip))
    timeline.set_visible_range(0.0, 60.0)
    wait_built(qtbot, timeline)
    assert timeline.detailed_clip_ids() == set()
    lane = timeline.lanes()[0]
    drag(qtbot, lane.plot, view_point(lane, 10.02, mid_y(lane)), view_point(lane, 20.02, mid_y(lane)))
    assert clip.start_s == pytest.approx(20.0, abs=0.2)
    assert timeline.overview_clips()[clip.id][1] == pytest.approx(clip.start_s)


def test_opening_a_project_reads_off_the_gui_thread_with_progress(window, qtbot, tmp_path):
    from app.model.persistence import save_project

    big = sliced_project(120)
    order = [[c.id for c in t.clips] for t in big.tracks]
    path = tmp_path / "slices.sdproj"
    save_project(big, path)
    progress: list[str] = []
    window.open_progressed.connect(progress.append)
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(path))
    wait_built(qtbot, window.timeline)
    assert [[c.id for c in t.clips] for t in window.project.tracks] == order
    assert window.timeline.clip_ids_shown() == {c.id for c in window.project.clips()}
    assert window.timeline.overview_clips() == expected_overview(window.project)
    assert progress and progress[-1].endswith("waveforms 100%")
    qtbot.waitUntil(lambda: not window.timeline.spectrogram_pending(), timeout=30000)  # the last part of opening
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Opened {path}", timeout=10000)
    # The waveforms came from the loader thread: no clip waits for its envelope.
    item = window.timeline.clip_item(window.project.clips()[0].id)
    assert item.waveform.pyramid is not None

