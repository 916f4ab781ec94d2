"""train_pictures: fine-tune a picture model on a folder of (audio, picture) pairs or videos (seed 002's training).

    specdiff-cli train-pictures FOLDER -o OUT [--base builtin:pictures] [--steps 500] [--seed 0] [--every 1.0]
                                [--checkpoint-every N] [--resume | --overwrite]

With ``--base`` naming an SD 1.5-family model (a hub id in the cache or a folder) instead of a
picture model, it trains an AudioToken-style audio adapter for it (:mod:`engine.pictures.adapter`:
SD and the audio encoder of ``--audio-encoder`` (a picture model's, or CLAP's audio tower) frozen, an embedder turns the clip into
``--tokens`` pseudo-words in place of ``<audio>`` in ``--template``; pictures at ``--size`` px):

    specdiff-cli train-pictures FOLDER -o OUT --base runwayml/stable-diffusion-v1-5 [--size 512] [--batch 1]

``FOLDER`` holds sounds each beside a picture of the same name (``rain.wav`` + ``rain.png``),
videos (mp4, mkv, webm, mov, avi: a frame every ``--every`` seconds with the 2.56 s of audio
around it, :mod:`engine.pictures.video`), or both. The base model's audio encoder stays frozen;
its projection and 64x64 DDPM learn the pairs (condition dropped for 20% of examples, EMA
weights). ``OUT`` becomes a picture model folder for ``specdiff-cli illustrate --model OUT``.
Files that give no pair (a video without sound, a damaged file, silent windows) are skipped and listed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.pictures.illustrate import ADAPTER_PLACEHOLDER, ADAPTER_TEMPLATE
from engine.specs import Progress, TaskResult, TrainingJob, check_int, check_range
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class TrainPicturesJob(TrainingJob):
    """Train a picture model on the pairs and videos in ``pairs_dir``, starting from ``base``;
    videos give a frame every ``frame_every_s`` seconds."""

    kind: ClassVar[str] = "train_pictures"
    pairs_dir: str
    base: str = "builtin:pictures"
    learning_rate: float = 5e-4
    batch_size: int = 8
    frame_every_s: float = 1.0
    # An SD base model (an audio adapter; engine.pictures.adapter): picture size, pseudo-words, prompt, encoder.
    size: int = 512
    tokens: int = 1
    template: str = ADAPTER_TEMPLATE
    audio_encoder: str = "builtin:pictures"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.pairs_dir, str) or not self.pairs_dir.strip():
            raise ValueError("`pairs_dir` must name a folder of (audio, picture) pairs or videos.")
        check_range("learning_rate", self.learning_rate, 1e-7, 1e-1)
        check_int("batch_size", self.batch_size, 1, 256)
        check_range("frame_every_s", self.frame_every_s, 0.04, 3600.0)
        check_int("size", self.size, 64, 1024)
        if self.size % 8:
            raise ValueError(f"`size` must be a multiple of 8, got {self.size}.")
        check_int("tokens", self.tokens, 1, 8)
        if not isinstance(self.template, str) or ADAPTER_PLACEHOLDER not in self.template:
            raise ValueError(f"`template` must hold {ADAPTER_PLACEHOLDER} where the sound goes, got {self.template!r}.")
        if not isinstance(self.audio_encoder, str) or not self.audio_encoder.strip():
            raise ValueError("`audio_encoder` must name a picture model (builtin:pictures or a folder).")

    def describe(self) -> str:
        return "Train picture model"


def run(spec: TrainPicturesJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pictures.training import run as train

    return (yield from train(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pairs_dir", metavar="FOLDER",
                        help="folder of sounds each with a picture of the same name (a.wav + a.png), and/or of videos "
                             "(mp4, mkv, webm, mov, avi) cut into frames with the audio around each")
    parser.add_argument("-o", "--output", required=True, help="folder for the trained picture model")
    parser.add_argument("--base", default="builtin:pictures",
                        help="picture model to start from (default: the starter), or an SD 1.5-family model (hub id "
                             "in the cache, or folder): then an audio adapter for it is trained (SD stays frozen)")
    parser.add_argument("--steps", type=int, default=500, help="training steps (default 500)")
    parser.add_argument("--batch", type=int, default=8, help="pairs per step (default 8)")
    parser.add_argument("--lr", type=float, default=5e-4, help="learning rate (default 5e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=0, help="save a checkpoint every N steps")
    parser.add_argument("--every", type=float, default=1.0, metavar="SECONDS",
                        help="videos: take a frame (and the 2.56 s of audio around it) every SECONDS (default 1.0)")
    parser.add_argument("--size", type=int, default=512, help="adapter: picture size in pixels (default 512)")
    parser.add_argument("--tokens", type=int, default=1, help="adapter: pseudo-words per sound (default 1)")
    parser.add_argument("--template", default=ADAPTER_TEMPLATE,
                        help=f"adapter: the prompt trained on, {ADAPTER_PLACEHOLDER} where the sound goes "
                             f"(default '{ADAPTER_TEMPLATE}')")
    parser.add_argument("--audio-encoder", default="builtin:pictures",
                        help="adapter: what hears the sounds (frozen): a picture model's audio encoder (default "
                             "builtin:pictures), or a CLAP model (laion/clap-htsat-unfused from the cache, or a folder)")
    parser.add_argument("--resume", action="store_true", help="go on from the newest checkpoint in OUT")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run in OUT even though it holds an earlier run's checkpoints (deletes them)")


def spec_from_args(args: argparse.Namespace, cli: Any) -> TrainPicturesJob:
    from engine.cli.common import EXIT_USAGE, CliError

    spec = cli.spec(TrainPicturesJob, pairs_dir=args.pairs_dir, output_dir=args.output, base=args.base,
                    num_steps=args.steps, batch_size=args.batch, learning_rate=args.lr, seed=args.seed,
                    checkpoint_every=args.checkpoint_every, resume=args.resume, frame_every_s=args.every,
                    size=args.size, tokens=args.tokens, template=args.template, audio_encoder=args.audio_encoder)
    found = None if args.resume or args.overwrite else spec.latest_checkpoint()
    if found:  # a new run deletes them: a user who forgot --resume after Ctrl-C would lose the run (as train-lora)
        raise CliError(f"'{args.output}' holds checkpoints of an earlier run (the newest after step {found[0]}): pass "
                       "--resume to go on from it, or --overwrite to start over (which deletes them).", EXIT_USAGE)
    return spec


def write_results(results: Any, args: argparse.Namespace, cli: Any) -> None:
    for result in results:
        facts = result.recipe.facts
        losses = facts.get("loss_first_last")
        videos = facts.get("videos") or []
        what = f"audio adapter for {facts.get('base')}" if facts.get("adapter") else "picture model"
        print(f"{args.output}  {what} trained on {facts.get('pairs')} pairs"
              + (f" ({facts.get('pairs_from_videos')} cut from {len(videos)} videos)" if videos else "")
              + (f"  loss {losses[0]:.4f} -> {losses[1]:.4f}" if losses else "")
              + (f"  (fixed draws {fixed[0]:.4f} -> {fixed[1]:.4f})" if (fixed := facts.get("loss_fixed_draws")) else ""))
        for name, why in facts.get("skipped") or []:  # on stderr: stdout stays the one result line
            print(f"skipped {name}: {why}", file=sys.stderr)


TASK = Task(
    name="train_pictures",
    spec=TrainPicturesJob,
    run=run,
    title="Train picture model",
    summary="train a picture model on a folder of (audio, picture) pairs or of videos",
    needs=Needs(model=None),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
    write_results=write_results,
)
