"""specdiff-cli edits follow the model as `generate` does (issue 11 parts 4 and 8), one set of
output options for every command, and no command writes over a file unless --overwrite (issue 17
part 5). Runs the model a fresh offline install uses (starter model 2) on the CPU, offline, with an
empty hub cache."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from test_cli import assert_one_line_error, run_cli

from engine.audio.io import read_audio, write_audio
from engine.audio.params import get_preset
from engine.cli import build_parser, read_recipe
from engine.models.catalog import STARTER2_MODEL_ID
from engine.training.starter_metrics import dominant_frequency_hz, semitones_between

RATE = 44100
#: What every command uses without --model on a fresh offline machine, and its spectrogram.
DEFAULT_MODEL, DEFAULT_PRESET = STARTER2_MODEL_ID, "starter2"


def fresh_machine(tmp_path):
    """What a new user has: no downloaded model, no network."""
    return ["--cache-dir", str(tmp_path / "hub"), "--offline", "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    """1.5 s of a 440 Hz sine at 44.1 kHz, 16-bit: not the starter's 22.05 kHz."""
    path = tmp_path_factory.mktemp("follows") / "tone.wav"
    t = np.arange(int(1.5 * RATE)) / RATE
    write_audio(path, (0.3 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32), RATE, subtype="PCM_16")
    return path


EDITS = {
    "inpaint": ["{tone}", "--start", "0.5", "--end", "1.0", "--prompt", "a sine tone at 660 Hz"],
    "extend": ["{tone}", "--right", "0.5", "--prompt", "a sine tone at 440 Hz"],
    "loop": ["{tone}", "--seam", "0.4"],
    "vary": ["{tone}", "--strength", "0.4", "--prompt", "a sine tone at 440 Hz"],
}


EDITS["interpolate"] = ["--from", "a sine tone at 220 Hz", "--to", "a sine tone at 880 Hz", "--steps", "2"]
#: Each command's flag for denoising steps (interpolate's --steps counts segments).
STEPS_FLAG = {"interpolate": "--inference-steps"}


def spec_of(argv):
    """The job a command line would run, built as the CLI builds it (nothing runs)."""
    from engine.cli.common import CliRun
    from engine.tasks import registry

    args = build_parser().parse_args([str(a) for a in argv])
    return registry().get(args.command).spec_from_args(args, CliRun(args))


@pytest.mark.parametrize("command", sorted(EDITS))
def test_each_edit_without_a_model_takes_the_starters_card(tmp_path, tone, command):
    spec = spec_of([command, *[a.format(tone=tone) for a in EDITS[command]], "-o", tmp_path / "out.wav",
                    *fresh_machine(tmp_path)])
    assert (spec.model, spec.spectrogram_preset, spec.height) == (DEFAULT_MODEL, DEFAULT_PRESET, None)
    # The card's recommendations: 20 steps, guidance 5, its scheduler, its 2.56 s image as the window.
    assert (spec.num_inference_steps, spec.guidance_scale, spec.scheduler) == (20, 5.0, "dpm++2m-karras")
    assert spec.window_s == 2.56


def test_flags_override_the_model_card(tmp_path, tone):
    spec = spec_of(["loop", tone, "--seam", "0.4", "--steps", "3", "--guidance", "3", "--window", "1.28", "--scheduler", "ddim",
                    "--preset", "riffusion", "-o", tmp_path / "out.wav", *fresh_machine(tmp_path)])
    assert (spec.num_inference_steps, spec.guidance_scale, spec.window_s) == (3, 3.0, 1.28)
    assert (spec.scheduler, spec.spectrogram_preset, spec.model) == ("ddim", "riffusion", DEFAULT_MODEL)


@pytest.mark.parametrize("command", sorted(set(EDITS) - {"interpolate"}))
def test_each_edit_without_a_model_runs_in_the_starters_spectrogram(capsys, tmp_path, tone, command):
    out = tmp_path / "out.wav"
    argv = [a.format(tone=tone) for a in EDITS[command]]
    status, stdout, err = run_cli(capsys, command, *argv, "--seed", "2", "--steps", "3", "-o", out,
                                  *fresh_machine(tmp_path))
    assert status == 0, err
    assert "resampl" not in stdout + err
    recipe = read_recipe(out)
    starter = get_preset(DEFAULT_PRESET)
    assert (recipe.model_id, recipe.params["spectrogram_preset"]) == (DEFAULT_MODEL, DEFAULT_PRESET)
    assert recipe.facts["spectrogram"]["sample_rate"] == starter.sample_rate == 22050
    assert recipe.facts["spectrogram"]["num_frequencies"] == starter.num_frequencies
    assert (recipe.params["window_s"], recipe.params["guidance_scale"]) == (2.56, 5.0)
    audio, rate = read_audio(out)
    assert rate == RATE and soundfile.info(str(out)).subtype == "PCM_16"  # the input's format is kept
    assert np.abs(audio).max() < 1.0


def test_interpolate_without_a_model_lands_near_the_prompted_pitches(capsys, tmp_path):
    out = tmp_path / "morph.wav"
    status, stdout, err = run_cli(capsys, "interpolate", "--from", "a sine tone at 220 Hz", "--to",
                                  "a sine tone at 880 Hz", "--steps", "2", "--crossfade", "0.2", "--seed", "0",
                                  "--inference-steps", "10", "-o", out, *fresh_machine(tmp_path))
    assert status == 0, err
    assert "resampl" not in stdout + err
    recipe = read_recipe(out)
    assert (recipe.model_id, recipe.params["spectrogram_preset"]) == (DEFAULT_MODEL, DEFAULT_PRESET)
    assert recipe.facts["spectrogram"]["sample_rate"] == 22050
    assert recipe.params["upsampler"] == "builtin:upsampler"  # the card's pipeline, as generate's
    audio, rate = read_audio(out)
    assert rate == 44100
    first = dominant_frequency_hz(audio[:, : int(1.5 * rate)], rate)
    last = dominant_frequency_hz(audio[:, -int(1.5 * rate):], rate)
    assert abs(semitones_between(first, 220.0)) < 1.5, first  # Riffusion's preset gave 69 Hz here
    assert abs(semitones_between(last, 880.0)) < 1.5, last  # and 257 Hz here


