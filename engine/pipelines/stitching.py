"""Whole windows (variations, interpolation): generate a window, invert it at a fixed level,
and stitch windows with crossfades (equal-power audio, linear pixels)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from engine.specs import Progress


def synthesise_window(
    denoising: Generator[Progress, None, np.ndarray],
    *,
    label: str,
    params: Any,
    max_value: float,
    vocoder: Any,
    seed: int,
    device: Any,
    ctx: Any,
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Run ``denoising`` (relaying its progress under ``label``) and invert the window to audio.

    The image is quantised first (the audio is made from exactly the saved pixels) and decoded at
    ``max_value`` without normalisation, so windows of one clip share one loudness scale. Returns
    the waveform ``(channels, width * hop_length)`` float32 and the uint8 pixels ``(H, width, 3)``.
    """
    import torch

    from engine.audio.spectrogram import mel_from_pixels
    from engine.pipelines.editing import model_pixels
    from engine.pipelines.sampling import to_uint8
    from engine.pipelines.generate import labelled

    pixels = to_uint8(model_pixels((yield from labelled(denoising, label)), params))
    yield Progress(stage="invert", step=0, total=1, message=f"{label}: Inverting to audio")
    if ctx is not None:
        ctx.check_cancelled()
    mel = torch.from_numpy(mel_from_pixels(pixels, params, max_value)).to(device)
    generator = torch.Generator(device=str(device)).manual_seed(int(seed))
    wave = vocoder(mel, params, num_samples=pixels.shape[1] * params.hop_length, generator=generator)
    return wave.detach().float().cpu().numpy(), pixels


def stitch_windows(
    waves: Sequence[np.ndarray], pixels: Sequence[np.ndarray], starts: Sequence[int], overlap_px: int, hop_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Join windows that start at columns ``starts``: audio with equal-power crossfades, pixels with linear ones.

    Window ``k`` is used up to ``overlap_px`` columns past the start of window ``k + 1`` (the
    crossfade; shortened where windows are closer than that), the last one to its end. Returns the
    audio ``(channels, (starts[-1] + width) * hop)`` and uint8 pixels ``(H, starts[-1] + width, 3)``.
    """
    from engine.audio.splice import crossfade_concat

    steps = [b - a for a, b in zip(starts, starts[1:])]
    fade = min([overlap_px, *steps])
    ends = [step + fade for step in steps] + [pixels[-1].shape[1]]
    audio = crossfade_concat([w[:, : e * hop_length] for w, e in zip(waves, ends)], fade * hop_length,
                             curve="equal_power")
    height = pixels[0].shape[0]
    planes = [np.moveaxis(p[:, :e], 2, 0).reshape(3 * height, -1).astype(np.float32) for p, e in zip(pixels, ends)]
    picture = np.moveaxis(crossfade_concat(planes, fade, curve="linear").reshape(3, height, -1), 0, 2)
    return audio, np.clip(np.round(picture), 0, 255).astype(np.uint8)
