"""Loop: make a clip, or a range of it, loop seamlessly by inpainting its wrap-around seam.

    results = yield from run(LoopJob(audio=clip, sample_rate_hz=44100, seam_s=1.0, seed=5), ctx)

The loop (the range, ``n`` samples) is rotated left by about half its length, a whole number of
spectrogram columns, so that its end meets its start in the middle of the rotated audio. A
full-height band of ``seam_s`` seconds centred on that seam is inpainted exactly as
:mod:`engine.pipelines.inpaint` does (the model sees the loop's end on the left and its start on
the right as context; the new audio is synthesised with both held fixed), and the result is
rotated back. Playing the result in a loop, the wrap from its last sample to its first falls in
the middle of the regenerated band, where the audio is continuous; every sample outside the band
is the input's, bit-identical.

The result's audio is the loop itself (the range) at the clip's own rate and channels, ready to
become a loop clip; the band is regenerated on a working copy at the spectrogram's rate and comes
back at the loudness of the rest of the loop (:func:`engine.pipelines.landing.land_region`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from engine.specs import Progress, RegionEditJob, TaskResult


def rotation_for(num_samples: int, hop_length: int) -> int:
    """Samples to rotate a loop of ``num_samples`` left by: half its whole columns, times the hop."""
    return (num_samples // hop_length) // 2 * hop_length


def run(spec: RegionEditJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Make ``spec``'s range loop; returns one result holding the loop audio, image and recipe.

    Raises:
        ValueError: the loop is shorter than 16 spectrogram columns, a LoRA cannot load. ModelError: the model cannot be loaded.
        JobCancelledError: on cancel.
    """
    from engine.pipelines.editing import image_with_params
    from engine.pipelines.masks import mask_from_boxes, sample_index
    from engine.pipelines.generate import run_with_model
    from engine.pipelines.inpaint import inpaint_clip
    from engine.pipelines.landing import land_region, upsample_runs, working_copy
    from engine.pipelines.generate import random_seed, recipe_for

    params = spec.spectrogram_params()
    hop, clip_rate, rate = params.hop_length, spec.sample_rate_hz, params.sample_rate
    audio = np.asarray(spec.audio)
    start = 0 if spec.start_s is None else sample_index(spec.start_s, clip_rate)
    end = audio.shape[1] if spec.end_s is None else min(sample_index(spec.end_s, clip_rate), audio.shape[1])
    clip_loop = audio[:, start:end]
    loop = working_copy(clip_loop, clip_rate, rate)  # the model's rate
    samples = loop.shape[1]
    if samples // hop < 16:
        raise ValueError(
            f"the loop is {samples / rate:.3f} s long; it needs at least 16 spectrogram columns "
            f"({16 * hop / rate:.2f} s)."
        )
    shift = rotation_for(samples, hop)
    rotated = np.roll(loop, -shift, axis=1)
    seam = samples - shift
    half = sample_index(spec.seam_s, rate) // 2
    band_lo, band_hi = max(seam - half, 1), min(seam + half, samples - 1)
    mask_mel = mask_from_boxes(params, samples // hop, [(band_lo / rate, band_hi / rate, None, None)])
    spans = np.zeros(samples, dtype=bool)
    spans[band_lo:band_hi] = True
    seed = spec.seed if spec.seed is not None else random_seed()

    def work(loaded: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
        edited, pixels, max_value, tiles = yield from inpaint_clip(
            spec, loaded, params, rotated, mask_mel, spans, seed, ctx
        )
        # Back at the clip's rate: the clip's loop rotated by the same time, the band spliced in.
        clip_shift = int(round(shift * clip_rate / rate))
        upsampled: dict[str, Any] = {}
        new, new_spans, new_rate = edited, spans, rate
        if spec.upsampler:
            new, new_spans, new_rate, upsampled["upsample"] = yield from upsample_runs(
                spec.upsampler, edited, spans, rate, clip_rate, clip_loop.shape[1], seed, params.max_frequency)
        out, level = land_region(np.roll(clip_loop, -clip_shift, axis=1), clip_rate, new, new_spans, new_rate,
                                 spec.crossfade_s)
        clip_samples = clip_loop.shape[1]
        band = [int(round(i * clip_rate / rate) + clip_shift) % clip_samples for i in (band_lo, band_hi)]
        facts = {
            "rotation_samples": clip_shift,
            "band_samples": band,
            "tiles": [tile.to_json() for tile in tiles],
            "level": level.to_json(),
            **upsampled,
        }
        recipe = recipe_for(loaded, spec, seed=seed, params=params, width=tiles[0].width, facts=facts)
        image = image_with_params(np.roll(pixels, shift // hop, axis=1), params, max_value)
        return (TaskResult(recipe=recipe, audio=np.roll(out, clip_shift, axis=1), sample_rate_hz=int(clip_rate),
                           image=image),)

    return (yield from run_with_model(spec, ctx, work))
