"""Text to audio (the ``generate`` task): a prompt -> a Riffusion-style spectrogram image -> audio.

    results = yield from run(GenerateJob("warm analog synth pad", seed=42), ctx)

Stages, each reported as a Progress: "load" (the pipeline, from the store's cache or a local
folder: never downloaded here), then for each variation "encode", "denoise" (one per step),
"decode" (VAE), "invert" (Griffin-Lim, then the spec's upsampler, if any: the starter model's
card recommends one, so its clips come out full-band at 44.1 kHz). Variations run one after another, each from its own seed
(``seed + i``), so any one of them regenerates bit-identically from its recipe alone
(:func:`engine.api.spec_from_recipe`) on the same device and dtype.

Long clips: up to ``WHOLE_MAX_S`` seconds (:mod:`engine.audio.limits`) the model draws the whole image at once (time and
attention memory grow with the square of the width). A longer clip is drawn window by window
(:func:`windowed_pixels`): windows of ``LONG_WINDOW_S`` seconds slide left to right, each
seeing ``LONG_CONTEXT_S`` seconds of what the previous one made and fading
``LONG_FEATHER_PX`` columns into it (the canvas tiles of :mod:`engine.pipelines.editing`, like
extend); the finished image is then inverted as a whole one is (in chunks). Memory is bounded by
one window plus the clip's own pixels and audio, time grows linearly with the duration, progress
reports ``stage="tile"`` per window and a cancel stops within one step of the current window.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.loudness import level_to_target
from engine.pipelines.sampling import check_size, denoise, pipeline_of, to_uint8
from engine.recipes import Recipe
from engine.specs import MAX_SEED, GenerationJob, Progress, TaskResult

log = logging.getLogger(__name__)


def variation_seed(seed: int, index: int) -> int:
    """The seed of variation ``index`` (0-based): ``seed + index``, wrapping within [0, MAX_SEED]."""
    return (seed + index) % (MAX_SEED + 1)


def random_seed() -> int:
    """A fresh seed in [0, MAX_SEED] from the OS's random source."""
    return secrets.randbelow(MAX_SEED + 1)


def long_windows(spec: Any, params: Any) -> list[Any]:
    """The windows (``engine.pipelines.editing.Tile``) a clip of ``spec.duration_s`` is drawn in:
    [] when it is drawn whole (at most ``engine.audio.limits.WHOLE_MAX_S`` seconds)."""
    from engine.audio import limits
    from engine.audio.params import width_for_duration
    from engine.pipelines.editing import plan_tiles

    height, width = image_size_for(spec, params)
    if width <= width_for_duration(params, limits.WHOLE_MAX_S):
        return []
    window = width_for_duration(params, limits.LONG_WINDOW_S)
    context = width_for_duration(params, limits.LONG_CONTEXT_S)
    return plan_tiles(0, width, width, window, context, 0, blend_px=limits.LONG_FEATHER_PX)


def image_size_for(spec: Any, params: Any) -> tuple[int, int]:
    """(height, width) in pixels of the spectrogram image for ``spec``: mel bins x time columns.

    Raises ValueError if either is not a multiple of 8 (the VAE downsamples by 8).
    """
    from engine.audio.params import width_for_duration

    height = int(params.num_frequencies)
    width = int(width_for_duration(params, spec.duration_s))
    check_size(height, width)
    return height, width


# ---------------------------------------------------------------------------------------------
# LoRAs
# ---------------------------------------------------------------------------------------------


def _lora_source(path_or_id: str, ctx: Any) -> tuple[str, dict[str, Any]]:
    """Where diffusers' ``load_lora_weights`` finds a LoRA: a file, a folder, or a LoRA in the hub
    cache (``owner/name`` or ``owner/name/FILE.safetensors``, resolved offline to its cached file:
    diffusers itself needs a file name to read a cached repo offline)."""
    from engine.training.lora_library import LoraLibraryError, is_hub_ref, resolve_hub_lora

    path = Path(path_or_id).expanduser()
    if path.is_file():
        return str(path.parent), {"weight_name": path.name}
    if path.is_dir():
        return str(path), {}
    if not is_hub_ref(path_or_id):
        raise ValueError(f"LoRA '{path_or_id}' does not exist; expected a .safetensors file, a folder or a repo id.")
    try:
        found = resolve_hub_lora(path_or_id, getattr(getattr(ctx, "store", None), "cache_dir", None))
    except LoraLibraryError as error:
        raise ValueError(str(error)) from None
    return str(found.parent), {"weight_name": found.name}


