"""Crossfade splicing: untouched samples stay bit-identical and seams do not click (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.splice import crossfade_concat, fade_curves, jump_ratio, splice

RATE = 44100


def make_tone(freq_hz: float, seconds: float, phase: float = 0.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = (0.5 * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)
    return np.stack([tone * (1.0 - 0.2 * c) for c in range(channels)])


def test_samples_outside_the_span_are_bit_identical_and_the_span_is_replaced():
    original = make_tone(220.0, 1.0)
    replacement = make_tone(330.0, 0.25, phase=1.0)
    start, end, fade = 10_000, 10_000 + replacement.shape[1], 441
    out = splice(original, replacement, start, end, fade)
    assert out.dtype == original.dtype and out.shape == original.shape
    assert np.array_equal(out[:, :start], original[:, :start])
    assert np.array_equal(out[:, end:], original[:, end:])
    middle = slice(start + fade, end - fade)
    assert np.array_equal(out[:, middle], replacement[:, fade:-fade])
    assert out is not original and np.array_equal(original, make_tone(220.0, 1.0))  # input untouched


def test_crossfades_remove_the_click_a_hard_cut_makes():
    original = make_tone(220.0, 1.0)
    replacement = make_tone(220.0, 0.5, phase=np.pi)  # opposite phase: a hard cut jumps by ~2x amplitude
    start, end = 11_100, 11_100 + replacement.shape[1]  # not at a zero crossing
    hard = splice(original, replacement, start, end, 0)
    soft = splice(original, replacement, start, end, 441, curve="equal_power")
    assert jump_ratio(hard, start) > 20
    for edge in (start, end):
        assert jump_ratio(soft, edge) < 1.5


def test_a_linear_crossfade_between_equal_signals_changes_nothing():
    original = make_tone(440.0, 0.5)
    out = splice(original, original[:, 5000:9000].copy(), 5000, 9000, 1000, curve="linear")
    np.testing.assert_allclose(out, original, atol=1e-7)


def test_fade_curves_are_complementary():
    fade_in, fade_out = fade_curves(64, "linear")
    np.testing.assert_allclose(fade_in + fade_out, 1.0)
    assert np.all(np.diff(fade_in) > 0) and 0 < fade_in[0] < fade_in[-1] < 1
    fade_in, fade_out = fade_curves(64, "equal_power")
    np.testing.assert_allclose(fade_in**2 + fade_out**2, 1.0)


def test_no_ramp_at_the_clip_edges_and_mono_replacements_fill_every_channel():
    original = make_tone(220.0, 0.2)
    replacement = np.full((1, 1000), 0.25, dtype=np.float32)
    out = splice(original, replacement, 0, 1000, 200)
    assert np.all(out[:, :800] == 0.25)  # no fade-in from before the clip: it starts there
    out = splice(original, replacement, original.shape[1] - 1000, original.shape[1], 200)
    assert np.all(out[:, -800:] == 0.25)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 0, 10), "non-empty"),
        ((100, 50, 10), "non-empty"),
        ((100, 10_000, 10), "inside the clip"),
        ((100, 200, 60), "do not fit"),
        ((100, 200, -1), "at least 0"),
    ],
)
def test_bad_spans_are_refused(args, message):
    original = make_tone(220.0, 0.1)
    start, end, fade = args
    replacement = np.zeros((2, max(end - start, 1)), dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        splice(original, replacement, start, end, fade)


def test_wrong_replacement_shapes_are_refused():
    original = make_tone(220.0, 0.1)
    with pytest.raises(ValueError, match="samples but the span"):
        splice(original, np.zeros((2, 10), np.float32), 0, 20, 0)
    with pytest.raises(ValueError, match="channels"):
        splice(original, np.zeros((3, 20), np.float32), 0, 20, 0)
    with pytest.raises(ValueError, match="floating-point"):
        splice(original, np.zeros((2, 20), np.int16), 0, 20, 0)


def test_crossfade_concat_lengths_and_copies_outside_the_overlaps():
    a, b, c = make_tone(220.0, 0.3), make_tone(220.0, 0.2, 1.0), make_tone(330.0, 0.25)
    out = crossfade_concat([a, b, c], [1000, 2000])
    assert out.shape[1] == a.shape[1] + b.shape[1] + c.shape[1] - 3000
    assert np.array_equal(out[:, : a.shape[1] - 1000], a[:, :-1000])
    start_b = a.shape[1] - 1000
    assert np.array_equal(out[:, start_b + 1000 : start_b + b.shape[1] - 2000], b[:, 1000:-2000])
    assert np.array_equal(out[:, -(c.shape[1] - 2000) :], c[:, 2000:])
    for join in (start_b, start_b + b.shape[1] - 2000):
        assert jump_ratio(out, join + 500) < 1.5
    with pytest.raises(ValueError, match="overlaps given"):
        crossfade_concat([a, b, c], [1000])
    with pytest.raises(ValueError, match="needs at least"):
        crossfade_concat([a, b[:, :100], c], 1000)
    with pytest.raises(ValueError, match="empty"):
        crossfade_concat([], 10)
