"""Inpaint: regenerate a region of a clip's spectrogram and splice the new audio into the clip.

    results = yield from run(InpaintJob(audio=clip, sample_rate_hz=44100, start_s=1.0, end_s=2.5,
                                        prompt="train horn", seed=7), ctx)

The region (a time band, optionally limited in frequency, boxes in seconds x Hz, or a painted
mask) becomes a mask on the clip's spectrogram; the model repaints it window by window (see
:mod:`engine.pipelines.editing`), working with 4-channel UNets (Riffusion: the known region is
blended back at every step) and 9-channel inpainting UNets alike.

What stays exactly as it was:

* the image: every pixel outside the mask (the feather ramps lie inside it);
* the audio: every sample outside the masked time span. Inside it, the new audio is
  synthesised with the original's samples outside the span held fixed and, for a
  frequency-limited mask, the original's STFT kept outside the band; it is spliced in with a
  linear crossfade of ``crossfade_s`` at each edge of the span, inside the span.

The clip may have any sample rate and channel count: the edit runs on a working copy at the
spectrogram's rate and only the replaced span comes back to the clip's rate, at the loudness of
the audio around it (:func:`engine.pipelines.landing.land_region`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from engine.specs import Progress, RegionEditJob, TaskResult


def region_of(spec: Any, params: Any, clip_columns: int, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The job's region: a bool mask ``(num_frequencies, clip_columns)`` in mel order and the bool
    ``(samples,)`` of the samples it replaces, both on the working copy (``samples`` at the
    spectrogram's rate).

    A time band or boxes replace exactly their seconds; a painted mask replaces the samples of
    every column it touches. Raises ValueError for a band with no mel bin, a painted mask of the
    wrong shape or one that marks nothing.
    """
    from engine.pipelines.masks import mask_from_boxes, painted_mask, sample_index

    spans = np.zeros(samples, dtype=bool)
    rate = params.sample_rate
    if spec.mask is not None:
        mask = painted_mask(spec.mask, params, clip_columns)
        for column in np.flatnonzero(mask.any(axis=0)):
            spans[column * params.hop_length : (column + 1) * params.hop_length] = True
        return mask, spans
    boxes = spec.boxes or ((spec.start_s, spec.end_s, spec.fmin_hz, spec.fmax_hz),)
    mask = mask_from_boxes(params, clip_columns, boxes)
    for start_s, end_s, _fmin, _fmax in boxes:
        start, end = sample_index(start_s, rate), min(sample_index(end_s, rate), samples)
        spans[start:end] = True
    if not spans.any():
        raise ValueError("the region to inpaint holds no samples of the clip.")
    if not mask.any():
        raise ValueError(
            "the region to inpaint covers no whole spectrogram column of the clip; make it longer than "
            f"{params.hop_length / rate * 1000:.0f} ms."
        )
    return mask, spans


def inpaint_clip(
    spec: Any,
    loaded: Any,
    params: Any,
    audio: np.ndarray,
    mask_mel: np.ndarray,
    spans: np.ndarray,
    seed: int,
    ctx: Any,
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray, float, list[Any]]]:
    """Repaint ``mask_mel`` of ``audio`` (the clip's working copy, (channels, samples)) and
    resynthesise the ``spans`` samples.

    ``spec`` supplies the generation settings (prompt, steps, strength, window_s, context_s,
    feather_px, ...). Tile ``i`` uses seed ``seed + i``. Returns the resynthesised audio (same
    shape; samples outside ``spans`` are ``audio``'s; splice it in with
    :func:`engine.pipelines.landing.land_region`), the edited pixels
    ``(num_frequencies, samples // hop, 3)``, the spectrogram's MAX_VALUE and the tiles.
    """
    from engine.audio.spectrogram import width_for_duration
    from engine.pipelines.editing import CanvasEditor, canvas_columns, clip_pixels, plan_tiles
    from engine.pipelines.masks import feather

    hop = params.hop_length
    channels, samples = audio.shape
    clip_columns = samples // hop
    total = canvas_columns(samples, hop)
    canvas_audio = np.zeros((channels, total * hop), dtype=np.float32)
    canvas_audio[:, :samples] = audio
    pixels, max_value = clip_pixels(audio, params, total)
    mask = np.zeros((params.num_frequencies, total), dtype=bool)
    mask[:, :clip_columns] = mask_mel[::-1]
    # Samples of the clip's last partial column have no image column: give them the last one's mask.
    if spans[clip_columns * hop :].any() and clip_columns < total:
        mask[:, clip_columns] = mask[:, clip_columns - 1] if clip_columns else True
    pending = np.zeros(total * hop, dtype=bool)
    pending[:samples] = spans
    has_reference = np.zeros(total * hop, dtype=bool)
    has_reference[:samples] = True
    editor = CanvasEditor(params, canvas_audio, pixels, max_value, mask, feather(mask, spec.feather_px),
                          pending, has_reference)

    columns = np.flatnonzero(mask.any(axis=0))
    window = min(width_for_duration(params, spec.window_s), total)
    context = int(round(spec.context_seconds * params.sample_rate / hop))
    tiles = plan_tiles(int(columns[0]), int(columns[-1]) + 1, total, window, context, context,
                       blend_px=spec.feather_px)
    yield from run_tiles(editor, tiles, spec, loaded, seed, ctx, prompts=[spec.prompt] * len(tiles))

    return editor.audio[:, :samples], editor.pixels[:, :clip_columns], max_value, tiles


