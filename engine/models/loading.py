"""Loading Stable Diffusion pipelines onto a device, and keeping the loaded one around.

:func:`load_pipeline` turns a :class:`~engine.models.store.ResolvedModel` into a diffusers
``StableDiffusionPipeline`` (4-channel UNet) or ``StableDiffusionInpaintPipeline``
(9-channel UNet) on the chosen device and dtype, with no safety checker, no progress bars,
safetensors only unless pickle weights were allowed, and no network access.

:class:`PipelineCache` keeps the most recently used pipeline(s) loaded. It is used only from
the engine worker thread (the one thread that owns the GPU) and takes no locks.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.models.errors import DeviceNotAvailableError, LoadPolicyError, ModelError, NotADiffusersModelError
from engine.models.policy import _DEVICE_PATTERN, DEVICE_CHOICES, PRECISIONS, LoadPolicy  # noqa: F401 - re-exported
from engine.models.store import ModelStore, ProgressCallback, ResolvedModel

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
#: UNet input channels -> what the pipeline does.
UNET_CHANNELS_TEXT2IMG = 4
UNET_CHANNELS_INPAINT = 9



def resolve_device(pref: str) -> torch.device:
    """The torch device for a device preference ("auto", "cpu", "cuda", "cuda:N", "mps").

    Raises:
        LoadPolicyError: ``pref`` is not one of the choices.
        DeviceNotAvailableError: CUDA or MPS was asked for but is not available.
    """
    if not isinstance(pref, str) or not _DEVICE_PATTERN.match(pref):
        raise LoadPolicyError(f"Device {pref!r} is not valid; expected one of {', '.join(DEVICE_CHOICES)}.")
    if pref == "auto":
        if _cuda_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(pref)
    if device.type == "cuda":
        if not _cuda_available():
            raise DeviceNotAvailableError(
                f"Device '{pref}' was asked for, but CUDA is not available (no NVIDIA GPU or driver, or a "
                "CPU-only build of torch). Choose 'auto' or 'cpu' in the settings."
            )
        count = _cuda_device_count()
        if device.index is not None and device.index >= count:
            raise DeviceNotAvailableError(
                f"Device '{pref}' was asked for, but this machine has {count} CUDA device(s) "
                f"(cuda:0 to cuda:{count - 1})."
            )
    if device.type == "mps" and not _mps_available():
        raise DeviceNotAvailableError(
            "Device 'mps' was asked for, but Apple's Metal backend is not available here. Choose 'auto' or 'cpu'."
        )
    return device


# Hardware probes, one place to ask (and for tests to stand in for other machines).
def _cuda_available() -> bool:
    return torch.cuda.is_available()


def _cuda_device_count() -> int:
    return torch.cuda.device_count()


def _cuda_bf16_supported() -> bool:
    return torch.cuda.is_bf16_supported()


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_dtype(device: torch.device | str, precision: str) -> torch.dtype:
    """The weight dtype for a device and a precision preference.

    "auto" is float16 on CUDA and float32 on CPU and MPS. float16 is refused off CUDA
    (CPU kernels for it are slow or missing, and SD's VAE overflows in it on MPS); bfloat16 is
    refused on a CUDA GPU without bf16 support.

    Raises:
        LoadPolicyError: unknown precision, or a precision the device cannot run.
    """
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise LoadPolicyError(f"Precision {precision!r} is not valid; expected one of {', '.join(PRECISIONS)}.")
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if precision == "fp16" and device.type != "cuda":
        raise LoadPolicyError(
            f"Precision fp16 is only supported on CUDA GPUs; the device is '{device}'. Use 'fp32' (or 'auto')."
        )
    if precision == "bf16" and device.type == "cuda" and not _cuda_bf16_supported():
        raise LoadPolicyError(f"Precision bf16 is not supported by the GPU '{device}'. Use 'fp16' or 'fp32'.")
    return _DTYPES[precision]


@dataclass
class LoadedModel:
    """A pipeline loaded on a device.

    Components: ``pipeline.unet``, ``.vae``, ``.text_encoder``, ``.tokenizer``, ``.scheduler``.
    With ``policy.cpu_offload`` the components rest in CPU memory and each moves to ``device``
    while it runs: put latents and generators on ``device``.

    Attributes:
        resolved: which model and revision, and from where.
        pipeline: a diffusers StableDiffusionPipeline, or StableDiffusionInpaintPipeline for a
            9-channel UNet.
        device: the device the pipeline computes on.
        dtype: the weight dtype.
        policy: the policy it was loaded with.
    """

    resolved: ResolvedModel
    pipeline: Any
    device: torch.device
    dtype: torch.dtype
    policy: LoadPolicy

    @property
    def model_id(self) -> str:
        return self.resolved.model_id

    @property
    def unet_in_channels(self) -> int:
        """4 for a text-to-image UNet, 9 for an inpainting UNet."""
        return int(self.pipeline.unet.config.in_channels)

    @property
    def is_inpainting(self) -> bool:
        return self.unet_in_channels == UNET_CHANNELS_INPAINT

    @property
    def vae_scale_factor(self) -> int:
        """Image pixels per latent pixel along each axis (8 for SD)."""
        return int(self.pipeline.vae_scale_factor)


def _dtype_keyword() -> str:
    """'dtype' on diffusers versions that take it, else 'torch_dtype' (older versions)."""
    from diffusers import DiffusionPipeline

    doc = inspect.getdoc(DiffusionPipeline.from_pretrained) or ""
    return "dtype" if re.search(r"^\s*dtype \(", doc, re.MULTILINE) else "torch_dtype"


@contextlib.contextmanager
def progress_bars_disabled():
    """Silence diffusers', transformers' and huggingface_hub's bars (model loading, and a LoRA's
    text-encoder weights, which transformers loads with a "Loading weights" bar), restoring their
    previous state: the CLI and the app show the job's own progress only."""
    from diffusers.utils import logging as diffusers_logging
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as transformers_logging

    modules = (diffusers_logging, transformers_logging)
    were_enabled = [m.is_progress_bar_enabled() for m in modules]
    hub_was_disabled = hub_utils.are_progress_bars_disabled()
    for module in modules:
        module.disable_progress_bar()
    hub_utils.disable_progress_bars()
    try:
        yield
    finally:
        for module, enabled in zip(modules, were_enabled):
            if enabled:
                module.enable_progress_bar()  # transformers' turns huggingface_hub's on too
        if hub_was_disabled:
            hub_utils.disable_progress_bars()
        else:
            hub_utils.enable_progress_bars()


