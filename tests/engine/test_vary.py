"""Audio-to-audio variations through the real Engine with the tiny SD model (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from test_inpaint import FAST, HOP, RATE, engine, make_clip, run_job  # noqa: F401 (engine: fixture)

from engine.api import VaryJob, spec_from_recipe
from engine.audio.splice import jump_ratio
from engine.pipelines.vary import window_starts


def test_variations_of_a_clip_longer_than_one_window(engine):
    clip = make_clip(4.0, channels=2)
    events = []
    spec = VaryJob(audio=clip, sample_rate_hz=RATE, strength=0.5, prompt="jazz piano", seed=11,
                        num_variations=2, window_s=2.56, overlap_s=0.2, **FAST)
    first, second = run_job(engine, spec, events)
    for result in (first, second):
        assert result.audio.shape == clip.shape and result.audio.dtype == np.float32  # same length and channels
        assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 1e-3
        assert not np.allclose(result.audio, clip, atol=1e-3)  # a variation, not the input
        assert result.image.size == (clip.shape[1] // HOP, 64)
    assert (first.recipe.seed, second.recipe.seed) == (11, 12)
    assert not np.array_equal(first.audio, second.audio)

    starts = first.recipe.facts["window_starts"]
    assert len(starts) == 2 and starts[0] == 0
    assert [(e.step, e.total) for e in events if e.stage == "tile"] == [(0, 2), (1, 2), (2, 2)] * 2
    for at in (starts[1], starts[1] + 10, starts[1] + 20):  # where the 0.2 s crossfade starts, in it, ends
        assert jump_ratio(first.audio, at * HOP) < 3.0

    (again,) = run_job(engine, spec_from_recipe(second.recipe, {"audio": (clip, RATE)}))
    assert np.array_equal(again.audio, second.audio)


def test_window_starts_cover_the_canvas():
    assert window_starts(512, 512, 20) == [0]
    assert window_starts(1000, 512, 20) == [0, 488]
    for total, window, overlap in ((2000, 512, 20), (120, 64, 20), (6001, 512, 256)):
        starts = window_starts(total, window, overlap)
        steps = [b - a for a, b in zip(starts, starts[1:])]
        assert starts[0] == 0 and starts[-1] == total - window
        assert all(step <= window - overlap for step in steps)  # every join has its overlap
    with pytest.raises(ValueError, match="no step"):
        window_starts(1000, 512, 512)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strength=0.0), "`strength` must be above 0"),
        (dict(strength=1.5), "`strength` must be between 0"),
        (dict(strength=0.1, num_inference_steps=5), "leaves no denoising step"),
        (dict(overlap_s=4.0), "`overlap_s` must be between 0"),
        (dict(num_variations=0), "`num_variations` must be between 1"),
    ],
)
def test_absurd_variations_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VaryJob(audio=make_clip(1.0), sample_rate_hz=RATE, **kwargs)
