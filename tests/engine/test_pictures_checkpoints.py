"""A new picture-model run in a folder that holds an earlier run's checkpoints: the engine deletes
the old run's ``step-N`` folders (and only those) and says so, so that a later resume, or the app's
"stopped after step N" offer, goes on from the new run and never from the old run's higher step;
``specdiff-cli train-pictures`` refuses to start over there unless told to (``--overwrite``), as
``train-lora`` does, so Ctrl-C and a forgotten ``--resume`` cannot cost a run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_start_over import check_start_over_refusal
from PIL import Image
from safetensors.torch import load_file
from test_pictures import clicks, sine, tiny_model_dir, write_wav  # noqa: F401 (tiny_model_dir: a fixture)

from engine.pictures.drawing import SoundAttributes, draw
from engine.pictures.training import PictureTrainingProgress
from engine.specs import JobCancelledError, collect_progress
from engine.tasks.train_pictures import TrainPicturesJob, run
from engine.worker import JobContext

OLD = {"num_steps": 4, "seed": 1, "learning_rate": 3e-3}  # the earlier run: checkpoints after steps 1, 2 and 3
NEW = {"num_steps": 2, "seed": 2, "learning_rate": 1e-3}  # the new one: a checkpoint after step 1


@pytest.fixture
def pairs(tmp_path) -> Path:
    folder = tmp_path / "pairs"
    folder.mkdir()
    for name, audio, group in (("low", sine(110.0), "winds"), ("beat", clicks(6.0), "drums")):
        write_wav(folder / f"{name}.wav", audio)
        Image.fromarray(draw(SoundAttributes(group, 110.0 if group == "winds" else None, 1, -20.0))).save(folder / f"{name}.png")
    return folder


def job(pairs: Path, out: Path, base: Path, settings: dict, **kwargs) -> TrainPicturesJob:
    return TrainPicturesJob(pairs_dir=str(pairs), output_dir=str(out), base=str(base), batch_size=2, checkpoint_every=1,
                            **settings, **kwargs)


def context() -> JobContext:
    return JobContext(job_id=1, store=None, pipelines=None, settings=None)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def trained_steps(reports) -> list[int]:
    return [r.step for r in reports if isinstance(r, PictureTrainingProgress) and r.stage == "train"]


def test_a_new_run_replaces_an_earlier_runs_checkpoints_and_a_resume_goes_on_with_the_new_run(
        tmp_path, pairs, tiny_model_dir):
    out = tmp_path / "model"
    collect_progress(run(job(pairs, out, tiny_model_dir, OLD), context()))
    assert job(pairs, out, tiny_model_dir, OLD).latest_checkpoint()[0] == 3
    (out / "checkpoints" / "notes.txt").write_text("which run was good\n")  # the user's: not the run's to delete
    old_model = weights(out)

    # A new run in the same folder, stopped (the app closed) after its checkpoint at step 1.
    ctx, reports = context(), []
    new = job(pairs, out, tiny_model_dir, NEW)
    with pytest.raises(JobCancelledError):
        for report in run(new, ctx):
            reports.append(report)
            if report.stage == "sample" and report.step == 1:
                ctx.cancel_event.set()
    said = [r.message for r in reports if r.message.startswith("Deleted")]
    assert said == [f"Deleted the 3 checkpoints an earlier run left in '{out / 'checkpoints'}' (the newest after step 3): "
                    "this new run starts from step 0"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["notes.txt", "step-00000001"]
    assert (out / "checkpoints" / "notes.txt").read_text() == "which run was good\n"
    assert new.latest_checkpoint()[0] == 1  # what the app offers: stopped after step 1 of 2, not step 3 of 4

    # Resumed, it trains the new run's step 2 and ends where the new run uninterrupted ends.
    (result,), resumed = collect_progress(run(job(pairs, out, tiny_model_dir, NEW, resume=True), context()))
    assert trained_steps(resumed) == [2]
    assert not any(r.message.startswith("Deleted") for r in resumed)  # a resume deletes nothing
    whole = tmp_path / "whole"
    collect_progress(run(job(pairs, whole, tiny_model_dir, NEW), context()))
    finished, expected = weights(out), weights(whole)
    assert finished.keys() == expected.keys() == old_model.keys()
    assert all(torch.equal(finished[k], expected[k]) for k in expected)
    assert not all(torch.equal(finished[k], old_model[k]) for k in expected)
    assert result.recipe.facts["pairs"] == 2


def test_a_run_with_no_checkpoints_before_it_says_nothing_and_a_resume_in_a_fresh_folder_starts_over(
        tmp_path, pairs, tiny_model_dir):
    out = tmp_path / "model"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "step-00000009.txt").write_text("not a checkpoint folder\n")
    _results, reports = collect_progress(run(job(pairs, out, tiny_model_dir, NEW), context()))
    assert not any(r.message.startswith("Deleted") for r in reports) and trained_steps(reports) == [1, 2]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000001", "step-00000009.txt"]


def test_train_pictures_refuses_to_start_over_on_an_earlier_runs_checkpoints_unless_told(
        capsys, tmp_path, pairs, tiny_model_dir):
    out = tmp_path / "model"
    common = ["train-pictures", pairs, "-o", out, "--base", tiny_model_dir, "--batch", "2", "--checkpoint-every", "1"]
    check_start_over_refusal(capsys, common, out, weights)
