"""Prompt/seed interpolation into one continuous clip, through the real Engine with the tiny SD model (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from assets.make_tiny_sd import TINY_SD_DIR
from test_inpaint import FAST, HOP, RATE, engine, run_job  # noqa: F401 (engine: fixture)

from engine.api import InterpolateJob, spec_from_recipe
from engine.audio.loudness import CEILING_DBTP, TARGET_LUFS, integrated_loudness, true_peak_dbtp
from engine.audio.splice import jump_ratio
from engine.pipelines.interpolate import slerp
from engine.specs import run_to_end

SEGMENT = dict(window_s=1.28, crossfade_s=0.32)


@pytest.fixture(scope="module")
def morph(engine):
    spec = InterpolateJob(prompt="church bells", prompt_to="electronic beats", num_steps=3, seed=6, **SEGMENT, **FAST)
    (result,) = run_job(engine, spec)
    return spec, result


def test_length_and_continuity(morph):
    _, result = morph
    width, fade = 128, 32  # columns per segment and per crossfade
    assert result.audio.shape == (1, (3 * width - 2 * fade) * HOP)
    assert result.duration_s == pytest.approx(3 * 1.28 - 2 * 0.32)
    assert np.isfinite(result.audio).all()
    # At the generation loudness (or below it, if the true-peak ceiling capped the gain).
    level = result.recipe.facts["level"]
    assert true_peak_dbtp(result.audio) <= CEILING_DBTP + 1e-3
    assert integrated_loudness(result.audio, RATE) == pytest.approx(level["loudness_lufs"], abs=0.01)
    assert level["loudness_lufs"] == pytest.approx(TARGET_LUFS, abs=0.1) or level["true_peak_dbtp"] == pytest.approx(
        CEILING_DBTP, abs=0.01)
    for join in (width - fade, 2 * width - 2 * fade):  # where each crossfade starts and ends
        for at in (join * HOP, (join + fade) * HOP):
            assert jump_ratio(result.audio, at) < 3.0
    assert result.image.size == (3 * width - 2 * fade, 64)
    assert result.recipe.facts["alphas"] == [0.0, 0.5, 1.0]


def test_the_ends_are_the_two_prompts_and_the_middle_is_between(morph):
    from diffusers import StableDiffusionPipeline

    from engine.audio.spectrogram import get_preset
    from engine.pipelines.editing import model_pixels
    from engine.pipelines.sampling import denoise, to_uint8

    spec, result = morph
    pipe = StableDiffusionPipeline.from_pretrained(TINY_SD_DIR, safety_checker=None, requires_safety_checker=False)
    params = get_preset("riffusion")

    def picture(prompt: str) -> np.ndarray:
        gen = denoise(pipe, prompt=prompt, negative_prompt="", height=64, width=128, num_inference_steps=2,
                      guidance_scale=spec.guidance_scale, scheduler=spec.scheduler, generator_seed=6)
        return to_uint8(model_pixels(run_to_end(gen), params))

    image = np.asarray(result.image)
    first, last = picture("church bells"), picture("electronic beats")
    # Outside the crossfades, segment 0 is prompt A's own picture and segment 2 prompt B's, pixel for pixel.
    assert np.array_equal(image[:, : 128 - 32], first[:, : 128 - 32])
    assert np.array_equal(image[:, -(128 - 32) :], last[:, 32:])
    middle = image[:, 128 : 2 * 128 - 2 * 32]
    assert not np.array_equal(middle, first[:, 32:96]) and not np.array_equal(middle, last[:, 32:96])


def test_recipe_regenerates_identically(engine, morph):
    _, result = morph
    (again,) = run_job(engine, spec_from_recipe(result.recipe))
    assert np.array_equal(again.audio, result.audio)


def test_slerp_keeps_the_noise_on_the_sphere():
    a = torch.randn(1, 4, 8, 16, generator=torch.Generator().manual_seed(1))
    b = torch.randn(1, 4, 8, 16, generator=torch.Generator().manual_seed(2))
    assert torch.equal(slerp(0.0, a, b), a) or torch.allclose(slerp(0.0, a, b), a, atol=1e-6)
    assert torch.allclose(slerp(1.0, a, b), b, atol=1e-5)
    middle = slerp(0.5, a, b)
    # A linear mix of two independent Gaussians shrinks to ~0.71 of their norm; slerp does not.
    assert float(middle.norm() / a.norm()) == pytest.approx(float(b.norm() / a.norm()) ** 0.5, rel=0.05)


def test_seed_interpolation_moves_the_noise(engine):
    spec = InterpolateJob(prompt="rain", prompt_to="rain", num_steps=3, seed=1, seed_to=2, **SEGMENT, **FAST)
    (result,) = run_job(engine, spec)
    assert result.recipe.params["seed_to"] == 2 and np.isfinite(result.audio).all()
    (one_seed,) = run_job(engine, InterpolateJob(prompt="rain", prompt_to="rain", num_steps=3, seed=1, **SEGMENT, **FAST))
    assert result.audio.shape == one_seed.audio.shape
    assert not np.array_equal(result.audio, one_seed.audio)  # the noise really travels to seed 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_steps=1), "`num_steps` must be between 2"),
        (dict(num_steps=64, window_s=20.0), "at most 600 s"),
        (dict(crossfade_s=3.0), "`crossfade_s` must be between 0"),
        (dict(seed_to=-1), "`seed_to` must be between 0"),
    ],
)
def test_absurd_interpolations_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InterpolateJob(prompt="a", prompt_to="b", **kwargs)
