"""train_lora: fine-tune a LoRA of a model on a folder of sounds and/or clips (issue 13).

    specdiff-cli train-lora my_sounds/ -o zorblat.safetensors --trigger zorblat [--preset cpu-starter]

A long-running job (:class:`engine.specs.TrainingJob`): the worker serves generations between its
steps and can pause it with the model loaded. Its progress events are
:class:`engine.training.lora.LoraProgress` (stage "dataset", "load", "encode", "estimate",
"validate", "train" with the step's loss, "sample" with the validation samples beside the base
model's, "checkpoint", "save"). Checkpoints go to ``output_dir/checkpoints/step-NNNNNNNN/`` every
``checkpoint_every`` steps; ``resume`` continues from the newest complete one and ends bit for bit
where an uninterrupted run does. ``estimate_only`` reads the data, loads the model, times a step and
returns the :class:`engine.training.lora_config.Estimate` (time and peak memory) without training.

The spec takes a memory ``preset`` (:data:`engine.training.lora_config.PRESETS`; its step count is
the one the base model's card recommends for it, when it does: :func:`engine.training.lora_config.preset_steps`)
and ``settings`` that override it (:class:`LoraTrainConfig` fields as JSON, as ``LoraTrainConfig.to_json`` gives);
after checking, ``settings`` holds the run's complete settings and ``config`` is them as a
:class:`LoraTrainConfig`. ``num_steps``, ``checkpoint_every`` and ``seed`` default to the settings'.
The trainer is :func:`engine.training.lora.run_train_lora`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from engine.specs import DEFAULT_MODEL, Progress, TaskResult, TrainingJob, check_int, check_range
from engine.tasks import Needs, Task
from engine.training.lora_config import (
    FORMATS,
    PRESETS,
    LoraTrainConfig,
    LoraTrainingError,
    default_preset,
    preset_name,
    preset_steps,
)

#: The command's name on the command line (the task's name is ``train_lora``).
CLI_NAME = "train-lora"


@dataclass(frozen=True, eq=False, kw_only=True)
class TrainLoraJob(TrainingJob):
    """Train a LoRA of ``model`` on the sounds in ``data_dir`` and/or ``clips`` and write it to ``output``.

    ``clips`` are :class:`engine.training.lora_data.Clip` s (clips or selections of the open
    project); ``captions`` maps a file name (relative to ``data_dir``) or clip name to its caption
    over every other source; ``trigger`` and ``prefix`` go in front of every caption.
    ``spectrogram_preset`` / ``duration_s`` / ``height`` override the spectrogram the model's card
    names (a model without a card needs them). ``fmt``: "diffusers" (PEFT layout, plain diffusers'
    ``load_lora_weights``) or "kohya" (``lora_unet_*`` with the true alpha). ``output_dir`` is the
    run's folder (checkpoints); default ``OUTPUT_STEM.training/`` beside ``output``.
    """

    kind: ClassVar[str] = "train_lora"
    run_only: ClassVar[frozenset[str]] = TrainingJob.run_only | {"output", "clips", "estimate_only"}
    output: str
    model: str = DEFAULT_MODEL
    data_dir: str | None = None
    clips: tuple[Any, ...] = ()
    preset: str = "cpu-starter"
    settings: Mapping[str, Any] = field(default_factory=dict)
    trigger: str = ""
    prefix: str = ""
    captions: tuple[tuple[str, str], ...] = ()
    fmt: str = "diffusers"
    spectrogram_preset: str | None = None
    duration_s: float | None = None
    height: int | None = None
    estimate_only: bool = False
    output_dir: str = ""
    num_steps: int = 0
    checkpoint_every: int | None = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if not isinstance(self.output, str) or Path(self.output).suffix != ".safetensors":
            raise ValueError(f"The LoRA file must end in .safetensors, got '{Path(str(self.output)).name}'.")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("`model` must name a model folder, a cached repo id or builtin:starter.")
        if self.data_dir is None and not self.clips:
            raise ValueError("No sounds to train on: choose a folder of audio files or add clips.")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ValueError(f"`data_dir` must be a folder path, got {self.data_dir!r}.")
        if self.fmt not in FORMATS:
            raise ValueError(f"Unknown LoRA format {self.fmt!r}; choose one of {', '.join(FORMATS)}.")
        for name in ("trigger", "prefix"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"`{name}` must be text.")
        if not isinstance(self.settings, Mapping):
            raise ValueError("`settings` must map LoRA training settings to values.")
        preset = preset_name(self.preset)
        unknown = sorted(set(self.settings) - set(LoraTrainConfig().to_json()))
        if unknown:
            raise ValueError(f"Unknown LoRA training settings {unknown}.")
        config = LoraTrainConfig.from_json({**PRESETS[preset].to_json(), **dict(self.settings)})
        if config.epochs is not None:
            raise ValueError("Give the run's length as `num_steps` (the wizard shows how often each clip is seen).")
        # The length: the user's (num_steps, or max_steps in the settings: the wizard's field, a
        # stored run's), else the count the base model's card recommends for the preset.
        num_steps = self.num_steps or (config.max_steps if "max_steps" in self.settings
                                       else preset_steps(preset, self.model).steps)
        check_int("num_steps", num_steps, 1, 10_000_000)
        every = config.checkpoint_every if self.checkpoint_every is None else self.checkpoint_every
        check_int("checkpoint_every", every, 0, 10_000_000)
        every = every if every < num_steps else 0
        seed = config.seed if self.seed is None else self.seed
        config = replace(config, max_steps=num_steps, checkpoint_every=every, seed=seed)
        if self.spectrogram_preset is not None:
            from engine.audio.params import get_preset

            get_preset(self.spectrogram_preset)
        if self.duration_s is not None:
            check_range("duration_s", self.duration_s, 0.08, 60.0)
        if self.height is not None:
            check_int("height", self.height, 8, 2048)
        output_dir = self.output_dir or str(Path(self.output).with_name(Path(self.output).stem + ".training"))
        object.__setattr__(self, "preset", preset)
        object.__setattr__(self, "settings", config.to_json())
        object.__setattr__(self, "num_steps", num_steps)
        object.__setattr__(self, "checkpoint_every", every)
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "output_dir", output_dir)
        object.__setattr__(self, "captions", tuple((str(k), str(v)) for k, v in self.captions))
        object.__setattr__(self, "clips", tuple(self.clips))
        super().__post_init__()

    @property
    def config(self) -> LoraTrainConfig:
        """The run's complete settings."""
        return LoraTrainConfig.from_json(dict(self.settings))

    def describe(self) -> str:
        return ("Estimate LoRA run " if self.estimate_only else "Train LoRA ") + Path(self.output).name


