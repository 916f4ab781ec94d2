"""engine.audio.spectrogram: Riffusion-exact pixels, EXIF params, presets, and audio surviving the round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchaudio
from PIL import Image

from engine.audio.inversion import GriffinLimVocoder
from engine.audio.io import read_audio, write_audio
from engine.audio.spectrogram import (
    DEFAULT_MAX_VALUE,
    PRESETS,
    ExifTag,
    SpectrogramExifError,
    SpectrogramParams,
    SpectrogramParamsError,
    audio_from_image,
    duration_for_width,
    get_preset,
    image_from_audio,
    image_from_mel,
    mel_from_audio,
    mel_from_image,
    mel_from_pixels,
    samples_for_width,
    save_spectrogram_image,
    width_for_duration,
)

# --------------------------------------------------------------------------- Riffusion reference
# The lines below are Riffusion's own code (riffusion/spectrogram_converter.py,
# riffusion/util/image_util.py, riffusion/spectrogram_params.py at the commit we
# target), trimmed to what converts audio to pixels and back. riffusion itself
# is not installable; this is the reference our pixels must match.


def riffusion_mel_amplitudes(waveform_int16: np.ndarray, p: SpectrogramParams) -> np.ndarray:
    """SpectrogramConverter.spectrogram_from_audio + mel_amplitudes_from_waveform."""
    spectrogram_func = torchaudio.transforms.Spectrogram(
        n_fft=p.n_fft, hop_length=p.hop_length, win_length=p.win_length, pad=0,
        window_fn=torch.hann_window, power=None, normalized=False, wkwargs=None,
        center=True, pad_mode="reflect", onesided=True,
    )
    mel_scaler = torchaudio.transforms.MelScale(
        n_mels=p.num_frequencies, sample_rate=p.sample_rate, f_min=p.min_frequency,
        f_max=p.max_frequency, n_stft=p.n_fft // 2 + 1, norm=p.mel_scale_norm, mel_scale=p.mel_scale_type,
    )
    waveform = waveform_int16
    if waveform.dtype != np.float32:
        waveform = waveform.astype(np.float32)
    waveform_tensor = torch.from_numpy(waveform)
    spectrogram_complex = spectrogram_func(waveform_tensor)
    amplitudes = torch.abs(spectrogram_complex)
    return mel_scaler(amplitudes).cpu().numpy()


def riffusion_image_from_spectrogram(spectrogram: np.ndarray, power: float = 0.25) -> Image.Image:
    """riffusion.util.image_util.image_from_spectrogram."""
    max_value = np.max(spectrogram)
    data = spectrogram / max_value
    data = np.power(data, power)
    data = data * 255
    data = 255 - data
    data = data.astype(np.uint8)
    if data.shape[0] == 1:
        image = Image.fromarray(data[0]).convert("RGB")  # Riffusion passes mode="L" (deprecated in Pillow)
    elif data.shape[0] == 2:
        data = np.array([np.zeros_like(data[0]), data[0], data[1]]).transpose(1, 2, 0)
        image = Image.fromarray(data)
    else:
        raise NotImplementedError(f"Unsupported number of channels: {data.shape[0]}")
    image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image


def riffusion_spectrogram_from_image(
    image: Image.Image, power: float = 0.25, stereo: bool = False, max_value: float = 30e6
) -> np.ndarray:
    """riffusion.util.image_util.spectrogram_from_image."""
    if image.mode in ("P", "L"):
        image = image.convert("RGB")
    image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    data = np.array(image).transpose(2, 0, 1)
    if stereo:
        data = data[[1, 2], :, :]
    else:
        data = data[0:1, :, :]
    data = data.astype(np.float32)
    data = 255 - data
    data = data / 255
    data = np.power(data, 1 / power)
    data = data * max_value
    return data


def riffusion_params_from_exif(exif) -> SpectrogramParams:
    """SpectrogramParams.from_exif (Riffusion's keys and conversions)."""
    return SpectrogramParams(
        sample_rate=exif[11000], stereo=bool(exif[11005]), step_size_ms=exif[11010],
        window_duration_ms=exif[11020], padded_duration_ms=exif[11030], num_frequencies=exif[11040],
        min_frequency=exif[11050], max_frequency=exif[11060], power_for_image=exif[11070],
    )


# --------------------------------------------------------------------------- helpers


def _int16_file(tmp_path, audio: np.ndarray, name: str = "clip.wav"):
    """Write 16-bit audio like a user's file; return (what we read, the int16 values Riffusion sees)."""
    path = tmp_path / name
    write_audio(path, audio, 44100, subtype="PCM_16")
    ours, _ = read_audio(path)
    ints = np.round(ours * 32768).astype(np.int16)
    return ours, ints


def _dominant_hz(audio: np.ndarray, sample_rate_hz: int) -> float:
    mono = audio.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / sample_rate_hz)[np.argmax(spectrum)])


