"""Seed 004's diffusion upsampler, written compactly for our stack.

After ``audio-diffusion-pytorch`` 0.1.3's ``DiffusionUpsampler`` (archinetai, MIT): a waveform
1-D U-Net trained with v-diffusion, conditioned by the band-limited audio stacked on its input
channels (their "reupsampled" low-rate audio; here the input low-passed at its cutoff, at the
model's rate, which is the same signal). Sampling is their ``VSampler``: sigmas from 1 to 0 in
``steps`` equal steps, each predicting v and stepping to the next noise level. Ours differs in
three small ways: the U-Net is a plain one (ResNet blocks with a sigma embedding, strided
down/up-sampling, skip connections, no attention, so it runs on CPU); the cutoff is random in
training (any band-limited input, not one fixed factor); and the result keeps the input's own
low band (its STFT below the cutoff), so only the band above is generated.

    python -m engine.training.train_upsampler --kind diffusion --out my-diffusion --audio ~/Music
    specdiff-cli upsample in.wav -o out.wav --model my-diffusion --steps 30 --seed 1

No weights are published for seed 004 ("you have to train your own"); this trains on any folder.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class DiffusionConfig:
    """The shape of a diffusion upsampler (stored in its folder's ``upsampler.json``)."""

    sample_rate_hz: int = 44100
    channels: tuple[int, ...] = (32, 64, 96, 128)
    factors: tuple[int, ...] = (4, 4, 4)
    blocks: int = 2
    embedding: int = 64
    default_steps: int = 30
    min_cutoff_hz: float = 2000.0
    max_cutoff_hz: float = 12000.0
    #: STFT used to keep the input's low band in the output.
    n_fft: int = 2048
    hop: int = 512

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "factors", tuple(int(f) for f in self.factors))
        if len(self.factors) != len(self.channels) - 1 or any(f < 1 for f in self.factors):
            raise ValueError("`factors` must have one positive entry fewer than `channels`.")
        if any(c % 8 for c in self.channels):
            raise ValueError("every entry of `channels` must be a multiple of 8 (group norm).")
        if not 0 < self.min_cutoff_hz < self.max_cutoff_hz < self.sample_rate_hz / 2:
            raise ValueError("expected 0 < min_cutoff_hz < max_cutoff_hz < the Nyquist frequency.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiffusionConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown diffusion upsampler settings: {', '.join(unknown)}.")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @property
    def total_factor(self) -> int:
        return int(np.prod(self.factors)) if self.factors else 1


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(e).unsqueeze(-1).chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class UNet1d(nn.Module):
    """(batch, 2, samples) [noisy audio, conditioning] + sigma (batch,) -> v (batch, 1, samples).
    ``samples`` must be a multiple of the product of ``factors``."""

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        c, emb = config.channels, config.embedding
        self.embedding = emb
        self.time = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.inp = nn.Conv1d(2, c[0], 7, padding=3)
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, f in enumerate(config.factors):
            self.down_blocks.append(nn.ModuleList(_Block(c[i], c[i], emb) for _ in range(config.blocks)))
            self.downs.append(nn.Conv1d(c[i], c[i + 1], 2 * f, stride=f, padding=f // 2))
        self.mid = nn.ModuleList(_Block(c[-1], c[-1], emb) for _ in range(config.blocks))
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in reversed(range(len(config.factors))):
            f = config.factors[i]
            self.ups.append(nn.ConvTranspose1d(c[i + 1], c[i], 2 * f, stride=f, padding=f // 2))
            self.up_blocks.append(nn.ModuleList(_Block(2 * c[i] if j == 0 else c[i], c[i], emb) for j in range(config.blocks)))
        self.out = nn.Sequential(nn.GroupNorm(8, c[0]), nn.SiLU(), nn.Conv1d(c[0], 1, 3, padding=1))

    def sigma_embedding(self, sigma: torch.Tensor) -> torch.Tensor:
        half = self.embedding // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        angles = sigma.view(-1, 1).float() * 1000.0 * freqs.view(1, -1)
        return self.time(torch.cat([angles.sin(), angles.cos()], dim=1))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        e = self.sigma_embedding(sigma)
        h = self.inp(x)
        skips = []
        for blocks, down in zip(self.down_blocks, self.downs):
            for block in blocks:
                h = block(h, e)
            skips.append(h)
            h = down(h)
        for block in self.mid:
            h = block(h, e)
        for up, blocks in zip(self.ups, self.up_blocks):
            h = up(h)
            h = torch.cat([h, skips.pop()], dim=1)
            for block in blocks:
                h = block(h, e)
        return self.out(h)


def alpha_beta(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """v-diffusion's signal and noise weights at noise level ``sigma`` in [0, 1]."""
    angle = sigma * math.pi / 2
    return torch.cos(angle), torch.sin(angle)


def v_loss(net: UNet1d, x: torch.Tensor, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """VDiffusion's training loss: MSE of the predicted v at a uniform random noise level."""
    sigma = torch.rand(x.shape[0], generator=generator)
    noise = torch.randn(x.shape, generator=generator)
    alpha, beta = (t.view(-1, 1, 1) for t in alpha_beta(sigma))
    noisy = alpha * x + beta * noise
    target = alpha * noise - beta * x
    return F.mse_loss(net(torch.cat([noisy, cond], dim=1), sigma), target)


@torch.no_grad()
def v_sample(net: UNet1d, cond: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
    """VSampler: from noise at sigma 1 to sigma 0 in ``steps`` equal steps, conditioned on ``cond``."""
    x = torch.randn(cond.shape, generator=generator)
    sigmas = torch.linspace(1.0, 0.0, steps + 1)
    for i in range(steps):
        alpha, beta = alpha_beta(sigmas[i])
        v = net(torch.cat([x, cond], dim=1), sigmas[i].repeat(x.shape[0]))
        x_pred = alpha * x - beta * v
        noise_pred = beta * x + alpha * v
        alpha_next, beta_next = alpha_beta(sigmas[i + 1])
        x = alpha_next * x_pred + beta_next * noise_pred
    return x


def _stft_lowpass(x: torch.Tensor, cutoff_bin: int, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    spec = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)
    spec[:, cutoff_bin:, :] = 0
    return torch.istft(spec, n_fft, hop, window=window, center=True, length=x.shape[-1])


class DiffusionUpsampler:
    """A loaded diffusion upsampler: :meth:`extend` one chunk at the model's rate."""

    kind = "diffusion"

    def __init__(self, config: DiffusionConfig, net: UNet1d | None = None) -> None:
        self.config = config
        self.net = (net or UNet1d(config)).eval()
        self.window = torch.hann_window(config.n_fft)

    @property
    def sample_rate_hz(self) -> int:
        return self.config.sample_rate_hz

    @property
    def min_cutoff_hz(self) -> float:
        return self.config.min_cutoff_hz

    @property
    def max_cutoff_hz(self) -> float:
        return self.config.max_cutoff_hz

    @property
    def chunk_alignment(self) -> int:
        return math.lcm(self.config.total_factor, self.config.hop)

    def cutoff_bin(self, cutoff_hz: float) -> int:
        c = self.config
        hz = min(max(cutoff_hz, c.min_cutoff_hz), c.max_cutoff_hz)
        return int(math.ceil(hz * c.n_fft / c.sample_rate_hz))

    def condition(self, x: torch.Tensor, cutoff_hz: float) -> torch.Tensor:
        """The conditioning: ``x`` (batch, samples) low-passed at ``cutoff_hz`` (STFT mask)."""
        c = self.config
        return _stft_lowpass(x, self.cutoff_bin(cutoff_hz), c.n_fft, c.hop, self.window)

    def extend(self, audio: np.ndarray, cutoff_hz: float, *, generator: torch.Generator | None = None,
               steps: int = 0) -> np.ndarray:
        """``audio`` (channels, samples) at the model's rate -> the same length with the band above
        ``cutoff_hz`` sampled by the U-Net (``steps``, default the config's) and the input's
        own low band kept. Each channel is one batch item; the level is normalised for the net."""
        c = self.config
        generator = generator or torch.Generator("cpu").manual_seed(0)
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        length = x.shape[-1]
        pad = (-length) % c.total_factor
        cond = self.condition(x, cutoff_hz)
        scale = cond.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5) / 0.5
        cond_in = F.pad(cond / scale, (0, pad)).unsqueeze(1)
        sample = v_sample(self.net, cond_in, steps or c.default_steps, generator)[:, 0, :length] * scale
        high = sample - self.condition(sample, cutoff_hz)
        return (cond + high).numpy().astype(np.float32)


def train_diffusion(batches: Any, args: Any, log: Any = print) -> tuple[DiffusionUpsampler, dict[str, Any]]:
    """Train a :class:`DiffusionUpsampler` on batches of clips (clips, samples) at 44.1 kHz:
    random crops of ``args.crop_samples``, random cutoffs, the v-objective."""
    from engine.training.train_upsampler import optimise, random_cutoffs

    torch.manual_seed(args.seed)
    generator = torch.Generator("cpu").manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    channels = tuple(args.diffusion_channels)
    config = DiffusionConfig(channels=channels, factors=(4,) * (len(channels) - 1))
    upsampler = DiffusionUpsampler(config)
    net = upsampler.net
    audio = np.concatenate(list(batches))
    crop = args.crop_samples // config.total_factor * config.total_factor
    log(f"{len(audio)} clips, {sum(p.numel() for p in net.parameters())} parameters, crops of {crop} samples")

    def batch_loss(step: int) -> torch.Tensor:
        idx = rng.integers(0, len(audio), size=args.batch_size)
        offsets = rng.integers(0, audio.shape[1] - crop + 1, size=args.batch_size)
        x = torch.from_numpy(np.stack([audio[i, o : o + crop] for i, o in zip(idx, offsets)]))
        cutoffs = random_cutoffs(rng, args.batch_size, config)
        cond = torch.stack([upsampler.condition(x[j : j + 1], float(cutoffs[j]))[0] for j in range(len(x))])
        scale = cond.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5) / 0.5
        return v_loss(net, (x / scale).unsqueeze(1), (cond / scale).unsqueeze(1), generator)

    losses = optimise(net, batch_loss, args, args.diffusion_lr, log)
    return upsampler, {"final_v_loss": round(float(np.mean(losses[-100:])), 4)}
