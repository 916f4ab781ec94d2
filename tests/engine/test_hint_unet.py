"""The UNet that draws a prompt's pitch and beat as hint maps (engine.models.hint_unet) and its
training pieces (engine.training.hints)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models.hint_unet import (
    FACT_FIELDS,
    FIRST_PULSE_S,
    HintUNet2DConditionModel,
    facts_from_reading,
    hint_maps,
    latent_columns,
    latent_rows,
    with_hints,
)
from engine.training import gm_corpus, hints
from engine.training import train_starter as ts
from engine.training import train_starter2 as t2

GEOMETRY = {"hint_min_hz": 0.0, "hint_max_hz": 4000.0, "hint_mel_bins": 160, "hint_column_s": 0.02}


@pytest.fixture(scope="module")
def plain():
    torch.manual_seed(0)
    return ts.make_unet(20, (16, 32, 32), 32).eval()


def _inputs(batch: int = 2):
    g = torch.Generator().manual_seed(1)
    return torch.randn(batch, 4, 20, 16, generator=g), torch.tensor([10, 600][:batch]), torch.randn(batch, 7, 32, generator=g)


def _facts(pitch_octaves=None, sweep=None, period_s=None, first_s=0.1):
    f = torch.zeros(1, len(FACT_FIELDS))
    if pitch_octaves is not None:
        f[0, :3] = torch.tensor([1.0, pitch_octaves, pitch_octaves])
    if sweep is not None:
        f[0, :3] = torch.tensor([1.0, *sweep])
    if period_s is not None:
        f[0, 3:6] = torch.tensor([1.0, float(np.log2(period_s)), first_s])
    return f


def _config():
    return type("Config", (), GEOMETRY)()


def test_the_hint_is_drawn_where_the_spectrogram_shows_the_tone_and_the_click():
    """A sine at 110 Hz-2 kHz through starter model 2's spectrogram is darkest (loudest) on the
    image row whose latent row the hint map peaks at; a click at 0.5 s and 1.5 s sits in the
    columns the pulse map puts them."""
    from engine.audio.spectrogram import SpectrogramParams

    params = SpectrogramParams(**t2.STARTER2_SPECTROGRAM)
    rate = params.sample_rate
    t = np.arange(int(2.56 * rate)) / rate
    for hz in (110.0, 440.0, 1000.0, 2000.0):
        column = ts.image_array((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), params, 128)[:, 64].astype(float)
        r = int(column.argmin())
        a, b, c = column[r - 1 : r + 2]
        image_row = r + 0.5 * (a - c) / (a - 2 * b + c)  # parabolic peak
        assert abs((image_row - 3.5) / 8 - float(latent_rows(torch.tensor(hz), 0, 4000, 160))) < 0.05, hz
        octaves = float(np.log2(hz / 440.0))
        maps = hint_maps(_facts(pitch_octaves=octaves), 20, 16, _config())
        assert int(maps[0, 0, :, 5].argmax()) == int(round(float(latent_rows(torch.tensor(hz), 0, 4000, 160))))
    clicks = np.zeros(int(2.56 * rate), dtype=np.float32)
    clicks[[int(0.5 * rate), int(1.5 * rate)]] = 1.0
    loud = (255 - ts.image_array(clicks, params, 128).astype(float)).sum(axis=0)
    for seconds in (0.5, 1.5):
        image_column = float(latent_columns(torch.tensor(seconds), 0.02)) * 8 + 3.5
        assert loud[int(round(image_column))] > 0.5 * loud.max()


def test_maps_follow_a_sweep_upwards_and_a_beat_at_its_period():
    maps = hint_maps(_facts(sweep=(-1.0, 2.0), period_s=0.5, first_s=FIRST_PULSE_S), 20, 16, _config())[0]
    rows = maps[0].argmax(dim=0)  # the contour's row in each column
    assert (rows[1:] <= rows[:-1]).all() and rows[0] - rows[-1] >= 8  # rising pitch: towards row 0
    pulse = maps[2, 0]
    peaks = [c for c in range(16) if pulse[c] > 0.6 and pulse[c] >= pulse[max(c - 1, 0)] and pulse[c] >= pulse[min(c + 1, 15)]]
    assert len(peaks) == 6  # 2.56 s at a beat every 0.5 s from 0.02 s: 0.02, 0.52, ... 2.52
    assert np.allclose(np.diff(peaks), 3.125, atol=1)
    nothing = hint_maps(torch.zeros(1, len(FACT_FIELDS)), 20, 16, _config())
    assert not nothing.any()
    fast = hint_maps(_facts(period_s=0.1), 20, 16, _config())  # 10 per second: no map at this resolution
    assert not fast.any()


def test_a_hint_unet_starts_as_the_plain_unet_and_round_trips(plain, tmp_path):
    model = with_hints(plain, **GEOMETRY).eval()
    x, t, text = _inputs()
    with torch.no_grad():
        assert torch.equal(model(x, t, encoder_hidden_states=text).sample, plain(x, t, encoder_hidden_states=text).sample)
        torch.nn.init.normal_(model.conv_in.hint.weight, generator=torch.Generator().manual_seed(2))
    model.save_pretrained(tmp_path)
    loaded = HintUNet2DConditionModel.from_pretrained(tmp_path).eval()
    assert {k: loaded.config[k] for k in GEOMETRY} == GEOMETRY
    facts = torch.cat([_facts(pitch_octaves=0.0), _facts(period_s=0.5)])
    with torch.no_grad():
        a = loaded(x, t, encoder_hidden_states=text, hint_facts=facts).sample
        assert torch.equal(a, model(x, t, encoder_hidden_states=text, hint_facts=facts).sample)
        other = loaded(x, t, encoder_hidden_states=text, hint_facts=torch.cat([_facts(pitch_octaves=1.0), _facts(period_s=0.7)])).sample
    assert not torch.allclose(a, other)  # the hint reaches the output
    with pytest.raises(ValueError, match="not a plain"):
        with_hints(model, **GEOMETRY)


def test_without_given_facts_the_unet_draws_what_its_reader_reads(plain):
    model = with_hints(plain, **GEOMETRY).eval()
    torch.nn.init.normal_(model.conv_in.hint.weight, generator=torch.Generator().manual_seed(2))
    x, t, text = _inputs()
    with torch.no_grad():
        read = model.read_hints(text)
        assert read.shape == (2, len(FACT_FIELDS)) and torch.all(read[:, 5] == FIRST_PULSE_S)
        assert torch.equal(model(x, t, encoder_hidden_states=text).sample, model(x, t, encoder_hidden_states=text, hint_facts=read).sample)
    reading = torch.tensor([[3.0, 0.5, 0.5, -2.0, -1.0], [-1.0, 0.0, 0.0, 4.0, -1.0]])
    expected = torch.tensor([[1.0, 0.5, 0.5, 0.0, -1.0, FIRST_PULSE_S], [0.0, 0.0, 0.0, 1.0, -1.0, FIRST_PULSE_S]])
    assert torch.equal(facts_from_reading(reading), expected)


def test_sampling_draws_the_pulses_at_the_models_strength_and_training_at_their_true_size(plain, tmp_path):
    """``hint_pulse_strength`` scales the pulse maps read from a prompt (0: as if no beat were
    drawn), never the pitch maps nor the true maps training passes; it is saved with the model."""
    x, t, text = _inputs()
    beat = torch.cat([_facts(period_s=0.5), _facts(period_s=0.7)])
    pitch = torch.cat([_facts(pitch_octaves=0.0), _facts(pitch_octaves=1.0)])
    sampled, trained, pitched = {}, {}, {}
    for strength in (0.0, 1.0, 1.5):
        model = with_hints(plain, **GEOMETRY, hint_pulse_strength=strength).eval()
        torch.nn.init.normal_(model.conv_in.hint.weight, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            model.read_hints = lambda states: beat  # what the reader reads from a beat prompt
            sampled[strength] = model(x, t, encoder_hidden_states=text).sample
            trained[strength] = model(x, t, encoder_hidden_states=text, hint_facts=beat).sample
            model.read_hints = lambda states: pitch
            pitched[strength] = model(x, t, encoder_hidden_states=text).sample
    with torch.no_grad():
        assert torch.allclose(sampled[0.0], plain(x, t, encoder_hidden_states=text).sample, atol=1e-6)
    assert torch.equal(sampled[1.0], trained[1.0]) and not torch.allclose(sampled[1.5], sampled[1.0], atol=1e-4)
    assert torch.equal(trained[1.5], trained[1.0]) and torch.equal(trained[0.0], trained[1.0])
    assert torch.equal(pitched[0.0], pitched[1.0]) and torch.equal(pitched[1.5], pitched[1.0])
    del model.read_hints
    model.save_pretrained(tmp_path)
    assert HintUNet2DConditionModel.from_pretrained(tmp_path).config.hint_pulse_strength == 1.5


def test_training_pairs_name_a_contour_and_a_pulse_only_where_caption_and_sound_give_them():
    nan = np.nan
    #            pitch  rate  sweep_start sweep_end tempo
    facts = np.array([
        [0.5, nan, nan, nan, nan],     # "a tone at 622 Hz"
        [nan, nan, -1.0, 1.0, nan],    # "a sweep from 220 Hz to 880 Hz"
        [nan, nan, nan, nan, 0.0],     # "a beat at 120 BPM"
        [nan, 2.0, nan, nan, nan],     # "clicks at 4 per second"
        [0.0, 3.0, nan, nan, nan],     # "a tremolo at 8 per second" (its events have no onset)
    ], dtype=np.float32)  # fmt: skip
    onsets = np.array([nan, nan, 0.3, 0.1, nan], dtype=np.float32)
    out = hints.pair_facts(facts, onsets)
    assert out[0, :3].tolist() == [1.0, 0.5, 0.5] and out[0, 3] == 0
    assert out[1, :3].tolist() == [1.0, -1.0, 1.0]
    assert out[2, 3] == 1 and out[2, 4] == pytest.approx(-1.0) and out[2, 5] == pytest.approx(0.3)  # 0.5 s beats
    assert out[3, 3] == 1 and out[3, 4] == pytest.approx(-2.0)  # 0.25 s
    assert out[4, 0] == 1 and out[4, 3] == 0


@pytest.mark.skipif(not gm_corpus.FLUID_FONT.is_file(), reason=f"needs apt packages {gm_corpus.APT_PACKAGES}")
def test_the_caption_reader_learns_to_read_the_hints_from_the_text_encoder():
    """On a few dozen synthesized sounds with a fresh tiny text encoder, a few hundred reader
    steps mostly tell the captions that name a pitch or a rate from those that do not (from about
    half right), and the loss halves."""
    from transformers import CLIPTokenizer

    data = [p for p in t2.build_dataset(t2.Train2Config(num_examples=60, num_gm_examples=4)) if isinstance(p, ts.Dataset)][0]
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp()) / "tokenizer"
    vocab = ts.write_tokenizer(folder, t2.STARTER2_RECIPE.tokenizer_corpus())
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    text_encoder = ts.make_text_encoder(vocab, 32, 1)
    unet = with_hints(ts.make_unet(20, (16, 32, 32), 32), **GEOMETRY)
    ids, empty = ts._tokenize(tokenizer, data.captions), ts._tokenize(tokenizer, [""])[0]
    messages = [p.message for p in hints.train_reader(unet, text_encoder, ids, empty, data, 300, torch.Generator().manual_seed(0), batch=64)]
    first, last = (float(m.split("caption reader ")[1].split(",")[0]) for m in (messages[0], messages[-1]))
    assert last < 0.5 * first
    right = [float(m.split("right ")[1].rstrip("%")) for m in (messages[0], messages[-1])]
    assert right[1] > 85 and right[1] > right[0] + 25
