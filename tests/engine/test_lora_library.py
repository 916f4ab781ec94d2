"""The LoRA library: LoRAs in the library folder and the hub cache described from their headers
(base model, trigger words, rank/alpha, settings), one from another base model flagged, bad
files listed with a reason, and nothing of it importing torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from engine.training.lora_library import (
    LoraLibraryError,
    add_to_library,
    library_dir,
    read_lora_entry,
    same_model,
    scan_hub_cache,
    scan_library,
    unique_output_path,
)

ROOT = Path(__file__).resolve().parents[2]


def test_a_trained_lora_is_described_from_its_header(tiny_lora):
    path, model = tiny_lora
    entry = read_lora_entry(path)
    assert entry.ref == str(path) and entry.name == "zorb"
    assert entry.trigger_words == ("zorb",) and entry.rank == 2 and entry.alpha == 4.0
    assert entry.fmt == "diffusers" and entry.targets == ("unet",) and entry.steps == 2
    assert entry.trained_here and entry.settings["learning_rate"] == 5e-2
    assert entry.dataset["captions"] == ["zorb, tone 0", "zorb, tone 1", "zorb, tone 2"]
    assert entry.fits(model) is True and entry.warning(model) == ""
    assert entry.fits("builtin:starter") is False
    assert "was trained for" in entry.warning("builtin:starter") and entry.warning("builtin:starter").count("\n") == 0
    assert "trigger zorb" in entry.describe() and "rank 2, alpha 4" in entry.describe()


def test_a_kohya_lora_made_elsewhere_gives_its_alpha_and_base_model(tmp_path):
    path = tmp_path / "style.safetensors"
    save_file({
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": np.zeros((8, 32), np.float16),
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": np.zeros((32, 8), np.float16),
        "lora_unet_down_blocks_0_attentions_0_proj_in.alpha": np.array(3.0, np.float16),
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": np.zeros((8, 32), np.float16),
    }, str(path), metadata={"ss_sd_model_name": "runwayml/stable-diffusion-v1-5", "modelspec.trigger_phrase": "fuzz, grit"})
    entry = read_lora_entry(path)
    assert (entry.fmt, entry.rank, entry.alpha) == ("kohya", 8, 3.0)
    assert entry.targets == ("unet", "text_encoder") and entry.trigger_words == ("fuzz", "grit")
    assert entry.base_model == "runwayml/stable-diffusion-v1-5" and not entry.trained_here
    assert entry.fits("RunwayML/stable-diffusion-v1-5") is True and entry.fits("builtin:starter") is False
    bare = tmp_path / "bare.safetensors"
    save_file({"a.lora_A.weight": np.zeros((4, 16), np.float32)}, str(bare))
    assert read_lora_entry(bare).fits("builtin:starter") is None  # the file does not say: not flagged


def test_bad_files_are_listed_with_a_reason_and_the_rest_still_listed(tiny_lora, tmp_path):
    folder = tmp_path / "loras"
    folder.mkdir()
    shutil.copy(tiny_lora[0], folder / "good.safetensors")
    (folder / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    save_file({"unet.conv.weight": np.zeros((2, 2), np.float32)}, str(folder / "model.safetensors"))
    (folder / "good.checkpoints").mkdir()
    shutil.copy(tiny_lora[0], folder / "good.checkpoints" / "ignored.safetensors")
    entries, problems = scan_library([folder], hub=False)
    assert [e.name for e in entries] == ["good"] and entries[0].source == "library"
    reasons = dict((Path(p).name, why) for p, why in problems)
    assert "header is not JSON" in reasons["junk.safetensors"]
    assert "holds no LoRA weights" in reasons["model.safetensors"]
    with pytest.raises(LoraLibraryError, match="not a .safetensors file"):
        read_lora_entry(folder / "junk.safetensors")
    assert scan_library([tmp_path / "missing"], hub=False) == ([], [])


def test_loras_in_the_hub_cache_are_found_and_pipelines_skipped(tiny_lora, tmp_path):
    cache = tmp_path / "hub"
    lora_snap = cache / "models--someone--zorb-lora" / "snapshots" / "abc123"
    lora_snap.mkdir(parents=True)
    shutil.copy(tiny_lora[0], lora_snap / "pytorch_lora_weights.safetensors")
    pipe_snap = cache / "models--someone--pipeline" / "snapshots" / "def456"
    (pipe_snap / "unet").mkdir(parents=True)
    (pipe_snap / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    shutil.copy(tiny_lora[0], pipe_snap / "unet" / "x.safetensors")
    entries, problems = scan_hub_cache(cache)
    assert problems == [] and [(e.name, e.source) for e in entries] == [("someone/zorb-lora", "hub")]
    assert Path(entries[0].ref).is_file() and entries[0].trigger_words == ("zorb",)


def test_the_library_folder_follows_the_data_dir_and_copies_never_overwrite(tiny_lora, tmp_path, monkeypatch):
    monkeypatch.setenv("SPECDIFF_DATA_DIR", str(tmp_path / "data"))
    assert library_dir() == tmp_path / "data" / "loras"
    first = add_to_library(tiny_lora[0])
    second = add_to_library(tiny_lora[0])
    assert Path(first.path).name == "zorb.safetensors" and Path(second.path).name == "zorb-2.safetensors"
    assert first.source == "library" and Path(first.path).read_bytes() == Path(tiny_lora[0]).read_bytes()
    assert unique_output_path("zorb") == tmp_path / "data" / "loras" / "zorb-3.safetensors"
    with pytest.raises(LoraLibraryError):
        add_to_library(Path(__file__))
    assert sorted(p.name for p in library_dir().iterdir()) == ["zorb-2.safetensors", "zorb.safetensors"]
    assert same_model(str(ROOT / "resources" / "models" / "starter"), "builtin:starter")


def test_the_library_imports_no_torch():
    code = "import sys, engine.training.lora_library as l; l.scan_library(hub=False); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