def run(spec: TrainLoraJob, ctx: Any) -> Generator[Progress, None, Any]:
    from engine.training.lora import run_train_lora

    return (yield from run_train_lora(spec, ctx))


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Fine-tune a LoRA of a model on a folder of sounds, e.g. `specdiff-cli train-lora my_sounds/ -o "
        "zorblat.safetensors --trigger zorblat`, then `specdiff-cli generate zorblat --lora zorblat.safetensors`. "
        "The run's length is in optimizer steps; each step shows the model --batch-size clips, so each clip is seen "
        "steps x batch size / clips times (--estimate prints that, the time and memory, and advice when the length "
        "or the learning rate is far from what LoRA trainers use).")
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder of audio files (captions: metadata.csv/jsonl, "
                        "NAME.txt beside each file, else the file name)")
    from engine.cli.common import add_overwrite_argument

    parser.add_argument("-o", "--output", required=True, metavar="OUT.safetensors", help="the LoRA file to write")
    add_overwrite_argument(parser)
    parser.add_argument("--model", default=None, help="base model: folder, cached repo id or builtin:starter "
                        "(default: Riffusion if downloaded, else the shipped starter model)")
    parser.add_argument("--preset", default=None, help=f"memory preset: {', '.join(PRESETS)} "
                        "(default: cpu-starter without a CUDA GPU, else the one for the card's memory)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps, each of --batch-size clips "
                        "(default: the count the base model's card recommends for the preset, e.g. 1200 for "
                        f"cpu-starter on starter model 2, else the preset's; cpu-starter: {PRESETS['cpu-starter'].max_steps})")
    parser.add_argument("--rank", type=int, default=None, help="LoRA rank: its size, at most the width of the model's "
                        "attention layers (the starter's: 64) (default: the preset's; cpu-starter: "
                        f"{PRESETS['cpu-starter'].rank})")
    parser.add_argument("--alpha", type=float, default=None, help="LoRA alpha: the LoRA's strength is alpha / rank "
                        "(default: the rank)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate, at most 0.1 (default: the preset's; "
                        f"cpu-starter: {PRESETS['cpu-starter'].learning_rate:g}; LoRA trainers use 1e-5 to 1e-3)")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per step (default: the preset's; "
                        f"cpu-starter: {PRESETS['cpu-starter'].batch_size})")
    parser.add_argument("--seed", type=int, default=None, help="seed of the LoRA's start, the noise and the "
                        "validation split (default: 0): the same seed and settings give the same LoRA on one machine")
    parser.add_argument("--trigger", default="", help="trigger word put in front of every caption")
    parser.add_argument("--prefix", default="", help="text put in front of every caption (before the trigger)")
    parser.add_argument("--text-encoder", action=argparse.BooleanOptionalAction, default=None,
                        help="also train the text encoder (default: the preset's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for this job")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    parser.add_argument("--run-dir", default=None, help="the run's folder for checkpoints "
                        "(default: OUT.training beside the output)")
    parser.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    parser.add_argument("--format", dest="fmt", default="diffusers", choices=FORMATS,
                        help="diffusers: the PEFT layout plain diffusers' load_lora_weights loads (default); kohya: "
                        "lora_unet_* keys with the true alpha, for A1111 / ComfyUI / kohya tools")
    parser.add_argument("--spectrogram-preset", default=None, help="the spectrogram the model was trained on, for a "
                        "model whose card does not name it (the starter's and Riffusion's do)")
    parser.add_argument("--duration", type=float, default=None, help="clip length in seconds, for such a model "
                        "(default: the model card's)")
    parser.add_argument("--height", type=int, default=None, help="mel bins of the images (default: the spectrogram "
                        "preset's)")
    parser.add_argument("--estimate", action="store_true", help="print the time and peak memory of the run and stop")


