"""The Qt-free document model: clips, tracks, commands (exact undo/redo), mixing. No Qt here."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

from app.model.commands import (
    AddClip,
    AddTrack,
    CommandGroup,
    DuplicateClip,
    MoveClip,
    RemoveClip,
    RemoveTrack,
    ReplaceClipAudio,
    SetClipProperty,
    SetTrackProperty,
    SplitClip,
    TrimClip,
)
from app.model.events import Event
from app.model.mix import render_clip, render_mix
from app.model.project import Clip, Project, Selection, Track

SR = 8000


def make_clip(seconds=1.0, *, channels=1, start_s=0.0, sr=SR, seed=0, **kw) -> Clip:
    rng = np.random.default_rng(seed)
    audio = rng.uniform(-0.5, 0.5, (channels, int(round(seconds * sr)))).astype(np.float32)
    return Clip(name=kw.pop("name", f"clip{seed}"), audio=audio, sample_rate_hz=sr, start_s=start_s, **kw)


def make_project(n_tracks=2) -> Project:
    project = Project(sample_rate_hz=SR)
    for i in range(n_tracks):
        project.add_track(Track(name=f"T{i}"))
    return project


def snapshot(project: Project):
    """Everything undo must restore: track order and fields, clip order, clip objects and fields
    (arrays compared by identity: undo hands back the same arrays, not copies)."""
    return [
        (
            t,
            t.id,
            t.name,
            t.gain_db,
            t.mute,
            t.solo,
            [(c, tuple((k, id(v) if isinstance(v, np.ndarray) else v) for k, v in c.state().items())) for c in t.clips],
        )
        for t in project.tracks
    ]


def test_model_imports_no_qt():
    assert not any(m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph") for m in sys.modules if m.startswith("app"))
    import subprocess

    code = "import sys, app.model.commands, app.model.mix; assert 'PySide6' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_event_connect_emit_disconnect_and_block():
    event, got = Event("x"), []
    event.connect(got.append)
    event.connect(got.append)  # twice is once
    event.emit(1)
    with event.blocked():
        event.emit(2)
    event.disconnect(got.append)
    event.emit(3)
    assert got == [1]


def test_clip_geometry_and_trim():
    clip = make_clip(2.0, start_s=1.0)
    assert clip.length_s == 2.0 and clip.end_s == 3.0
    clip.offset_s, clip.duration_s = 0.5, 1.0
    assert clip.sample_range() == (4000, 12000)
    assert clip.end_s == 2.0
    np.testing.assert_array_equal(clip.audible_audio(), clip.audio[:, 4000:12000])
    with pytest.raises(ValueError):  # the view is read-only: clips are immutable
        clip.audible_audio()[0, 0] = 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"audio": np.zeros(100, np.float32)}, "shape"),
        ({"audio": np.zeros((3, 100), np.float32)}, "1 or 2 channels"),
        ({"audio": np.zeros((1, 100), np.float64)}, "float32"),
        ({"audio": np.zeros((1, 0), np.float32)}, "no samples"),
        ({"sample_rate_hz": 10}, "sample_rate_hz"),
        ({"start_s": -1.0}, "start_s"),
        ({"offset_s": 5.0}, "offset_s"),
        ({"duration_s": 2.0}, "runs past the end"),
        ({"start_s": float("nan")}, "finite"),
    ],
)
def test_clip_rejects_bad_values(kwargs, message):
    args = {"audio": np.zeros((1, SR), np.float32), "sample_rate_hz": SR}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Clip(**args)


def test_selection_checks_ranges():
    with pytest.raises(ValueError, match="both be set"):
        Selection(start_s=1.0)
    with pytest.raises(ValueError, match="less than"):
        Selection(start_s=2.0, end_s=1.0)
    sel = Selection(start_s=0.0, end_s=1.0, clip_ids={"a"})
    assert sel.clip_ids == frozenset({"a"}) and sel.has_time_range and not sel.has_freq_band


def test_project_events_and_lookups():
    project = make_project(1)
    track = project.tracks[0]
    seen = []
    for event in project.events:
        event.connect(lambda *a, _n=event.name: seen.append(_n))
    clip = make_clip()
    cmd = AddClip(project, track.id, clip)
    cmd.redo()
    assert project.find_clip(clip.id) == (track, clip)
    project.set_selection(Selection(clip_ids={clip.id}))
    project.set_playhead(1.5)
    cmd.undo()
    assert not project.has_clip(clip.id)
    assert project.selection.clip_ids == frozenset()  # a removed clip leaves the selection
    assert seen == ["clip_added", "selection_changed", "playhead_moved", "selection_changed", "clip_removed"]
    with pytest.raises(KeyError, match="no clip"):
        project.find_clip("nope")
    with pytest.raises(KeyError, match="no track"):
        AddClip(project, "nope", make_clip())


def test_update_clip_is_all_or_nothing():
    project = make_project(1)
    clip = make_clip()
    AddClip(project, project.tracks[0].id, clip).redo()
    with pytest.raises(ValueError):
        project.update_clip(clip.id, start_s=3.0, offset_s=99.0)
    assert clip.start_s == 0.0 and clip.offset_s == 0.0


def build_commands(project: Project, rng: random.Random):
    """A random but valid next command for the current project state."""
    tracks = project.tracks
    clips = project.clips()
    choices = ["add_clip", "add_track"]
    if clips:
        choices += ["remove_clip", "move", "trim", "split", "duplicate", "gain", "replace"]
    if len(tracks) > 1:
        choices += ["remove_track"]
    choices += ["track_prop"]
    kind = rng.choice(choices)
    if kind == "add_clip":
        return AddClip(project, rng.choice(tracks).id, make_clip(rng.uniform(0.2, 1.0), channels=rng.choice([1, 2]),
                                                                 start_s=rng.uniform(0, 3), seed=rng.randrange(1000)))
    if kind == "add_track":
        return AddTrack(project, index=rng.randrange(len(tracks) + 1))
    if kind == "remove_track":
        return RemoveTrack(project, rng.choice(tracks).id)
    if kind == "track_prop":
        name, value = rng.choice([("gain_db", -6.0), ("mute", True), ("solo", True), ("name", "Renamed")])
        return SetTrackProperty(project, rng.choice(tracks).id, name, value)
    clip = rng.choice(clips)
    if kind == "remove_clip":
        return RemoveClip(project, clip.id)
    if kind == "move":
        return MoveClip(project, clip.id, rng.uniform(0, 4), rng.choice(tracks).id)
    if kind == "trim":
        off = clip.offset_s + clip.length_s * 0.1
        return TrimClip(project, clip.id, off, clip.length_s * 0.5)
    if kind == "split":
        return SplitClip(project, clip.id, clip.start_s + clip.length_s * rng.uniform(0.2, 0.8))
    if kind == "duplicate":
        return DuplicateClip(project, clip.id)
    if kind == "gain":
        return SetClipProperty(project, clip.id, "gain_db", -3.0)
    return ReplaceClipAudio(project, clip.id, np.ones((2, 100), np.float32), sample_rate_hz=SR)


@pytest.mark.parametrize("seed", range(6))
def test_random_edit_sequences_undo_and_redo_exactly(seed):
    rng = random.Random(seed)
    project = make_project(2)
    done, states = [], [snapshot(project)]
    for _ in range(25):
        cmd = build_commands(project, rng)
        cmd.redo()
        done.append(cmd)
        states.append(snapshot(project))
    # Undo everything: each step gives back exactly the state before it.
    for i in range(len(done) - 1, -1, -1):
        done[i].undo()
        assert snapshot(project) == states[i], f"undo of {done[i]!r} did not restore the state"
    # And redo replays to the same end.
    for i, cmd in enumerate(done):
        cmd.redo()
        assert snapshot(project) == states[i + 1], f"redo of {cmd!r} differs"


def test_split_parts_are_exactly_the_original_samples():
    project = make_project(1)
    clip = make_clip(1.0, channels=2, start_s=0.25)
    AddClip(project, project.tracks[0].id, clip).redo()
    before = render_mix(project, 0, 2.0)
    cmd = SplitClip(project, clip.id, 0.6371)
    cmd.redo()
    left, right = project.tracks[0].clips
    assert left is clip and right.audio is clip.audio
    assert left.end_s == pytest.approx(right.start_s)
    joined = np.concatenate([render_clip(left), render_clip(right)], axis=1)
    np.testing.assert_array_equal(joined, clip.audio)
    np.testing.assert_array_equal(render_mix(project, 0, 2.0), before)
    with pytest.raises(ValueError, match="strictly inside"):
        SplitClip(project, left.id, 5.0)


def test_left_trim_keeps_audio_in_place_on_the_timeline():
    project = make_project(1)
    clip = make_clip(1.0, start_s=1.0)
    AddClip(project, project.tracks[0].id, clip).redo()
    before = render_mix(project, 0, 3.0)
    TrimClip(project, clip.id, 0.25, 0.5).redo()
    assert clip.start_s == pytest.approx(1.25)
    after = render_mix(project, 0, 3.0)
    np.testing.assert_array_equal(after[:, 10000:14000], before[:, 10000:14000])
    assert not after[:, :10000].any() and not after[:, 14000:].any()
    with pytest.raises(ValueError, match="runs past the end"):
        TrimClip(project, clip.id, 0.5, 0.9)


def test_moves_merge_into_one_undo_step():
    project = make_project(2)
    clip = make_clip()
    AddClip(project, project.tracks[0].id, clip).redo()
    project.set_selection(Selection(clip_ids={clip.id}))
    first = MoveClip(project, clip.id, 1.0)
    first.redo()
    second = MoveClip(project, clip.id, 2.0, project.tracks[1].id)
    second.redo()
    assert first.merge_with(second)
    assert clip.start_s == 2.0 and project.find_clip(clip.id)[0] is project.tracks[1]
    assert project.selection.clip_ids == {clip.id}  # moving across tracks keeps it selected
    first.undo()
    assert clip.start_s == 0.0 and project.find_clip(clip.id)[0] is project.tracks[0]
    other = make_clip(seed=3)
    AddClip(project, project.tracks[0].id, other).redo()
    assert not first.merge_with(MoveClip(project, other.id, 1.0))


def test_command_group_is_one_step_and_all_or_nothing():
    project = make_project(1)
    base = snapshot(project)
    new_track = Track(name="Variation 2")
    group = CommandGroup(
        project,
        "Generate",
        [AddClip(project, project.tracks[0].id, make_clip(seed=1)), AddTrack(project, new_track)],
    )
    group.redo()
    assert len(project.tracks) == 2 and len(project.clips()) == 1
    group.undo()
    assert snapshot(project) == base
    clip = make_clip(seed=2)
    bad = CommandGroup(project, "bad", [AddClip(project, project.tracks[0].id, clip),
                                        AddClip(project, project.tracks[0].id, clip)])
    with pytest.raises(ValueError, match="already in the project"):
        bad.redo()
    assert snapshot(project) == base


def test_mix_gain_mute_solo():
    project = make_project(2)
    a = Clip(audio=np.full((1, SR), 0.25, np.float32), sample_rate_hz=SR)
    b = Clip(audio=np.full((2, SR // 2), 0.5, np.float32), sample_rate_hz=SR, start_s=0.5)
    AddClip(project, project.tracks[0].id, a).redo()
    AddClip(project, project.tracks[1].id, b).redo()
    mix = render_mix(project, 0.0, 1.0)
    assert mix.shape == (2, SR)
    np.testing.assert_allclose(mix[:, : SR // 2], 0.25)
    np.testing.assert_allclose(mix[:, SR // 2 :], 0.75)  # overlapping clips add
    SetTrackProperty(project, project.tracks[1].id, "gain_db", -6.0206).redo()
    np.testing.assert_allclose(render_mix(project, 0.5, 1.0), 0.5, atol=1e-4)
    SetTrackProperty(project, project.tracks[1].id, "solo", True).redo()
    np.testing.assert_allclose(render_mix(project, 0.0, 0.5), 0.0)  # track 0 silenced by the solo
    SetTrackProperty(project, project.tracks[1].id, "mute", True).redo()
    assert not render_mix(project, 0.0, 1.0).any()
    mono = render_mix(project, 0.0, 1.0, channels=1)
    assert mono.shape == (1, SR)


def test_mix_resamples_clips_at_other_rates():
    project = make_project(1)
    t = np.arange(22050) / 22050
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)[None]
    clip = Clip(audio=tone, sample_rate_hz=22050)
    AddClip(project, project.tracks[0].id, clip).redo()
    mix = render_mix(project, 0.0, 1.0, channels=1)
    assert mix.shape == (1, SR)
    spectrum = np.abs(np.fft.rfft(mix[0] * np.hanning(SR)))
    assert abs(np.argmax(spectrum) * SR / SR - 440) <= 1  # 1 Hz bins: the tone stays at 440 Hz
    assert render_mix(project, 0.0, 1.0, channels=1) is not mix  # cached resample gives the same
    np.testing.assert_array_equal(render_mix(project, 0.0, 1.0, channels=1), mix)
