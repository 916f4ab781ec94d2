"""specdiff-cli regenerate: every task's file, made again from the recipe it carries, bit for bit (CPU, tiny model).

Edit tasks need their input clip: the recipe records its fingerprint and where it was read from;
``--input`` gives another copy; a missing or different input is a one-line error saying what is
needed. Files written before the task registry (format-1 recipes) regenerate too.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from assets.make_tiny_sd import TINY_SD_DIR
from test_cli import assert_one_line_error, run_cli
from assets.golden_check import assert_close_to_golden
from test_golden_recipes import CASES, GOLDEN, GOLDEN_DIR, one_thread  # noqa: F401 (one_thread: fixture)
from test_inpaint import RATE, make_clip

from engine.audio.io import read_audio, write_audio
from engine.cli import RECIPE_METADATA_KEY, read_recipe

COMMON = ["--model", str(TINY_SD_DIR), "--height", "64", "--gl-iters", "2", "--device", "cpu", "--offline", "-q"]
FAST = [*COMMON, "--steps", "2", "--window", "0.64"]
#: One command per task, each writing OUT (``{wav}`` is the input clip).
COMMANDS = {
    "generate": ["generate", "jazz piano", "--model", str(TINY_SD_DIR), "--seed", "11", "--variations", "2",
                 "--steps", "2", "--duration", "0.64", "--device", "cpu", "--offline", "-q"],
    "inpaint": ["inpaint", "{wav}", "--start", "0.3", "--end", "0.6", "--fmin", "200", "--fmax", "2000",
                "--prompt", "horn", "--seed", "3", *FAST],
    "extend": ["extend", "{wav}", "--left", "0.2", "--right", "0.4", "--prompt", "rain", "--seed", "4",
               "--context", "0.32", *COMMON, "--steps", "2", "--window", "1.28"],
    "loop": ["loop", "{wav}", "--seam", "0.3", "--seed", "5", *FAST],
    "vary": ["vary", "{wav}", "--strength", "0.5", "--prompt", "piano", "--variations", "2", "--seed", "1", *FAST],
    "interpolate": ["interpolate", "--from", "bells", "--to", "beats", "--steps", "3", "--seed", "6",
                    "--seed-to", "9", "--window", "0.64", "--crossfade", "0.16", "--inference-steps", "2", *COMMON],
}
#: The file of each task to regenerate (the second variation where there are two).
OUTPUTS = {"generate": "generate_2.wav", "vary": "vary_2.wav"}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Every task's output, made once by its CLI command from one 16-bit stereo clip."""
    folder = tmp_path_factory.mktemp("made")
    wav = folder / "in.wav"
    write_audio(wav, make_clip(0.8, channels=2), RATE, subtype="PCM_16")
    outputs = {}
    for task, argv in COMMANDS.items():
        out = folder / f"{task}.wav"
        status = run_cli_plain(*[a.format(wav=wav) for a in argv], "-o", out)
        assert status == 0, task
        outputs[task] = folder / OUTPUTS.get(task, f"{task}.wav")
    return wav, outputs


def run_cli_plain(*argv) -> int:
    from engine.cli import main

    return main([str(a) for a in argv])


@pytest.mark.parametrize("task", list(COMMANDS))
def test_every_task_regenerates_bit_identically(capsys, tmp_path, made, task):
    wav, outputs = made
    source = outputs[task]
    recipe = read_recipe(source)
    assert recipe.task == task
    if recipe.inputs:  # the path the input was read from travels with the recipe
        assert recipe.inputs["audio"]["path"] == str(wav.resolve())
    again = tmp_path / "again.wav"
    status, stdout, err = run_cli(capsys, "regenerate", source, "-o", again, "--offline", "-q")
    assert status == 0, err
    original, rate = read_audio(source)
    regenerated, again_rate = read_audio(again)
    assert again_rate == rate
    np.testing.assert_array_equal(regenerated, original)
    assert read_recipe(again) == recipe
    assert f"{again}  seed {recipe.seed}" in stdout


def test_an_edit_needs_its_input_and_says_which(capsys, tmp_path, made):
    wav, outputs = made
    edited = tmp_path / "inpaint.wav"
    shutil.copy(outputs["inpaint"], edited)
    moved = tmp_path / "moved.wav"
    shutil.copy(wav, moved)
    recipe = read_recipe(edited)
    # The recorded input is gone: one line naming what is needed.
    data, rate = read_audio(edited)
    gone = recipe.with_input_path("audio", str(tmp_path / "deleted.wav"))
    write_audio(edited, data, rate, subtype="PCM_16", metadata={RECIPE_METADATA_KEY: gone.to_json()})
    status, _, err = run_cli(capsys, "regenerate", edited, "-o", tmp_path / "x.wav")
    assert_one_line_error(status, err, "regenerating this inpaint needs its input audio (2 ch, 0.800 s at 44100 Hz",
                          "deleted.wav' is gone", "--input PATH")
    # --input gives it from anywhere.
    status, _, err = run_cli(capsys, "regenerate", edited, "-o", tmp_path / "again.wav", "--input", moved, "-q")
    assert status == 0, err
    np.testing.assert_array_equal(read_audio(tmp_path / "again.wav")[0], data)
    assert read_recipe(tmp_path / "again.wav").inputs["audio"]["path"] == str(moved.resolve())
    # Another clip is refused by its fingerprint.
    other = tmp_path / "other.wav"
    write_audio(other, make_clip(0.8, channels=2, seed=5), RATE, subtype="PCM_16")
    status, _, err = run_cli(capsys, "regenerate", edited, "-o", tmp_path / "x.wav", "--input", other)
    assert_one_line_error(status, err, f"'{other}' is not the audio this inpaint was made from",
                          "it needs 2 ch, 0.800 s at 44100 Hz, sha256 ")
    status, _, err = run_cli(capsys, "regenerate", tmp_path / "nope.wav", "-o", tmp_path / "x.wav")
    assert_one_line_error(status, err, "does not exist")


@pytest.mark.parametrize("name", ["generate_2", "inpaint_mask", "vary_2"])
def test_files_from_before_the_registry_regenerate(capsys, tmp_path, one_thread, name):
    """A WAV carrying a format-1 recipe (as the old CLI wrote it) regenerates the recorded audio."""
    case = CASES[name]
    old = tmp_path / "old.wav"
    audio = np.zeros((len(case["shape"]) and case["shape"][0], case["shape"][1]), dtype=np.float32)
    write_audio(old, audio, case["sample_rate_hz"], subtype="FLOAT", metadata={RECIPE_METADATA_KEY: case["recipe"]})
    inputs = ["--input", GOLDEN_DIR / "input.wav"] if json.loads(case["recipe"])["task"] != "text_to_audio" else []
    status, _, err = run_cli(capsys, "regenerate", old, "-o", tmp_path / "new.wav", "--model", TINY_SD_DIR,
                             "--offline", "-q", *inputs)
    assert status == 0, err
    new, _ = read_audio(tmp_path / "new.wav")
    expected = np.asarray(case["samples"], dtype=np.float32)
    assert_close_to_golden(new[:, case["sample_index"]], expected, GOLDEN)
