"""Hostile project files (issue 17): every crafted or damaged ``.sdproj`` gives a clear one-line
ProjectFileError naming the file and the field, or loads correctly; nothing else escapes, the
file is never changed, memory stays bounded (the nastiest cases run in a subprocess under an
address-space limit), and the window keeps the open project when a file cannot be opened."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.model.persistence import ProjectFileError, load_project
from app.model.project_files import FileLimits, LoadedProject, load_project_file
from app.model.project_schema import json_depth
from engine.specs import Recipe
from tests.fuzz import projects as corpus

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return corpus.valid_project_file(tmp_path_factory.mktemp("base") / "base.sdproj", clips=3)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_checked(path: Path, limits: FileLimits | None = None) -> LoadedProject | ProjectFileError:
    """Load ``path``; a ProjectFileError is returned after checking it is one clear line that
    names the file. Any other exception fails the test. The file must be unchanged."""
    before = digest(path)
    try:
        result = load_project_file(path, limits) if limits else load_project_file(path)
    except ProjectFileError as exc:
        message = str(exc)
        assert "\n" not in message and str(path) in message and len(message) < 600, message
        result = exc
    assert digest(path) == before
    return result


def json_value() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                            max_size=3), max_leaves=8)


def agrees_with_manifest(loaded: LoadedProject, manifest: dict) -> None:
    """A load that succeeded holds exactly what the manifest says."""
    project = loaded.project
    assert project.sample_rate_hz == manifest["sample_rate_hz"]
    assert [t.id for t in project.tracks] == [t["id"] for t in manifest["tracks"]]
    for track, entry in zip(project.tracks, manifest["tracks"]):
        assert (track.name, track.gain_db, track.mute, track.solo) == (entry["name"], entry["gain_db"], entry["mute"],
                                                                       entry["solo"])
        for clip, c in zip(track.clips, entry["clips"], strict=True):
            assert (clip.id, clip.name, clip.start_s, clip.offset_s, clip.gain_db) == (
                c["id"], c["name"], c["start_s"], c["offset_s"], c["gain_db"])
            assert clip.duration_s == c["duration_s"] and clip.source_path == c.get("source_path")
            assert np.isfinite(clip.audio).all() and math.isfinite(clip.gain_db)
            assert clip.recipe is None or clip.recipe == Recipe.from_dict(c["recipe"])


# ------------------------------------------------------------------------------------- properties


def test_the_corpus_base_file_loads_whole(base):
    loaded = load_checked(base)
    assert isinstance(loaded, LoadedProject) and not loaded.warnings
    manifest = json.loads(corpus.read_members(base)["project.json"])
    agrees_with_manifest(loaded, manifest)
    assert len(loaded.masks) == 1 and loaded.project.clips()[0].image.size == (24, 16)
    assert loaded.project.clips()[1].audio is loaded.project.clips()[2].audio  # shared audio stays shared


@pytest.mark.parametrize("change", ["set", "delete"])
@FUZZ
@given(data=st.data())
def test_any_field_of_project_json_set_to_a_hostile_value_or_deleted(base, tmp_path, change, data):
    manifest = json.loads(corpus.read_members(base)["project.json"])
    path = data.draw(st.sampled_from(sorted(corpus.field_paths(manifest), key=str)), label="field")
    if change == "set":
        value = data.draw(st.sampled_from(corpus.HOSTILE_VALUES) | json_value(), label="value")
        edit = lambda m: corpus.set_path(m, path, value)  # noqa: E731
    else:
        edit = lambda m: corpus.delete_path(m, path)  # noqa: E731 - optional keys (image, recipe, ...) may go
    target = corpus.with_json(base, tmp_path / "case.sdproj", "project.json", edit)
    result = load_checked(target)
    if isinstance(result, LoadedProject):
        agrees_with_manifest(result, json.loads(corpus.read_members(target)["project.json"]))


@FUZZ
@given(data=st.data())
def test_any_field_of_masks_json_set_to_a_hostile_value(base, tmp_path, data):
    masks = json.loads(corpus.read_members(base)["masks.json"])
    path = data.draw(st.sampled_from(sorted(corpus.field_paths(masks), key=str)), label="field")
    value = data.draw(st.sampled_from(corpus.HOSTILE_VALUES) | json_value(), label="value")
    target = corpus.with_json(base, tmp_path / "case.sdproj", "masks.json", lambda m: corpus.set_path(m, path, value))
    load_checked(target)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10**9), flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)),
                                                                      max_size=4))
def test_truncated_or_flipped_bytes(base, tmp_path, cut, flips):
    data = bytearray(base.read_bytes())
    for pos, bits in flips:
        data[pos % len(data)] ^= bits
    target = tmp_path / "case.sdproj"
    target.write_bytes(bytes(data[: max(1, cut % (len(data) + 1))]))
    load_checked(target)


@FUZZ
@given(value=json_value())
def test_any_recipe_is_a_warning_at_worst(base, tmp_path, value):
    target = corpus.with_json(base, tmp_path / "case.sdproj", "project.json",
                              lambda m: corpus.set_path(m, ("tracks", 0, "clips", 0, "recipe"), {"extra": value, "seed": value}))
    result = load_checked(target)
    assert isinstance(result, LoadedProject) or "nested too deeply" in str(result)
    if isinstance(result, LoadedProject):
        assert result.project.clips()[0].recipe is None and "recipe cannot be read" in result.warnings[0]


# ------------------------------------------------------------------------------------- named cases


@pytest.mark.parametrize("case", [
    "zip bomb, lying small size", "huge declared project.json", "directory claims 1 GB", "project.json nested 1e6 deep",
    "masks.json nested 1e6 deep", "recipe nested 30 deep", "200-megapixel PNG", "garbage PNG", "WAV with 65535 channels",
    "NaN samples", "clip start 1e15", "clip gain 1e308", "clip name is an object", "../ member names",
])
def test_each_nasty_case_is_a_clear_error(tmp_path, case):
    path = corpus.NASTY_CASES[case](tmp_path)
    assert isinstance(load_checked(path), ProjectFileError)


def test_what_the_issue_saw_escape_is_now_a_project_file_error(tmp_path):
    cases = {
        "list.sdproj": (b"[]", "project.json must be a JSON object, got a list"),
        "version.sdproj": (b'{"format": "specdiff-project", "version": [1]}', "version must be an integer"),
        "newer.sdproj": (b'{"format": "specdiff-project", "version": 2}', "saved by a newer version"),
        "text.sdproj": (b"\xff\xfe not json", "project.json is not valid JSON"),
        "nan.sdproj": (json.dumps(corpus.manifest_for([]) | {"playhead_s": math.nan}).encode(), "playhead_s must be a finite number"),
    }
    for name, (manifest, expected) in cases.items():
        corpus.write_members(tmp_path / name, {"project.json": manifest})
        with pytest.raises(ProjectFileError, match=expected):
            load_project(tmp_path / name)


def test_member_limits_apply_before_inflating(base, tmp_path):
    small = FileLimits(members=3)
    assert "at most 3 members" in str(load_checked(base, small))
    assert "needs more memory than is free" in str(load_checked(base, FileLimits(memory_bytes=1000)))
    assert "at most 100 bytes are allowed" in str(load_checked(base, FileLimits(manifest_bytes=100)))
    assert "at most 1 are allowed" in str(load_checked(base, FileLimits(clips=1)))
    # A member that inflates past what it declares is cut there (zipfile) and refused.
    manifest = json.dumps(corpus.manifest_for(["audio/0000.wav"])).encode()
    bomb = corpus.raw_zip([corpus._stored("project.json", manifest),
                           ("audio/0000.wav", corpus.zeros_deflate(64 << 20, b"RIFF"), zipfile.ZIP_DEFLATED, 0, 1 << 20)])
    (tmp_path / "bomb.sdproj").write_bytes(bomb)
    assert "audio/0000.wav is damaged (BadZipFile" in str(load_checked(tmp_path / "bomb.sdproj"))


def test_json_depth_is_counted_without_recursion():
    deep: list = []
    node = deep
    for _ in range(100_000):
        node.append([])
        node = node[0]
    assert json_depth(deep, 40) == 41 and json_depth({"a": [1, {"b": 2}]}, 40) == 3


def test_the_nastiest_cases_stay_within_an_address_space_limit(tmp_path):
    """All cases in one process limited to 2.5 GB of address space: each is a ProjectFileError
    (or, for a WAV whose header overstates its frames, a correct load of what is there)."""
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz" / "projects.py"), "--as-limit-gb", "2.5",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["case"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(results) == set(corpus.NASTY_CASES)
    for case, r in results.items():
        expected = "ok" if case == "WAV header claims 1e9 frames" else "ProjectFileError"
        assert r["outcome"] == expected, r
        assert r["peak_rss_mb"] < 1000, r


# ------------------------------------------------------------------------------------- the window


def test_a_crafted_project_leaves_the_open_one_as_it_was(qtbot, window, tmp_path):
    from app.model.commands import AddClip
    from app.model.project import Clip

    clip = Clip(name="mine", audio=np.zeros((1, 800), np.float32), sample_rate_hz=8000, start_s=1.0)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    window.undo_stack.setClean()
    title, undo_count = window.windowTitle(), window.undo_stack.count()
    loaded = []
    window.project_loaded.connect(loaded.append)
    for case in ("clip name is an object", "clip start 1e15", "clip gain 1e308", "NaN samples"):
        path = corpus.NASTY_CASES[case](tmp_path)
        with qtbot.waitSignal(window.project_open_failed, timeout=30000) as failed:
            window.open_project(str(path))
        assert str(path) in failed.args[0]
        assert window.open_error_box.isVisible() and not window.open_error_box.isModal()
        assert str(path) in window.open_error_box.text()
        assert window.project.clips() == [clip] and window.windowTitle() == title
        assert window.undo_stack.count() == undo_count and not loaded
        window.open_error_box.close()


def test_a_view_failing_on_the_new_document_puts_the_previous_one_back(qtbot, window, tmp_path, monkeypatch):
    from app.model.commands import AddClip
    from app.model.mask import Mask, TimeBand
    from app.model.project import Clip

    clip = Clip(name="mine", audio=np.zeros((1, 8000), np.float32), sample_rate_hz=8000, start_s=1.0)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    mask = Mask((TimeBand(0.1, 0.2),))
    window.edit_tools.masks.set_mask(clip.id, mask)
    window.project.set_playhead(0.5)
    path = corpus.valid_project_file(tmp_path / "good.sdproj")
    incoming = {c.id for c in load_project(path).clips()}

    def breaks(project):  # views rebuild on project_reset (a new document sends no clip events)
        if {c.id for c in project.clips()} & incoming:
            raise OverflowError("a view could not place this clip")

    window.project.events.project_reset.connect(breaks)
    with qtbot.waitSignal(window.project_open_failed, timeout=30000) as failed:
        window.open_project(str(path))
    assert "OverflowError" in failed.args[0] and "unchanged" in failed.args[0]
    assert window.project.clips() == [clip] and window.edit_tools.masks.get(clip.id) == mask
    assert window.project.playhead_s == 0.5 and window.undo_stack.count() == 1
    assert window.timeline.clip_item(clip.id) is not None
    window.project.events.project_reset.disconnect(breaks)
    with qtbot.waitSignal(window.project_loaded, timeout=30000):  # the same file opens once the view is fixed
        window.open_project(str(path))
    assert {c.id for c in window.project.clips()} == incoming


def test_a_recipe_this_version_cannot_read_opens_with_a_warning(qtbot, window, tmp_path):
    base = corpus.valid_project_file(tmp_path / "base.sdproj")
    path = corpus.with_json(base, tmp_path / "newer-recipe.sdproj", "project.json",
                            lambda m: m["tracks"][0]["clips"][0]["recipe"].update(colour="blue"))
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(path))
    assert window.project.clips()[0].recipe is None
    assert "recipe cannot be read" in window.open_error_box.text() and "colour" in window.open_error_box.text()


def test_clip_paint_restores_the_painter_even_when_drawing_fails(qtbot, window):
    from PySide6 import QtGui

    from app.model.commands import AddClip
    from app.model.project import Clip

    with pytest.raises(ValueError, match="name` must be a string"):
        Clip(name={"a": 1}, audio=np.zeros((1, 10), np.float32), sample_rate_hz=8000)
    clip = Clip(name="x", audio=np.zeros((1, 8000), np.float32), sample_rate_hz=8000)
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, clip))
    with pytest.raises(ValueError, match="name` must be a string"):
        window.project.update_clip(clip.id, name=["not", "text"])
    item = window.timeline.clip_item(clip.id)
    assert item is not None, "the timeline shows the clip"

    class Failing(QtGui.QPainter):
        def drawText(self, *args):  # noqa: N802 - Qt API
            raise TypeError("drawText failed")

    image = QtGui.QImage(400, 100, QtGui.QImage.Format.Format_ARGB32)
    painter = Failing(image)
    painter.setTransform(QtGui.QTransform.fromScale(300.0, 0.2))
    item.name = {"a": 1}  # even a name that is not text is drawn as text
    with pytest.raises(TypeError, match="drawText failed"):
        item.paint(painter)
    assert painter.transform() == QtGui.QTransform.fromScale(300.0, 0.2)  # restore() ran
    painter.end()
    plain = QtGui.QPainter(image)
    item.paint(plain)  # a plain painter draws str(name) without complaint
    plain.end()


# ------------------------------------------------------------------------------------- files


def test_saves_keep_the_files_mode_and_a_new_file_gets_the_umask(tmp_path):
    import os

    from app.model.project_files import save_project_file

    project, masks = corpus.make_project()
    old_umask = os.umask(0o027)
    try:
        new = tmp_path / "new.sdproj"
        save_project_file(project, masks, new)
        assert new.stat().st_mode & 0o777 == 0o640
        shared = tmp_path / "shared.sdproj"
        save_project_file(project, masks, shared)
        shared.chmod(0o664)
        save_project_file(project, masks, shared)  # saving again keeps what the user set
        assert shared.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old_umask)


def test_leftovers_of_dead_writers_go_and_a_running_ones_stay(tmp_path):
    import os
    import time

    from engine.audio.io import LEGACY_TEMP_AGE_S, remove_leftover_temps

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        files = {
            "dead": tmp_path / f".song.sdproj.{dead.pid}-0123456789ab.tmp",
            "alive": tmp_path / f".song.sdproj.{alive.pid}-0123456789ab.tmp",
            "mine": tmp_path / f".song.sdproj.{os.getpid()}-0123456789ab.tmp",
            "old legacy": tmp_path / ".song.sdproj.0123456789ab.tmp",
            "old mkstemp": tmp_path / "song.sdproj.abcd_123.tmp",
            "new legacy": tmp_path / ".other.sdproj.ba9876543210.tmp",
            "not ours": tmp_path / "notes.tmp",
            "project": tmp_path / "song.sdproj",
        }
        for path in files.values():
            path.write_bytes(b"x")
        for key in ("old legacy", "old mkstemp", "not ours"):
            os.utime(files[key], (time.time() - 2 * LEGACY_TEMP_AGE_S,) * 2)
        time.sleep(1.1)  # the live writer started before its file was written
        removed = remove_leftover_temps(tmp_path)
        assert sorted(p.name for p in removed) == sorted(files[k].name for k in ("dead", "old legacy", "old mkstemp"))
        assert all(files[k].exists() for k in ("alive", "mine", "new legacy", "not ours", "project"))
    finally:
        alive.kill()
        alive.wait()


def test_a_killed_autosave_leaves_nothing_behind_and_its_lone_project_is_offered(tmp_path):
    from app.autosave import find_recoverable, remove_leftovers
    from app.model.project_files import save_project_file

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lone = tmp_path / f"autosave-{dead.pid}-0123456789abcdef.sdproj"  # killed before its description
    project, masks = corpus.make_project()
    save_project_file(project, masks, lone)
    half = tmp_path / f".autosave-{dead.pid}-0123456789abcdef.sdproj.{dead.pid}-0123456789ab.tmp"  # the next one
    half.write_bytes(b"PK half an autosave")
    assert remove_leftovers(tmp_path) == [half] and lone.exists()
    (info,) = find_recoverable(tmp_path)
    assert info.path == lone and info.pid == dead.pid and info.project_path is None
    assert {c.id for c in load_project_file(info.path).project.clips()} == {c.id for c in project.clips()}
