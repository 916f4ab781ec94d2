"""Import and export as a user does them: files in (menu path and drag and drop), clips, mix and
selection out in every format, recipe in the metadata, a clip dragged out, projects saved/opened."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app import io_actions
from app.dialogs.export_dialog import ExportDialog
from app.model.commands import AddClip
from app.model.persistence import ProjectFileError, load_project, save_project
from app.model.project import Clip, Project, Selection
from engine.api import Recipe
from engine.audio.io import read_audio_metadata


def import_and_wait(qtbot, window, paths):
    with qtbot.waitSignal(window.import_finished, timeout=30000) as done:
        window.import_files([str(p) for p in paths])
    return done.args[0]


def export_and_wait(qtbot, window, path, scope, fmt):
    with qtbot.waitSignal(window.export_finished, timeout=30000) as done:
        window.export_audio(str(path), scope, fmt)
    assert done.args == [str(path)]
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    return data.T, rate


def make_recipe(seed=5, prompt="glassy bells"):
    return Recipe(
        task="generate", model_id="org/model", model_revision="abc", seed=seed,
        params={"prompt": prompt, "negative_prompt": "", "num_inference_steps": 30, "guidance_scale": 7.0,
                "scheduler": "euler"},
        facts={"width": 512, "height": 512, "spectrogram": {"sample_rate_hz": 44100, "step_size_ms": 10}},
    )


def test_import_several_files_then_export_is_sample_exact(qtbot, window, make_wav, tmp_path):
    stereo_path, stereo = make_wav("stereo.wav", 0.5, 2, 44100, seed=1)
    mono_path, mono = make_wav("mono.wav", 0.25, 1, 44100, seed=2)
    window.project.set_playhead(0.0)
    results = import_and_wait(qtbot, window, [stereo_path, mono_path])
    assert [r.error for r in results] == [None, None]
    a, b = (r.clip for r in results)
    track = window.project.tracks[0]
    assert track.clips == [a, b]  # one after another on the selected track
    assert (a.start_s, b.start_s) == (0.0, 0.5)
    assert a.source_path == str(stereo_path) and a.name == "stereo"
    assert window.undo_stack.count() == 1  # one undo step for the whole import
    np.testing.assert_array_equal(a.audio, stereo)

    # The clip, exported as float WAV, is the file's samples exactly.
    window.project.set_selection(Selection(clip_ids={a.id}))
    out, rate = export_and_wait(qtbot, window, tmp_path / "clip.wav", "clip", "wav32f")
    assert rate == 44100
    np.testing.assert_array_equal(out, stereo)
    # The whole mix: both clips in place, the mono one on both channels.
    out, _ = export_and_wait(qtbot, window, tmp_path / "mix.wav", "mix", "wav32f")
    assert out.shape == (2, 33075)
    np.testing.assert_array_equal(out[:, :22050], stereo)
    np.testing.assert_array_equal(out[:, 22050:], np.vstack([mono, mono]))
    # A time selection exports just that range of the mix.
    window.project.set_selection(Selection(start_s=0.25, end_s=0.75))
    out, _ = export_and_wait(qtbot, window, tmp_path / "sel.wav", "selection", "wav32f")
    np.testing.assert_array_equal(out[:, :11025], stereo[:, 11025:])
    np.testing.assert_array_equal(out[0, 11025:], mono[0, :11025])


def test_the_first_clip_of_a_project_fills_the_view_and_later_ones_keep_it(qtbot, window, make_wav):
    """A first 2.56 s generation (or import) into a new project sat in a 30 s view as a 40 px
    sliver; the project's first clips are now zoomed to. Later clips keep the user's view."""
    assert window.timeline.visible_range() == (0.0, 30.0) and not window.project.clips()
    first, _ = make_wav("first.wav", 2.0, 1)
    import_and_wait(qtbot, window, [first])
    start, end = window.timeline.visible_range()
    assert start <= 0.0 and 2.0 <= end <= 2.5  # the clip fills the view
    second, _ = make_wav("second.wav", 0.5, 1, seed=1)
    import_and_wait(qtbot, window, [second])  # lands after the first, at 2.0 .. 2.5 s
    assert window.timeline.visible_range()[1] - window.timeline.visible_range()[0] == pytest.approx(end - start)


def test_a_bad_file_is_reported_and_the_others_still_import(qtbot, window, make_wav, tmp_path):
    good, audio = make_wav("good.wav", 0.1, 1)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    missing = tmp_path / "missing.flac"
    results = import_and_wait(qtbot, window, [broken, good, missing])
    assert [r.clip is not None for r in results] == [False, True, False]
    errors = dict(window.last_import_errors)
    assert set(errors) == {str(broken), str(missing)}
    assert all(str(Path(p).name) in msg or p in msg for p, msg in errors.items())  # messages name the file
    assert "could not be imported" in window.statusBar().currentMessage()
    assert window.import_error_box.isVisible() and not window.import_error_box.isModal()
    assert [c.name for c in window.project.clips()] == ["good"]


def test_the_import_error_box_names_each_file_once_and_the_formats_once(qtbot, window, tmp_path):
    """A corrupt WAV, a truncated one and an empty file dropped in together: the box used to
    read "corrupt.wav: /full/path/corrupt.wav: … Error opening '/full/path/corrupt.wav': Format
    not recognised.. Specdiff Studio imports audio (…)" on every line."""
    corrupt, truncated, empty = tmp_path / "corrupt.wav", tmp_path / "trunc.wav", tmp_path / "empty.wav"
    corrupt.write_bytes(bytes(range(256)) * 8)
    truncated.write_bytes(b"RIFF$\x00\x00\x00WAVEfmt ")
    empty.write_bytes(b"")
    import_and_wait(qtbot, window, [corrupt, truncated, empty])
    text = window.import_error_box.text()
    lines = text.split("\n")
    for path in (corrupt, truncated, empty):
        assert text.count(path.name) == 1 and str(path) not in text  # the name once, no full path
        assert any(line.startswith(f"{path.name}: ") for line in lines)
    assert "empty.wav: the file is empty (0 bytes)" in lines
    assert text.count("Specdiff Studio imports audio") == 1 and lines[-1].startswith("Specdiff Studio imports audio")
    assert ".." not in text.replace("...", "")
    window.import_error_box.close()


