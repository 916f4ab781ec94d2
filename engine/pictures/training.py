"""The train-pictures task's runner: fine-tune a picture model on a user's (audio, picture) pairs.

With an SD model as the base (not a picture model), it trains an AudioToken-style audio adapter
into that model's text space instead (:func:`engine.pictures.adapter.run_training`), on the same
pairs and videos.

The folder may hold (audio, picture) pairs of the same name (``rain.wav`` + ``rain.png``), videos
(:data:`engine.pictures.video.VIDEO_SUFFIXES`), cut into (audio window, frame) pairs by
:func:`engine.pictures.video.cut_video`, or both. A file that gives no pair (a video without an
audio stream, a damaged file, a silent sound, a sound without its picture, a file of another kind)
is skipped and listed in the progress, the result's facts and the model's README; training stops
with one message only when nothing at all is usable.

Checkpoints (``OUT/checkpoints/step-N/``) hold the model, the EMA weights, the optimizer and the
random generators, so a resumed run goes on where it stopped and ends bit for bit where an
uninterrupted one does. A new run (not a resume) first deletes the ``step-N`` folders an earlier
run left in ``OUT/checkpoints/`` and says so in a progress report (``specdiff-cli train-pictures``
refuses to start one there without ``--overwrite``), so a later resume goes on from the new run's
checkpoints, never from the old run's higher step. Progress reports carry each step's loss and, at
each checkpoint, samples: the pictures the model being trained draws (EMA weights) for a few of the
training sounds, beside the base model's for the same sounds and seeds (what the app's training
monitor shows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.specs import Progress, TaskResult

#: Samples at each checkpoint: this many training sounds, drawn with this many denoising steps.
SAMPLES = 2
SAMPLE_STEPS = 25
SAMPLE_SEED = 0


@dataclass(frozen=True, eq=False)
class PictureSample:
    """A sample at ``step``: the picture the model being trained draws for a training sound, and
    the base model's for the same sound and seed (the fields the LoRA wizard's monitor shows)."""

    step: int
    prompt: str  # which sound: 'dog.wav', 'street.mp4 at 4.5 s'
    seed: int
    image: np.ndarray  # uint8 (64, 64, 3)
    audio: np.ndarray  # (1, samples) float32, the window the encoder heard
    base_image: np.ndarray
    base_audio: np.ndarray
    sample_rate_hz: int


@dataclass(frozen=True, eq=False)
class PictureTrainingProgress(Progress):
    """Progress of a run: ``loss`` is the step's training loss (stage "train"); a "sample" report
    after each checkpoint carries its folder and its samples (:class:`PictureSample`)."""

    loss: float | None = None
    samples: tuple[PictureSample, ...] = ()
    checkpoint: str | None = None


@dataclass
class TrainingFolder:
    """A folder's training material: pairs, videos, and the files that are neither (name, why)."""

    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def scan_folder(folder: str | Path) -> TrainingFolder:
    """Sort the files of ``folder`` into pairs, videos and skipped files. Raises ValueError when
    the folder is missing or holds neither a pair nor a video."""
    from engine.pictures.video import VIDEO_SUFFIXES
    from engine.training.train_pictures import AUDIO_SUFFIXES, IMAGE_SUFFIXES

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"'{folder}' is not a folder of (audio, picture) pairs or videos.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    kind = {p: p.suffix.lower() for p in files}
    sounds = {p.stem for p in files if kind[p] in AUDIO_SUFFIXES}
    pictures = {p.stem: p for p in files if kind[p] in IMAGE_SUFFIXES}
    found = TrainingFolder()
    for path in files:
        if kind[path] in VIDEO_SUFFIXES:
            found.videos.append(path)
        elif kind[path] in AUDIO_SUFFIXES:
            if path.stem in pictures:
                found.pairs.append((path, pictures[path.stem]))
            else:
                found.skipped.append((path.name, f"a sound without a picture named {path.stem}.png/.jpg"))
        elif kind[path] in IMAGE_SUFFIXES:
            if path.stem not in sounds:
                found.skipped.append((path.name, f"a picture without a sound named {path.stem}.wav/.flac"))
        else:
            found.skipped.append((path.name, "not a sound, a picture or a video"))
    if not found.pairs and not found.videos:
        raise ValueError(f"'{folder}' holds no pairs and no videos: put each sound beside a picture of the same name "
                         f"(dog.wav + dog.png; audio {', '.join(AUDIO_SUFFIXES)}, pictures {', '.join(IMAGE_SUFFIXES)}), "
                         f"or videos ({', '.join(VIDEO_SUFFIXES)}).")
    return found


