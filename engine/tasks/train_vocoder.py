"""train_vocoder: train seed 004's diffusion vocoder for a spectrogram preset on sounds rendered here.

    specdiff-cli train-vocoder -o OUT_DIR [--preset starter] [--steps 2000] [--checkpoint-every 200]
                               [--resume | --overwrite]

The data needs no download: General MIDI clips rendered from Debian's FluidR3_GM with fluidsynth
(:mod:`engine.training.gm_corpus`; held-out instruments stay out) and the synthetic sounds of
:mod:`engine.training.synth`, at random levels. Each step takes random segments of them, their
spectrograms in the preset (exactly as the app makes them) and one v-diffusion step of
:class:`engine.vocoders.diffusion.DiffusionVocoderNet`. The output folder holds ``config.json``
and ``model.safetensors``: a vocoder folder (``--vocoder OUT_DIR``); checkpoints every N steps
resume with ``--resume``. A new run (not a resume) first deletes the ``step-N`` checkpoint folders
an earlier run left in ``OUT_DIR/checkpoints/`` (nothing else there) and says so, so that a later
resume goes on from the new run's checkpoints; the command refuses to start one there without
``--overwrite``. Uses the job's thread settings (1 torch thread unless told otherwise).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from engine.specs import Progress, TaskResult, TrainingJob, check_int, check_range, cleared_checkpoints_message
from engine.tasks import Needs, Task

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"


@dataclass(frozen=True, eq=False, kw_only=True)
class TrainVocoderJob(TrainingJob):
    """Train a diffusion vocoder for ``preset``: ``batch`` segments of ``segment_frames`` mel frames
    per step from a pool of ``pool_clips`` rendered clips, Adam at ``learning_rate``. ``channels``
    and ``sampling_steps`` set the network's widths and how many steps vocoding takes."""

    kind: ClassVar[str] = "train_vocoder"
    preset: str = "starter"
    batch: int = 8
    segment_frames: int = 24
    pool_clips: int = 256
    learning_rate: float = 3e-4
    channels: tuple[int, ...] = (24, 48, 96, 128)
    sampling_steps: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        from engine.audio.params import get_preset

        get_preset(self.preset)
        check_int("batch", self.batch, 1, 256)
        check_int("segment_frames", self.segment_frames, 2, 4096)
        check_int("pool_clips", self.pool_clips, 2, 100_000)
        check_range("learning_rate", self.learning_rate, 1e-7, 1.0)
        check_int("sampling_steps", self.sampling_steps, 1, 1000)
        if len(self.channels) != 4 or any(not isinstance(c, int) or c < 8 or c % 8 for c in self.channels):
            raise ValueError(f"`channels` must be four multiples of 8, got {self.channels!r}.")

    def describe(self) -> str:
        return f"Train vocoder ({self.preset})"

    def spectrogram_params(self) -> Any:
        from engine.audio.params import get_preset

        return get_preset(self.preset)


def _pool(spec: TrainVocoderJob, params: Any, seed: int) -> Any:
    """float32 (clips, samples) at the preset's rate: half GM renders (FluidR3, no held-out
    instruments), half synth sounds, each at a random level (peak 0.05 to 0.9)."""
    import numpy as np

    from engine.training import gm_corpus, synth

    rng = np.random.default_rng(seed)
    duration_s = 2.56
    n_gm = spec.pool_clips // 2
    gm = []
    while len(gm) < n_gm:
        clip = gm_corpus.random_clip(rng)
        if clip.drums or not any(gm_corpus.is_held_out(clip.program, note.key) for note in clip.notes):
            gm.append(clip)
    try:
        rendered = list(gm_corpus.render(gm, sample_rate_hz=params.sample_rate, duration_s=duration_s, workers=1))
    except gm_corpus.RenderError:
        rendered = []  # no fluidsynth here: synth sounds only
    while len(rendered) < spec.pool_clips:
        rendered.append(synth.random_example(rng, duration_s=duration_s, sample_rate_hz=params.sample_rate).audio)
    pool = np.stack([np.asarray(a, dtype=np.float32)[: int(duration_s * params.sample_rate)] for a in rendered])
    peaks = np.abs(pool).max(axis=1, keepdims=True)
    pool = pool[peaks[:, 0] > 1e-4]
    levels = rng.uniform(0.05, 0.9, size=(pool.shape[0], 1)).astype(np.float32)
    return pool / np.abs(pool).max(axis=1, keepdims=True) * levels