def run_tiles(
    editor: Any, tiles: list[Any], spec: Any, loaded: Any, seed: int, ctx: Any, *, prompts: list[str],
    pixels_only: bool = False,
) -> Generator[Progress, None, None]:
    """Run ``tiles`` on ``editor`` in order with ``prompts[i]`` and seed ``seed + i``.

    ``pixels_only``: the editor has no pending samples (its audio is made from the finished
    image), so no vocoder is loaded and the spec needs no ``griffin_lim_iters``.

    Reports ``Progress(stage="tile", step=i, total=n)`` before tile ``i`` and ``step=n`` at the
    end, and relays each tile's own progress (labelled "Tile i/n" when there are several).
    """
    from engine.pipelines.generate import job_vocoder, variation_seed
    from engine.vocoders import DEFAULT_VOCODER

    # Griffin-Lim is the constrained synthesis itself; a neural vocoder resynthesises its new samples.
    griffin_lim_iters = 0 if pixels_only else spec.griffin_lim_iters
    vocoder = None if pixels_only or spec.vocoder == DEFAULT_VOCODER else job_vocoder(spec, ctx, loaded.device, griffin_lim_iters)
    count = len(tiles)
    for index, (tile, prompt) in enumerate(zip(tiles, prompts)):
        label = f"Tile {index + 1}/{count}" if count > 1 else ""
        yield Progress(stage="tile", step=index, total=count, message=label or "Tile 1/1")
        yield from editor.run_tile(
            loaded,
            tile,
            prompt=prompt,
            negative_prompt=spec.negative_prompt,
            seed=variation_seed(seed, index),
            num_inference_steps=spec.num_inference_steps,
            guidance_scale=spec.guidance_scale,
            scheduler=spec.scheduler,
            strength=getattr(spec, "strength", 1.0),
            griffin_lim_iters=griffin_lim_iters,
            preview_every=spec.preview_every,
            ctx=ctx,
            label=label,
            vocoder=vocoder,
        )
    yield Progress(stage="tile", step=count, total=count, message="Tiles done")


def run(spec: RegionEditJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Inpaint ``spec``'s region; returns one result holding the whole edited clip.

    The result's audio has the input's shape and sample rate; its image is the working copy's
    spectrogram with the region repainted (Riffusion EXIF, the clip's MAX_VALUE); its recipe
    regenerates it from the same input audio (:func:`engine.api.spec_from_recipe`) and records the
    level gain (``facts["level"]``).

    Raises:
        ValueError: the region holds no mel bin or column, a painted mask has the wrong shape
            (columns of the working copy, :func:`engine.pipelines.landing.working_length`), a LoRA
            cannot load.
        ModelError: the model cannot be found or loaded (never downloaded here).
        JobCancelledError: on cancel, within one denoising step.
    """
    from engine.pipelines.editing import image_with_params
    from engine.pipelines.landing import land_region, upsample_runs, working_copy
    from engine.pipelines.generate import random_seed, recipe_for, run_with_model

    params = spec.spectrogram_params()
    audio = working_copy(spec.audio, spec.sample_rate_hz, params.sample_rate)
    clip_columns = audio.shape[1] // params.hop_length
    if clip_columns < 8:
        raise ValueError(
            f"the clip is {spec.duration_s:.3f} s long; inpainting needs at least 8 spectrogram columns "
            f"({8 * params.hop_length / params.sample_rate:.2f} s)."
        )
    mask_mel, spans = region_of(spec, params, clip_columns, audio.shape[1])
    seed = spec.seed if spec.seed is not None else random_seed()

    def work(loaded: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
        edited, pixels, max_value, tiles = yield from inpaint_clip(
            spec, loaded, params, audio, mask_mel, spans, seed, ctx
        )
        masked = mask_mel.any(axis=0)
        full_band = bool((mask_mel[:, masked] == masked[masked]).all())  # every masked column is masked top to bottom
        facts: dict[str, Any] = {}
        new, new_spans, new_rate = edited, spans, params.sample_rate
        keep_above = None
        if spec.upsampler and not full_band:
            # A region limited in frequency lies below the model's top: the band above it is the
            # clip's own, kept as it is rather than drawn by the upsampler.
            keep_above = float(params.max_frequency)
            facts["kept_above_hz"] = keep_above
        elif spec.upsampler:
            new, new_spans, new_rate, facts["upsample"] = yield from upsample_runs(
                spec.upsampler, edited, spans, params.sample_rate, spec.sample_rate_hz, spec.audio.shape[1], seed,
                params.max_frequency)
        out, level = land_region(spec.audio, spec.sample_rate_hz, new, new_spans, new_rate, spec.crossfade_s,
                                 full_band=full_band, keep_above_hz=keep_above)
        recipe = recipe_for(loaded, spec, seed=seed, params=params, width=tiles[0].width,
                            facts={"tiles": [tile.to_json() for tile in tiles], "level": level.to_json(), **facts})
        image = image_with_params(pixels, params, max_value)
        return (TaskResult(recipe=recipe, audio=out, sample_rate_hz=int(spec.sample_rate_hz), image=image),)

    return (yield from run_with_model(spec, ctx, work))