def _onsets_s(audio: np.ndarray, sample_rate_hz: int, count: int) -> np.ndarray:
    """Times of the ``count`` strongest energy rises (1 ms hops), at least 50 ms apart."""
    hop = sample_rate_hz // 1000
    energy = np.sqrt(np.convolve(audio[0] ** 2, np.ones(2 * hop) / (2 * hop), mode="same"))[::hop]
    rise = np.maximum(np.diff(energy, prepend=energy[0]), 0)
    found: list[int] = []
    for i in np.argsort(rise)[::-1]:
        if all(abs(i - j) > 50 for j in found):
            found.append(int(i))
        if len(found) == count:
            break
    return np.sort(np.array(found)) * hop / sample_rate_hz


# --------------------------------------------------------------------------- pixels match Riffusion


def test_mono_pixels_match_riffusion(tmp_path, make_music):
    params = PRESETS["riffusion"]
    ours_audio, ints = _int16_file(tmp_path, make_music(duration_s=1.0))
    reference = np.asarray(riffusion_image_from_spectrogram(riffusion_mel_amplitudes(ints, params)))
    mine = np.asarray(image_from_mel(mel_from_audio(ours_audio, params), params))
    assert mine.shape == reference.shape == (512, 101, 3)
    assert np.max(np.abs(mine.astype(int) - reference.astype(int))) <= 1
    assert np.mean(mine == reference) > 0.99


def test_stereo_pixels_match_riffusion(tmp_path, make_music):
    params = SpectrogramParams(stereo=True)
    ours_audio, ints = _int16_file(tmp_path, make_music(duration_s=0.6, channels=2))
    reference = np.asarray(riffusion_image_from_spectrogram(riffusion_mel_amplitudes(ints, params)))
    mine = np.asarray(image_from_mel(mel_from_audio(ours_audio, params), params))
    assert np.max(np.abs(mine.astype(int) - reference.astype(int))) <= 1
    assert np.all(mine[:, :, 0] == 0)
    assert not np.array_equal(mine[:, :, 1], mine[:, :, 2])


def test_mel_amplitudes_are_on_riffusions_int16_scale(tmp_path, make_tone):
    params = PRESETS["riffusion"]
    ours_audio, ints = _int16_file(tmp_path, make_tone(1000.0, duration_s=0.3))
    assert np.allclose(mel_from_audio(ours_audio, params), riffusion_mel_amplitudes(ints, params), rtol=1e-4, atol=1.0)


def test_riffusion_decodes_our_images_and_we_decode_theirs(tmp_path, make_music):
    params = PRESETS["riffusion"]
    ours_audio, ints = _int16_file(tmp_path, make_music(duration_s=0.5))
    ours = image_from_audio(ours_audio, params)
    path = tmp_path / "ours.png"
    save_spectrogram_image(ours, path)
    with Image.open(path) as loaded:
        exif = loaded.getexif()
        assert riffusion_params_from_exif(exif) == params
        max_value = exif[ExifTag.MAX_VALUE.value]
        their_mel = riffusion_spectrogram_from_image(loaded, params.power_for_image, params.stereo, max_value)
        our_mel, our_params = mel_from_image(loaded)
    assert our_params == params
    assert np.allclose(our_mel, their_mel, rtol=1e-6)
    # The decoded mel is the original within 8-bit quantisation of the power-law pixels.
    original = mel_from_audio(ours_audio, params)[..., : our_mel.shape[-1]]
    loud = original > 0.05 * original.max()
    assert np.median(np.abs(our_mel[loud] / original[loud] - 1)) < 0.02

    theirs = riffusion_image_from_spectrogram(riffusion_mel_amplitudes(ints, params))  # no EXIF at all
    mel, used = mel_from_image(theirs)
    assert used == PRESETS["riffusion"]
    assert np.allclose(mel, riffusion_spectrogram_from_image(theirs), rtol=1e-6)
    assert np.isclose(mel.max(), DEFAULT_MAX_VALUE)


# --------------------------------------------------------------------------- sound survives


