"""A diffusers VAE whose decoder is wider than its encoder.

Starter model 2's VAE is tiny (8 channels at full resolution) and its decoder blurs what tells
one instrument from another: FluidR3 renders of five instruments at the same note, sent through
its encoder and decoder, are named right by the identity classifier 60% of the time, against
100% through the spectrogram alone (``bench/bench_starter_decoder.py``). The latents hold more
than that decoder draws, and the UNet was trained on those latents; so a wider decoder, trained
on the frozen encoder's latents, raises that ceiling and keeps the UNet and text encoder valid.

:class:`DecoderAutoencoderKL` is diffusers' ``AutoencoderKL`` with two more config keys,
``decoder_block_out_channels`` and ``decoder_norm_num_groups`` (the decoder's widths and
GroupNorm groups; unset: the encoder's, a plain AutoencoderKL). The number of levels, and so the
latent's downsampling, stays the encoder's. A pipeline folder that uses it names this module in
``model_index.json``; import it before ``from_pretrained`` (``engine.models.loading`` does).
"""

from __future__ import annotations

import inspect
from typing import Any

from diffusers import AutoencoderKL, ModelMixin  # ModelMixin: diffusers' loader looks it up here
from diffusers.models.autoencoders.vae import Decoder

__all__ = ["DecoderAutoencoderKL", "ModelMixin", "with_decoder"]


class DecoderAutoencoderKL(AutoencoderKL):
    """``AutoencoderKL`` with its own decoder widths (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        decoder_block_out_channels: tuple[int, ...] | None = None,
        decoder_norm_num_groups: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        config = self.config
        widths = tuple(int(w) for w in (decoder_block_out_channels or config.block_out_channels))
        groups = int(decoder_norm_num_groups or config.norm_num_groups)
        if len(widths) != len(config.block_out_channels):
            raise ValueError(
                f"the decoder needs {len(config.block_out_channels)} widths (one per level of the encoder), got {widths}."
            )
        if any(w % groups for w in widths):
            raise ValueError(f"every decoder width must be a multiple of its {groups} GroupNorm groups, got {widths}.")
        self.register_to_config(decoder_block_out_channels=list(widths), decoder_norm_num_groups=groups)
        if widths != tuple(config.block_out_channels) or groups != config.norm_num_groups:
            self.decoder = Decoder(
                in_channels=config.latent_channels,
                out_channels=config.out_channels,
                up_block_types=tuple(config.up_block_types),
                block_out_channels=widths,
                layers_per_block=config.layers_per_block,
                norm_num_groups=groups,
                act_fn=config.act_fn,
                mid_block_add_attention=config.mid_block_add_attention,
            )


# diffusers reads a model's config keys from its __init__ signature: the parent's and ours.
_parent = inspect.signature(AutoencoderKL.__init__)
_ours = inspect.signature(DecoderAutoencoderKL.__init__)
DecoderAutoencoderKL.__init__.__signature__ = _parent.replace(  # type: ignore[attr-defined]
    parameters=list(_parent.parameters.values())
    + [p for name, p in _ours.parameters.items() if name.startswith("decoder_")]
)


def with_decoder(vae: AutoencoderKL, widths: tuple[int, ...], groups: int | None = None) -> DecoderAutoencoderKL:
    """A :class:`DecoderAutoencoderKL` with ``vae``'s config and encoder (weights included: the
    same latents) and a fresh decoder of ``widths``; the post-quant convolution is kept (it is
    the decoder's first layer on the latents and costs nothing)."""
    config = {k: v for k, v in dict(vae.config).items() if not k.startswith("decoder_")}
    model = DecoderAutoencoderKL.from_config(config, decoder_block_out_channels=tuple(widths), decoder_norm_num_groups=groups)
    kept = {k: v for k, v in vae.state_dict().items() if not k.startswith("decoder.")}
    missing, unexpected = model.load_state_dict(kept, strict=False)
    if unexpected or any(not k.startswith("decoder.") for k in missing):
        raise ValueError(f"not an AutoencoderKL of this config (missing {missing}, unexpected {unexpected})")
    if (model.device, model.dtype) != (vae.device, vae.dtype):
        model = model.to(device=vae.device, dtype=vae.dtype)
    return model