def spec_from_args(args: argparse.Namespace, cli: Any) -> TrainLoraJob:
    from engine.cli.common import EXIT_USAGE, CliError, check_output

    output = check_output(Path(args.output), (".safetensors",), "the LoRA file", overwrite=args.overwrite or args.estimate,
                          inputs=[Path(args.data_dir)])  # --estimate writes nothing
    if not Path(args.data_dir).is_dir():
        raise CliError(f"the sounds folder '{args.data_dir}' does not exist or is not a folder.", EXIT_USAGE)
    if args.steps is not None and args.steps < 1:  # 0 would mean "the preset's" to the spec
        raise CliError(f"--steps must be at least 1, got {args.steps}.", EXIT_USAGE)
    preset = args.preset
    if preset is None:
        preset = default_preset(_cuda_memory() if args.device in ("auto",) or args.device.startswith("cuda") else None)
    settings = {
        name: value
        for name, value in (
            ("rank", args.rank), ("alpha", args.alpha), ("learning_rate", args.lr), ("batch_size", args.batch_size),
            ("train_text_encoder", args.text_encoder), ("num_threads", args.threads),
        )
        if value is not None
    }
    if args.rank is not None and args.alpha is None:
        settings["alpha"] = float(args.rank)  # a new rank without an alpha keeps the scale alpha/rank = 1
    if args.device != "auto":
        settings["device"] = args.device
    try:
        spec = TrainLoraJob(
            output=str(output), model=cli.default_model(), data_dir=args.data_dir, preset=preset, settings=settings,
            trigger=args.trigger, prefix=args.prefix, fmt=args.fmt, resume=args.resume, num_steps=args.steps or 0,
            checkpoint_every=args.checkpoint_every, seed=args.seed, output_dir=args.run_dir or "",
            spectrogram_preset=args.spectrogram_preset, duration_s=args.duration, height=args.height,
            estimate_only=args.estimate,
        )
    except (ValueError, LoraTrainingError) as error:
        raise CliError(_flag_names(str(error)), EXIT_USAGE) from None
    if args.rank is not None:
        _check_rank(spec, cli)
    found = None if args.resume or args.estimate or args.overwrite else spec.latest_checkpoint()
    if found:  # a new run deletes them: a user who forgot --resume after Ctrl-C would lose the run
        raise CliError(f"the run folder '{spec.output_dir}' holds checkpoints of an earlier run (the newest after "
                       f"step {found[0]}): pass --resume to go on from it, or --overwrite to start over (which "
                       "deletes them).", EXIT_USAGE)
    if args.device == "auto" and spec.config.device.startswith("cuda") and _cuda_memory() is None:
        # a GPU preset named on a machine without one (the engine's own message speaks of the app's settings)
        raise CliError(f"the {spec.preset} preset trains on a CUDA GPU and this machine has none; use "
                       "--preset cpu-starter (the settings for the CPU).", EXIT_USAGE)
    return spec


