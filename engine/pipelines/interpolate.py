"""Interpolate between two prompts and/or seeds into one continuous clip, as Riffusion does.

    results = yield from run(InterpolateJob(prompt="church bells", prompt_to="electronic beats",
                                            num_steps=5, seed=1, seed_to=2), ctx)

Segment ``i`` of ``num_steps`` is a ``window_s`` spectrogram generated with ``alpha = i / (N - 1)``:
the CLIP text embeddings are interpolated linearly (``a + alpha * (b - a)``, Riffusion's
``riffuse``) and the initial latent noise spherically (Riffusion's ``slerp`` of the two seeds'
noise). Segments are inverted at one common level (no per-segment normalisation, so loudness
moves smoothly), joined with equal-power crossfades of ``crossfade_s`` and the whole clip is
brought to the generation loudness target once (true-peak ceiling; the gain is in
``recipe.facts["level"]``).

Interpolating between two *different* seeds needs ``engine.pipelines.sampling.denoise`` to take
the initial noise (``initial_noise=``); with one seed the noise is the same for every segment
(slerp of a vector with itself) and only the prompts move.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from engine.specs import Progress, TaskResult, WindowedJob


def slerp(alpha: float, v0: Any, v1: Any, dot_threshold: float = 0.9995) -> Any:
    """Spherical interpolation of two tensors (Riffusion's ``torch_util.slerp``), computed in float64.

    Falls back to linear interpolation when the two are nearly parallel (``|cos| > dot_threshold``).
    Returns a tensor of ``v0``'s dtype and device.
    """
    import torch

    a, b = v0.double(), v1.double()
    dot = torch.sum(a * b) / (torch.linalg.norm(a) * torch.linalg.norm(b))
    if torch.abs(dot) > dot_threshold:
        mixed = (1 - alpha) * a + alpha * b
    else:
        theta = torch.arccos(dot)
        mixed = (torch.sin(theta * (1 - alpha)) * a + torch.sin(theta * alpha) * b) / torch.sin(theta)
    return mixed.to(dtype=v0.dtype, device=v0.device)


def alphas(num_steps: int) -> list[float]:
    """``alpha`` of each segment: evenly spaced from 0 to 1 inclusive."""
    return [i / (num_steps - 1) for i in range(num_steps)]


def run(spec: WindowedJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Generate the interpolation; returns one result: the joined clip, its image and recipe.

    Progress: "load", "encode" (the prompts), then per segment ``Progress(stage="tile", step=i,
    total=N)`` followed by its encode/denoise/decode/invert reports.

    Raises:
        ValueError: two different seeds without engine support for the initial noise; an unknown
            preset or a size not divisible by 8; a LoRA that cannot load.
        ModelError: the model cannot be loaded. JobCancelledError: on cancel.
    """
    import torch

    from engine.audio.loudness import level_to_target
    from engine.audio.params import DEFAULT_MAX_VALUE, width_for_duration
    from engine.pipelines.editing import image_with_params
    from engine.pipelines.masks import sample_index
    from engine.pipelines.stitching import stitch_windows, synthesise_window
    from engine.pipelines.generate import run_with_model
    from engine.pipelines.sampling import check_size, denoise, pipeline_of
    from engine.pipelines.generate import job_vocoder, random_seed, recipe_for, upsample

    params = spec.spectrogram_params()
    height, width = params.num_frequencies, width_for_duration(params, spec.window_s)
    check_size(height, width)
    seed = spec.seed if spec.seed is not None else random_seed()
    seed_to = spec.seed_to if spec.seed_to is not None else seed
    hop = params.hop_length
    crossfade = sample_index(spec.crossfade_s, params.sample_rate) // hop * hop  # whole columns

    def work(loaded: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
        pipe = pipeline_of(loaded)
        yield Progress(stage="encode", step=0, total=1, message="Encoding the prompts")
        with torch.no_grad():
            embeds_from, negative = pipe.encode_prompt(spec.prompt, loaded.device, 1, True, spec.negative_prompt)
            embeds_to = pipe.encode_prompt(spec.prompt_to, loaded.device, 1, False)[0]
        shape = (1, int(pipe.vae.config.latent_channels), height // pipe.vae_scale_factor, width // pipe.vae_scale_factor)
        noise_from, noise_to = (
            torch.randn(shape, generator=torch.Generator("cpu").manual_seed(int(s)), dtype=embeds_from.dtype)
            for s in (seed, seed_to)
        )
        vocoder = job_vocoder(spec, ctx, loaded.device, spec.griffin_lim_iters)
        waves, planes = [], []
        for index, alpha in enumerate(alphas(spec.num_steps)):
            label = f"Segment {index + 1}/{spec.num_steps}"
            yield Progress(stage="tile", step=index, total=spec.num_steps, message=label)
            noise_args = {"initial_noise": slerp(alpha, noise_from, noise_to)} if seed_to != seed else {}
            denoising = denoise(
                loaded,
                prompt_embeds=torch.lerp(embeds_from, embeds_to, alpha),  # exact at 0 and 1
                negative_prompt_embeds=negative,
                height=height,
                width=width,
                num_inference_steps=spec.num_inference_steps,
                guidance_scale=spec.guidance_scale,
                scheduler=spec.scheduler,
                generator_seed=seed,
                preview_every=spec.preview_every,
                ctx=ctx,
                **noise_args,
            )
            wave, pixels = yield from synthesise_window(
                denoising, label=label, params=params, max_value=DEFAULT_MAX_VALUE, vocoder=vocoder, seed=seed,
                device=loaded.device, ctx=ctx,
            )
            waves.append(wave)
            planes.append(pixels)
        yield Progress(stage="tile", step=spec.num_steps, total=spec.num_steps, message="Segments done")
        starts = [i * (width - crossfade // hop) for i in range(len(waves))]
        joined, picture = stitch_windows(waves, planes, starts, crossfade // hop, hop)
        columns, rate, upsampled = joined.shape[1] // hop, int(params.sample_rate), {}
        if spec.upsampler:  # as generate: the clip comes out at the upsampler's rate
            joined, rate, upsampled["upsample"] = yield from upsample(spec.upsampler, joined, rate, seed)
        audio, level = level_to_target(joined, rate)
        recipe = recipe_for(loaded, spec, seed=seed, params=params, width=width,
                            facts={"alphas": alphas(spec.num_steps), "level": level.to_json(), **upsampled})
        image = image_with_params(picture[:, :columns], params, DEFAULT_MAX_VALUE)
        return (TaskResult(recipe=recipe, audio=audio, sample_rate_hz=rate, image=image),)

    return (yield from run_with_model(spec, ctx, work))
