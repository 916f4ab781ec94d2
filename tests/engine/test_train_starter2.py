"""Starter model 2's training script (engine.training.train_starter2), run for a few steps on a
handful of rendered and synthesized sounds: the data is seeded, captioned only in training
phrasings, and the run writes a model folder the engine loads."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from transformers import CLIPTokenizer

from engine.training import captions, gm_corpus, synth
from engine.training import train_starter as ts
from engine.training import train_starter2 as t2

pytestmark = pytest.mark.skipif(not gm_corpus.FLUID_FONT.is_file(), reason=f"needs apt packages {gm_corpus.APT_PACKAGES}")

TINY = t2.Train2Config(
    num_examples=8,
    num_gm_examples=16,
    render_workers=2,
    vae_steps=2,
    vae_batch_size=2,
    unet_steps=2,
    unet_batch_size=4,
    warmup_steps=1,
    text_pretrain_steps=2,
    text_pretrain_batch_size=4,
    decoder_steps=1,
    # The plain model family (the continuation tests below start from it); the default recipe's
    # hint UNet and wide decoder are trained from scratch in their own test.
    hints=False,
    decoder_widths="",
)


def dataset(config: t2.Train2Config):
    items = list(t2.build_dataset(config))
    assert {p.stage for p in items[:-1]} == {"synthesize", "render"}
    return items[-1]


def test_the_training_data_is_seeded_sounds_captioned_only_in_training_phrasings():
    first, again = dataset(TINY), dataset(TINY)
    assert first.images.shape == (24, 160, 128)
    assert np.array_equal(first.images, again.images) and first.captions == again.captions
    assert not np.array_equal(dataset(t2.Train2Config(**{**TINY.__dict__, "seed": 1})).images, first.images)
    assert (first.images.reshape(24, -1).min(axis=1) < 200).all()  # every image holds a sound (255 = silence)
    assert set(first.kinds[:8]) <= set(captions.SOUND_KINDS) and set(first.kinds[8:]) <= set(gm_corpus.CLIP_KINDS)
    assert all(len(index) >= 3 for index in first.caption_index)
    assert first.caption_facts.shape == (len(first.captions), len(captions.NUMERIC_FACTS))
    assert first.caption_classes.shape == (len(first.captions), 3) and first.class_counts[1] == 128
    held_out = {t.split("{")[0] for templates in captions.HELD_OUT_TEMPLATES.values() for t in templates}
    assert held_out  # (the exhaustive check is tests/engine/test_captions.py)
    pitched = [c for c in first.captions if re.search(r"\b[A-G]#?\d\b", c)]
    facts = first.caption_facts[[first.captions.index(c) for c in pitched]]
    assert np.isfinite(facts[:, 0]).all()  # a caption naming a note gives its pitch to the probe


def test_any_numbers_captions_name_whole_numbers_the_sounds_have():
    # With any_numbers the captions name tones at any whole Hz and beats at any whole BPM, and
    # the probe facts are those numbers; the switch is on the command line as true/false.
    config = t2.Train2Config(**{**TINY.__dict__, "num_examples": 40, "num_gm_examples": 4, "any_numbers": True})
    data = dataset(config)
    free = set()
    for caption, facts in zip(data.captions, data.caption_facts):
        named = re.findall(r"(\d+) ?(?:Hz|hz|hertz)", caption)
        if len(named) == 1 and np.isfinite(facts[0]):
            assert abs(int(named[0]) - 440 * 2 ** facts[0]) <= 0.5, caption  # the probe learns the named pitch
            free.add(int(named[0]))
    notes = {round(synth.note_to_hz(n)) for n in synth.named_notes()}
    assert len(free - set(synth.ROUND_FREQUENCIES_HZ) - notes) >= 2  # whole Hz that are neither round nor notes
    assert [ts._parse_bool(t) for t in ("true", "False", "1", "no")] == [True, False, True, False]
    with pytest.raises(SystemExit):  # argparse's usage error, before anything is trained
        t2.main(["--any-numbers", "maybe", "--out", "/nonexistent"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("starter2") / "model"
    stages = [p.stage for p in t2.train(TINY, out)]
    return out, stages


def test_a_run_renders_trains_and_writes_a_model_the_engine_loads(trained):
    from diffusers import StableDiffusionPipeline

    out, stages = trained
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "synthesize", "render", "train-vae", "encode", "train-text", "train-unet", "train-decoder", "save"
    ]
    pipe = StableDiffusionPipeline.from_pretrained(out, safety_checker=None)
    assert pipe.unet.config.block_out_channels == [32, 64, 64] and pipe.unet.config.sample_size == 20
    assert json.loads((out / "spectrogram.json").read_text())["num_frequencies"] == 160
    meta = json.loads((out / "starter.json").read_text())
    assert meta["starter"] is True and meta["training"]["script"] == "python -m engine.training.train_starter2"
    assert {"Piano", "Drum kit", "Applause", "Helicopter", "Sine wave"} <= set(meta["audioset_classes"])
    assert meta["training"]["config"]["num_gm_examples"] == 16


def test_the_tokenizer_reads_the_new_vocabulary_as_whole_words(trained):
    out, _ = trained
    tokenizer = CLIPTokenizer.from_pretrained(out / "tokenizer")
    for caption in ("a violin playing middle C", "a 120 BPM four on the floor beat", "ocean waves", "a spectrogram of the sound of Telephone bell ringing"):
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(caption).input_ids)[1:-1]
        assert all(t.endswith("</w>") for t in tokens), tokens
        assert len(tokens) + 2 <= tokenizer.model_max_length


def test_a_run_can_reuse_an_earlier_runs_vae_and_size_its_text_encoder(trained, tmp_path):
    """--vae-from: the VAE and decoder stages are skipped, the saved VAE is the earlier one's
    bit for bit (its scaling factor included), and the text encoder takes the configured size
    (here with the next run's any-number captions and word dropout, which the card records)."""
    import torch
    from diffusers import AutoencoderKL
    from transformers import CLIPTextModel

    earlier, _ = trained
    out = tmp_path / "again"
    config = t2.Train2Config(
        **{**TINY.__dict__, "text_layers": 3, "text_hidden_size": 32, "any_numbers": True, "text_word_dropout": 0.25}
    )
    stages = [p.stage for p in t2.train(config, out, vae_from=earlier)]
    assert "train-vae" not in stages and "train-decoder" not in stages and stages[-1] == "save"
    old, new = AutoencoderKL.from_pretrained(earlier / "vae"), AutoencoderKL.from_pretrained(out / "vae")
    assert new.config.scaling_factor == old.config.scaling_factor
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    text = CLIPTextModel.from_pretrained(out / "text_encoder")
    assert text.config.num_hidden_layers == 3 and text.config.hidden_size == 32
    training = json.loads((out / "starter.json").read_text())["training"]
    assert training["vae_from"] == str(earlier)
    assert training["config"]["any_numbers"] is True and training["config"]["text_word_dropout"] == 0.25


def test_a_run_can_continue_an_earlier_run_from_its_weights(trained, tmp_path):
    """--init-from: the earlier run's VAE, UNet and text encoder are where the new run starts.
    With a vanishing learning rate the continued model is the earlier one (a fresh start would
    be random weights); the text stage fits the probe without moving the encoder; the card keeps
    both runs' records. Another width, another tokenizer or another VAE folder are refused."""
    import shutil

    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    earlier, _ = trained
    out = tmp_path / "continued"
    config = t2.Train2Config(**{**TINY.__dict__, "seed": 1, "unet_lr": 1e-12})
    stages = [p.stage for p in t2.train(config, out, init_from=earlier)]
    assert "train-vae" not in stages and "train-decoder" not in stages
    assert "train-text" in stages and "train-unet" in stages and stages[-1] == "save"
    for cls, name in ((UNet2DConditionModel, "unet"), (CLIPTextModel, "text_encoder")):
        old, new = cls.from_pretrained(earlier / name).state_dict(), cls.from_pretrained(out / name).state_dict()
        assert all(torch.allclose(old[k].float(), new[k].float(), atol=1e-6) for k in old), name
    training = json.loads((out / "starter.json").read_text())["training"]
    assert training["init_from"] == str(earlier) and training["vae_from"] == str(earlier)
    assert training["earlier_training"] == json.loads((earlier / "starter.json").read_text())["training"]
    assert training["config"]["seed"] == 1

    with pytest.raises(ValueError, match="another shape"):
        list(t2.train(t2.Train2Config(**{**TINY.__dict__, "unet_width": 16}), tmp_path / "wide", init_from=earlier))
    other = tmp_path / "other-tokenizer"
    shutil.copytree(earlier, other)
    vocab = json.loads((other / "tokenizer" / "vocab.json").read_text())
    (other / "tokenizer" / "vocab.json").write_text(json.dumps({**vocab, "newword</w>": len(vocab)}))
    with pytest.raises(ValueError, match="another tokenizer"):
        list(t2.train(TINY, tmp_path / "tok", init_from=other))
    with pytest.raises(ValueError, match="own VAE"):
        list(t2.train(TINY, tmp_path / "vae", vae_from=other, init_from=earlier))


def test_a_plain_run_continues_into_one_with_a_frequency_embedding_the_engine_loads(trained, tmp_path):
    """--frequency-embedding true with --init-from a plain run: the continued UNet is a
    FrequencyUNet2DConditionModel whose embedding starts at zero, so with a vanishing learning
    rate it computes what the earlier UNet did; the folder loads through the app's model store
    with the embedding in place; a frequency run cannot be continued as a plain one."""
    import torch
    from safetensors.torch import load_file

    from engine.models.frequency_unet import FrequencyUNet2DConditionModel
    from engine.models.loading import LoadPolicy, load_pipeline
    from engine.models.store import ModelStore

    earlier, _ = trained
    out = tmp_path / "freq"
    config = t2.Train2Config(**{**TINY.__dict__, "seed": 1, "unet_lr": 1e-12, "frequency_embedding": True})
    list(t2.train(config, out, init_from=earlier))
    old = load_file(earlier / "unet" / "diffusion_pytorch_model.safetensors")
    new = load_file(out / "unet" / "diffusion_pytorch_model.safetensors")
    assert new.keys() - old.keys() == {"conv_in.frequency_embedding"}
    assert new["conv_in.frequency_embedding"].shape == (32, 20)
    assert float(new["conv_in.frequency_embedding"].abs().max()) < 1e-6
    assert json.loads((out / "model_index.json").read_text())["unet"] == [
        "engine.models.frequency_unet", "FrequencyUNet2DConditionModel"
    ]
    unet = load_pipeline(ModelStore().resolve(str(out)), LoadPolicy(device="cpu", precision="fp32")).pipeline.unet
    assert isinstance(unet, FrequencyUNet2DConditionModel)
    assert torch.equal(unet.conv_in.frequency_embedding.detach(), new["conv_in.frequency_embedding"])
    assert json.loads((out / "starter.json").read_text())["training"]["config"]["frequency_embedding"] is True

    with pytest.raises(ValueError, match="another shape"):
        list(t2.train(TINY, tmp_path / "plain-again", init_from=out))


def test_a_vae_of_another_spectrogram_is_refused(trained, tmp_path):
    earlier, _ = trained
    other = tmp_path / "other"
    (other / "vae").mkdir(parents=True)
    (other / "spectrogram.json").write_text(json.dumps({**t2.STARTER2_SPECTROGRAM, "num_frequencies": 128}))
    with pytest.raises(ValueError, match="not a starter model of this spectrogram"):
        list(t2.train(TINY, tmp_path / "out", vae_from=other))


def test_a_plain_run_continues_into_a_hint_unet_the_engine_loads(trained, tmp_path):
    """--hints true with --init-from a plain run: the UNet becomes a HintUNet2DConditionModel
    whose hint convolution starts at zero (with a vanishing learning rate it makes what the
    earlier model made, through the app's loading path), its caption reader trains last, and the
    beats and arpeggios of the data carry their first beat's time."""
    import torch
    from safetensors.torch import load_file

    from engine.models.hint_unet import HintUNet2DConditionModel
    from engine.models.loading import LoadPolicy, load_pipeline
    from engine.models.store import ModelStore

    earlier, _ = trained
    out = tmp_path / "hints"
    config = t2.Train2Config(**{**TINY.__dict__, "seed": 1, "unet_lr": 1e-12, "hints": True, "reader_steps": 3})
    stages = [p.stage for p in t2.train(config, out, init_from=earlier)]
    assert stages.index("train-reader") > stages.index("train-unet") and stages[-1] == "save"
    new = load_file(out / "unet" / "diffusion_pytorch_model.safetensors")
    assert float(new["conv_in.hint.weight"].abs().max()) < 1e-6 and any(k.startswith("caption_reader.") for k in new)
    assert json.loads((out / "model_index.json").read_text())["unet"] == ["engine.models.hint_unet", "HintUNet2DConditionModel"]
    images = []
    for folder in (earlier, out):
        pipe = load_pipeline(ModelStore().resolve(str(folder)), LoadPolicy(device="cpu", precision="fp32")).pipeline
        generator = torch.Generator().manual_seed(0)
        images.append(pipe("a rock beat at 120 BPM", num_inference_steps=2, height=160, width=128, generator=generator, output_type="np").images)
    assert isinstance(pipe.unet, HintUNet2DConditionModel) and pipe.unet.config.hint_mel_bins == 160
    assert pipe.unet.config.hint_pulse_strength == config.hint_pulse_strength == 1.5  # the sampling strength is saved
    assert np.allclose(images[0], images[1], atol=1e-4)
    with pytest.raises(ValueError, match="choose one"):
        t2.make_unet(t2.Train2Config(frequency_embedding=True, hints=True))

    data = dataset(t2.Train2Config(**{**TINY.__dict__, "num_gm_examples": 40}))
    periodic = [i for i, kind in enumerate(data.kinds) if kind in ("beat", "arpeggio")]
    assert periodic and np.isfinite(data.onsets[periodic]).all() and (data.onsets[periodic] < 0.8).all()
    assert np.isnan(data.onsets[[i for i, kind in enumerate(data.kinds) if kind in ("note", "chord", "effect")]]).all()


def test_a_continuation_can_give_the_model_a_wider_decoder_and_keep_its_unet(trained, tmp_path):
    """--decoder-widths with --init-from and no UNet steps: only a new, wider decoder trains, on
    the frozen encoder's latents, so the UNet, the text encoder and the encoder (every latent the
    UNet learned) are the earlier run's bit for bit; the decoder learned (its reconstruction error
    fell from its fresh start), and the folder loads through the app's path and makes a clip."""
    import torch
    from safetensors.torch import load_file

    from engine.models.decoder_vae import DecoderAutoencoderKL, with_decoder
    from engine.models.loading import LoadPolicy, load_pipeline
    from engine.models.store import ModelStore

    earlier, _ = trained
    out = tmp_path / "decoder"
    config = t2.Train2Config(**{**TINY.__dict__, "seed": 1, "unet_steps": 0, "text_pretrain_steps": 0,
                                "decoder_widths": "16,16,32,32", "decoder_steps": 40})  # fmt: skip
    stages = [p.stage for p in t2.train(config, out, init_from=earlier)]
    assert "train-vae" not in stages and "train-unet" not in stages and "train-decoder" in stages
    for name, file in (("unet", "diffusion_pytorch_model.safetensors"), ("text_encoder", "model.safetensors")):
        old, new = load_file(earlier / name / file), load_file(out / name / file)
        assert old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old), name
    old_vae = load_file(earlier / "vae" / "diffusion_pytorch_model.safetensors")
    new_vae = load_file(out / "vae" / "diffusion_pytorch_model.safetensors")
    kept = [k for k in old_vae if not k.startswith(("decoder.", "post_quant_conv."))]
    assert kept and all(torch.equal(old_vae[k], new_vae[k]) for k in kept)
    assert json.loads((out / "model_index.json").read_text())["vae"] == ["engine.models.decoder_vae", "DecoderAutoencoderKL"]
    assert json.loads((out / "starter.json").read_text())["training"]["final_loss"]["unet_epsilon_mse"] is None

    pipe = load_pipeline(ModelStore().resolve(str(out)), LoadPolicy(device="cpu", precision="fp32")).pipeline
    assert isinstance(pipe.vae, DecoderAutoencoderKL)
    assert [b.resnets[0].conv1.out_channels for b in pipe.vae.decoder.up_blocks] == [32, 32, 16, 16]
    images = dataset(TINY).images
    torch.manual_seed(1)
    fresh = with_decoder(ts._reused_vae(earlier, t2.STARTER2_RECIPE), (16, 16, 32, 32))
    errors = [float((recon - x).abs().mean()) for x, recon in (ts.reconstruct(v, images) for v in (fresh, pipe.vae))]
    assert errors[1] < 0.7 * errors[0]
    clip = pipe("a violin note at G4", num_inference_steps=2, height=160, width=128, generator=torch.Generator().manual_seed(0), output_type="np").images
    assert clip.shape == (1, 160, 128, 3) and np.isfinite(clip).all()

    with pytest.raises(ValueError, match="decoder_widths"):
        t2.Train2Config(decoder_widths="16,32")
    with pytest.raises(ValueError, match="needs `decoder_steps`"):
        t2.Train2Config(decoder_widths="16,16,32,32", decoder_steps=0)
    with pytest.raises(ValueError, match="only continues an earlier run"):
        list(t2.train(t2.Train2Config(**{**TINY.__dict__, "unet_steps": 0}), tmp_path / "untrained"))


