"""The one factory of vocoders (torch): :func:`make_vocoder` builds any vocoder a job names.

Every place that turns a spectrogram into audio (generation, variations, interpolation, edits,
the vocode task, the CLI's ``to-audio``) gets its vocoder here, from the job's ``vocoder`` name.

Neural vocoders here follow the pipeline measured for issue 14: Griffin-Lim first (its
consistency across the 90 %-overlapped frames recovers detail a Riffusion-style mel smears), then
the Griffin-Lim audio is re-analysed to the neural vocoder's own mel and resynthesised by it
(:meth:`NeuralVocoder.resynthesise`), then brought back to the spectrogram's sample rate. The
same step re-vocodes audio synthesised elsewhere (the constrained Griffin-Lim of edits).

Weights come from the model store (``kind="vocoder"``): a folder with ``config.json`` and
safetensors weights, or a hub repository (NVIDIA publishes BigVGAN's generator as a pickle,
``bigvgan_generator.pt``: it is read with ``torch.load(weights_only=True)``, never executing code,
and a safetensors copy is written next to it so later loads read safetensors).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from engine.audio.inversion import GriffinLimVocoder, Vocoder
from engine.audio.params import SpectrogramParams
from engine.cancel import cancel_point
from engine.models.errors import ModelNotDownloadedError, OfflineModeError
from engine.vocoders import DEFAULT_VOCODER, MODEL_KIND, check_vocoder_name, find_vocoder

log = logging.getLogger(__name__)

__all__ = ["NeuralVocoder", "load_vocoder_model", "make_vocoder", "SAFETENSORS_COPY"]

#: The safetensors copy written next to a pickled generator on its first load.
SAFETENSORS_COPY = "generator.safetensors"
#: Mel frames the neural vocoder synthesises at once (about 1.5 s at 44.1 kHz, hop 512: a cancel
#: point every few seconds of CPU even for BigVGAN-v2's 122 M parameters, measured at 0.04x real
#: time on one busy core), and the frames of context on each side that are synthesised and thrown
#: away (93 ms), so chunks join seamlessly.
CHUNK_FRAMES = 128
CONTEXT_FRAMES = 8
#: Peak the Griffin-Lim audio is scaled to (at most) before the analysis, so the model's tanh/clamp
#: never clips; the output is scaled back by the same gain.
_INPUT_PEAK = 0.95

_cache: OrderedDict[tuple[str, str | None, str], tuple[Any, dict[str, Any]]] = OrderedDict()
_cache_lock = threading.Lock()
_MAX_LOADED = 1


def make_vocoder(
    name: str = DEFAULT_VOCODER,
    *,
    device: str | torch.device = "cpu",
    n_iter: int = 32,
    store: Any = None,
    download: bool = False,
    progress: Any = None,
    cancel_event: threading.Event | None = None,
) -> Vocoder:
    """The vocoder ``name`` (a registry name or a vocoder folder / ``builtin:<name>``) on ``device``.

    ``n_iter`` is the Griffin-Lim iterations (of Griffin-Lim itself, or of the first stage of a
    neural vocoder). ``store`` (an ``engine.models.store.ModelStore``; None: the standard hub
    cache) finds the weights; ``download`` fetches missing hub weights.

    Raises:
        ValueError: an unknown name.
        ModelNotDownloadedError, ModelNotFoundError, NotADiffusersModelError, ModelError: from the
            store, or weights that do not fit the config.
    """
    check_vocoder_name(name)
    entry = find_vocoder(name)
    if entry is not None and entry.architecture == "griffin-lim":
        return GriffinLimVocoder(n_iter=n_iter, device=device)
    if store is None:
        from engine.models.store import ModelStore

        store = ModelStore()
    source = entry.source if entry is not None else name
    try:
        resolved = store.resolve(source, download=download, progress=progress, cancel_event=cancel_event,
                                 kind=MODEL_KIND)
    except ModelNotDownloadedError as error:
        if entry is None or isinstance(error, OfflineModeError):
            raise
        missing = ModelNotDownloadedError(source)
        missing.args = (
            f"The {entry.title} vocoder ('{source}') is not downloaded: run `specdiff-cli vocoders pull "
            f"{entry.name}` (about {entry.approx_size_bytes / 1e6:.0f} MB), or pick another vocoder (griffin-lim "
            "needs no download).",
        )
        raise missing from None
    model, config = load_vocoder_model(resolved, device)
    from engine.vocoders.diffusion import DiffusionVocoder, is_diffusion_config

    if is_diffusion_config(config):  # takes our own spectrogram: no Griffin-Lim stage
        return DiffusionVocoder(name=entry.name if entry is not None else resolved.model_id, net=model, config=config)
    return NeuralVocoder(
        name=entry.name if entry is not None else resolved.model_id,
        model=model,
        config=config,
        griffin_lim=GriffinLimVocoder(n_iter=n_iter, device=device),
    )


def _read_config(folder: Path) -> dict[str, Any]:
    from engine.models.errors import NotADiffusersModelError

    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NotADiffusersModelError(f"'{folder / 'config.json'}' is not readable JSON: {error}") from error
    if not isinstance(config, dict):
        raise NotADiffusersModelError(f"'{folder / 'config.json'}' is not a JSON object.")
    return config


def read_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """The generator's weights in ``folder``: its safetensors files, else its pickled generator read
    weights-only (then a safetensors copy is written next to it, when the folder is writable)."""
    from safetensors.torch import load_file, save_file

    from engine.models.errors import ModelError
    from engine.models.store import plan_vocoder_files

    names = [entry.name for entry in os.scandir(folder) if entry.is_file()]
    plan = plan_vocoder_files(names)
    weights = [f for f in plan.files if f != "config.json"]
    if not weights:
        raise ModelError(f"'{folder}' holds no vocoder weights (*.safetensors or the generator's .pt).")
    if weights[0].endswith(".safetensors"):
        state: dict[str, torch.Tensor] = {}
        for name in weights:
            state.update(load_file(str(folder / name), device="cpu"))
        return state
    path = folder / weights[0]
    try:
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - an unreadable or unsafe pickle becomes one message
        raise ModelError(f"Could not read the vocoder weights '{path}' (weights only): {type(error).__name__}: {error}") from error
    state = checkpoint.get("generator", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"'{path}' holds no generator state dict.")
    from engine.vocoders.bigvgan import fold_weight_norm

    state = fold_weight_norm(state)
    copy = folder / SAFETENSORS_COPY
    try:
        tmp = copy.with_name(copy.name + ".partial")
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
        os.replace(tmp, copy)
    except OSError as error:  # a read-only folder: keep working from the pickle
        log.info("could not keep a safetensors copy of %s: %s", path, error)
    return state


def load_vocoder_model(resolved: Any, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The vocoder model in a resolved store folder, on ``device`` in eval mode, and its config
    (cached: the last one loaded stays loaded)."""
    from engine.models.errors import ModelError, NotADiffusersModelError
    from engine.vocoders.bigvgan import BigVGAN, fold_weight_norm, is_bigvgan_config

    key = (str(resolved.path), resolved.revision, str(torch.device(device)))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    from engine.vocoders.diffusion import DiffusionVocoderNet, is_diffusion_config

    folder = Path(resolved.path)
    config = _read_config(folder)
    if not is_bigvgan_config(config) and not is_diffusion_config(config):
        raise NotADiffusersModelError(
            f"'{folder}' is not a vocoder this version can run: its config.json is neither a BigVGAN generator's "
            "nor a diffusion vocoder's."
        )
    try:
        model = DiffusionVocoderNet(config) if is_diffusion_config(config) else BigVGAN(config)
    except ValueError as error:
        raise NotADiffusersModelError(f"'{folder / 'config.json'}': {error}") from error
    state = fold_weight_norm(read_state_dict(folder))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ModelError(f"The weights in '{folder}' do not fit its config.json: {first}") from error
    model = model.to(device).eval()
    with _cache_lock:
        _cache[key] = (model, config)
        while len(_cache) > _MAX_LOADED:
            _cache.popitem(last=False)
    return model, config


