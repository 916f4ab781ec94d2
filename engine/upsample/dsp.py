"""Signal tools of the upsamplers: bands, the input's cutoff, low-passing, LSD and flatness.

Everything here is numpy (no torch), so the bench, the tests and the training data share it:

    cutoff = detect_cutoff_hz(audio, 44100)          # where the input's spectrum ends (Hz)
    lsd = log_spectral_distance(reference, estimate, 44100)
    flat = spectral_flatness(audio, 44100)            # full band: ~0.56 for white noise
"""

from __future__ import annotations

import numpy as np

#: Power (relative to the loudest bin of the long-term spectrum) below which a bin counts as empty.
CUTOFF_THRESHOLD_DB = -60.0
#: LSD's floor on power (the usual log10(|X|^2 + 1e-8) of super-resolution papers).
LSD_EPS = 1e-8


def mel_band_edges(n_fft: int, sample_rate_hz: int, num_bands: int) -> np.ndarray:
    """Bin edges (num_bands + 1 ints, first 0, last n_fft // 2 + 1) of bands equally spaced in mel.

    Every band holds at least one bin; edges that would coincide are spread upwards.
    """
    bins = n_fft // 2 + 1
    nyquist = sample_rate_hz / 2
    mel = np.linspace(0.0, 2595.0 * np.log10(1.0 + nyquist / 700.0), num_bands + 1)
    hz = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    edges = np.round(hz / nyquist * (bins - 1)).astype(np.int64)
    edges[0], edges[-1] = 0, bins
    for i in range(1, len(edges)):
        edges[i] = max(edges[i], edges[i - 1] + 1)
    if edges[-1] != bins or edges[-2] >= bins:
        raise ValueError(f"{num_bands} bands do not fit in {bins} bins.")
    return edges


def band_matrix(edges: np.ndarray) -> np.ndarray:
    """(bands, bins) float32 matrix that averages power over each band's bins."""
    matrix = np.zeros((len(edges) - 1, int(edges[-1])), dtype=np.float32)
    for b in range(len(edges) - 1):
        matrix[b, edges[b] : edges[b + 1]] = 1.0 / (edges[b + 1] - edges[b])
    return matrix


def _mono64(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    return audio.mean(axis=0) if audio.ndim == 2 else audio


def power_frames(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Power spectra (frames, n_fft // 2 + 1) of Hann-windowed frames of mono ``audio``
    (channels are averaged); a clip shorter than a frame is zero-padded to one frame."""
    x = _mono64(audio)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    count = 1 + (len(x) - n_fft) // hop
    window = np.hanning(n_fft)
    out = np.empty((count, n_fft // 2 + 1))
    for start in range(0, count, 256):  # in blocks: a long file never makes one huge frame matrix
        stop = min(count, start + 256)
        index = np.arange(n_fft)[None, :] + hop * np.arange(start, stop)[:, None]
        out[start:stop] = np.abs(np.fft.rfft(x[index] * window, axis=1)) ** 2
    return out


def long_term_spectrum(audio: np.ndarray, sample_rate_hz: int, n_fft: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Mean power per bin over the clip, and the bins' frequencies (Hz)."""
    power = power_frames(audio, n_fft, n_fft // 4)
    return power.mean(axis=0), np.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)


def detect_cutoff_hz(audio: np.ndarray, sample_rate_hz: int, threshold_db: float = CUTOFF_THRESHOLD_DB) -> float:
    """The frequency where ``audio``'s spectrum ends: the top of the highest bin of the long-term
    spectrum (smoothed over ~100 Hz) within ``threshold_db`` of the loudest; the Nyquist
    frequency for a full-band clip, 0 for silence.

    MP3-like low-passes and band-limited generators (the starter model stops at 4 kHz) end in a
    cliff, which this finds; a quiet but real top octave (cymbals, noise) stays above it.
    """
    spectrum, freqs = long_term_spectrum(audio, sample_rate_hz)
    peak = spectrum.max()
    if not peak > 0:
        return 0.0
    width = max(1, int(round(100.0 / (freqs[1] - freqs[0]))))
    smooth = np.convolve(spectrum, np.ones(width) / width, mode="same")
    above = np.nonzero(smooth > peak * 10 ** (threshold_db / 10))[0]
    if len(above) == 0:
        return 0.0
    top = int(above[-1])
    return float(min(sample_rate_hz / 2, freqs[top] + (freqs[1] - freqs[0]) / 2))


def log_spectral_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate_hz: int,
                          n_fft: int = 2048, eps: float = LSD_EPS) -> float:
    """Log-spectral distance (LSD): the mean over frames of the RMS over bins of
    ``log10(P_ref + eps) - log10(P_est + eps)`` (power spectra, Hann frames of ``n_fft``, hop
    ``n_fft / 4``), the measure of audio super-resolution papers (AudioSR, NU-Wave). Lower is
    better; both clips must have the same rate (and are cut to the shorter)."""
    ref, est = _mono64(reference), _mono64(estimate)
    n = min(len(ref), len(est))
    p_ref = power_frames(ref[:n], n_fft, n_fft // 4)
    p_est = power_frames(est[:n], n_fft, n_fft // 4)
    diff = np.log10(p_ref + eps) - np.log10(p_est + eps)
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=1))))


def spectral_flatness(audio: np.ndarray, sample_rate_hz: int, top_hz: float | None = None) -> float:
    """Full-band spectral flatness (geometric / arithmetic mean of the power spectrum, 46 ms
    frames, median over frames louder than -60 dB of the loudest) from 60 Hz to ``top_hz``
    (default: the Nyquist frequency): ~0.56 for white noise, ~0 for a tone or a band-limited clip."""
    frame = int(0.046 * sample_rate_hz)
    power = power_frames(audio, frame, frame // 2)
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate_hz)
    top = sample_rate_hz / 2 if top_hz is None else top_hz
    band = power[:, (freqs >= 60.0) & (freqs <= top)] + 1e-20
    loud = band.sum(axis=1) > 1e-6 * band.sum(axis=1).max()
    flatness = np.exp(np.mean(np.log(band[loud]), axis=1)) / np.mean(band[loud], axis=1)
    return float(np.median(flatness))


def crossfade_weights(length: int) -> np.ndarray:
    """Raised-cosine fade-in weights (0 -> 1) over ``length`` samples; the fade-out is ``1 - w``."""
    if length <= 0:
        return np.zeros(0, dtype=np.float32)
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)
