"""How an edit's new audio lands in the clip: at the clip's own rate and channels, at the loudness
of the audio around it, and nowhere else.

An edit job takes the clip as it is (any sample rate, any channel count). The runner works on a
*working copy* at the model's spectrogram rate (:func:`working_copy`; channels are kept, a mono
spectrogram drives every channel), and only the samples it regenerated are brought back:

* :func:`land_region` (inpaint, loop): each replaced run is resampled back to the clip's rate
  (polyphase, from a window around the run), level-matched to the untouched audio next to it
  (:func:`engine.audio.loudness.matching_gain`) and spliced in with a linear crossfade inside the
  run. Every sample outside the runs is the clip's own, bit-identical.
* :func:`land_extension` (extend): the new audio on each side is resampled back, the clip's
  samples are put back exactly, the seam's mismatch is faded out on the new side, and each side
  is level-matched to the clip next to it with a gain ramp that starts at 1 at the seam (no
  ramp if the new audio near the seam would pass the true-peak ceiling).
* :func:`land_whole` (variations): the whole result is resampled back and matched to the input.

Generated clips (text to audio, interpolation) go to :data:`engine.audio.loudness.TARGET_LUFS`
through :func:`engine.audio.loudness.level_to_target`. Every gain has a true-peak ceiling, so no
new material lands above full scale; recipes record the gains in ``facts["level"]``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from engine.audio.loudness import (
    CEILING_DBTP,
    LevelReport,
    apply_gain,
    integrated_loudness,
    matching_gain,
    peak_guard_gain,
    true_peak_dbtp,
)
from engine.specs import Progress

#: Untouched audio this far on each side of an edit is its reference loudness.
AROUND_S = 5.0
#: An extension's gain ramps from 1 at the seam to its value over this long.
EXTENSION_RAMP_S = 0.05


def _ratio(from_hz: int, to_hz: int) -> tuple[int, int]:
    g = math.gcd(int(from_hz), int(to_hz))
    return int(to_hz) // g, int(from_hz) // g


def working_length(samples: int, clip_rate_hz: int, work_rate_hz: int) -> int:
    """Samples of the working copy of a ``samples``-long clip (what :func:`working_copy` returns)."""
    up, down = _ratio(clip_rate_hz, work_rate_hz)
    return -(-int(samples) * up // down)


def working_copy(audio: np.ndarray, clip_rate_hz: int, work_rate_hz: int) -> np.ndarray:
    """The clip at the model's rate (same channels), float32; the clip itself when the rates agree."""
    if int(clip_rate_hz) == int(work_rate_hz):
        return np.asarray(audio, dtype=np.float32)
    from engine.audio.io import resample

    return resample(audio, clip_rate_hz, work_rate_hz)


