"""Edits of a full-band clip follow generate's rule: with the job's upsampler set (the starter
model's card recommends one) the new audio is upsampled before it is spliced in, so the edited
span is full-band like the rest of the clip; every untouched sample stays the clip's own."""

from __future__ import annotations

import numpy as np
import pytest

from test_starter_model import engine  # noqa: F401 (a fixture: an offline CPU engine)

from engine.api import InpaintJob, spec_from_recipe
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


def test_the_edit_commands_take_the_upsampler_like_generate(tmp_path):
    from engine.audio.io import write_audio
    from engine.cli.commands import build_parser
    from engine.cli.common import CliError, CliRun
    from engine.tasks import inpaint, loop

    wav = tmp_path / "in.wav"
    write_audio(wav, np.zeros((1, RATE), dtype=np.float32), RATE)

    def spec(task, *extra):
        args = build_parser().parse_args([task.TASK.name, str(wav), "-o", str(tmp_path / "x.wav"), "--model",
                                          "builtin:starter", "--preset", "starter", *extra])
        return task.spec_from_args(args, CliRun(args))

    for task, extra in ((inpaint, ("--start", "0.2", "--end", "0.6")), (loop, ("--seam", "0.3"))):
        assert spec(task, *extra).upsampler == "builtin:upsampler"
        assert spec(task, *extra, "--upsampler", "none").upsampler == ""
        with pytest.raises(CliError, match="is not an upsampler folder"):
            spec(task, *extra, "--upsampler", str(tmp_path))
