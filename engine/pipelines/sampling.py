"""The shared denoising core of every diffusion task: text-to-image, img2img and inpainting.

:func:`denoise` runs a Stable Diffusion 1.x-family pipeline's components (tokenizer,
text_encoder, unet, vae, scheduler) step by step instead of calling the pipeline's
``__call__``, so that every denoising step is a ``yield`` (a progress report and a cancel point)
and previews can be decoded along the way. The arithmetic follows diffusers 0.42's
``StableDiffusionPipeline``, ``StableDiffusionImg2ImgPipeline`` and
``StableDiffusionInpaintPipeline`` line by line (same order of random draws included), so with the
same scheduler and a CPU generator seeded alike the result equals the diffusers pipeline's output.

Seeds: all random numbers (initial noise, VAE posterior samples, ancestral scheduler noise) come
from one ``torch.Generator("cpu").manual_seed(generator_seed)``; tensors are drawn on the CPU and
moved to the device, so a seed means the same starting noise on CPU, CUDA and MPS.

Images cross this module's boundary as float32 numpy arrays (H, W, 3) in [0, 1], the same
orientation as the spectrogram images (row 0 is the top of the picture, the highest frequency).
Masks are (H, W) arrays in [0, 1] where 1 (white) marks the pixels to regenerate, as in diffusers;
they are binarised at 0.5.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import torch

from engine.pipelines.schedulers import make_scheduler
from engine.specs import Progress


def pipeline_of(loaded: Any) -> Any:
    """The diffusers pipeline inside an ``engine.models.loading.LoadedModel`` (or the pipeline itself)."""
    return getattr(loaded, "pipeline", loaded)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def check_size(height: int, width: int, vae_scale_factor: int = 8) -> None:
    """Raise ValueError unless ``height`` and ``width`` (pixels) are positive multiples of 8."""
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer number of pixels, got {value!r}.")
    if height % vae_scale_factor or width % vae_scale_factor:
        raise ValueError(
            f"`height` and `width` have to be divisible by {vae_scale_factor} but are {height} and {width}."
        )


def image_to_tensor(image: Any, height: int, width: int) -> torch.Tensor:
    """A (H, W, 3) image in [0, 1] (float) or [0, 255] (uint8, or a PIL image) -> (1, 3, H, W) in [-1, 1].

    Raises ValueError if the image is not ``height`` x ``width`` RGB: images are never resized
    silently (a resized spectrogram would change its time and frequency scales).
    """
    array = np.asarray(image)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32, copy=False)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"`init_image` must be an RGB image of shape (H, W, 3), got shape {array.shape}.")
    if array.shape[:2] != (height, width):
        raise ValueError(
            f"`init_image` is {array.shape[0]}x{array.shape[1]} pixels (HxW) but the job asks for "
            f"{height}x{width}."
        )
    if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError("`init_image` values must be finite and in [0, 1].")
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)[None]
    return tensor * 2.0 - 1.0


def mask_to_tensor(mask: Any, height: int, width: int) -> torch.Tensor:
    """A (H, W) or (H, W, 1) mask in [0, 1] (1 = regenerate) -> binarised (1, 1, H, W) float32.

    Raises ValueError for a mask of another size or with values outside [0, 1].
    """
    array = np.asarray(mask)
    if array.dtype == np.bool_:
        array = array.astype(np.float32)
    elif array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32, copy=False)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.shape != (height, width):
        raise ValueError(f"`mask` must have shape ({height}, {width}) (H, W), got {array.shape}.")
    if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError("`mask` values must be finite and in [0, 1] (1 = regenerate).")
    binary = (array >= 0.5).astype(np.float32)  # diffusers' mask processor binarises at 0.5
    return torch.from_numpy(binary)[None, None]


def _step_kwargs(scheduler: Any, generator: torch.Generator, eta: float = 0.0) -> dict[str, Any]:
    """diffusers ``prepare_extra_step_kwargs``: eta for DDIM, the generator for stochastic samplers."""
    params = set(inspect.signature(scheduler.step).parameters)
    kwargs: dict[str, Any] = {}
    if "eta" in params:
        kwargs["eta"] = eta
    if "generator" in params:
        kwargs["generator"] = generator
    return kwargs


def _truncate_timesteps(scheduler: Any, num_inference_steps: int, strength: float) -> torch.Tensor:
    """diffusers img2img ``get_timesteps``: skip the first ``1 - strength`` of the schedule."""
    init_timestep = min(int(num_inference_steps * strength), num_inference_steps)
    t_start = max(num_inference_steps - init_timestep, 0)
    timesteps = scheduler.timesteps[t_start * scheduler.order :]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(t_start * scheduler.order)
    if len(timesteps) < 1:
        raise ValueError(
            f"`strength` {strength} with `num_inference_steps` {num_inference_steps} leaves no denoising "
            f"step; raise the strength or the number of steps (strength x steps must be at least 1)."
        )
    return timesteps


def _vae_encode(pipe: Any, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """diffusers ``_encode_vae_image``: a sample of the VAE posterior, times the scaling factor."""
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_inpaint import retrieve_latents

    latents = retrieve_latents(pipe.vae.encode(image), generator=generator)
    return pipe.vae.config.scaling_factor * latents


#: Latent columns the VAE decodes at once, and the context each window takes on either side. A
#: wider image is decoded window by window and crossfaded over the context: the VAE's self-attention
#: costs time quadratic in the width and its activations memory linear in it (a 180 s image took
#: 5 GB), so long clips decode in time and memory linear in the width, with a cancel point per window.
DECODE_WINDOW_LATENTS = 128
DECODE_CONTEXT_LATENTS = 16


@torch.no_grad()
def decode_latents(pipe: Any, latents: torch.Tensor, generator: torch.Generator | None = None) -> np.ndarray:
    """VAE-decode (1, 4, h, w) latents -> float32 (H, W, 3) image in [0, 1] (diffusers ``output_type="np"``).

    Latents wider than :data:`DECODE_WINDOW_LATENTS` (+ context) are decoded in windows unless the
    VAE already tiles (VAE tiling setting); narrower ones in one call, exactly as diffusers does.
    """
    from engine.cancel import cancel_point

    width, context = latents.shape[-1], DECODE_CONTEXT_LATENTS
    if width <= DECODE_WINDOW_LATENTS + 2 * context or getattr(pipe.vae, "use_tiling", False):
        return _decode_whole(pipe, latents, generator)
    scale = int(pipe.vae_scale_factor)
    out: np.ndarray | None = None
    total = np.zeros(width * scale, dtype=np.float32)
    ramp = 2 * context * scale
    for start in range(0, width, DECODE_WINDOW_LATENTS):
        cancel_point()
        stop = min(width, start + DECODE_WINDOW_LATENTS)
        lo, hi = max(0, start - context), min(width, stop + context)
        part = _decode_whole(pipe, latents[..., lo:hi], generator)
        cancel_point()
        if out is None:
            out = np.zeros((part.shape[0], width * scale, part.shape[2]), dtype=np.float32)
        # Linear crossfade over the 2 * context columns two neighbouring windows share.
        x = np.arange(lo * scale, hi * scale) + 0.5
        weight = np.ones(x.size, dtype=np.float32)
        if lo > 0:
            weight = np.minimum(weight, (x - lo * scale) / ramp)
        if hi < width:
            weight = np.minimum(weight, (hi * scale - x) / ramp)
        out[:, lo * scale : hi * scale] += part * weight[None, :, None]
        total[lo * scale : hi * scale] += weight
    assert out is not None
    out /= total[None, :, None]  # 1 except where a short last window overlaps more
    return out


#: Layers of a UNet or VAE before which a running job checks its cancel flag: a cancel stops a big
#: model within one layer, not one whole denoising step or VAE decode.
_CANCEL_POINT_LAYERS = ("ResnetBlock2D", "Transformer2DModel", "Upsample2D", "Downsample2D")


#: Attention scores (batch x heads x queries x keys) computed in one call at most: a longer
#: self-attention (a wide spectrogram: it grows with the square of the duration) runs over its
#: queries in chunks, with a cancel point before each, in the memory of one chunk's scores.
ATTENTION_CHUNK_SCORES = 1 << 24


class ChunkedAttnProcessor:
    """diffusers' ``AttnProcessor2_0`` with the queries in chunks of at most
    :data:`ATTENTION_CHUNK_SCORES` scores and a cancel point before each chunk; the keys and values
    are projected once. Every query row is computed by the same kernel over the same keys, so the
    result equals one call's (tested); attention it does not cover (masks, group or spatial norms,
    q/k norms, 4-D input) and attention small enough for one chunk go to ``inner`` unchanged.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args: Any,
                 **kwargs: Any) -> torch.Tensor:
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        plain = (hidden_states.ndim == 3 and attention_mask is None and not args and not kwargs
                 and attn.spatial_norm is None and attn.group_norm is None
                 and attn.norm_q is None and attn.norm_k is None)
        batch, queries = hidden_states.shape[0], hidden_states.shape[1]
        per_query = batch * attn.heads * context.shape[1]
        if not plain or per_query * queries <= ATTENTION_CHUNK_SCORES:
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        from engine.cancel import cancel_point

        residual = hidden_states
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key, value = attn.to_k(context), attn.to_v(context)
        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        out = torch.empty_like(query)
        step = max(1, ATTENTION_CHUNK_SCORES // per_query)
        for lo in range(0, queries, step):
            cancel_point()
            out[:, :, lo : lo + step] = torch.nn.functional.scaled_dot_product_attention(
                query[:, :, lo : lo + step], key, value, dropout_p=0.0, is_causal=False)
        hidden_states = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


@contextlib.contextmanager
def cancel_points_inside(model: Any) -> Iterator[None]:
    """Within the block, every ResNet, transformer, up- and downsampling layer of ``model`` starts with a cancel point
    (:func:`engine.cancel.cancel_point`; nothing outside a job), and a long attention has one before
    each chunk of its queries (:class:`ChunkedAttnProcessor`). Removed afterwards."""
    from engine.cancel import cancel_point

    def check(module: Any, args: Any) -> None:
        cancel_point()

    handles = [
        layer.register_forward_pre_hook(check)
        for layer in model.modules()
        if type(layer).__name__ in _CANCEL_POINT_LAYERS
    ]
    swapped = [(layer, layer.processor) for layer in model.modules()
               if type(getattr(layer, "processor", None)).__name__ == "AttnProcessor2_0"]
    for layer, processor in swapped:
        layer.processor = ChunkedAttnProcessor(processor)
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        for layer, processor in swapped:
            layer.processor = processor


def _decode_whole(pipe: Any, latents: torch.Tensor, generator: torch.Generator | None) -> np.ndarray:
    with cancel_points_inside(pipe.vae):
        image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False, generator=generator)[0]
    image = (image / 2 + 0.5).clamp(0, 1)
    return image[0].permute(1, 2, 0).float().cpu().numpy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float (H, W, 3) in [0, 1] -> uint8, rounding like diffusers' ``numpy_to_pil``."""
    return (image * 255).round().astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# The denoising loop
