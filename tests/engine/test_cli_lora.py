"""--lora PATH[:WEIGHT] on generate and every edit command (issue 13 part 6): the LoRA changes the
output, the recipe records it (absolute path, weight) and regenerate reapplies it bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from assets.make_tiny_sd import TINY_SD_DIR
from test_cli import assert_one_line_error, run_cli
from test_inpaint import RATE, make_clip

from engine.audio.io import read_audio, write_audio
from engine.cli import read_recipe

BASE = ["--model", str(TINY_SD_DIR), "--seed", "11", "--steps", "2", "--device", "cpu", "--offline", "-q"]
GENERATE = ["generate", "zorb, tone 2", "--duration", "0.64", *BASE]
VARY = ["--strength", "0.6", "--prompt", "zorb", "--height", "64", "--gl-iters", "2", "--window", "0.64", *BASE]
EDITS = ("inpaint", "extend", "loop", "vary", "interpolate")


def test_a_lora_changes_the_generation_and_regenerate_reapplies_it(capsys, tmp_path, tiny_lora):
    lora, _ = tiny_lora
    plain, with_lora, again = tmp_path / "plain.wav", tmp_path / "lora.wav", tmp_path / "again.wav"
    assert run_cli(capsys, *GENERATE, "-o", plain)[0] == 0
    status, _, err = run_cli(capsys, *GENERATE, "-o", with_lora, "--lora", f"{lora}:1.5")
    assert status == 0, err
    assert not np.array_equal(read_audio(plain)[0], read_audio(with_lora)[0])
    recipe = read_recipe(with_lora)
    assert recipe.loras == ((str(lora.resolve()), 1.5),)
    status, _, err = run_cli(capsys, "regenerate", with_lora, "-o", again, "--offline", "-q")
    assert status == 0, err
    np.testing.assert_array_equal(read_audio(again)[0], read_audio(with_lora)[0])
    assert read_recipe(again).loras == recipe.loras


def test_the_cli_shows_no_library_progress_bars_when_it_loads_a_lora(capsys, tmp_path, tiny_text_encoder_lora):
    """A LoRA with text-encoder weights goes through transformers, which drew its own "Loading
    weights" bar into the CLI's output; the CLI shows its own progress only (here none: stderr is
    not a terminal), and the LoRA still applies."""
    lora, _ = tiny_text_encoder_lora
    plain, with_lora = tmp_path / "plain.wav", tmp_path / "lora.wav"
    loud = [arg for arg in GENERATE if arg != "-q"]  # progress as a user sees it
    assert run_cli(capsys, *loud, "-o", plain)[0] == 0
    status, out, err = run_cli(capsys, *loud, "-o", with_lora, "--lora", f"{lora}:1.5")
    assert status == 0, err
    assert "Loading weights" not in err and "it/s" not in err and "%|" not in err, err
    assert out.strip().startswith(str(with_lora)) and err.strip() == ""
    assert not np.array_equal(read_audio(plain)[0], read_audio(with_lora)[0])


def test_an_edit_applies_the_lora_and_regenerates_with_it(capsys, tmp_path, tiny_lora):
    lora, _ = tiny_lora
    wav = tmp_path / "in.wav"
    write_audio(wav, make_clip(0.8), RATE, subtype="PCM_16")
    plain, with_lora, again = tmp_path / "plain.wav", tmp_path / "lora.wav", tmp_path / "again.wav"
    assert run_cli(capsys, "vary", wav, *VARY, "-o", plain)[0] == 0
    status, _, err = run_cli(capsys, "vary", wav, *VARY, "-o", with_lora, "--lora", str(lora), "--lora",
                             f"{lora}:-0.5")
    assert status == 0, err
    assert not np.array_equal(read_audio(plain)[0], read_audio(with_lora)[0])
    assert read_recipe(with_lora).loras == ((str(lora.resolve()), 1.0), (str(lora.resolve()), -0.5))
    status, _, err = run_cli(capsys, "regenerate", with_lora, "-o", again, "--offline", "-q")
    assert status == 0, err
    np.testing.assert_array_equal(read_audio(again)[0], read_audio(with_lora)[0])


def test_a_lora_in_the_hub_cache_applies_by_repo_id_offline_and_regenerates(capsys, tmp_path, tiny_lora):
    """A LoRA repo in the hub cache (blobs and links, as huggingface_hub stores it) applies by its
    repo id with no network, as its cached file does by path; the recipe keeps the repo id."""
    from test_lora_library import cache_repo

    lora, _ = tiny_lora
    cache = tmp_path / "hub"
    snapshot = cache_repo(cache, "someone/zorb-lora", {"pytorch_lora_weights.safetensors": lora})
    hub = ["--cache-dir", str(cache)]
    by_file, by_id, again = tmp_path / "file.wav", tmp_path / "id.wav", tmp_path / "again.wav"
    linked = snapshot / "pytorch_lora_weights.safetensors"  # a link to a blob named by its hash
    status, _, err = run_cli(capsys, *GENERATE, *hub, "-o", by_file, "--lora", f"{linked}:1.5")
    assert status == 0, err
    assert read_recipe(by_file).loras == ((str(linked), 1.5),)  # the link, not the blob it points to
    status, _, err = run_cli(capsys, *GENERATE, *hub, "-o", by_id, "--lora", "someone/zorb-lora:1.5")
    assert status == 0, err
    np.testing.assert_array_equal(read_audio(by_id)[0], read_audio(by_file)[0])
    assert read_recipe(by_id).loras == (("someone/zorb-lora", 1.5),)
    status, _, err = run_cli(capsys, "regenerate", by_id, "-o", again, "--offline", "-q", *hub)
    assert status == 0, err
    np.testing.assert_array_equal(read_audio(again)[0], read_audio(by_id)[0])
    status, _, err = run_cli(capsys, *GENERATE, *hub, "-o", tmp_path / "x.wav", "--lora", "nobody/nothing")
    assert status != 0 and "neither a file nor a repo in the hub cache" in err and err.strip().count("\n") == 0


@pytest.mark.parametrize("command", EDITS)
def test_every_edit_command_takes_loras(command):
    from engine.cli.commands import build_parser

    parser = build_parser()
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices[command]._actions}
    assert "lora" in actions and actions["lora"].default == [] and "PATH[:WEIGHT]" in str(actions["lora"].metavar)


def test_a_lora_of_another_base_model_is_one_line_that_says_so(capsys, tmp_path, tiny_lora):
    """The tiny model's LoRA on the starter model: diffusers logged a screenful of shapes and the
    error's first line said only 'Error(s) in loading state_dict'."""
    from engine.models.catalog import STARTER_MODEL_DIR

    lora, base = tiny_lora
    status, _, err = run_cli(capsys, "generate", "zorb", "--model", STARTER_MODEL_DIR, "--steps", "2", "--device", "cpu",
                             "--offline", "-q", "-o", tmp_path / "x.wav", "--lora", lora)
    assert_one_line_error(status, err, f"LoRA '{lora}' was trained for {base}, not model '{STARTER_MODEL_DIR}'",
                          "in the LoRA", "in the model). Use it with the model it was trained for.")
    assert not (tmp_path / "x.wav").exists()


