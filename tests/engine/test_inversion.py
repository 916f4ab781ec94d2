"""engine.audio.inversion: reproducible, at least as faithful as Riffusion's inversion, and well-behaved."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.audio.inversion import (
    GriffinLimVocoder,
    PhaseGrid,
    Vocoder,
    mel_to_linear,
    phase_grid,
    riffusion_reference_inversion,
    spectral_convergence,
)
from engine.audio.spectrogram import INT16_SCALE, PRESETS, SpectrogramParams, mel_from_audio


def _reanalysed(wave: torch.Tensor, params: SpectrogramParams, frames: int) -> np.ndarray:
    return mel_from_audio(wave.numpy(), params)[..., :frames]


@pytest.fixture(scope="module")
def riffusion_params() -> SpectrogramParams:
    return PRESETS["riffusion"]


def test_same_seed_same_audio_other_seed_other_audio(make_music, riffusion_params):
    mel = torch.from_numpy(mel_from_audio(make_music(duration_s=0.5), riffusion_params))
    vocoder = GriffinLimVocoder(n_iter=8)
    first = vocoder(mel, riffusion_params, generator=torch.Generator().manual_seed(7))
    again = vocoder(mel, riffusion_params, generator=torch.Generator().manual_seed(7))
    other = vocoder(mel, riffusion_params, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.shape == (1, 51 * 441)


def test_ours_is_no_less_faithful_than_riffusions_inversion(make_music, riffusion_params):
    audio = make_music(duration_s=1.0)
    mel = mel_from_audio(audio, riffusion_params)
    frames = mel.shape[-1]
    ours = GriffinLimVocoder()(torch.from_numpy(mel), riffusion_params, generator=torch.Generator().manual_seed(0))
    reference = riffusion_reference_inversion(mel, riffusion_params, seed=0)
    ours_sc = spectral_convergence(mel, _reanalysed(ours, riffusion_params, frames))
    reference_sc = spectral_convergence(mel, _reanalysed(reference, riffusion_params, frames))
    assert ours_sc <= reference_sc, (ours_sc, reference_sc)
    assert ours_sc < 0.15
    # Same loudness as the original (the mel is on the int16 scale, the output on the float scale).
    assert np.max(np.abs(ours.numpy())) == pytest.approx(np.max(np.abs(audio)), rel=0.25)


def test_stereo_batch_and_requested_length(make_music):
    params = SpectrogramParams(stereo=True)
    mel = torch.from_numpy(mel_from_audio(make_music(duration_s=0.4, channels=2), params))
    wave = GriffinLimVocoder(n_iter=4)(mel, params, num_samples=12345, generator=torch.Generator().manual_seed(0))
    assert wave.shape == (2, 12345) and wave.dtype == torch.float32
    assert torch.isfinite(wave).all()
    assert not torch.allclose(wave[0], wave[1])


def test_full_band_presets_reconstruct_at_the_original_rate(make_tone):
    params = PRESETS["riffusion-20k"]
    grid = phase_grid(params)
    assert grid.sample_rate_hz == 44100 and grid.n_fft == 2 * params.win_length
    mel = torch.from_numpy(mel_from_audio(make_tone(12000.0, duration_s=0.3), params))
    wave = GriffinLimVocoder(n_iter=8)(mel, params, generator=torch.Generator().manual_seed(0))
    spectrum = np.abs(np.fft.rfft(wave[0].numpy()))
    # Mel bins are ~84 Hz apart at 12 kHz in this preset: the peak lands within half a bin.
    assert abs(np.fft.rfftfreq(wave.shape[1], 1 / 44100)[np.argmax(spectrum)] - 12000.0) < 42


def test_riffusion_grid_runs_at_25_khz_with_integer_hop(riffusion_params):
    assert phase_grid(riffusion_params) == PhaseGrid(25200, 252, 2520, 5040)
    assert phase_grid(riffusion_params, reduce_rate=False) == PhaseGrid(44100, 441, 4410, 8820)
    assert phase_grid(PRESETS["perkins-10s"]).hop_length == 861


def test_mel_to_linear_fits_the_mel_with_non_negative_magnitudes(make_music, riffusion_params):
    mel = torch.from_numpy(mel_from_audio(make_music(duration_s=0.5), riffusion_params))
    n_fft = riffusion_params.n_fft
    linear = mel_to_linear(mel, riffusion_params, n_fft)
    assert linear.shape == (1, n_fft // 2 + 1, mel.shape[-1])
    assert (linear >= 0).all()
    hz_per_bin = riffusion_params.sample_rate / n_fft
    assert linear[:, int(10100 / hz_per_bin) :].abs().max() == 0  # nothing above max_frequency
    refit = torch.einsum("fm,bft->bmt", _filterbank(riffusion_params), linear)
    assert spectral_convergence(mel, refit) < 0.03


def _filterbank(params: SpectrogramParams) -> torch.Tensor:
    import torchaudio

    return torchaudio.functional.melscale_fbanks(
        params.n_fft // 2 + 1, params.min_frequency, params.max_frequency, params.num_frequencies,
        params.sample_rate, params.mel_scale_norm, params.mel_scale_type,
    )


def test_mel_to_linear_matches_true_magnitudes_of_a_steady_tone(make_tone, riffusion_params):
    tone = make_tone(1000.0, duration_s=0.5)
    mel = torch.from_numpy(mel_from_audio(tone, riffusion_params))
    win = riffusion_params.win_length
    linear = mel_to_linear(mel, riffusion_params, win)  # unpadded grid: 10 Hz bins
    true = torch.stft(
        torch.from_numpy(tone) * INT16_SCALE, win, riffusion_params.hop_length, win, torch.hann_window(win),
        center=True, return_complex=True,
    ).abs()
    middle = slice(10, -10)
    assert linear[0, :, middle].argmax(dim=0).eq(100).all()  # 1000 Hz peak at bin 100
    energy_ratio = linear[0, :, middle].sum() / true[0, :, middle].sum()
    assert 0.7 < float(energy_ratio) < 1.3


def test_vocoder_protocol_and_bad_input(riffusion_params):
    vocoder = GriffinLimVocoder(n_iter=1)
    assert isinstance(vocoder, Vocoder) and vocoder.name == "griffin-lim"
    with pytest.raises(ValueError, match=r"expected mel shaped \(batch, 512, frames\)"):
        vocoder(torch.ones(1, 128, 10), riffusion_params)
    with pytest.raises(ValueError, match="finite and >= 0"):
        vocoder(-torch.ones(1, 512, 10), riffusion_params)
    with pytest.raises(ValueError, match="num_samples"):
        vocoder(torch.ones(1, 512, 10), riffusion_params, num_samples=0)
    with pytest.raises(ValueError, match="momentum"):
        GriffinLimVocoder(momentum=1.0)
    with pytest.raises(ValueError, match="init"):
        GriffinLimVocoder(init="zeros")


def test_single_frame_and_random_init_still_work(riffusion_params):
    mel = torch.rand(1, 512, 1, generator=torch.Generator().manual_seed(0)) * 1e5
    for init in ("pghi", "random"):
        wave = GriffinLimVocoder(n_iter=2, init=init)(mel, riffusion_params, generator=torch.Generator().manual_seed(0))
        assert wave.shape == (1, 441) and torch.isfinite(wave).all()


def test_spectral_convergence():
    reference = np.ones((1, 4, 4))
    assert spectral_convergence(reference, reference) == 0.0
    assert spectral_convergence(reference, 0.5 * reference) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        spectral_convergence(reference, np.ones((1, 4, 5)))
    with pytest.raises(ValueError, match="all zeros"):
        spectral_convergence(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))
