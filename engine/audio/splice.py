"""Splice generated audio into a clip with short crossfades (numpy only, Qt-free).

The rule every edit follows (ARCHITECTURE.md): audio the user did not edit is never
re-synthesised. :func:`splice` replaces ``[start_sample, end_sample)`` of a clip and copies
every other sample unchanged, so samples outside the span are bit-identical to the input. The
crossfade ramps lie *inside* the span: the first ``crossfade_samples`` of the span fade from the
original to the replacement, the last ones fade back.

Two ramp shapes (``curve``):

* ``"linear"``: gains ``t`` and ``1 - t`` sum to 1. Right when both signals are nearly the same
  at the seam (the edit engine makes its replacement agree with the original near the span's
  edges), because correlated signals add in amplitude and a linear fade keeps the level flat.
* ``"equal_power"``: gains ``sin(pi t / 2)`` and ``cos(pi t / 2)``, whose squares sum to 1. Right
  for unrelated signals (two independently generated windows), which add in power.

Ramp position ``t`` runs over sample centres, ``t_k = (k + 0.5) / n``, so no ramp sample is a
pure copy of either side and the ramp is symmetric.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = [
    "CROSSFADE_CURVES",
    "fade_curves",
    "splice",
    "crossfade_concat",
    "jump_ratio",
]

#: Crossfade shapes accepted by :func:`splice` and :func:`crossfade_concat`.
CROSSFADE_CURVES = ("linear", "equal_power")


def _check_count(name: str, value: object, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer number of samples, got {value!r}.")
    if value < lo:
        raise ValueError(f"`{name}` must be at least {lo}, got {value}.")
    return int(value)


def _as_audio(name: str, audio: object) -> np.ndarray:
    array = np.asarray(audio)
    if array.ndim != 2 or array.shape[0] < 1:
        raise ValueError(f"`{name}` must be a (channels, samples) array, got shape {array.shape}.")
    if array.dtype.kind != "f":
        raise ValueError(f"`{name}` must hold floating-point samples, got dtype {array.dtype}.")
    return array


def fade_curves(n: int, curve: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Gains ``(fade_in, fade_out)``, each float64 of length ``n``, for a crossfade of ``n`` samples.

    ``fade_in`` rises from near 0 to near 1 (``t_k = (k + 0.5) / n``); ``fade_out`` is its mirror.
    Raises ValueError for a negative ``n`` or an unknown ``curve`` (see :data:`CROSSFADE_CURVES`).
    """
    n = _check_count("crossfade_samples", n)
    if curve not in CROSSFADE_CURVES:
        raise ValueError(f"`curve` must be one of {', '.join(CROSSFADE_CURVES)}, got {curve!r}.")
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    if curve == "linear":
        return t, 1.0 - t
    return np.sin(0.5 * np.pi * t), np.cos(0.5 * np.pi * t)


def splice(
    original: np.ndarray,
    replacement: np.ndarray,
    start_sample: int,
    end_sample: int,
    crossfade_samples: int,
    *,
    curve: str = "linear",
) -> np.ndarray:
    """A copy of ``original`` with ``[start_sample, end_sample)`` replaced by ``replacement``.

    Args:
        original: (channels, samples) float audio.
        replacement: (channels, end_sample - start_sample) float audio, or one channel that is
            used for every channel of ``original``.
        start_sample, end_sample: the span, ``0 <= start_sample < end_sample <= samples``.
        crossfade_samples: ramp length at each edge of the span, inside the span. No ramp is made
            at an edge that is the clip's own start or end (there is nothing to fade from).
        curve: ``"linear"`` or ``"equal_power"`` (see the module docstring).

    Returns:
        A new array, ``original``'s dtype and shape. Every sample outside the span is a copy of
        ``original``'s (bit-identical).

    Raises:
        ValueError: shapes that do not match, a span outside the clip or empty, or ramps that do
            not fit in the span (``2 * crossfade_samples`` longer than it when both edges fade).
    """
    original = _as_audio("original", original)
    replacement = _as_audio("replacement", replacement)
    channels, total = original.shape
    start = _check_count("start_sample", start_sample)
    end = _check_count("end_sample", end_sample)
    fade = _check_count("crossfade_samples", crossfade_samples)
    if not start < end <= total:
        raise ValueError(
            f"the span [{start}, {end}) must be non-empty and inside the clip's {total} samples."
        )
    length = end - start
    if replacement.shape[1] != length:
        raise ValueError(
            f"`replacement` has {replacement.shape[1]} samples but the span [{start}, {end}) has {length}."
        )
    if replacement.shape[0] not in (1, channels):
        raise ValueError(
            f"`replacement` has {replacement.shape[0]} channels; expected 1 or {channels} (the clip's)."
        )
    fade_head = fade if start > 0 else 0
    fade_tail = fade if end < total else 0
    if fade_head + fade_tail > length:
        raise ValueError(
            f"crossfades of {fade} samples at both edges do not fit in the {length}-sample span; "
            "use a shorter crossfade or a longer span."
        )
    fade_in, fade_out = fade_curves(fade, curve)
    out = original.copy()
    middle = np.broadcast_to(replacement, (channels, length)).astype(np.float64)
    span = original[:, start:end].astype(np.float64)
    if fade_head:
        middle[:, :fade_head] = span[:, :fade_head] * fade_out + middle[:, :fade_head] * fade_in
    if fade_tail:
        middle[:, length - fade_tail :] = (
            middle[:, length - fade_tail :] * fade_out + span[:, length - fade_tail :] * fade_in
        )
    out[:, start:end] = middle.astype(original.dtype)
    return out


