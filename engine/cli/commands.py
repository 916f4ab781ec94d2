"""The ``specdiff-cli`` parser and entry point: a subcommand per task (from the task registry),
plus models, to-image, to-audio and regenerate."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import Any

from engine.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    PROG,
    CliError,
    CliRun,
    Parser,
    make_engine,
    run_job,
    write_audio_results,
)
from engine.cli.regenerate import add_regenerate_command
from engine.cli.tools import add_tool_commands

log = logging.getLogger(__name__)

#: Commands that are not tasks; a task plugin with one of these names gets no CLI command.
TOOL_COMMANDS = ("models", "to-image", "to-audio", "regenerate")


def run_task(task: Any, args: argparse.Namespace) -> int:
    """Run a task's CLI command: its spec from the arguments, the job, its results written."""
    cli = CliRun(args)
    spec = task.spec_from_args(args, cli)
    try:
        with make_engine(args, store=cli.store) as engine:  # leaving it cancels the job
            results = run_job(engine, spec, args.quiet)
    except KeyboardInterrupt:
        raise CliError(interrupted_message(spec), EXIT_INTERRUPTED) from None
    (task.write_results or write_audio_results)(results, args, cli)
    return 0


def interrupted_message(spec: Any) -> str:
    """What Ctrl-C left: for a training run, whether the same command with --resume goes on from a
    checkpoint (and from which step), or there is none yet."""
    latest = getattr(spec, "latest_checkpoint", None)
    if latest is None:
        return "interrupted"
    found = latest()
    if found:
        step, folder = found
        return (f"interrupted; the checkpoint after step {step} of {spec.num_steps} is in '{folder.parent.parent}': "
                "the same command with --resume goes on from it")
    every = f" (one every {spec.checkpoint_every} steps)" if spec.checkpoint_every else " (this run saves none)"
    return f"interrupted before the first checkpoint{every}: nothing to resume, the run starts over"


def build_parser() -> argparse.ArgumentParser:
    from engine.tasks import registry

    common = Parser(add_help=False)
    common.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    common.add_argument("--offline", action="store_true", help="make no network calls")
    common.add_argument("--cache-dir", default=None, help="Hugging Face hub cache folder (default: the standard one)")
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress (skipped files, advice and warnings still go to stderr)")

    parser = Parser(prog=PROG, description="Specdiff Studio's engine on the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks) to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for task in registry():
        if not task.has_cli:
            continue
        if task.name in TOOL_COMMANDS:
            log.warning("task %r has the name of a specdiff-cli command; it gets no CLI command", task.name)
            continue
        # The train_pictures task is `specdiff-cli train-pictures` (hyphens, as the other commands
        # are spelled; `--help` and usage lines show that name), with the task's name as an alias.
        name = task.name.replace("_", "-")
        aliases = [task.name] if name != task.name else []
        command = sub.add_parser(name, aliases=aliases, parents=[common], help=task.summary)
        task.add_arguments(command)
        command.set_defaults(func=lambda args, task=task: run_task(task, args))
    add_tool_commands(sub, common, Parser)
    add_regenerate_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 on success). Errors print one line to stderr."""
    import sys

    # Library chatter (missing optional backends, LoRA key notes) would bury the one-line errors.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    from engine.models.errors import ModelError

    engine_log = logging.getLogger("engine")
    quiet_handler = logging.NullHandler()
    propagate = engine_log.propagate
    try:
        args = build_parser().parse_args(argv)
        if args.verbose:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        else:  # failures are reported as one line below; the worker's tracebacks stay out
            engine_log.addHandler(quiet_handler)
            engine_log.propagate = False
        return int(args.func(args) or 0)
    except CliError as error:
        status, message = error.status, str(error)
    except KeyboardInterrupt:
        status, message = EXIT_INTERRUPTED, "interrupted"
    except (ModelError, ValueError, OSError) as error:  # AudioFileError, ResourceLimitError: ValueErrors
        text = str(error).strip()
        status, message = EXIT_FAILED, text.splitlines()[0] if text else type(error).__name__
    except MemoryError as error:  # an allocation our estimates did not foresee: still one line
        from engine.worker import describe_error

        status, message = EXIT_FAILED, describe_error(error)
    finally:
        engine_log.removeHandler(quiet_handler)
        engine_log.propagate = propagate
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status