def test_the_default_recipe_trains_a_hint_unet_and_a_wide_decoder_from_scratch_in_one_run(tmp_path):
    """`python -m engine.training.train_starter2` with no options makes the shipped model's kind
    of model in one run (README: 84 minutes on 2 cores): a hint UNet whose caption reader trains
    after it, then the wide decoder on the frozen encoder's latents, in a folder the app loads and
    generates with."""
    import torch

    from engine.models.decoder_vae import DecoderAutoencoderKL
    from engine.models.hint_unet import HintUNet2DConditionModel
    from engine.models.loading import LoadPolicy, load_pipeline
    from engine.models.store import ModelStore

    defaults = t2.Train2Config()
    assert defaults.hints and defaults.decoder_width_list() == (16, 32, 64, 64) and defaults.decoder_steps == 4000
    config = t2.Train2Config(**{**TINY.__dict__, "hints": True, "decoder_widths": defaults.decoder_widths, "reader_steps": 2})
    out = tmp_path / "default-recipe"
    stages = [p.stage for p in t2.train(config, out)]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "synthesize", "render", "train-vae", "encode", "train-text", "train-unet", "train-reader", "train-decoder", "save"
    ]
    pipe = load_pipeline(ModelStore().resolve(str(out)), LoadPolicy(device="cpu", precision="fp32")).pipeline
    assert isinstance(pipe.unet, HintUNet2DConditionModel) and isinstance(pipe.vae, DecoderAutoencoderKL)
    assert [b.resnets[0].conv1.out_channels for b in pipe.vae.decoder.up_blocks] == [64, 64, 32, 16]
    clip = pipe("a rock beat at 120 BPM", num_inference_steps=2, height=160, width=128,
                generator=torch.Generator().manual_seed(0), output_type="np").images  # fmt: skip
    assert clip.shape == (1, 160, 128, 3) and np.isfinite(clip).all()
