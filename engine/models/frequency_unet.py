"""A diffusers UNet that knows which frequency row each latent pixel is on.

A convolutional UNet is translation-equivariant: the only hint of *where* a pixel sits comes
from the zero padding at the borders, which a small UNet reads imprecisely. On a spectrogram
the row *is* the pitch, so a small model asked for "a 1 kHz tone" learns roughly where the
tone goes but lands it a semitone or two off, the same way for every seed. This UNet adds a
learned embedding per latent row (and channel) to the output of ``conv_in``: an absolute
frequency coordinate that the whole network sees (CoordConv for spectrograms). Time keeps no
coordinate, since a sound may start anywhere.

It is ``UNet2DConditionModel`` in every other respect (same config, same ``forward``, same
LoRA targets); its weights add one tensor, ``conv_in.frequency_embedding`` (channels, rows).
A pipeline folder that uses it names this module in ``model_index.json``; diffusers loads such
a component from a module the process has already imported, so load it with
``import engine.models.frequency_unet`` before ``StableDiffusionPipeline.from_pretrained``
(``engine.models.loading`` does).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from diffusers import ModelMixin, UNet2DConditionModel  # ModelMixin: diffusers' loader looks it up here
from torch import nn

__all__ = ["FrequencyConv2d", "FrequencyUNet2DConditionModel", "ModelMixin", "with_frequency_embedding"]


class FrequencyConv2d(nn.Conv2d):
    """``nn.Conv2d`` followed by a learned (out_channels, rows) bias per frequency row. A latent
    with another number of rows than the embedding was trained on gets the embedding resampled
    linearly over rows (the spectrogram's range is the same, only finer or coarser)."""

    def __init__(self, *args: Any, rows: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frequency_embedding = nn.Parameter(torch.zeros(self.out_channels, rows))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        embedding = self.frequency_embedding.to(y.dtype)
        if embedding.shape[1] != y.shape[2]:
            embedding = nn.functional.interpolate(embedding[None], size=y.shape[2], mode="linear", align_corners=True)[0]
        return y + embedding[None, :, :, None]


class FrequencyUNet2DConditionModel(UNet2DConditionModel):
    """``UNet2DConditionModel`` whose ``conv_in`` is a :class:`FrequencyConv2d` with one row per
    latent row (``sample_size``, the latent height). The embedding starts at zero, so a fresh
    model, or one made from a plain UNet by :func:`with_frequency_embedding`, computes exactly
    what the plain UNet does until training moves it."""

    #: The weights a plain UNet lacks (they start at zero: a plain UNet's weights load into it).
    ADDED_WEIGHTS: tuple[str, ...] = ("conv_in.frequency_embedding",)

    @functools.wraps(UNet2DConditionModel.__init__)  # diffusers reads the config keys from the signature
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sample_size = self.config.sample_size
        rows = int(sample_size[0] if isinstance(sample_size, (list, tuple)) else sample_size)
        old = self.conv_in
        conv_in = FrequencyConv2d(
            old.in_channels, old.out_channels, kernel_size=old.kernel_size, padding=old.padding, rows=rows
        )
        conv_in.load_state_dict(old.state_dict(), strict=False)
        self.conv_in = conv_in


def with_frequency_embedding(unet: UNet2DConditionModel) -> FrequencyUNet2DConditionModel:
    """A :class:`FrequencyUNet2DConditionModel` with ``unet``'s config and weights and a zero
    frequency embedding: the same outputs as ``unet`` to start from."""
    model = FrequencyUNet2DConditionModel.from_config(unet.config)
    missing, unexpected = model.load_state_dict(unet.state_dict(), strict=False)
    if unexpected or set(missing) != set(FrequencyUNet2DConditionModel.ADDED_WEIGHTS):
        raise ValueError(f"not a plain UNet2DConditionModel of this config (missing {missing}, unexpected {unexpected})")
    if model.dtype != unet.dtype:
        model = model.to(dtype=unet.dtype)
    return model.to(unet.device)
