"""Masks in seconds x Hz (Qt-free): rasterising to the engine's layout, strokes, erasing, inverting,
undo per stroke, JSON, and project files holding masks (atomic, durable, damaged files refused)."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import numpy as np
import pytest

from app.model.commands import AddClip, MoveClip
from app.model.mask import EMPTY_MASK, FreqBand, Mask, MaskGrid, MaskStore, Rect, Stroke, TimeBand, hz_to_mel
from app.model.mask_commands import SetMaskFeather, add_shape, clear_mask, invert_mask
from app.model.persistence import ProjectFileError
from app.model.project import Clip, Project
from app.model.project_files import (
    MASKS_ENTRY,
    ProjectFileSnapshot,
    load_project_file,
    save_project_file,
)
from engine.audio.spectrogram import get_preset
from engine.pipelines.masks import mask_from_boxes

RATE = 44100
PARAMS = replace(get_preset("riffusion"), num_frequencies=64)


def make_project(seconds: float = 2.0, start_s: float = 1.0) -> tuple[Project, Clip]:
    rng = np.random.default_rng(3)
    audio = rng.uniform(-0.5, 0.5, (2, int(seconds * RATE))).astype(np.float32)
    project = Project.with_track()
    clip = Clip(name="drums", audio=audio, sample_rate_hz=RATE, start_s=start_s)
    AddClip(project, project.tracks[0].id, clip).redo()
    return project, clip


def test_rectangles_and_bands_match_the_engines_own_boxes():
    samples = 2 * RATE
    grid = MaskGrid.for_job(samples, PARAMS)
    assert (grid.rows, grid.columns) == (64, samples // PARAMS.hop_length)
    for shape, box in (
        (Rect(0.5, 1.25, 400.0, 3000.0), (0.5, 1.25, 400.0, 3000.0)),
        (TimeBand(0.3, 0.9), (0.3, 0.9, None, None)),
        (FreqBand(1000.0, 2500.0), (0.0, 2.0, 1000.0, 2500.0)),
    ):
        ours = Mask((shape,)).job_mask(samples, PARAMS)
        engine = mask_from_boxes(PARAMS, grid.columns, [box])
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours >= 0.5, engine)
        assert Mask((shape,)).boxes(2.0) == (box,)
    # Row 0 is the lowest frequency: a low band marks the bottom rows only.
    low = Mask((FreqBand(0.0, 300.0),)).job_mask(samples, PARAMS)
    assert low[0].all() and not low[-1].any()


def test_strokes_paint_an_ellipse_with_a_soft_edge_and_erase():
    grid = MaskGrid(200, 0.01, np.linspace(100, 8000, 80))
    centre_t, centre_hz = 1.0, 1000.0
    hard = Mask((Stroke(((centre_t, centre_hz),), radius_s=0.1, radius_mel=100.0, hardness=1.0),)).rasterise(grid)
    col = int(centre_t / 0.01)
    row = int(np.argmin(abs(grid.row_hz - centre_hz)))
    assert hard[row, col] == 1.0 and hard[row, col + 20] == 0.0 and hard[row, col + 8] == 1.0
    covered_mel = hz_to_mel(grid.row_hz[hard[:, col] > 0])
    assert covered_mel.max() - covered_mel.min() <= 200.0 + 1e-6  # 100 mel either side
    soft = Mask((Stroke(((centre_t, centre_hz),), 0.1, 100.0, hardness=0.0),)).rasterise(grid)
    assert soft[row, col] == pytest.approx(1.0, abs=0.06) and 0 < soft[row, col + 7] < 0.5
    # A line through three points covers the segments between them; the eraser takes it away.
    line = Stroke(((0.2, 1000.0), (1.0, 1000.0), (1.5, 2000.0)), 0.02, 30.0)
    painted = Mask((line,))
    values = painted.rasterise(grid)
    assert values[row, 20:100].min() == 1.0
    erased = painted.with_shape(Stroke(((0.5, 1000.0), (0.7, 1000.0)), 0.05, 200.0, erase=True)).rasterise(grid)
    assert erased[row, 45:65].max() == 0.0 and erased[row, 25:35].min() == 1.0
    # Painting a stroke segment by segment is exactly the whole stroke.
    from app.model.mask import apply_shape

    step = np.zeros_like(values)
    for n in range(1, len(line.points) + 1):
        apply_shape(step, grid, replace(line, points=line.points[:n]), first_segment=max(0, n - 2))
    np.testing.assert_array_equal(step, values)


def test_invert_clear_shift_and_json_round_trip():
    grid = MaskGrid(100, 0.01, np.linspace(100, 8000, 40))
    mask = Mask((TimeBand(0.2, 0.4), Rect(0.6, 0.8, 500.0, 2000.0), Stroke(((0.5, 300.0), (0.55, 900.0)), 0.03, 50.0, 0.5)),
                feather_px=7)
    values = mask.rasterise(grid)
    np.testing.assert_array_equal(mask.inverted().rasterise(grid), 1.0 - values)
    assert mask.inverted().boxes(1.0) is None and mask.boxes(1.0) is None  # a stroke: rasterised instead
    assert mask.cleared().is_empty and mask.cleared().feather_px == 7
    shifted = mask.shifted(0.3).rasterise(grid)
    np.testing.assert_array_equal(shifted[:, 30:], values[:, :70])
    again = Mask.from_dict(mask.to_dict())
    assert again == mask
    with pytest.raises(ValueError, match="newer version"):
        Mask.from_dict({**mask.to_dict(), "version": 99})
    with pytest.raises(ValueError, match="no known kind"):
        Mask.from_dict({"shapes": [{"kind": "lasso"}]})
    with pytest.raises(ValueError, match="`end_s`"):
        TimeBand(0.5, 0.5)
    with pytest.raises(ValueError, match="hardness"):
        Stroke(((0.0, 100.0),), 0.1, 10.0, hardness=2.0)


def test_each_mask_edit_is_one_exact_undo_step():
    project, clip = make_project()
    # Commands capture the mask they replace when built: build each after the previous ran.
    masks = MaskStore()
    changed = []
    masks.events.mask_changed.connect(lambda cid, m: changed.append(cid))
    done = []
    states = [masks.get(clip.id)]
    makers = [
        lambda: add_shape(project, masks, clip.id, Stroke(((0.1, 500.0), (0.3, 600.0), (0.5, 700.0)), 0.05, 40.0)),
        lambda: add_shape(project, masks, clip.id, TimeBand(1.0, 1.5)),
        lambda: invert_mask(project, masks, clip.id),
        lambda: SetMaskFeather(project, masks, clip.id, 9),
        lambda: clear_mask(project, masks, clip.id),
    ]
    for make in makers:
        cmd = make()
        cmd.redo()
        done.append(cmd)
        states.append(masks.get(clip.id))
    assert len(states[1].shapes) == 1 and len(states[2].shapes) == 2 and states[4].feather_px == 9
    assert states[5].is_empty and changed == [clip.id] * 5
    for i in range(len(done) - 1, -1, -1):
        done[i].undo()
        assert masks.get(clip.id) is states[i]
    assert masks.get(clip.id) == EMPTY_MASK and len(masks) == 0
    with pytest.raises(KeyError, match="no clip"):
        add_shape(project, masks, "nope", TimeBand(0.0, 1.0))
    # Feather changes of one clip merge into one step.
    first = SetMaskFeather(project, masks, clip.id, 3)
    first.redo()
    second = SetMaskFeather(project, masks, clip.id, 5)
    second.redo()
    assert first.merge_with(second)
    first.undo()
    assert masks.get(clip.id).feather_px == EMPTY_MASK.feather_px


def test_masks_stay_on_the_sound_when_the_clip_moves():
    project, clip = make_project(start_s=1.0)
    masks = MaskStore()
    add_shape(project, masks, clip.id, Rect(0.5, 1.0, 200.0, 800.0)).redo()
    before = masks.get(clip.id).job_mask(clip.audio.shape[1], PARAMS)
    MoveClip(project, clip.id, 7.5).redo()
    np.testing.assert_array_equal(masks.get(clip.id).job_mask(clip.audio.shape[1], PARAMS), before)


def test_project_with_masks_saves_and_loads_identically(tmp_path):
    project, clip = make_project()
    masks = MaskStore()
    mask = Mask((Stroke(((0.1, 500.0), (0.4, 900.0)), 0.05, 40.0, 0.7), FreqBand(2000.0, 3000.0, erase=True)), feather_px=6)
    masks.set_mask(clip.id, mask)
    path = tmp_path / "song.sdproj"
    save_project_file(project, masks, path)
    loaded = load_project_file(path)
    loaded_masks = loaded.masks
    (again,) = loaded.project.clips()
    assert again.id == clip.id and again.start_s == clip.start_s
    np.testing.assert_array_equal(again.audio, clip.audio)
    assert loaded_masks == {clip.id: mask}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_a_failed_save_leaves_the_previous_file_and_damaged_files_are_refused(tmp_path, monkeypatch):
    project, clip = make_project()
    masks = MaskStore()
    masks.set_mask(clip.id, Mask((TimeBand(0.1, 0.2),)))
    path = tmp_path / "song.sdproj"
    save_project_file(project, masks, path)
    good = path.read_bytes()

    # The process dies half-way through writing the next save (after some bytes hit the disk).
    from app.model import persistence

    def dies_half_way(self, target, extra=None):
        with open(target, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(persistence.ProjectSnapshot, "write_zip", dies_half_way)
    project.tracks[0].clips[0].name = "changed"
    with pytest.raises(KeyboardInterrupt):
        ProjectFileSnapshot.capture(project, masks).write(path)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert not [p for p in tmp_path.iterdir() if p.name != "song.sdproj"]
    loaded = load_project_file(path)
    assert loaded.project.clips()[0].name == "drums" and loaded.masks[clip.id] == masks.get(clip.id)

    truncated = tmp_path / "truncated.sdproj"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ProjectFileError, match="truncated.sdproj"):
        load_project_file(truncated)
    damaged = tmp_path / "damaged.sdproj"
    damaged.write_bytes(good)
    with zipfile.ZipFile(damaged, "a") as zf:
        zf.writestr(MASKS_ENTRY + "x", "{}")  # unrelated entries are ignored
    assert load_project_file(damaged).masks == {clip.id: masks.get(clip.id)}
    bad_masks = tmp_path / "bad-masks.sdproj"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad_masks, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, b'{"x": {"shapes": [{"kind": "lasso"}]}}' if item.filename == MASKS_ENTRY else data)
    with pytest.raises(ProjectFileError, match="mask of clip 'x' is damaged"):
        load_project_file(bad_masks)


SAVE_FOREVER = """
import sys
import numpy as np
from app.model.commands import AddClip
from app.model.mask import Mask, MaskStore, TimeBand
from app.model.project import Clip, Project
from app.model.project_files import save_project_file

