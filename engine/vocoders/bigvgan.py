"""BigVGAN-v2's generator (inference only) and its mel analysis, written after NVIDIA's MIT code.

Follows https://github.com/NVIDIA/BigVGAN (``bigvgan.py``, ``activations.py``,
``alias_free_activation/torch``; MIT licence, Copyright (c) 2024 NVIDIA CORPORATION, itself
adapted from jik876/hifi-gan, MIT). PyPI's ``bigvgan`` package is not a dependency: it pulls in
librosa, matplotlib, pesq, nnAudio, tensorboard and auraloss for training code we do not run.

The module names match NVIDIA's, so their ``bigvgan_generator.pt`` state dicts load here. Their
weights are saved with weight normalisation (``weight_g``/``weight_v``); :func:`fold_weight_norm`
folds them into plain ``weight`` tensors (the same function of the weights), so the convolutions
here carry no weight-norm hooks.

:func:`bigvgan_mel` is the model's own analysis: log of the clamped magnitude
(``log(max(|X|, 1e-5))``) of a Hann STFT with reflect padding of ``(n_fft - hop) / 2`` on each
side and no centring, through a Slaney-normalised Slaney-scale mel filterbank (librosa's default,
here from torchaudio): ``frames = samples // hop``, and the generator makes ``hop`` samples per
frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: Config keys the generator needs (NVIDIA's config.json names).
REQUIRED_KEYS = (
    "num_mels", "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel", "resblock",
    "resblock_kernel_sizes", "resblock_dilation_sizes", "activation", "sampling_rate", "hop_size", "n_fft",
    "win_size",
)
#: Magnitudes are clamped at this before the log (NVIDIA's dynamic_range_compression_torch).
CLIP_VALUE = 1e-5


def is_bigvgan_config(config: Mapping[str, Any]) -> bool:
    """True for a BigVGAN generator config (NVIDIA's config.json keys)."""
    return all(key in config for key in REQUIRED_KEYS)


def check_config(config: Mapping[str, Any]) -> None:
    """Raise ValueError (one line) unless ``config`` describes a generator this module can build."""
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ValueError(f"the BigVGAN config lacks {', '.join(missing)}.")
    if math.prod(config["upsample_rates"]) != config["hop_size"]:
        raise ValueError(
            f"the BigVGAN config's upsample rates {config['upsample_rates']} multiply to "
            f"{math.prod(config['upsample_rates'])}, not its hop size {config['hop_size']}."
        )
    if str(config["resblock"]) not in ("1", "2"):
        raise ValueError(f"the BigVGAN config's resblock must be '1' or '2', got {config['resblock']!r}.")
    if config["activation"] not in ("snake", "snakebeta"):
        raise ValueError(f"the BigVGAN config's activation must be 'snake' or 'snakebeta', got {config['activation']!r}.")


# --------------------------------------------------------------------------- activations


class Snake(nn.Module):
    """x + 1/a sin^2(a x), one trainable ``a`` per channel (log-scale when ``logscale``)."""

    def __init__(self, channels: int, logscale: bool = False) -> None:
        super().__init__()
        self.logscale = logscale
        self.alpha = nn.Parameter(torch.zeros(channels) if logscale else torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha[None, :, None]
        if self.logscale:
            alpha = torch.exp(alpha)
        return x + (1.0 / (alpha + 1e-9)) * torch.sin(x * alpha).pow(2)


class SnakeBeta(nn.Module):
    """x + 1/b sin^2(a x): frequency ``a`` and magnitude ``b`` per channel."""

    def __init__(self, channels: int, logscale: bool = False) -> None:
        super().__init__()
        self.logscale = logscale
        init = torch.zeros(channels) if logscale else torch.ones(channels)
        self.alpha = nn.Parameter(init.clone())
        self.beta = nn.Parameter(init.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha, beta = self.alpha[None, :, None], self.beta[None, :, None]
        if self.logscale:
            alpha, beta = torch.exp(alpha), torch.exp(beta)
        return x + (1.0 / (beta + 1e-9)) * torch.sin(x * alpha).pow(2)


def kaiser_sinc_filter1d(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """A Kaiser-windowed sinc low-pass ``(1, 1, kernel_size)`` normalised to unit DC gain."""
    even = kernel_size % 2 == 0
    half_size = kernel_size // 2
    delta_f = 4 * half_width
    attenuation = 2.285 * (half_size - 1) * math.pi * delta_f + 7.95
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, beta=beta, periodic=False)
    time = (torch.arange(-half_size, half_size) + 0.5) if even else (torch.arange(kernel_size) - half_size)
    filter_ = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    filter_ /= filter_.sum()
    return filter_.view(1, 1, kernel_size)


class LowPassFilter1d(nn.Module):
    def __init__(self, cutoff: float, half_width: float, stride: int, kernel_size: int) -> None:
        super().__init__()
        self.pad_left = kernel_size // 2 - int(kernel_size % 2 == 0)
        self.pad_right = kernel_size // 2
        self.stride = stride
        self.register_buffer("filter", kaiser_sinc_filter1d(cutoff, half_width, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter.expand(x.shape[1], -1, -1), stride=self.stride, groups=x.shape[1])


class UpSample1d(nn.Module):
    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio = ratio
        self.pad = kernel_size // ratio - 1
        self.pad_left = self.pad * ratio + (kernel_size - ratio) // 2
        self.pad_right = self.pad * ratio + (kernel_size - ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter1d(0.5 / ratio, 0.6 / ratio, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        x = self.ratio * F.conv_transpose1d(x, self.filter.expand(x.shape[1], -1, -1), stride=self.ratio,
                                            groups=x.shape[1])
        return x[..., self.pad_left : -self.pad_right]


class DownSample1d(nn.Module):
    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, ratio, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class Activation1d(nn.Module):
    """Anti-aliased activation: 2x upsample, the periodic activation, 2x downsample."""

    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.act = activation
        self.upsample = UpSample1d(2, 12)
        self.downsample = DownSample1d(2, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))


def _activation(config: Mapping[str, Any], channels: int) -> Activation1d:
    kind = Snake if config["activation"] == "snake" else SnakeBeta
    return Activation1d(kind(channels, logscale=bool(config.get("snake_logscale", True))))


def _padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


# --------------------------------------------------------------------------- generator


class AMPBlock1(nn.Module):
    """Residual block: per dilation, activation -> dilated conv -> activation -> conv."""

    def __init__(self, config: Mapping[str, Any], channels: int, kernel_size: int, dilation: list[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_padding(kernel_size, d)) for d in dilation
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=_padding(kernel_size)) for _ in dilation
        )
        self.activations = nn.ModuleList(_activation(config, channels) for _ in range(2 * len(dilation)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acts1, acts2 = self.activations[::2], self.activations[1::2]
        for c1, c2, a1, a2 in zip(self.convs1, self.convs2, acts1, acts2):
            x = x + c2(a2(c1(a1(x))))
        return x


class AMPBlock2(nn.Module):
    """Residual block: per dilation, activation -> dilated conv."""

    def __init__(self, config: Mapping[str, Any], channels: int, kernel_size: int, dilation: list[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_padding(kernel_size, d)) for d in dilation
        )
        self.activations = nn.ModuleList(_activation(config, channels) for _ in dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, act in zip(self.convs, self.activations):
            x = x + conv(act(x))
        return x


class BigVGAN(nn.Module):
    """The generator: log-mel ``(batch, num_mels, frames)`` -> waveform ``(batch, 1, frames * hop)`` in [-1, 1]."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        check_config(config)
        self.config = dict(config)
        self.num_kernels = len(config["resblock_kernel_sizes"])
        channels = int(config["upsample_initial_channel"])
        self.conv_pre = nn.Conv1d(int(config["num_mels"]), channels, 7, 1, padding=3)
        block = AMPBlock1 if str(config["resblock"]) == "1" else AMPBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(config["upsample_rates"], config["upsample_kernel_sizes"])):
            c_in, c_out = channels // (2**i), channels // (2 ** (i + 1))
            self.ups.append(nn.ModuleList([nn.ConvTranspose1d(c_in, c_out, kernel, rate, padding=(kernel - rate) // 2)]))
            for k, d in zip(config["resblock_kernel_sizes"], config["resblock_dilation_sizes"]):
                self.resblocks.append(block(config, c_out, k, d))
        self.activation_post = _activation(config, c_out)
        self.use_tanh_at_final = bool(config.get("use_tanh_at_final", True))
        self.conv_post = nn.Conv1d(c_out, 1, 7, 1, padding=3, bias=bool(config.get("use_bias_at_final", True)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            for layer in up:
                x = layer(x)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.use_tanh_at_final else torch.clamp(x, -1.0, 1.0)


def fold_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with every weight-normalised weight (``weight_g``/``weight_v`` from
    ``torch.nn.utils.weight_norm``, or ``parametrizations.weight.original0/1``) folded into ``weight``:
    ``weight = g * v / ||v||`` with the norm over all dimensions but the first (weight_norm's dim=0)."""
    out: dict[str, torch.Tensor] = {}
    pairs = {"weight_v": "weight_g", "parametrizations.weight.original1": "parametrizations.weight.original0"}
    for key, value in state.items():
        folded = False
        for v_name, g_name in pairs.items():
            if key.endswith(v_name):
                base = key[: -len(v_name)]
                g = state[base + g_name].float()
                v = value.float()
                norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.ndim - 1)))
                out[base + "weight"] = (v * (g / norm)).contiguous()
                folded = True
            elif key.endswith(g_name):
                folded = True
        if not folded:
            out[key] = value
    return out


# --------------------------------------------------------------------------- analysis


_MEL_BASES: dict[tuple[Any, ...], torch.Tensor] = {}


def _mel_basis(config: Mapping[str, Any], device: torch.device) -> torch.Tensor:
    import torchaudio

    rate = int(config["sampling_rate"])
    fmax = config.get("fmax") or rate / 2
    key = (rate, int(config["n_fft"]), int(config["num_mels"]), float(config.get("fmin", 0)), float(fmax), str(device))
    if key not in _MEL_BASES:
        fb = torchaudio.functional.melscale_fbanks(
            int(config["n_fft"]) // 2 + 1, float(config.get("fmin", 0)), float(fmax), int(config["num_mels"]), rate,
            norm="slaney", mel_scale="slaney",
        )
        _MEL_BASES[key] = fb.T.contiguous().to(device)  # (num_mels, bins)
    return _MEL_BASES[key]


def bigvgan_mel(wave: torch.Tensor, config: Mapping[str, Any]) -> torch.Tensor:
    """BigVGAN's log-mel of ``wave`` ``(batch, samples)`` at ``config['sampling_rate']``:
    ``(batch, num_mels, samples // hop)``."""
    n_fft, hop, win = int(config["n_fft"]), int(config["hop_size"]), int(config["win_size"])
    pad = (n_fft - hop) // 2
    padded = F.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(win, device=wave.device, dtype=wave.dtype)
    spec = torch.stft(padded, n_fft, hop_length=hop, win_length=win, window=window, center=False,
                      normalized=False, onesided=True, return_complex=True)
    magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    mel = torch.matmul(_mel_basis(config, wave.device).to(wave.dtype), magnitude)
    return torch.log(torch.clamp(mel, min=CLIP_VALUE))
