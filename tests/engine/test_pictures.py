"""Pictures from audio (issue 16): the procedural pictures, seed 002's trainable picture model,
the illustrate task on both paths (tiny random-weight models built from configs), recipes that
regenerate bit-identically, training on a folder of pairs, and one-line messages for bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from assets.make_tiny_ast import TINY_AST_DIR
from assets.make_tiny_sd import TINY_SD_DIR
from PIL import Image

from engine.cli import main
from engine.pictures.drawing import COLOURS, GROUPS, SoundAttributes, draw
from engine.pictures.model import (
    PictureInputError,
    PictureModel,
    PictureModelCard,
    PictureModelConfig,
    load_picture_model,
    prepare_clip,
    save_picture_model,
)
from engine.pictures.png import read_png_recipe
from engine.pictures.zeroshot import blend_prompt

TINY_CONFIG = PictureModelConfig(encoder_width=8, tokens=2, token_dim=16, block_out_channels=(8, 16, 16),
                                 norm_num_groups=4)
RATE = 22050


def sine(hz: float, seconds: float = 2.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None, :]


def clicks(rate_per_s: float, seconds: float = 2.0) -> np.ndarray:
    out = np.zeros(int(seconds * RATE), np.float32)
    for start in (np.arange(0, seconds, 1 / rate_per_s) * RATE).astype(int):
        out[start : start + 200] = np.exp(-np.arange(len(out[start : start + 200])) / 30.0)
    return out[None, :]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("pictures") / "tiny"
    save_picture_model(PictureModel(TINY_CONFIG), folder, PictureModelCard(title="tiny random picture model"))
    return folder


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def write_wav(path: Path, audio: np.ndarray) -> Path:
    soundfile.write(path, audio.T, RATE)
    return path


# ---------------------------------------------------------------------------------------------
# Procedural pictures
# ---------------------------------------------------------------------------------------------


def test_pictures_show_family_pitch_onsets_and_loudness():
    low = draw(SoundAttributes("winds", 110.0, 1, -10.0))  # -10 dBFS: full brightness
    high = draw(SoundAttributes("winds", 1760.0, 1, -10.0))
    quiet = draw(SoundAttributes("winds", 110.0, 1, -50.0))
    drums = draw(SoundAttributes("drums", None, 8, -20.0))

    def centre_row(picture):  # where the shape's colour is, column 32
        rows = np.nonzero(picture[:50, 32].astype(int).sum(axis=1) > 150)[0]
        return rows.mean()

    assert centre_row(high) < centre_row(low)  # higher pitch sits higher
    assert tuple(low[centre_row(low).astype(int), 32]) == pytest.approx(COLOURS["winds"], abs=2)
    assert quiet.astype(int).sum() < low.astype(int).sum()  # quieter is darker
    ticks = (drums[58, :, 0] > 100).astype(int)
    assert np.count_nonzero(np.diff(ticks) == 1) + ticks[0] == 8  # one tick per onset
    assert drums[26, 5, 1] > 150 and drums[26, 5, 2] < 100  # an unpitched band in drum yellow


# ---------------------------------------------------------------------------------------------
# The model: training, sampling, folders
# ---------------------------------------------------------------------------------------------


def test_training_lowers_the_diffusion_loss():
    from engine.training.train_pictures import pictures_tensor, train_diffusion

    torch.manual_seed(0)
    model = PictureModel(TINY_CONFIG)
    groups = ["keys", "drums", "winds", "synth"]
    pictures = pictures_tensor([draw(SoundAttributes(g, 220.0 if g != "drums" else None, 1, -20.0)) for g in groups])
    embeddings = torch.eye(4, model.config.embed_dim) * 3
    losses = [loss for _, loss in train_diffusion(model, embeddings, pictures, steps=60, seed=1, batch=8, lr=3e-3)]
    assert np.mean(losses[-15:]) < 0.8 * np.mean(losses[:15])  # 1.06 -> 0.74


def test_masked_encoder_training_hides_runs_of_bands_and_frames_and_still_learns():
    from engine.pictures.model import log_mel
    from engine.training.train_pictures import mask_mels, train_encoder

    clips = [prepare_clip(sine(hz), RATE) for hz in (220.0, 330.0, 440.0, 660.0)] + [
        prepare_clip(clicks(rate), RATE) for rate in (2.0, 3.0, 4.0, 6.0)]
    mels = log_mel(torch.as_tensor(np.stack(clips)))
    masked = mask_mels(mels, torch.Generator().manual_seed(0))
    changed = (masked != mels)[:, 0]
    whole_bands, whole_frames = changed.all(dim=2), changed.all(dim=1)
    assert whole_frames.any()  # the clip's mean fills runs of frames ...
    assert (whole_bands.sum(1) <= 16).all() and (whole_frames.sum(1) <= 40).all()  # ... at most 2 x 8 bands, 2 x 20 frames
    assert not (changed & ~whole_bands[:, :, None] & ~whole_frames[:, None, :]).any()  # and nothing else changes

    torch.manual_seed(0)
    model = PictureModel(TINY_CONFIG)
    attributes = [SoundAttributes("keys", hz, 1, -20.0) for hz in (220.0, 330.0, 440.0, 660.0)] + [
        SoundAttributes("drums", None, int(rate * 2), -20.0) for rate in (2.0, 3.0, 4.0, 6.0)]
    losses = train_encoder(model, mels.numpy(), attributes, steps=80, seed=1, batch=8, mask=True, log_every=0)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    with torch.no_grad():
        groups = model.encoder.predict(model.embed_audio(np.stack(clips)))["group"].argmax(1)
    assert [GROUPS[g] for g in groups] == ["keys"] * 4 + ["drums"] * 4


def test_timbre_augmentation_recolours_clips_and_a_consistency_finetune_keeps_the_teachers_embeddings():
    from engine.pictures.model import MEL_FLOOR, log_mel
    from engine.training.train_pictures import timbre_mels, train_encoder

    clips = [prepare_clip(sine(hz, seconds=1.0), RATE) for hz in (220.0, 330.0, 440.0, 660.0)] + [
        prepare_clip(clicks(rate), RATE) for rate in (2.0, 3.0, 4.0, 6.0)]
    mels = log_mel(torch.as_tensor(np.stack(clips)))
    assert (mels[:4, 0, :, -20:] <= MEL_FLOOR + 1e-4).all()  # the 1 s notes end in digital silence
    coloured = timbre_mels(mels, torch.Generator().manual_seed(0))
    assert coloured.shape == mels.shape and torch.isfinite(coloured).all() and (coloured >= MEL_FLOOR - 1e-4).all()
    assert ((coloured - mels).abs().mean(dim=(1, 2, 3)) > 0.01).all()  # every clip coloured
    again = timbre_mels(mels, torch.Generator().manual_seed(0))
    assert torch.equal(coloured, again)  # seeded

    torch.manual_seed(0)
    teacher = PictureModel(TINY_CONFIG)
    attributes = [SoundAttributes("keys", hz, 1, -20.0) for hz in (220.0, 330.0, 440.0, 660.0)] + [
        SoundAttributes("drums", None, int(rate * 2), -20.0) for rate in (2.0, 3.0, 4.0, 6.0)]
    train_encoder(teacher, mels.numpy(), attributes, steps=80, seed=1, batch=8, log_every=0)
    with torch.no_grad():
        before = teacher.embed_audio(np.stack(clips))
    drift = {}
    for weight in (0.0, 1.0):
        student = PictureModel(TINY_CONFIG)
        student.load_state_dict(teacher.state_dict())
        student.encoder.requires_grad_(True)
        train_encoder(student, mels.numpy(), attributes, steps=40, seed=2, batch=8, lr=1e-3, timbre=True,
                      teacher=teacher.encoder if weight else None, consistency=weight, log_every=0)
        with torch.no_grad():
            after = student.embed_audio(np.stack(clips))
            groups = student.encoder.predict(after)["group"].argmax(1)
        assert [GROUPS[g] for g in groups] == ["keys"] * 4 + ["drums"] * 4
        drift[weight] = float(((after - before) ** 2).mean() / before.var(dim=0).mean())
    # Pulled towards the teacher, the fine-tuned encoder keeps the embedding space its picture model knows.
    assert drift[1.0] < 0.5 * drift[0.0]


def test_saved_model_loads_back_and_samples_deterministically(tiny_model_dir):
    model = load_picture_model(tiny_model_dir)
    embedding = model.embed_audio(prepare_clip(sine(440.0), RATE)[None, :])
    first = model.sample(embedding, 5, steps=4)
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, load_picture_model(tiny_model_dir).sample(embedding, 5, steps=4))
    assert not np.array_equal(first, model.sample(embedding, 6, steps=4))


def test_a_model_whose_projector_reads_the_encoders_heads_draws_what_they_name(tmp_path):
    """``head_condition``: the projector reads the encoder's attribute heads beside the embedding,
    so changing only what the heads name (the group head's bias) changes the picture drawn for the
    same embedding, which it does not without the setting; the folder keeps the setting and draws
    the same picture when loaded back."""
    torch.manual_seed(0)
    model = PictureModel(dataclasses.replace(TINY_CONFIG, head_condition=True)).eval()
    embedding = model.embed_audio(prepare_clip(sine(440.0), RATE)[None, :])
    picture = model.sample(embedding, 5, steps=4)
    folder = save_picture_model(model, tmp_path / "heads", PictureModelCard(title="reads the heads"), half=False)
    loaded = load_picture_model(folder)
    assert loaded.config.head_condition and np.array_equal(loaded.sample(embedding, 5, steps=4), picture)
    with torch.no_grad():
        loaded.encoder.heads.bias[:7] = torch.arange(7.0) * 10  # the group head now names noise, whatever it hears
    assert np.abs(loaded.sample(embedding, 5, steps=4).astype(int) - picture).mean() > 0.5
    plain = PictureModel(TINY_CONFIG).eval()  # without head_condition the projector reads the embedding alone
    before = plain.sample(embedding, 5, steps=4)
    with torch.no_grad():
        plain.encoder.heads.bias[:7] = torch.arange(7.0) * 10
    assert np.array_equal(plain.sample(embedding, 5, steps=4), before)


def test_clip_preparation_picks_the_loudest_window_and_refuses_silence_and_short_clips():
    quiet_then_loud = np.concatenate([sine(440.0, 3.0, 0.01), sine(880.0, 3.0, 0.5)], axis=1)
    window = prepare_clip(quiet_then_loud, RATE)
    assert window.shape == (40960,) and np.abs(window).max() > 0.4
    with pytest.raises(PictureInputError, match="silent"):
        prepare_clip(np.zeros((1, RATE), np.float32), RATE)
    with pytest.raises(PictureInputError, match="at least 0.25 s"):
        prepare_clip(sine(440.0, 0.1), RATE)


# ---------------------------------------------------------------------------------------------
# The illustrate command: offline path, recipes, regeneration, bad input
# ---------------------------------------------------------------------------------------------


def test_illustrate_writes_pngs_whose_recipes_regenerate_bit_identically(capsys, tmp_path, tiny_model_dir):
    clip = write_wav(tmp_path / "tone.wav", sine(330.0))
    status, out, err = run_cli(capsys, "illustrate", clip, "-o", tmp_path / "pic.png", "--model", tiny_model_dir,
                               "--seed", "7", "--steps", "3", "--variations", "2", "--offline")
    assert status == 0, err
    first, second = tmp_path / "pic_1.png", tmp_path / "pic_2.png"
    assert Image.open(second).size == (64, 64)
    recipe = read_png_recipe(second)
    assert (recipe.task, recipe.seed, recipe.model_id) == ("illustrate", 8, str(tiny_model_dir))
    assert recipe.inputs["audio"]["path"] == str(clip.resolve())
    assert first.read_bytes() != second.read_bytes()
    status, out, err = run_cli(capsys, "regenerate", second, "-o", tmp_path / "again.png", "--offline")
    assert status == 0, err
    assert (tmp_path / "again.png").read_bytes() == second.read_bytes()


def test_illustrate_pictures_change_with_the_audio(tiny_model_dir):
    from engine.api import Engine, EngineSettings
    from engine.tasks.illustrate import IllustrateJob

    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        pictures = [np.asarray(engine.run(IllustrateJob(audio=audio, sample_rate_hz=RATE, model=str(tiny_model_dir),
                                                        seed=3, num_inference_steps=4))[0].pictures[0])
                    for audio in (sine(220.0), clicks(4.0))]
    assert np.abs(pictures[0].astype(int) - pictures[1]).mean() > 0.5


def test_the_starter_picture_model_draws_the_family_it_hears():
    """The shipped model, offline: a sine tone comes out purple (synth), a click train yellow (drums)
    with ticks along the bottom, as the model card says."""
    from engine.pictures.illustrate import load_cached, picture_model_dir

    model = load_cached(picture_model_dir("builtin:pictures"))
    with torch.no_grad():
        embeddings = model.embed_audio(np.stack([prepare_clip(sine(440.0), RATE), prepare_clip(clicks(4.0), RATE)]))
    tone, beat = (model.sample(embeddings[i : i + 1], 0, steps=20).astype(int) for i in range(2))

    def colour(picture):  # mean of the brightest quarter of the pixels: the shapes
        pixels = picture.reshape(-1, 3)
        return pixels[np.argsort(pixels.sum(axis=1))[-len(pixels) // 4 :]].mean(axis=0)

    assert colour(tone)[2] > colour(tone)[1] + 40  # purple: more blue than green
    assert colour(beat)[1] > colour(beat)[2] + 40  # yellow: more green than blue
    assert (beat[56:62].sum(axis=2).max(axis=0) > 150).sum() > (tone[56:62].sum(axis=2).max(axis=0) > 150).sum()


def test_the_starter_picture_model_tells_drums_from_keys_in_sound_fonts_it_never_heard():
    """Held-out sounds (rendered with TimGM6mb and MuseScore General; the model was trained on
    FluidR3 and csound renders and synthesized sounds): every drum hit or beat comes out nearer the drums'
    yellow than the keys' red, every piano or vibraphone note nearer red, for three seeds each."""
    from engine.pictures.illustrate import load_cached, picture_model_dir
    from engine.training import gm_corpus as gm

    fonts = (gm.TIMGM_FONT, gm.MUSESCORE_FONT)
    if not all(font.is_file() for font in fonts) or not gm.FLUID_FONT.is_file():
        pytest.skip(f"needs apt packages {gm.APT_PACKAGES}")
    rng = np.random.default_rng(5)
    drums = [gm.random_clip(rng, "hit"), gm.random_clip(rng, "beat")]
    keys = [gm.random_note(rng, 0, 60), gm.random_note(rng, 11, 72)]  # grand piano C4, vibraphone C5
    model = load_cached(picture_model_dir("builtin:pictures"))
    red, yellow = (np.array(COLOURS[g], float) / np.linalg.norm(COLOURS[g]) for g in ("keys", "drums"))

    def shape_colour(picture):  # mean of the brightest quarter of the pixels (the shapes), normalised
        pixels = picture.reshape(-1, 3).astype(float)
        bright = pixels[np.argsort(pixels.sum(axis=1))[-len(pixels) // 4 :]].mean(axis=0)
        return bright / np.linalg.norm(bright)

    for font in fonts:
        audio = gm.render(drums + keys, sample_rate_hz=16000, duration_s=2.56, font=font)
        with torch.no_grad():
            embeddings = model.embed_audio(np.stack([prepare_clip(a, 16000) for a in audio]))
        for i, clip in enumerate(drums + keys):
            for seed in range(3):
                colour = shape_colour(model.sample(embeddings[i : i + 1], seed, steps=20))
                nearer_yellow = np.linalg.norm(colour - yellow) < np.linalg.norm(colour - red)
                assert nearer_yellow == (i < len(drums)), (font.stem, gm.clip_summary(clip), seed, colour)


@pytest.mark.parametrize(
    ("audio", "message"),
    [(np.zeros((1, RATE), np.float32), "silent"), (sine(440.0, 0.1), "at least 0.25 s")],
)
def test_illustrate_refuses_silence_and_short_clips_in_one_line(capsys, tmp_path, tiny_model_dir, audio, message):
    clip = write_wav(tmp_path / "in.wav", audio)
    status, out, err = run_cli(capsys, "illustrate", clip, "-o", tmp_path / "pic.png", "--model", tiny_model_dir)
    assert status == 1 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "pic.png").exists()


def test_illustrate_names_a_model_that_is_not_downloaded_or_missing(capsys, tmp_path):
    clip = write_wav(tmp_path / "in.wav", sine(440.0))
    hub = tmp_path / "hub"
    status, _, err = run_cli(capsys, "illustrate", clip, "-o", tmp_path / "p.png", "--model", "someone/an-sd-model",
                             "--tagger", TINY_AST_DIR, "--cache-dir", hub)
    assert status == 1 and "'someone/an-sd-model' is not downloaded" in err and len(err.strip().splitlines()) == 1
    status, _, err = run_cli(capsys, "illustrate", clip, "-o", tmp_path / "p.png", "--model", TINY_SD_DIR,
                             "--cache-dir", hub, "--offline")
    assert status == 1 and "ast-finetuned-audioset" in err and "offline mode is on" in err
    status, _, err = run_cli(capsys, "illustrate", clip, "-o", tmp_path / "p.png", "--model", tmp_path / "nowhere")
    assert status == 1 and "nowhere" in err and len(err.strip().splitlines()) == 1
    status, _, err = run_cli(capsys, "illustrate", clip, "-o", tmp_path / "p.wav")
    assert status == 2 and ".png" in err


# ---------------------------------------------------------------------------------------------
# Zero-shot: tags -> prompt -> SD (tiny random AST and SD built from configs)
# ---------------------------------------------------------------------------------------------


def test_prompt_blends_the_users_words_the_tags_and_a_style():
    tags = [("Dog", 0.91), ("Bark", 0.62)]
    assert blend_prompt(tags, "in a park", "watercolour") == "in a park, dog, bark, watercolour"
    assert blend_prompt(tags, "", "") == "dog, bark"
    assert blend_prompt(tags, "my own edited prompt", "watercolour", use_tags=False) == "my own edited prompt"


def test_zero_shot_tags_the_clip_and_draws_with_an_image_model(capsys, tmp_path):
    clip = write_wav(tmp_path / "tone.wav", sine(440.0, 3.0))
    out = tmp_path / "z.png"
    status, stdout, err = run_cli(capsys, "illustrate", clip, "-o", out, "--model", TINY_SD_DIR, "--tagger", TINY_AST_DIR,
                                  "--prompt", "a lighthouse", "--style", "oil painting", "--tags", "3", "--seed", "2",
                                  "--steps", "2", "--size", "64", "--offline", "--device", "cpu")
    assert status == 0, err
    recipe = read_png_recipe(out)
    tags = recipe.facts["tags"]
    assert len(tags) == 3 and all(0.0 <= score <= 1.0 for _, score in tags)
    assert [score for _, score in tags] == sorted((score for _, score in tags), reverse=True)
    assert recipe.facts["prompt"] == blend_prompt([tuple(t) for t in tags], "a lighthouse", "oil painting")
    assert recipe.model_id == str(TINY_SD_DIR.resolve()) and recipe.params["tagger"] == str(TINY_AST_DIR)
    assert Image.open(out).size == (64, 64)
    status, _, err = run_cli(capsys, "regenerate", out, "-o", tmp_path / "again.png", "--offline")
    assert status == 0, err
    assert (tmp_path / "again.png").read_bytes() == out.read_bytes()


# ---------------------------------------------------------------------------------------------
# train-pictures on a folder of pairs
# ---------------------------------------------------------------------------------------------


def test_train_pictures_on_a_folder_of_pairs_writes_a_model_illustrate_uses(capsys, tmp_path, tiny_model_dir):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for name, audio, group in (("low", sine(110.0), "winds"), ("beat", clicks(6.0), "drums")):
        write_wav(pairs / f"{name}.wav", audio)
        Image.fromarray(draw(SoundAttributes(group, 110.0 if group == "winds" else None, 1, -20.0))).save(pairs / f"{name}.png")
    (pairs / "stray.wav").write_bytes((pairs / "low.wav").read_bytes())  # no picture: not a pair
    out = tmp_path / "mine"
    status, stdout, err = run_cli(capsys, "train-pictures", pairs, "-o", out, "--base", tiny_model_dir, "--steps", "30",
                                  "--batch", "4", "--lr", "3e-3", "--checkpoint-every", "10", "--seed", "1")
    assert status == 0, err
    assert "2 pairs" in stdout
    first, last = (float(x) for x in stdout.split("loss ")[1].split(" -> "))
    assert last < first
    assert (out / "checkpoints" / "step-00000010" / "state.pt").is_file()
    status, _, err = run_cli(capsys, "illustrate", pairs / "low.wav", "-o", tmp_path / "p.png", "--model", out,
                             "--steps", "2", "--seed", "1")
    assert status == 0, err
    status, _, err = run_cli(capsys, "train-pictures", tmp_path, "-o", tmp_path / "x", "--base", tiny_model_dir)
    assert status == 1 and "holds no pairs" in err