def crossfade_concat(
    segments: Sequence[np.ndarray], overlap_samples: int | Sequence[int], *, curve: str = "equal_power"
) -> np.ndarray:
    """Join segments that overlap: each one fades into the next over their overlap.

    ``overlap_samples`` is one overlap for every join or one per join (``len(segments) - 1``):
    segment ``i + 1`` starts ``overlaps[i]`` samples before segment ``i`` ends, so the result has
    ``sum(lengths) - sum(overlaps)`` samples. Outside the overlaps every sample is a copy of its
    segment's. All segments must have the same channel count.

    Raises ValueError for no segments, mismatched channels, a wrong number of overlaps, or a
    segment too short for its overlaps (they may not overlap each other).
    """
    if not segments:
        raise ValueError("`segments` is empty; expected at least one (channels, samples) array.")
    arrays = [_as_audio(f"segments[{i}]", s) for i, s in enumerate(segments)]
    joins = len(arrays) - 1
    if isinstance(overlap_samples, (numbers.Integral, np.integer)):
        overlaps = [_check_count("overlap_samples", overlap_samples)] * joins
    else:
        overlaps = [_check_count(f"overlap_samples[{i}]", o) for i, o in enumerate(overlap_samples)]
        if len(overlaps) != joins:
            raise ValueError(f"{len(overlaps)} overlaps given for {joins} joins between {len(arrays)} segments.")
    channels = arrays[0].shape[0]
    for i, array in enumerate(arrays):
        if array.shape[0] != channels:
            raise ValueError(f"segments[{i}] has {array.shape[0]} channels but segments[0] has {channels}.")
        needed = (overlaps[i - 1] if i > 0 else 0) + (overlaps[i] if i < joins else 0)
        if array.shape[1] < max(needed, 1):
            raise ValueError(
                f"segments[{i}] has {array.shape[1]} samples; it needs at least {max(needed, 1)} for its overlaps."
            )
    total = sum(a.shape[1] for a in arrays) - sum(overlaps)
    out = np.empty((channels, total), dtype=np.result_type(*arrays))
    position = 0
    for i, array in enumerate(arrays):
        head = overlaps[i - 1] if i > 0 else 0
        if head:
            fade_in, fade_out = fade_curves(head, curve)
            mixed = out[:, position - head : position].astype(np.float64) * fade_out + array[:, :head] * fade_in
            out[:, position - head : position] = mixed
        body = array[:, head:]
        out[:, position : position + body.shape[1]] = body
        position += body.shape[1]
    return out


def jump_ratio(audio: np.ndarray, at_sample: int, context_samples: int = 4410) -> float:
    """How big the step into ``audio[:, at_sample]`` is, relative to the signal's own steps nearby.

    Returns ``max_c |x[c, at] - x[c, at - 1]|`` divided by the larger of the 99th percentiles of
    the absolute sample-to-sample differences in the ``context_samples`` before and after the
    step (so a seam between a quiet and a busy signal is judged by the busier side; a silent
    neighbourhood counts as a typical step of 1e-6). A click stands out as a ratio well above 1;
    continuous audio stays around 1 or below.

    Raises ValueError if ``at_sample`` is not strictly inside the clip.
    """
    audio = _as_audio("audio", audio)
    at = _check_count("at_sample", at_sample, lo=1)
    if at >= audio.shape[1] - 1:
        raise ValueError(f"`at_sample` {at} must be inside the clip's {audio.shape[1]} samples.")
    diffs = np.abs(np.diff(audio.astype(np.float64), axis=1))
    before = diffs[:, max(at - 1 - context_samples, 0) : at - 1]
    after = diffs[:, at : at + context_samples]
    typical = max(float(np.percentile(side, 99)) if side.size else 0.0 for side in (before, after))
    step = float(np.max(diffs[:, at - 1]))
    return step / max(typical, 1e-6)
