"""Text to audio through the real Engine, ModelStore and PipelineCache with the tiny SD model (CPU)."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from assets.make_tiny_sd import TINY_SD_DIR, make_hub_cache_entry

from engine.api import Engine, EngineSettings, GenerateJob, JobProgress, spec_from_recipe
from engine.api import JobFailedError  # type: ignore[attr-defined]
from engine.audio.loudness import CEILING_DBTP, TARGET_LUFS, apply_gain, integrated_loudness, true_peak_dbtp
from engine.audio.spectrogram import audio_from_image, get_preset, mel_from_image, samples_for_width
from engine.specs import MAX_SEED, Recipe

COMMIT = "c" * 40
HUB_ID = "org/tiny-sd"
PARAMS = get_preset("riffusion")
WIDTH = 64  # 0.64 s at the riffusion preset's 10 ms per column
FAST = dict(num_inference_steps=2, duration_s=0.64, guidance_scale=7.0)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """One offline CPU engine for the module (the loaded tiny pipeline is reused between tests)."""
    cache = tmp_path_factory.mktemp("hub")
    make_hub_cache_entry(cache, HUB_ID, TINY_SD_DIR, commit=COMMIT)
    eng = Engine(EngineSettings(device="cpu", offline=True, cache_dir=str(cache)))
    yield eng
    eng.shutdown()
    assert not eng.is_running


def generate(engine, **kwargs):
    events = []
    args = dict(prompt="jazz piano", model=HUB_ID, seed=3, **FAST)
    args.update(kwargs)
    results = engine.run(GenerateJob(**args), events.append, timeout_s=300)
    return results, events


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_generate_from_the_hub_cache_gives_audio_image_and_recipe(engine):
    (result,), events = generate(engine, negative_prompt="drums", scheduler="euler-a")

    assert result.audio.dtype == np.float32
    assert result.audio.shape == (1, samples_for_width(PARAMS, WIDTH)) == (1, 28224)
    assert result.sample_rate_hz == 44100
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0.1  # not silence
    assert result.duration_s == pytest.approx(0.64)

    assert result.image.size == (WIDTH, 512) and result.image.mode == "RGB"
    _, params = mel_from_image(result.image)  # parameters come back from the EXIF
    assert params == PARAMS
    # The image is exactly what the audio was made from: decoding it reproduces the audio, before
    # the recorded gain that brings it to the target loudness.
    audio, rate = audio_from_image(result.image, generator=torch.Generator("cpu").manual_seed(3))
    assert rate == 44100
    level = result.recipe.facts["level"]
    np.testing.assert_array_equal(apply_gain(audio, level["gain_db"]), result.audio)
    assert integrated_loudness(result.audio, rate) == pytest.approx(TARGET_LUFS, abs=0.1)
    assert true_peak_dbtp(result.audio) <= CEILING_DBTP + 1e-3

    recipe = result.recipe
    assert (recipe.task, recipe.model_id, recipe.model_revision) == ("generate", HUB_ID, COMMIT)
    params = recipe.params
    assert (params["prompt"], params["negative_prompt"], recipe.seed) == ("jazz piano", "drums", 3)
    assert (params["num_inference_steps"], params["guidance_scale"], params["scheduler"]) == (2, 7.0, "euler-a")
    assert (recipe.facts["width"], recipe.facts["height"]) == (WIDTH, 512)
    assert recipe.facts["spectrogram"] == PARAMS.to_dict()
    assert (recipe.device, recipe.dtype, recipe.loras) == ("cpu", "float32", ())
    assert Recipe.from_json(recipe.to_json()) == recipe

    stages = [(p.stage, p.step) for p in events]
    assert stages == [("load", 0), ("encode", 0), ("denoise", 1), ("denoise", 2), ("decode", 0), ("invert", 0)]


def test_each_variation_regenerates_bit_identically_from_its_recipe(engine):
    results, events = generate(engine, seed=MAX_SEED, num_variations=2)
    first, second = results
    assert (first.recipe.seed, second.recipe.seed) == (MAX_SEED, 0)  # seed + i wraps within 32 bits
    assert np.abs(first.audio - second.audio).mean() > 1e-3  # different seeds, different audio
    assert [p.message for p in events if p.stage == "denoise"] == ["Variation 1/2"] * 2 + ["Variation 2/2"] * 2

    # The second variation alone, from its recipe as the app would store it (JSON).
    recipe = Recipe.from_json(second.recipe.to_json())
    (again,), _ = generate(engine, **{k: v for k, v in vars(spec_from_recipe(recipe)).items()})
    np.testing.assert_array_equal(again.audio, second.audio)
    assert png_bytes(again.image) == png_bytes(second.image)
    assert again.recipe == second.recipe


def test_no_seed_draws_one_and_records_it(engine):
    (a,), _ = generate(engine, seed=None, num_inference_steps=1)
    (b,), _ = generate(engine, seed=None, num_inference_steps=1)
    assert 0 <= a.recipe.seed <= MAX_SEED and a.recipe.seed != b.recipe.seed
    (again,), _ = generate(engine, **vars(spec_from_recipe(a.recipe)))
    np.testing.assert_array_equal(again.audio, a.audio)


def make_tiny_lora(folder, seed=0):
    """A rank-4 LoRA on the tiny UNet's attention projections, saved the way diffusers saves them."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(TINY_SD_DIR / "unet")
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    generator = torch.Generator().manual_seed(seed)
    for name, param in unet.named_parameters():
        if "lora_B" in name:  # peft starts B at zero (no effect); make it a trained-looking LoRA
            param.data = torch.randn(param.shape, generator=generator) * 0.5
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
    return folder / "pytorch_lora_weights.safetensors"


