"""train_pictures: fine-tune a picture model on a folder of (audio, picture) pairs (seed 002's training).

    specdiff-cli train-pictures PAIRS_DIR -o OUT [--base builtin:pictures] [--steps 500] [--seed 0]

``PAIRS_DIR`` holds each sound beside a picture of the same name (``rain.wav`` + ``rain.png``).
The base model's audio encoder stays frozen; its projection and 64x64 DDPM learn the pairs
(condition dropped for 20% of examples, EMA weights). ``OUT`` becomes a picture model folder for
``specdiff-cli illustrate --model OUT``. A folder of videos is not read (cut frames and audio
into pairs first).
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.specs import Progress, TaskResult, TrainingJob, check_int, check_range
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class TrainPicturesJob(TrainingJob):
    """Train a picture model on the pairs in ``pairs_dir``, starting from ``base``."""

    kind: ClassVar[str] = "train_pictures"
    pairs_dir: str
    base: str = "builtin:pictures"
    learning_rate: float = 5e-4
    batch_size: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.pairs_dir, str) or not self.pairs_dir.strip():
            raise ValueError("`pairs_dir` must name a folder of (audio, picture) pairs.")
        check_range("learning_rate", self.learning_rate, 1e-7, 1e-1)
        check_int("batch_size", self.batch_size, 1, 256)

    def describe(self) -> str:
        return "Train picture model"


def run(spec: TrainPicturesJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pictures.training import run as train

    return (yield from train(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pairs_dir", help="folder of sounds each with a picture of the same name (a.wav + a.png)")
    parser.add_argument("-o", "--output", required=True, help="folder for the trained picture model")
    parser.add_argument("--base", default="builtin:pictures", help="picture model to start from (default: the starter)")
    parser.add_argument("--steps", type=int, default=500, help="training steps (default 500)")
    parser.add_argument("--batch", type=int, default=8, help="pairs per step (default 8)")
    parser.add_argument("--lr", type=float, default=5e-4, help="learning rate (default 5e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=0, help="save a checkpoint every N steps")
    parser.add_argument("--resume", action="store_true", help="go on from the newest checkpoint in OUT")


def spec_from_args(args: argparse.Namespace, cli: Any) -> TrainPicturesJob:
    return cli.spec(TrainPicturesJob, pairs_dir=args.pairs_dir, output_dir=args.output, base=args.base,
                    num_steps=args.steps, batch_size=args.batch, learning_rate=args.lr, seed=args.seed,
                    checkpoint_every=args.checkpoint_every, resume=args.resume)


def write_results(results: Any, args: argparse.Namespace, cli: Any) -> None:
    for result in results:
        losses = result.recipe.facts.get("loss_first_last")
        print(f"{args.output}  picture model trained on {result.recipe.facts.get('pairs')} pairs"
              + (f"  loss {losses[0]:.4f} -> {losses[1]:.4f}" if losses else ""))


TASK = Task(
    name="train_pictures",
    spec=TrainPicturesJob,
    run=run,
    title="Train picture model",
    summary="train a picture model on a folder of (audio, picture) pairs",
    needs=Needs(model=None),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
    write_results=write_results,
)
