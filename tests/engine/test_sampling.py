"""The shared denoising core against diffusers' own pipelines, on the tiny SD models (CPU)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.pipelines.sampling import denoise
from engine.pipelines.schedulers import make_scheduler
from engine.specs import SCHEDULER_NAMES, JobCancelledError, collect_progress

ASSETS = Path(__file__).resolve().parents[1] / "assets"
H, W = 128, 64  # small images keep these CPU tests fast; the audio tests use the real 512 rows


drive = collect_progress  # run a job generator to the end: (return value, list of Progress)


@pytest.fixture(scope="module")
def make_tiny_pipeline():
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    pipes = {}

    def make(kind: str = "sd"):
        if kind not in pipes:
            cls, folder = {
                "sd": (StableDiffusionPipeline, "tiny-sd"),
                "inpaint": (StableDiffusionInpaintPipeline, "tiny-sd-inpaint"),
            }[kind]
            pipe = cls.from_pretrained(ASSETS / folder, safety_checker=None, requires_safety_checker=False)
            pipe.set_progress_bar_config(disable=True)
            pipes[kind] = pipe
        return pipes[kind]

    return make


@pytest.fixture(scope="module")
def init_and_mask():
    rng = np.random.default_rng(0)
    init = rng.random((H, W, 3)).astype(np.float32)
    mask = np.zeros((H, W), np.float32)
    mask[:, 16:40] = 1.0  # repaint a time range, keep the rest
    return init, mask


def _reference(pipe_cls, components, scheduler_name, **kwargs):
    pipe = pipe_cls(**components)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = make_scheduler(scheduler_name, components["scheduler"].config)
    return pipe(generator=torch.Generator("cpu").manual_seed(kwargs.pop("seed")), output_type="np", **kwargs).images[0]


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_text_to_image_equals_diffusers_pipeline(make_tiny_pipeline, scheduler):
    from diffusers import StableDiffusionPipeline

    pipe = make_tiny_pipeline()
    image, events = drive(
        denoise(pipe, prompt="jazz piano", negative_prompt="drums", height=H, width=W,
                num_inference_steps=3, guidance_scale=7.0, scheduler=scheduler, generator_seed=5)
    )
    ref = _reference(StableDiffusionPipeline, pipe.components, scheduler, seed=5, prompt="jazz piano",
                     negative_prompt="drums", height=H, width=W, num_inference_steps=3, guidance_scale=7.0)
    assert image.dtype == np.float32 and image.shape == (H, W, 3)
    assert 0.0 <= image.min() and image.max() <= 1.0
    np.testing.assert_array_equal(image, ref)
    stages = [e.stage for e in events]
    assert stages[0] == "encode" and stages[-1] == "decode"
    steps = [(e.step, e.total) for e in events if e.stage == "denoise"]
    n = steps[0][1]
    assert steps == [(i, n) for i in range(1, n + 1)] and n >= 3


@pytest.mark.parametrize("scheduler", ["ddim", "euler-a"])
def test_img2img_equals_diffusers_and_truncates_schedule(make_tiny_pipeline, init_and_mask, scheduler):
    from diffusers import StableDiffusionImg2ImgPipeline

    pipe = make_tiny_pipeline()
    init, _ = init_and_mask
    image, events = drive(
        denoise(pipe, prompt="bass", height=H, width=W, num_inference_steps=4, guidance_scale=3.0,
                scheduler=scheduler, generator_seed=9, init_image=init, strength=0.5)
    )
    ref = _reference(StableDiffusionImg2ImgPipeline, pipe.components, scheduler, seed=9, prompt="bass",
                     image=torch.from_numpy(init).permute(2, 0, 1)[None], num_inference_steps=4,
                     guidance_scale=3.0, strength=0.5)
    np.testing.assert_array_equal(image, ref)
    assert [e.step for e in events if e.stage == "denoise"] == [1, 2]  # half of 4 steps


@pytest.mark.parametrize(
    "kind, strength, scheduler",
    [  # 4-channel UNet (re-noise and blend) and 9-channel inpainting UNet (concatenated mask)
        ("sd", 1.0, "ddim"),
        ("sd", 0.75, "euler-a"),
        ("sd", 1.0, "dpm++2m-karras"),
        ("inpaint", 1.0, "euler-a"),
        ("inpaint", 0.75, "dpm++2m-karras"),
    ],
)
def test_inpaint_equals_diffusers_inpaint_pipeline(make_tiny_pipeline, init_and_mask, kind, strength, scheduler):
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image

    pipe = make_tiny_pipeline(kind)
    init, mask = init_and_mask
    image, _ = drive(
        denoise(pipe, prompt="bass solo", height=H, width=W, num_inference_steps=4, guidance_scale=3.0,
                scheduler=scheduler, generator_seed=9, init_image=init, mask=mask, strength=strength)
    )
    ref = _reference(StableDiffusionInpaintPipeline, pipe.components, scheduler, seed=9, prompt="bass solo",
                     image=torch.from_numpy(init).permute(2, 0, 1)[None],
                     mask_image=Image.fromarray((mask * 255).astype(np.uint8)), height=H, width=W,
                     num_inference_steps=4, guidance_scale=3.0, strength=strength)
    np.testing.assert_array_equal(image, ref)


def test_four_channel_inpaint_keeps_known_latents(make_tiny_pipeline, init_and_mask, monkeypatch):
    """With a plain UNet the unmasked latents end as the original image's latents (the blend)."""
    from engine.pipelines import sampling

    pipe = make_tiny_pipeline()
    init, mask = init_and_mask
    captured = {}
    real_decode = sampling.decode_latents

    def spy(pipe_, latents, generator=None):
        captured["latents"] = latents.clone()
        return real_decode(pipe_, latents, generator)

    monkeypatch.setattr(sampling, "decode_latents", spy)
    drive(denoise(pipe, prompt="piano", height=H, width=W, num_inference_steps=3, guidance_scale=1.0,
                  scheduler="ddim", generator_seed=2, init_image=init, mask=mask))
    gen = torch.Generator("cpu").manual_seed(2)
    with torch.no_grad():
        image = torch.from_numpy(init).permute(2, 0, 1)[None] * 2 - 1
        known = pipe.vae.encode(image).latent_dist.sample(gen) * pipe.vae.config.scaling_factor
    latents = captured["latents"]
    # latent columns 0-1 and 5-7 are outside the mask (pixel columns 16-39 -> latent 2-4)
    torch.testing.assert_close(latents[..., :2], known[..., :2], rtol=0, atol=0)
    torch.testing.assert_close(latents[..., 5:], known[..., 5:], rtol=0, atol=0)
    assert not torch.equal(latents[..., 2:5], known[..., 2:5])


