"""The illustrate task's runner: pictures for a clip, from a picture model or zero-shot.

``spec.model`` picks the path: a picture model (``builtin:pictures``, the shipped starter, or a
folder written by ``train-pictures``; see :mod:`engine.pictures.model`) draws from the audio
embedding; an audio adapter folder (``train-pictures --base <SD model>``; see
:mod:`engine.pictures.adapter`) puts the clip into its base SD model's prompt as pseudo-words;
anything else is an SD 1.5-family image model from the store, prompted with the clip's AudioSet
tags (:mod:`engine.pictures.zeroshot`). Picture ``i`` uses seed ``seed + i`` and
carries a recipe that makes exactly it again.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.specs import Progress, TaskResult

_BUILTIN_DIR = Path(__file__).resolve().parents[2] / "resources" / "models"
#: An audio adapter's placeholder and default prompt (engine.pictures.adapter; here torch-free for the specs).
ADAPTER_PLACEHOLDER = "<audio>"
ADAPTER_TEMPLATE = "a photo of <audio>"
ADAPTER_CONFIG_FILE = "audio_adapter.json"
_cache: dict[tuple[str, float], Any] = {}


def picture_model_dir(model: str) -> Path | None:
    """The folder of a picture model named by ``model`` (``builtin:<name>`` or a folder holding
    ``picture_model.json``), None when ``model`` names something else (an SD model).

    Raises ValueError for a ``builtin:`` name that ships no model at all.
    """
    from engine.pictures.model import is_picture_model

    text = str(model)
    if text.startswith("builtin:"):
        folder = _BUILTIN_DIR / text[len("builtin:"):]
        if is_picture_model(folder):
            return folder
        if not (folder / "model_index.json").is_file():
            raise ValueError(f"'{text}' is not a model that ships with this version.")
        return None
    folder = Path(text).expanduser()
    return folder if is_picture_model(folder) else None


def adapter_dir(model: str) -> Path | None:
    """The folder of an audio adapter named by ``model`` (a folder holding ``audio_adapter.json``), else None."""
    text = str(model)
    if text.startswith("builtin:"):
        return None
    folder = Path(text).expanduser()
    return folder if (folder / ADAPTER_CONFIG_FILE).is_file() else None


def portable_picture_model_id(folder: Path) -> str:
    """``builtin:<name>`` for a shipped picture model's folder, else the folder's path."""
    try:
        if folder.resolve().parent == _BUILTIN_DIR.resolve():
            return "builtin:" + folder.resolve().name
    except OSError:
        pass
    return str(folder)


def load_cached(folder: Path) -> Any:
    """The picture model in ``folder``, kept loaded while its weights file is unchanged (one at a time)."""
    from engine.pictures.model import WEIGHTS_FILE, load_picture_model

    key = (str(folder.resolve()), (folder / WEIGHTS_FILE).stat().st_mtime if (folder / WEIGHTS_FILE).exists() else 0.0)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_picture_model(folder)
    return _cache[key]


def random_seed() -> int:
    from engine.pipelines.generate import random_seed as draw

    return draw()


def variation_seed(seed: int, index: int) -> int:
    from engine.pipelines.generate import variation_seed as seed_of

    return seed_of(seed, index)


def run(spec: Any, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    adapter = adapter_dir(spec.model)
    if adapter is not None:
        from engine.pictures.adapter import run_adapter

        return (yield from run_adapter(spec, ctx, adapter))
    folder = picture_model_dir(spec.model)
    if folder is None:
        from engine.pictures.zeroshot import run as run_zero_shot

        return (yield from run_zero_shot(spec, ctx))
    return (yield from run_trained(spec, ctx, folder))


def run_trained(spec: Any, ctx: Any, folder: Path) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Pictures from a picture model: embed the clip's loudest 2.56 s, then one guided DDPM run
    per picture (on the CPU: the model is small, and the CPU keeps regeneration bit-identical)."""
    import torch
    from PIL import Image

    from engine.pictures.model import prepare_clip

    if spec.revision is not None:
        raise ValueError("a picture model folder has no revisions; leave the revision empty.")
    clip = prepare_clip(spec.audio, spec.sample_rate_hz)  # a one-line error for silence or a too-short clip
    yield Progress(stage="load", message=f"Loading {spec.model}")
    model = load_cached(folder)
    seed = spec.seed if spec.seed is not None else random_seed()
    guidance = 3.0 if spec.guidance_scale is None else spec.guidance_scale
    model_id = portable_picture_model_id(folder)
    with torch.no_grad():
        embedding = model.embed_audio(clip[None, :])
    results = []
    for index in range(spec.num_variations):
        seed_i = variation_seed(seed, index)
        label = f"Variation {index + 1}/{spec.num_variations}: " if spec.num_variations > 1 else ""
        sampling = model.sample_steps(embedding, seed_i, steps=spec.num_inference_steps, guidance=guidance)
        try:
            while True:
                step, total = next(sampling)
                ctx.check_cancelled()
                yield Progress(stage="denoise", step=step, total=total, message=f"{label}Drawing")
        except StopIteration as stop:
            pixels = stop.value
        one = replace(spec, num_variations=1, seed=seed_i)
        recipe = one.make_recipe(seed=seed_i, model_id=model_id, device="cpu", dtype="float32",
                                 facts={"path": "trained", "width": pixels.shape[1], "height": pixels.shape[0],
                                        "guidance": guidance})
        results.append(TaskResult(recipe=recipe, pictures=(Image.fromarray(pixels),)))
    return tuple(results)