def unload_vocoders() -> int:
    """Drop the loaded vocoder models; returns how many."""
    with _cache_lock:
        count = len(_cache)
        _cache.clear()
    return count


class NeuralVocoder:
    """Griffin-Lim, then the neural model resynthesises the Griffin-Lim audio from its own mel.

    Follows :class:`engine.audio.inversion.Vocoder`: ``(batch, n_mels, frames)`` int16-scale mel
    amplitudes in, float-scale ``(batch, num_samples)`` waveforms at ``params.sample_rate`` out.
    Deterministic for a given ``generator`` seed (the model itself draws no randomness).
    """

    def __init__(self, *, name: str, model: torch.nn.Module, config: dict[str, Any], griffin_lim: GriffinLimVocoder) -> None:
        self.name = name
        self.model = model
        self.config = config
        self.griffin_lim = griffin_lim
        self.sample_rate_hz = int(config["sampling_rate"])
        self.hop = int(config["hop_size"])

    def __repr__(self) -> str:
        return f"NeuralVocoder(name={self.name!r}, rate={self.sample_rate_hz}, gl_iters={self.griffin_lim.n_iter})"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __call__(
        self,
        mel: torch.Tensor,
        params: SpectrogramParams,
        *,
        num_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        wave = self.griffin_lim(mel, params, num_samples=num_samples, generator=generator)
        return self.resynthesise(wave, params.sample_rate)

    def resynthesise(self, wave: torch.Tensor, sample_rate_hz: int) -> torch.Tensor:
        """Audio ``(batch, samples)`` at ``sample_rate_hz`` re-analysed to the model's mel and
        synthesised by the model; same shape, rate, device and level scale as ``wave``."""
        import torchaudio.functional as AF

        from engine.vocoders.bigvgan import bigvgan_mel

        out_device, samples = wave.device, wave.shape[-1]
        x = wave.detach().to(self.device, torch.float32)
        if sample_rate_hz != self.sample_rate_hz:
            x = AF.resample(x, sample_rate_hz, self.sample_rate_hz)
        peak = float(x.abs().max()) if x.numel() else 0.0
        if peak == 0.0:
            return torch.zeros_like(wave)
        gain = min(1.0, _INPUT_PEAK / peak)
        x = x * gain
        n = x.shape[-1]
        frames = -(-n // self.hop)
        # Room for the reflect padding of the analysis and whole frames.
        x = torch.nn.functional.pad(x, (0, max(frames * self.hop, int(self.config["n_fft"])) - n))
        with torch.inference_mode():
            mel = bigvgan_mel(x, self.config)[..., :frames]
            pieces = []
            for lo in range(0, frames, CHUNK_FRAMES):
                cancel_point()
                hi = min(frames, lo + CHUNK_FRAMES)
                a, b = max(0, lo - CONTEXT_FRAMES), min(frames, hi + CONTEXT_FRAMES)
                y = self.model(mel[..., a:b])[:, 0]
                pieces.append(y[:, (lo - a) * self.hop : (hi - a) * self.hop])
            y = torch.cat(pieces, dim=-1)[:, :n] / gain
        if sample_rate_hz != self.sample_rate_hz:
            y = AF.resample(y, self.sample_rate_hz, sample_rate_hz)
        if y.shape[-1] < samples:
            y = torch.nn.functional.pad(y, (0, samples - y.shape[-1]))
        return y[..., :samples].to(out_device, wave.dtype)


def resynthesise_region(vocoder: Any, audio: Any, region: Any, sample_rate_hz: int, fade_samples: int) -> Any:
    """``audio`` ``(channels, samples)`` float32 with the samples in ``region`` (bool, per sample)
    resynthesised by a neural ``vocoder`` (its :meth:`NeuralVocoder.resynthesise` of the whole span),
    faded in over ``fade_samples`` inside each edge of the region; samples outside it are returned
    unchanged. Griffin-Lim (no ``resynthesise``) returns ``audio`` as is.

    Edits synthesise their new audio by a constrained Griffin-Lim that holds the untouched audio
    fixed; this is how a neural vocoder then improves only the new audio.
    """
    import numpy as np

    if not hasattr(vocoder, "resynthesise") or not region.any():
        return audio
    new = vocoder.resynthesise(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), sample_rate_hz)
    new = new.detach().float().cpu().numpy()
    # Distance of each sample to the nearest sample outside the region, capped at the fade.
    inside = region.astype(np.float32)
    weight = inside.copy()
    if fade_samples > 0:
        ramp = np.ones(region.size, dtype=np.float32) * fade_samples
        edges = np.flatnonzero(np.diff(np.concatenate(([0], region.astype(np.int8), [0]))))
        index = np.arange(region.size)
        for edge in edges:
            ramp = np.minimum(ramp, np.abs(index - edge + 0.5))
        weight = inside * np.clip(ramp / fade_samples, 0.0, 1.0)
    return np.where(region[None, :], audio * (1.0 - weight) + new * weight, audio).astype(np.float32)
