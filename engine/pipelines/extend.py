"""Extend (outpaint): add new audio before and/or after a clip, any length up to a minute per job.

    results = yield from run(ExtendJob(audio=clip, sample_rate_hz=44100, right_s=20.0,
                                       prompt="dog bark", seed=3), ctx)

The clip is placed on a canvas with empty space on the side(s) to fill. A window of ``window_s``
slides outwards from the clip: each tile shows the model ``context_s`` seconds of what is already
there (the clip, then what earlier tiles made) and generates the rest of the window; the next tile
starts where it stopped, until the requested length is reached. Right-hand tiles run first, left
to right with ``prompt``; then left-hand tiles, right to left with ``prompt_left``.

Seams: in the image, ``feather_px`` columns of the clip (and of each previous tile) are
regenerated and faded into the new picture. In the audio, the clip's samples are never touched:
the new audio is synthesised with them held fixed (see ``engine.audio.constrained_gl``), so it
continues the clip's waveform without a jump. The output contains the input array bit-identically,
starting at sample ``round(left_s * sample_rate_hz)`` (``recipe.facts["offset_samples"]``).

The clip may have any rate and channel count: the extension is made from a working copy at the
spectrogram's rate, and only the new audio comes back to the clip's rate, each side at the
loudness of the clip next to it (:func:`engine.pipelines.landing.land_extension`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from engine.specs import EditJob, Progress, TaskResult


def run(spec: EditJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Extend ``spec.audio``; returns one result: the whole extended clip, its image and recipe.

    Progress: "load", then for each tile ``Progress(stage="tile", step=i, total=n)`` followed by
    the tile's encode/denoise (one per step)/decode/invert reports; cancelling stops within one
    step.

    Raises:
        ValueError: the window leaves no room after the context; a LoRA that cannot load.
        ModelError: the model cannot be found or loaded. JobCancelledError: on cancel.
    """
    from engine.audio.params import width_for_duration
    from engine.pipelines.editing import CanvasEditor, canvas_columns, clip_pixels, image_with_params, plan_tiles
    from engine.pipelines.masks import feather, sample_index
    from engine.pipelines.generate import run_with_model
    from engine.pipelines.inpaint import run_tiles
    from engine.pipelines.landing import land_extension, upsample_runs, working_copy, working_length
    from engine.pipelines.generate import random_seed, recipe_for

    params = spec.spectrogram_params()
    hop = params.hop_length
    audio = working_copy(spec.audio, spec.sample_rate_hz, params.sample_rate)  # the model's rate
    channels, samples = audio.shape
    clip_columns = samples // hop
    if clip_columns < 1:
        raise ValueError(
            f"the clip is shorter than one spectrogram column ({hop / params.sample_rate * 1000:.0f} ms); "
            "nothing to continue from."
        )
    left = sample_index(spec.left_s, params.sample_rate)
    right = sample_index(spec.right_s, params.sample_rate)
    left_columns = -(-left // hop)
    offset = left_columns * hop  # where the clip starts on the canvas (a column boundary)
    total = canvas_columns(offset + samples + right, hop)
    feather_px = min(spec.feather_px, clip_columns)

    canvas_audio = np.zeros((channels, total * hop), dtype=np.float32)
    canvas_audio[:, offset : offset + samples] = audio
    clip_image, max_value = clip_pixels(audio, params, clip_columns)
    pixels = np.full((params.num_frequencies, total, 3), 255, dtype=np.uint8)
    pixels[:, left_columns : left_columns + clip_columns] = clip_image
    mask = np.zeros((params.num_frequencies, total), dtype=bool)
    pending = np.zeros(total * hop, dtype=bool)
    has_reference = np.zeros(total * hop, dtype=bool)
    has_reference[offset : offset + samples] = True
    window = min(width_for_duration(params, spec.window_s), total)
    context = min(int(round(spec.context_seconds * params.sample_rate / hop)), window - 8 - feather_px)
    tiles, prompts = [], []
    if right:
        lo = left_columns + clip_columns - feather_px
        mask[:, lo:] = True
        pending[offset + samples : offset + samples + right] = True
        right_tiles = plan_tiles(lo, total, total, window, context, 0, blend_px=feather_px)
        tiles += right_tiles
        prompts += [spec.prompt] * len(right_tiles)
    if left:
        hi = left_columns + feather_px
        mask[:, :hi] = True
        pending[offset - left : offset] = True
        left_tiles = plan_tiles(0, hi, total, window, 0, context, reverse=True, blend_px=feather_px)
        tiles += left_tiles
        prompt_left = spec.prompt if spec.prompt_left is None else spec.prompt_left
        prompts += [prompt_left] * len(left_tiles)
    editor = CanvasEditor(params, canvas_audio, pixels, max_value, mask, feather(mask, feather_px), pending,
                          has_reference)
    seed = spec.seed if spec.seed is not None else random_seed()

    def work(loaded: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
        yield from run_tiles(editor, tiles, spec, loaded, seed, ctx, prompts=prompts)
        start = offset - left
        extended = editor.audio[:, start : offset + samples + right].copy()
        extended[:, left : left + samples] = audio  # already equal; makes the guarantee explicit
        first = start // hop
        image = image_with_params(editor.pixels[:, first : first + extended.shape[1] // hop], params, max_value)
        new, new_rate, new_left, upsampled = extended, params.sample_rate, left, {}
        if spec.upsampler:  # the new sides made full-band at the clip's rate, as inpaint's new audio
            fresh = np.ones(extended.shape[1], dtype=bool)
            fresh[left : left + samples] = False
            at_clip_rate = working_length(extended.shape[1], params.sample_rate, spec.sample_rate_hz)
            new, _, new_rate, upsampled["upsample"] = yield from upsample_runs(
                spec.upsampler, extended, fresh, params.sample_rate, spec.sample_rate_hz, at_clip_rate, seed,
                params.max_frequency)
            if new_rate != params.sample_rate:
                new_left = int(round(left * new_rate / params.sample_rate))
        out, clip_start, levels = land_extension(spec.audio, spec.sample_rate_hz, new, new_rate, new_left,
                                                 spec.left_s, spec.right_s)
        facts = {"offset_samples": clip_start, "tiles": [tile.to_json() for tile in tiles], "level": levels,
                 **upsampled}
        recipe = recipe_for(loaded, spec, seed=seed, params=params, width=window, facts=facts)
        return (TaskResult(recipe=recipe, audio=out, sample_rate_hz=int(spec.sample_rate_hz), image=image),)

    return (yield from run_with_model(spec, ctx, work))
