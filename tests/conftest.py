"""Shared pytest options: gpu and slow tests are skipped unless asked for."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the hub: anything that tries fails fast instead of hanging.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run tests that need real downloaded weights")


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--run-slow")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="needs real weights: pass --run-slow"))
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


def _train_tiny_lora(folder, **settings):
    """A LoRA trained for 2 steps on the tiny model (64 x 64 'starter' spectrograms of tones),
    trigger word 'zorb', rank 2 with alpha 4 (the diffusers layout): ``(path, base_model)``."""
    from pathlib import Path

    import numpy as np

    from engine.training.lora import LoraTrainConfig, train_lora
    from engine.training.lora_data import Clip, build_dataset, make_target

    model = str(Path(__file__).resolve().parent / "assets" / "tiny-sd")
    rate = 22050
    t = np.arange(int(1.5 * rate)) / rate
    clips = [Clip(f"c{i}", (0.5 * np.sin(2 * np.pi * (300 + 60 * i) * t)).astype(np.float32), rate, f"tone {i}")
             for i in range(3)]
    dataset = build_dataset(None, make_target("starter", 1.28, height=64), clips=clips, trigger="zorb")
    config = LoraTrainConfig(rank=2, alpha=4.0, learning_rate=5e-2, max_steps=2, device="cpu", num_threads=1,
                             validation_fraction=0.0, **settings)
    out = folder / "zorb.safetensors"
    run = train_lora(model, dataset, out, config)
    for _ in run:
        pass
    return out, model


@pytest.fixture(scope="session")
def tiny_lora(tmp_path_factory):
    """The tiny model's LoRA of the UNet (see :func:`_train_tiny_lora`)."""
    return _train_tiny_lora(tmp_path_factory.mktemp("tiny-lora"))


@pytest.fixture(scope="session")
def tiny_text_encoder_lora(tmp_path_factory):
    """The same with the text encoder trained too (transformers loads that part)."""
    return _train_tiny_lora(tmp_path_factory.mktemp("tiny-te-lora"), train_text_encoder=True)
