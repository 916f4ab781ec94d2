"""Zero-shot pictures: a clip's AudioSet tags -> an editable prompt -> an SD 1.5-family image model.

1. The tagger (``MIT/ast-finetuned-audioset-10-10-0.4593`` by default: transformers'
   ``ASTForAudioClassification``, BSD-3-Clause) scores the 527 AudioSet classes on the loudest
   10.24 s of the clip (16 kHz mono); the top ``num_tags`` with their sigmoid scores are kept.
2. :func:`blend_prompt` makes the prompt: the user's own words first when given, then the tags
   (strongest first, as plain words any SD tokenizer reads), then the style. ``use_tags`` False
   takes the user's prompt as it is (a prompt they edited after seeing the tags). The recipe's
   facts keep the tags with their scores and the prompt.
3. The image model (a diffusers SD pipeline from the store, never downloaded here) draws
   ``num_variations`` pictures, one seed each, through the engine's denoising loop.

Taggers are found like other models: a folder with ``config.json``, ``preprocessor_config.json``
and safetensors weights, or a hub repo id already in the cache (no network).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.models.errors import ModelError, ModelNotDownloadedError
from engine.specs import Progress, TaskResult

TAGGER_WINDOW_S = 10.24
TAGGER_FILES = ("config.json", "preprocessor_config.json")
_cache: dict[str, Any] = {}


class TaggerNotDownloadedError(ModelNotDownloadedError):
    """The tagger is a hub id that is not in the cache."""

    def __init__(self, tagger: str, *, offline: bool) -> None:
        self.model_id, self.revision = tagger, None
        state = " and offline mode is on" if offline else ""
        ModelError.__init__(
            self,
            f"The AudioSet tagger '{tagger}' is not downloaded{state}. Zero-shot pictures need it: while online, run "
            f"`hf download {tagger}` (it goes to the Hugging Face cache) or pass --tagger FOLDER; the starter "
            "picture model (builtin:pictures) needs no download.",
        )


def blend_prompt(tags: Sequence[tuple[str, float]], words: str = "", style: str = "", use_tags: bool = True) -> str:
    """The image prompt: the user's ``words``, then the tags (strongest first), then ``style``.

    >>> blend_prompt([("Dog", 0.91), ("Bark", 0.62)], "in a park", "watercolour")
    'in a park, dog, bark, watercolour'
    """
    if not use_tags:
        return words.strip()
    parts = [words.strip()] if words.strip() else []
    parts += [label.lower() for label, _ in tags]
    if style.strip():
        parts.append(style.strip())
    return ", ".join(parts)


def resolve_tagger(store: Any, tagger: str) -> Path:
    """The folder of ``tagger`` (a folder, or a hub repo id in the store's cache; no network).

    Raises ModelNotFoundError / NotADiffusersModelError for a folder that is missing or not a
    tagger, TaggerNotDownloadedError (a ModelNotDownloadedError) for a hub id not in the cache.
    """
    from engine.models.errors import ModelNotFoundError, NotADiffusersModelError

    folder = Path(tagger).expanduser()
    looks_like_path = tagger.startswith((".", "/", "~")) or folder.is_dir() or tagger.count("/") != 1
    if looks_like_path:
        if not folder.is_dir():
            raise ModelNotFoundError(f"The tagger folder '{tagger}' does not exist.")
        _check_tagger_folder(folder, NotADiffusersModelError)
        return folder
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(tagger, "config.json", cache_dir=str(store.cache_dir))
    if isinstance(found, str):
        snapshot = Path(found).parent
        try:
            _check_tagger_folder(snapshot, NotADiffusersModelError)
            return snapshot
        except NotADiffusersModelError:
            pass
    raise TaggerNotDownloadedError(tagger, offline=store.is_offline)


def _check_tagger_folder(folder: Path, error: type) -> None:
    missing = [name for name in TAGGER_FILES if not (folder / name).is_file()]
    if not any(folder.glob("*.safetensors")):
        missing.append("*.safetensors weights")
    if missing:
        raise error(f"'{folder}' is not an AudioSet tagger: missing {', '.join(missing)} (expected a transformers "
                    "audio classifier such as MIT/ast-finetuned-audioset-10-10-0.4593).")


def load_tagger(folder: Path) -> tuple[Any, Any]:
    """(feature extractor, ASTForAudioClassification) from ``folder``, kept loaded (one at a time)."""
    key = str(folder.resolve())
    if key not in _cache:
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        from engine.models.loading import progress_bars_disabled

        _cache.clear()
        with progress_bars_disabled():
            extractor = AutoFeatureExtractor.from_pretrained(folder, local_files_only=True)
            model = AutoModelForAudioClassification.from_pretrained(folder, local_files_only=True,
                                                                    use_safetensors=True)
        _cache[key] = (extractor, model.eval())
    return _cache[key]


def tag(folder: Path, audio: np.ndarray, sample_rate_hz: int, count: int) -> list[tuple[str, float]]:
    """The ``count`` best AudioSet tags of a clip with their scores (sigmoid, 0..1), best first."""
    import torch

    from engine.pictures.model import prepare_clip

    extractor, model = load_tagger(folder)
    rate = int(getattr(extractor, "sampling_rate", 16000))
    mono = prepare_clip(audio, sample_rate_hz, window_s=TAGGER_WINDOW_S, rate_hz=rate)
    inputs = extractor(mono, sampling_rate=rate, return_tensors="pt")
    with torch.no_grad():
        scores = torch.sigmoid(model(**inputs).logits[0])
    best = torch.argsort(scores, descending=True, stable=True)[:count].tolist()
    labels = model.config.id2label
    return [(str(labels.get(i, labels.get(str(i), f"class {i}"))), round(float(scores[i]), 4)) for i in best]


def run(spec: Any, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    ctx.store.resolve(spec.model, spec.revision)  # a missing image model is reported before tagging
    tags: list[tuple[str, float]] = []
    if spec.use_tags:
        yield Progress(stage="load", message=f"Loading the tagger {spec.tagger}")
        folder = resolve_tagger(ctx.store, spec.tagger)
        yield Progress(stage="encode", message="Tagging the clip")
        tags = tag(folder, spec.audio, spec.sample_rate_hz, spec.num_tags)
    else:
        from engine.pictures.model import prepare_clip

        prepare_clip(spec.audio, spec.sample_rate_hz)  # the same messages for silence and short clips
    prompt = blend_prompt(tags, spec.prompt, spec.style, spec.use_tags)
    if not prompt:
        raise ValueError("the prompt is empty: give some words, or let the tags make it.")
    yield Progress(stage="load", message=f"Loading {spec.model}")
    policy = ctx.settings.load_policy() if ctx.settings is not None else None
    loaded = ctx.pipelines.get(spec.model, spec.revision, **({"policy": policy} if policy is not None else {}))
    return (yield from draw_variations(
        loaded, spec, ctx, {"path": "zero-shot", "prompt": prompt, "tags": [[label, score] for label, score in tags]},
        model_id=loaded.model_id, model_revision=loaded.resolved.revision,
        prompt=prompt, negative_prompt=spec.negative_prompt,
    ))  # fmt: skip


def draw_variations(
    loaded: Any, spec: Any, ctx: Any, facts: dict[str, Any], *, model_id: str, model_revision: str | None = None,
    **prompt: Any,
) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """``spec.num_variations`` pictures from the loaded SD pipeline, one denoising run each (seeds
    SEED, SEED+1, ... by ``variation_seed``; a random SEED when the spec has none; guidance 7.5 by
    default), each with its one-picture recipe: ``facts`` plus the guidance and size. ``prompt``
    is the text or embeddings keywords ``denoise`` takes."""
    from PIL import Image

    from engine.pictures.illustrate import random_seed, variation_seed
    from engine.pipelines.generate import dtype_name
    from engine.pipelines.sampling import denoise, to_uint8

    seed = spec.seed if spec.seed is not None else random_seed()
    guidance = 7.5 if spec.guidance_scale is None else spec.guidance_scale
    facts = {**facts, "guidance": guidance, "width": spec.width, "height": spec.height}
    results = []
    for index in range(spec.num_variations):
        seed_i = variation_seed(seed, index)
        pixels = yield from denoise(
            loaded, height=spec.height, width=spec.width, num_inference_steps=spec.num_inference_steps,
            guidance_scale=guidance, scheduler=spec.scheduler, generator_seed=seed_i, ctx=ctx, **prompt,
        )  # fmt: skip
        recipe = replace(spec, num_variations=1, seed=seed_i).make_recipe(
            seed=seed_i, model_id=model_id, model_revision=model_revision, device=loaded.device.type,
            dtype=dtype_name(loaded.dtype), facts=facts,
        )  # fmt: skip
        results.append(TaskResult(recipe=recipe, pictures=(Image.fromarray(to_uint8(pixels)),)))
    return tuple(results)
