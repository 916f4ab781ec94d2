"""The edit canvas: a clip's spectrogram pixels, the windows (*tiles*) the model runs over, and
compositing their output back, for the edits that regenerate part of a clip (inpaint, extend, loop).

A *canvas* is the clip's audio, padded with silence to whole image columns (and, for extend, with
empty space where new audio goes), its Riffusion-style spectrogram pixels, and a mask of the
pixels to regenerate. :class:`CanvasEditor` runs the model over the canvas one tile at a time,
each tile seeing already known columns as context:

1. the window's pixels and the not-yet-generated part of the mask go to
   :func:`engine.pipelines.sampling.denoise` (4-channel UNets blend the known region back every
   step; 9-channel inpainting UNets get the mask as input);
2. the generated window is composited into the canvas through the *feathered* mask
   (:func:`engine.pipelines.masks.feather`): a pixel where the feathered mask is 0 keeps its
   exact value;
3. the audio of the newly generated columns is synthesised by
   :func:`engine.audio.constrained_gl.constrained_griffin_lim`, which holds every sample outside
   the edit and every time-frequency bin outside the mask at the original's.

The seams of this code: Hz <-> mel in :mod:`engine.audio.mel_scale`, masks in
:mod:`engine.pipelines.masks`, the constrained resynthesis in :mod:`engine.audio.constrained_gl`,
whole windows and their stitching (variations, interpolation) in :mod:`engine.pipelines.stitching`,
loading the model with its LoRAs in :func:`engine.pipelines.generate.run_with_model`.

Geometry (Riffusion's, see engine.audio.spectrogram): image column ``j`` is the STFT frame centred
at sample ``j * hop_length`` and covers samples ``[j * hop, (j + 1) * hop)``; image row 0 is the
highest mel bin. Masks given by callers in mel order (``mask[mel_bin, column]``, bin 0 lowest,
like ``mel_from_audio``) are flipped to image rows here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.audio.constrained_gl import SEAM_FADE_S, constrained_griffin_lim, frames_reaching
from engine.specs import Progress


# ---------------------------------------------------------------------------------------------
# Pixels
# ---------------------------------------------------------------------------------------------


def clip_pixels(audio: np.ndarray, params: Any, columns: int) -> tuple[np.ndarray, float]:
    """The clip's spectrogram as uint8 RGB pixels ``(num_frequencies, columns, 3)`` and its MAX_VALUE.

    The pixels of the clip's ``samples // hop_length`` whole columns (their MAX_VALUE is theirs,
    as ``image_from_audio`` would give for exactly those columns), then white (silent) columns up
    to ``columns``. ``mel_from_audio`` analyses long clips in chunks itself.
    """
    from engine.audio.spectrogram import ExifTag, image_from_mel, mel_from_audio

    hop = params.hop_length
    clip_columns = audio.shape[1] // hop
    if clip_columns < 1:
        raise ValueError(f"the clip is shorter than one spectrogram column ({hop} samples).")
    image = image_from_mel(mel_from_audio(audio, params)[:, :, :clip_columns], params)
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
        from engine.pipelines.generate import labelled

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


