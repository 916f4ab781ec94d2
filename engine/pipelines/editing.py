"""What every spectrogram edit shares: masks in seconds x Hz, windows, feathering, compositing, and
the phase-constrained resynthesis that keeps unedited audio intact.

The edits (inpaint, extend, loop) all work on a *canvas*: the clip's audio, padded with silence to
whole image columns (and, for extend, with empty space where new audio goes), its Riffusion-style
spectrogram pixels, and a mask of the pixels to regenerate. :class:`CanvasEditor` runs the model
over the canvas one window (*tile*) at a time, each tile seeing already known columns as context:

1. the window's pixels and the not-yet-generated part of the mask go to
   :func:`engine.pipelines.sampling.denoise` (4-channel UNets blend the known region back every
   step; 9-channel inpainting UNets get the mask as input);
2. the generated window is composited into the canvas through the *feathered* mask: a pixel where
   the feathered mask is 0 keeps its exact value;
3. the audio of the newly generated columns is synthesised by :func:`constrained_griffin_lim`:
   Griffin-Lim towards the generated magnitudes in which every sample outside the edit is held
   at its original value and every time-frequency bin outside the mask keeps the original's
   complex STFT. The new audio therefore continues the original's waveform at the edges of the
   edit (no phase jump) and, for a frequency-limited mask, leaves the rest of the spectrum alone.

Geometry (Riffusion's, see engine.audio.spectrogram): image column ``j`` is the STFT frame centred
at sample ``j * hop_length`` and covers samples ``[j * hop, (j + 1) * hop)``; image row 0 is the
highest mel bin. Masks given by callers in mel order (``mask[mel_bin, column]``, bin 0 lowest,
like ``mel_from_audio``) are flipped to image rows here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.specs import Progress

#: Columns of the clip's spectrogram computed per STFT call (20.48 s in the riffusion preset):
#: shorter clips are computed in one call, exactly like ``image_from_audio``.
MEL_CHUNK_COLUMNS = 2048
#: Where new audio meets held samples, the mismatch is faded out over this long (see match_seams).
SEAM_FADE_S = 0.02


# ---------------------------------------------------------------------------------------------
# Units: seconds -> samples -> columns, Hz -> mel bins
# ---------------------------------------------------------------------------------------------


def sample_index(seconds: float, sample_rate_hz: int) -> int:
    """The sample at ``seconds`` (rounded to the nearest sample)."""
    return int(round(float(seconds) * sample_rate_hz))


def columns_for_samples(start_sample: int, end_sample: int, hop_length: int) -> tuple[int, int]:
    """Image columns ``[lo, hi)`` that cover samples ``[start_sample, end_sample)``."""
    return start_sample // hop_length, -(-end_sample // hop_length)


def _hz_to_mel(freq_hz: np.ndarray, scale: str) -> np.ndarray:
    freq_hz = np.asarray(freq_hz, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + freq_hz / 700.0)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    linear = freq_hz / f_sp
    log_part = min_log_hz / f_sp + np.log(np.maximum(freq_hz, 1e-10) / min_log_hz) / logstep
    return np.where(freq_hz >= min_log_hz, log_part, linear)


def _mel_to_hz(mels: np.ndarray, scale: str) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def mel_bin_frequencies(params: Any) -> np.ndarray:
    """Centre frequency in Hz of each mel bin (bin 0 lowest), as torchaudio's filterbank places them."""
    scale = params.mel_scale_type
    lo, hi = _hz_to_mel(params.min_frequency, scale), _hz_to_mel(params.max_frequency, scale)
    return _mel_to_hz(np.linspace(lo, hi, params.num_frequencies + 2)[1:-1], scale)


def bins_for_band(params: Any, fmin_hz: float | None, fmax_hz: float | None) -> tuple[int, int]:
    """Mel bins ``[lo, hi)`` whose centre frequency lies in ``[fmin_hz, fmax_hz]`` (None = open end).

    Raises ValueError if no bin's centre lies in the band (a band narrower than one mel bin).
    """
    centres = mel_bin_frequencies(params)
    lo = 0 if fmin_hz is None else int(np.searchsorted(centres, fmin_hz, side="left"))
    hi = len(centres) if fmax_hz is None else int(np.searchsorted(centres, fmax_hz, side="right"))
    if hi <= lo:
        raise ValueError(
            f"the band {fmin_hz or 0:g}-{fmax_hz or params.max_frequency:g} Hz holds no mel bin of the "
            f"spectrogram ({params.num_frequencies} bins over {params.min_frequency:g}-{params.max_frequency:g} Hz); "
            "widen it."
        )
    return lo, hi