def resample_span(audio: np.ndarray, from_hz: int, to_hz: int, lo: int, hi: int) -> np.ndarray:
    """Samples ``[lo, hi)`` at ``to_hz`` of ``audio`` (at ``from_hz``, sample 0 at time 0).

    Only a window of ``audio`` around the span is resampled (polyphase FIR, as
    :func:`engine.audio.io.resample`), wide enough that the filter never sees the window's edges
    inside the span; beyond ``audio``'s ends the signal is taken as silence.
    """
    channels, length = audio.shape
    if from_hz == to_hz:
        out = np.zeros((channels, hi - lo), dtype=np.float32)
        part = audio[:, max(lo, 0) : min(hi, length)]
        out[:, max(lo, 0) - lo : max(lo, 0) - lo + part.shape[1]] = part
        return out
    from scipy.signal import resample_poly

    up, down = _ratio(from_hz, to_hz)
    margin = 10 * max(up, down) // up + 16  # the polyphase filter's half-length in input samples, and some
    first = max(lo * down // up - margin, 0) // down * down  # a multiple of `down`: lands on the output grid
    last = min(-(-hi * down // up) + margin, length)
    out = np.zeros((channels, hi - lo), dtype=np.float32)
    if last <= first:
        return out
    converted = resample_poly(audio[:, first:last].astype(np.float64), up, down, axis=1)
    offset = first * up // down  # output index of `first`
    a, b = max(lo, offset), min(hi, offset + converted.shape[1])
    if b > a:
        out[:, a - lo : b - lo] = converted[:, a - offset : b - offset]
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[start, end)`` of True in a 1-D bool array."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def spans_at_rate(spans: np.ndarray, from_hz: int, to_hz: int, samples: int) -> np.ndarray:
    """A bool ``(samples,)`` at ``to_hz`` covering every run of ``spans`` (at ``from_hz``), rounded outwards."""
    if from_hz == to_hz:
        out = np.zeros(samples, dtype=bool)
        out[: min(samples, spans.size)] = spans[:samples]
        return out
    out = np.zeros(samples, dtype=bool)
    for a, b in _runs(spans):
        out[a * to_hz // from_hz : min(-(-b * to_hz // from_hz), samples)] = True
    return out


def _around(original: np.ndarray, spans: np.ndarray, rate: int) -> np.ndarray:
    """The untouched samples within :data:`AROUND_S` of the runs of ``spans``, joined."""
    reach = int(round(AROUND_S * rate))
    near = np.zeros(spans.size, dtype=bool)
    for a, b in _runs(spans):
        near[max(a - reach, 0) : b + reach] = True
    return original[:, near & ~spans]


def _report(new: np.ndarray, rate: int, gain_db: float, reference: float) -> LevelReport:
    return LevelReport(gain_db, integrated_loudness(new, rate), true_peak_dbtp(new), reference)


def _reference_lufs(around: np.ndarray, fallback: np.ndarray, rate: int) -> float:
    """Loudness of ``around``, else (silent or empty) of ``fallback`` (what the edit replaced)."""
    loudness = integrated_loudness(around, rate) if around.size else -math.inf
    if loudness == -math.inf and fallback.size:
        loudness = integrated_loudness(fallback, rate)
    return loudness


#: Width (Hz) of the raised-cosine crossover between an edit's new audio and the original's band
#: above the model's top (:func:`land_region`'s ``keep_above_hz``).
CROSSOVER_HZ = 200.0


def band_above(audio: np.ndarray, rate_hz: int, cutoff_hz: float, width_hz: float = CROSSOVER_HZ) -> np.ndarray:
    """The part of ``audio`` (channels, samples) above ``cutoff_hz``: its spectrum through a
    raised-cosine step from ``cutoff_hz - width/2`` to ``cutoff_hz + width/2`` (float32)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.shape[-1] == 0:
        return np.zeros_like(x, dtype=np.float32)
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / rate_hz)
    ramp = np.clip((freqs - (cutoff_hz - width_hz / 2)) / width_hz, 0.0, 1.0)
    weight = 0.5 - 0.5 * np.cos(np.pi * ramp)
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * weight, n=x.shape[-1], axis=-1).astype(np.float32)


def land_region(
    original: np.ndarray, clip_rate_hz: int, edited: np.ndarray, spans: np.ndarray, work_rate_hz: int,
    crossfade_s: float, *, full_band: bool = True, keep_above_hz: float | None = None,
) -> tuple[np.ndarray, LevelReport]:
    """``original`` (the clip at its rate) with the runs of ``spans`` taken from ``edited``.

    ``edited`` and ``spans`` are the working copy's (``work_rate_hz``). The new runs are
    resampled to the clip's rate, brought to the loudness of the untouched audio around them (or,
    with none, of the audio they replace; both silent: the generation target) with the true-peak
    ceiling, and spliced in with linear crossfades of ``crossfade_s`` inside each run. Every
    sample outside the runs is ``original``'s, bit-identical.

    A region limited in frequency (``full_band`` False) keeps the original outside its band
    inside the runs too, so its level is not matched (that would scale the untouched band); it
    is only brought down if its true peak passes both the ceiling and the peak it replaces.
    With ``keep_above_hz`` (the model's top) such a region also keeps the original's band above
    the model's top inside the runs (:func:`band_above`): the painted band lies below it, so what
    the clip has up there was never part of the edit.
    """
    from engine.audio.splice import splice

    original = np.asarray(original, dtype=np.float32)
    samples = original.shape[1]
    clip_spans = spans_at_rate(spans, work_rate_hz, clip_rate_hz, samples)
    runs = _runs(clip_spans)
    pieces = [resample_span(edited, work_rate_hz, clip_rate_hz, a, b) for a, b in runs]
    if keep_above_hz is not None and not full_band and keep_above_hz < clip_rate_hz / 2:
        pieces = [piece + band_above(original[:, a:b], clip_rate_hz, keep_above_hz)[:, : piece.shape[1]]
                  for (a, b), piece in zip(runs, pieces)]
    if not pieces:
        return original.copy(), _report(np.zeros((original.shape[0], 0), np.float32), clip_rate_hz, 0.0, -math.inf)
    new = np.concatenate(pieces, axis=1)
    reference = _reference_lufs(_around(original, clip_spans, clip_rate_hz), original[:, clip_spans], clip_rate_hz)
    if full_band:
        gain_db = matching_gain(new, reference, clip_rate_hz)
    else:
        gain_db = peak_guard_gain(new, original[:, clip_spans])
    crossfade = int(round(crossfade_s * clip_rate_hz))
    out = original
    for (a, b), piece in zip(runs, pieces):
        out = splice(out, apply_gain(piece, gain_db), a, b, min(crossfade, (b - a) // 2), curve="linear")
    if out is original:
        out = original.copy()
    return out, _report(apply_gain(new, gain_db), clip_rate_hz, gain_db, reference)


def land_whole(
    original: np.ndarray, clip_rate_hz: int, edited: np.ndarray, work_rate_hz: int
) -> tuple[np.ndarray, LevelReport]:
    """A whole-clip result (a variation) at the clip's rate and length, at the original's loudness."""
    from engine.audio.io import fit_length

    samples = original.shape[1]
    back = edited if work_rate_hz == clip_rate_hz else resample_span(edited, work_rate_hz, clip_rate_hz, 0, samples)
    back = fit_length(np.asarray(back, dtype=np.float32), samples)
    reference = integrated_loudness(original, clip_rate_hz)
    gain_db = matching_gain(back, reference, clip_rate_hz)
    out = apply_gain(back, gain_db)
    return out, _report(out, clip_rate_hz, gain_db, reference)


def _ramped_gain(audio: np.ndarray, gain_db: float, ramp: int, seam_at_end: bool) -> np.ndarray:
    """``audio`` times ``gain_db``, the gain ramping (raised cosine) from 1 at the seam over ``ramp`` samples."""
    if gain_db == 0.0 or audio.shape[1] == 0:
        return audio
    target = 10.0 ** (gain_db / 20.0)
    envelope = np.full(audio.shape[1], target)
    n = min(ramp, audio.shape[1])
    shape = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)  # 0 -> 1
    rising = 1.0 + (target - 1.0) * shape
    if seam_at_end:
        envelope[audio.shape[1] - n :] = rising[::-1]
    else:
        envelope[:n] = rising
    return (audio.astype(np.float64) * envelope).astype(np.float32)


def land_extension(
    original: np.ndarray, clip_rate_hz: int, extended: np.ndarray, work_rate_hz: int, left_work: int,
    left_s: float, right_s: float,
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """The extended clip at the clip's rate: new audio left and right of ``original``, which is kept exactly.

    ``extended`` is the working copy's result (``work_rate_hz``) with the clip starting at sample
    ``left_work``; it may be at the clip's rate already (upsampled: ``work_rate_hz`` is then the
    clip's and ``left_work`` counts at it). Returns the audio, where the clip starts in it
    (samples at the clip's rate) and the level reports per side (JSON).
    """
    from engine.audio.io import fit_length
    from engine.audio.constrained_gl import SEAM_FADE_S, match_seams
    from engine.pipelines.masks import sample_index

    channels, samples = original.shape
    left = sample_index(left_s, clip_rate_hz)
    right = sample_index(right_s, clip_rate_hz)
    total = left + samples + right
    if work_rate_hz == clip_rate_hz and left_work == left:
        out = fit_length(np.asarray(extended, dtype=np.float32), total)
    elif work_rate_hz == clip_rate_hz:
        out = resample_span(np.asarray(extended, dtype=np.float32), clip_rate_hz, clip_rate_hz, left_work - left,
                            left_work - left + total)
    else:
        # The working result's time 0 is `left_work / work_rate` before the clip's start.
        lead = int(round(left_work * clip_rate_hz / work_rate_hz))
        out = resample_span(extended, work_rate_hz, clip_rate_hz, lead - left, lead - left + total)
    held = np.zeros(total, dtype=bool)
    held[left : left + samples] = True
    free = out.copy()
    out[:, held] = original
    reference = out.copy()
    match_seams(out, free, held, reference, int(round(SEAM_FADE_S * clip_rate_hz)))
    ramp = int(round(EXTENSION_RAMP_S * clip_rate_hz))
    around = int(round(AROUND_S * clip_rate_hz))
    levels: dict[str, Any] = {}
    for side, lo, hi, near in (("left", 0, left, original[:, :around]), ("right", left + samples, total,
                                                                          original[:, max(samples - around, 0) :])):
        if hi <= lo:
            continue
        new = out[:, lo:hi]
        reference = integrated_loudness(near, clip_rate_hz)
        gain_db = matching_gain(new, reference, clip_rate_hz)
        levelled = _ramped_gain(new, gain_db, ramp, seam_at_end=side == "left")
        if true_peak_dbtp(levelled) > CEILING_DBTP + 1e-6:  # the ramp kept a peak near the seam above the
            levelled = apply_gain(new, gain_db)  # ceiling: the whole side takes the gain, seam included
        out[:, lo:hi] = levelled
        levels[side] = _report(levelled, clip_rate_hz, gain_db, reference).to_json()
    return out, left, levels


#: Untouched working-copy audio on each side of a run that the upsampler sees with it, so its
#: frames and filters settle before the run (and its crossfade) begins.
UPSAMPLE_CONTEXT_S = 0.25


def upsample_runs(
    name: str, edited: np.ndarray, spans: np.ndarray, work_rate_hz: int, clip_rate_hz: int, clip_samples: int,
    seed: int, band_top_hz: float,
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray, int, dict[str, Any]]]:
    """The runs of ``spans`` in ``edited`` (the working copy, at ``work_rate_hz``) made full-band by
    upsampler ``name`` (engine.upsample) at the clip's rate, for :func:`land_region` (inpaint,
    loop), :func:`land_extension` (extend: the runs are the new sides) and :func:`land_whole`
    (vary: one run, the whole clip).

    Each run is upsampled with :data:`UPSAMPLE_CONTEXT_S` of its surroundings on each side,
    straight to ``clip_rate_hz``, from ``band_top_hz`` up (the top of the spectrogram the new audio
    was made from: the model's band). Returns ``(audio, spans, rate, facts)`` to pass to
    :func:`land_region` in place of the working copy's: ``audio`` (channels, ``clip_samples``) at
    the clip's rate holds the upsampled windows (zeros elsewhere: :func:`land_region` takes only
    the runs), ``spans`` the runs at the clip's rate. A clip whose rate is not above the model's
    has no band to add: the working copy's audio and spans come back as they are.
    """
    from engine.upsample.models import load_upsampler
    from engine.upsample.run import MIN_DURATION_S, upsample_clip

    facts: dict[str, Any] = {"upsampler": name}
    if clip_rate_hz <= work_rate_hz:
        facts["note"] = f"the clip's rate ({clip_rate_hz} Hz) has no band above the model's; not upsampled"
        return edited, spans, work_rate_hz, facts
    upsampler = load_upsampler(name)
    # The band to extend is the new audio's (the spectrogram's top), not the untouched, maybe
    # wider, surroundings' that a detection on the window would find.
    cutoff = min(float(band_top_hz), work_rate_hz / 2)
    up, down = _ratio(work_rate_hz, clip_rate_hz)
    reach = int(round(UPSAMPLE_CONTEXT_S * work_rate_hz))
    near = np.zeros(spans.size, dtype=bool)
    for a, b in _runs(spans):
        near[max(a - reach, 0) : b + reach] = True
    out = np.zeros((edited.shape[0], clip_samples), dtype=np.float32)
    windows = _runs(near)
    cutoffs = []
    for index, (lo, hi) in enumerate(windows):
        lo = lo // down * down  # on both rates' grid: the window starts at an exact clip sample
        offset = lo * up // down
        if (hi - lo) / work_rate_hz < MIN_DURATION_S:  # too short for the upsampler: as without one
            piece = resample_span(edited, work_rate_hz, clip_rate_hz, offset, offset + -(-(hi - lo) * up // down))
        else:
            yield Progress(stage="invert", step=index, total=len(windows), message="Upsampling the new audio")
            outcome = yield from upsample_clip(upsampler, edited[:, lo:hi], work_rate_hz,
                                               output_rate_hz=clip_rate_hz, seed=seed, cutoff_hz=cutoff)
            piece = outcome.audio
            if "cutoff_hz" in outcome.facts:
                cutoffs.append(outcome.facts["cutoff_hz"])
        end = min(offset + piece.shape[1], clip_samples)
        if end > offset:
            out[:, offset:end] = piece[:, : end - offset]
    if cutoffs:
        facts["cutoff_hz"] = min(cutoffs)
    else:
        facts["note"] = "the new audio was silent or already full-band; not upsampled"
    return out, spans_at_rate(spans, work_rate_hz, clip_rate_hz, clip_samples), clip_rate_hz, facts
