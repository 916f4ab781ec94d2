"""Long audio in bounded memory (issue 17 part 2): analysis, image building, pixel decoding and
Griffin-Lim run in chunks, and the chunked results match the one-shot ones."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torchaudio

import engine.audio.spectrogram as spectrogram
from engine.audio.inversion import GriffinLimVocoder, _resample_blocks, spectral_convergence
from engine.audio.spectrogram import PRESETS, image_from_mel, mel_from_audio, mel_from_image


def _music(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t) * (np.sin(2 * np.pi * 1.3 * t) > 0)
            + 0.02 * rng.standard_normal(t.size))
    out = np.stack([wave * (1 - 0.3 * c) for c in range(channels)])
    return out.astype(np.float32)


@pytest.mark.parametrize("preset", ["riffusion", "starter"])
@pytest.mark.parametrize("channels", [1, 2])
def test_chunked_analysis_equals_one_shot(preset, channels, monkeypatch):
    params = PRESETS[preset]
    if channels == 2:
        params = params.__class__(**{**params.to_dict(), "stereo": True})
    audio = _music(3.0, params.sample_rate, channels)
    whole = mel_from_audio(audio, params)
    monkeypatch.setattr(spectrogram, "ANALYSIS_CHUNK_BINS", (params.n_fft // 2 + 1) * 7)  # 7 frames a chunk
    chunked = mel_from_audio(audio, params)
    assert chunked.shape == whole.shape == (channels, params.num_frequencies, 1 + audio.shape[1] // params.hop_length)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=whole.max() * 1e-6)


def test_images_and_pixels_built_in_blocks_equal_one_block(monkeypatch):
    params = PRESETS["riffusion"]
    mel = mel_from_audio(_music(2.0, params.sample_rate), params)
    image = image_from_mel(mel, params)
    decoded, _ = mel_from_image(image)
    monkeypatch.setattr(spectrogram, "ANALYSIS_CHUNK_BINS", 512 * 13)
    blocked = image_from_mel(mel, params)
    assert np.array_equal(np.asarray(blocked), np.asarray(image))
    assert dict(blocked.getexif()) == dict(image.getexif())
    assert np.array_equal(mel_from_image(blocked)[0], decoded)


@pytest.mark.parametrize(("from_hz", "to_hz"), [(25200, 44100), (44100, 48000), (22050, 16000)])
def test_resampling_in_blocks_equals_resampling_the_whole(from_hz, to_hz):
    wave = torch.randn(2, 50_003, generator=torch.Generator().manual_seed(0))
    whole = torchaudio.functional.resample(wave, from_hz, to_hz, lowpass_filter_width=16)
    blocks = _resample_blocks(wave, from_hz, to_hz, 4000)
    assert blocks.shape == whole.shape
    assert torch.allclose(blocks, whole, atol=1e-6)


def test_chunked_griffin_lim_is_as_faithful_and_seamless_as_one_chunk():
    params = PRESETS["riffusion"]
    audio = _music(4.0, params.sample_rate)
    mel = mel_from_audio(audio, params)
    frames = mel.shape[-1]
    results = {}
    for chunk in (None, 96):
        wave = GriffinLimVocoder(n_iter=16, max_chunk_frames=chunk)(
            torch.from_numpy(mel), params, generator=torch.Generator().manual_seed(0)
        )
        assert wave.shape == (1, frames * params.hop_length)
        results[chunk] = wave[0].numpy()
    for chunk, wave in results.items():
        again = mel_from_audio(wave[None], params)[..., :frames]
        results[chunk] = (wave, spectral_convergence(mel, again), again)
    _, whole_sc, _ = results[None]
    chunked_wave, chunked_sc, chunked_mel = results[96]
    assert chunked_sc < whole_sc + 0.02, (chunked_sc, whole_sc)
    # No click or dropout at the seams: per-frame error near a seam is like elsewhere.
    error = np.linalg.norm(chunked_mel[0] - mel[0], axis=0) / (np.linalg.norm(mel[0], axis=0) + 1e-9)
    seams = np.arange(96, frames, 96)
    near = np.concatenate([error[s - 2 : s + 3] for s in seams])
    assert near.mean() < 2 * np.median(error[5:-5]) + 0.02, (near.mean(), np.median(error))
    # The 440 Hz tone survives everywhere, with no dip in loudness at the seams.
    envelope = np.abs(chunked_wave).reshape(-1, params.hop_length).max(axis=1)[5:-5]
    assert envelope.min() > 0.5 * np.median(envelope)
    spectrum = np.abs(np.fft.rfft(chunked_wave))
    assert abs(np.fft.rfftfreq(chunked_wave.size, 1 / params.sample_rate)[np.argmax(spectrum)] - 440) < 2


def test_wide_latents_decode_in_windows_like_one_piece(monkeypatch):
    """A long clip's VAE decode runs window by window (time and memory linear in the width, a cancel
    point per window) and gives the image of one decode, up to the attention's reach."""
    from pathlib import Path

    from diffusers import StableDiffusionPipeline

    import engine.pipelines.sampling as sampling

    assets = Path(__file__).resolve().parents[1] / "assets"
    pipe = StableDiffusionPipeline.from_pretrained(assets / "tiny-sd", safety_checker=None, requires_safety_checker=False)
    latents = torch.randn(1, 4, 8, 160, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        whole = sampling.decode_latents(pipe, latents)
        other = sampling.decode_latents(pipe, torch.randn(1, 4, 8, 160, generator=torch.Generator().manual_seed(1)))  # 160 <= 128 + 2 * 16: one call
        monkeypatch.setattr(sampling, "DECODE_WINDOW_LATENTS", 40)
        monkeypatch.setattr(sampling, "DECODE_CONTEXT_LATENTS", 8)
        passes = []
        # Count the windows' own cancel points, not the per-layer ones inside each VAE call.
        monkeypatch.setattr(sampling, "cancel_points_inside", lambda model: contextlib.nullcontext())
        monkeypatch.setattr("engine.cancel.cancel_point", lambda: passes.append(1))
        windowed = sampling.decode_latents(pipe, latents)
    assert windowed.shape == whole.shape == (64, 1280, 3)
    assert len(passes) == 8  # two cancel points per window: before its decode and after it
    # GroupNorm and attention see one window, not the whole: close, not equal (as diffusers' tiling).
    assert np.abs(windowed - whole).mean() < 0.25 * np.abs(other - whole).mean()
    # No seam: the column-to-column change across a window edge is like elsewhere.
    steps = np.abs(np.diff(windowed, axis=1)).mean(axis=(0, 2))
    seams = [40 * 8 * k - 1 for k in range(1, 4)]
    assert steps[seams].max() < 3 * np.median(steps) + 0.01


def test_long_self_attention_runs_in_query_chunks_equal_to_one_call_and_cancels_inside(monkeypatch):
    """A wide spectrogram's self-attention (quadratic in the duration) runs over its queries in
    chunks: the same numbers as diffusers' one call, and a cancel stops it between two chunks."""
    from diffusers.models.attention_processor import Attention

    from engine.cancel import cancel_scope
    from engine.pipelines import sampling
    from engine.specs import JobCancelledError

    torch.manual_seed(0)
    attn = Attention(query_dim=32, cross_attention_dim=32, heads=16, dim_head=2).eval()
    x, words = torch.randn(2, 1500, 32), torch.randn(2, 77, 32)
    monkeypatch.setattr(sampling, "ATTENTION_CHUNK_SCORES", 1 << 20)  # 1500 queries: 24 chunks
    with torch.no_grad():
        whole, cross = attn(x), attn(x, words)
        with sampling.cancel_points_inside(attn):
            assert type(attn.processor).__name__ == "ChunkedAttnProcessor"
            assert torch.equal(attn(x), whole) and torch.equal(attn(x, words), cross)
            calls = []

            def check():
                calls.append(1)
                if len(calls) == 3:
                    raise JobCancelledError()

            with cancel_scope(check), pytest.raises(JobCancelledError):
                attn(x)
    assert len(calls) == 3 and type(attn.processor).__name__ == "AttnProcessor2_0"  # restored
