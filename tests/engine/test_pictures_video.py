"""Training a picture model on a folder of videos (issue 16 part 2; seed 002 trained on video
frames): each video is cut into (frame, audio window) pairs, the frame shown at each time with the
audio around it; train-pictures learns them as it learns (audio, picture) pairs; a damaged file, a
video without sound or without frames and a file of another kind are skipped and listed, and
nothing in the folder is touched. The videos are made here with PyAV: coloured frames whose
colour changes when the tone does."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from test_pictures import run_cli, tiny_model_dir  # noqa: F401 (a fixture: the tiny random picture model)

from engine.pictures.model import SAMPLE_RATE_HZ, WINDOW_SAMPLES
from engine.pictures.training import PictureSample, PictureTrainingProgress
from engine.pictures.video import VideoError, cut_video
from engine.specs import JobCancelledError, collect_progress
from engine.tasks.train_pictures import TrainPicturesJob, run
from engine.worker import JobContext

RATE = 44100
FPS = 12
#: Three segments of 3 s: red with 220 Hz, green with 440 Hz, blue with 880 Hz.
SEGMENT_S = 3.0
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
TONES = [220.0, 440.0, 880.0]
FAST_ENCODING = {"libvpx": {"deadline": "realtime", "cpu-used": "8"}, "libx264": {"preset": "ultrafast"}}


def make_video(path: Path, *, video: str | None = "mpeg4", audio: str | None = "aac", silent: tuple[int, ...] = (),
               segments: int = 3, width: int = 96, height: int = 64) -> Path:
    """A video of ``segments`` coloured segments, each with its tone (none in ``silent``); the frame
    is wider than tall with white bars left and right, which the centre crop must cut away."""
    with av.open(str(path), "w") as out:
        vstream = astream = None
        if video:
            vstream = out.add_stream(video, rate=FPS)
            vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
            vstream.options = FAST_ENCODING.get(video, {})
        if audio:
            astream = out.add_stream(audio, rate=RATE if audio != "libopus" else 48000)
            astream.layout = "stereo"
        for i in range(int(FPS * SEGMENT_S * segments)) if vstream else ():
            frame = np.full((height, width, 3), 255, np.uint8)
            bar = (width - height) // 2
            frame[:, bar : width - bar] = COLOURS[int(i / FPS // SEGMENT_S) % 3]
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = i
            for packet in vstream.encode(picture):
                out.mux(packet)
        if astream:
            rate = astream.rate
            t = np.arange(int(rate * SEGMENT_S * segments)) / rate
            segment = (t // SEGMENT_S).astype(int)
            tone = 0.3 * np.sin(2 * np.pi * np.asarray(TONES)[segment % 3] * t) * ~np.isin(segment, silent)
            stereo = np.stack([tone, tone]).astype(np.float32)
            for k in range(0, t.size, 960):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, k : k + 960]), format="fltp",
                                                   layout="stereo")
                chunk.sample_rate, chunk.pts = rate, k
                for packet in astream.encode(chunk):
                    out.mux(packet)
        for stream in (vstream, astream):
            for packet in stream.encode(None) if stream else ():
                out.mux(packet)
    return path


def dominant_hz(clip: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(clip))
    return float(np.argmax(spectrum) * SAMPLE_RATE_HZ / clip.size)


def colour_index(picture: np.ndarray) -> int:
    return int(np.argmax(picture.reshape(-1, 3).mean(axis=0)))


# ---------------------------------------------------------------------------------------------
# Cutting a video
# ---------------------------------------------------------------------------------------------


def test_a_video_is_cut_into_the_frame_shown_at_each_time_with_the_audio_around_it(tmp_path):
    cut = cut_video(make_video(tmp_path / "tones.mp4"), every_s=1.0)
    assert [round(p.time_s, 2) for p in cut.pairs] == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]
    assert not cut.skipped and cut.summary() == "tones.mp4: 9 pairs"
    for pair in cut.pairs:
        segment = int(pair.time_s // SEGMENT_S)
        assert pair.picture.shape == (64, 64, 3) and pair.picture.dtype == np.uint8
        assert colour_index(pair.picture) == segment  # the frame of that moment
        assert pair.picture.min() < 60  # the white bars were cropped away: no pixel is white in all channels
        assert not (pair.picture.min(axis=2) > 200).any()
        assert pair.clip.shape == (WINDOW_SAMPLES,) and pair.clip.dtype == np.float32
    # A window inside one segment hears that segment's tone; the first and last windows are moved
    # inside the soundtrack (0-2.56 s and 6.44-9 s), so they hear only the first and last tones.
    by_time = {round(p.time_s, 1): p.clip for p in cut.pairs}
    for time_s, hz in ((0.5, 220), (1.5, 220), (4.5, 440), (7.5, 880), (8.5, 880)):
        assert abs(dominant_hz(by_time[time_s]) - hz) < 5, time_s
    # The window at 2.5 s (1.22-3.78 s) switches from 220 to 440 Hz where the video does, at 3 s.
    clip = by_time[2.5]
    block = SAMPLE_RATE_HZ // 50  # 20 ms
    heard = [dominant_hz(clip[i : i + block]) for i in range(0, clip.size - block, block)]
    switch = next(i for i, hz in enumerate(heard) if hz > 330) * block / SAMPLE_RATE_HZ
    assert abs(switch - (3.0 - (2.5 - 1.28))) < 0.05
    assert 0.25 < np.abs(clip).max() < 0.35  # stereo averaged to mono, the level kept


@pytest.mark.parametrize("name,video,audio", [("clip.mkv", "mpeg4", "pcm_s16le"), ("clip.webm", "libvpx", "libopus"),
                                              ("clip.mov", "libx264", "aac")])
def test_other_containers_and_codecs_are_cut_the_same_way(tmp_path, name, video, audio):
    cut = cut_video(make_video(tmp_path / name, video=video, audio=audio, segments=2), every_s=SEGMENT_S)
    assert [round(p.time_s, 1) for p in cut.pairs] == [1.5, 4.5]
    assert [colour_index(p.picture) for p in cut.pairs] == [0, 1]
    assert [round(dominant_hz(p.clip)) for p in cut.pairs] == [220, 440]


def test_a_portrait_phone_video_is_turned_as_a_player_shows_it(tmp_path):
    path = tmp_path / "portrait.mp4"  # stored landscape, a white band along its top, shown turned clockwise
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=FPS)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.set_display_rotation(-90)
        audio = out.add_stream("pcm_s16le", rate=RATE)
        for i in range(FPS * 2):
            frame = np.full((64, 96, 3), 20, np.uint8)
            frame[:12] = 255
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = i
            out.mux(video.encode(picture))
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * RATE) / RATE)).astype(np.float32)
        chunk = av.AudioFrame.from_ndarray(tone[None, :], format="flt", layout="mono")
        chunk.sample_rate, chunk.pts = RATE, 0
        out.mux(audio.encode(chunk))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    (pair, _) = cut_video(path, every_s=1.0).pairs
    brightness = pair.picture.mean(axis=(0, 2))  # per column
    assert brightness[-4:].min() > 200 and brightness[:40].max() < 60  # the band is down the right side
    assert pair.picture[:4].mean() < 120  # not along the top


def test_silent_windows_are_skipped_and_reported(tmp_path):
    cut = cut_video(make_video(tmp_path / "pause.mp4", silent=(1,)), every_s=1.0)
    # Only the window at 4.5 s (3.22-5.78 s) lies wholly in the silent middle segment.
    assert [round(t, 1) for t, _ in cut.skipped] == [4.5] and cut.skipped[0][1] == "silent"
    assert len(cut.pairs) == 8 and 4.5 not in [round(p.time_s, 1) for p in cut.pairs]
    assert cut.summary() == "pause.mp4: 8 pairs; 1 silent window skipped (at 4.5 s)"


def test_videos_that_give_no_pairs_say_why_in_one_line(tmp_path):
    good = make_video(tmp_path / "good.mp4", segments=1)
    cases = {
        "noise.mp4": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), "cannot be read as a video"),
        "half.mp4": (lambda p: p.write_bytes(good.read_bytes()[: good.stat().st_size // 2]), "cannot be read as a video"),
        "mute.mp4": (lambda p: make_video(p, audio=None, segments=1), "has no audio stream"),
        "radio.mp4": (lambda p: make_video(p, video=None, segments=1), "has no video stream"),
    }
    for name, (make, message) in cases.items():
        make(tmp_path / name)
        with pytest.raises(VideoError) as error:
            cut_video(tmp_path / name)
        assert message in str(error.value) and name in str(error.value) and "\n" not in str(error.value)


# ---------------------------------------------------------------------------------------------
# train-pictures on a folder of videos
# ---------------------------------------------------------------------------------------------


def test_train_pictures_on_videos_lowers_the_loss_skips_bad_files_and_illustrate_uses_the_model(
        capsys, tmp_path, tiny_model_dir):
    videos = tmp_path / "videos"
    videos.mkdir()
    make_video(videos / "tones.mp4")
    make_video(videos / "pause.mkv", video="mpeg4", audio="pcm_s16le", silent=(1,))
    make_video(videos / "mute.mp4", audio=None, segments=1)
    (videos / "broken.webm").write_bytes(b"\x1aE\xdf\xa3 not really a webm" * 50)
    (videos / "notes.txt").write_text("shot on my phone\n")
    before = {p.name: p.read_bytes() for p in videos.iterdir()}
    out = tmp_path / "model"
    status, stdout, err = run_cli(capsys, "train-pictures", videos, "-o", out, "--base", tiny_model_dir, "--steps", "30",
                                  "--batch", "4", "--lr", "3e-3", "--checkpoint-every", "10", "--seed", "1", "--every", "1")
    assert status == 0, err
    whole = (out / "model.safetensors").read_bytes()
    assert "trained on 17 pairs (17 cut from 2 videos)" in stdout  # 9 + 8 (one silent window)
    first, last = (float(x) for x in stdout.split("loss ")[1].split(" -> "))
    assert last < first
    skipped = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert any(line.startswith("skipped mute.mp4: ") and "no audio stream" in line for line in skipped)
    assert any(line.startswith("skipped broken.webm: ") and "cannot be read as a video" in line for line in skipped)
    assert any(line.startswith("skipped notes.txt: ") for line in skipped)
    assert len(skipped) == 3
    assert {p.name: p.read_bytes() for p in videos.iterdir()} == before  # nothing in the folder touched
    assert (out / "checkpoints" / "step-00000010" / "state.pt").is_file()
    readme = (out / "README.md").read_text()
    assert "cut from 2 videos" in readme and "mute.mp4" in readme

    clip = tmp_path / "tone.wav"
    t = np.arange(2 * RATE) / RATE
    soundfile.write(clip, 0.3 * np.sin(2 * np.pi * 440 * t), RATE)
    status, _, err = run_cli(capsys, "illustrate", clip, "-o", tmp_path / "p.png", "--model", out, "--steps", "2",
                             "--seed", "1")
    assert status == 0, err

    # Resuming from the step-20 checkpoint ends where the whole run did.
    status, stdout, err = run_cli(capsys, "train-pictures", videos, "-o", out, "--base", tiny_model_dir, "--steps", "30",
                                  "--batch", "4", "--lr", "3e-3", "--checkpoint-every", "10", "--seed", "1", "--every", "1",
                                  "--resume")
    assert status == 0, err
    assert "17 pairs" in stdout and (out / "model.safetensors").read_bytes() == whole


def test_a_folder_with_nothing_usable_fails_with_the_reasons(capsys, tmp_path, tiny_model_dir):
    folder = tmp_path / "bad"
    folder.mkdir()
    make_video(folder / "mute.mp4", audio=None, segments=1)
    make_video(folder / "hush.mp4", silent=(0,), segments=1)
    status, _, err = run_cli(capsys, "train-pictures", folder, "-o", tmp_path / "x", "--base", tiny_model_dir,
                             "--steps", "2")
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "gave nothing to train on" in err and "mute.mp4: " in err and "no audio stream" in err
    assert "hush.mp4: " in err and "silent" in err
    assert not (tmp_path / "x").exists()


def test_a_run_reports_its_losses_and_at_each_checkpoint_samples_beside_the_base_models(tmp_path, tiny_model_dir):
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "a.mp4", segments=2)
    make_video(folder / "b.mkv", audio="pcm_s16le", segments=1)
    spec = TrainPicturesJob(pairs_dir=str(folder), output_dir=str(tmp_path / "out"), base=str(tiny_model_dir),
                            num_steps=6, checkpoint_every=3, batch_size=2, seed=0, frame_every_s=1.0)
    (result,), reports = collect_progress(run(spec, JobContext(job_id=1, store=None, pipelines=None, settings=None)))
    losses = [r.loss for r in reports if isinstance(r, PictureTrainingProgress) and r.stage == "train"]
    assert len(losses) == 6 and all(np.isfinite(losses))
    (sampled,) = [r for r in reports if r.stage == "sample"]
    assert sampled.step == 3 and sampled.checkpoint.endswith("step-00000003")
    assert [s.prompt for s in sampled.samples] == ["a.mp4 at 3.5 s", "b.mkv at 1.5 s"]
    for sample in sampled.samples:
        assert isinstance(sample, PictureSample) and sample.image.shape == sample.base_image.shape == (64, 64, 3)
        assert sample.audio.shape == (1, WINDOW_SAMPLES) and sample.sample_rate_hz == SAMPLE_RATE_HZ
        assert not np.array_equal(sample.image, sample.base_image)  # three steps changed the drawing
    assert result.recipe.facts["pairs"] == 9


def test_cancel_while_a_video_is_cut_stops_the_run_and_writes_nothing(tmp_path, tiny_model_dir):
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "long.mp4", segments=3)
    context = JobContext(job_id=1, store=None, pipelines=None, settings=None)
    spec = TrainPicturesJob(pairs_dir=str(folder), output_dir=str(tmp_path / "out"), base=str(tiny_model_dir),
                            num_steps=6)
    reports = run(spec, context)
    assert next(reports).message.startswith("Cutting long.mp4")
    context.cancel_event.set()  # Cancel pressed while the video is decoded
    with pytest.raises(JobCancelledError):
        next(reports)
    assert not (tmp_path / "out").exists()
