"""The UNet with a learned frequency-row embedding (engine.models.frequency_unet)."""

from __future__ import annotations

import pytest
import torch

from engine.models.frequency_unet import FrequencyUNet2DConditionModel, with_frequency_embedding
from engine.training import train_starter as ts


@pytest.fixture(scope="module")
def plain():
    torch.manual_seed(0)
    return ts.make_unet(20, (16, 32, 32), 32).eval()


def _inputs(rows: int = 20, batch: int = 2):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(batch, 4, rows, 16, generator=g), torch.tensor([10, 600][:batch]),
            torch.randn(batch, 7, 32, generator=g))


def test_a_zero_embedding_computes_exactly_what_the_plain_unet_does(plain):
    model = with_frequency_embedding(plain).eval()
    x, t, text = _inputs()
    with torch.no_grad():
        assert torch.equal(model(x, t, encoder_hidden_states=text).sample, plain(x, t, encoder_hidden_states=text).sample)
    assert model.conv_in.frequency_embedding.shape == (16, 20)


def test_the_embedding_of_a_row_acts_on_that_row_most(plain):
    """What the embedding is for: a bias on latent row 15 (and no other) changes the UNet's
    output on rows 13-17 more than on rows 0-5, far from it."""
    model = with_frequency_embedding(plain).eval()
    x, t, text = _inputs()
    with torch.no_grad():
        before = model(x, t, encoder_hidden_states=text).sample
        model.conv_in.frequency_embedding[:, 15] = 1.0
        change = (model(x, t, encoder_hidden_states=text).sample - before).abs().mean(dim=(0, 1, 3))
    assert change[13:18].mean() > 2 * change[0:6].mean()


def test_weights_save_and_load_with_the_embedding_and_other_heights_are_resampled(plain, tmp_path):
    model = with_frequency_embedding(plain).eval()
    with torch.no_grad():
        model.conv_in.frequency_embedding.normal_(generator=torch.Generator().manual_seed(4))
    model.save_pretrained(tmp_path)
    loaded = FrequencyUNet2DConditionModel.from_pretrained(tmp_path).eval()
    x, t, text = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(x, t, encoder_hidden_states=text).sample, model(x, t, encoder_hidden_states=text).sample)
        taller = loaded(*_inputs(rows=24)[:2], encoder_hidden_states=text).sample
    assert taller.shape == (2, 4, 24, 16) and torch.isfinite(taller).all()


def test_only_a_plain_unet_of_the_same_config_converts(plain):
    converted = with_frequency_embedding(plain)
    with pytest.raises(ValueError, match="not a plain"):
        with_frequency_embedding(converted)
