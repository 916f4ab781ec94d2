"""Seed 004's diffusion vocoder: mel spectrogram -> waveform by v-diffusion with a 1D U-Net.

After ``audio-diffusion-pytorch`` 0.1.3's ``DiffusionVocoder`` (archinetai, MIT): the mel is
upsampled to the waveform's rate by a learned transposed convolution (one frame -> ``hop``
samples, seed 004's ``to_flat``, one channel) and stacked on the noisy waveform; the 1-D U-Net,
v-objective and ``VSampler`` are the diffusion upsampler's (:mod:`engine.upsample.diffusion`, the
same seed): it predicts ``v = alpha * noise - beta * x`` at a noise level sigma uniform in [0, 1],
and sampling walks sigma from 1 to 0 in ``sampling_steps`` steps.

It takes our own spectrograms directly (the preset it was trained on, in ``config.json``): no
Griffin-Lim stage. ``engine.tasks.train_vocoder`` trains one; a trained folder (``config.json``
+ ``model.safetensors``) is a vocoder folder the store and :func:`engine.vocoders.factory.make_vocoder`
load like any other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.cancel import cancel_point

ARCHITECTURE = "specdiff-diffusion-vocoder"
#: Mel frames sampled at once for long input, and the frames of context around each chunk.
CHUNK_FRAMES = 512
CONTEXT_FRAMES = 8


def default_config(preset: str = "starter", **overrides: Any) -> dict[str, Any]:
    """A vocoder config for spectrogram ``preset`` (its parameters are recorded in it)."""
    from engine.audio.params import get_preset

    config = {
        "architecture": ARCHITECTURE,
        "preset": preset,
        "spectrogram": get_preset(preset).to_dict(),
        "channels": [24, 48, 96, 128],
        "factors": [4, 4, 4],
        "blocks": 1,
        "embed": 64,
        "sampling_steps": 8,
    }
    config.update(overrides)
    check_config(config)
    return config


def is_diffusion_config(config: Mapping[str, Any]) -> bool:
    return config.get("architecture") == ARCHITECTURE


def check_config(config: Mapping[str, Any]) -> None:
    """Raise ValueError (one line) unless ``config`` describes a diffusion vocoder this module builds."""
    missing = [k for k in ("spectrogram", "channels", "factors", "blocks", "embed", "sampling_steps")
               if k not in config]
    if missing:
        raise ValueError(f"the diffusion vocoder config lacks {', '.join(missing)}.")
    if len(config["channels"]) != len(config["factors"]) + 1:
        raise ValueError("the diffusion vocoder config needs one more channel count than down-sampling factors.")
    if any(int(c) % 8 for c in config["channels"]):
        raise ValueError(f"the diffusion vocoder's channel counts must be multiples of 8, got {config['channels']}.")
    if not 1 <= int(config["sampling_steps"]) <= 1000:
        raise ValueError(f"sampling_steps must be 1 to 1000, got {config['sampling_steps']}.")


def mel_features(mel: torch.Tensor) -> torch.Tensor:
    """The network's view of int16-scale mel amplitudes: log(1 + mel) / 10 (about 0 to 1)."""
    return torch.log1p(mel.clamp_min(0)) / 10.0


def unet_config(config: Mapping[str, Any]) -> Any:
    """The upsampler's U-Net shape for this vocoder (its cutoff fields are not used here)."""
    from engine.audio.params import SpectrogramParams
    from engine.upsample.diffusion import DiffusionConfig

    params = SpectrogramParams.from_dict(config["spectrogram"])
    return DiffusionConfig(
        sample_rate_hz=int(params.sample_rate), channels=tuple(config["channels"]), factors=tuple(config["factors"]),
        blocks=int(config["blocks"]), embedding=int(config["embed"]), default_steps=int(config["sampling_steps"]),
        min_cutoff_hz=params.sample_rate / 8, max_cutoff_hz=params.sample_rate / 4,
    )


