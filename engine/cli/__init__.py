"""``specdiff-cli``: the engine without the GUI.

    specdiff-cli generate "warm analog synth pad" -o pad.wav --seed 42 --steps 30
    specdiff-cli inpaint IN.wav --start 1.0 --end 2.5 --prompt "train horn" -o OUT.wav
    specdiff-cli regenerate OUT.wav -o AGAIN.wav [--input IN.wav]
    specdiff-cli models list | pull riffusion/riffusion-model-v1 | rm riffusion/riffusion-model-v1
    specdiff-cli to-image song.wav -o song.png
    specdiff-cli to-audio song.png -o song.wav

Every task with a CLI part (:mod:`engine.tasks`) is a subcommand: generate, inpaint, extend,
loop, vary, interpolate and any plugin's. Jobs go through :class:`engine.api.Engine` (the same
worker, cancel points and errors as the app), with a progress bar on stderr. Results carry their
recipe (in the file's comment tag, or ``OUT.wav.recipe.json`` beside it when too long), which
``regenerate`` runs again. Bad input ends with a non-zero exit status and one line
``specdiff-cli: error: ...`` on stderr, never a traceback.

Modules: :mod:`engine.cli.common` (errors, progress, running a job, reading clips, writing
results and recipes: what task modules use), :mod:`engine.cli.commands` (the parser and
:func:`main`), :mod:`engine.cli.tools` (models, to-image, to-audio), :mod:`engine.cli.regenerate`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from engine.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    RECIPE_METADATA_KEY,
    CliError,
    ProgressBar,
    numbered_paths,
    read_recipe,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "PROG",
    "RECIPE_METADATA_KEY",
    "CliError",
    "ProgressBar",
    "build_parser",
    "main",
    "numbered_paths",
    "read_recipe",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``specdiff-cli`` argument parser (a subcommand per task and tool)."""
    from engine.cli.commands import build_parser as build

    return build()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``specdiff-cli`` with ``argv`` (default: the process's); returns the exit status."""
    from engine.cli.commands import main as run

    return run(argv)
