"""File > Collect Files: the original imported files are copied next to the project, byte for
byte, each once; clips point at the copies (one undo step); missing sources are reported and
lose nothing (their audio is in the project)."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from app.model import collect
from app.model.commands import CommandGroup
from app.model.project import Clip, Project, Track


def wav(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(seed).uniform(-0.5, 0.5, (2205, 2)), 22050, subtype="PCM_24")
    return path


def clip_from(path, start_s=0.0):
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return Clip(name=path.stem, audio=np.ascontiguousarray(audio.T), sample_rate_hz=rate, start_s=start_s,
                source_path=str(path))


def test_plan_copy_and_relink_without_qt(tmp_path):
    a = wav(tmp_path / "takes" / "kick.wav", 1)
    b = wav(tmp_path / "other" / "kick.wav", 2)  # same name, different sound
    gone = wav(tmp_path / "tmp" / "gone.wav", 3)
    project = Project()
    track = Track(name="T")
    project.add_track(track)
    clips = [clip_from(a), clip_from(a, 1.0), clip_from(b, 2.0), clip_from(gone, 3.0),
             Clip(name="generated", audio=np.zeros((1, 100), np.float32), sample_rate_hz=22050)]
    for clip in clips:
        project.add_clip(track.id, clip)
    gone.unlink()
    project_path = tmp_path / "song.sdproj"

    plan = collect.plan_collect(project, project_path)
    folder = tmp_path / "song media"
    assert plan.folder == folder.resolve()
    assert sorted(p.name for p in plan.copies.values()) == ["kick 2.wav", "kick.wav"]
    assert plan.missing == [str(gone)] and set(plan.relinks) == {c.id for c in clips[:3]}
    written = collect.copy_collected(plan)
    assert len(written) == 2
    for source, copy in plan.copies.items():
        assert copy.read_bytes() == source.read_bytes()  # the original file, byte for byte
    assert not list(folder.glob("*.tmp"))

    relink = CommandGroup(project, "Collect files", collect.relink_commands(project, plan))
    relink.redo()
    assert project.find_clip(clips[0].id)[1].source_path == project.find_clip(clips[1].id)[1].source_path
    assert project.find_clip(clips[2].id)[1].source_path == str(folder.resolve() / "kick 2.wav")
    assert project.find_clip(clips[3].id)[1].source_path == str(gone)  # missing: unchanged
    message = collect.describe(plan, written)
    assert "Collected 2 files" in message and "1 source file missing (gone.wav)" in message
    relink.undo()
    assert project.find_clip(clips[0].id)[1].source_path == str(a)

    # Collecting again after relinking finds nothing new; re-copying identical bytes writes nothing.
    relink.redo()
    again = collect.plan_collect(project, project_path)
    assert not again.copies and again.already == 3
    assert collect.copy_collected(plan) == []


def test_collect_files_from_the_file_menu(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    source = wav(tmp_path / "elsewhere" / "pad.wav", 4)
    with qtbot.waitSignal(window.import_finished, timeout=30000):
        window.import_files([str(source)])
    (clip,) = window.project.tracks[0].clips
    # Unsaved: the user is asked to save first, then collecting follows the save.
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: QMessageBox.StandardButton.Ok)
    project_path = tmp_path / "proj" / "song.sdproj"
    project_path.parent.mkdir()
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName", lambda *a, **k: (str(project_path), ""))
    with qtbot.waitSignal(window.files_collected, timeout=30000) as done:
        assert window.collect_files()
    plan = done.args[0]
    copy = project_path.parent / "song media" / "pad.wav"
    assert copy.read_bytes() == source.read_bytes()
    assert window.project.find_clip(clip.id)[1].source_path == str(copy.resolve())
    assert window.undo_stack.undoText() == "Collect files" and not window.undo_stack.isClean()
    assert "Collected 1 file" in window.statusBar().currentMessage()
    assert plan.copies
    window.undo_stack.undo()
    assert window.project.find_clip(clip.id)[1].source_path == str(source)
    assert window.collect_action in window.menuBar().actions()[0].menu().actions()