def _check_rank(spec: TrainLoraJob, cli: Any) -> None:
    """--rank above the base model's largest useful rank is refused before the sounds are read (the
    trainer would refuse it after loading the model); a model that cannot be read is left to the run
    to report."""
    from engine.cli.common import EXIT_USAGE, CliError
    from engine.models.errors import ModelError
    from engine.training.lora import rank_limit

    config = spec.config
    try:
        limit = rank_limit(spec.model, train_text_encoder=config.train_text_encoder, store=cli.store)
    except (ModelError, OSError, ValueError):
        return
    if limit and config.rank > limit:
        raise CliError(f"--rank {config.rank} is more than the model can use: the widest layer a LoRA adapts in "
                       f"'{spec.model}' is {limit} wide (the smaller of its inputs and outputs), so a larger rank adds "
                       f"memory and nothing else; use --rank {limit} or less.", EXIT_USAGE)


#: The command-line flag of each setting a message can name (messages name the spec's fields).
_FLAGS = {"num_steps": "--steps", "rank": "--rank", "alpha": "--alpha", "learning_rate": "--lr",
          "batch_size": "--batch-size", "seed": "--seed", "num_threads": "--threads",
          "checkpoint_every": "--checkpoint-every", "duration_s": "--duration", "height": "--height"}


def _flag_names(message: str) -> str:
    """``message`` with the spec's field names (`num_steps`) as the flags the user typed (--steps)."""
    for name, flag in _FLAGS.items():
        message = message.replace(f"`{name}`", flag)
    return message


def _cuda_memory() -> int | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return int(torch.cuda.get_device_properties(0).total_memory)


def write_results(results: Any, args: argparse.Namespace, cli: Any) -> None:
    """The LoRA is written by the job; say where, how the loss went, and where the checkpoints are."""
    from engine.training.lora_config import Estimate

    if isinstance(results, Estimate):
        print(results.describe())
        return
    for result in results:
        facts = result.recipe.facts
        val = facts.get("final_validation_loss")
        data = facts.get("dataset") or {}
        skipped = data.get("skipped") or []
        print(f"Wrote {result.files[0]}: {facts['steps']} steps, training loss {facts['initial_loss']:.4f} -> "
              f"{facts['final_loss']:.4f}" + (f", validation loss {val:.4f}" if val is not None else "")
              + f" in {facts['seconds']:.0f} s"
              + (f"; {data['num_examples']} sounds" if "num_examples" in data else "")
              + (f", {len(skipped)} skipped: " + "; ".join(f"{name} ({why})" for name, why in skipped[:3])
                 + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "") if skipped else ""))


TASK = Task(
    name="train_lora",
    spec=TrainLoraJob,
    run=run,
    title="Train LoRA",
    summary="fine-tune a LoRA on a folder of sounds",
    needs=Needs(model="sd"),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
    write_results=write_results,
)
