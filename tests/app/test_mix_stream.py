"""The mix streams (issue 17 part 3): any block of a MixPlan is exactly those frames of the whole
mix; playback and export never hold the whole mix; memory grows with the audio the clips hold,
not with the length of the timeline. Qt-free."""

from __future__ import annotations

import random
import threading
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from app.model.mix import MixPlan, MixStream, db_to_gain, render_mix
from app.model.project import Clip, Project, Track

RATE = 8000


def reference_mix(project: Project, start_s: float, end_s: float, channels: int) -> np.ndarray:
    """The mix as the one-array renderer made it before mixing streamed (the reference)."""
    from app.model.mix import audible_tracks, render_clip

    first = int(round(start_s * project.sample_rate_hz))
    n = int(round(end_s * project.sample_rate_hz)) - first
    out = np.zeros((channels, n), np.float32)
    for track in audible_tracks(project):
        gain = db_to_gain(track.gain_db)
        for clip in track.clips:
            if clip.end_s <= start_s or clip.start_s >= end_s:
                continue
            audio = render_clip(clip, sample_rate_hz=project.sample_rate_hz)
            if gain != 1.0:
                audio *= np.float32(gain)
            at = int(round(clip.start_s * project.sample_rate_hz)) - first
            lo, dst = max(0, -at), max(0, at)
            count = min(audio.shape[1] - lo, n - dst)
            if count <= 0:
                continue
            part = audio[:, lo : lo + count]
            if part.shape[0] == channels:
                out[:, dst : dst + count] += part
            elif channels == 2:
                out[:, dst : dst + count] += part[0]
            else:
                out[0, dst : dst + count] += part.mean(axis=0, dtype=np.float32)
    return out


def random_project(seed: int) -> Project:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    project = Project(sample_rate_hz=RATE)
    for t in range(3):
        track = Track(name=f"T{t}", gain_db=rng.choice([0.0, -3.0, 2.5]), mute=rng.random() < 0.15)
        for _ in range(rng.randint(2, 12)):
            rate = rng.choice([RATE, RATE, 11025, 6000])
            channels = rng.choice([1, 2])
            samples = rng.randint(200, 3 * rate)
            audio = nrng.uniform(-0.5, 0.5, (channels, samples)).astype(np.float32)
            offset = rng.uniform(0, samples / rate / 3)
            track.clips.append(Clip(audio=audio, sample_rate_hz=rate, start_s=rng.uniform(0, 8), offset_s=offset,
                                    duration_s=rng.choice([None, (samples / rate - offset) / 2]),
                                    gain_db=rng.choice([0.0, -6.0, 1.5])))
        project.add_track(track)
    return project


@pytest.mark.parametrize("seed", range(6))
def test_every_block_is_exactly_the_same_frames_of_the_whole_mix(seed):
    project = random_project(seed)
    for channels in (1, 2):
        start, end = 0.37, project.duration_s + 0.5
        plan = MixPlan(project, start, end, channels=channels)
        whole = plan.render_all()
        np.testing.assert_array_equal(whole, reference_mix(project, start, end, channels))
        np.testing.assert_array_equal(np.concatenate(list(plan.blocks(1000)), axis=1), whole)
        rng = np.random.default_rng(seed)
        for first in rng.integers(0, plan.frames, 10):
            np.testing.assert_array_equal(plan.render(int(first), 777), whole[:, first : first + 777])
        assert plan.peak() == pytest.approx(float(np.abs(whole).max()))
        np.testing.assert_array_equal(render_mix(project, start, end, channels=channels), whole)


def test_a_long_timeline_of_slices_streams_in_the_memory_of_its_audio():
    """2000 one-second slices of one 8-second loop, end to end: 2000 s of timeline, 256 kB of
    audio. Streaming the mix needs about a block, not the 64 MB the whole mix would take."""
    loop = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 8 * RATE)).astype(np.float32)
    project = Project(sample_rate_hz=RATE)
    track = Track()
    for i in range(2000):
        track.clips.append(Clip(audio=loop, sample_rate_hz=RATE, start_s=float(i), offset_s=float(i % 8), duration_s=1.0))
    project.add_track(track)
    whole_bytes = 2 * 2000 * RATE * 4
    tracemalloc.start()
    plan = MixPlan(project, channels=2)
    peak = 0.0
    checked = 0
    for i, block in enumerate(plan.blocks()):
        peak = max(peak, float(np.abs(block).max()))
        if i % 200 == 0:  # spot-check a block against the loop it was cut from
            first = i * 8192
            t = first // RATE
            expected = loop[0, (t % 8) * RATE + first % RATE :][: min(RATE - first % RATE, block.shape[1])]
            np.testing.assert_array_equal(block[0, : expected.size], expected)
            checked += 1
    _, used = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert checked == 10 and peak == pytest.approx(float(np.abs(loop).max()), abs=1e-6)
    assert used < whole_bytes / 20, f"streaming used {used / 1e6:.1f} MB for a {whole_bytes / 1e6:.0f} MB mix"