@contextlib.contextmanager
def _quiet_lora_loading() -> Iterator[list[str]]:
    """Load a LoRA without the libraries' own output: no progress bars (a text-encoder LoRA goes
    through transformers, which draws a "Loading weights" bar), and diffusers' error log and PEFT's
    warnings (for a LoRA of another model, a screenful of shapes) collected instead of printed.
    Yields the list the collected lines go to."""
    from engine.models.loading import progress_bars_disabled

    diffusers_log = logging.getLogger("diffusers")
    level = diffusers_log.level
    diffusers_log.setLevel(logging.CRITICAL)
    try:
        with progress_bars_disabled(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lines: list[str] = []
            yield lines
            lines.extend(str(w.message) for w in caught)
    finally:
        diffusers_log.setLevel(level)


def _lora_load_error(path_or_id: str, model: str, error: BaseException, ctx: Any) -> str:
    """One line for a LoRA that did not load: for layers of other sizes (a LoRA of another base
    model), which model it was made for when its file says; else the library's first line."""
    text = str(error)
    if "size mismatch" not in text:
        return f"Could not load LoRA '{path_or_id}': {text}".splitlines()[0]
    size = r"torch\.Size\((\[[\d, ]+\])\)"
    mismatch = re.search(rf"size mismatch for ([\w.]+?)\.lora_\w+?\.\w+\.weight: .*?shape {size}.*?current model is {size}",
                         text)
    target = f"model '{model}'" if model else "this model"
    head = f"LoRA '{path_or_id}' does not fit {target}: it was made for a model with other layer sizes"
    entry = _lora_entry(path_or_id, ctx)
    if entry is not None and entry.fits(model) is False:
        head = f"LoRA '{path_or_id}' was trained for {entry.base_model_title or entry.base_model}, not {target}"
    where = f" ({mismatch[1]}: {mismatch[2]} in the LoRA, {mismatch[3]} in the model)" if mismatch else ""
    return f"{head}{where}. Use it with the model it was trained for."


def _lora_entry(path_or_id: str, ctx: Any) -> Any:
    """The library's description of a LoRA (base model, trigger words) from its file, None when
    the file cannot be read."""
    from engine.training.lora_library import describe_lora

    try:
        return describe_lora(path_or_id, getattr(getattr(ctx, "store", None), "cache_dir", None))
    except (OSError, ValueError):
        return None


def _lora_warning(path_or_id: str, model: str, ctx: Any) -> str:
    """A line when the LoRA's file says it was trained for another model than ``model`` (the
    library's flag, :meth:`engine.training.lora_library.LoraEntry.warning`), else ''."""
    entry = _lora_entry(path_or_id, ctx)
    return entry.warning(model) if entry is not None else ""


def apply_loras(pipe: Any, loras: tuple[tuple[str, float], ...], ctx: Any = None, model: str = "") -> list[str]:
    """Load ``(path_or_id, weight)`` LoRAs into ``pipe`` (UNet and text encoder) and activate them.

    Hub ids are read from the local cache only. Returns the adapter names; undo with
    :func:`remove_loras`. Raises ValueError naming the LoRA that could not be loaded (and, for a
    LoRA of another base model, saying so; ``model`` names the pipeline's model in that message).
    """
    allow_pickle = bool(getattr(getattr(ctx, "store", None), "allow_pickle", False))
    names: list[str] = []
    try:
        for index, (path_or_id, _weight) in enumerate(loras):
            source, kwargs = _lora_source(path_or_id, ctx)
            name = f"specdiff_lora_{index}"
            try:
                with _quiet_lora_loading() as notes:
                    pipe.load_lora_weights(source, adapter_name=name, use_safetensors=None if allow_pickle else True,
                                           **kwargs)
            except (OSError, ValueError, KeyError, RuntimeError) as error:
                raise ValueError(_lora_load_error(path_or_id, model, error, ctx)) from error
            for note in notes:  # e.g. PEFT: keys of the file the model has no layer for
                log.info("LoRA '%s': %s", path_or_id, note)
            names.append(name)
        if names:
            pipe.set_adapters(names, adapter_weights=[float(w) for _, w in loras])
    except BaseException:
        remove_loras(pipe, names)
        raise
    return names


def remove_loras(pipe: Any, names: list[str]) -> None:
    """Remove the adapters :func:`apply_loras` added, restoring the base modules and weights."""
    if names:
        pipe.unload_lora_weights()


def run_with_model(
    spec: Any, ctx: Any, work: Callable[[Any], Generator[Progress, None, Any]]
) -> Generator[Progress, None, Any]:
    """Load the job's model (reporting "load"; never downloads), apply its LoRAs, run ``work(loaded)``
    (every task that runs a diffusion model: generate and the edits).

    The LoRAs are removed again however ``work`` ends. Returns ``work``'s value.
    """
    yield Progress(stage="load", message=f"Loading {spec.model}")
    policy = ctx.settings.load_policy() if ctx.settings is not None else None
    kwargs = {"policy": policy} if policy is not None else {}
    loaded = ctx.pipelines.get(spec.model, spec.revision, download=False, **kwargs)
    pipe = pipeline_of(loaded)
    adapters = apply_loras(pipe, spec.loras, ctx, spec.model)
    try:
        for path_or_id, _weight in spec.loras:  # it loaded, but its file names another model
            warning = _lora_warning(path_or_id, spec.model, ctx)
            if warning:
                yield Progress(stage="lora", message=warning)
        return (yield from work(loaded))
    finally:
        remove_loras(pipe, adapters)


# ---------------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------------


def labelled(gen: Generator[Progress, None, Any], label: str) -> Generator[Progress, None, Any]:
    """Relay ``gen``'s progress with ``label`` in front of each message; return its value."""
    try:
        while True:
            try:
                progress = next(gen)
            except StopIteration as stop:
                return stop.value
            message = f"{label}: {progress.message}" if progress.message else label
            yield replace(progress, message=message)
    finally:
        gen.close()


def dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def recipe_for(loaded: Any, spec: GenerationJob, *, seed: int, params: Any, width: int,
               facts: dict[str, Any] | None = None) -> Recipe:
    """The recipe of a result made by ``loaded`` from a generation ``spec`` (any task) with ``seed``:
    the spec's settings, the model, device and dtype it ran on, and as facts the image's size and
    spectrogram parameters plus the task's own ``facts`` (JSON-able)."""
    return spec.make_recipe(
        seed=seed,
        model_id=loaded.resolved.model_id,
        model_revision=loaded.resolved.revision,
        device=str(loaded.device),
        dtype=dtype_name(loaded.dtype),
        vocoder=spec.vocoder,
        facts={"spectrogram": params.to_dict(), "width": int(width), "height": int(params.num_frequencies),
               **(facts or {})},
    )


def spectrogram_image(pixels_u8: np.ndarray, params: Any) -> Any:
    """The model's RGB output as a Riffusion spectrogram image: the pixels as they are, params in EXIF.

    Like Riffusion, the image is kept exactly as the model drew it (its audio is read from the R
    channel, or G/B for stereo params) with ``MAX_VALUE`` set to the default scale, so decoding the
    saved image gives exactly the audio of the result before its level gain
    (``recipe.facts["level"]["gain_db"]``).
    """
    from PIL import Image

    from engine.audio.spectrogram import DEFAULT_MAX_VALUE, ExifTag

    image = Image.fromarray(np.ascontiguousarray(pixels_u8), mode="RGB")
    exif = image.getexif()
    exif.update(params.to_exif().items())
    exif[ExifTag.MAX_VALUE.value] = float(DEFAULT_MAX_VALUE)
    return image


def invert(image: Any, params: Any, device: Any, seed: int, vocoder: Any = None) -> tuple[np.ndarray, int]:
    """Spectrogram image -> (audio (channels, samples) float32, sample rate) by ``vocoder`` on ``device``
    (None: Griffin-Lim with the preset's iterations; see :func:`engine.vocoders.factory.make_vocoder`).

    The random phases are drawn from a CPU generator seeded with ``seed`` (and moved to the
    device), so the same image gives the same audio.
    """
    import torch

    from engine.audio.spectrogram import audio_from_image

    generator = torch.Generator("cpu").manual_seed(seed)
    return audio_from_image(image, params, device=str(device), generator=generator, vocoder=vocoder)


def job_vocoder(spec: Any, ctx: Any, device: Any, n_iter: int) -> Any:
    """The vocoder ``spec.vocoder`` names, from the job's model store (the one factory)."""
    from engine.vocoders.factory import make_vocoder

    return make_vocoder(spec.vocoder, device=str(device), n_iter=n_iter, store=getattr(ctx, "store", None))


def upsample(name: str, audio: np.ndarray, sample_rate_hz: int, seed: int) -> Generator[Progress, None, tuple[np.ndarray, int, dict[str, Any]]]:
    """The recommended pipeline's last stage: ``audio`` made full-band by upsampler ``name``
    (engine.upsample); returns the audio, its rate and what was done (cutoffs, or a note)."""
    from engine.upsample.models import load_upsampler
    from engine.upsample.run import upsample_clip

    yield Progress(stage="invert", step=0, total=1, message="Upsampling")
    outcome = yield from upsample_clip(load_upsampler(name), audio, sample_rate_hz, seed=seed)
    facts = {"upsampler": name, **outcome.facts, **({"note": outcome.note} if outcome.note else {})}
    return outcome.audio, outcome.sample_rate_hz, facts


def windowed_pixels(
    spec: Any, loaded: Any, params: Any, tiles: list[Any], seed: int, ctx: Any, label: str
) -> Generator[Progress, None, np.ndarray]:
    """Draw a long clip's spectrogram window by window on an empty canvas (see the module's
    docstring); returns its uint8 pixels ``(H, width, 3)``.

    Window ``i`` is denoised with seed ``seed + i``; the mask is the whole canvas (a broadcast
    view, no memory). No samples are pending, so the canvas only composites pixels: the audio is
    made afterwards from the whole image, as for a clip drawn at once.
    """
    from engine.pipelines.editing import CanvasEditor
    from engine.pipelines.inpaint import run_tiles

    height, width = params.num_frequencies, tiles[-1].window_start + tiles[-1].width
    full = (height, width)
    nothing = np.zeros(0, dtype=bool)
    editor = CanvasEditor(params, np.zeros((1, 0), dtype=np.float32), np.full((height, width, 3), 255, dtype=np.uint8),
                          1.0, np.broadcast_to(np.True_, full), np.broadcast_to(np.float32(1.0), full), nothing, nothing)
    tiling = run_tiles(editor, tiles, spec, loaded, seed, ctx, prompts=[spec.prompt] * len(tiles),
                       pixels_only=True)
    yield from (labelled(tiling, label) if label else tiling)
    return editor.pixels


def run(spec: GenerationJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Generate ``spec.num_variations`` clips for ``spec.prompt``; returns them in order.

    Each result holds audio (channels, samples) float32 at the preset's sample rate, brought to
    :data:`engine.audio.loudness.TARGET_LUFS` with a true-peak ceiling (the gain is in
    ``recipe.facts["level"]``), the RGB spectrogram image (PIL, spectrogram parameters in EXIF) and
    the recipe that regenerates it.

    Raises:
        ModelNotDownloadedError: a hub model that is not in the cache (the message says how to
            download it); ModelNotFoundError for a missing folder; other ModelErrors from loading.
        ValueError: unknown spectrogram preset, a size not divisible by 8, a LoRA that cannot load.
        JobCancelledError: on cancel (at the next step).
    """
    params = spec.spectrogram_params()
    height, width = image_size_for(spec, params)
    seed = spec.seed if spec.seed is not None else random_seed()
    tiles = long_windows(spec, params)

    def work(loaded: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
        vocoder = job_vocoder(spec, ctx, loaded.device, params.num_griffin_lim_iters)
        results = []
        for index in range(spec.num_variations):
            label = f"Variation {index + 1}/{spec.num_variations}" if spec.num_variations > 1 else ""
            seed_i = variation_seed(seed, index)
            facts: dict[str, Any] = {}
            if tiles:  # a long clip, window by window
                pixels_u8 = yield from windowed_pixels(spec, loaded, params, tiles, seed_i, ctx, label)
                facts["tiles"] = [tile.to_json() for tile in tiles]
            else:
                denoising = denoise(
                    loaded,
                    prompt=spec.prompt,
                    negative_prompt=spec.negative_prompt,
                    height=height,
                    width=width,
                    num_inference_steps=spec.num_inference_steps,
                    guidance_scale=spec.guidance_scale,
                    scheduler=spec.scheduler,
                    generator_seed=seed_i,
                    preview_every=spec.preview_every,
                    ctx=ctx,
                )
                pixels_u8 = to_uint8((yield from (labelled(denoising, label) if label else denoising)))
            # The saved image is exactly what the audio is made from: quantise first, then invert.
            image = spectrogram_image(pixels_u8, params)
            del pixels_u8
            yield Progress(stage="invert", step=0, total=1, message=f"{label + ': ' if label else ''}Inverting to audio")
            audio, sample_rate_hz = invert(image, params, loaded.device, seed_i, vocoder)
            if getattr(spec, "upsampler", ""):
                upsampling = upsample(spec.upsampler, audio, int(sample_rate_hz), seed_i)
                audio, sample_rate_hz, facts["upsample"] = yield from (labelled(upsampling, label) if label else upsampling)
            audio, level = level_to_target(audio, int(sample_rate_hz))
            recipe = recipe_for(loaded, spec, seed=seed_i, params=params, width=width,
                                facts={"level": level.to_json(), **facts})
            results.append(TaskResult(recipe=recipe, audio=audio, sample_rate_hz=int(sample_rate_hz), image=image))
        return tuple(results)

    return (yield from run_with_model(spec, ctx, work))
