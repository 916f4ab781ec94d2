"""Seed 004's diffusion vocoder: trained by its own task on rendered sounds (tiny config, a few
steps), saved as a vocoder folder the store loads, vocoding our spectrogram directly; resuming
from a checkpoint trains exactly as an uninterrupted run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_cli import assert_one_line_error, run_cli

from engine.audio.io import read_audio, write_audio
from engine.cli import read_recipe
from engine.vocoders.factory import make_vocoder, unload_vocoders

TINY = ["--preset", "starter", "--batch", "2", "--segment-frames", "4", "--pool-clips", "4", "--channels", "8,8,8,8",
        "--sampling-steps", "2", "--seed", "1", "-q"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny vocoder trained 3 steps straight, and one trained 2 steps, stopped, then resumed to 3."""
    from engine.cli import main

    root = tmp_path_factory.mktemp("vocoder")
    assert main(["train_vocoder", "-o", str(root / "straight"), "--steps", "3", *TINY]) == 0
    assert main(["train_vocoder", "-o", str(root / "resumed"), "--steps", "2", "--checkpoint-every", "1", *TINY]) == 0
    assert main(["train_vocoder", "-o", str(root / "resumed"), "--steps", "3", "--checkpoint-every", "1",
                 "--resume", *TINY]) == 0
    return root


def test_training_writes_a_vocoder_folder_and_resumes_exactly(trained):
    straight, resumed = trained / "straight", trained / "resumed"
    assert (straight / "config.json").is_file() and (straight / "model.safetensors").is_file()
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_the_trained_vocoder_vocodes_its_preset_and_regenerates(trained, tmp_path, capsys):
    unload_vocoders()
    rate = 22050
    t = np.arange(rate // 2) / rate
    wav = tmp_path / "in.wav"
    write_audio(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None], rate, subtype="PCM_16")
    out, again = tmp_path / "out.wav", tmp_path / "again.wav"
    status, _, err = run_cli(capsys, "vocode", wav, "--preset", "starter", "--vocoder", trained / "straight", "-o", out, "-q")
    assert status == 0, err
    audio, out_rate = read_audio(out)
    assert out_rate == rate and audio.shape == (1, rate // 2) and np.abs(audio).max() > 0
    assert read_recipe(out).vocoder == str(trained / "straight")
    assert run_cli(capsys, "regenerate", out, "-o", again, "-q")[0] == 0
    np.testing.assert_array_equal(read_audio(again)[0], audio)
    # Another spectrogram than the one it was trained on: one line saying which it needs.
    status, _, err = run_cli(capsys, "vocode", wav, "--preset", "riffusion", "--vocoder", trained / "straight",
                             "-o", tmp_path / "bad.wav", "-q")
    assert_one_line_error(status, err, "was trained on the 'starter' spectrogram")


def test_sampling_is_seeded_and_keeps_length(trained):
    from engine.audio.params import get_preset

    vocoder = make_vocoder(str(trained / "straight"))
    params = get_preset("starter")
    mel = torch.rand(2, params.num_frequencies, 9) * 100
    first = vocoder(mel, params, num_samples=3000, generator=torch.Generator().manual_seed(5))
    again = vocoder(mel, params, num_samples=3000, generator=torch.Generator().manual_seed(5))
    other = vocoder(mel, params, num_samples=3000, generator=torch.Generator().manual_seed(6))
    assert first.shape == (2, 3000) and torch.equal(first, again) and not torch.equal(first, other)
