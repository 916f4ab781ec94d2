"""``specdiff-cli regenerate IN.wav -o OUT.wav [--input SRC.wav]``: make a file's result again.

Reads the recipe the file carries (its comment tag, or ``IN.wav.recipe.json`` beside it; recipes
from before the task registry are migrated), rebuilds the job of whichever task made it
(:func:`engine.api.spec_from_recipe`) and runs it on the device and dtype the recipe records:
the same audio, bit for bit, on the same device. Tasks that edit a clip need that clip: the
recipe records its fingerprint and where it was read from; ``--input`` gives it (or another
copy), else the recorded path is used if the file there still matches. A missing or different
input is a one-line error saying what is needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli.common import (
    AUDIO_SUFFIXES,
    EXIT_USAGE,
    CliError,
    CliRun,
    add_output_arguments,
    check_input,
    make_engine,
    read_recipe,
    run_job,
    write_audio_results,
)

#: A recipe's dtype -> the engine's precision setting.
_PRECISION_OF_DTYPE = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def add_regenerate_command(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("regenerate", help="make a file again from the recipe it carries (any task)")
    parser.add_argument("file", help="a file written by specdiff-cli (or exported by the app) that carries a recipe")
    add_output_arguments(parser, "output WAV or FLAC (PNG for a picture)")
    parser.add_argument("--input", action="append", default=[], metavar="[NAME=]PATH",
                        help="the input audio the recipe was made from (default: the path the recipe records, "
                             "if the file there is still the same)")
    parser.add_argument("--model", default=None,
                        help="use this model instead of the recipe's (a moved folder; same weights, same audio)")
    parser.add_argument("--device", default=None, help="default: the device the recipe ran on")
    parser.add_argument("--offline", action="store_true", help="make no network calls")
    parser.add_argument("--cache-dir", default=None, help="Hugging Face hub cache folder (default: the standard one)")
    parser.add_argument("--image", default=None, help="also save the spectrogram image as PNG")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_regenerate)


def _given_inputs(values: list[str], names: tuple[str, ...], task: str) -> dict[str, Path]:
    """``--input`` values ("PATH" for a task's only input, or "NAME=PATH") by input name."""
    given: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or name not in names:
            if len(names) != 1:
                raise CliError(f"this {task} recipe has the inputs {', '.join(names) or 'none'}; give --input NAME=PATH.",
                               EXIT_USAGE)
            name, path = names[0], value
        given[name] = Path(path)
    return given


def _read_input(task: str, name: str, record: dict[str, Any], path: Path, given: bool) -> Any:
    """The input at ``path`` as the recipe recorded it (a file's bytes, or audio at the recorded
    rate); CliError unless its fingerprint is the recorded one."""
    from engine.recipes import InputMismatchError, describe_audio_record, read_recorded_input

    try:
        return read_recorded_input(record, path)
    except InputMismatchError:
        where = f"'{path}'" if given else f"the file at the recorded path '{path}'"
        raise CliError(
            f"{where} is not the {name} this {task} was made from (its fingerprint differs); it needs "
            f"{describe_audio_record({k: v for k, v in record.items() if k != 'path'})}: pass it with --input PATH."
        ) from None


def cmd_regenerate(args: argparse.Namespace) -> int:
    import soundfile

    from engine.api import AudioInput, task as task_named
    from engine.recipes import describe_audio_record

    source = check_input(Path(args.file), "the file")
    cli = CliRun(args)
    picture = source.suffix.lower() == ".png"  # a picture: a PNG again
    cli.outputs((".png",) if picture else AUDIO_SUFFIXES)
    recipe = read_recipe(source)
    task = task_named(recipe.task)
    if not task.makes_recipes:
        raise CliError(f"{task.title} jobs cannot be regenerated.")
    if not picture:
        cli.subtype = soundfile.info(str(source)).subtype  # the same samples give the same file
    names = task.spec.input_names()
    given = _given_inputs(args.input, names, task.name)
    inputs = {}
    for name in names:
        if name not in recipe.inputs and name not in given and len(names) > 1:
            continue  # an input this task takes only sometimes (vocode: a clip or an image)
        record = recipe.inputs.get(name, {})
        path = given.get(name) or (Path(record["path"]) if record.get("path") else None)
        if path is None or (name not in given and not path.is_file()):
            where = f"; the recorded '{path}' is gone" if path is not None else ""
            raise CliError(f"regenerating this {task.name} needs its input {name} "
                           f"({describe_audio_record({k: v for k, v in record.items() if k != 'path'})}){where}: "
                           "pass it with --input PATH.")
        if name in given:
            check_input(path, f"the input {name}")
        value = _read_input(task.name, name, record, path, name in given)  # bytes for a file input (a PNG)
        inputs[name] = value if isinstance(value, bytes) else AudioInput(*value)
        cli.input_paths[name] = path.resolve()
    spec = task.spec_from_recipe(recipe, inputs)
    if args.model is not None:
        from dataclasses import replace

        spec = replace(spec, model=args.model)
    args.device = args.device or recipe.device
    args.precision = _PRECISION_OF_DTYPE.get(recipe.dtype, "auto")
    with make_engine(args) as engine:
        results = run_job(engine, spec, args.quiet)
    (task.write_results or write_audio_results)(results, args, cli)
    return 0