def test_a_lora_of_another_model_with_the_same_layers_applies_with_a_note_on_the_terminal(tmp_path, tiny_lora):
    """The same architecture, another model (here a copy of the tiny model in another folder): the
    LoRA loads, and the job says what the app's library flags; a terminal shows it above the bar."""
    import io
    import shutil

    from engine.api import Engine, EngineSettings, GenerateJob
    from engine.cli.common import ProgressBar

    lora, base = tiny_lora
    other = tmp_path / "other-model"
    shutil.copytree(base, other)
    events = []
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        job = GenerateJob(prompt="zorb", model=str(other), seed=3, num_inference_steps=2, duration_s=0.64,
                          loras=((str(lora), 1.0),))
        (result,) = engine.run(job, events.append, timeout_s=600)
    (note,) = [e.message for e in events if e.stage == "lora"]
    assert note == f"'zorb' was trained for {base}, not this model: it may do nothing useful."
    assert result.recipe.loras == ((str(lora), 1.0),)
    screen = io.StringIO()
    bar = ProgressBar(enabled=True, file=screen)
    for event in events:
        bar(event)
    bar.close()
    assert f"lora: {note}" in screen.getvalue().replace("\r", "\n").splitlines()


def test_a_missing_lora_or_a_bad_weight_is_one_line(capsys, tmp_path, tiny_lora):
    lora, _ = tiny_lora
    status, _, err = run_cli(capsys, *GENERATE, "-o", tmp_path / "x.wav", "--lora", str(tmp_path / "nope.safetensors"))
    assert_one_line_error(status, err, "nope.safetensors' does not exist")
    status, _, err = run_cli(capsys, *GENERATE, "-o", tmp_path / "x.wav", "--lora", f"{lora}:loud")
    assert_one_line_error(status, err, "the weight after ':' must be a number")
    assert not (tmp_path / "x.wav").exists()