def test_help_says_what_the_defaults_really_are():
    parser = build_parser()
    for command in ("generate", "inpaint", "extend", "loop", "vary", "interpolate"):
        text = parser._subparsers._group_actions[0].choices[command].format_help()
        text = " ".join(text.split())
        assert "default: the model card's (20 for the starter, else 30)" in text, command
        assert "builtin:starter" in text and "'starter' for the starter" in text
        assert "--subtype" in text and "--overwrite" in text
        assert "default 30)" not in text and "default: riffusion" not in text


def test_generate_writes_flac_and_every_command_takes_the_same_subtypes(capsys, tmp_path, tone):
    flac = tmp_path / "sine.flac"
    status, _, err = run_cli(capsys, "generate", "a sine tone at 440 Hz", "-o", flac, "--steps", "2", "--seed", "1",
                             "--subtype", "PCM_24", *fresh_machine(tmp_path))
    assert status == 0, err
    info = soundfile.info(str(flac))
    assert (info.format, info.subtype) == ("FLAC", "PCM_24") and read_recipe(flac).task == "generate"
    wav = tmp_path / "sine.wav"
    status, _, err = run_cli(capsys, "generate", "a sine tone at 440 Hz", "-o", wav, "--steps", "2", "--seed", "1",
                             *fresh_machine(tmp_path))
    assert status == 0, err
    assert soundfile.info(str(wav)).subtype == "PCM_16"  # the default without an input file
    floats = tmp_path / "float.wav"
    status, _, err = run_cli(capsys, "loop", tone, "--seam", "0.4", "--steps", "2", "--subtype", "FLOAT", "-o", floats,
                             *fresh_machine(tmp_path))
    assert status == 0, err
    assert soundfile.info(str(floats)).subtype == "FLOAT"
    status, _, err = run_cli(capsys, "regenerate", flac, "-o", tmp_path / "again.wav", "--subtype", "PCM_24",
                             "--offline", "-q")
    assert status == 0, err
    assert soundfile.info(str(tmp_path / "again.wav")).subtype == "PCM_24"
    again, _ = read_audio(tmp_path / "again.wav")
    assert np.allclose(again, read_audio(flac)[0], atol=1e-6)


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["vary", "{tone}", "-o", "{tone}"], ["is this command's input file", "--overwrite"]),
        (["inpaint", "{tone}", "--start", "0.1", "--end", "0.2", "-o", "{tmp}/old.wav"], ["exists; pass --overwrite"]),
        (["vary", "{tone}", "--variations", "2", "-o", "{tmp}/old.wav"], ["old_2.wav' exists"]),
        (["generate", "x", "-o", "{tmp}/old.wav"], ["old.wav' exists; pass --overwrite"]),
        (["generate", "x", "-o", "{tmp}/new.wav", "--image", "{tmp}/old.png"], ["old.png' exists"]),
        (["to-image", "{tone}", "-o", "{tmp}/old.png"], ["old.png' exists"]),
        (["to-audio", "{tmp}/old.png", "-o", "{tmp}/old.wav"], ["old.wav' exists"]),
        (["regenerate", "{tmp}/old.wav", "-o", "{tmp}/old.wav"], ["is this command's input file"]),
        (["generate", "x", "-o", "{tmp}/new.flac", "--subtype", "FLOAT"], ["--subtype FLOAT needs a .wav"]),
        (["generate", "x", "-o", "{tmp}/new.wav", "--subtype", "PCM_8"], ["invalid choice: 'PCM_8'"]),
    ],
)
def test_no_command_writes_over_a_file_unless_asked(capsys, tmp_path, tone, argv, fragments):
    local_tone = tmp_path / "tone.wav"
    local_tone.write_bytes(tone.read_bytes())
    for name in ("old.wav", "old_2.wav", "old.png"):
        (tmp_path / name).write_bytes(b"precious")
    common = fresh_machine(tmp_path) if argv[0] not in ("to-image", "to-audio") else []
    status, _, err = run_cli(capsys, *[a.format(tone=local_tone, tmp=tmp_path) for a in argv], *common)
    assert_one_line_error(status, err, *fragments)
    assert local_tone.read_bytes() == tone.read_bytes()
    for name in ("old.wav", "old_2.wav", "old.png"):
        assert (tmp_path / name).read_bytes() == b"precious"
    assert not (tmp_path / "new.wav").exists() and not (tmp_path / "new.flac").exists()


def test_overwrite_replaces_the_input_atomically(capsys, tmp_path, tone):
    path = tmp_path / "tone.wav"
    path.write_bytes(tone.read_bytes())
    status, _, err = run_cli(capsys, "inpaint", path, "--start", "0.5", "--end", "1.0", "--steps", "2", "-o", path,
                             "--overwrite", *fresh_machine(tmp_path))
    assert status == 0, err
    edited, _ = read_audio(path)
    original, _ = read_audio(tone)
    assert edited.shape == original.shape and not np.array_equal(edited, original)
    assert np.array_equal(edited[:, : int(0.4 * RATE)], original[:, : int(0.4 * RATE)])
    assert read_recipe(path).task == "inpaint"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "hub") == ["tone.wav"]  # no temp file left
