"""Extending (outpainting) through the real Engine with the tiny SD model (CPU)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_inpaint import FAST, HOP, RATE, engine, make_clip, run_job  # noqa: F401 (engine: fixture)

from engine.api import ExtendJob, JobCancelled, JobFinished, JobProgress, spec_from_recipe
from engine.audio.splice import jump_ratio
from engine.specs import MAX_EXTEND_S


def test_extending_5_s_to_30_s_keeps_the_original_exactly_and_the_seams_smooth(engine):
    clip = make_clip(5.12)
    events = []
    # A 10.24 s window with 1 s of context keeps the tiles few on a CPU (the defaults are 5.12 s and 2.5 s).
    spec = ExtendJob(audio=clip, sample_rate_hz=RATE, right_s=30.0 - 5.12, prompt="rain on a tin roof", seed=2,
                     window_s=10.24, context_s=1.0, **{**FAST, "griffin_lim_iters": 2})
    (result,) = run_job(engine, spec, events)
    out = result.audio
    assert out.shape == (1, 30 * RATE)
    assert result.recipe.facts["offset_samples"] == 0
    assert np.array_equal(out[:, : clip.shape[1]], clip)  # every original sample, bit-identical
    assert np.isfinite(out).all() and np.abs(out[:, clip.shape[1] :]).max() > 0.01  # new audio, not silence

    # No click where the new audio starts, nor where one tile hands over to the next.
    assert jump_ratio(out, clip.shape[1]) < 3.0
    tiles = result.recipe.facts["tiles"]
    assert len(tiles) >= 3
    for _start, _width, active_lo, _hi, _blend_lo, _blend_hi in tiles[1:]:
        assert jump_ratio(out, active_lo * HOP) < 3.0

    # Progress per tile (step i of n) and per denoising step.
    tile_events = [(e.step, e.total) for e in events if e.stage == "tile"]
    assert tile_events == [(i, len(tiles)) for i in range(len(tiles) + 1)]
    assert sum(e.stage == "denoise" for e in events) == 2 * len(tiles)

    # The image grows with the audio.
    assert result.image.size == (30 * RATE // HOP, 64)


def test_left_and_right_with_their_own_prompts(engine):
    clip = make_clip(2.0, channels=2)
    spec = ExtendJob(audio=clip, sample_rate_hz=RATE, left_s=1.5, right_s=2.5, prompt="dog bark",
                     prompt_left="train horn", seed=9, window_s=2.56, context_s=1.0, **FAST)
    (result,) = run_job(engine, spec)
    left = int(1.5 * RATE)
    assert result.audio.shape == (2, clip.shape[1] + left + int(2.5 * RATE))
    assert result.recipe.facts["offset_samples"] == left
    assert np.array_equal(result.audio[:, left : left + clip.shape[1]], clip)
    for seam in (left, left + clip.shape[1]):
        assert jump_ratio(result.audio, seam) < 3.0
    assert result.recipe.params["prompt_left"] == "train horn" and result.recipe.params["prompt"] == "dog bark"

    # The recipe regenerates the same result from the same input.
    (again,) = run_job(engine, spec_from_recipe(result.recipe, {"audio": (clip, RATE)}))
    assert np.array_equal(again.audio, result.audio)


def test_cancel_mid_extend_stops_within_a_step(engine):
    clip = make_clip(1.28)
    spec = ExtendJob(audio=clip, sample_rate_hz=RATE, right_s=8.0, window_s=1.28, context_s=0.64, seed=1, **FAST)
    cancelled_at: dict[str, int] = {}
    after_cancel: list = []
    ended = threading.Event()
    outcome: list = []

    def listen(event):
        if isinstance(event, JobProgress):
            progress = event.progress
            if cancelled_at:
                after_cancel.append(progress)
            elif progress.stage == "denoise" and progress.step == 1 and listen.tiles_seen >= 2:
                cancelled_at["job"] = event.job_id
                engine.cancel(event.job_id)
            if progress.stage == "tile":
                listen.tiles_seen += 1
        elif isinstance(event, (JobCancelled, JobFinished)):
            outcome.append(event)
            ended.set()

    listen.tiles_seen = 0
    engine.add_listener(listen)
    try:
        engine.submit(spec)
        assert ended.wait(300)
    finally:
        engine.remove_listener(listen)
    assert isinstance(outcome[0], JobCancelled)
    assert not [p for p in after_cancel if p.stage == "denoise"]  # the step in flight was the last


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "nothing to extend"),
        (dict(left_s=0.0, right_s=0.0), "nothing to extend"),
        (dict(right_s=45.0, left_s=20.0), f"at most {MAX_EXTEND_S:g} s"),
        (dict(right_s=-1.0), "`right_s` must be between 0"),
        (dict(right_s=5.0, context_s=5.0), "`context_s` must be between 0"),
    ],
)
def test_absurd_extensions_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExtendJob(audio=make_clip(1.0), sample_rate_hz=RATE, **kwargs)
