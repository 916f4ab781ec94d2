"""A diffusers UNet that is shown where a prompt's pitch and beat go on the spectrogram.

A small text-to-spectrogram UNet reads "a 1 kHz tone" or "a rock beat at 120 BPM" from the
text encoder's states and has to turn that number into a *place*: the row of the tone, the
columns of the beats. Starter model 2 did that loosely (tones within a semitone 38% of the
time, beats within 5% of the tempo 25%), although its text encoder reads the numbers well (91%
and 98% through a probe, ``bench/bench_starter_text.py``): the number-to-place step is what
the UNet got wrong, often the same way for every seed.

This UNet draws that place for itself, as a ControlNet or T2I-Adapter would draw a control
image, but from the prompt: a small *caption reader* (attention pooling over the text states,
then an MLP) reads whether the prompt names a pitch (or a sweep's ends) and a beat period, and
their values; the UNet paints them as four hint maps at latent resolution:

* a *pitch contour*: for each latent column, a Gaussian over latent rows at the row of the
  named pitch (constant for a tone, moving in log frequency for a sweep), and the signed
  offset to it (so a pitch between two rows is exact);
* a *pulse train*: for each latent column, a Gaussian over columns at every beat (from
  :data:`FIRST_PULSE_S`), and the signed offset to the nearest.

The maps enter through a zero-initialised convolution added to ``conv_in``; so a plain UNet
made into this one (:func:`with_hints`) computes exactly what it did until training teaches it
to use them. Training passes the true values (``hint_facts``); sampling reads them from the
prompt. The unconditional branch of classifier-free guidance names nothing, gets empty maps,
and guidance pushes towards the drawn place. Sampling draws the pulse maps at
``hint_pulse_strength`` times their trained size, as ControlNet's conditioning scale does: on
starter model 2 a strength of 1.5, chosen on beats worded in training's phrasings, kept the tempo
within 5% for 12 of 12 clips against 8 of 12 at 1 (a 120 BPM beat came out half-time at 80). The
pitch maps stay at 1: tones followed already, and at 1.5 the notes of the instrument-identity
bench lost their timbre (78% -> 62%).

The rows follow the spectrogram's HTK mel scale (``hint_min_hz``, ``hint_max_hz``,
``hint_mel_bins`` rows, row 0 the highest), the columns its hop (``hint_column_s``); the VAE
downsamples both by :data:`DOWNSAMPLE`. A pipeline folder that uses this UNet names this module
in ``model_index.json``; import it before ``from_pretrained`` (``engine.models.loading`` does).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from diffusers import ModelMixin, UNet2DConditionModel  # ModelMixin: diffusers' loader looks it up here
from torch import nn

__all__ = [
    "CaptionReader",
    "FIRST_PULSE_S",
    "HINT_CHANNELS",
    "HintConv2d",
    "HintUNet2DConditionModel",
    "ModelMixin",
    "READ_FIELDS",
    "hint_maps",
    "with_hints",
]

#: Pitch contour (Gaussian, offset), pulse train (Gaussian, offset).
HINT_CHANNELS = 4
PULSE_CHANNELS = slice(2, 4)
#: The VAE's downsampling: a latent pixel covers DOWNSAMPLE x DOWNSAMPLE image pixels.
DOWNSAMPLE = 8
#: Where sampling puts the first beat of a prompt that names a tempo (training draws it anywhere
#: in the first beat, from the sound).
FIRST_PULSE_S = 0.02
#: Pulses closer than this (4 per second and up) blur into one band at latent resolution: no map.
MIN_PULSE_PERIOD_S = 0.25
#: Widths of the Gaussians, in latent pixels.
ROW_SIGMA = 0.6
COLUMN_SIGMA = 0.5
#: What the caption reader reads, in this order: whether a pitch contour is named and its two
#: ends (octaves from A4 440 Hz; a tone's ends are equal), whether a pulse train is named and
#: its period (log2 seconds).
READ_FIELDS = ("contour_named", "contour_start", "contour_end", "pulse_named", "pulse_log2_period")
#: The hint facts a training step passes per example: READ_FIELDS's five (named flags 0/1),
#: then the first pulse's time in seconds.
FACT_FIELDS = READ_FIELDS + ("first_pulse_s",)

_HINT_CONFIG = {"hint_min_hz": 0.0, "hint_max_hz": 4000.0, "hint_mel_bins": 160, "hint_column_s": 0.02}


def _mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def latent_rows(hz: torch.Tensor, min_hz: float, max_hz: float, mel_bins: int) -> torch.Tensor:
    """The fractional latent row (0 = the top, highest-frequency latent row) whose centre is the
    HTK mel filter centred on ``hz`` (torchaudio's MelScale: filter k of n centred at mel
    ``low + (k + 1) (high - low) / (n + 1)``, the image flipped so that row 0 is the highest)."""
    low, high = _mel(torch.tensor(float(min_hz))), _mel(torch.tensor(float(max_hz)))
    filt = (_mel(hz) - low) * (mel_bins + 1) / (high - low) - 1.0
    image_row = (mel_bins - 1) - filt
    return (image_row - (DOWNSAMPLE - 1) / 2) / DOWNSAMPLE


def latent_columns(seconds: torch.Tensor, column_s: float) -> torch.Tensor:
    """The fractional latent column centred on time ``seconds`` (an image column per hop, the
    STFT frames centred on their times)."""
    return (seconds / column_s - (DOWNSAMPLE - 1) / 2) / DOWNSAMPLE


def hint_maps(facts: torch.Tensor, rows: int, columns: int, config: Any) -> torch.Tensor:
    """(B, :data:`HINT_CHANNELS`, rows, columns) maps of ``facts`` (B, len(FACT_FIELDS)), for a
    latent of ``rows`` x ``columns`` under the spectrogram geometry in ``config`` (the UNet's)."""
    facts = facts.to(torch.float32)
    batch = facts.shape[0]
    device = facts.device
    out = torch.zeros(batch, HINT_CHANNELS, rows, columns, device=device)
    row_ix = torch.arange(rows, device=device, dtype=torch.float32)
    col_ix = torch.arange(columns, device=device, dtype=torch.float32)
    # The time at each latent column's centre; the clip's length is the image's.
    col_s = (col_ix * DOWNSAMPLE + (DOWNSAMPLE - 1) / 2) * config.hint_column_s
    length_s = columns * DOWNSAMPLE * config.hint_column_s

    contour = facts[:, 0] > 0.5
    if bool(contour.any()):
        start, end = facts[:, 1], facts[:, 2]
        octaves = start[:, None] + (end - start)[:, None] * (col_s / length_s)[None]  # (B, C): log-frequency line
        hz = 440.0 * torch.pow(2.0, octaves)
        centre = latent_rows(hz, config.hint_min_hz, config.hint_max_hz, config.hint_mel_bins)  # (B, C)
        offset = centre[:, None, :] - row_ix[None, :, None]  # (B, R, C)
        gauss = torch.exp(-0.5 * (offset / ROW_SIGMA) ** 2)
        keep = contour[:, None, None].to(torch.float32)
        out[:, 0] = gauss * keep
        out[:, 1] = (offset * gauss).clamp(-2.0, 2.0) * keep

    period = torch.pow(2.0, facts[:, 4])
    pulses = (facts[:, 3] > 0.5) & torch.isfinite(period) & (period >= MIN_PULSE_PERIOD_S)
    if bool(pulses.any()):
        period = torch.where(pulses, period, torch.ones_like(period))
        first = torch.where(pulses, facts[:, 5], torch.zeros_like(period))
        # Pulse k at first + k * period, every k that lands within a column of the clip.
        count = int(math.ceil(length_s / MIN_PULSE_PERIOD_S)) + 2
        k = torch.arange(-1, count, device=device, dtype=torch.float32)
        times = first[:, None] + k[None] * period[:, None]  # (B, K)
        centres = latent_columns(times, config.hint_column_s)  # (B, K)
        offset = centres[:, None, :] - col_ix[None, :, None]  # (B, C, K)
        nearest = offset.abs().argmin(dim=2, keepdim=True)
        near = torch.gather(offset, 2, nearest)[..., 0]  # (B, C)
        gauss = torch.exp(-0.5 * (offset / COLUMN_SIGMA) ** 2).sum(dim=2).clamp(max=1.0)
        keep = pulses[:, None].to(torch.float32)
        near_gauss = torch.exp(-0.5 * (near / COLUMN_SIGMA) ** 2)
        out[:, 2] = (gauss * keep)[:, None, :].expand(batch, rows, columns)
        out[:, 3] = ((near * near_gauss).clamp(-2.0, 2.0) * keep)[:, None, :].expand(batch, rows, columns)
    return out


class CaptionReader(nn.Module):
    """Reads :data:`READ_FIELDS` from the text encoder's states (B, L, D): a learned attention
    pooling over the L positions, then a two-layer MLP. Logits for the named flags."""

    def __init__(self, hidden_size: int, width: int = 128) -> None:
        super().__init__()
        self.score = nn.Linear(hidden_size, 1)
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size, width), nn.GELU(), nn.Linear(width, width), nn.GELU(), nn.Linear(width, len(READ_FIELDS))
        )

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(states).squeeze(-1).float(), dim=1).to(states.dtype)
        pooled = (weights[..., None] * states).sum(dim=1)
        return self.mlp(pooled)