def test_seed_decides_the_image(make_tiny_pipeline):
    pipe = make_tiny_pipeline()
    kwargs = dict(prompt="drums", height=H, width=W, num_inference_steps=2, guidance_scale=5.0, scheduler="euler-a")
    a, _ = drive(denoise(pipe, generator_seed=1, **kwargs))
    b, _ = drive(denoise(pipe, generator_seed=1, **kwargs))
    c, _ = drive(denoise(pipe, generator_seed=2, **kwargs))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 1e-3


def test_guidance_off_runs_one_unet_pass_per_step(make_tiny_pipeline):
    pipe = make_tiny_pipeline()
    batch_sizes = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: batch_sizes.append(args[0].shape[0]))
    try:
        drive(denoise(pipe, prompt="x", height=H, width=W, num_inference_steps=2, guidance_scale=1.0,
                      scheduler="ddim", generator_seed=0))
        drive(denoise(pipe, prompt="x", height=H, width=W, num_inference_steps=2, guidance_scale=2.0,
                      scheduler="ddim", generator_seed=0))
    finally:
        handle.remove()
    assert batch_sizes == [1, 1, 2, 2]


def test_previews_are_decoded_images_at_the_asked_interval(make_tiny_pipeline):
    pipe = make_tiny_pipeline()
    _, events = drive(denoise(pipe, prompt="x", height=H, width=W, num_inference_steps=5, guidance_scale=2.0,
                              scheduler="euler", generator_seed=0, preview_every=2))
    previews = {e.step: e.preview for e in events if e.stage == "denoise" and e.preview is not None}
    assert sorted(previews) == [2, 4]  # not at the last step: the final image follows anyway
    for preview in previews.values():
        assert preview.dtype == np.uint8 and preview.shape == (H, W, 3)


