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
    describe_lora,
    is_hub_ref,
    library_dir,
    read_lora_entry,
    resolve_hub_lora,
    same_model,
    scan_hub_cache,
    scan_library,
    unique_output_path,
)

ROOT = Path(__file__).resolve().parents[2]
REVISION = "0123456789abcdef" * 2 + "01234567"


def cache_repo(cache, repo_id, files, *, card=None, revision=REVISION):
    """A repo in a hub cache laid out as huggingface_hub writes it: the files are blobs named by
    their hash, the snapshot holds relative links to them, refs/main names the snapshot."""
    import hashlib
    import os

    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    for name, source in files.items():
        data = Path(source).read_bytes() if isinstance(source, Path) else source
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if card is not None:
        (snapshot / "README.md").write_text(card, encoding="utf-8")
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def kohya_bytes(tmp_path, name):
    path = tmp_path / name
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": np.zeros((4, 32), np.float16),
               "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": np.zeros((32, 4), np.float16)}, str(path))
    return path.read_bytes()


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
    assert Path(entries[0].path).is_file() and entries[0].ref == "someone/zorb-lora"  # portable: the repo id
    assert entries[0].trigger_words == ("zorb",)


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


def test_hub_cache_loras_are_listed_by_repo_id_resolved_offline_and_flagged_for_another_model(
        tiny_lora, tmp_path, monkeypatch):
    """The hub cache (HF_HUB_CACHE, laid out with blobs and links as huggingface_hub writes it): a
    LoRA repo is listed by its repo id, which resolves to the cached file with no network; a repo
    of several LoRAs lists each as repo/FILE; the base model comes from the file or else from the
    model card, and a LoRA for another base model is flagged."""
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    lora, model = tiny_lora
    mine = cache_repo(cache, "someone/zorb-lora", {"pytorch_lora_weights.safetensors": lora})
    card = "---\nbase_model: runwayml/stable-diffusion-v1-5\ninstance_prompt: fuzzy grit\ntags:\n- lora\n---\n# Style\n"
    cache_repo(cache, "artist/style-pack", {"a.safetensors": kohya_bytes(tmp_path, "a.safetensors"),
                                            "sub/b.safetensors": kohya_bytes(tmp_path, "b.safetensors")}, card=card)
    # An older snapshot refs/main does not name is not the repo's current one.
    old = cache / "models--someone--zorb-lora" / "snapshots" / "feedbeef"
    old.mkdir(parents=True)
    shutil.copy(lora, old / "old_weights.safetensors")
    entries, problems = scan_library([tmp_path / "no-library"])  # the default hub cache: $HF_HUB_CACHE
    assert problems == []
    by_ref = {e.ref: e for e in entries}
    assert sorted(by_ref) == ["artist/style-pack/a.safetensors", "artist/style-pack/sub/b.safetensors",
                              "someone/zorb-lora"]
    zorb = by_ref["someone/zorb-lora"]
    assert zorb.source == "hub" and zorb.name == "someone/zorb-lora" and zorb.trigger_words == ("zorb",)
    assert Path(zorb.path) == mine / "pytorch_lora_weights.safetensors" and Path(zorb.path).is_symlink()
    assert zorb.fits(model) is True and zorb.fits("builtin:starter") is False
    assert "was trained for" in zorb.warning("builtin:starter")
    style = by_ref["artist/style-pack/sub/b.safetensors"]
    assert style.base_model == "runwayml/stable-diffusion-v1-5" and style.trigger_words == ("fuzzy grit",)
    assert style.fits("runwayml/stable-diffusion-v1-5") and style.warning("builtin:starter")

    # Refs resolve back to the cached file offline; what cannot be resolved says why in one line.
    assert resolve_hub_lora("someone/zorb-lora") == mine / "pytorch_lora_weights.safetensors"
    assert resolve_hub_lora("artist/style-pack/sub/b.safetensors", cache).name == "b.safetensors"
    for ref, why in (("artist/style-pack", "several LoRAs"), ("nobody/nothing", "neither a file nor a repo"),
                     ("someone/zorb-lora/missing.safetensors", "has no file")):
        with pytest.raises(LoraLibraryError, match=why) as error:
            resolve_hub_lora(ref)
        assert "\n" not in str(error.value)
    assert describe_lora("artist/style-pack/a.safetensors").base_model == "runwayml/stable-diffusion-v1-5"
    assert describe_lora(str(lora)).source == "file"
    assert is_hub_ref("someone/zorb-lora") and is_hub_ref("a/b/c.safetensors")
    assert not is_hub_ref(str(lora)) and not is_hub_ref("./x/y") and not is_hub_ref("zorb") and not is_hub_ref("a/b/c")
