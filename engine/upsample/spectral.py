"""The offline bandwidth-extension upsampler: a small band-energy network plus spectral copy-up.

Like the spectral band replication of HE-AAC, the missing band is made from the band the input
has, and a learned model says how loud each part of it should be:

1. STFT of the input at the model's rate (``n_fft`` 2048, hop 512 at 44.1 kHz: 21.5 Hz bins).
2. Band energies (``num_bands`` mel-spaced bands, log10 power) of the bands below the cutoff,
   relative to each frame's level, go into :class:`BandNet`, a 1-D convolutional network over
   time (dilated residual layers, ~0.7 s receptive field); it predicts the log energy of every
   band above the cutoff.
3. Excitation: the upper part of the known band, shifted up by a whole number of ``n_fft / hop``
   bins (so the shifted STFT is still consistent: a frequency-shifted copy of the input, with its
   harmonics, noise and transients) and repeated until the Nyquist frequency.
4. Each band of the excitation is scaled to its predicted energy; below the cutoff the input's
   STFT is kept as it is (the input is low-passed there), then the inverse STFT.

The network is ~0.6 M parameters (2.4 MB of float32); on one CPU thread it runs well above real
time. Training: :mod:`engine.training.train_upsampler`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.upsample.dsp import band_matrix, mel_band_edges

#: Floor of the band powers (log10): silence is 1e-10.
POWER_FLOOR = 1e-10


@dataclass(frozen=True)
class SpectralConfig:
    """The shape of a spectral upsampler (stored in its folder's ``upsampler.json``)."""

    sample_rate_hz: int = 44100
    n_fft: int = 2048
    hop: int = 512
    num_bands: int = 64
    hidden: int = 96
    layers: int = 6
    kernel: int = 5
    #: The input's cutoff is never taken below this (a clip with nothing above 500 Hz is not
    #: "band-limited at 500 Hz"; it is low music, and is extended from here up).
    min_cutoff_hz: float = 2000.0
    #: Inputs that already reach this are left alone (the model was trained up to it).
    max_cutoff_hz: float = 12000.0
    #: Most a band of the excitation is raised (dB): a near-silent source band stays quiet.
    max_gain_db: float = 40.0

    def __post_init__(self) -> None:
        if self.n_fft % self.hop:
            raise ValueError(f"`n_fft` ({self.n_fft}) must be a multiple of `hop` ({self.hop}).")
        if not 0 < self.min_cutoff_hz < self.max_cutoff_hz < self.sample_rate_hz / 2:
            raise ValueError("expected 0 < min_cutoff_hz < max_cutoff_hz < the Nyquist frequency.")
        if self.kernel % 2 != 1 or self.layers < 1 or self.hidden < 1:
            raise ValueError("`kernel` must be odd, `layers` and `hidden` positive.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpectralConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown spectral upsampler settings: {', '.join(unknown)}.")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def bin_hz(self) -> float:
        return self.sample_rate_hz / self.n_fft

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2 ** (i % 3) for i in range(self.layers))

    @property
    def receptive_field_frames(self) -> int:
        return 1 + (self.kernel - 1) * sum(self.dilations)