def test_grad_mode_does_not_leak_between_steps(make_tiny_pipeline):
    pipe = make_tiny_pipeline()
    gen = denoise(pipe, prompt="x", height=H, width=W, num_inference_steps=2, guidance_scale=2.0,
                  scheduler="ddim", generator_seed=0)
    for _ in gen:
        assert torch.is_grad_enabled()


class _Ctx:
    def __init__(self):
        self.cancel_event = threading.Event()

    def check_cancelled(self):
        if self.cancel_event.is_set():
            raise JobCancelledError()


def test_cancel_stops_before_the_next_unet_call(make_tiny_pipeline):
    pipe = make_tiny_pipeline()
    ctx = _Ctx()
    calls = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        gen = denoise(pipe, prompt="x", height=H, width=W, num_inference_steps=10, guidance_scale=2.0,
                      scheduler="dpm++2m-karras", generator_seed=0, ctx=ctx)
        for progress in gen:
            if progress.stage == "denoise" and progress.step == 2:
                ctx.cancel_event.set()
        pytest.fail("denoise ran to the end after a cancel")
    except JobCancelledError:
        pass
    finally:
        handle.remove()
    assert len(calls) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(height=500), "divisible by 8 but are 500 and 64"),
        (dict(width=0), "`width` must be a positive integer"),
        (dict(strength=0.5), "needs an `init_image`"),
        (dict(strength=1.5), "`strength` must be in (0, 1]"),
        (dict(init_image=np.zeros((H, 32, 3), np.float32)), "is 128x32 pixels (HxW) but the job asks for 128x64"),
        (dict(init_image=np.zeros((H, W, 3), np.float32), strength=0.1), "leaves no denoising step"),
        (dict(init_image=np.zeros((H, W, 3), np.float32), mask=np.ones((H, 8))), "`mask` must have shape (128, 64)"),
        (dict(mask=np.ones((H, W))), "needs the `init_image`"),
        (dict(scheduler="heun"), "unknown scheduler 'heun'; expected one of dpm++2m-karras"),
    ],
)
def test_bad_inputs_raise_clear_errors(make_tiny_pipeline, kwargs, message):
    pipe = make_tiny_pipeline()
    args = dict(prompt="x", height=H, width=W, num_inference_steps=2, guidance_scale=2.0,
                scheduler="ddim", generator_seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        drive(denoise(pipe, **args))
    assert message in str(info.value)


def test_schedulers_are_fresh_and_do_not_inherit_foreign_options():
    from diffusers import DPMSolverMultistepScheduler

    base = dict(DPMSolverMultistepScheduler(use_karras_sigmas=True, beta_schedule="scaled_linear").config)
    karras = make_scheduler("dpm++2m-karras", base)
    plain = make_scheduler("dpm++2m", base)
    assert karras.config.use_karras_sigmas and not plain.config.use_karras_sigmas
    assert karras is not make_scheduler("dpm++2m-karras", base)
    assert make_scheduler("ddim", base).config.clip_sample is False
    assert type(make_scheduler("euler-a", base)).__name__ == "EulerAncestralDiscreteScheduler"
    assert make_scheduler("lms", base).config.beta_schedule == "scaled_linear"
    pndm = make_scheduler("pndm", base)
    pndm.set_timesteps(10)
    assert pndm.config.skip_prk_steps and len(pndm.timesteps) == 11  # PLMS only: one UNet call a step
