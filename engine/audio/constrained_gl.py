"""Phase-constrained Griffin-Lim: resynthesise only what an edit regenerates.

Griffin-Lim towards generated mel magnitudes in which every sample outside the edit is held at
its original value and every time-frequency bin outside the mask keeps the original's complex
STFT, so new audio continues the original's waveform at the edges of an edit (no phase jump) and,
for a frequency-limited mask, leaves the rest of the spectrum alone. It runs on the vocoder's own
STFT (:mod:`engine.audio.inversion`) and starts from its phase-gradient heuristic. Used by the
edit canvas (:class:`engine.pipelines.editing.CanvasEditor`) and where edited audio lands back in
a clip (:func:`match_seams`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.audio.mel_scale import mel_bin_frequencies

#: Where new audio meets held samples, the mismatch is faded out over this long (see match_seams).
SEAM_FADE_S = 0.02


def linear_bin_weights(params: Any, mel_mask: np.ndarray, n_fft: int) -> np.ndarray:
    """A mel-order mask ``(num_frequencies, frames)`` resampled onto ``n_fft // 2 + 1`` linear STFT bins.

    Each linear bin takes the mask value interpolated between the two nearest mel-bin centres;
    bins below the lowest centre take the bottom row's value and bins above the highest centre
    (up to Nyquist) the top row's, so a full-height mask also covers the spectrum above
    ``max_frequency``.
    """
    centres = mel_bin_frequencies(params)
    freqs = np.arange(n_fft // 2 + 1) * (params.sample_rate / n_fft)
    position = np.interp(freqs, centres, np.arange(len(centres), dtype=np.float64))
    below = np.clip(np.floor(position).astype(int), 0, len(centres) - 1)
    above = np.clip(below + 1, 0, len(centres) - 1)
    frac = (position - below)[:, None]
    mel_mask = np.asarray(mel_mask, dtype=np.float64)
    return (mel_mask[below] * (1.0 - frac) + mel_mask[above] * frac).astype(np.float32)


def constrained_griffin_lim(
    target_mel: np.ndarray,
    reference: np.ndarray,
    fixed_samples: np.ndarray,
    freedom: np.ndarray,
    params: Any,
    *,
    free_frames: np.ndarray | None = None,
    n_iter: int = 32,
    momentum: float = 0.99,
    seed: int = 0,
    device: Any = "cpu",
    check_cancelled: Callable[[], None] | None = None,
    seam_fade_samples: int = 0,
) -> np.ndarray:
    """Audio whose STFT magnitude follows ``target_mel`` where the edit is free, and the original elsewhere.

    Fast Griffin-Lim (Perraud et al., momentum 0.99) on an STFT with the params' hop and Hann
    window (2x zero-padded FFT, one frame centred on each column; the vocoder's own STFT),
    initialised with the phase-gradient heuristic of ``engine.audio.inversion.pghi_phase``, with
    two constraints applied at every iteration:

    * samples where ``fixed_samples`` is True are reset to ``reference`` (time domain);
    * each STFT bin is ``freedom * target_magnitude * phase + (1 - freedom) * reference_STFT``
      (time-frequency domain), so bins outside the mask keep the original's magnitude *and* phase.

    Args:
        target_mel: ``(targets, num_frequencies, columns)`` mel amplitudes on the int16 scale, mel
            order; one target for every channel, or one per channel.
        reference: ``(channels, columns * hop_length)`` float audio: the original where known
            (its value elsewhere is ignored where ``freedom`` is 1 and samples are not fixed).
        fixed_samples: ``(columns * hop_length,)`` bool.
        freedom: ``(num_frequencies, columns)`` in [0, 1], mel order: 1 = follow the target.
        free_frames: ``(columns,)`` (or one longer) bool: frames whose window reaches audio that
            has no reference (new audio beyond the clip) follow the target in every bin.
        n_iter: Griffin-Lim iterations; seed: for the random phase of quiet bins.
        check_cancelled: called every few iterations (raises to stop).
        seam_fade_samples: > 0 smooths each seam between held and free samples (:func:`match_seams`).

    Returns:
        float32 ``(channels, columns * hop_length)``; fixed samples equal ``reference`` exactly.
    """
    import torch

    from engine.audio.inversion import PhaseGrid, _Stft, mel_to_linear, pghi_phase
    from engine.audio.spectrogram import INT16_SCALE

    sample_rate, hop, win = params.sample_rate, params.hop_length, params.win_length
    grid = PhaseGrid(sample_rate, hop, win, 2 * win)
    channels, num_samples = reference.shape
    target_mel = np.asarray(target_mel, dtype=np.float32)
    if target_mel.ndim != 3 or target_mel.shape[0] not in (1, channels):
        target_mel = target_mel.reshape(-1, *target_mel.shape[-2:]).mean(axis=0, keepdims=True)
    columns = target_mel.shape[2]
    if num_samples != columns * hop or fixed_samples.shape != (num_samples,):
        raise ValueError(
            f"constrained_griffin_lim: {columns} columns need {columns * hop} samples and a mask of as many, "
            f"got {num_samples} and {fixed_samples.shape}."
        )
    device = torch.device(device)
    # One frame per column, centred on it (spectra are (batch, frames, bins)).
    stft = _Stft(grid, columns, num_samples, device)

    with torch.inference_mode():
        mel = torch.from_numpy(np.ascontiguousarray(target_mel)).to(device)
        magnitude = mel_to_linear(mel / INT16_SCALE, params, grid.n_fft, sample_rate_hz=sample_rate)
        magnitude = magnitude.transpose(1, 2).contiguous()  # (targets, frames, bins)
        weights = linear_bin_weights(params, freedom, grid.n_fft).T.copy()  # (frames, bins)
        if free_frames is not None:
            weights[np.asarray(free_frames, dtype=bool)[:columns]] = 1.0
        free = torch.from_numpy(weights).to(device)
        ref = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32)).to(device)
        fixed = torch.from_numpy(np.asarray(fixed_samples, dtype=bool)).to(device)
        kept = (1.0 - free) * stft.forward(ref) if bool((free < 1).any()) else None
        free_magnitude = free * magnitude

        def constrain(unit_phase: torch.Tensor) -> torch.Tensor:
            spectrum = free_magnitude * unit_phase
            return spectrum if kept is None else spectrum + kept

        generator = torch.Generator("cpu").manual_seed(int(seed))
        phase = pghi_phase(magnitude.cpu(), grid, generator).to(device)
        spectrum = constrain(torch.polar(torch.ones_like(phase), phase))
        previous = None
        for iteration in range(n_iter):
            if check_cancelled is not None and iteration % 4 == 0:
                check_cancelled()
            consistent = stft.forward(torch.where(fixed, ref, stft.inverse(spectrum)))
            accelerated = consistent if previous is None else consistent + momentum * (consistent - previous)
            previous = consistent
            spectrum = constrain(torch.sgn(accelerated))
        free_signal = stft.inverse(spectrum.expand(channels, -1, -1)).cpu().numpy()
    out = np.where(fixed_samples, reference, free_signal).astype(np.float32)
    match_seams(out, free_signal, np.asarray(fixed_samples, dtype=bool), reference, seam_fade_samples)
    return out


def match_seams(
    out: np.ndarray, free_signal: np.ndarray, fixed: np.ndarray, reference: np.ndarray, fade_samples: int
) -> None:
    """Where free samples meet held ones, offset the free side so the waveform does not step (in place).

    The resynthesis ``free_signal`` is continuous but may not pass exactly through the held sample
    next to a seam; the free samples next to it get that mismatch added, fading out over
    ``fade_samples`` with a raised-cosine ramp. The step across the seam becomes the synthesised
    signal's own sample-to-sample step. Held samples are not changed.
    """
    if fade_samples <= 0:
        return
    changes = np.flatnonzero(fixed[1:] != fixed[:-1]) + 1
    ramp = 0.5 * (1.0 + np.cos(np.pi * (np.arange(fade_samples) + 0.5) / fade_samples))
    for edge in changes:
        if fixed[edge - 1]:  # held -> free at `edge`
            run = np.flatnonzero(fixed[edge:])
            length = min(fade_samples, run[0] if run.size else fixed.size - edge)
            mismatch = reference[:, edge - 1] - free_signal[:, edge - 1]
            out[:, edge : edge + length] += (mismatch[:, None] * ramp[:length]).astype(out.dtype)
        else:  # free -> held at `edge`
            run = np.flatnonzero(fixed[:edge][::-1])
            length = min(fade_samples, run[0] if run.size else edge)
            mismatch = reference[:, edge] - free_signal[:, edge]
            out[:, edge - length : edge] += (mismatch[:, None] * ramp[:length][::-1]).astype(out.dtype)


def frames_reaching(samples: np.ndarray, params: Any, columns: int) -> np.ndarray:
    """``(columns + 1,)`` bool: STFT frames whose Hann window covers any sample flagged in ``samples``."""
    hop, half = params.hop_length, params.win_length // 2
    flagged = np.flatnonzero(samples)
    frames = np.zeros(columns + 1, dtype=bool)
    if flagged.size == 0:
        return frames
    counts = np.concatenate([[0], np.cumsum(samples.astype(np.int64))])
    centres = np.arange(columns + 1) * hop
    lo = np.clip(centres - half, 0, samples.size)
    hi = np.clip(centres + half + 1, 0, samples.size)
    frames[:] = counts[hi] - counts[lo] > 0
    return frames