def test_lora_changes_the_output_and_is_removed_afterwards(engine, tmp_path):
    lora = make_tiny_lora(tmp_path)
    (base,), _ = generate(engine, seed=5)
    (styled,), _ = generate(engine, seed=5, loras=((str(lora), 0.8),))
    assert styled.recipe.loras == ((str(lora), 0.8),)
    assert np.abs(styled.audio - base.audio).mean() > 1e-3

    (base_again,), _ = generate(engine, seed=5)
    np.testing.assert_array_equal(base_again.audio, base.audio)  # the LoRA did not stay loaded
    loaded = engine.pipelines.get(HUB_ID)
    assert not getattr(loaded.pipeline.unet, "peft_config", None)

    (styled_again,), _ = generate(engine, **vars(spec_from_recipe(styled.recipe)))
    np.testing.assert_array_equal(styled_again.audio, styled.audio)


def test_missing_lora_fails_naming_it(engine, tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(JobFailedError, match=f"LoRA '{missing}' does not exist"):
        generate(engine, loras=((str(missing), 1.0),))


def test_missing_hub_model_offline_names_it_and_how_to_download(engine):
    with pytest.raises(JobFailedError) as info:
        generate(engine, model="org/never-downloaded")
    message = str(info.value)
    assert "'org/never-downloaded'" in message and "is not downloaded" in message
    assert "specdiff-cli models pull org/never-downloaded" in message
    assert info.value.error_type == "ModelNotDownloadedError"


def test_previews_are_spectrogram_sized_images(engine):
    previews = []

    def listen(event):
        if isinstance(event, JobProgress) and event.progress.preview is not None:
            previews.append((event.progress.step, event.progress.preview))

    engine.add_listener(listen)
    try:
        generate(engine, num_inference_steps=3, preview_every=1, scheduler="euler")
    finally:
        engine.remove_listener(listen)
    assert [step for step, _ in previews] == [1, 2]
    for _, preview in previews:
        assert preview.dtype == np.uint8 and preview.shape == (512, WIDTH, 3)


def test_spec_from_recipe_refuses_what_it_cannot_reproduce(engine):
    (result,), _ = generate(engine, num_inference_steps=1)
    spec = spec_from_recipe(result.recipe)
    assert (spec.seed, spec.model, spec.revision, spec.duration_s) == (3, HUB_ID, COMMIT, pytest.approx(0.64))
    with pytest.raises(ValueError, match="task 'inpaint'"):
        GenerateJob.from_recipe(replace(result.recipe, task="inpaint"))
    custom = dict(result.recipe.facts["spectrogram"], max_frequency=8000)
    with pytest.raises(ValueError, match="differ from the 'riffusion' preset"):
        spec_from_recipe(replace(result.recipe, facts={**result.recipe.facts, "spectrogram": custom}))
    stored = json.loads(result.recipe.to_json())
    assert stored["params"]["spectrogram_preset"] == "riffusion"
    assert set(stored["facts"]) == {"spectrogram", "width", "height", "level"}