# ---------------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------------


def mask_from_boxes(
    params: Any,
    columns: int,
    boxes: Sequence[tuple[float, float, float | None, float | None]],
    *,
    column_offset: int = 0,
) -> np.ndarray:
    """A bool mask ``(num_frequencies, columns)`` in mel order: the union of time x frequency boxes.

    Each box is ``(start_s, end_s, fmin_hz, fmax_hz)`` in clip time; ``fmin_hz``/``fmax_hz`` None
    means the bottom/top of the spectrogram. ``column_offset`` shifts the boxes right by that
    many columns (the clip's position on a padded canvas).
    Raises ValueError for a box with no mel bin in its band.
    """
    mask = np.zeros((params.num_frequencies, columns), dtype=bool)
    for start_s, end_s, fmin_hz, fmax_hz in boxes:
        c_lo, c_hi = columns_for_samples(
            sample_index(start_s, params.sample_rate), sample_index(end_s, params.sample_rate), params.hop_length
        )
        b_lo, b_hi = bins_for_band(params, fmin_hz, fmax_hz)
        mask[b_lo:b_hi, max(c_lo + column_offset, 0) : min(c_hi + column_offset, columns)] = True
    return mask


def painted_mask(mask: np.ndarray, params: Any, clip_columns: int) -> np.ndarray:
    """A caller's painted mask ``(num_frequencies, clip_columns or +1)`` in [0, 1] -> bool, binarised at 0.5.

    Rows are mel bins (row 0 lowest, like ``mel_from_audio``); columns are the clip's image
    columns (``samples // hop_length``; one extra trailing frame, as ``mel_from_audio`` returns,
    is accepted and ignored). Raises ValueError for another shape or an empty mask.
    """
    array = np.asarray(mask, dtype=np.float32)
    expected = (params.num_frequencies, clip_columns)
    if array.ndim != 2 or array.shape[0] != expected[0] or array.shape[1] not in (clip_columns, clip_columns + 1):
        raise ValueError(
            f"`mask` has shape {array.shape}; expected {expected} (mel bins x columns of this clip's "
            f"spectrogram, {params.hop_length} samples per column)."
        )
    binary = array[:, :clip_columns] >= 0.5
    if not binary.any():
        raise ValueError("`mask` marks nothing to regenerate (no value >= 0.5).")
    return binary


