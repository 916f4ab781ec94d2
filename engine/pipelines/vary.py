"""Variations (the ``vary`` task; audio to audio): img2img over a clip's spectrogram, any length, like Riffusion's.

    results = yield from run(VaryJob(audio=clip, sample_rate_hz=44100, strength=0.4,
                                          prompt="jazz piano", seed=1), ctx)

The clip's spectrogram is cut into windows of ``window_s`` that overlap by ``overlap_s``; each
window is denoised from the clip's own picture with ``strength`` of the schedule (Riffusion's
audio-to-audio: about 0.4 for light, 0.55 for heavy changes), inverted to audio with a seeded
Griffin-Lim at the clip's own level (the clip's MAX_VALUE, no normalisation), and the windows are
joined with equal-power crossfades over their overlaps (independently synthesised audio adds in
power). As in Riffusion, every window of one variation uses the same seed.

Each result has the input's length, sample rate and channel count (a mono spectrogram's audio is
copied to every channel; the work is done on a copy at the spectrogram's rate) and the input's
loudness (:func:`engine.pipelines.landing.land_whole`, true-peak ceiling). Variation ``i`` uses
seed ``seed + i`` and regenerates from its recipe alone plus the input audio.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from engine.specs import EditJob, Progress, TaskResult


def window_starts(total_columns: int, window_px: int, overlap_px: int) -> list[int]:
    """First column of each window covering ``total_columns``, evenly spaced, overlapping by >= ``overlap_px``.

    As few windows as that overlap allows; the first starts at 0 and the last ends at the canvas'
    end. Raises ValueError if the window is wider than the canvas or the overlap leaves no step.
    """
    if window_px > total_columns:
        raise ValueError(f"the window ({window_px} px) is wider than the canvas ({total_columns} px).")
    if not 0 <= overlap_px < window_px:
        raise ValueError(f"an overlap of {overlap_px} px leaves no step in a {window_px}-px window.")
    if total_columns == window_px:
        return [0]
    count = 1 + -(-(total_columns - window_px) // (window_px - overlap_px))
    return [round(i * (total_columns - window_px) / (count - 1)) for i in range(count)]


def run(spec: EditJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Make ``spec.num_variations`` variations of the clip; returns them in order.

    Progress: "load", then per variation and window ``Progress(stage="tile", step=k, total=n)``
    followed by the window's encode/denoise/decode and "invert" reports.

    Raises:
        ValueError: the clip is shorter than one column, a LoRA cannot load. ModelError: the model cannot be loaded. JobCancelledError: on cancel.
    """
    from engine.audio.io import to_channels
    from engine.audio.params import width_for_duration
    from engine.pipelines.editing import canvas_columns, clip_pixels, image_with_params
    from engine.pipelines.stitching import stitch_windows, synthesise_window
    from engine.pipelines.generate import run_with_model
    from engine.pipelines.landing import land_whole, upsample_runs, working_copy
    from engine.pipelines.sampling import denoise
    from engine.pipelines.generate import job_vocoder, random_seed, recipe_for, variation_seed

    params = spec.spectrogram_params()
    hop = params.hop_length
    audio = working_copy(spec.audio, spec.sample_rate_hz, params.sample_rate)  # the model's rate
    channels, samples = audio.shape
    if samples < hop:
        raise ValueError(f"the clip is shorter than one spectrogram column ({hop} samples).")
    total = canvas_columns(samples, hop)
    canvas_audio = np.zeros((channels, total * hop), dtype=np.float32)
    canvas_audio[:, :samples] = audio
    pixels, max_value = clip_pixels(canvas_audio, params, total)  # includes the last partial column
    window = min(width_for_duration(params, spec.window_s), total)
    overlap = min(int(round(spec.overlap_s * params.sample_rate / hop)), window // 2)
    starts = window_starts(total, window, overlap)
    seed = spec.seed if spec.seed is not None else random_seed()

    def work(loaded: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
        vocoder = job_vocoder(spec, ctx, loaded.device, spec.griffin_lim_iters)
        results = []
        for variation in range(spec.num_variations):
            seed_v = variation_seed(seed, variation)
            waves, planes = [], []
            for index, start in enumerate(starts):
                label = f"Variation {variation + 1}/{spec.num_variations}, window {index + 1}/{len(starts)}"
                yield Progress(stage="tile", step=index, total=len(starts), message=label)
                denoising = denoise(
                    loaded,
                    prompt=spec.prompt,
                    negative_prompt=spec.negative_prompt,
                    height=params.num_frequencies,
                    width=window,
                    num_inference_steps=spec.num_inference_steps,
                    guidance_scale=spec.guidance_scale,
                    scheduler=spec.scheduler,
                    generator_seed=seed_v,
                    init_image=pixels[:, start : start + window],
                    strength=spec.strength,
                    preview_every=spec.preview_every,
                    ctx=ctx,
                )
                wave, window_pixels = yield from synthesise_window(
                    denoising, label=label, params=params, max_value=max_value, vocoder=vocoder, seed=seed_v,
                    device=loaded.device, ctx=ctx,
                )
                waves.append(wave)
                planes.append(window_pixels)
            yield Progress(stage="tile", step=len(starts), total=len(starts), message="Windows done")
            joined, picture = stitch_windows(waves, planes, starts, overlap, hop)
            new, new_rate, upsampled = to_channels(joined[:, :samples], channels), params.sample_rate, {}
            if spec.upsampler:  # the whole variation made full-band at the clip's rate
                new, _, new_rate, upsampled["upsample"] = yield from upsample_runs(
                    spec.upsampler, new, np.ones(samples, dtype=bool), params.sample_rate, spec.sample_rate_hz,
                    spec.audio.shape[1], seed_v, params.max_frequency)
            out, level = land_whole(spec.audio, spec.sample_rate_hz, new, new_rate)
            recipe = recipe_for(loaded, spec, seed=seed_v, params=params, width=window,
                                facts={"window_starts": starts, "level": level.to_json(), **upsampled})
            image = image_with_params(picture[:, : samples // hop], params, max_value)
            results.append(TaskResult(recipe=recipe, audio=out, sample_rate_hz=int(spec.sample_rate_hz), image=image))
        return tuple(results)

    return (yield from run_with_model(spec, ctx, work))