project = Project.with_track()
audio = np.random.default_rng(0).uniform(-1, 1, (2, 44100 * 12)).astype(np.float32)
clip = Clip(name="v0", audio=audio, sample_rate_hz=44100)
AddClip(project, project.tracks[0].id, clip).redo()
masks = MaskStore()
masks.set_mask(clip.id, Mask((TimeBand(0.0, 1.0),)))
i = 0
while True:
    clip.name = f"v{i}"
    save_project_file(project, masks, sys.argv[1])
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("delay_s", [0.02, 0.15])
def test_a_process_killed_while_saving_leaves_a_loadable_file(tmp_path, delay_s):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    path = tmp_path / "song.sdproj"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(path)], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        done = [int(proc.stdout.readline()) for _ in range(2)]  # two complete saves...
        time.sleep(delay_s)  # ...then killed somewhere in a later one
    finally:
        proc.kill()
        proc.wait()
    loaded = load_project_file(path)
    project, masks = loaded.project, loaded.masks
    (clip,) = project.clips()
    assert int(clip.name[1:]) >= done[-1]
    assert clip.audio.shape == (2, 44100 * 12) and masks[clip.id] == Mask((TimeBand(0.0, 1.0),))
    # What the killed save left behind goes with the next save: its writer is gone. A temporary
    # file of a writer that still runs (another window) stays.
    leftovers = list(tmp_path.glob(".song.sdproj.*.tmp"))
    assert all(f".{proc.pid}-" in p.name for p in leftovers)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".song.sdproj.{other.pid}-0123456789ab.tmp"
        live.write_bytes(b"a save running right now")
        save_project_file(project, MaskStore(), path)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["song.sdproj", live.name])
    finally:
        other.kill()
        other.wait()