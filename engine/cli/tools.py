"""``specdiff-cli`` commands that are not tasks: models (list, pull, rm), vocoders, to-image and to-audio."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.common import (
    AUDIO_SUFFIXES,
    EXIT_USAGE,
    CliError,
    CliRun,
    add_output_arguments,
    add_overwrite_argument,
    add_vocoder_argument,
    check_input,
    check_output,
    make_engine,
    run_job,
)


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1e9:.2f} GB" if size_bytes >= 1e8 else f"{size_bytes / 1e6:.1f} MB"


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models.store import ModelStore

    store = ModelStore(args.cache_dir, offline=args.offline)
    if args.models_command == "list":
        from engine.models.catalog import builtin_model_dir, model_hints, shipped_model_ids

        for model_id in shipped_model_ids():
            folder = builtin_model_dir(model_id)
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            hints = model_hints(model_id)
            kind = next((kind for name, kind in (("model_index.json", "pipeline"), ("upsampler.json", "upsampler"),
                                                  ("config.json", "vocoder"), ("picture_model.json", "picture model"))
                         if (folder / name).is_file()), "other")
            title = f"  {hints.title}" if hints is not None else ""
            print(f"{model_id}  {_size(size)}  shipped {kind}{title}")
        models = store.list_cached()
        if not models:
            print(f"No downloaded models in {store.cache_dir}.")
        for model in models:
            kind = "pipeline" if model.is_pipeline else "other"
            refs = f" [{', '.join(model.refs)}]" if model.refs else ""
            print(f"{model.model_id}  {_size(model.size_bytes)}  {kind}  {len(model.revisions)} revision(s){refs}")
        return 0
    if args.models_command == "pull":
        from engine.api import task

        try:
            spec = task("download_model").spec(args.model_id, revision=args.revision)
        except ValueError as error:
            raise CliError(str(error), EXIT_USAGE) from None
        with make_engine(args) as engine:
            resolved = run_job(engine, spec, args.quiet)
        print(f"{resolved.model_id} {resolved.revision or ''} -> {resolved.path}")
        return 0
    if args.models_command == "rm":
        freed = store.delete(args.model_id, args.revision)
        print(f"Deleted {args.model_id}: {freed / 1e9:.2f} GB freed.")
        return 0
    raise CliError("choose a models command: list, pull or rm", EXIT_USAGE)


def cmd_to_image(args: argparse.Namespace) -> int:
    """The file is read block by block and the PNG written row by row (engine.audio.spectrogram_png):
    memory stays that of one chunk however long the file; too large an image is refused first."""
    from dataclasses import replace

    from engine.audio.io import read_audio_info
    from engine.audio.spectrogram import get_preset
    from engine.audio.spectrogram_png import audio_file_reader, check_png_export, write_spectrogram_png

    source = check_input(Path(args.input), "the audio file")
    output = check_output(Path(args.output), (".png",), "the output", overwrite=args.overwrite, inputs=[source])
    try:
        params = get_preset(args.preset)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    if args.stereo:
        params = replace(params, stereo=True)
    frames, sample_rate_hz, _ = read_audio_info(source)
    check_png_export(frames, sample_rate_hz, params, output)  # too big: refused before reading a sample
    with audio_file_reader(source, params) as (read, samples):
        width = write_spectrogram_png(read, samples, params, output)
    note = ""
    if sample_rate_hz != params.sample_rate:
        note = f" (resampled from {sample_rate_hz} Hz to the preset's {params.sample_rate} Hz)"
    print(f"{output}  {width}x{params.num_frequencies} px{note}")
    return 0


def cmd_to_audio(args: argparse.Namespace) -> int:
    from engine.audio.io import write_audio
    from engine.audio.limits import load_image
    from engine.audio.spectrogram import audio_from_image
    from engine.vocoders.factory import make_vocoder

    source = check_input(Path(args.input), "the image")
    cli = CliRun(args)
    output = cli.outputs(AUDIO_SUFFIXES)
    if not 1 <= args.iters <= 10_000:
        raise CliError(f"--iters must be between 1 and 10000, got {args.iters}.", EXIT_USAGE)
    image = load_image(source)  # size checked before decoding; one-line errors
    try:
        vocoder = make_vocoder(args.vocoder, n_iter=args.iters)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    audio, sample_rate_hz = audio_from_image(image, vocoder=vocoder)
    write_audio(output, audio, sample_rate_hz, subtype=cli.output_subtype(output))
    print(f"{output}  {audio.shape[-1] / sample_rate_hz:.2f} s at {sample_rate_hz} Hz")
    return 0


def add_tool_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser, parser_class: type) -> None:
    """Add the models, to-image and to-audio commands to ``sub``."""
    models = sub.add_parser("models", help="list, download or delete models")
    models_sub = models.add_subparsers(dest="models_command", required=True, parser_class=parser_class)
    listing = models_sub.add_parser("list", parents=[common], help="models in the cache")
    listing.set_defaults(func=cmd_models)
    pull = models_sub.add_parser("pull", parents=[common], help="download a model")
    pull.add_argument("model_id")
    pull.add_argument("--revision", default=None)
    pull.set_defaults(func=cmd_models)
    remove = models_sub.add_parser("rm", parents=[common], help="delete a cached model")
    remove.add_argument("model_id")
    remove.add_argument("--revision", default=None)
    remove.set_defaults(func=cmd_models)

    to_image = sub.add_parser("to-image", help="audio file -> spectrogram PNG")
    to_image.add_argument("input")
    to_image.add_argument("-o", "--output", required=True, help="output PNG")
    add_overwrite_argument(to_image)
    to_image.add_argument("--preset", default="riffusion")
    to_image.add_argument("--stereo", action="store_true", help="keep both channels (default: mix to mono)")
    to_image.set_defaults(func=cmd_to_image)

    from engine.vocoders.commands import add_vocoders_command

    add_vocoders_command(sub, common, parser_class)

    to_audio = sub.add_parser("to-audio", help="spectrogram PNG -> audio file (Griffin-Lim or --vocoder)")
    to_audio.add_argument("input")
    add_output_arguments(to_audio)
    to_audio.add_argument("--iters", type=int, default=32, help="Griffin-Lim iterations (default 32)")
    add_vocoder_argument(to_audio)
    to_audio.set_defaults(func=cmd_to_audio)