def test_a_stream_reads_ahead_and_matches_the_plan():
    project = random_project(3)
    plan = MixPlan(project, channels=2)
    stream = MixStream(plan, chunk_frames=1024, ahead=3)
    try:
        assert stream.shape == (2, plan.frames)
        whole = plan.render_all()
        np.testing.assert_array_equal(stream.read(0, 700), whole[:, :700])
        np.testing.assert_array_equal(stream.read(700, 2500), whole[:, 700:3200])  # across chunks
        np.testing.assert_array_equal(stream[:, 5000:5100], whole[:, 5000:5100])
        # The helper thread renders the chunks after the last read.
        deadline = threading.Event()
        for _ in range(200):
            with stream._lock:
                if {5, 6, 7} <= set(stream._chunks):
                    break
            deadline.wait(0.01)
        with stream._lock:
            assert {5, 6, 7} <= set(stream._chunks)
            assert len(stream._chunks) <= 2 * 3 + 4  # memory: a few chunks, never the whole mix
    finally:
        stream.close()
    assert not stream._thread.is_alive()


def test_exporting_a_mix_writes_it_block_by_block(tmp_path):
    from app import io_actions

    project = random_project(1)
    project.set_selection(project.selection.with_changes(clip_ids=frozenset()))
    source = io_actions.export_source(project, "mix")
    assert source.plan is not None and source.audio is None  # nothing rendered yet
    path = tmp_path / "mix.wav"
    io_actions.write_export_source(path, source, "wav32f")
    written, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == RATE
    np.testing.assert_array_equal(written.T, source.plan.render_all())
    flac = tmp_path / "mix.flac"
    io_actions.write_export_source(flac, source, "flac16")
    assert sf.info(flac).frames == source.plan.frames


def test_a_mix_that_would_clip_is_measured_off_the_gui_thread_then_asked_about(qtbot, window, tmp_path):
    from app.model.commands import AddClip

    loud = np.full((1, RATE), 0.8, np.float32)
    for start in (0.0, 0.5):  # overlapping: the mix reaches 1.6
        window.undo_stack.push_command(
            AddClip(window.project, window.project.tracks[0].id, Clip(audio=loud, sample_rate_hz=RATE, start_s=start)))
    window.project.sample_rate_hz = RATE
    path = tmp_path / "loud.wav"
    window.clipping_box = None
    window.export_audio(str(path), "mix", "wav16")
    assert window.is_busy or window.clipping_box is not None  # measuring in the background
    qtbot.waitUntil(lambda: window.clipping_box is not None, timeout=30000)
    assert "+4.1 dBFS" in window.clipping_box.text()
    window.clipping_box.close()
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.export_audio(str(path), "mix", "wav16", on_clipping="normalize")
    written, _ = sf.read(path, dtype="float32")
    assert 0.8 < np.abs(written).max() <= 1.0 and not window.is_busy


@pytest.mark.parametrize("remedy", ["normalize", "limit"])
def test_normalise_and_limit_export_a_long_mix_block_by_block(tmp_path, remedy):
    """The remedies measure the mix in a first pass and write it block by block: the file holds
    the whole-array result, and no render ever asks for more than a block and its margins."""
    from app import io_actions
    from engine.audio.limiter import BLOCK_FRAMES

    project = Project(sample_rate_hz=RATE, tracks=[Track(name="T")])
    loud = (np.sin(np.arange(RATE * 3) * 0.05) * 1.7).astype(np.float32)[None]
    quiet = np.tile(loud * 0.01, (1, 8))  # 24 s
    project.tracks[0].clips.extend([Clip(audio=quiet, sample_rate_hz=RATE, start_s=0.0),
                                    Clip(audio=loud, sample_rate_hz=RATE, start_s=10.0)])
    source = io_actions.export_source(project, "mix")
    whole = io_actions.apply_clipping_remedy(source.plan.render_all(), RATE, remedy)
    counts = []
    render = source.plan.render
    source.plan.render = lambda first, count: counts.append(count) or render(first, count)
    path = tmp_path / f"{remedy}.wav"
    io_actions.write_export_source(path, source, "wav32f", remedy=remedy)
    written, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(written.T, whole)
    assert np.abs(written).max() < 1.0 < np.abs(source.plan.render(RATE * 11, RATE)).max()
    assert counts and max(counts) <= BLOCK_FRAMES + 2048 < source.plan.frames  # a block and its margins


def test_a_spectrogram_export_too_large_is_refused_before_anything_is_rendered(tmp_path):
    from app import io_actions
    from engine.audio.limits import ResourceLimitError

    project = Project(sample_rate_hz=44100, tracks=[Track(name="T")])
    # One short clip at 50 minutes: the mix is 50 minutes long, its image wider than the cap.
    project.tracks[0].clips.append(Clip(audio=np.full((1, 100), 0.1, np.float32), sample_rate_hz=44100,
                                        start_s=3000.0))
    source = io_actions.export_source(project, "mix")
    source.plan.render = lambda first, count: pytest.fail("rendered before the size was checked")
    with pytest.raises(ResourceLimitError, match="spectrogram image"):
        io_actions.write_export_source(tmp_path / "mix.png", source, "png")
    assert not (tmp_path / "mix.png").exists()