def _unet_in_channels(folder: Path) -> int:
    config_path = folder / "unet" / "config.json"
    try:
        return int(json.loads(config_path.read_text(encoding="utf-8"))["in_channels"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise NotADiffusersModelError(f"'{config_path}' has no readable in_channels: {error}") from error


def load_pipeline(resolved: ResolvedModel, policy: LoadPolicy = LoadPolicy(), *, allow_pickle: bool = False) -> LoadedModel:
    """Load a resolved pipeline folder onto the policy's device (no network access).

    Args:
        resolved: from ModelStore.resolve.
        policy: device, precision and memory options.
        allow_pickle: also read .bin weights (only where the folder has no safetensors).

    Raises:
        DeviceNotAvailableError, LoadPolicyError: the policy cannot be honoured here.
        NotADiffusersModelError: the UNet is neither 4-channel nor 9-channel.
        ModelError: diffusers failed to load the folder (message names the folder and cause).
    """
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    # diffusers loads a component class named in model_index.json only from an imported module.
    import engine.models.decoder_vae  # noqa: F401
    import engine.models.frequency_unet  # noqa: F401
    import engine.models.hint_unet  # noqa: F401

    device = resolve_device(policy.device)
    dtype = resolve_dtype(device, policy.precision)
    if policy.cpu_offload and device.type != "cuda":
        raise LoadPolicyError(
            f"CPU offload needs a CUDA GPU, but the device is '{device}'. Turn CPU offload off in the settings."
        )
    channels = _unet_in_channels(resolved.path)
    if channels == UNET_CHANNELS_TEXT2IMG:
        pipeline_class = StableDiffusionPipeline
    elif channels == UNET_CHANNELS_INPAINT:
        pipeline_class = StableDiffusionInpaintPipeline
    else:
        raise NotADiffusersModelError(
            f"Model '{resolved.model_id}' has a UNet with {channels} input channels; supported are "
            f"{UNET_CHANNELS_TEXT2IMG} (text-to-image) and {UNET_CHANNELS_INPAINT} (inpainting)."
        )
    kwargs: dict[str, Any] = {
        _dtype_keyword(): dtype,
        "local_files_only": True,
        "use_safetensors": None if allow_pickle else True,
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
    }
    try:
        with progress_bars_disabled():
            pipeline = pipeline_class.from_pretrained(str(resolved.path), **kwargs)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise ModelError(
            f"Could not load model '{resolved.model_id}' from '{resolved.path}': {type(error).__name__}: {error}"
        ) from error
    pipeline.set_progress_bar_config(disable=True)
    if policy.cpu_offload:
        pipeline.enable_model_cpu_offload(device=device)  # moves components itself: no .to() first
    else:
        pipeline.to(device)
    if policy.attention_slicing:
        pipeline.enable_attention_slicing()
    if policy.vae_slicing:
        pipeline.vae.enable_slicing()
    if policy.vae_tiling:
        pipeline.vae.enable_tiling()
    return LoadedModel(resolved=resolved, pipeline=pipeline, device=device, dtype=dtype, policy=policy)


class PipelineCache:
    """Keeps up to ``max_loaded`` pipelines loaded, dropping the least recently used.

    Entries are keyed by (model_id, revision, policy): the same model under another policy is a
    separate entry. When a new pipeline must load and the cache is full, the least recently used
    one is unloaded first, so two large models never share GPU memory.

    Not thread-safe: use it only from the engine worker thread. A LoadedModel that a caller
    still holds keeps its memory until the caller drops it.
    """

    def __init__(self, store: ModelStore, *, max_loaded: int = 1) -> None:
        if not isinstance(max_loaded, int) or max_loaded < 1:
            raise ValueError(f"max_loaded is {max_loaded!r}; expected an integer >= 1.")
        self.store = store
        self.max_loaded = max_loaded
        self._entries: OrderedDict[tuple[str, str | None, LoadPolicy], LoadedModel] = OrderedDict()

    def get(
        self,
        model: str,
        revision: str | None = None,
        policy: LoadPolicy = LoadPolicy(),
        *,
        download: bool = False,
        progress: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
    ) -> LoadedModel:
        """The loaded pipeline for ``model`` (a repo id or folder), loading it if needed.

        Resolving is a local lookup (see ModelStore.resolve); with ``download`` a missing hub
        model is downloaded first, reporting to ``progress`` and stopping on ``cancel_event``.

        Raises:
            Everything ModelStore.resolve and load_pipeline raise.
        """
        resolved = self.store.resolve(model, revision, download=download, progress=progress, cancel_event=cancel_event)
        key = (resolved.model_id, resolved.revision, policy)
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        while len(self._entries) >= self.max_loaded:
            self._release([self._entries.popitem(last=False)[1]])
        loaded = load_pipeline(resolved, policy, allow_pickle=self.store.allow_pickle)
        self._entries[key] = loaded
        return loaded

    def unload(self, model_id: str | None = None) -> int:
        """Unload one model (every policy and revision of it) or, with None, all models.

        ``model_id`` is a repo id, a folder path (matched after making it absolute) or a
        ``builtin:`` id (a shipped model's folder matches it too).

        Returns:
            How many loaded pipelines were dropped.
        """
        if model_id is None:
            keys = list(self._entries)
        else:
            from engine.models.catalog import portable_model_id

            path = str(Path(model_id).expanduser().resolve())
            wanted = {model_id, path, portable_model_id(path)}
            keys = [key for key in self._entries if key[0] in wanted]
        self._release([self._entries.pop(key) for key in keys])
        return len(keys)

    def loaded(self) -> list[str]:
        """Model ids currently loaded, least recently used first."""
        return [key[0] for key in self._entries]

    @staticmethod
    def _release(models: list[LoadedModel]) -> None:
        """Drop ``models`` (the list's references are the last ones held here) and free memory."""
        if not models:
            return
        on_cuda = any(m.device.type == "cuda" for m in models)
        for loaded in models:
            if loaded.policy.cpu_offload:
                loaded.pipeline.remove_all_hooks()
        models.clear()
        gc.collect()
        if on_cuda and _cuda_available():
            torch.cuda.empty_cache()