def facts_from_reading(reading: torch.Tensor) -> torch.Tensor:
    """The hint facts (:data:`FACT_FIELDS`) for what the reader read (B, len(READ_FIELDS)):
    the named flags thresholded at one half, the first pulse at :data:`FIRST_PULSE_S`."""
    reading = reading.to(torch.float32)
    named = (reading[:, [0, 3]] > 0).to(torch.float32)
    first = torch.full_like(reading[:, :1], FIRST_PULSE_S)
    return torch.cat([named[:, :1], reading[:, 1:3], named[:, 1:], reading[:, 4:5], first], dim=1)


class HintConv2d(nn.Conv2d):
    """``nn.Conv2d`` plus a zero-initialised 3x3 convolution of the hint maps set in ``maps``
    for one forward pass (no maps: the plain convolution)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hint = nn.Conv2d(HINT_CHANNELS, self.out_channels, kernel_size=3, padding=1)
        nn.init.zeros_(self.hint.weight)
        nn.init.zeros_(self.hint.bias)
        self.maps: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if self.maps is None:
            return y
        return y + self.hint(self.maps.to(device=y.device, dtype=y.dtype))


class HintUNet2DConditionModel(UNet2DConditionModel):
    """``UNet2DConditionModel`` with a :class:`CaptionReader` and a :class:`HintConv2d`
    ``conv_in`` (see the module docstring). Its config adds the spectrogram geometry
    (``hint_min_hz``, ``hint_max_hz``, ``hint_mel_bins``, ``hint_column_s``) and the sampling
    strength of the pulse maps (``hint_pulse_strength``); ``forward`` takes
    ``hint_facts`` (B, len(FACT_FIELDS)) in training and otherwise reads them from
    ``encoder_hidden_states``."""

    #: Prefixes of the weights a plain UNet lacks (a zero hint convolution, the reader).
    ADDED_WEIGHTS: tuple[str, ...] = ("conv_in.hint.", "caption_reader.")

    def __init__(
        self,
        *args: Any,
        hint_min_hz: float = _HINT_CONFIG["hint_min_hz"],
        hint_max_hz: float = _HINT_CONFIG["hint_max_hz"],
        hint_mel_bins: int = _HINT_CONFIG["hint_mel_bins"],
        hint_column_s: float = _HINT_CONFIG["hint_column_s"],
        hint_pulse_strength: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.register_to_config(
            hint_min_hz=float(hint_min_hz), hint_max_hz=float(hint_max_hz), hint_mel_bins=int(hint_mel_bins),
            hint_column_s=float(hint_column_s), hint_pulse_strength=float(hint_pulse_strength),
        )  # fmt: skip
        old = self.conv_in
        conv_in = HintConv2d(old.in_channels, old.out_channels, kernel_size=old.kernel_size, padding=old.padding)
        conv_in.load_state_dict(old.state_dict(), strict=False)
        self.conv_in = conv_in
        self.caption_reader = CaptionReader(int(self.config.cross_attention_dim))

    def read_hints(self, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        """The hint facts the caption reader reads from the text states (B, len(FACT_FIELDS))."""
        return facts_from_reading(self.caption_reader(encoder_hidden_states))

    def forward(self, sample: torch.Tensor, timestep: Any, encoder_hidden_states: torch.Tensor, *args: Any,
                hint_facts: torch.Tensor | None = None, **kwargs: Any) -> Any:  # fmt: skip
        if hint_facts is None:  # sampling: the hints read from the prompt, the pulses at the model's strength
            maps = hint_maps(self.read_hints(encoder_hidden_states), sample.shape[-2], sample.shape[-1], self.config)
            maps[:, PULSE_CHANNELS] *= float(self.config.hint_pulse_strength)
        else:
            maps = hint_maps(hint_facts, sample.shape[-2], sample.shape[-1], self.config)
        self.conv_in.maps = maps
        try:
            return super().forward(sample, timestep, encoder_hidden_states, *args, **kwargs)
        finally:
            self.conv_in.maps = None


# diffusers reads a model's config keys from its __init__ signature: the parent's and ours.
_parent = inspect.signature(UNet2DConditionModel.__init__)
_ours = inspect.signature(HintUNet2DConditionModel.__init__)
HintUNet2DConditionModel.__init__.__signature__ = _parent.replace(  # type: ignore[attr-defined]
    parameters=list(_parent.parameters.values())
    + [p for name, p in _ours.parameters.items() if name.startswith("hint_")]
)


def with_hints(unet: UNet2DConditionModel, **geometry: Any) -> HintUNet2DConditionModel:
    """A :class:`HintUNet2DConditionModel` with ``unet``'s config and weights, the spectrogram
    ``geometry`` (the ``hint_*`` config keys), a zero hint convolution and a fresh reader: the
    same outputs as ``unet`` to start from."""
    model = HintUNet2DConditionModel.from_config(dict(unet.config), **geometry)
    missing, unexpected = model.load_state_dict(unet.state_dict(), strict=False)
    added = {k for k in model.state_dict() if k.startswith(HintUNet2DConditionModel.ADDED_WEIGHTS)}
    if unexpected or set(missing) != added:
        raise ValueError(f"not a plain UNet2DConditionModel of this config (missing {missing}, unexpected {unexpected})")
    if model.dtype != unet.dtype:
        model = model.to(dtype=unet.dtype)
    return model.to(unet.device)
