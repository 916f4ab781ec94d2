"""Edits of a full-band clip follow generate's rule: with the job's upsampler set (the starter
model's card recommends one) the new audio is upsampled before it is spliced in, so the edited
span (inpaint, loop), the new sides (extend, continue) or the variation (vary) is full-band like
the rest of the clip, and an interpolation comes out full-band as a generation does; every
untouched sample stays the clip's own, and the recipe regenerates the same samples."""

from __future__ import annotations

import numpy as np
import pytest

from test_starter_model import engine  # noqa: F401 (a fixture: an offline CPU engine)

from engine.api import ExtendJob, InpaintJob, InterpolateJob, VaryJob, spec_from_recipe
from engine.models.catalog import STARTER_MODEL_DIR

RATE = 44100
START_S, END_S = 0.8, 1.6
STARTER = dict(model=str(STARTER_MODEL_DIR), spectrogram_preset="starter", num_inference_steps=8,
               window_s=2.56, griffin_lim_iters=8, prompt="white noise", seed=3)


@pytest.fixture(scope="module")
def clip():
    """Full-band white noise at 44.1 kHz, as the starter's generate now makes it."""
    return (0.1 * np.random.default_rng(0).standard_normal((1, int(2.56 * RATE)))).astype(np.float32)


def high_band_share(audio: np.ndarray) -> float:
    """The share of ``audio``'s power above 8 kHz."""
    power = np.abs(np.fft.rfft(audio.astype(np.float64), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / RATE)
    return float(power[..., freqs > 8000].sum() / power.sum())


def inpaint(engine, clip, upsampler):  # noqa: F811
    spec = InpaintJob(audio=clip, sample_rate_hz=RATE, start_s=START_S, end_s=END_S, upsampler=upsampler, **STARTER)
    (result,) = engine.run(spec, lambda _event: None, timeout_s=600)
    return result


def test_an_inpaint_of_a_full_band_clip_is_full_band_and_regenerates(engine, clip):  # noqa: F811
    result = inpaint(engine, clip, "builtin:upsampler")
    a, b = int(START_S * RATE), int(END_S * RATE)
    assert result.sample_rate_hz == RATE and result.audio.shape == clip.shape
    keep = np.ones(clip.shape[1], dtype=bool)
    keep[a:b] = False
    np.testing.assert_array_equal(result.audio[:, keep], clip[:, keep])
    span = result.audio[:, a + 2000 : b - 2000]  # inside the crossfades
    original = high_band_share(clip[:, a + 2000 : b - 2000])  # white noise: about 0.64
    assert high_band_share(span) > 0.4 * original
    assert result.recipe.params["upsampler"] == "builtin:upsampler"
    assert result.recipe.facts["upsample"]["cutoff_hz"] > 3000
    again = spec_from_recipe(result.recipe, inputs={"audio": (clip, RATE)})
    assert again.upsampler == "builtin:upsampler"
    (second,) = engine.run(again, lambda _event: None, timeout_s=600)
    np.testing.assert_array_equal(second.audio, result.audio)


def test_without_an_upsampler_the_span_stays_band_limited_and_the_recipe_is_as_before(engine, clip):  # noqa: F811
    result = inpaint(engine, clip, "")
    a, b = int(START_S * RATE), int(END_S * RATE)
    assert high_band_share(result.audio[:, a + 2000 : b - 2000]) < 0.05  # the original: about 0.64
    assert "upsampler" not in result.recipe.params and "upsample" not in result.recipe.facts


def run_and_regenerate(engine, spec, inputs):  # noqa: F811
    """The job's one result, after checking that its recipe regenerates it bit-identically."""
    (result,) = engine.run(spec, lambda _event: None, timeout_s=600)
    assert result.recipe.params["upsampler"] == "builtin:upsampler"
    again = spec_from_recipe(result.recipe, inputs=inputs)
    assert again.upsampler == "builtin:upsampler"
    (second,) = engine.run(again, lambda _event: None, timeout_s=600)
    np.testing.assert_array_equal(second.audio, result.audio)
    return result


def test_an_extension_of_a_full_band_clip_is_full_band_and_keeps_the_clip(engine, clip):  # noqa: F811
    left_s, right_s = 0.64, 1.28
    spec = ExtendJob(audio=clip, sample_rate_hz=RATE, left_s=left_s, right_s=right_s, upsampler="builtin:upsampler",
                     **STARTER)
    result = run_and_regenerate(engine, spec, {"audio": (clip, RATE)})
    left, right = int(round(left_s * RATE)), int(round(right_s * RATE))
    assert result.sample_rate_hz == RATE and result.audio.shape == (1, left + clip.shape[1] + right)
    assert result.recipe.facts["offset_samples"] == left
    np.testing.assert_array_equal(result.audio[:, left : left + clip.shape[1]], clip)  # the clip, exact
    original = high_band_share(clip)
    for new in (result.audio[:, 2000 : left - 2000], result.audio[:, left + clip.shape[1] + 2000 : -2000]):
        assert high_band_share(new) > 0.4 * original  # the model alone: under 0.05
    assert result.recipe.facts["upsample"]["cutoff_hz"] > 3000


def test_a_continuation_without_an_upsampler_stays_band_limited(engine, clip):  # noqa: F811
    spec = ExtendJob(audio=clip[:, : RATE], sample_rate_hz=RATE, right_s=1.28, context_s=0.64, **STARTER)
    (result,) = engine.run(spec, lambda _event: None, timeout_s=600)
    np.testing.assert_array_equal(result.audio[:, :RATE], clip[:, :RATE])
    assert high_band_share(result.audio[:, RATE + 2000 : -2000]) < 0.05
    assert "upsampler" not in result.recipe.params and "upsample" not in result.recipe.facts


def test_a_variation_of_a_full_band_clip_is_full_band(engine, clip):  # noqa: F811
    spec = VaryJob(audio=clip, sample_rate_hz=RATE, strength=0.5, upsampler="builtin:upsampler", **STARTER)
    result = run_and_regenerate(engine, spec, {"audio": (clip, RATE)})
    assert result.sample_rate_hz == RATE and result.audio.shape == clip.shape
    assert not np.array_equal(result.audio, clip)
    assert high_band_share(result.audio) > 0.4 * high_band_share(clip)


def test_an_interpolation_comes_out_full_band_as_a_generation_does(engine):  # noqa: F811
    starter = {**STARTER, "window_s": 1.28}
    spec = InterpolateJob(prompt_to="a sine tone at 440 Hz", num_steps=2, crossfade_s=0.32,
                          upsampler="builtin:upsampler", **starter)
    result = run_and_regenerate(engine, spec, {})
    assert result.sample_rate_hz == RATE  # the starter's 22.05 kHz, upsampled
    noise = result.audio[:, : int(0.8 * RATE)]  # the first segment: white noise
    assert high_band_share(noise) > 0.2  # the starter alone stops at its 4 kHz top: about 0
    (plain,) = engine.run(InterpolateJob(prompt_to="a sine tone at 440 Hz", num_steps=2, crossfade_s=0.32, **starter),
                          lambda _event: None, timeout_s=600)
    assert plain.sample_rate_hz == 22050 and "upsampler" not in plain.recipe.params


def test_the_edit_commands_take_the_upsampler_like_generate(tmp_path):
    from engine.audio.io import write_audio
    from engine.cli.commands import build_parser
    from engine.cli.common import CliError, CliRun
    from engine.tasks import extend, inpaint, interpolate, loop, vary

    wav = tmp_path / "in.wav"
    write_audio(wav, np.zeros((1, RATE), dtype=np.float32), RATE)

    def spec(task, *extra):
        source = [] if task is interpolate else [str(wav)]
        args = build_parser().parse_args([task.TASK.name, *source, "-o", str(tmp_path / "x.wav"), "--model",
                                          "builtin:starter", "--preset", "starter", *extra])
        return task.spec_from_args(args, CliRun(args))

    for task, extra in ((inpaint, ("--start", "0.2", "--end", "0.6")), (loop, ("--seam", "0.3")),
                        (extend, ("--right", "1")), (vary, ()), (interpolate, ("--from", "rain", "--to", "wind"))):
        assert spec(task, *extra).upsampler == "builtin:upsampler"
        assert spec(task, *extra, "--upsampler", "none").upsampler == ""
        with pytest.raises(CliError, match="is not an upsampler folder"):
            spec(task, *extra, "--upsampler", str(tmp_path))


def test_a_band_limited_inpaint_keeps_the_clips_band_above_the_models_top(engine):  # noqa: F811
    """Painting 200-2000 Hz of a clip with tones at 12 and 15 kHz (above the starter's 4 kHz top)
    keeps those tones inside the edited span: they were never part of the painted band (the
    README walk found them gone, replaced by the upsampler's band)."""
    t = np.arange(int(2.56 * RATE)) / RATE
    clip = (0.1 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 12000 * t)
            + 0.05 * np.sin(2 * np.pi * 15000 * t)).astype(np.float32)[None]
    spec = InpaintJob(audio=clip, sample_rate_hz=RATE, start_s=START_S, end_s=END_S, fmin_hz=200.0, fmax_hz=2000.0,
                      upsampler="builtin:upsampler", **{**STARTER, "prompt": "a sine tone at 1000 Hz"})
    (result,) = engine.run(spec, lambda _event: None, timeout_s=600)
    a, b = int(START_S * RATE) + 4000, int(END_S * RATE) - 4000  # inside the crossfades
    span, before = result.audio[0, a:b].astype(np.float64), clip[0, a:b].astype(np.float64)
    freqs = np.fft.rfftfreq(b - a, 1 / RATE)

    def amplitude(x, hz):
        near = np.abs(freqs - hz) < 30
        return float(np.abs(np.fft.rfft(x * np.hanning(x.size)))[near].max())

    for hz in (12000, 15000):
        assert amplitude(span, hz) == pytest.approx(amplitude(before, hz), rel=0.1), hz
    assert result.recipe.facts["kept_above_hz"] == 4000.0 and "upsample" not in result.recipe.facts
    (again,) = engine.run(spec_from_recipe(result.recipe, inputs={"audio": (clip, RATE)}), lambda _e: None, timeout_s=600)
    np.testing.assert_array_equal(again.audio, result.audio)
