"""The train-pictures task's runner: fine-tune a picture model on a user's (audio, picture) pairs.

Checkpoints (``OUT/checkpoints/step-N/``) hold the model, the EMA weights, the optimizer and the
random generator, so a resumed run goes on where it stopped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from engine.specs import Progress, TaskResult


def run(spec: Any, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    import torch

    from engine.pictures.illustrate import picture_model_dir, portable_picture_model_id
    from engine.pictures.model import PictureModelCard, load_picture_model, save_picture_model
    from engine.training.train_pictures import (
        embeddings_of,
        find_pairs,
        load_pairs,
        mels_of,
        pictures_tensor,
        train_diffusion,
        write_readme,
    )

    pairs = find_pairs(spec.pairs_dir)
    base = picture_model_dir(spec.base)
    if base is None:
        raise ValueError(f"'{spec.base}' is not a picture model (a folder with picture_model.json, or builtin:pictures).")
    yield Progress(stage="load", message=f"Reading {len(pairs)} pairs")
    clips, pictures = load_pairs(pairs)
    model = load_picture_model(base)
    embeddings = embeddings_of(model, mels_of(clips))
    targets = pictures_tensor(pictures)
    seed = spec.seed if spec.seed is not None else 0
    state: dict[str, Any] = {}
    start = 0
    latest = spec.latest_checkpoint() if spec.resume else None
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
    losses: list[float] = []
    for step, loss in train_diffusion(model, embeddings, targets, steps=spec.num_steps, seed=seed, batch=spec.batch_size,
                                      lr=spec.learning_rate, start_step=start, state=state):
        losses.append(loss)
        ctx.check_cancelled()
        yield Progress(stage="train", step=step, total=spec.num_steps, message=f"loss {np.mean(losses[-20:]):.4f}")
        spec.save_checkpoint(step, lambda folder: torch.save(
            {"model": model.state_dict(), "opt": state["opt"].state_dict(), "ema": state["ema"],
             "generator": state["generator"].get_state()}, folder / "state.pt"))
    out = Path(spec.output_dir)
    first_last = [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))] if losses else None
    facts = {
        "pairs": len(pairs), "base": portable_picture_model_id(base), "loss_first_last": first_last,
        "data": [[a.name, p.name, _sha256(a), _sha256(p)] for a, p in pairs],
    }  # fmt: skip
    card = PictureModelCard(
        title=f"Picture model trained on {Path(spec.pairs_dir).name}",
        description=(f"Fine-tuned from {facts['base']} on {len(pairs)} (audio, picture) pairs for {spec.num_steps} steps "
                     "(the base's audio encoder frozen; projection and 64x64 DDPM trained)."),
        trained_on=str(Path(spec.pairs_dir).resolve()),
        extra={k: v for k, v in facts.items() if k != "data"},
    )
    save_picture_model(model, out, card)
    write_readme(out, card)
    recipe = spec.make_recipe(seed=seed, facts=facts)
    return (TaskResult(recipe=recipe, files=(out,)),)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