class DiffusionVocoderNet(nn.Module):
    """Seed 004's vocoder: the mel upsampled to one waveform-rate channel by a learned transposed
    convolution (``to_flat``: one frame -> ``2 * hop`` samples centred on its own sample), stacked on
    the noisy waveform, into the 1-D U-Net and v-diffusion of :mod:`engine.upsample.diffusion`."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        check_config(config)
        from engine.audio.params import SpectrogramParams
        from engine.upsample.diffusion import UNet1d

        params = SpectrogramParams.from_dict(config["spectrogram"])
        self.hop = int(params.hop_length)
        self.to_flat = nn.ConvTranspose1d(int(params.num_frequencies), 1, 2 * self.hop, stride=self.hop, padding=self.hop)
        self.unet = UNet1d(unet_config(config))
        self.factors = [int(f) for f in config["factors"]]

    @property
    def multiple(self) -> int:
        return math.prod(self.factors)

    def condition(self, mel: torch.Tensor, length: int) -> torch.Tensor:
        """The mel upsampled to ``length`` samples: (B, 1, length)."""
        flat = self.to_flat(mel_features(mel))
        if flat.shape[-1] < length:
            flat = F.pad(flat, (0, length - flat.shape[-1]))
        return flat[..., :length]

    def loss(self, wave: torch.Tensor, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The v-objective's loss on clean waveforms (B, T) (T a multiple of :attr:`multiple`) and their mel."""
        from engine.upsample.diffusion import v_loss

        return v_loss(self.unet, wave[:, None], self.condition(mel, wave.shape[-1]), generator)

    @torch.no_grad()
    def sample(self, mel: torch.Tensor, length: int, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Waveforms (B, length) for mel (B, n_mels, frames), from noise drawn from ``generator`` (CPU)."""
        from engine.upsample.diffusion import v_sample

        cancel_point()
        padded = -(-length // self.multiple) * self.multiple
        x = v_sample(self.unet, self.condition(mel, padded), steps, generator)
        return x[:, 0, :length].clamp(-1.0, 1.0)


class DiffusionVocoder:
    """:class:`engine.audio.inversion.Vocoder` for a trained :class:`DiffusionVocoderNet`: our own
    mel (the preset it was trained on) in, float-scale audio out; seeded by ``generator``."""

    def __init__(self, *, name: str, net: DiffusionVocoderNet, config: Mapping[str, Any]) -> None:
        from engine.audio.params import SpectrogramParams

        self.name = name
        self.net = net.eval()
        self.config = dict(config)
        self.params = SpectrogramParams.from_dict(config["spectrogram"])
        self.steps = int(config["sampling_steps"])

    def __repr__(self) -> str:
        return f"DiffusionVocoder(name={self.name!r}, preset={self.config.get('preset')!r}, steps={self.steps})"

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def check_params(self, params: Any) -> None:
        if params.to_dict() != self.params.to_dict():
            raise ValueError(
                f"the vocoder {self.name!r} was trained on the {self.config.get('preset', 'its own')!r} spectrogram "
                f"({self.params.num_frequencies} mel bins, {self.params.sample_rate} Hz, hop {self.params.hop_length}); "
                "it cannot vocode another one. Pick griffin-lim or a vocoder for this spectrogram."
            )

    def __call__(
        self, mel: torch.Tensor, params: Any, *, num_samples: int | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        self.check_params(params)
        if mel.ndim != 3 or mel.shape[1] != params.num_frequencies or mel.shape[2] < 1:
            raise ValueError(f"{self.name}: expected mel shaped (batch, {params.num_frequencies}, frames), got {tuple(mel.shape)}")
        hop, frames = params.hop_length, mel.shape[2]
        length = frames * hop if num_samples is None else int(num_samples)
        out_device = mel.device
        mel = mel.detach().to(self.device, torch.float32)
        pieces = []
        with torch.inference_mode():
            for lo in range(0, frames, CHUNK_FRAMES):
                hi = min(frames, lo + CHUNK_FRAMES)
                a, b = max(0, lo - CONTEXT_FRAMES), min(frames, hi + CONTEXT_FRAMES)
                wave = self.net.sample(mel[..., a:b], (b - a) * hop, self.steps, generator)
                pieces.append(wave[:, (lo - a) * hop : (hi - a) * hop])
        wave = torch.cat(pieces, dim=-1)
        if wave.shape[-1] < length:
            wave = F.pad(wave, (0, length - wave.shape[-1]))
        return wave[:, :length].to(out_device)

    def resynthesise(self, wave: torch.Tensor, sample_rate_hz: int) -> torch.Tensor:
        """Audio (batch, samples) analysed with the trained preset and vocoded again (same shape and rate)."""
        import numpy as np

        from engine.audio.io import resample
        from engine.audio.spectrogram import mel_from_audio

        audio = wave.detach().float().cpu().numpy()
        rate = self.params.sample_rate
        work = audio if sample_rate_hz == rate else resample(audio, sample_rate_hz, rate)
        mel = np.concatenate([mel_from_audio(channel[None], self.params) for channel in work])
        out = self(torch.from_numpy(mel), self.params, num_samples=work.shape[1],
                   generator=torch.Generator().manual_seed(0)).numpy()
        if sample_rate_hz != rate:
            out = resample(out, rate, sample_rate_hz)
        out = out[:, : audio.shape[1]]
        if out.shape[1] < audio.shape[1]:
            out = np.pad(out, ((0, 0), (0, audio.shape[1] - out.shape[1])))
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).to(wave.device, wave.dtype)
