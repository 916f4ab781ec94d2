"""Upsample a clip of any length: checks, the input's cutoff, chunks with overlap and crossfade.

    outcome = yield from upsample_clip(load_upsampler("builtin:upsampler"), audio, 22050)
    outcome.audio, outcome.sample_rate_hz, outcome.note, outcome.facts

Each chunk is a progress report and a cancel point. The clip is resampled to the model's rate,
its cutoff is detected once for the whole clip (so every chunk is extended from the same
frequency), each chunk is low-passed there and extended, and neighbouring chunks overlap by
``overlap_s`` and are crossfaded with raised-cosine weights. Silent or already full-band input
is passed through (resampled to the output rate) with a note saying why.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.specs import Progress
from engine.upsample.dsp import crossfade_weights, detect_cutoff_hz

#: Shorter clips are refused: the cutoff and the band energies need a few frames.
MIN_DURATION_S = 0.1
#: Below this peak a clip is silence (-100 dBFS).
SILENCE_PEAK = 1e-5
#: A clip whose band reaches this fraction of the output's Nyquist frequency is already full-band.
FULL_BAND_FRACTION = 0.9
CHUNK_S = 10.0
OVERLAP_S = 1.0


@dataclass
class Upsampled:
    audio: np.ndarray
    sample_rate_hz: int
    note: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


def _resample(audio: np.ndarray, src: int, dst: int) -> np.ndarray:
    from engine.audio.io import resample

    return resample(audio, src, dst) if src != dst else np.array(audio, dtype=np.float32, copy=True)




def check_clip(audio: np.ndarray, sample_rate_hz: int) -> None:
    """ValueError (one line) for a clip too short to upsample."""
    duration = audio.shape[-1] / sample_rate_hz
    if duration < MIN_DURATION_S:
        raise ValueError(
            f"the clip is {duration * 1000:.0f} ms long; upsampling needs at least {MIN_DURATION_S * 1000:.0f} ms."
        )


def chunk_spans(length: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """(start, stop) of chunks of ``chunk`` samples overlapping by ``overlap`` covering ``length``."""
    if length <= chunk:
        return [(0, length)]
    step = chunk - overlap
    starts = list(range(0, length - overlap, step))
    spans = [(s, min(length, s + chunk)) for s in starts]
    if spans[-1][1] - spans[-1][0] < 2 * overlap and len(spans) > 1:  # a short tail joins the chunk before
        spans.pop()
        spans[-1] = (spans[-1][0], length)
    return spans


def upsample_clip(
    upsampler: Any,
    audio: np.ndarray,
    sample_rate_hz: int,
    *,
    output_rate_hz: int | None = None,
    chunk_s: float = CHUNK_S,
    overlap_s: float = OVERLAP_S,
    seed: int = 0,
    steps: int = 0,
    cutoff_hz: float | None = None,
) -> Generator[Progress, None, Upsampled]:
    """Extend the band of ``audio`` (channels, samples) float32 at ``sample_rate_hz``.

    ``seed`` and ``steps`` drive sampling upsamplers (one generator for the whole clip).
    Returns the audio at ``output_rate_hz`` (default: the model's rate, or the input's if
    higher) with the detected and used cutoffs in ``facts``. ``cutoff_hz`` is where the band to
    extend ends when the caller knows it (an edit's new audio inside a wider clip), in place of
    the one detected on the whole input. Raises ValueError for a clip that is too short.
    """
    check_clip(audio, sample_rate_hz)
    model_rate = int(upsampler.sample_rate_hz)
    out_rate = int(output_rate_hz or max(model_rate, sample_rate_hz))
    facts: dict[str, Any] = {"model_rate_hz": model_rate}
    peak = float(np.max(np.abs(audio)))
    if peak < SILENCE_PEAK:
        note = "The clip is silent; there is nothing to upsample (passed through)."
        return Upsampled(_resample(audio, sample_rate_hz, out_rate), out_rate, note, {**facts, "passed_through": True})
    yield Progress(stage="load", message="Finding the input's cutoff")
    x = _resample(audio, sample_rate_hz, model_rate)
    detected = min(detect_cutoff_hz(x, model_rate) if cutoff_hz is None else cutoff_hz, sample_rate_hz / 2)
    facts["detected_cutoff_hz"] = round(detected, 1)
    top = min(out_rate, model_rate) / 2
    if detected >= FULL_BAND_FRACTION * top or detected >= upsampler.max_cutoff_hz:
        note = (
            f"The clip already reaches {detected / 1000:.1f} kHz"
            + (f" (this upsampler extends bands that end below {upsampler.max_cutoff_hz / 1000:.0f} kHz)"
               if detected < FULL_BAND_FRACTION * top else f" of the {top / 1000:.1f} kHz band")
            + "; nothing to restore (passed through)."
        )
        return Upsampled(_resample(audio, sample_rate_hz, out_rate), out_rate, note, {**facts, "passed_through": True})
    cutoff = max(detected, upsampler.min_cutoff_hz)
    facts["cutoff_hz"] = round(cutoff, 1)
    # Chunks start on the model's frame grid (the spectral model's STFT hop), so a chunk's frames
    # are the whole clip's frames and the overlaps being crossfaded hold the same sound.
    grid = int(getattr(upsampler, "chunk_alignment", 1))
    chunk = max(2 * grid, int(round(chunk_s * model_rate / grid)) * grid)
    overlap = min(max(grid, int(round(overlap_s * model_rate / grid)) * grid), chunk // 2 // grid * grid)
    spans = chunk_spans(x.shape[1], chunk, overlap)
    out = np.zeros_like(x)
    import torch

    generator = torch.Generator("cpu").manual_seed(int(seed))
    previous_stop = 0
    for i, (start, stop) in enumerate(spans):
        yield Progress(stage="invert", step=i, total=len(spans),
                       message=f"Upsampling {cutoff / 1000:.1f} kHz -> {top / 1000:.1f} kHz, chunk {i + 1}/{len(spans)}")
        piece = upsampler.extend(x[:, start:stop], cutoff, generator=generator, steps=steps)
        fade = max(0, previous_stop - start) if i else 0
        if fade:
            w = crossfade_weights(fade)
            out[:, start : start + fade] = out[:, start : start + fade] * (1 - w) + piece[:, :fade] * w
        out[:, start + fade : stop] = piece[:, fade:]
        previous_stop = stop
    yield Progress(stage="invert", step=len(spans), total=len(spans), message="Upsampled")
    facts["chunks"] = len(spans)
    return Upsampled(_resample(out, model_rate, out_rate), out_rate, "", facts)
