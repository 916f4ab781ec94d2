"""``specdiff-cli vocoders``: the vocoders this version knows, whether each is usable offline, its
download size and licence; ``specdiff-cli vocoders pull NAME`` downloads a neural vocoder's weights."""

from __future__ import annotations

import argparse


def cmd_vocoders(args: argparse.Namespace) -> int:
    from engine.cli.common import EXIT_USAGE, CliError, make_engine, run_job
    from engine.models.store import ModelStore
    from engine.vocoders import DEFAULT_VOCODER, MODEL_KIND, VOCODERS, find_vocoder, vocoder_status

    store = ModelStore(args.cache_dir, offline=args.offline)
    if getattr(args, "vocoders_command", None) == "pull":
        entry = find_vocoder(args.name)
        if entry is None:
            raise CliError(f"unknown vocoder {args.name!r}; known: {', '.join(e.name for e in VOCODERS)}.", EXIT_USAGE)
        if entry.source is None or entry.source.startswith("builtin:"):
            print(f"{entry.name} needs no download.")
            return 0
        from engine.api import task

        spec = task("download_model").spec(entry.source, model_kind=MODEL_KIND)
        with make_engine(args) as engine:
            resolved = run_job(engine, spec, args.quiet)
        print(f"{entry.name}: {resolved.model_id} {resolved.revision or ''} -> {resolved.path}")
        return 0
    for entry in VOCODERS:
        status = vocoder_status(entry, store)
        offline = "available offline" if status in ("built in", "downloaded") else "downloadable"
        size = f"{entry.approx_size_bytes / 1e6:.0f} MB" if entry.approx_size_bytes else "no weights"
        default = "  (default)" if entry.name == DEFAULT_VOCODER else ""
        source = f"  {entry.source}" if entry.source else ""
        rate = f"  {entry.sample_rate_hz} Hz" if entry.sample_rate_hz else ""
        print(f"{entry.name}  {entry.title}  {offline}  {size}  {entry.license}{rate}{source}{default}")
    print("A vocoder folder (config.json + safetensors) works too: --vocoder PATH.")
    return 0


def add_vocoders_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser, parser_class: type) -> None:
    """Add ``vocoders`` (list) and ``vocoders pull NAME`` to ``sub``."""
    vocoders = sub.add_parser("vocoders", parents=[common], help="list vocoders (offline or downloadable), or pull one")
    vocoders_sub = vocoders.add_subparsers(dest="vocoders_command", required=False, parser_class=parser_class)
    pull = vocoders_sub.add_parser("pull", parents=[common], help="download a neural vocoder's weights")
    pull.add_argument("name")
    vocoders.set_defaults(func=cmd_vocoders)
    pull.set_defaults(func=cmd_vocoders)