def run(spec: Any, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    import torch

    from engine.pictures.illustrate import picture_model_dir, portable_picture_model_id
    from engine.pictures.model import SAMPLE_RATE_HZ, PictureModelCard, load_picture_model, save_picture_model
    from engine.pictures.video import VideoError, cut_video
    from engine.training.train_pictures import (
        embeddings_of,
        load_pairs,
        mels_of,
        pictures_tensor,
        restore,
        train_diffusion,
        use_ema,
        write_readme,
    )

    found = scan_folder(spec.pairs_dir)
    base = picture_model_dir(spec.base)
    if base is None:  # an SD model: train an AudioToken-style adapter into its text space
        from engine.pictures.adapter import run_training

        return (yield from run_training(spec, ctx, found))
    model = load_picture_model(base)
    skipped = list(found.skipped)
    embedded, pictures, data, videos = [], [], [], []
    heard: list[tuple[int, str, np.ndarray]] = []  # (index, name, clip): each source's first pair, for samples
    if found.pairs:
        yield Progress(stage="load", message=f"Reading {len(found.pairs)} pairs")
    for audio_path, picture_path in found.pairs:
        ctx.check_cancelled()
        try:
            clips, pair_pictures = load_pairs([(audio_path, picture_path)])
        except ValueError as error:
            skipped.append((audio_path.name, _one_line(error, audio_path.name)))
            continue
        heard.append((len(pictures), audio_path.name, clips[0]))
        embedded.append(embeddings_of(model, mels_of(clips)))
        pictures += pair_pictures
        data.append([audio_path.name, picture_path.name, _sha256(audio_path), _sha256(picture_path)])
    for number, video in enumerate(found.videos, 1):
        yield Progress(stage="load", step=number - 1, total=len(found.videos),
                       message=f"Cutting {video.name} ({number}/{len(found.videos)})")
        try:
            cut = cut_video(video, every_s=spec.frame_every_s, check=ctx.check_cancelled)
        except VideoError as error:
            skipped.append((video.name, _one_line(error, video.name)))
            continue
        if cut.skipped or cut.note:
            yield Progress(stage="load", message=cut.summary())
        if cut.pairs:
            middle = cut.pairs[len(cut.pairs) // 2]
            heard.append((len(pictures) + len(cut.pairs) // 2, f"{video.name} at {middle.time_s:.1f} s", middle.clip))
            for first in range(0, len(cut.pairs), 256):  # the clips are views of the soundtrack: a batch at a time
                batch = np.stack([p.clip for p in cut.pairs[first : first + 256]])
                embedded.append(embeddings_of(model, mels_of(batch)))
            pictures += [p.picture for p in cut.pairs]
        else:
            skipped.append((video.name, "gave no pair: " + "; ".join(cut.problems())))
        videos.append([video.name, _sha256(video), len(cut.pairs), len(cut.skipped)])
    for name, why in skipped:
        yield Progress(stage="load", message=f"Skipped {name}: {why}")
    if not pictures:
        raise ValueError(f"'{spec.pairs_dir}' gave nothing to train on: "
                         + "; ".join(f"{name}: {why}" for name, why in skipped))
    embeddings = torch.cat(embedded)
    targets = pictures_tensor(pictures)
    from_videos = sum(v[2] for v in videos)
    yield Progress(stage="load", message=f"Training on {len(pictures)} pairs"
                   + (f" ({from_videos} cut from {len(videos)} videos)" if videos else ""))
    shown = [heard[round(i * (len(heard) - 1) / max(1, SAMPLES - 1))] for i in range(min(SAMPLES, len(heard)))]
    base_pictures = _draw(model, embeddings, shown) if spec.checkpoint_every else []
    seed = spec.seed if spec.seed is not None else 0
    state: dict[str, Any] = {}
    start = 0
    # The projector's dropout draws from torch's global generator: the run keeps its own state of
    # it (seeded, saved in checkpoints), so a run is repeatable and a resumed run ends bit for bit
    # where an uninterrupted one does, whatever else the process draws between steps.
    dropout_rng = torch.Generator().manual_seed(seed).get_state()
    latest = spec.latest_checkpoint() if spec.resume else None
    if not spec.resume:  # a new run: a later resume must go on from its checkpoints, not an older run's
        removed = spec.clear_checkpoints()
        if removed:
            yield Progress(stage="load", message=_removed_message(spec, removed))
    if latest is not None:
        start, folder = latest
        saved = torch.load(folder / "state.pt", weights_only=True)
        model.load_state_dict(saved["model"])
        params = [p for m in (model.projector, model.unet) for p in m.parameters()]
        state["opt"] = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=0.0)
        state["opt"].load_state_dict(saved["opt"])
        state["ema"] = saved["ema"]
        state["generator"] = torch.Generator()
        state["generator"].set_state(saved["generator"])
        dropout_rng = saved.get("dropout_rng", dropout_rng)
    losses: list[float] = []
    steps = train_diffusion(model, embeddings, targets, steps=spec.num_steps, seed=seed, batch=spec.batch_size,
                            lr=spec.learning_rate, start_step=start, state=state)
    while True:
        outer = torch.get_rng_state()
        torch.set_rng_state(dropout_rng)
        try:
            step, loss = next(steps)
        except StopIteration:
            break
        finally:
            dropout_rng = torch.get_rng_state()
            torch.set_rng_state(outer)
        losses.append(loss)
        ctx.check_cancelled()
        yield PictureTrainingProgress(stage="train", step=step, total=spec.num_steps,
                                      message=f"loss {np.mean(losses[-20:]):.4f}", loss=loss)
        saved_to = spec.save_checkpoint(step, lambda folder: torch.save(
            {"model": model.state_dict(), "opt": state["opt"].state_dict(), "ema": state["ema"],
             "generator": state["generator"].get_state(), "dropout_rng": dropout_rng}, folder / "state.pt"))
        if saved_to is not None and shown:
            weights = use_ema(model, state)  # the weights the finished model would have now
            drawn = _draw(model, embeddings, shown)
            restore(model, weights)
            samples = tuple(
                PictureSample(step, name, SAMPLE_SEED, image, clip[None, :], base, clip[None, :], SAMPLE_RATE_HZ)
                for (_i, name, clip), image, base in zip(shown, drawn, base_pictures))
            yield PictureTrainingProgress(stage="sample", step=step, total=spec.num_steps, checkpoint=str(saved_to),
                                          message=f"{len(samples)} samples at step {step}", samples=samples)
    out = Path(spec.output_dir)
    first_last = [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))] if losses else None
    facts = {
        "pairs": len(pictures), "base": portable_picture_model_id(base), "loss_first_last": first_last,
        "pairs_from_videos": from_videos, "skipped": [list(s) for s in skipped],
        "data": data, "videos": videos,
    }  # fmt: skip
    made_of = f"{len(pictures)} (audio, picture) pairs"
    if videos:
        made_of += (f" ({from_videos} of them frames cut from {len(videos)} videos, one every "
                    f"{spec.frame_every_s:g} s with the audio around it)")
    card = PictureModelCard(
        title=f"Picture model trained on {Path(spec.pairs_dir).name}",
        description=(f"Fine-tuned from {facts['base']} on {made_of} for {spec.num_steps} steps "
                     "(the base's audio encoder frozen; projection and 64x64 DDPM trained)."),
        trained_on=str(Path(spec.pairs_dir).resolve()),
        extra={k: v for k, v in facts.items() if k not in ("data", "videos")},
    )
    save_picture_model(model, out, card)
    write_readme(out, card)
    recipe = spec.make_recipe(seed=seed, facts=facts)
    return (TaskResult(recipe=recipe, files=(out,)),)


def _draw(model: Any, embeddings: Any, shown: list[tuple[int, str, np.ndarray]]) -> list[np.ndarray]:
    """The model's pictures (guidance 3, :data:`SAMPLE_STEPS` steps) for the pairs ``shown``; the
    model is left in training mode (the dropout's generator is not touched: eval mode has none)."""
    import torch

    from engine.specs import run_to_end

    model.eval()
    try:
        with torch.no_grad():
            return [run_to_end(model.sample_steps(embeddings[i : i + 1], SAMPLE_SEED, steps=SAMPLE_STEPS))
                    for i, _name, _clip in shown]
    finally:
        model.projector.train()
        model.unet.train()


def _removed_message(spec: Any, steps: list[int]) -> str:
    """What a new run says after deleting an earlier run's checkpoints (the steps they were after)."""
    what = "the checkpoint" if len(steps) == 1 else f"the {len(steps)} checkpoints"
    return (f"Deleted {what} an earlier run left in '{Path(spec.output_dir) / 'checkpoints'}' (the newest after "
            f"step {steps[-1]}): this new run starts from step 0")


def _one_line(error: BaseException, name: str) -> str:
    """The error's first line without the file's name in front (the listing names it)."""
    text = str(error).strip()
    text = text.splitlines()[0] if text else type(error).__name__
    return text.removeprefix(f"'{name}' ").removeprefix(f"'{name}': ")


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