def test_tone_pitch_survives_audio_image_audio(make_tone):
    params = PRESETS["riffusion"]
    image = image_from_audio(make_tone(440.0, duration_s=1.0), params)
    audio, rate = audio_from_image(image, generator=torch.Generator().manual_seed(0))
    assert rate == 44100 and audio.shape == (1, 100 * 441)
    assert abs(_dominant_hz(audio, rate) - 440.0) < 3.0
    assert np.isclose(np.max(np.abs(audio)), 0.99)


def test_click_times_survive_audio_image_audio(make_click_train):
    params = PRESETS["riffusion"]
    times_s = [0.15, 0.42, 0.71, 0.93]
    image = image_from_audio(make_click_train(times_s, duration_s=1.2), params)
    audio, rate = audio_from_image(image, generator=torch.Generator().manual_seed(0))
    found = _onsets_s(audio, rate, len(times_s))
    assert np.max(np.abs(found - np.array(times_s))) <= 0.010, found


def test_stereo_image_keeps_left_and_right_apart(make_tone):
    params = SpectrogramParams(stereo=True)
    left_only = np.concatenate([make_tone(660.0, duration_s=0.5), np.zeros((1, 22050), np.float32)])
    image = image_from_audio(left_only, params)
    pixels = np.asarray(image)
    assert pixels[:, :, 1].min() < 100 and pixels[:, :, 2].min() == 255  # right channel is silent (white)
    audio, _ = audio_from_image(image, vocoder=GriffinLimVocoder(n_iter=4), generator=torch.Generator().manual_seed(0))
    assert audio.shape[0] == 2
    assert np.max(np.abs(audio[1])) < 1e-3 * np.max(np.abs(audio[0]))


def test_mono_params_downmix_and_stereo_params_clone(make_tone):
    tone = make_tone(500.0, duration_s=0.3)
    stereo = np.concatenate([tone, tone])
    assert np.allclose(mel_from_audio(stereo, PRESETS["riffusion"]), mel_from_audio(tone, PRESETS["riffusion"]))
    cloned = mel_from_audio(tone, SpectrogramParams(stereo=True))
    assert cloned.shape[0] == 2 and np.array_equal(cloned[0], cloned[1])


def test_integer_samples_are_refused(make_tone):
    with pytest.raises(ValueError, match="expected float samples"):
        mel_from_audio((make_tone() * 32767).astype(np.int16), PRESETS["riffusion"])


def test_silence_is_white_and_decodes_to_silence():
    params = PRESETS["riffusion"]
    image = image_from_audio(np.zeros((1, 44100), np.float32), params)
    assert np.all(np.asarray(image) == 255)
    assert image.getexif()[ExifTag.MAX_VALUE.value] == 0.0
    audio, _ = audio_from_image(image)
    assert audio.shape == (1, 44100) and not audio.any()


# --------------------------------------------------------------------------- widths and presets


def test_perkins_preset_puts_ten_seconds_in_512_columns(make_tone):
    params = get_preset("perkins-10s")
    assert params.hop_length == 861 and params.sample_rate == 44100
    assert (params.min_frequency, params.max_frequency, params.num_frequencies) == (20, 20000, 512)
    assert width_for_duration(params, 10.0) == 512
    image = image_from_audio(make_tone(440.0, duration_s=10.0, amplitude=0.3), params)
    assert image.size == (512, 512)


def test_width_duration_and_samples():
    params = get_preset("riffusion")
    assert duration_for_width(params, 1024) == pytest.approx(10.24)
    assert samples_for_width(params, 1024) == 1024 * 441
    assert width_for_duration(params, 5.12) == 512
    assert width_for_duration(params, 0.01) == 8
    assert width_for_duration(params, 7.0) % 8 == 0


def test_wide_image_decodes_to_a_longer_clip(make_music):
    params = get_preset("riffusion")
    clip = np.tile(make_music(duration_s=1.0), (1, 11))
    image = image_from_audio(clip, params, width=1024)
    assert image.size == (1024, 512)
    audio, rate = audio_from_image(image, vocoder=GriffinLimVocoder(n_iter=2), generator=torch.Generator().manual_seed(0))
    assert audio.shape == (1, samples_for_width(params, 1024))
    assert audio.shape[1] / rate == pytest.approx(10.24)


def test_explicit_width_crops_or_pads_with_silence(make_tone):
    params = get_preset("riffusion")
    tone = make_tone(440.0, duration_s=0.5)
    assert image_from_audio(tone, params).size == (50, 512)
    cropped = np.asarray(image_from_audio(tone, params, width=16))
    padded = np.asarray(image_from_audio(tone, params, width=80))
    assert cropped.shape[1] == 16 and padded.shape[1] == 80
    assert np.all(padded[:, 60:] == 255)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        image_from_audio(tone, params, width=0)


