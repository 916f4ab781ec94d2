"""The hub super-resolution model's loading path (YatharthS/FlashSR, "FastAudioSR"), with a tiny
random-weight stand-in saved in the hub checkpoint's layout (a pickle of weight-normalised
tensors under 'model', SynthesizerTrn's 'dec.' prefix): converted once without running pickled
code, loaded like any upsampler folder, equal to the generator it was made from, and as an
upsampler it keeps the input's band and fills the band above from the model."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from engine.specs import run_to_end
from engine.upsample.fasr import FasrConfig, FasrGenerator, convert, main
from engine.upsample.models import UpsamplerError, load_upsampler
from engine.upsample.run import upsample_clip

TINY = FasrConfig(channels=4, kernel_sizes=(3, 5, 3))


def hub_checkpoint(net: FasrGenerator) -> dict:
    """``net``'s weights as the hub file holds them: weight_g/weight_v pairs (weight_norm's),
    except the output conv, under 'dec.' in {'model': ...}."""
    state = {}
    for key, value in net.state_dict().items():
        if key.endswith(".weight") and value.ndim == 3 and not key.startswith("conv_post"):
            base = key[: -len("weight")]
            state["dec." + base + "weight_g"] = value.flatten(1).norm(dim=1).view(-1, 1, 1)
            state["dec." + base + "weight_v"] = value
        else:
            state["dec." + key] = value
    return {"model": state}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    net = FasrGenerator(TINY).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))  # SnakeBeta's zeros are too tame a test
    folder = tmp_path_factory.mktemp("fasr")
    torch.save(hub_checkpoint(net), folder / "upsampler.pth")
    return net, folder


def test_the_hub_file_converts_and_loads_as_the_same_generator(tiny, tmp_path):
    net, folder = tiny
    out = convert(folder / "upsampler.pth", tmp_path / "fasr")
    upsampler = load_upsampler(str(out))
    assert upsampler.kind == "fasr" and upsampler.sample_rate_hz == 48000 and upsampler.config == TINY
    x = torch.randn(2, 1, 1600)
    with torch.no_grad():
        expected, got = net(x), upsampler.net(x)
    assert got.shape == (2, 1, 4800)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_as_an_upsampler_it_keeps_the_band_below_the_cutoff_and_fills_the_one_above(tiny, tmp_path):
    _, folder = tiny
    upsampler = load_upsampler(str(convert(folder / "upsampler.pth", tmp_path / "fasr")))
    rate = 16000  # a 16 kHz recording: its band ends at 8 kHz, where the model takes over
    clip = (0.1 * np.random.default_rng(1).standard_normal((1, rate))).astype(np.float32)
    outcome = run_to_end(upsample_clip(upsampler, clip, rate))
    assert outcome.sample_rate_hz == 48000 and outcome.audio.shape == (1, 48000)
    assert outcome.facts["cutoff_hz"] == pytest.approx(8000, abs=300)
    out = np.fft.rfft(outcome.audio[0].astype(np.float64))
    freqs = np.fft.rfftfreq(48000, 1 / 48000)
    from engine.audio.io import resample

    kept = np.fft.rfft(resample(clip, rate, 48000)[0].astype(np.float64))
    low = freqs < 7000
    assert np.abs(out[low] - kept[low]).mean() < 0.05 * np.abs(kept[low]).mean()  # the input's own band
    assert np.abs(out[freqs > 9000]).mean() > 1e-3 * np.abs(kept[low]).mean()  # the model's band above


def test_bad_files_get_one_line_and_no_code_runs(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"model": Payload()}))
    with pytest.raises(ValueError, match="cannot be read as weights"):
        convert(tmp_path / "evil.pth", tmp_path / "out")
    assert "pickled code ran" not in capsys.readouterr().out
    torch.save({"model": {"dec.something.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    assert main([str(tmp_path / "other.pth"), "--out", str(tmp_path / "out")]) == 2
    assert "not a FlashSR generator" in capsys.readouterr().out
    with pytest.raises(UpsamplerError, match="is not an upsampler folder"):
        load_upsampler(str(tmp_path / "out"))