class BandNet(nn.Module):
    """Band energies below the cutoff (+ which bands are known, + the frame level) -> band
    energies above it. Input ``(batch, 2 * bands + 1, frames)``, output ``(batch, bands, frames)``."""

    def __init__(self, config: SpectralConfig) -> None:
        super().__init__()
        bands, hidden = config.num_bands, config.hidden
        self.inp = nn.Conv1d(2 * bands + 1, hidden, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(hidden, hidden, config.kernel, dilation=d, padding=d * (config.kernel - 1) // 2),
                nn.GELU(),
                nn.Conv1d(hidden, hidden, 1),
            )
            for d in config.dilations
        )
        self.act = nn.GELU()
        self.out = nn.Conv1d(hidden, bands, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.inp(features)
        for block in self.blocks:
            h = h + block(self.act(h))
        return self.out(self.act(h))


def features(band_power: torch.Tensor, known: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Network input from linear band powers ``(batch, bands, frames)`` and the mask of known
    bands ``known`` (``(batch, bands)`` of 0/1, the low bands): ``(batch, 2 * bands + 1, frames)``
    and each frame's level ``ref`` (log10 of the mean power per bin of the known bands),
    ``(batch, 1, frames)``.

    Known bands are log10 power relative to ``ref`` (halved); unknown bands are 0 with a 0 in
    the mask channels; the last channel is the absolute level, so silence is recognisable.
    """
    batch, bands, frames = band_power.shape
    w = (widths.view(1, -1) * known).unsqueeze(-1)
    ref = torch.log10((band_power * w).sum(dim=1, keepdim=True) / w.sum(dim=1, keepdim=True) + POWER_FLOOR)
    rel = (torch.log10(band_power + POWER_FLOOR) - ref) / 2
    mask = known.unsqueeze(-1).to(band_power.dtype)
    level = ref / 5 + 1
    x = torch.cat([rel * mask, mask.expand(batch, bands, frames), level], dim=1)
    return x, ref


def shift_bins(cutoff_bin: int, n_fft: int, hop: int) -> int:
    """How far the excitation is shifted up: about half the known band, a multiple of
    ``n_fft / hop`` bins (then the shifted STFT frames stay in phase with each other)."""
    step = n_fft // hop
    return max(step, (cutoff_bin // 2) // step * step)


class SpectralUpsampler:
    """A loaded spectral upsampler: :meth:`extend` one chunk at the model's rate."""

    kind = "spectral"

    def __init__(self, config: SpectralConfig, net: BandNet | None = None) -> None:
        self.config = config
        self.net = (net or BandNet(config)).eval()
        edges = mel_band_edges(config.n_fft, config.sample_rate_hz, config.num_bands)
        self.edges = edges
        self.band_matrix = torch.from_numpy(band_matrix(edges))
        self.widths = torch.from_numpy(np.diff(edges).astype(np.float32))
        self.band_of_bin = torch.from_numpy(np.repeat(np.arange(config.num_bands), np.diff(edges)))
        self.window = torch.hann_window(config.n_fft)

    @property
    def sample_rate_hz(self) -> int:
        return self.config.sample_rate_hz

    @property
    def chunk_alignment(self) -> int:
        """Chunks of a long clip start at multiples of this many samples (the STFT hop)."""
        return self.config.hop

    @property
    def max_cutoff_hz(self) -> float:
        return self.config.max_cutoff_hz

    @property
    def min_cutoff_hz(self) -> float:
        return self.config.min_cutoff_hz

    def known_bands(self, cutoff_bin: int) -> int:
        """Bands wholly below ``cutoff_bin`` (at least one)."""
        return max(1, int(np.searchsorted(self.edges, cutoff_bin, side="right")) - 1)

    def cutoff_bin(self, cutoff_hz: float) -> int:
        c = self.config
        hz = min(max(cutoff_hz, c.min_cutoff_hz), c.max_cutoff_hz)
        return int(math.ceil(hz / c.bin_hz))

    @torch.no_grad()
    def extend(self, audio: np.ndarray, cutoff_hz: float, *, generator: torch.Generator | None = None,
               steps: int = 0) -> np.ndarray:
        """``audio`` (channels, samples) float32 at the model's rate, band-limited at
        ``cutoff_hz``: the same length, low-passed at the cutoff with the band above it filled
        in up to the Nyquist frequency. Deterministic (``generator`` and ``steps`` are unused)."""
        c = self.config
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        length = x.shape[-1]
        spec = torch.stft(x, c.n_fft, c.hop, window=self.window, center=True, return_complex=True)
        kc = self.cutoff_bin(cutoff_hz)
        bins = spec.shape[1]
        power = spec.real**2 + spec.imag**2
        band_power = torch.einsum("bk,ckt->cbt", self.band_matrix, power)
        known = torch.zeros(spec.shape[0], c.num_bands)
        known[:, : self.known_bands(kc)] = 1.0
        feats, ref = features(band_power, known, self.widths)
        predicted = 2 * self.net(feats) + ref  # log10 band power, every band
        shift = shift_bins(kc, c.n_fft, c.hop)
        high = torch.arange(kc, bins)
        source = kc - shift + (high - kc) % shift
        excitation = spec[:, source, :]
        ex_power = excitation.real**2 + excitation.imag**2
        bands_hi = self.band_of_bin[kc:]
        sums = torch.zeros(spec.shape[0], c.num_bands, spec.shape[2]).index_add_(1, bands_hi, ex_power)
        counts = torch.zeros(c.num_bands).index_add_(0, bands_hi, torch.ones(len(bands_hi)))
        ex_band = sums / counts.clamp(min=1).view(1, -1, 1)
        gain_db_cap = c.max_gain_db / 10
        log_gain = (predicted - torch.log10(ex_band + 1e-12)).clamp(max=gain_db_cap)
        gain = torch.pow(10.0, log_gain / 2)  # amplitude
        out = spec.clone()
        out[:, kc:, :] = excitation * gain[:, bands_hi, :]
        y = torch.istft(out, c.n_fft, c.hop, window=self.window, center=True, length=length)
        return y.numpy().astype(np.float32)