def test_presets_and_unknown_preset():
    assert get_preset("riffusion") == SpectrogramParams()
    assert (get_preset("riffusion-20k").min_frequency, get_preset("riffusion-20k").max_frequency) == (10, 20000)
    with pytest.raises(ValueError, match=r"unknown spectrogram preset 'nope'; available: \['perkins-10s', 'riffusion', 'riffusion-20k', 'starter', 'starter2'\]"):
        get_preset("nope")


# --------------------------------------------------------------------------- params, EXIF, recipes


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_exif_round_trip_through_png(tmp_path, name, make_tone):
    params = PRESETS[name]
    image = image_from_audio(make_tone(300.0, duration_s=0.5), params)
    path = tmp_path / f"{name}.png"
    save_spectrogram_image(image, path)
    with Image.open(path) as loaded:
        assert SpectrogramParams.from_exif(loaded.getexif()) == params
        assert loaded.getexif()[ExifTag.MAX_VALUE.value] == pytest.approx(image.getexif()[ExifTag.MAX_VALUE.value])
        mel, used = mel_from_image(loaded)
    assert used == params and used.hop_length == params.hop_length


def test_partial_exif_names_the_missing_tags():
    exif = {tag: value for tag, value in SpectrogramParams().to_exif().items() if tag not in (11010, 11060)}
    with pytest.raises(SpectrogramExifError, match=r"\['STEP_SIZE_MS', 'MAX_FREQUENCY'\]"):
        SpectrogramParams.from_exif(exif)
    image = Image.new("RGB", (8, 512), "white")
    image.getexif().update(exif)
    with pytest.raises(SpectrogramExifError):
        mel_from_image(image)


def test_exif_with_absurd_values_is_refused():
    exif = SpectrogramParams().to_exif()
    exif[11000] = 12
    with pytest.raises(SpectrogramExifError, match="sample_rate"):
        SpectrogramParams.from_exif(exif)


def test_height_must_match_num_frequencies():
    image = Image.new("RGB", (64, 256), "white")
    with pytest.raises(ValueError, match="image height 256 does not match params.num_frequencies 512"):
        mel_from_image(image)
    with pytest.raises(ValueError, match="height 256"):
        mel_from_pixels(np.zeros((256, 64, 3), np.uint8), PRESETS["riffusion"])


def test_float_pixels_decode_like_uint8_pixels():
    params = PRESETS["riffusion"]
    pixels = np.random.default_rng(0).integers(0, 256, (512, 16, 3)).astype(np.uint8)
    from_uint8 = mel_from_pixels(pixels, params, max_value=1e6)
    from_float = mel_from_pixels(pixels.astype(np.float32) / 255, params, max_value=1e6)
    assert from_uint8.shape == (1, 512, 16)
    assert np.allclose(from_uint8, from_float, rtol=1e-5, atol=1e-3)
    assert np.allclose(from_uint8[0, 0], (1 - pixels[-1, :, 0] / 255) ** 4 * 1e6, rtol=1e-5)
    with pytest.raises(ValueError, match="NaN"):
        mel_from_pixels(np.full((512, 4, 3), np.nan, np.float32), params)


def test_recipe_dict_round_trip_through_json():
    params = PRESETS["perkins-10s"]
    again = SpectrogramParams.from_dict(json.loads(json.dumps(params.to_dict())))
    assert again == params and again.hop_length == 861
    assert SpectrogramParams.from_dict({"max_frequency": 12000}).max_frequency == 12000
    with pytest.raises(SpectrogramParamsError, match=r"unknown spectrogram parameter\(s\) \['hop'\]"):
        SpectrogramParams.from_dict({"hop": 441})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sample_rate", 100),
        ("sample_rate", 44100.0),
        ("step_size_ms", 0),
        ("step_size_ms", 500),
        ("window_duration_ms", float("nan")),
        ("padded_duration_ms", 50),
        ("num_frequencies", 0),
        ("min_frequency", -5),
        ("max_frequency", 30000),
        ("mel_scale_type", "bark"),
        ("mel_scale_norm", "l2"),
        ("num_griffin_lim_iters", -1),
        ("power_for_image", 0),
        ("stereo", "yes"),
    ],
)
def test_absurd_params_are_refused_with_the_field_named(field, value):
    with pytest.raises(SpectrogramParamsError, match=f"SpectrogramParams.{field} must be"):
        SpectrogramParams(**{field: value})
