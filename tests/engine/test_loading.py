"""Loading pipelines: policy validation, device and dtype rules, the pipeline cache, on tiny-sd."""

from __future__ import annotations

import gc
import json
import shutil
import socket
import weakref

import numpy as np
import pytest
import torch
from assets.make_tiny_sd import TINY_SD_DIR, TINY_SD_INPAINT_DIR, make_hub_cache_entry
from PIL import Image
from safetensors.torch import load_file

from engine.models import (
    DeviceNotAvailableError,
    LoadPolicy,
    LoadPolicyError,
    ModelStore,
    NotADiffusersModelError,
    PickleWeightsRefusedError,
    PipelineCache,
    resolve_device,
    resolve_dtype,
)
from engine.models import loading as loading_module

COMMIT = "c" * 40
SIZE_PX = 512


@pytest.fixture
def cpu_only(monkeypatch):
    """Behave as a machine without CUDA or MPS, whatever this one has."""
    monkeypatch.setattr(loading_module, "_cuda_available", lambda: False)
    monkeypatch.setattr(loading_module, "_mps_available", lambda: False)


@pytest.fixture
def load_count(monkeypatch):
    calls = []
    real = loading_module.load_pipeline

    def counting(*args, **kwargs):
        calls.append(args[0].model_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(loading_module, "load_pipeline", counting)
    return calls


def make_cache(tmp_path, **store_kwargs) -> PipelineCache:
    return PipelineCache(ModelStore(tmp_path / "hub", offline=True, **store_kwargs))


def generate(loaded, seed: int, steps: int = 2) -> np.ndarray:
    generator = torch.Generator("cpu").manual_seed(seed)
    return loaded.pipeline(
        "jazz piano", num_inference_steps=steps, height=SIZE_PX, width=SIZE_PX, generator=generator, output_type="np"
    ).images[0]


# ------------------------------------------------------------------------------------ policy rules


def test_load_policy_rejects_bad_values_naming_the_field():
    assert LoadPolicy() == LoadPolicy(device="auto", precision="auto")
    assert hash(LoadPolicy(vae_slicing=True)) == hash(LoadPolicy(vae_slicing=True))
    LoadPolicy(device="cuda:1", precision="bf16", attention_slicing=True, cpu_offload=True)

    with pytest.raises(LoadPolicyError, match=r"LoadPolicy.device is 'gpu'; expected one of auto, cpu, cuda"):
        LoadPolicy(device="gpu")
    with pytest.raises(LoadPolicyError, match="LoadPolicy.device"):
        LoadPolicy(device="cuda:x")
    with pytest.raises(LoadPolicyError, match=r"LoadPolicy.precision is 'half'; expected one of auto, fp32, fp16, bf16"):
        LoadPolicy(precision="half")
    with pytest.raises(LoadPolicyError, match=r"LoadPolicy.vae_tiling is 'yes'; expected True or False"):
        LoadPolicy(vae_tiling="yes")


def test_resolve_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cpu_only):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceNotAvailableError, match="'cuda' was asked for, but CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(DeviceNotAvailableError, match="'mps'"):
        resolve_device("mps")
    with pytest.raises(LoadPolicyError, match="'tpu'"):
        resolve_device("tpu")

    monkeypatch.setattr(loading_module, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")

    monkeypatch.setattr(loading_module, "_cuda_available", lambda: True)
    monkeypatch.setattr(loading_module, "_cuda_device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceNotAvailableError, match=r"has 2 CUDA device\(s\)"):
        resolve_device("cuda:2")


def test_resolve_dtype_rules(monkeypatch):
    cpu, mps, cuda = torch.device("cpu"), torch.device("mps"), torch.device("cuda")
    assert resolve_dtype(cpu, "auto") == torch.float32
    assert resolve_dtype(mps, "auto") == torch.float32
    assert resolve_dtype(cuda, "auto") == torch.float16
    assert resolve_dtype("cuda:0", "fp32") == torch.float32
    assert resolve_dtype(cpu, "bf16") == torch.bfloat16
    for device in (cpu, mps):
        with pytest.raises(LoadPolicyError, match="fp16 is only supported on CUDA"):
            resolve_dtype(device, "fp16")
    with pytest.raises(LoadPolicyError, match="'int8'"):
        resolve_dtype(cpu, "int8")

    monkeypatch.setattr(loading_module, "_cuda_bf16_supported", lambda: False)
    with pytest.raises(LoadPolicyError, match="bf16 is not supported"):
        resolve_dtype(cuda, "bf16")
    monkeypatch.setattr(loading_module, "_cuda_bf16_supported", lambda: True)
    assert resolve_dtype(cuda, "bf16") == torch.bfloat16


def test_cpu_offload_needs_cuda(tmp_path, cpu_only):
    with pytest.raises(LoadPolicyError, match="CPU offload needs a CUDA GPU"):
        make_cache(tmp_path).get(str(TINY_SD_DIR), policy=LoadPolicy(cpu_offload=True))


# ------------------------------------------------------------------------------------ the cache


def test_pipeline_cache_loads_once_and_generates_512px(tmp_path, monkeypatch, cpu_only, load_count):
    cache = make_cache(tmp_path)
    first = cache.get(str(TINY_SD_DIR))
    monkeypatch.chdir(TINY_SD_DIR.parent)
    again = cache.get("tiny-sd")  # the same folder by a relative path
    assert again is first
    assert load_count == [str(TINY_SD_DIR.resolve())]
    assert cache.loaded() == [str(TINY_SD_DIR.resolve())]

    assert type(first.pipeline).__name__ == "StableDiffusionPipeline"
    assert (first.device, first.dtype) == (torch.device("cpu"), torch.float32)
    assert (first.unet_in_channels, first.vae_scale_factor, first.is_inpainting) == (4, 8, False)
    assert first.pipeline.safety_checker is None
    assert first.pipeline.unet.dtype == torch.float32

    image = generate(first, seed=1)
    assert image.shape == (SIZE_PX, SIZE_PX, 3)
    assert np.array_equal(image, generate(first, seed=1))  # a recipe regenerates identically
    assert not np.array_equal(image, generate(first, seed=2))


def test_unload_releases_the_pipeline(tmp_path, cpu_only):
    cache = make_cache(tmp_path)
    pipeline_ref = weakref.ref(cache.get(str(TINY_SD_DIR)).pipeline)
    assert cache.unload(str(TINY_SD_DIR)) == 1
    assert cache.loaded() == []
    gc.collect()
    assert pipeline_ref() is None
    assert cache.unload() == 0


def test_loading_another_model_unloads_the_least_recently_used(tmp_path, cpu_only, load_count):
    cache = make_cache(tmp_path)
    text2img_ref = weakref.ref(cache.get(str(TINY_SD_DIR)).pipeline)
    inpaint = cache.get(str(TINY_SD_INPAINT_DIR))
    assert cache.loaded() == [str(TINY_SD_INPAINT_DIR.resolve())]
    gc.collect()
    assert text2img_ref() is None

    assert type(inpaint.pipeline).__name__ == "StableDiffusionInpaintPipeline"
    assert (inpaint.unet_in_channels, inpaint.is_inpainting) == (9, True)
    picture = Image.fromarray(np.full((SIZE_PX, SIZE_PX, 3), 128, dtype=np.uint8))
    mask = Image.new("L", (SIZE_PX, SIZE_PX), 0)
    mask.paste(255, (0, 0, SIZE_PX // 2, SIZE_PX))
    result = inpaint.pipeline(
        "drums", image=picture, mask_image=mask, num_inference_steps=2, output_type="np",
        generator=torch.Generator("cpu").manual_seed(0),
    ).images[0]  # fmt: skip
    assert result.shape == (SIZE_PX, SIZE_PX, 3)

    roomy = PipelineCache(cache.store, max_loaded=2)
    roomy.get(str(TINY_SD_DIR))
    roomy.get(str(TINY_SD_INPAINT_DIR))
    roomy.get(str(TINY_SD_DIR))  # used again: now the most recent
    assert roomy.loaded() == [str(TINY_SD_INPAINT_DIR.resolve()), str(TINY_SD_DIR.resolve())]
    assert roomy.unload() == 2
    with pytest.raises(ValueError, match="max_loaded"):
        PipelineCache(cache.store, max_loaded=0)


def test_memory_options_are_applied_and_leave_the_image_unchanged(tmp_path, cpu_only):
    cache = PipelineCache(ModelStore(tmp_path / "hub", offline=True), max_loaded=2)
    plain = cache.get(str(TINY_SD_DIR))
    frugal_policy = LoadPolicy(attention_slicing=True, vae_slicing=True, vae_tiling=True)
    frugal = cache.get(str(TINY_SD_DIR), policy=frugal_policy)
    assert frugal is not plain
    assert frugal.policy == frugal_policy
    assert frugal.pipeline.vae.use_slicing and frugal.pipeline.vae.use_tiling
    assert not plain.pipeline.vae.use_slicing
    processors = {type(p).__name__ for p in frugal.pipeline.unet.attn_processors.values()}
    assert processors == {"SlicedAttnProcessor"}
    np.testing.assert_allclose(generate(frugal, seed=3), generate(plain, seed=3), atol=1e-4)


def test_hub_cached_model_loads_offline_without_network(tmp_path, cpu_only, monkeypatch, load_count):
    cache_dir = tmp_path / "hub"
    make_hub_cache_entry(cache_dir, "org/tiny-sd", TINY_SD_DIR, commit=COMMIT)
    attempts = []

    def refuse_connect(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network access attempted in a test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    cache = PipelineCache(ModelStore(cache_dir, offline=True))
    loaded = cache.get("org/tiny-sd")
    assert (loaded.resolved.model_id, loaded.resolved.revision, loaded.resolved.source) == ("org/tiny-sd", COMMIT, "hub")
    assert cache.get("org/tiny-sd", revision=COMMIT) is loaded  # "main" and its commit are the same model
    assert generate(loaded, seed=0, steps=1).shape == (SIZE_PX, SIZE_PX, 3)
    assert load_count == ["org/tiny-sd"]
    assert attempts == []


def test_pickle_weights_load_only_when_allowed_and_are_the_same_weights(tmp_path, cpu_only):
    folder = tmp_path / "pickled"
    shutil.copytree(TINY_SD_DIR, folder)
    safe = folder / "unet" / "diffusion_pytorch_model.safetensors"
    original = load_file(safe)
    torch.save(original, safe.with_suffix(".bin"))
    safe.unlink()

    with pytest.raises(PickleWeightsRefusedError):
        make_cache(tmp_path).get(str(folder))
    loaded = make_cache(tmp_path, allow_pickle=True).get(str(folder))
    state = loaded.pipeline.unet.state_dict()
    assert state.keys() == original.keys()
    assert all(torch.equal(state[name], tensor) for name, tensor in original.items())


def test_safety_checker_listed_but_not_downloaded_is_not_needed(tmp_path, cpu_only):
    # Real SD repositories list a safety checker and feature extractor; the store never fetches them.
    folder = tmp_path / "sd-layout"
    shutil.copytree(TINY_SD_DIR, folder)
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
    index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
    index["requires_safety_checker"] = True
    index_path.write_text(json.dumps(index))
    loaded = make_cache(tmp_path).get(str(folder))
    assert loaded.pipeline.safety_checker is None
    assert generate(loaded, seed=0, steps=1).shape == (SIZE_PX, SIZE_PX, 3)


def test_unet_with_unsupported_channels_is_refused(tmp_path, cpu_only):
    folder = tmp_path / "depth"
    shutil.copytree(TINY_SD_DIR, folder)
    config_path = folder / "unet" / "config.json"
    config = json.loads(config_path.read_text())
    config["in_channels"] = 5
    config_path.write_text(json.dumps(config))
    with pytest.raises(NotADiffusersModelError, match="5 input channels; supported are 4 .* and 9"):
        make_cache(tmp_path).get(str(folder))


@pytest.mark.gpu
def test_cuda_fp16_and_cpu_offload(tmp_path):
    cache = PipelineCache(ModelStore(tmp_path / "hub", offline=True))
    loaded = cache.get(str(TINY_SD_DIR), policy=LoadPolicy(device="cuda"))
    assert (loaded.device.type, loaded.dtype, loaded.pipeline.unet.dtype) == ("cuda", torch.float16, torch.float16)
    assert loaded.pipeline.unet.device.type == "cuda"
    assert generate(loaded, seed=0).shape == (SIZE_PX, SIZE_PX, 3)
    del loaded
    held_bytes = torch.cuda.memory_allocated()
    offloaded = cache.get(str(TINY_SD_DIR), policy=LoadPolicy(device="cuda", cpu_offload=True))
    assert torch.cuda.memory_allocated() < held_bytes  # the previous model was unloaded first
    assert offloaded.pipeline.unet.device.type == "cpu"  # at rest in CPU memory
    assert generate(offloaded, seed=0).shape == (SIZE_PX, SIZE_PX, 3)
    del offloaded
    cache.unload()
    assert torch.cuda.memory_allocated() < held_bytes