def run(spec: TrainVocoderJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    import numpy as np
    import torch
    from safetensors.torch import load_file, save_file

    from engine.audio.spectrogram import mel_from_audio
    from engine.vocoders.diffusion import DiffusionVocoderNet, default_config

    seed = spec.seed if spec.seed is not None else 0
    params = spec.spectrogram_params()
    config = default_config(spec.preset, channels=list(spec.channels), sampling_steps=spec.sampling_steps)
    torch.manual_seed(seed)
    net = DiffusionVocoderNet(config)
    optimizer = torch.optim.Adam(net.parameters(), lr=spec.learning_rate)
    step = 0
    latest = spec.latest_checkpoint() if spec.resume else None
    if not spec.resume:  # a new run: a later resume must go on from its checkpoints, not an older run's
        removed = spec.clear_checkpoints()
        if removed:
            yield Progress(stage="load", message=cleared_checkpoints_message(spec.output_dir, removed))
    if latest is not None:
        step, folder = latest
        net.load_state_dict(load_file(str(folder / MODEL_FILE)))
        optimizer.load_state_dict(torch.load(str(folder / OPTIMIZER_FILE), weights_only=True))
    yield Progress(stage="load", message=f"Rendering {spec.pool_clips} training clips")
    pool = _pool(spec, params, seed)
    hop = params.hop_length
    length = -(-spec.segment_frames * hop // net.multiple) * net.multiple
    losses: list[float] = []

    def save(folder: Path) -> None:
        save_file(net.state_dict(), str(folder / MODEL_FILE))
        torch.save(optimizer.state_dict(), str(folder / OPTIMIZER_FILE))
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    while step < spec.num_steps:
        # Each step's draws depend on (seed, step) only: a resumed run trains exactly as an uninterrupted one.
        rng = np.random.default_rng([seed, step])
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        rows = rng.integers(0, pool.shape[0], spec.batch)
        starts = rng.integers(0, pool.shape[1] - length, spec.batch)
        wave = np.stack([pool[r, s : s + length] for r, s in zip(rows, starts)])
        mel = torch.from_numpy(np.concatenate([mel_from_audio(w[None], params) for w in wave]))
        loss = net.loss(torch.from_numpy(wave), mel, generator)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        step += 1
        losses.append(float(loss.detach()))
        yield Progress(stage="train", step=step, total=spec.num_steps,
                       message=f"step {step}/{spec.num_steps}, loss {np.mean(losses[-50:]):.4f}")
        spec.save_checkpoint(step, save)
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / MODEL_FILE))
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    facts = {"final_loss": float(np.mean(losses[-50:])) if losses else None, "pool_clips": int(pool.shape[0])}
    return (TaskResult(recipe=spec.make_recipe(seed=seed, facts=facts), files=(out / "config.json", out / MODEL_FILE)),)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="output folder (config.json + model.safetensors)")
    parser.add_argument("--preset", default="starter", help="the spectrogram it vocodes (default: starter)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--checkpoint-every", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="go on from the newest checkpoint in OUT_DIR")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run in OUT_DIR even though it holds an earlier run's checkpoints (deletes them)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--segment-frames", type=int, default=24)
    parser.add_argument("--pool-clips", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--channels", default="24,48,96,128", help="four widths, multiples of 8")
    parser.add_argument("--sampling-steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None)


def spec_from_args(args: argparse.Namespace, cli: Any) -> TrainVocoderJob:
    from engine.cli.common import EXIT_USAGE, CliError

    try:
        channels = tuple(int(c) for c in args.channels.split(","))
    except ValueError:
        raise CliError(f"--channels must be four comma-separated numbers, got {args.channels!r}.", EXIT_USAGE) from None
    spec = cli.spec(
        TrainVocoderJob, output_dir=str(args.output), num_steps=args.steps, checkpoint_every=args.checkpoint_every,
        resume=args.resume, seed=args.seed, preset=args.preset, batch=args.batch, segment_frames=args.segment_frames,
        pool_clips=args.pool_clips, learning_rate=args.lr, channels=channels, sampling_steps=args.sampling_steps,
    )
    found = None if args.resume or args.overwrite else spec.latest_checkpoint()
    if found:  # a new run deletes them: a user who forgot --resume after Ctrl-C would lose the run (as train-lora)
        raise CliError(f"'{args.output}' holds checkpoints of an earlier run (the newest after step {found[0]}): pass "
                       "--resume to go on from it, or --overwrite to start over (which deletes them).", EXIT_USAGE)
    return spec


def write_results(results: Any, args: argparse.Namespace, cli: Any) -> None:
    for result in results:
        print(f"{result.files[0].parent}  loss {result.recipe.facts.get('final_loss')}  (use it: --vocoder {result.files[0].parent})")


TASK = Task(
    name="train_vocoder",
    spec=TrainVocoderJob,
    run=run,
    title="Train vocoder",
    summary="train seed 004's diffusion vocoder for a spectrogram preset (GM + synth sounds, no download)",
    needs=Needs(model=None),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
    write_results=write_results,
)
