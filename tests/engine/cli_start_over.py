"""The command-line side of starting a training run over an earlier run's checkpoints, shared by
the picture-model and vocoder tests: refused without a flag (nothing touched), ``--overwrite``
deletes the old step folders, ``--resume`` goes on with the new run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from test_cli import run_cli


def check_start_over_refusal(capsys, common: Sequence, out: Path, weights: Callable[[Path], dict]) -> None:
    """``common``: the command's arguments but steps, seed and learning rate (checkpoints every step)."""
    status, _, err = run_cli(capsys, *common, "--steps", "4", "--seed", "1", "--lr", "3e-3")
    assert status == 0, err
    old_model = weights(out)
    new = [*common, "--steps", "2", "--seed", "2", "--lr", "1e-3"]

    status, _, err = run_cli(capsys, *new)  # Ctrl-C, then the command again without --resume
    assert status == 2 and err.strip().splitlines() == [
        f"specdiff-cli: error: '{out}' holds checkpoints of an earlier run (the newest after step 3): pass --resume "
        "to go on from it, or --overwrite to start over (which deletes them)."]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000001", "step-00000002", "step-00000003"]
    assert all(torch.equal(weights(out)[k], v) for k, v in old_model.items())  # nothing touched

    status, _, err = run_cli(capsys, *new, "--overwrite")
    assert status == 0, err
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000001"]
    fresh = weights(out)
    status, _, err = run_cli(capsys, *new, "--resume")  # goes on from the new run's step 1, not the old step 3
    assert status == 0, err
    assert all(torch.equal(weights(out)[k], v) for k, v in fresh.items())
    assert not all(torch.equal(fresh[k], v) for k, v in old_model.items())
