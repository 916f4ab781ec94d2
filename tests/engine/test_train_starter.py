"""The starter model's training script (engine.training.train_starter), run for a few steps.

The shipped model is trained by this script with its defaults (51 minutes on 2 cores); here a tiny
configuration checks that a run writes a diffusers folder the engine loads, with the metadata
the app reads, and that the run is reproducible.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from safetensors.numpy import load_file
from transformers import CLIPTokenizer

from engine.training import synth
from engine.training import train_starter as ts
from engine.training.clip_tokenizer import learn_bpe_merges, write_clip_tokenizer

TINY = ts.TrainConfig(
    num_examples=40,
    vae_steps=2,
    vae_batch_size=2,
    unet_steps=3,
    unet_batch_size=4,
    warmup_steps=1,
    text_pretrain_steps=2,
    text_pretrain_batch_size=4,
    decoder_steps=2,
)


def run(config: ts.TrainConfig, out):
    import torch

    before = torch.get_num_threads()
    mine = 1 if config.num_threads != 1 else 2  # not the run's own count
    torch.set_num_threads(mine)
    try:
        stages = [p.stage for p in ts.train(config, out)]
        assert torch.get_num_threads() == mine  # the run's thread setting does not outlive it
    finally:
        torch.set_num_threads(before)
    return stages


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("starter") / "model"
    return out, run(TINY, out)


def test_a_run_reports_every_stage_and_writes_a_diffusers_folder_the_engine_loads(trained):
    from diffusers import StableDiffusionPipeline

    out, stages = trained
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "synthesize", "train-vae", "encode", "train-text", "train-unet", "train-decoder", "save"
    ]
    assert not (out.parent / "model.staging").exists()
    pipe = StableDiffusionPipeline.from_pretrained(out, safety_checker=None)
    assert pipe.vae.config.scaling_factor > 0 and len(pipe.vae.config.block_out_channels) == 4  # downsamples by 8
    assert pipe.unet.config.sample_size == ts.IMAGE_HEIGHT // 8
    assert all(p.suffix != ".bin" for p in out.rglob("*"))


def test_the_metadata_names_the_spectrogram_preset_and_the_training_config(trained):
    from engine.audio.spectrogram import PRESETS, SpectrogramParams

    out, _ = trained
    meta = json.loads((out / ts.METADATA_FILE).read_text())
    assert meta["starter"] is True and meta["spectrogram_preset"] == "starter"
    assert meta["training"]["config"] == {**ts.TrainConfig().__dict__, **TINY.__dict__}
    assert set(meta["training"]["final_loss"]) == {"vae_reconstruction_l1", "unet_epsilon_mse"}
    assert all(math.isfinite(v) for v in meta["training"]["final_loss"].values())
    params = SpectrogramParams(**json.loads((out / ts.SPECTROGRAM_FILE).read_text()))
    assert params == PRESETS["starter"]


def test_the_tokenizer_reads_every_caption_word_as_one_token(trained):
    out, _ = trained
    tokenizer = CLIPTokenizer.from_pretrained(out / "tokenizer")
    for caption in ("a plucked string at E3", "short bursts of pink noise at 6 per second", "a sweep rising from 150 Hz to 3000 Hz"):
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(caption).input_ids)[1:-1]
        assert all(t.endswith("</w>") for t in tokens), tokens  # whole words, digits one by one


def test_the_same_seed_trains_the_same_weights(trained, tmp_path):
    out, _ = trained
    again = tmp_path / "again"
    run(TINY, again)
    for part in ("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        first, second = load_file(out / part), load_file(again / part)
        assert first.keys() == second.keys()
        assert all(np.array_equal(first[k], second[k]) for k in first), part


def test_the_decoder_stage_changes_only_the_decoder(trained, tmp_path):
    """The last stage trains the VAE decoder alone: the encoder, hence every latent the UNet was
    trained on, and the UNet itself are exactly what a run without the stage gives."""
    out, _ = trained
    without = tmp_path / "without"
    run(ts.TrainConfig(**{**TINY.__dict__, "decoder_steps": 0}), without)
    vae, plain = (load_file(folder / "vae/diffusion_pytorch_model.safetensors") for folder in (out, without))
    changed = {k for k in vae if not np.array_equal(vae[k], plain[k])}
    assert changed and all(k.startswith(("decoder.", "post_quant_conv.")) for k in changed), sorted(changed)[:5]
    unet = "unet/diffusion_pytorch_model.safetensors"
    assert all(np.array_equal(a, b) for a, b in zip(load_file(out / unet).values(), load_file(without / unet).values()))


def test_caption_facts_name_only_what_the_caption_says():
    facts = ts.caption_facts("a sine tone at 440 Hz", {"freq_hz": 440.0})
    assert facts[0] == 0 and np.isnan(facts[1:]).all()
    assert ts.caption_facts("a plucked string at A3", {"freq_hz": 220.0})[0] == pytest.approx(-1.0)
    assert np.isnan(ts.caption_facts("an A major chord", {"root_hz": 220.0})).all()
    assert ts.caption_facts("clicks at 4 per second", {"rate_per_s": 4})[1] == pytest.approx(2.0)
    sweep = ts.caption_facts("a sweep rising from 220 Hz to 880 Hz", {"start_hz": 220, "end_hz": 880})
    assert sweep[2:] == pytest.approx([-1.0, 1.0]) and np.isnan(sweep[0])
    assert np.isnan(ts.caption_facts("a rising sweep", {"start_hz": 220, "end_hz": 880})).all()


def test_bad_configs_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="unet_steps"):
        ts.TrainConfig(unet_steps=-1)  # (0 is a continuation that trains only a new decoder)
    with pytest.raises(ValueError, match="caption_dropout"):
        ts.TrainConfig(caption_dropout=1.0)
    with pytest.raises(ValueError, match="vae_crop"):
        ts.TrainConfig(vae_crop=60)


def test_learned_merges_make_each_word_one_token_and_are_deterministic(tmp_path):
    corpus = ["a rising sweep", "a falling sweep", "white noise", "a sine tone at 440 Hz"]
    merges = learn_bpe_merges(corpus)
    assert merges == learn_bpe_merges(list(reversed(corpus)))
    write_clip_tokenizer(tmp_path, merges, 16)
    tokenizer = CLIPTokenizer.from_pretrained(tmp_path)
    assert tokenizer.convert_ids_to_tokens(tokenizer("A rising sweep at 440 Hz").input_ids)[1:-1] == [
        "a</w>", "rising</w>", "sweep</w>", "at</w>", "4</w>", "4</w>", "0</w>", "hz</w>"
    ]
    # A word never seen still tokenizes (byte-level fallback), so no prompt is ever refused.
    assert len(tokenizer("zebra").input_ids) > 3
    assert len(synth.caption_vocabulary()) > 1000


def test_word_dropout_drops_only_filler_words_and_keeps_what_the_caption_names(tmp_path):
    # text_word_dropout teaches the text encoder to read "440 Hz sine" as "a sine wave at 440 Hz":
    # it may drop "a", "at", "wave"..., never a digit, a unit, a note or an instrument, and the
    # caption stays one caption (start, the kept words in order, end, padding).
    import torch

    from engine.training import captions

    ts.write_tokenizer(tmp_path, captions.vocabulary_texts())
    tokenizer = CLIPTokenizer.from_pretrained(tmp_path)
    texts = ["a sine wave at 440 Hz", "a violin playing the note G4 at 120 BPM"]  # (different last words)
    ids = ts._tokenize(tokenizer, texts)
    mask = ts.filler_token_mask(tokenizer)
    assert {tokenizer.decode([i]) for i in torch.nonzero(mask).flatten().tolist()} <= set(captions.FILLER_WORDS)
    assert int(mask.sum()) >= 15  # (fillers no caption uses are not in the vocabulary)
    dropped = ts.drop_words(ids.repeat(200, 1), mask, 0.5, tokenizer.pad_token_id, torch.Generator().manual_seed(0))
    special = {tokenizer.bos_token_id, tokenizer.eos_token_id}
    originals = [[t for t in row.tolist() if t not in special] for row in ids]
    seen = set()
    for row in dropped.tolist():
        words = [t for t in row if t not in special]
        original = originals[0] if words[-1] == originals[0][-1] else originals[1]
        assert [t for t in words if not mask[t]] == [t for t in original if not mask[t]]  # facts all kept, in order
        seen.add(tuple(words))
    assert len(seen) > 20 and {tuple(t for t in o if not mask[t]) for o in originals} <= seen  # all fillers can go
    eos = tokenizer.eos_token_id
    assert (dropped == eos).any(dim=1).all() and (dropped[:, 0] == tokenizer.bos_token_id).all()
    assert torch.equal(ts.drop_words(ids, mask, 0.0, tokenizer.pad_token_id, torch.Generator()), ids)
