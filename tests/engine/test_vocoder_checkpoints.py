"""A new vocoder run in a folder that holds an earlier run's checkpoints: the trainer deletes the old
run's ``step-N`` folders (and only those) and says so, so that a later ``--resume`` goes on from the
new run and never from the old run's higher step; ``specdiff-cli train-vocoder`` refuses to start
over there unless told to (``--overwrite``), as ``train-lora`` and ``train-pictures`` do, so Ctrl-C
and a forgotten ``--resume`` cannot cost a run."""

from __future__ import annotations

from pathlib import Path

import torch
from cli_start_over import check_start_over_refusal
from safetensors.torch import load_file

from engine.specs import collect_progress
from engine.tasks.train_vocoder import TrainVocoderJob, run
from engine.worker import JobContext

TINY = {"preset": "starter", "batch": 2, "segment_frames": 4, "pool_clips": 4, "channels": (8, 8, 8, 8),
        "sampling_steps": 2}
OLD = {"num_steps": 4, "seed": 1, "learning_rate": 3e-3}  # the earlier run: checkpoints after steps 1, 2 and 3
NEW = {"num_steps": 2, "seed": 2, "learning_rate": 1e-3}  # the new one: a checkpoint after step 1


def job(out: Path, settings: dict, **kwargs) -> TrainVocoderJob:
    return TrainVocoderJob(output_dir=str(out), checkpoint_every=1, **TINY, **settings, **kwargs)


def context() -> JobContext:
    return JobContext(job_id=1, store=None, pipelines=None, settings=None)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def trained_steps(reports) -> list[int]:
    return [r.step for r in reports if r.stage == "train"]


def test_a_new_run_replaces_an_earlier_runs_checkpoints_and_a_resume_goes_on_with_the_new_run(tmp_path):
    out = tmp_path / "vocoder"
    collect_progress(run(job(out, OLD), context()))
    assert job(out, OLD).latest_checkpoint()[0] == 3
    (out / "checkpoints" / "notes.txt").write_text("which run was good\n")  # the user's: not the run's to delete
    old_model = weights(out)

    # A new run in the same folder, stopped (Ctrl-C, a crash) after its checkpoint at step 1.
    new, reports = job(out, NEW), []
    stopped = run(new, context())
    for report in stopped:
        reports.append(report)
        if report.stage == "train" and report.step == 2:  # the step-1 checkpoint is written before step 2
            break
    stopped.close()
    said = [r.message for r in reports if r.message.startswith("Deleted")]
    assert said == [f"Deleted the 3 checkpoints an earlier run left in '{out / 'checkpoints'}' (the newest after step 3): "
                    "this new run starts from step 0"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["notes.txt", "step-00000001"]
    assert (out / "checkpoints" / "notes.txt").read_text() == "which run was good\n"
    assert new.latest_checkpoint()[0] == 1  # what --resume goes on from: step 1 of this run, not step 3 of the old

    # Resumed, it trains the new run's step 2 and ends where the new run uninterrupted ends.
    _results, resumed = collect_progress(run(job(out, NEW, resume=True), context()))
    assert trained_steps(resumed) == [2]
    assert not any(r.message.startswith("Deleted") for r in resumed)  # a resume deletes nothing
    whole = tmp_path / "whole"
    collect_progress(run(job(whole, NEW), context()))
    finished, expected = weights(out), weights(whole)
    assert finished.keys() == expected.keys() == old_model.keys()
    assert all(torch.equal(finished[k], expected[k]) for k in expected)
    assert not all(torch.equal(finished[k], old_model[k]) for k in expected)


def test_a_run_with_no_checkpoints_before_it_says_nothing_and_keeps_other_files(tmp_path):
    out = tmp_path / "vocoder"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "step-00000009.txt").write_text("not a checkpoint folder\n")
    _results, reports = collect_progress(run(job(out, NEW), context()))
    assert not any(r.message.startswith("Deleted") for r in reports) and trained_steps(reports) == [1, 2]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000001", "step-00000009.txt"]


def test_train_vocoder_refuses_to_start_over_on_an_earlier_runs_checkpoints_unless_told(capsys, tmp_path):
    out = tmp_path / "vocoder"
    common = ["train-vocoder", "-o", out, "--preset", "starter", "--batch", "2", "--segment-frames", "4",
              "--pool-clips", "4", "--channels", "8,8,8,8", "--sampling-steps", "2", "--checkpoint-every", "1", "-q"]
    check_start_over_refusal(capsys, common, out, weights)