def test_drag_and_drop_files_onto_the_window_imports_them(qtbot, window, make_wav):
    p1, a1 = make_wav("one.wav", 0.1, 2, seed=3)
    p2, a2 = make_wav("two.flac", 0.1, 2, seed=4, subtype="PCM_24")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p1)), QUrl.fromLocalFile(str(p2))])
    assert io_actions.dropped_paths(mime) == [str(p1), str(p2)]
    event = QDropEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.import_finished, timeout=30000) as done:
        window.dropEvent(event)
    assert [r.clip.name for r in done.args[0]] == ["one", "two"]
    np.testing.assert_array_equal(done.args[0][0].clip.audio, a1)
    np.testing.assert_allclose(done.args[0][1].clip.audio, a2, atol=2 ** -22)
    # Our own clip drags are not re-imported when dropped back on the window.
    own = QMimeData()
    own.setUrls([QUrl.fromLocalFile(str(p1))])
    own.setData(io_actions.CLIP_MIME_TYPE, b"x")
    assert io_actions.dropped_paths(own) == []


@pytest.mark.parametrize(
    "fmt, subtype, atol",
    [("wav16", "PCM_16", 2 ** -15), ("wav24", "PCM_24", 2 ** -23), ("flac16", "PCM_16", 2 ** -15), ("flac24", "PCM_24", 2 ** -23)],
)
def test_export_formats_keep_the_audio_and_the_recipe(tmp_path, fmt, subtype, atol):
    project = Project.with_track()
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.5, 0.5, (2, 4410)).astype(np.float32)
    clip = Clip(name="bells", audio=audio, sample_rate_hz=44100, recipe=make_recipe())
    AddClip(project, project.tracks[0].id, clip).redo()
    project.set_selection(Selection(clip_ids={clip.id}))
    rendered, rate, metadata = io_actions.render_export(project, "clip")
    path = tmp_path / f"out{io_actions.export_format(fmt).extension}"
    io_actions.write_export(path, rendered, rate, fmt, metadata)
    assert sf.info(path).subtype == subtype
    back, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_allclose(back.T, audio, atol=atol)
    tags = read_audio_metadata(path)
    assert Recipe.from_dict(json.loads(tags["comment"])["recipe"]) == clip.recipe
    assert tags["title"] == "bells"


def test_wav_mix_of_many_generated_clips_keeps_the_recipes_that_fit(tmp_path):
    project = Project.with_track()
    for i in range(8):
        clip = Clip(name=f"c{i}", audio=np.zeros((1, 441), np.float32), sample_rate_hz=44100,
                    start_s=i * 0.01, recipe=make_recipe(seed=i, prompt="a long prompt " * 4))
        AddClip(project, project.tracks[0].id, clip).redo()
    audio, rate, metadata = io_actions.render_export(project, "mix")
    assert len(json.loads(metadata["comment"])["recipes"]) == 8
    io_actions.write_export(tmp_path / "mix.wav", audio, rate, "wav16", metadata)
    stored = json.loads(read_audio_metadata(tmp_path / "mix.wav")["comment"])
    assert stored["omitted"] + len(stored["recipes"]) == 8 and stored["recipes"][0]["seed"] == 0
    io_actions.write_export(tmp_path / "mix.flac", audio, rate, "flac24", metadata)  # FLAC keeps all
    assert len(json.loads(read_audio_metadata(tmp_path / "mix.flac")["comment"])["recipes"]) == 8


