"""File > Import and File > Export beyond plain audio: Riffusion-format spectrogram PNGs in and
out, a clear message for files the app cannot read, and an export that would clip."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from app import io_actions
from app.model.commands import AddClip
from app.model.project import Clip, Selection

RATE = 22050


def tone(hz: float = 440.0, seconds: float = 1.0, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t))[None].astype(np.float32)


def dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio.mean(axis=0) * np.hanning(audio.shape[-1])))
    return float(np.fft.rfftfreq(audio.shape[-1], 1 / rate)[spectrum.argmax()])


def add_selected_clip(window, audio: np.ndarray, rate: int = RATE, preset: str = "starter") -> Clip:
    clip = Clip(audio=audio, sample_rate_hz=rate, name="tone", spectrogram_preset=preset)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id})))
    return clip


def import_and_wait(qtbot, window, paths):
    with qtbot.waitSignal(window.import_finished, timeout=60000) as done:
        window.import_files([str(p) for p in paths])
    return done.args[0]


def export_and_wait(qtbot, window, path, scope, fmt, **kwargs):
    with qtbot.waitSignal(window.export_finished, timeout=60000) as done:
        window.export_audio(str(path), scope, fmt, **kwargs)
    return done.args[0]


# ------------------------------------------------------------------------------ spectrogram PNGs


def test_a_spectrogram_png_imports_as_the_sound_it_pictures(qtbot, window, tmp_path):
    from engine.audio.spectrogram import get_preset, image_from_audio, save_spectrogram_image

    params = get_preset("starter")
    path = tmp_path / "tone.png"
    save_spectrogram_image(image_from_audio(tone(440.0, 2.0), params), path)
    (result,) = import_and_wait(qtbot, window, [path])
    assert result.error is None, result.error
    clip = result.clip
    assert clip.sample_rate_hz == params.sample_rate and clip.spectrogram_preset == "starter"
    assert clip.length_s == pytest.approx(2.0, abs=0.03)
    assert dominant_hz(clip.audio, clip.sample_rate_hz) == pytest.approx(440.0, rel=0.04)
    assert clip.image is not None and clip.image.size == Image.open(path).size  # shown as it was
    assert window.project.clips() == [clip] and clip.source_path == str(path)


def test_a_clip_exports_as_a_riffusion_png_with_its_parameters(qtbot, window, tmp_path):
    from engine.audio.spectrogram import SpectrogramParams, audio_from_image, get_preset

    add_selected_clip(window, tone(660.0, 1.5))
    path = tmp_path / "out.png"
    assert export_and_wait(qtbot, window, path, "clip", "png") == str(path)
    image = Image.open(path)
    params = SpectrogramParams.from_exif(image.getexif())
    assert params == get_preset("starter")  # the clip's own preset, in Riffusion's EXIF tags
    assert image.height == params.num_frequencies and image.width == pytest.approx(1.5 * RATE / params.hop_length, abs=1)
    audio, rate = audio_from_image(image)
    assert dominant_hz(audio, rate) == pytest.approx(660.0, rel=0.04)


def test_a_stereo_mix_exports_in_a_chosen_preset(qtbot, window, tmp_path):
    from engine.audio.spectrogram import SpectrogramParams

    stereo = np.concatenate([tone(440.0, 0.6, rate=44100), tone(880.0, 0.6, rate=44100)])
    add_selected_clip(window, stereo, rate=44100, preset="riffusion")
    path = tmp_path / "mix.png"
    export_and_wait(qtbot, window, path, "mix", "png", preset="starter")
    params = SpectrogramParams.from_exif(Image.open(path).getexif())
    assert params.stereo and params.sample_rate == 22050 and params.num_frequencies == 128


def test_export_dialog_offers_the_png_with_a_preset(qtbot, window, tmp_path):
    from app.dialogs.export_dialog import ExportDialog

    add_selected_clip(window, tone())
    dialog = ExportDialog(window.project, window.settings, window)
    qtbot.addWidget(dialog)
    assert not dialog.form.isRowVisible(dialog.preset_combo)  # audio formats: no preset row
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    assert dialog.form.isRowVisible(dialog.preset_combo) and dialog.preset_combo.currentData() == "starter"
    assert dialog.path_edit.text().endswith("tone.png")
    with qtbot.waitSignal(dialog.export_requested) as requested:
        dialog._on_accepted()
    assert requested.args[1:] == ["clip", "png", "starter"]


def test_files_that_are_not_audio_or_spectrograms_say_what_works(qtbot, window, tmp_path, make_wav):
    text = tmp_path / "notes.txt"
    text.write_text("not a sound")
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 300), "white").save(photo)
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF nonsense, not a wave file")
    good, _ = make_wav("good.wav", 0.1, 1)
    results = import_and_wait(qtbot, window, [text, photo, fake, good])
    errors = {r.path: r.error for r in results}
    assert "notes.txt' is not a format Specdiff Studio reads" in errors[str(text)]
    assert "WAV, FLAC" in errors[str(text)] and "spectrogram images (PNG)" in errors[str(text)]
    assert "300 px high" in errors[str(photo)] and "512" in errors[str(photo)]
    assert "spectrogram images (PNG)" in errors[str(fake)]  # a corrupt audio file names the formats too
    assert errors[str(good)] is None and len(window.project.clips()) == 1  # the good one still lands
    assert all("\n" not in e for e in errors.values() if e)  # one line each
    window.import_error_box.close()


def test_import_filter_lists_audio_and_spectrogram_images():
    text = io_actions.import_file_filter()
    assert "*.wav" in text and "*.flac" in text and "*.png" in text


# ------------------------------------------------------------------------------ clipping


def loud_clip(window) -> Clip:
    audio = tone(220.0, 1.0, 0.3)
    audio[:, RATE // 4 : RATE // 2] *= 5.0  # 1.5: beyond full scale for a quarter second
    return add_selected_clip(window, audio)


def test_an_export_that_would_clip_asks_first_and_limits(qtbot, window, tmp_path):
    clip = loud_clip(window)
    path = tmp_path / "loud.wav"
    window.export_audio(str(path), "clip", "wav16")
    box = window.clipping_box
    assert box.isVisible() and not path.exists()
    assert "+3.5 dBFS" in box.text() and "16-bit" in box.text()
    buttons = {b.text(): b for b in box.buttons()}
    assert {"Normalise", "Limit", "Export as 32-bit float", "Cancel"} <= set(buttons)
    with qtbot.waitSignal(window.export_finished, timeout=60000):
        buttons["Limit"].click()
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    assert np.abs(data).max() <= 10 ** (-1 / 20) + 1 / 32768  # no clipping: at most -1 dBTP
    # The quiet first 0.2 s is untouched (within 16-bit rounding).
    np.testing.assert_allclose(data[: int(0.2 * RATE), 0], clip.audio[0, : int(0.2 * RATE)], atol=1 / 32768)


def test_normalise_and_float_choices(qtbot, window, tmp_path):
    clip = loud_clip(window)
    normalised = tmp_path / "n.flac"
    export_and_wait(qtbot, window, normalised, "clip", "flac24", on_clipping="normalize")
    data, _ = sf.read(normalised, dtype="float32", always_2d=True)
    ratio = data[:, 0] / np.where(np.abs(clip.audio[0]) > 0.1, clip.audio[0], np.nan)
    assert np.nanmax(ratio) - np.nanmin(ratio) < 1e-3  # one gain for everything
    assert np.abs(data).max() == pytest.approx(10 ** (-1 / 20), rel=0.01)
    # 32-bit float keeps every sample, even from a FLAC choice (as a WAV next to it).
    written = export_and_wait(qtbot, window, tmp_path / "f.flac", "clip", "flac24", on_clipping="float")
    assert written == str(tmp_path / "f.wav")
    data, _ = sf.read(written, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(data[:, 0], clip.audio[0])
    assert sf.info(written).subtype == "FLOAT"


def test_cancelling_the_clipping_question_writes_nothing(qtbot, window, tmp_path):
    loud_clip(window)
    path = tmp_path / "no.wav"
    window.export_audio(str(path), "clip", "wav24")
    cancel = window.clipping_box.button(QMessageBox.StandardButton.Cancel)
    with qtbot.waitSignal(window.export_failed) as failed:
        cancel.click()
    assert failed.args == ["cancelled"] and not path.exists()


def test_no_question_when_nothing_clips_or_the_format_is_float(qtbot, window, tmp_path):
    loud_clip(window)
    export_and_wait(qtbot, window, tmp_path / "ok.wav", "clip", "wav32f")
    window.project.clips()[0]  # still there
    assert getattr(window, "clipping_box", None) is None


@pytest.mark.parametrize("fmt", ["wav24", "png"])
def test_exports_are_created_with_the_users_umask(qtbot, window, tmp_path, fmt):
    import os

    add_selected_clip(window, tone(seconds=0.5))
    old = os.umask(0o027)
    try:
        path = tmp_path / f"out.{'png' if fmt == 'png' else 'wav'}"
        export_and_wait(qtbot, window, path, "clip", fmt)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640  # 0666 less the umask, not mkstemp's 0600
