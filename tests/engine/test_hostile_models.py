"""Crafted model folders (issue 17 part 6): a component class that is a shell call, a library
name that climbs out, a pickle payload, a weights file linked from outside the folder. Each is a
one-line refusal through the real Engine (the CLI's and the app's path), no code of the folder's
runs, and the folder is left as it was."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import pytest
from assets.make_tiny_sd import TINY_SD_DIR

from engine.api import Engine, EngineSettings, GenerateJob

JOB = dict(prompt="x", seed=1, num_inference_steps=1, duration_s=0.64)


class Payload:
    """Unpickling this runs ``open(marker, "w")``: what a malicious .bin would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _component(folder: Path, name: str, library: str, cls: str) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    index[name] = [library, cls]
    (folder / "model_index.json").write_text(json.dumps(index))


def shell_class(folder: Path, marker: Path) -> None:
    _component(folder, "unet", "os", "system")  # os.system("...") if anything called the class
    (folder / "unet" / "config.json").write_text(json.dumps({"in_channels": 4, "_class_name": f"touch {marker}"}))


def climbing_library(folder: Path, marker: Path) -> None:
    evil = folder.parent / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w')\n")
    _component(folder, "vae", "../evil", "AutoencoderKL")


def pickle_payload(folder: Path, marker: Path) -> None:
    safe = next((folder / "unet").glob("*.safetensors"))
    safe.unlink()
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps(Payload(marker)))


def weights_linked_from_outside(folder: Path, marker: Path) -> None:
    safe = next((folder / "vae").glob("*.safetensors"))
    outside = folder.parent / "outside.safetensors"
    outside.write_bytes(pickle.dumps(Payload(marker)))  # not safetensors at all
    safe.unlink()
    safe.symlink_to(outside)


@pytest.fixture(scope="module")
def engine():
    eng = Engine(EngineSettings(device="cpu", offline=True))
    yield eng
    eng.shutdown()


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("craft", [shell_class, climbing_library, pickle_payload, weights_linked_from_outside])
def test_a_crafted_model_folder_is_one_line_refused_and_runs_none_of_its_code(engine, tmp_path, craft):
    folder = tmp_path / "model"
    shutil.copytree(TINY_SD_DIR, folder)
    marker = tmp_path / "pwned"
    craft(folder, marker)
    before = _digest(folder)

    with pytest.raises(Exception) as failed:
        engine.run(GenerateJob(model=str(folder), **JOB), timeout_s=300)
    message = str(failed.value)
    assert "\n" not in message.strip() and "Traceback" not in message, message
    assert str(folder) in message, message  # names the folder
    assert not marker.exists()  # nothing of the folder's ran
    assert _digest(folder) == before
