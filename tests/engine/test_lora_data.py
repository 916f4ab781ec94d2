"""The LoRA dataset step: captions from the usual conventions, seed 000's preprocessing, bad data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from engine.training.lora_data import (
    Clip,
    LoraDataError,
    build_dataset,
    caption_from_name,
    make_target,
    split_dataset,
    target_for_model,
)

SR = 44100


@pytest.fixture
def target():
    return make_target("starter", 1.28, height=64)  # 64 x 64 pixels, 22.05 kHz


def write(path, audio, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio, dtype=np.float32).T, sr)
    return path


def test_the_starter_model_card_gives_its_spectrogram():
    target = target_for_model("resources/models/starter")
    assert (target.preset, target.height, target.width) == ("starter", 128, 128)
    assert target.duration_s == pytest.approx(2.56)


def test_a_model_without_hints_needs_a_preset(tmp_path):
    with pytest.raises(LoraDataError, match="does not say which spectrogram"):
        target_for_model(str(tmp_path))


def test_captions_metadata_csv_jsonl_sidecar_and_file_name(tmp_path, make_tone, target):
    tone = make_tone(440.0, 2.0)
    for name in ("a.wav", "b.wav", "sub/c.wav", "dog_bark-02.wav", "e.wav"):
        write(tmp_path / name, tone)
    (tmp_path / "metadata.csv").write_text("file_name,text\na.wav,a warm pad\n", encoding="utf-8")
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "sub/c.wav", "text": "a metal hit"}) + "\n")
    (tmp_path / "b.txt").write_text("a soft bell\n", encoding="utf-8")
    dataset = build_dataset(tmp_path, target, trigger="zorblat", prefix="sfx", captions={"e.wav": "typed by hand"})
    captions = {example.name: example.caption for example in dataset.examples}
    assert captions == {
        "a.wav": "sfx zorblat, a warm pad",
        "b.wav": "sfx zorblat, a soft bell",
        "sub/c.wav": "sfx zorblat, a metal hit",
        "dog_bark-02.wav": "sfx zorblat, dog bark 02",
        "e.wav": "sfx zorblat, typed by hand",
    }
    assert dataset.skipped == () and dataset.unmatched_captions == ()
    assert dataset.summary()["trigger"] == "zorblat"
    assert caption_from_name("x_y.flac") == "x y"


def test_a_metadata_caption_for_no_file_is_reported(tmp_path, make_tone, target):
    """A typo in metadata.csv ('kick_1.wav' for kick-1.wav) gave the file its name as the caption
    without a word; the dataset line now names the caption that went nowhere."""
    write(tmp_path / "kick-1.wav", make_tone(440.0, 2.0))
    (tmp_path / "metadata.csv").write_text("file_name,text\nkick_1.wav,a deep kick\n", encoding="utf-8")
    dataset = build_dataset(tmp_path, target)
    assert dataset.examples[0].caption == "kick 1" and dataset.unmatched_captions == ("kick_1.wav",)
    assert dataset.describe() == ("1 sound; the metadata names 1 file not in the folder (kick_1.wav): the sound "
                                  "meant got another caption")


def test_preprocessing_resamples_mono_cuts_and_peak_normalises(tmp_path, target):
    t = np.arange(int(3.0 * 48000)) / 48000
    left = 0.1 * np.sin(2 * np.pi * 440 * t)
    write(tmp_path / "long_stereo.wav", np.stack([left, left]), 48000)
    write(tmp_path / "short.wav", 0.2 * np.sin(2 * np.pi * 880 * t[: 24000])[None], 48000)  # 0.5 s
    dataset = build_dataset(tmp_path, target)
    by_name = {example.name: example for example in dataset.examples}
    for example in dataset.examples:
        assert example.audio.shape == (1, target.num_samples)  # 1.28 s at 22.05 kHz
        assert np.max(np.abs(example.audio)) == pytest.approx(1.0, abs=1e-6)
        assert example.image.shape == (64, 64, 3) and example.image.dtype == np.uint8
    short = by_name["short.wav"]
    assert np.all(short.audio[0, int(0.52 * 22050):] == 0.0)  # the tail is zero-padded
    # The 440 Hz tone is a dark row (Riffusion images are inverted) at one height; 880 Hz is higher up.
    row_440 = int(np.argmin(by_name["long_stereo.wav"].image[:, 10:50, 0].mean(axis=1)))
    row_880 = int(np.argmin(short.image[:, 5:15, 0].mean(axis=1)))
    assert row_880 < row_440  # row 0 is the top (the highest frequency)


def test_silent_and_unreadable_files_are_skipped_with_the_reason(tmp_path, make_tone, target):
    write(tmp_path / "good.wav", make_tone(440.0, 1.5))
    write(tmp_path / "silent.wav", np.zeros((1, SR)))
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wave file")
    dataset = build_dataset(tmp_path, target)
    assert [example.name for example in dataset.examples] == ["good.wav"]
    reasons = dict(dataset.skipped)
    assert set(reasons) == {"silent.wav", "broken.wav"}
    assert "silent" in reasons["silent.wav"]
    assert reasons["broken.wav"]


def test_bad_data_gives_one_clear_line(tmp_path, target):
    with pytest.raises(LoraDataError, match="does not exist"):
        build_dataset(tmp_path / "nope", target)
    (tmp_path / "notes.txt").write_text("no sounds here")
    with pytest.raises(LoraDataError, match="holds no audio files"):
        build_dataset(tmp_path, target)
    write(tmp_path / "quiet1.wav", np.zeros((1, SR)))
    write(tmp_path / "quiet2.wav", np.full((1, SR), 1e-7))
    with pytest.raises(LoraDataError, match=r"No usable sounds: all 2 were skipped .*silent") as error:
        build_dataset(tmp_path, target)
    assert "\n" not in str(error.value)
    (tmp_path / "metadata.csv").write_text("name,caption\nquiet1.wav,x\n")
    with pytest.raises(LoraDataError, match="'file_name' and a 'text' column"):
        build_dataset(tmp_path, target)
    with pytest.raises(LoraDataError, match="No sounds to train on"):
        build_dataset(None, target)


def test_clips_in_memory_and_a_seeded_split(make_tone, target):
    clips = [Clip(f"clip {i}", make_tone(200.0 + 50 * i, 1.0)[0], SR, f"tone {i}") for i in range(10)]
    clips.append(Clip("silence", np.zeros(SR, dtype=np.float32), SR))
    dataset = build_dataset(None, target, clips=clips, trigger="zorblat")
    assert len(dataset) == 10 and dict(dataset.skipped).keys() == {"silence"}
    assert dataset.examples[3].caption == "zorblat, tone 3"
    train, val = split_dataset(dataset, 0.2, seed=1)
    assert (len(train), len(val)) == (8, 2)
    assert not {e.name for e in train.examples} & {e.name for e in val.examples}
    again = split_dataset(dataset, 0.2, seed=1)[1]
    assert [e.name for e in again.examples] == [e.name for e in val.examples]
    assert [e.name for e in split_dataset(dataset, 0.2, seed=2)[1].examples] != [e.name for e in val.examples]