# ---------------------------------------------------------------------------------------------


class _Denoiser:
    """The state of one denoising run; each method is one numbered stage of diffusers' ``__call__``.

    Kept out of the generator body so that ``torch.no_grad`` never spans a ``yield`` (grad mode is
    thread-local: holding it across a yield would leak it into the consumer between steps).
    """

    def __init__(self, pipe: Any, guidance_scale: float, generator: torch.Generator) -> None:
        self.pipe = pipe
        self.unet = pipe.unet
        self.guidance_scale = float(guidance_scale)
        self.generator = generator
        self.device = pipe._execution_device
        # As diffusers: guidance needs a scale above 1 and a UNet without guidance embedding.
        self.do_cfg = self.guidance_scale > 1 and self.unet.config.time_cond_proj_dim is None
        self.unet_channels = int(self.unet.config.in_channels)
        self.latent_channels = int(pipe.vae.config.latent_channels)
        self.vae_scale_factor = int(pipe.vae_scale_factor)
        self.image_latents: torch.Tensor | None = None  # the known image, for 4-channel inpainting
        self.noise: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None  # (2 if cfg else 1, 1, h, w) at latent resolution
        self.masked_image_latents: torch.Tensor | None = None

    @torch.no_grad()
    def encode_prompt(
        self,
        prompt: str | None,
        negative_prompt: str | None,
        prompt_embeds: torch.Tensor | None,
        negative_prompt_embeds: torch.Tensor | None,
    ) -> None:
        # 3. Encode input prompt (uncond + cond batched into one UNet call)
        positive, negative = self.pipe.encode_prompt(
            prompt,
            self.device,
            1,
            self.do_cfg,
            negative_prompt,
            prompt_embeds=prompt_embeds,
            negative_prompt_embeds=negative_prompt_embeds,
        )
        self.prompt_embeds = torch.cat([negative, positive]) if self.do_cfg else positive
        self.dtype = self.prompt_embeds.dtype

    @torch.no_grad()
    def prepare_latents(
        self,
        scheduler: Any,
        timesteps: torch.Tensor,
        height: int,
        width: int,
        init_image: torch.Tensor | None,
        strength: float,
        mask: torch.Tensor | None,
        masked_image_latents: torch.Tensor | None,
        initial_noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from diffusers.utils.torch_utils import randn_tensor

        shape = (1, self.latent_channels, height // self.vae_scale_factor, width // self.vae_scale_factor)
        device, dtype, generator = self.device, self.dtype, self.generator
        latent_timestep = timesteps[:1].repeat(1)
        if init_image is None:
            # Text-to-image (StableDiffusionPipeline.prepare_latents).
            if initial_noise is not None:
                if tuple(initial_noise.shape) != shape:
                    raise ValueError(f"`initial_noise` must have shape {shape}, got {tuple(initial_noise.shape)}.")
                noise = initial_noise.to(device=device, dtype=dtype)
            else:
                noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
            return noise * scheduler.init_noise_sigma
        init_image = init_image.to(device=device, dtype=dtype)
        if mask is None:
            # img2img (StableDiffusionImg2ImgPipeline.prepare_latents): always image + noise.
            image_latents = _vae_encode(self.pipe, init_image, generator)
            noise = randn_tensor(image_latents.shape, generator=generator, device=device, dtype=dtype)
            return scheduler.add_noise(image_latents, noise, latent_timestep)

        # Inpainting (StableDiffusionInpaintPipeline.prepare_latents + prepare_mask_latents).
        if self.unet_channels not in (4, 9):
            raise ValueError(
                f"inpainting needs a UNet with 4 or 9 input channels, this model's has {self.unet_channels}."
            )
        is_strength_max = strength == 1.0
        if self.unet_channels == 4 or not is_strength_max:
            self.image_latents = _vae_encode(self.pipe, init_image, generator)
        self.noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        if is_strength_max:
            latents = self.noise * scheduler.init_noise_sigma
        else:
            latents = scheduler.add_noise(self.image_latents, self.noise, latent_timestep)

        latent_size = (height // self.vae_scale_factor, width // self.vae_scale_factor)
        mask_latent = torch.nn.functional.interpolate(mask, size=latent_size).to(device=device, dtype=dtype)
        if masked_image_latents is None:
            masked_image = init_image * (mask.to(device=device, dtype=dtype) < 0.5)
            masked_image_latents = _vae_encode(self.pipe, masked_image, generator)
        masked_image_latents = masked_image_latents.to(device=device, dtype=dtype)
        if self.unet_channels == 9:
            expected = self.latent_channels + mask_latent.shape[1] + masked_image_latents.shape[1]
            if expected != self.unet_channels:
                raise ValueError(
                    f"the inpainting UNet expects {self.unet_channels} input channels but latents, mask and "
                    f"masked-image latents give {expected}."
                )
        repeat = 2 if self.do_cfg else 1
        self.mask = torch.cat([mask_latent] * repeat)
        self.masked_image_latents = torch.cat([masked_image_latents] * repeat)
        return latents

    @torch.no_grad()
    def step(
        self,
        scheduler: Any,
        timesteps: torch.Tensor,
        i: int,
        latents: torch.Tensor,
        step_kwargs: dict[str, Any],
        want_x0: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One denoising step; returns the new latents and, if ``want_x0``, the scheduler's x0 estimate.

        (The estimate exists only for schedulers that report one; it makes better previews.)
        """
        t = timesteps[i]
        # expand the latents if we are doing classifier free guidance
        model_input = torch.cat([latents] * 2) if self.do_cfg else latents
        model_input = scheduler.scale_model_input(model_input, t)
        if self.unet_channels == 9 and self.mask is not None:
            model_input = torch.cat([model_input, self.mask, self.masked_image_latents], dim=1)
        with cancel_points_inside(self.unet):
            noise_pred = self.unet(model_input, t, encoder_hidden_states=self.prompt_embeds, return_dict=False)[0]
        if self.do_cfg:
            noise_uncond, noise_text = noise_pred.chunk(2)
            noise_pred = noise_uncond + self.guidance_scale * (noise_text - noise_uncond)
        if want_x0:
            out = scheduler.step(noise_pred, t, latents, **step_kwargs, return_dict=True)
            latents, x0 = out.prev_sample, getattr(out, "pred_original_sample", None)
        else:
            latents, x0 = scheduler.step(noise_pred, t, latents, **step_kwargs, return_dict=False)[0], None
        if self.unet_channels == 4 and self.mask is not None:
            # Keep the known region: re-noise the original latents to the next timestep and blend.
            init_latents_proper = self.image_latents
            init_mask = self.mask.chunk(2)[0] if self.do_cfg else self.mask
            if i < len(timesteps) - 1:
                init_latents_proper = scheduler.add_noise(
                    init_latents_proper, self.noise, torch.tensor([timesteps[i + 1]])
                )
            latents = (1 - init_mask) * init_latents_proper + init_mask * latents
            if x0 is not None:
                x0 = (1 - init_mask) * self.image_latents + init_mask * x0
        return latents, x0


def denoise(
    loaded: Any,
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
    prompt_embeds: torch.Tensor | None = None,
    negative_prompt_embeds: torch.Tensor | None = None,
    height: int,
    width: int,
    num_inference_steps: int,
    guidance_scale: float,
    scheduler: str | Any,
    generator_seed: int,
    init_image: Any = None,
    strength: float = 1.0,
    mask: Any = None,
    masked_image_latents: torch.Tensor | None = None,
    preview_every: int = 0,
    ctx: Any = None,
    initial_noise: torch.Tensor | None = None,
) -> Generator[Progress, None, np.ndarray]:
    """Denoise one image with ``loaded``'s components, one ``yield`` per step.

    Args:
        loaded: an ``engine.models.loading.LoadedModel`` (or a diffusers StableDiffusion[Inpaint]Pipeline).
        prompt / prompt_embeds: the text (or its (1, 77, D) embeddings); exactly one of them.
        negative_prompt / negative_prompt_embeds: what to steer away from (used when guidance is on).
        height, width: image size in pixels, multiples of 8.
        num_inference_steps: scheduler steps for the full schedule (img2img runs ``strength`` of them).
        guidance_scale: classifier-free guidance; <= 1 turns it off (one UNet pass per step).
        scheduler: a name from ``engine.specs.SCHEDULER_NAMES`` (built from the model's scheduler
            config) or a diffusers scheduler instance.
        generator_seed: seeds the CPU generator every random number comes from.
        init_image: (H, W, 3) image in [0, 1] (float) or uint8 to start from (img2img / inpainting).
        strength: in (0, 1]: how much of the schedule to run from ``init_image`` (1 = from pure noise).
        mask: (H, W) in [0, 1], 1 = regenerate; needs ``init_image``. A 4-channel UNet keeps the
            unmasked region by re-noising the original latents to each step's timestep and blending;
            a 9-channel inpainting UNet gets the mask and masked-image latents concatenated.
        masked_image_latents: precomputed (1, 4, H/8, W/8) latents of the masked image (optional).
        preview_every: > 0 attaches a decoded uint8 (H, W, 3) preview every that many steps.
        ctx: the job's ``JobContext``; its cancel flag is checked before every UNet call.
        initial_noise: text-to-image only: the (1, 4, H/8, W/8) starting noise to use instead of
            drawing it from the seed (interpolation slerps between two seeds' noise); the
            generator still seeds everything else.

    Yields ``Progress(stage="encode")``, then ``Progress(stage="denoise", step=i, total=N)`` after
    each of the N scheduler steps (N can exceed ``num_inference_steps`` for PNDM, which repeats a
    timestep), then ``Progress(stage="decode")``. Returns the decoded image, float32 (H, W, 3) in [0, 1].

    Raises ValueError for bad sizes, strength, images or masks; ``JobCancelledError`` on cancel.
    """
    pipe = pipeline_of(loaded)
    check_size(height, width, int(pipe.vae_scale_factor))
    if (prompt is None) == (prompt_embeds is None):
        raise ValueError("pass exactly one of `prompt` and `prompt_embeds`.")
    if not (isinstance(strength, (int, float)) and 0.0 < strength <= 1.0):
        raise ValueError(f"`strength` must be in (0, 1], got {strength!r}.")
    if strength < 1.0 and init_image is None:
        raise ValueError("`strength` below 1 needs an `init_image` to start from.")
    if mask is not None and init_image is None:
        raise ValueError("inpainting with a `mask` needs the `init_image` it applies to.")
    if initial_noise is not None and init_image is not None:
        raise ValueError("`initial_noise` is for text-to-image; img2img and inpainting start from `init_image`.")
    if not isinstance(preview_every, int) or preview_every < 0:
        raise ValueError(f"`preview_every` must be a non-negative integer, got {preview_every!r}.")
    image_tensor = image_to_tensor(init_image, height, width) if init_image is not None else None
    mask_tensor = mask_to_tensor(mask, height, width) if mask is not None else None

    def check_cancelled() -> None:
        if ctx is not None:
            ctx.check_cancelled()

    generator = torch.Generator("cpu").manual_seed(int(generator_seed))
    run = _Denoiser(pipe, guidance_scale, generator)
    yield Progress(stage="encode", step=0, total=1, message="Encoding the prompt")
    check_cancelled()
    run.encode_prompt(prompt, negative_prompt, prompt_embeds, negative_prompt_embeds)

    # 4. Prepare timesteps (a fresh scheduler: multistep solvers are stateful)
    sched = make_scheduler(scheduler, pipe.scheduler.config) if isinstance(scheduler, str) else scheduler
    sched.set_timesteps(num_inference_steps, device=run.device)
    timesteps = sched.timesteps
    if image_tensor is not None:
        timesteps = _truncate_timesteps(sched, num_inference_steps, strength)

    # 5. Prepare latent variables (and the mask for inpainting)
    latents = run.prepare_latents(
        sched, timesteps, height, width, image_tensor, strength, mask_tensor, masked_image_latents, initial_noise
    )
    step_kwargs = _step_kwargs(sched, generator)

    # 7. Denoising loop: every step is a yield
    total = len(timesteps)
    for i in range(total):
        check_cancelled()
        wants_preview = bool(preview_every) and (i + 1) % preview_every == 0 and i + 1 < total
        latents, x0 = run.step(sched, timesteps, i, latents, step_kwargs, want_x0=wants_preview)
        preview = None
        if wants_preview:
            preview = to_uint8(decode_latents(pipe, x0 if x0 is not None else latents))
        yield Progress(stage="denoise", step=i + 1, total=total, preview=preview)

    yield Progress(stage="decode", step=0, total=1, message="Decoding the spectrogram image")
    check_cancelled()
    image = decode_latents(pipe, latents, generator)
    if hasattr(pipe, "maybe_free_model_hooks"):
        pipe.maybe_free_model_hooks()  # offloads components again under model CPU offload
    return image
