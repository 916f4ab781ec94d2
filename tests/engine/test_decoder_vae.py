"""engine.models.decoder_vae: a VAE whose decoder is wider than its encoder keeps the encoder's
latents exactly (the UNet trained on them stays valid) and round-trips through save and load."""

from __future__ import annotations

import pytest
import torch

from engine.models.decoder_vae import DecoderAutoencoderKL, with_decoder
from engine.training import train_starter as ts


def test_a_wider_decoder_keeps_the_encoders_latents_and_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    vae = ts.make_vae(160).eval()
    wide = with_decoder(vae, (16, 32, 64, 64)).eval()
    x = torch.rand(2, 3, 160, 128) * 2 - 1
    with torch.no_grad():
        assert torch.equal(wide.encode(x).latent_dist.mean, vae.encode(x).latent_dist.mean)
        z = vae.encode(x).latent_dist.mean
        assert wide.decode(z).sample.shape == x.shape
    assert sum(p.numel() for p in wide.decoder.parameters()) > 3 * sum(p.numel() for p in vae.decoder.parameters())

    wide.save_pretrained(tmp_path / "vae")
    again = DecoderAutoencoderKL.from_pretrained(tmp_path / "vae").eval()
    assert again.config.decoder_block_out_channels == [16, 32, 64, 64]
    with torch.no_grad():
        assert torch.equal(again.decode(z).sample, wide.decode(z).sample)

    # Without the new keys it is a plain AutoencoderKL: the same weights fit.
    plain = DecoderAutoencoderKL.from_config(dict(vae.config))
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in vae.state_dict().items()}
    with pytest.raises(ValueError, match="one per level"):
        with_decoder(vae, (16, 32, 64))
    with pytest.raises(ValueError, match="multiple of its 8 GroupNorm groups"):
        with_decoder(vae, (12, 32, 64, 64))
