"""Inpainting through the real Engine with the tiny SD models (CPU): what is not repainted stays exact.

The helpers here (``make_clip``, ``FAST``, ``run_job``) are shared by the other edit tests.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from assets.make_tiny_sd import TINY_SD_DIR, TINY_SD_INPAINT_DIR

from engine.api import Engine, EngineSettings, InpaintJob, JobFailedError, spec_from_recipe
from engine.audio.spectrogram import get_preset, image_from_audio
from engine.audio.splice import jump_ratio

RATE = 44100
HOP = 441
#: Fast settings: 64 mel bins instead of 512, 2 denoising steps, 4 Griffin-Lim iterations.
FAST = dict(num_inference_steps=2, height=64, griffin_lim_iters=4, model=str(TINY_SD_DIR))
PARAMS = replace(get_preset("riffusion"), num_frequencies=64)


def make_clip(seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A musical test clip: a chord with vibrato and a tremolo, and a little noise, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * RATE))) / RATE
    tone = sum(
        a * np.sin(2 * np.pi * f * t + 0.3 * np.sin(2 * np.pi * 5 * t) + p)
        for a, f, p in ((0.25, 220.0, 0.0), (0.15, 330.0, 1.0), (0.1, 440.0, 2.0))
    ) * (0.8 + 0.2 * np.sin(2 * np.pi * 1.5 * t))
    clip = np.stack([tone * (1.0 - 0.15 * c) + 0.005 * rng.standard_normal(t.size) for c in range(channels)])
    return clip.astype(np.float32)


def run_job(engine: Engine, spec, events: list | None = None):
    progress = [] if events is None else events
    return engine.run(spec, progress.append, timeout_s=600)


def outside(samples: int, *spans: tuple[int, int]) -> np.ndarray:
    keep = np.ones(samples, dtype=bool)
    for start, end in spans:
        keep[start:end] = False
    return keep


@pytest.fixture(scope="module")
def engine():
    eng = Engine(EngineSettings(device="cpu", offline=True))
    yield eng
    eng.shutdown()


@pytest.fixture(scope="module")
def clip():
    return make_clip(3.2, channels=2)


@pytest.fixture(scope="module")
def band_result(engine, clip):
    events = []
    spec = InpaintJob(audio=clip, sample_rate_hz=RATE, start_s=1.0, end_s=2.0, prompt="train horn", seed=7, **FAST)
    (result,) = run_job(engine, spec, events)
    return spec, result, events


def test_time_band_leaves_every_other_sample_and_pixel_exact(band_result, clip):
    _, result, events = band_result
    start, end = RATE, 2 * RATE
    assert result.audio.dtype == np.float32 and result.audio.shape == clip.shape
    keep = outside(clip.shape[1], (start, end))
    assert np.array_equal(result.audio[:, keep], clip[:, keep])
    assert np.abs(result.audio[:, start + 2000 : end - 2000] - clip[:, start + 2000 : end - 2000]).max() > 0.05
    for edge in (start, end):  # spliced without a click
        assert jump_ratio(result.audio, edge) < 3.0

    # The image: the clip's own spectrogram except the repainted columns.
    before = np.asarray(image_from_audio(clip, PARAMS))
    after = np.asarray(result.image)
    assert after.shape == before.shape == (64, clip.shape[1] // HOP, 3)
    assert np.array_equal(after[:, :100], before[:, :100]) and np.array_equal(after[:, 200:], before[:, 200:])
    assert not np.array_equal(after[:, 110:190], before[:, 110:190])
    assert 11000 in result.image.getexif()

    stages = [e.stage for e in events]
    assert stages[0] == "load" and "denoise" in stages and "invert" in stages
    tiles = [(e.step, e.total) for e in events if e.stage == "tile"]
    assert tiles == [(0, 1), (1, 1)]


def test_recipe_regenerates_identically_from_the_same_input(engine, band_result, clip):
    spec, result, _ = band_result
    recipe = result.recipe
    assert recipe.task == "inpaint" and recipe.seed == 7 and recipe.params["prompt"] == "train horn"
    assert (recipe.params["start_s"], recipe.params["end_s"], recipe.params["strength"]) == (1.0, 2.0, 1.0)
    again_spec = spec_from_recipe(type(recipe).from_json(recipe.to_json()), {"audio": (clip, RATE)})
    (again,) = run_job(engine, again_spec)
    assert np.array_equal(again.audio, result.audio)
    assert np.array_equal(np.asarray(again.image), np.asarray(result.image))
    with pytest.raises(ValueError, match="not the input"):
        spec_from_recipe(recipe, {"audio": (clip * 0.5, RATE)})


def test_nine_channel_inpainting_model(engine, clip):
    spec = InpaintJob(audio=clip, sample_rate_hz=RATE, start_s=0.5, end_s=1.5, prompt="dog bark", seed=3,
                      **{**FAST, "model": str(TINY_SD_INPAINT_DIR)})
    (result,) = run_job(engine, spec)
    keep = outside(clip.shape[1], (RATE // 2, 3 * RATE // 2))
    assert np.array_equal(result.audio[:, keep], clip[:, keep])
    assert np.abs(result.audio[:, ~keep] - clip[:, ~keep]).max() > 0.05
    assert result.recipe.model_id.endswith("tiny-sd-inpaint")


def band_energy(audio: np.ndarray, lo_hz: float, hi_hz: float) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.shape[-1]), axis=-1))
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / RATE)
    return spectrum[..., (freqs >= lo_hz) & (freqs < hi_hz)]


def test_frequency_band_changes_only_that_band(engine):
    t = np.arange(int(3.2 * RATE)) / RATE
    tones = sum(a * np.sin(2 * np.pi * f * t) for a, f in ((0.3, 300.0), (0.2, 3000.0), (0.1, 7000.0), (0.05, 14000.0)))
    clip = tones.astype(np.float32)[None]
    spec = InpaintJob(audio=clip, sample_rate_hz=RATE, start_s=1.0, end_s=2.0, fmin_hz=2000.0, fmax_hz=4000.0,
                      prompt="bird", seed=5, **FAST)
    (result,) = run_job(engine, spec)
    keep = outside(clip.shape[1], (RATE, 2 * RATE))
    assert np.array_equal(result.audio[:, keep], clip[:, keep])
    inner = slice(int(1.1 * RATE), int(1.9 * RATE))  # inside the span, clear of the crossfades
    for lo, hi in ((0, 1500), (5000, RATE / 2)):  # outside the band (with room for the feather)
        original, edited = band_energy(clip[0, inner], lo, hi), band_energy(result.audio[0, inner], lo, hi)
        assert np.linalg.norm(edited - original) < 1e-3 * np.linalg.norm(original)
    original, edited = band_energy(clip[0, inner], 2900, 3100), band_energy(result.audio[0, inner], 2900, 3100)
    assert np.linalg.norm(edited - original) > 0.2 * np.linalg.norm(original)


def test_painted_mask_and_boxes_keep_everything_they_do_not_touch(engine):
    clip = make_clip(2.56)
    columns = clip.shape[1] // HOP
    mask = np.zeros((64, columns), dtype=np.float32)
    mask[10:40, 50:90] = 1.0  # rows are mel bins, lowest first
    (painted,) = run_job(engine, InpaintJob(audio=clip, sample_rate_hz=RATE, mask=mask, seed=1, **FAST))
    keep = outside(clip.shape[1], (50 * HOP, 90 * HOP))
    assert np.array_equal(painted.audio[:, keep], clip[:, keep])
    assert not np.array_equal(painted.audio, clip)
    image = np.asarray(painted.image)
    before = np.asarray(image_from_audio(clip, PARAMS))
    untouched = np.ones((64, columns), dtype=bool)
    untouched[64 - 40 : 64 - 10, 50:90] = False  # image rows are flipped: row 0 is the top
    assert np.array_equal(image[untouched], before[untouched])

    boxes = ((0.3, 0.6, None, None), (1.5, 2.0, 500.0, 3000.0))
    (boxed,) = run_job(engine, InpaintJob(audio=clip, sample_rate_hz=RATE, boxes=boxes, seed=2, **FAST))
    keep = outside(clip.shape[1], (int(0.3 * RATE), int(0.6 * RATE)), (int(1.5 * RATE), 2 * RATE))
    assert np.array_equal(boxed.audio[:, keep], clip[:, keep])
    assert boxed.recipe.params["boxes"] == [list(box) for box in boxes]

    with pytest.raises(JobFailedError, match=r"`mask` has shape \(64, 10\)"):
        run_job(engine, InpaintJob(audio=clip, sample_rate_hz=RATE, mask=np.ones((64, 10), np.float32), **FAST))


def test_a_region_wider_than_the_window_is_done_in_tiles(engine):
    clip = make_clip(4.0)
    events = []
    spec = InpaintJob(audio=clip, sample_rate_hz=RATE, start_s=0.4, end_s=3.6, seed=4, window_s=1.28,
                      context_s=0.32, **FAST)
    (result,) = run_job(engine, spec, events)
    tiles = [(e.step, e.total) for e in events if e.stage == "tile"]
    count = tiles[-1][1]
    assert count >= 3 and tiles == [(i, count) for i in range(count + 1)]
    assert len(result.recipe.facts["tiles"]) == count
    keep = outside(clip.shape[1], (int(0.4 * RATE), int(3.6 * RATE)))
    assert np.array_equal(result.audio[:, keep], clip[:, keep])
    assert np.isfinite(result.audio).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(start_s=2.0, end_s=1.0), r"`end_s` \(1.0 s\) must be after `start_s` \(2.0 s\)"),
        (dict(start_s=1.0, end_s=9.0), "past the end of the 3.200 s clip"),
        (dict(start_s=-1.0, end_s=1.0), "`start_s` must be between 0"),
        (dict(start_s=1.0, end_s=2.0, strength=0.0), "`strength` must be above 0"),
        (dict(start_s=1.0, end_s=2.0, strength=0.2), "leaves no denoising step"),
        (dict(start_s=1.0, end_s=2.0, fmin_hz=4000.0, fmax_hz=2000.0), "must be below `fmax_hz`"),
        (dict(start_s=1.0, end_s=2.0, fmax_hz=30000.0), "`fmax_hz` must be between 0"),
        (dict(), "give exactly one region"),
        (dict(start_s=1.0, end_s=2.0, boxes=((0.1, 0.2, None, None),)), "got start_s/end_s, boxes"),
        (dict(start_s=1.0), "needs both `start_s` and `end_s`"),
    ],
)
def test_absurd_parameters_are_refused_clearly(clip, kwargs, message):
    with pytest.raises(ValueError, match=message):
        InpaintJob(audio=clip, sample_rate_hz=RATE, **{**FAST, **kwargs})


def test_bad_audio_is_refused(clip):
    with pytest.raises(ValueError, match="float32 numpy array"):
        InpaintJob(audio=clip.astype(np.float64), sample_rate_hz=RATE, start_s=1.0, end_s=2.0)
    with pytest.raises(ValueError, match="NaN"):
        InpaintJob(audio=np.full((1, 1000), np.nan, np.float32), sample_rate_hz=RATE, start_s=0.0, end_s=0.01)