def test_export_dialog_offers_what_exists_and_emits_the_choice(qtbot, window, make_wav, tmp_path):
    dialog = ExportDialog(window.project, window.settings, window)
    qtbot.addWidget(dialog)
    assert dialog.available_scopes() == [] and not dialog.ok_button.isEnabled()
    path, _ = make_wav("x.wav", 0.1, 1)
    (result,) = import_and_wait(qtbot, window, [path])
    window.project.set_selection(Selection(clip_ids={result.clip.id}))
    dialog = ExportDialog(window.project, window.settings, window)
    qtbot.addWidget(dialog)
    assert dialog.available_scopes() == ["clip", "selection", "mix"]
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("flac24"))
    assert dialog.path_edit.text().endswith("x.flac")
    dialog.path_edit.setText(str(tmp_path / "chosen.wav"))
    with qtbot.waitSignal(dialog.export_requested) as requested:
        dialog._on_accepted()
    assert requested.args == [str(tmp_path / "chosen.flac"), "clip", "flac24", ""]


def test_dragging_a_clip_out_gives_a_wav_file(qapp):
    audio = np.random.default_rng(1).uniform(-1, 1, (2, 2000)).astype(np.float32)
    clip = Clip(name="kick / snare?", audio=audio, sample_rate_hz=48000, offset_s=0.01, duration_s=0.02,
                recipe=make_recipe())
    mime = io_actions.clip_drag_mime(clip)
    (url,) = mime.urls()
    path = Path(url.toLocalFile())
    assert path.suffix == ".wav" and path.exists() and "/" not in path.name.replace(str(path.parent), "")
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == 48000
    np.testing.assert_array_equal(data.T, audio[:, 480:1440])
    assert json.loads(read_audio_metadata(path)["comment"])["recipe"]["seed"] == 5
    assert mime.hasFormat(io_actions.CLIP_MIME_TYPE)


def test_project_file_round_trip_is_exact(qtbot, window, make_wav, tmp_path):
    from PIL import Image

    path, audio = make_wav("a.wav", 0.3, 2)
    (result,) = import_and_wait(qtbot, window, [path])
    clip = result.clip
    image = Image.new("RGB", (16, 8), (10, 20, 30))
    exif = image.getexif()
    exif[11080] = "1.5"  # Riffusion keeps its params in EXIF: they must survive
    image.info["exif"] = exif.tobytes()
    generated = Clip(name="gen", audio=audio[:1].copy(), sample_rate_hz=22050, start_s=2.0, gain_db=-3.0,
                     recipe=make_recipe(), image=image)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, generated))
    project_path = tmp_path / "song.sdproj"
    with qtbot.waitSignal(window.project_saved, timeout=30000):
        window._save_to(str(project_path))
    assert window.undo_stack.isClean() and "song.sdproj" in window.windowTitle()
    assert window.settings.recent_files[0] == str(project_path.resolve())

    loaded = load_project(project_path)
    (track,) = loaded.tracks
    a, g = track.clips
    np.testing.assert_array_equal(a.audio, clip.audio)
    assert (a.id, a.name, a.source_path, a.start_s) == (clip.id, clip.name, clip.source_path, clip.start_s)
    assert (g.sample_rate_hz, g.start_s, g.gain_db, g.recipe) == (22050, 2.0, -3.0, generated.recipe)
    assert g.image.size == (16, 8) and g.image.getexif()[11080] == "1.5"

    # Opening replaces the current project in place (views keep their Project object).
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id,
                                           Clip(audio=np.zeros((1, 10), np.float32), sample_rate_hz=8000)))
    project_before = window.project
    window.undo_stack.setClean()
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(project_path))
    assert window.project is project_before
    assert [c.id for c in window.project.clips()] == [clip.id, generated.id]
    assert window.undo_stack.count() == 0


def test_project_file_errors_are_clear(tmp_path):
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "nope.sdproj")
    bad = tmp_path / "bad.sdproj"
    bad.write_text("hello")
    with pytest.raises(ProjectFileError, match="not a Specdiff project"):
        load_project(bad)
    project = Project.with_track()
    save_project(project, tmp_path / "empty.sdproj")
    assert load_project(tmp_path / "empty.sdproj").tracks[0].name == "Track 1"


def test_the_export_dialog_shows_a_whole_path_and_says_export(qtbot, window, make_wav):
    """At 280 px its File field cut any path longer than '/root/mix.wav', and its button said OK."""
    path, _ = make_wav("x.wav", 0.1, 1)
    import_and_wait(qtbot, window, [path])
    dialog = ExportDialog(window.project, window.settings, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.ok_button.text() == "Export" and dialog.ok_button.isEnabled()
    edit = dialog.path_edit
    edit.setText("/home/someone/Music/sessions/2026-12-07/kick-and-snare-take-3.wav")
    assert edit.fontMetrics().horizontalAdvance(edit.text()) < edit.width() - 8
