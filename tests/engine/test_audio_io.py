"""engine.audio.io: file round trips, every kind of bad input, metadata, atomic writes, helpers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from engine.audio import io as audio_io
from engine.audio.io import (
    AudioChannelsError,
    AudioFileCorruptError,
    AudioFileEmptyError,
    AudioFileError,
    AudioFileMissingError,
    AudioNonFiniteError,
    AudioSampleRateError,
    AudioWriteError,
    fit_length,
    peak_normalize,
    prepare_clip,
    read_audio,
    read_audio_metadata,
    resample,
    to_channels,
    to_mono,
    to_stereo,
    validate_audio,
    write_audio,
)


def _noise(channels: int = 2, samples: int = 4000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.95, 0.95, (channels, samples)).astype(np.float32)


def _dominant_hz(audio: np.ndarray, sample_rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio[0] * np.hanning(audio.shape[1])))
    return float(np.fft.rfftfreq(audio.shape[1], 1 / sample_rate_hz)[np.argmax(spectrum)])


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("suffix", "subtype", "tolerance"),
    [
        (".wav", "PCM_16", 2 / 2**15),
        (".wav", "PCM_24", 2 / 2**23),
        (".flac", "PCM_16", 2 / 2**15),
        (".flac", "PCM_24", 2 / 2**23),
    ],
)
def test_integer_round_trip_is_within_quantisation(tmp_path, suffix, subtype, tolerance):
    audio = _noise()
    path = tmp_path / f"clip{suffix}"
    write_audio(path, audio, 48000, subtype=subtype)
    back, rate = read_audio(path)
    assert rate == 48000
    assert back.dtype == np.float32 and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) <= tolerance
    assert sf.info(path).subtype == subtype


def test_float_wav_round_trip_is_sample_exact(tmp_path):
    audio = _noise(channels=3) * 1.7  # float WAV keeps values beyond full scale
    path = tmp_path / "clip.wav"
    write_audio(path, audio, 44100, subtype="FLOAT")
    back, rate = read_audio(path)
    assert rate == 44100
    assert np.array_equal(back, audio)


def test_mono_1d_array_is_written_as_one_channel(tmp_path):
    path = tmp_path / "mono.wav"
    write_audio(path, _noise(channels=1)[0], 22050)
    back, _ = read_audio(path)
    assert back.shape == (1, 4000)


def test_integer_subtypes_clip_instead_of_wrapping(tmp_path):
    audio = np.array([[1.5, -1.5, 0.25]], dtype=np.float32)
    path = tmp_path / "loud.wav"
    write_audio(path, audio, 44100, subtype="PCM_16")
    back, _ = read_audio(path)
    assert back[0, 0] > 0.999 and back[0, 1] < -0.999
    assert abs(back[0, 2] - 0.25) < 1e-4


@pytest.mark.parametrize(("fmt", "subtype", "suffix"), [("OGG", "VORBIS", ".ogg"), ("MP3", "MPEG_LAYER_III", ".mp3")])
def test_lossy_files_are_read(tmp_path, make_tone, fmt, subtype, suffix):
    tone = make_tone(440.0, duration_s=1.0, channels=2)
    path = tmp_path / f"tone{suffix}"
    sf.write(path, tone.T, 44100, format=fmt, subtype=subtype)
    audio, rate = read_audio(path)
    assert rate == 44100 and audio.shape[0] == 2
    assert abs(audio.shape[1] - 44100) < 3000  # codecs may add priming/padding samples
    assert abs(_dominant_hz(audio, rate) - 440.0) < 3.0


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with pytest.raises(AudioFileMissingError, match="nothere.wav: no such file"):
        read_audio(tmp_path / "nothere.wav")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioFileMissingError, match="not a regular file"):
        read_audio(tmp_path)


def test_corrupt_bytes(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + os.urandom(200))
    with pytest.raises(AudioFileCorruptError, match="garbage.wav: cannot be read as audio"):
        read_audio(path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    with pytest.raises(AudioFileEmptyError, match="empty.flac: the file is empty"):
        read_audio(path)
    with pytest.raises(AudioFileEmptyError):
        read_audio_metadata(path)


def test_header_without_samples(make_wav_file):
    with pytest.raises(AudioFileEmptyError, match="no samples"):
        read_audio(make_wav_file("silent.wav", frames=0))


def test_nan_and_inf_samples_are_refused(tmp_path):
    audio = _noise(channels=1)
    audio[0, 10] = np.nan
    audio[0, 20] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, audio.T, 44100, subtype="FLOAT")
    with pytest.raises(AudioNonFiniteError, match="nan.wav: 2 sample"):
        read_audio(path)
    with pytest.raises(AudioNonFiniteError):
        write_audio(tmp_path / "out.wav", audio, 44100)
    assert not (tmp_path / "out.wav").exists()


def test_too_many_channels(make_wav_file, tmp_path):
    with pytest.raises(AudioChannelsError, match="9 channels; between 1 and 8"):
        read_audio(make_wav_file("nine.wav", channels=9))
    with pytest.raises(AudioChannelsError, match="9 channels"):
        write_audio(tmp_path / "nine.wav", np.zeros((9, 100), np.float32), 44100)


def test_samples_channels_layout_mistake_is_explained(tmp_path):
    with pytest.raises(AudioChannelsError, match=r"did you pass \(samples, channels\)"):
        write_audio(tmp_path / "x.wav", np.zeros((1000, 2), np.float32), 44100)


@pytest.mark.parametrize("rate", [5, 999, 800000, 10_000_000])
def test_absurd_sample_rates(make_wav_file, tmp_path, rate):
    with pytest.raises(AudioSampleRateError, match=f"{rate} Hz is outside the supported range"):
        read_audio(make_wav_file(f"rate{rate}.wav", sample_rate_hz=rate))
    with pytest.raises(AudioSampleRateError):
        write_audio(tmp_path / "out.wav", _noise(), rate)


def test_validate_audio_rejects_non_arrays_and_bad_shapes():
    with pytest.raises(AudioFileError, match="numpy array"):
        validate_audio([0.0, 1.0], 44100)
    with pytest.raises(AudioChannelsError, match="shape"):
        validate_audio(np.zeros(10, np.float32), 44100, name="clip")
    with pytest.raises(AudioFileEmptyError, match="clip: contains no samples"):
        validate_audio(np.zeros((1, 0), np.float32), 44100, name="clip")
    with pytest.raises(AudioSampleRateError, match="integer"):
        validate_audio(np.zeros((1, 10), np.float32), 44100.5)
    with pytest.raises(AudioSampleRateError):
        validate_audio(np.zeros((1, 10), np.float32), True)
    validate_audio(np.zeros((2, 10), np.int16), np.int64(48000))


@pytest.mark.parametrize(
    ("name", "subtype", "message"),
    [("x.mp3", "PCM_16", "cannot write '.mp3'"), ("x.flac", "FLOAT", "FLAC files cannot store"), ("x.wav", "PCM_8", "unsupported subtype")],
)
def test_unsupported_write_formats(tmp_path, name, subtype, message):
    with pytest.raises(AudioWriteError, match=message):
        write_audio(tmp_path / name, _noise(), 44100, subtype=subtype)


def test_missing_output_folder(tmp_path):
    with pytest.raises(AudioWriteError, match="does not exist"):
        write_audio(tmp_path / "no" / "such" / "x.wav", _noise(), 44100)


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_metadata_round_trip(tmp_path, suffix):
    recipe = json.dumps({"model": "riffusion/riffusion-model-v1", "seed": 42, "prompt": "jazz ♪ über alles"})
    path = tmp_path / f"tagged{suffix}"
    write_audio(path, _noise(), 44100, metadata={"comment": recipe, "title": "take 3", "software": "Specdiff Studio"})
    tags = read_audio_metadata(path)
    assert tags["comment"] == recipe
    assert json.loads(tags["comment"])["seed"] == 42
    assert tags["title"] == "take 3"
    assert tags["software"].startswith("Specdiff Studio")


def test_long_recipe_fits_in_flac_but_wav_refuses_loudly(tmp_path):
    recipe = json.dumps({"loras": [{"id": f"user/lora-{i}", "weight": 0.5} for i in range(100)]})
    assert len(recipe) > 3000
    write_audio(tmp_path / "long.flac", _noise(), 44100, metadata={"comment": recipe})
    assert read_audio_metadata(tmp_path / "long.flac")["comment"] == recipe
    with pytest.raises(AudioWriteError, match=r"could not store metadata \['comment'\]"):
        write_audio(tmp_path / "long.wav", _noise(), 44100, metadata={"comment": recipe})
    assert not (tmp_path / "long.wav").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_unknown_metadata_key(tmp_path):
    with pytest.raises(AudioWriteError, match=r"unsupported metadata key\(s\) \['recipe'\]"):
        write_audio(tmp_path / "x.wav", _noise(), 44100, metadata={"recipe": "{}"})


# --------------------------------------------------------------------------- atomic writes


def _good_file(tmp_path):
    path = tmp_path / "keep.wav"
    write_audio(path, _noise(seed=1), 44100, metadata={"comment": "original"})
    return path, path.read_bytes()


def _fail_mid_write(monkeypatch):
    real_write = sf.SoundFile.write

    def write_half_then_fail(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", write_half_then_fail)
    return "keep.wav: writing failed.*No space left"


def _fail_at_rename(monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(audio_io.os, "replace", refuse)
    return "keep.wav: writing failed.*Permission denied"


@pytest.mark.parametrize("inject_failure", [_fail_mid_write, _fail_at_rename], ids=["mid-write", "at-rename"])
def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch, inject_failure):
    path, before = _good_file(tmp_path)
    message = inject_failure(monkeypatch)
    with pytest.raises(AudioWriteError, match=message):
        write_audio(path, _noise(seed=2), 44100)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]  # no temp file left behind


def test_overwrite_replaces_contents_and_keeps_permissions(tmp_path):
    path, before = _good_file(tmp_path)
    os.chmod(path, 0o640)
    new = _noise(seed=3)
    write_audio(path, new, 44100, subtype="FLOAT")
    assert path.read_bytes() != before
    assert np.array_equal(read_audio(path)[0], new)
    assert (path.stat().st_mode & 0o777) == 0o640


# --------------------------------------------------------------------------- helpers


def test_resample_keeps_pitch_and_duration(make_tone):
    tone = make_tone(1000.0, duration_s=0.5, sample_rate_hz=48000)
    out = resample(tone, 48000, 44100)
    assert out.dtype == np.float32 and out.shape == (1, 22050)
    assert abs(_dominant_hz(out, 44100) - 1000.0) < 2.0
    assert abs(np.max(np.abs(out[:, 1000:-1000])) - 0.5) < 0.01
    assert np.array_equal(resample(tone, 48000, 48000), tone)


def test_channel_conversions():
    left = np.full((1, 4), 0.5, np.float32)
    stereo = np.concatenate([left, -left])
    assert np.allclose(to_mono(stereo), 0.0)
    assert to_mono(stereo).shape == (1, 4)
    assert np.array_equal(to_stereo(left), np.concatenate([left, left]))
    surround = np.arange(6, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    assert np.array_equal(to_channels(surround, 2), surround[:2])
    assert np.array_equal(to_channels(stereo, 4)[2:], stereo)
    with pytest.raises(AudioChannelsError):
        to_channels(stereo, 9)


def test_peak_normalize_and_silence():
    audio = np.array([[0.1, -0.25, 0.2]], np.float32)
    assert np.isclose(np.max(np.abs(peak_normalize(audio, 0.5))), 0.5)
    silence = np.zeros((2, 10), np.float32)
    assert np.array_equal(peak_normalize(silence), silence)
    with pytest.raises(ValueError, match="peak"):
        peak_normalize(audio, 0.0)


def test_fit_length_trims_and_pads_at_the_end():
    audio = np.arange(1, 6, dtype=np.float32)[None]
    assert np.array_equal(fit_length(audio, 3), [[1, 2, 3]])
    assert np.array_equal(fit_length(audio, 7), [[1, 2, 3, 4, 5, 0, 0]])
    with pytest.raises(ValueError, match="n_samples"):
        fit_length(audio, 0)


def test_prepare_clip_matches_seed_000_preprocessing(make_tone):
    stereo_48k = make_tone(440.0, duration_s=12.0, sample_rate_hz=48000, amplitude=0.3, channels=2)
    clip = prepare_clip(stereo_48k, 48000)
    assert clip.shape == (1, 441000) and clip.dtype == np.float32
    assert np.isclose(np.max(np.abs(clip)), 1.0)
    assert abs(_dominant_hz(clip, 44100) - 440.0) < 1.0
    short = prepare_clip(make_tone(440.0, duration_s=2.0), 44100, duration_s=10.0)
    assert short.shape == (1, 441000)
    assert np.all(short[:, 2 * 44100 + 10 :] == 0)
    with pytest.raises(ValueError, match="duration_s"):
        prepare_clip(short, 44100, duration_s=-1)