def feather(binary: np.ndarray, feather_px: int) -> np.ndarray:
    """Soft mask in [0, 1] that ramps *inwards* from the edge of ``binary`` over ``feather_px`` pixels.

    Pixels outside ``binary`` stay exactly 0, so compositing through the result leaves them
    untouched; a pixel ``d`` pixels inside the edge gets ``min(d / (feather_px + 1), 1)``. Edges on
    the border of the array are not feathered (a full-height band is not faded at the top).
    """
    binary = np.asarray(binary, dtype=bool)
    if feather_px <= 0 or not binary.any():
        return binary.astype(np.float32)
    from scipy.ndimage import distance_transform_edt

    # Pad with "inside" so the array's border does not count as an edge.
    padded = np.pad(binary, feather_px + 1, mode="edge")
    distance = distance_transform_edt(padded)[feather_px + 1 : -feather_px - 1, feather_px + 1 : -feather_px - 1]
    soft = np.minimum(distance / (feather_px + 1), 1.0)
    return np.where(binary, soft, 0.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Pixels
# ---------------------------------------------------------------------------------------------


def clip_pixels(audio: np.ndarray, params: Any, columns: int) -> tuple[np.ndarray, float]:
    """The clip's spectrogram as uint8 RGB pixels ``(num_frequencies, columns, 3)`` and its MAX_VALUE.

    Exactly ``image_from_audio(audio, params)`` for the clip's ``samples // hop_length`` columns
    (computed in chunks of :data:`MEL_CHUNK_COLUMNS` for long clips), then white (silent) columns
    up to ``columns``.
    """
    from engine.audio.spectrogram import image_from_mel, mel_from_audio

    hop = params.hop_length
    clip_columns = audio.shape[1] // hop
    if clip_columns < 1:
        raise ValueError(f"the clip is shorter than one spectrogram column ({hop} samples).")
    margin = -(-(params.n_fft // 2) // hop) * hop
    parts = []
    for c0 in range(0, clip_columns, MEL_CHUNK_COLUMNS):
        c1 = min(c0 + MEL_CHUNK_COLUMNS, clip_columns)
        if c0 == 0 and c1 == clip_columns:
            parts.append(mel_from_audio(audio, params)[:, :, :c1])
            break
        seg_lo = max(c0 * hop - margin, 0)
        seg_hi = min(c1 * hop + margin, audio.shape[1])
        mel = mel_from_audio(audio[:, seg_lo:seg_hi], params)
        first = c0 - seg_lo // hop
        parts.append(mel[:, :, first : first + (c1 - c0)])
    mel = np.concatenate(parts, axis=2)
    image = image_from_mel(mel, params)
    from engine.audio.spectrogram import ExifTag

    max_value = float(image.getexif()[ExifTag.MAX_VALUE.value])
    pixels = np.full((params.num_frequencies, columns, 3), 255, dtype=np.uint8)
    pixels[:, :clip_columns] = np.asarray(image)[:, :columns]
    return pixels, max_value


def image_with_params(pixels: np.ndarray, params: Any, max_value: float) -> Any:
    """A PIL RGB image of ``pixels`` (uint8 (H, W, 3)) carrying Riffusion's EXIF tags and MAX_VALUE."""
    from PIL import Image

    from engine.audio.spectrogram import ExifTag

    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    exif = image.getexif()
    exif.update(params.to_exif().items())
    exif[ExifTag.MAX_VALUE.value] = float(max_value)
    return image


def model_pixels(generated: np.ndarray, params: Any) -> np.ndarray:
    """A generated float image (H, W, 3) in [0, 1] in the spectrogram convention.

    Mono params read only R (as Riffusion decodes), so R is copied to G and B; stereo params keep
    G (left) and B (right) and zero R.
    """
    out = np.array(generated, dtype=np.float32)
    if params.stereo:
        out[..., 0] = 0.0
    else:
        out[..., 1] = out[..., 0]
        out[..., 2] = out[..., 0]
    return out


def composite(base: np.ndarray, generated: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """uint8 ``base`` (H, W, 3) blended towards float ``generated`` in [0, 1] by ``soft`` (H, W).

    Where ``soft`` is 0 the result is ``base`` exactly; where it is 1, ``generated`` rounded.
    """
    weight = np.asarray(soft, dtype=np.float64)[..., None]
    mixed = base.astype(np.float64) * (1.0 - weight) + np.asarray(generated, dtype=np.float64) * 255.0 * weight
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One window of the canvas: ``[window_start, window_start + width)`` columns.

    Its *active* columns ``[active_lo, active_hi)`` are generated and committed by this tile;
    ``blend_lo``/``blend_hi`` are columns the previous tile committed that this tile regenerates
    and fades into (a seam feather between tiles), empty when ``blend_lo == blend_hi``.
    """

    window_start: int
    width: int
    active_lo: int
    active_hi: int
    blend_lo: int = 0
    blend_hi: int = 0

    def to_json(self) -> list[int]:
        return [self.window_start, self.width, self.active_lo, self.active_hi, self.blend_lo, self.blend_hi]


def plan_tiles(
    lo: int,
    hi: int,
    total_columns: int,
    window_px: int,
    context_before_px: int,
    context_after_px: int,
    *,
    reverse: bool = False,
    blend_px: int = 0,
) -> list[Tile]:
    """Windows of ``window_px`` columns that generate columns ``[lo, hi)`` of a ``total_columns`` canvas.

    Each tile generates up to ``window_px - context_before_px - context_after_px`` columns and
    sees context on either side where the canvas has it; tiles go left to right, or right to left
    with ``reverse`` (extending a clip to the left). When the columns fit in one window with their
    contexts, or the window shows the whole canvas, one tile does it (centred on the columns when
    both contexts are equal). From the second tile on, ``blend_px`` columns of the previous tile are
    regenerated and faded (a seam feather).

    Raises ValueError if the contexts leave no room to generate or the window exceeds the canvas.
    """
    if not 0 <= lo < hi <= total_columns:
        raise ValueError(f"columns [{lo}, {hi}) are not inside the canvas of {total_columns} columns.")
    if window_px > total_columns or window_px % 8:
        raise ValueError(f"the window of {window_px} px must be a multiple of 8 and fit the {total_columns}-px canvas.")
    last_start = total_columns - window_px
    if hi - lo <= window_px - context_before_px - context_after_px or window_px == total_columns:
        if context_before_px == context_after_px and not reverse:
            start = (lo + hi - window_px) // 2
        elif reverse:
            start = hi + context_after_px - window_px
        else:
            start = lo - context_before_px
        return [Tile(min(max(start, 0), last_start), window_px, lo, hi)]
    step = window_px - context_before_px - context_after_px - blend_px
    if step < 8:
        raise ValueError(
            f"a window of {window_px} px with {context_before_px} + {context_after_px} px of context leaves "
            "no room to generate; use a wider window or less context."
        )
    tiles: list[Tile] = []
    if not reverse:
        position = lo
        while position < hi:
            end = min(position + step, hi)
            blend = min(blend_px, position - lo) if tiles else 0
            start = min(max(position - blend - context_before_px, 0), last_start)
            tiles.append(Tile(start, window_px, position, end, position - blend, position))
            position = end
    else:
        position = hi
        while position > lo:
            begin = max(position - step, lo)
            blend = min(blend_px, hi - position) if tiles else 0
            start = min(max(position + blend + context_after_px - window_px, 0), last_start)
            tiles.append(Tile(start, window_px, begin, position, position, position + blend))
            position = begin
    return tiles


# ---------------------------------------------------------------------------------------------
# Phase-constrained resynthesis
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The canvas and its tiles
# ---------------------------------------------------------------------------------------------


def canvas_columns(num_samples: int, hop_length: int) -> int:
    """Columns of a canvas that holds ``num_samples``: whole columns, a multiple of 8, at least 8."""
    columns = -(-num_samples // hop_length)
    return max(8, -(-columns // 8) * 8)


class CanvasEditor:
    """The working state of one edit: canvas audio and pixels, masks, and what is still to generate.

    Args:
        params: the spectrogram params.
        audio: ``(channels, columns * hop)`` float32 canvas audio (the clip placed on it).
        pixels: ``(num_frequencies, columns, 3)`` uint8 canvas spectrogram.
        max_value: the spectrogram's MAX_VALUE (int16-scale amplitude of black).
        mask: ``(num_frequencies, columns)`` bool in *image* rows: pixels to regenerate.
        soft: the feathered mask (same shape, [0, 1], 0 outside ``mask``).
        pending_samples: ``(samples,)`` bool: samples to synthesise anew.
        has_reference: ``(samples,)`` bool: samples whose original value is known (False for new
            audio beyond the clip and for the canvas' padding).
    """

    def __init__(
        self,
        params: Any,
        audio: np.ndarray,
        pixels: np.ndarray,
        max_value: float,
        mask: np.ndarray,
        soft: np.ndarray,
        pending_samples: np.ndarray,
        has_reference: np.ndarray,
    ) -> None:
        self.params = params
        self.hop = params.hop_length
        self.audio = np.array(audio, dtype=np.float32)
        self.pixels = np.array(pixels, dtype=np.uint8)
        self.max_value = float(max_value)
        self.mask = np.asarray(mask, dtype=bool)
        self.soft = np.asarray(soft, dtype=np.float32)
        self.pending_samples = np.array(pending_samples, dtype=bool)
        self.has_reference = np.array(has_reference, dtype=bool)
        self.columns = self.pixels.shape[1]
        self.pending_columns = self.mask.any(axis=0)

    def run_tile(
        self,
        loaded: Any,
        tile: Tile,
        *,
        prompt: str,
        negative_prompt: str,
        seed: int,
        num_inference_steps: int,
        guidance_scale: float,
        scheduler: str,
        strength: float,
        griffin_lim_iters: int,
        preview_every: int = 0,
        ctx: Any = None,
        label: str = "",
        vocoder: Any = None,
    ) -> Generator[Progress, None, None]:
        """Generate ``tile``: denoise its window, composite its active columns, synthesise their audio
        (then a neural ``vocoder``, if given, resynthesises the new samples)."""
        from engine.audio.spectrogram import mel_from_pixels
        from engine.pipelines.sampling import denoise
        from engine.pipelines.text_to_audio import labelled

        ws, width, hop = tile.window_start, tile.width, self.hop
        window = slice(ws, ws + width)
        regenerate = self.pending_columns.copy()
        regenerate[tile.blend_lo : tile.blend_hi] = True
        mask_window = self.mask[:, window] & regenerate[None, window]
        denoising = denoise(
            loaded,
            prompt=prompt,
            negative_prompt=negative_prompt,
            height=self.params.num_frequencies,
            width=width,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            scheduler=scheduler,
            generator_seed=seed,
            init_image=self.pixels[:, window],
            strength=strength,
            mask=mask_window.astype(np.float32),
            preview_every=preview_every,
            ctx=ctx,
        )
        generated = yield from (labelled(denoising, label) if label else denoising)
        generated = model_pixels(generated, self.params)

        # Image: feathered composite over the columns still pending; a ramp over the blend columns.
        weight = self.soft[:, window] * self.pending_columns[None, window]
        if tile.blend_hi > tile.blend_lo:
            n = tile.blend_hi - tile.blend_lo
            ramp = (np.arange(1, n + 1, dtype=np.float32) / (n + 1))[:: 1 if tile.blend_hi <= tile.active_lo else -1]
            weight = weight.copy()
            weight[:, tile.blend_lo - ws : tile.blend_hi - ws] = self.soft[:, tile.blend_lo : tile.blend_hi] * ramp
        target = composite(self.pixels[:, window], generated, weight)
        has_blend = tile.blend_hi > tile.blend_lo
        commit_lo = min(tile.active_lo, tile.blend_lo) if has_blend else tile.active_lo
        commit_hi = max(tile.active_hi, tile.blend_hi) if has_blend else tile.active_hi
        self.pixels[:, commit_lo:commit_hi] = target[:, commit_lo - ws : commit_hi - ws]

        # Audio: the samples of the active columns that are still pending, synthesised over the
        # active columns plus a margin of two window lengths on each side (enough for the STFT
        # frames that overlap them), as free as the composite's weight in mel order.
        active = slice(tile.active_lo * hop, tile.active_hi * hop)
        if self.pending_samples[active].any():
            yield Progress(stage="invert", step=0, total=1, message=f"{label + ': ' if label else ''}Synthesising audio")
            margin = -(-2 * self.params.win_length // hop)
            g_lo, g_hi = max(tile.active_lo - margin, ws), min(tile.active_hi + margin, ws + width)
            span = slice(g_lo * hop, g_hi * hop)
            fixed = ~self.pending_samples[span] & self.has_reference[span]
            synthesised = constrained_griffin_lim(
                mel_from_pixels(target[:, g_lo - ws : g_hi - ws], self.params, self.max_value),
                self.audio[:, span],
                fixed,
                weight[::-1, g_lo - ws : g_hi - ws],
                self.params,
                free_frames=frames_reaching(~self.has_reference[span], self.params, g_hi - g_lo),
                n_iter=griffin_lim_iters,
                seed=seed,
                device=getattr(loaded, "device", "cpu"),
                check_cancelled=getattr(ctx, "check_cancelled", None),
                seam_fade_samples=int(round(SEAM_FADE_S * self.params.sample_rate)),
            )
            commit_samples = np.zeros(self.pending_samples.size, dtype=bool)
            commit_samples[active] = self.pending_samples[active]
            local = commit_samples[span]
            if vocoder is not None:
                from engine.vocoders.factory import resynthesise_region

                synthesised = resynthesise_region(vocoder, synthesised, local, self.params.sample_rate,
                                                  int(round(SEAM_FADE_S * self.params.sample_rate)))
            self.audio[:, span][:, local] = synthesised[:, local]
            self.pending_samples[commit_samples] = False
            self.has_reference[commit_samples] = True
        self.pending_columns[tile.active_lo : tile.active_hi] = False


# ---------------------------------------------------------------------------------------------
# Whole windows (variations, interpolation): generate, invert at a fixed level, stitch
# ---------------------------------------------------------------------------------------------


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
    from engine.pipelines.sampling import to_uint8
    from engine.pipelines.text_to_audio import labelled

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


# ---------------------------------------------------------------------------------------------
# Job plumbing shared by the edit runners
# ---------------------------------------------------------------------------------------------


def run_with_model(
    spec: Any, ctx: Any, work: Callable[[Any], Generator[Progress, None, Any]]
) -> Generator[Progress, None, Any]:
    """Load the job's model (reporting "load"; never downloads), apply its LoRAs, run ``work(loaded)``.

    The LoRAs are removed again however ``work`` ends. Returns ``work``'s value.
    """
    from engine.pipelines.sampling import pipeline_of
    from engine.pipelines.text_to_audio import apply_loras, remove_loras

    yield Progress(stage="load", message=f"Loading {spec.model}")
    policy = ctx.settings.load_policy() if ctx.settings is not None else None
    kwargs = {"policy": policy} if policy is not None else {}
    loaded = ctx.pipelines.get(spec.model, spec.revision, download=False, **kwargs)
    pipe = pipeline_of(loaded)
    adapters = apply_loras(pipe, spec.loras, ctx)
    try:
        return (yield from work(loaded))
    finally:
        remove_loras(pipe, adapters)
