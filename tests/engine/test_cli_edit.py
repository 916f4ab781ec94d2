"""specdiff-cli inpaint / extend / loop / vary / interpolate on the tiny model (CPU), and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from assets.make_tiny_sd import TINY_SD_DIR
from test_cli import assert_one_line_error, run_cli
from test_inpaint import RATE, make_clip

from engine.audio.io import read_audio, write_audio
from engine.cli import read_recipe

#: 64 mel bins and narrow windows keep the spectrograms cheap on a CPU.
COMMON = ["--model", str(TINY_SD_DIR), "--height", "64", "--gl-iters", "2", "--device", "cpu", "--offline", "-q"]
FAST = [*COMMON, "--steps", "2"]


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "in.wav"
    write_audio(path, make_clip(1.2, channels=2), RATE, subtype="PCM_16")
    return path


def test_inpaint_keeps_the_untouched_samples_of_the_file(capsys, tmp_path, wav):
    out = tmp_path / "out.wav"
    status, stdout, err = run_cli(capsys, "inpaint", wav, "--start", "0.5", "--end", "1.0", "--fmin", "200",
                                  "--fmax", "2000", "--prompt", "horn", "--seed", "3", "--window", "0.64",
                                  "-o", out, "--image", tmp_path / "out.png", *FAST)
    assert status == 0, err
    original, _ = read_audio(wav)
    edited, rate = read_audio(out)
    assert rate == RATE and edited.shape == original.shape
    keep = np.ones(original.shape[1], dtype=bool)
    keep[int(0.5 * RATE) : RATE] = False
    assert np.array_equal(edited[:, keep], original[:, keep])  # 16-bit in, 16-bit out: exact
    assert not np.array_equal(edited, original)
    recipe = read_recipe(out)
    assert (recipe.task, recipe.seed, recipe.params["fmin_hz"]) == ("inpaint", 3, 200.0)
    assert (tmp_path / "out.png").is_file() and f"{out}  seed 3  1.20 s" in stdout


def test_extend_loop_vary_and_interpolate_write_their_files(capsys, tmp_path, wav):
    original, _ = read_audio(wav)
    extended = tmp_path / "long.wav"
    status, _, err = run_cli(capsys, "extend", wav, "--left", "0.5", "--right", "1.0", "--prompt", "rain",
                             "--prompt-left", "wind", "--window", "1.28", "--context", "0.64", "-o", extended, *FAST)
    assert status == 0, err
    audio, _ = read_audio(extended)
    assert audio.shape == (2, original.shape[1] + int(1.5 * RATE))
    assert np.array_equal(audio[:, RATE // 2 : RATE // 2 + original.shape[1]], original)

    looped = tmp_path / "loop.flac"
    status, _, err = run_cli(capsys, "loop", wav, "--seam", "0.4", "--window", "0.64", "-o", looped, *FAST)
    assert status == 0, err
    assert read_audio(looped)[0].shape == original.shape
    assert read_recipe(looped).task == "loop"

    varied = tmp_path / "vary.wav"
    status, stdout, err = run_cli(capsys, "vary", wav, "--strength", "0.5", "--prompt", "piano", "--variations", "2",
                                  "--seed", "1", "--window", "0.64", "-o", varied, *FAST)
    assert status == 0, err
    for index, seed in ((1, 1), (2, 2)):
        path = tmp_path / f"vary_{index}.wav"
        assert read_audio(path)[0].shape == original.shape and read_recipe(path).seed == seed

    morph = tmp_path / "morph.wav"
    status, _, err = run_cli(capsys, "interpolate", "--from", "bells", "--to", "beats", "--steps", "3",
                             "--window", "0.64", "--crossfade", "0.16", "--inference-steps", "2", "-o", morph,
                             *COMMON)
    assert status == 0, err
    assert read_audio(morph)[0].shape[1] == (3 * 64 - 2 * 16) * 441


def test_other_rates_keep_their_rate_and_untouched_samples(capsys, tmp_path):
    source = tmp_path / "in48.wav"
    write_audio(source, make_clip(1.0)[:, : 48000 * 1], 48000, subtype="PCM_24")
    out = tmp_path / "out.wav"
    status, stdout, err = run_cli(capsys, "inpaint", source, "--start", "0.2", "--end", "0.4", "--window", "0.64",
                                  "-o", out, *FAST)
    assert status == 0, err
    original, _ = read_audio(source)
    edited, rate = read_audio(out)
    assert rate == 48000 and edited.shape == original.shape
    keep = np.ones(original.shape[1], dtype=bool)
    keep[int(0.2 * 48000) : int(0.4 * 48000)] = False
    assert np.array_equal(edited[:, keep], original[:, keep])


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["inpaint", "{wav}", "--start", "1.0", "--end", "0.5", "-o", "{out}"], ["`end_s` (0.5 s) must be after"]),
        (["inpaint", "{wav}", "--start", "0.2", "--end", "9", "-o", "{out}"], ["past the end of the 1.200 s clip"]),
        (["inpaint", "{wav}", "--start", "0.2", "--end", "0.4", "--strength", "0", "-o", "{out}"], ["`strength`"]),
        (["inpaint", "{missing}", "--start", "0.2", "--end", "0.4", "-o", "{out}"], ["does not exist"]),
        (["inpaint", "{wav}", "--start", "0.2", "-o", "{out}"], ["--end"]),
        (["extend", "{wav}", "-o", "{out}"], ["nothing to extend"]),
        (["extend", "{wav}", "--right", "61", "-o", "{out}"], ["at most 60 s"]),
        (["loop", "{wav}", "--seam", "1.0", "-o", "{out}"], ["at least twice `seam_s`"]),
        (["vary", "{wav}", "--strength", "0.5", "-o", "{txt}"], ["must end in .wav or .flac"]),
        (["interpolate", "--from", "a", "--to", "b", "--steps", "1", "-o", "{out}"], ["`num_steps`"]),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_status(capsys, tmp_path, wav, argv, fragments):
    names = {"wav": wav, "out": tmp_path / "o.wav", "missing": tmp_path / "nope.wav", "txt": tmp_path / "o.txt"}
    status, _, err = run_cli(capsys, *[a.format(**names) for a in argv], *COMMON)
    assert_one_line_error(status, err, *fragments)
