"""Where results land (app.model.placement, used by generations, edits and imports): at the
playhead when that is free, else after the track's last clip; variations lined up on the tracks
below; a new track when asked; never over another clip; the new clip selected and in view."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.commands import AddClip, CommandGroup
from app.model.placement import landing_commands, plan_landing, span_is_free
from app.model.project import Clip, Project, Track

RATE = 8000


def clip(seconds: float = 1.0, start_s: float = 0.0, name: str = "c") -> Clip:
    return Clip(name=name, audio=np.zeros((1, int(seconds * RATE)), np.float32), sample_rate_hz=RATE, start_s=start_s)


def land(project: Project, clips: list[Clip], **kwargs) -> None:
    kwargs.setdefault("track_id", project.tracks[0].id if project.tracks else None)
    kwargs.setdefault("at_s", project.playhead_s)
    placement = plan_landing(project, [c.length_s for c in clips], **kwargs)
    CommandGroup(project, "land", landing_commands(project, clips, placement)).redo()


def no_overlaps(project: Project) -> bool:
    for track in project.tracks:
        spans = sorted((c.start_s, c.end_s) for c in track.clips)
        if any(b[0] < a[1] - 1e-9 for a, b in zip(spans, spans[1:])):
            return False
    return True


def test_repeated_results_line_up_after_each_other_instead_of_stacking_at_the_playhead():
    project = Project.with_track()
    clips = [clip(1.0 + i * 0.5, name=f"g{i}") for i in range(5)]
    for c in clips:
        land(project, [c])
    assert [c.start_s for c in clips] == [0.0, 1.0, 2.5, 4.5, 7.0]
    assert {project.find_clip(c.id)[0] for c in clips} == {project.tracks[0]}
    assert no_overlaps(project)


def test_a_free_playhead_is_used_and_a_busy_one_is_not():
    project = Project.with_track()
    land(project, [clip(2.0, name="there")], at_s=10.0)
    project.set_playhead(3.0)
    early = clip(1.0)
    land(project, [early])  # 3..4 is free
    assert early.start_s == 3.0
    project.set_playhead(9.5)
    late = clip(1.0)
    land(project, [late])  # 9.5..10.5 would overlap 10..12: after the last clip instead
    assert late.start_s == 12.0
    assert no_overlaps(project)


def test_imported_files_run_on_from_the_playhead_or_after_the_last_clip():
    project = Project.with_track()
    land(project, [clip(1.0)], at_s=5.0)
    run = [clip(2.0), clip(1.0), clip(0.5)]
    land(project, run, at_s=0.0, arrangement="sequence")  # 0..3.5 is free
    assert [c.start_s for c in run] == [0.0, 2.0, 3.0]
    more = [clip(1.0), clip(1.0)]
    land(project, more, at_s=4.0, arrangement="sequence")  # 4..6 would cross the clip at 5
    assert [c.start_s for c in more] == [6.0, 7.0]
    assert no_overlaps(project)


def test_variations_share_a_start_on_the_tracks_below_and_new_tracks_only_as_needed():
    project = Project(tracks=[Track(name="A"), Track(name="B"), Track(name="C")])
    a, b, c = project.tracks
    blocker = clip(1.0, start_s=0.5)
    AddClip(project, b.id, blocker).redo()  # B is busy at 0..1
    variations = [clip(1.0, name=f"v{i}") for i in range(4)]
    land(project, variations, track_id=a.id, at_s=0.0, arrangement="stack")
    tracks = [project.find_clip(v.id)[0] for v in variations]
    assert tracks[:2] == [a, c]  # B skipped: busy there
    assert tracks[2] not in (a, b, c) and tracks[3] not in (a, b, c, tracks[2])  # two new tracks at the bottom
    assert project.tracks[-2:] == tracks[2:]
    assert {v.start_s for v in variations} == {0.0}
    assert no_overlaps(project)


def test_variations_of_a_clip_line_up_under_it():
    project = Project(tracks=[Track(name="A"), Track(name="B")])
    original = clip(2.0, start_s=4.0)
    AddClip(project, project.tracks[0].id, original).redo()
    AddClip(project, project.tracks[1].id, clip(1.0, start_s=5.0)).redo()  # B busy under it
    copies = [original.copy(name="v1"), original.copy(name="v2")]
    land(project, copies, track_id=project.tracks[1].id, at_s=original.start_s, arrangement="stack", keep_start=True)
    assert [c.start_s for c in copies] == [4.0, 4.0]
    assert all(project.find_clip(c.id)[0] not in project.tracks[:2] for c in copies)
    assert no_overlaps(project)


class _Stack:
    def push_command(self, command) -> None:
        command.redo()
        self.last = command


def _extension(seconds: float, added_left_s: float = 0.0):
    from types import SimpleNamespace

    from engine.specs import Recipe

    recipe = Recipe(task="extend", params={"prompt": "x"}, facts={"offset_samples": int(added_left_s * RATE)})
    return SimpleNamespace(audio=np.ones((1, int(seconds * RATE)), np.float32), sample_rate_hz=RATE, image=None,
                           recipe=recipe)


def test_a_clip_extended_into_its_neighbour_moves_below_it_in_one_undo_step():
    # Seen on a fresh session: a 2.56 s tone followed by a sweep, extended right by 1 s, covered
    # the sweep's first second.
    from app.edit_landing import Landing
    from app.model.mask import MaskStore

    project = Project.with_track()
    tone, sweep = clip(2.56, name="tone"), clip(2.56, name="sweep")
    land(project, [tone, sweep])
    assert (tone.start_s, sweep.start_s) == (0.0, 2.56)
    told, stack = [], _Stack()
    landing = Landing(project, stack, MaskStore(), told.append)
    landing.land_extension(tone, _extension(3.56), "Extend")
    track, _ = project.find_clip(tone.id)
    assert track is project.tracks[1] and tone.start_s == 0.0 and tone.length_s == pytest.approx(3.56)
    assert no_overlaps(project) and "moved to Track 2" in told[-1]
    stack.last.undo()
    assert project.find_clip(tone.id)[0] is project.tracks[0] and len(project.tracks) == 1
    assert tone.length_s == pytest.approx(2.56)
    # With room after it (or a left extension into free time), it grows where it is.
    project.update_clip(sweep.id, start_s=6.0)
    landing.land_extension(tone, _extension(3.56), "Extend")
    assert project.find_clip(tone.id)[0] is project.tracks[0] and len(project.tracks) == 1
    # A left extension that would cover the clip before it moves too, its sound staying in time.
    landing.land_extension(sweep, _extension(5.56, added_left_s=3.0), "Extend")
    assert sweep.start_s == pytest.approx(3.0) and no_overlaps(project)
    assert project.find_clip(sweep.id)[0] is project.tracks[1]


def test_results_go_on_a_new_track_when_asked_and_one_undo_removes_it():
    project = Project.with_track()
    land(project, [clip(3.0)])
    before = list(project.tracks)
    placement = plan_landing(project, [1.0], track_id=project.tracks[0].id, at_s=1.0, new_track=True)
    new = clip(1.0)
    group = CommandGroup(project, "land", landing_commands(project, [new], placement))
    group.redo()
    assert project.find_clip(new.id)[0] not in before and new.start_s == 1.0 and len(project.tracks) == 2
    group.undo()
    assert project.tracks == before and not project.has_clip(new.id)


def test_an_empty_project_gets_a_track_and_bad_requests_are_refused():
    project = Project()
    c = clip(1.0)
    land(project, [c], track_id=None, at_s=2.0)
    assert len(project.tracks) == 1 and c.start_s == 2.0
    with pytest.raises(ValueError, match="arrangement"):
        plan_landing(project, [1.0], track_id=None, at_s=0.0, arrangement="pile")
    with pytest.raises(ValueError, match="no clips"):
        plan_landing(project, [], track_id=None, at_s=0.0)
    assert span_is_free(project.tracks[0], 3.0, 4.0) and not span_is_free(project.tracks[0], 2.5, 3.5)


# -- in the window: imports and edit results ----------------------------------------------------


def test_imports_land_after_each_other_selected_and_in_view(qtbot, window, make_wav):
    path, _ = make_wav("loop.wav", seconds=2.0, channels=1, rate=RATE)
    project, timeline = window.project, window.timeline
    project.set_playhead(0.0)
    for _ in range(3):
        with qtbot.waitSignal(window.import_finished, timeout=30000):
            window.import_files([str(path)])
    clips = project.tracks[0].clips
    assert [c.start_s for c in clips] == pytest.approx([0.0, 2.0, 4.0])
    assert project.selection.clip_ids == {clips[-1].id}
    # One far away: the view scrolls to it.
    timeline.set_visible_range(0.0, 10.0)
    project.set_playhead(300.0)
    with qtbot.waitSignal(window.import_finished, timeout=30000):
        window.import_files([str(path)])
    far = project.tracks[0].clips[-1]
    start, end = timeline.visible_range()
    assert far.start_s == 300.0 and start <= far.start_s and far.end_s <= end
    assert end - start == pytest.approx(10.0)  # scrolled, not zoomed
    assert no_overlaps(project)


def test_results_on_a_new_track_is_a_remembered_choice(qtbot, window, make_wav):
    path, _ = make_wav("one.wav", seconds=1.0, channels=1, rate=RATE)
    window.new_track_results_action.trigger()
    assert window.settings.get("results_on_new_track") is True
    with qtbot.waitSignal(window.import_finished, timeout=30000):
        window.import_files([str(path)])
    assert len(window.project.tracks) == 2 and window.project.tracks[1].clips
    window.new_track_results_action.trigger()
    assert window.settings.get("results_on_new_track") is False


def test_overlapping_clips_get_their_names_on_different_lines(qtbot, window):
    project, timeline = window.project, window.timeline
    first, second, third = clip(2.0, start_s=1.0), clip(2.0, start_s=1.5), clip(1.0, start_s=3.0)
    for c in (first, second, third):
        window.undo_stack.push_command(AddClip(project, project.tracks[0].id, c))
    timeline.set_visible_range(0.0, 6.0)
    rows = [timeline.clip_item(c.id).label_row for c in (first, second, third)]
    assert rows[0] != rows[1] and rows[2] != rows[1] and rows[2] == rows[0]  # the third starts as the first ends
    # Clicking where two overlap selects the one drawn on top (the later one).
    assert timeline.clip_item(second.id).zValue() > timeline.clip_item(first.id).zValue()
