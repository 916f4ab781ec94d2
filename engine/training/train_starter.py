"""Train the starter model: a small text-to-spectrogram latent diffusion model on synthetic sounds.

    python -m engine.training.train_starter --out resources/models/starter

Writes a diffusers ``StableDiffusionPipeline`` folder (AutoencoderKL that downsamples by 8,
UNet2DConditionModel, CLIPTextModel + CLIPTokenizer, DDPM-style scheduler config; safetensors)
plus two files the app reads:

* ``spectrogram.json``: the :class:`engine.audio.spectrogram.SpectrogramParams` fields the model
  was trained with (``SpectrogramParams(**json.load(f))`` rebuilds them). The images are
  Riffusion-convention spectrogram images made by :func:`engine.audio.spectrogram.image_from_audio`.
* ``starter.json``: catalog metadata (title, description, training resolution and duration,
  suggested steps and guidance).

Everything is trained from scratch on sounds that :mod:`engine.training.synth` synthesizes
(seeded), in stages: (1) the VAE on spectrogram images, (2) the dataset is encoded to latents
once, (3) the text encoder learns to read its captions (a linear probe of pitch, rate, sweep
ends and sound family), (4) the UNet and the text encoder jointly, with 10% caption dropout so
classifier-free guidance works, (5) the VAE decoder alone, the encoder frozen. The tokenizer is
a CLIP byte-level BPE whose merges are learned here from the caption vocabulary (nothing is
downloaded). The run is deterministic for a given seed, thread count and machine; the shipped
model took 51 minutes on an otherwise idle 2-core machine (two threads), 42 of them in stage 4.

Training is a generator (:func:`train`) yielding :class:`engine.specs.Progress`, like every
long job in the engine; ``main`` prints it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.params import get_preset
from engine.specs import Progress
from engine.training import synth
from engine.training.clip_tokenizer import BOS_TOKEN, EOS_TOKEN, learn_bpe_merges, write_clip_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "resources" / "models" / "starter"

#: The spectrogram the starter model works in (Riffusion's SpectrogramParams fields): the
#: 'starter' preset of engine.audio.params, the one place it is defined. 128 mel rows from 0 to
#: 4 kHz at 22.05 kHz: near 440 Hz a mel row is ~17 Hz wide, so the 26 Hz semitone above A4 lands
#: ~1.5 rows higher; 100 ms Hann windows (~20 Hz main-lobe half width) keep the two apart. 20 ms
#: per column: 128 columns are 2.56 s.
STARTER_SPECTROGRAM: dict[str, Any] = {
    key: value for key, value in get_preset("starter").to_dict().items() if key != "stereo"
}
#: Training resolution: image height (mel rows) x width (columns) and the clip length it covers.
IMAGE_HEIGHT = 128
IMAGE_WIDTH = 128
DURATION_S = IMAGE_WIDTH * STARTER_SPECTROGRAM["step_size_ms"] / 1000.0  # 2.56 s

SPECTROGRAM_FILE = "spectrogram.json"
METADATA_FILE = "starter.json"
STARTER_TITLE = "Starter model (synthetic sounds only)"
STARTER_DESCRIPTION = (
    "Starter model (synthetic sounds only) - download a real model for music and sound effects"
)

MAX_TOKEN_LENGTH = 32
TEXT_HIDDEN_SIZE = 64


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train`. The defaults are the shipped model's."""

    seed: int = 0
    # Both cores: a UNet step takes 0.19 s on two threads of an otherwise idle 2-core machine,
    # 0.30 s on one. (With another busy process on the cores, two threads spin-wait and run many
    # times slower than one: then pass --num-threads 1.) The weights depend on the thread count.
    num_threads: int = 2
    num_examples: int = 8000
    # 600 steps left white noise's fine texture blurred (flatness 0.46 -> 0.30 through the VAE).
    vae_steps: int = 1500
    vae_batch_size: int = 16
    vae_crop: int = 64
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6
    # "a sine tone at 440 Hz" within a semitone, seeds 0-9: 3 of 10 after 4000 steps, 9 after 6000
    # (over seeds 0-29: 70%, the misses two mel rows sharp); 10000 steps with ema_decay 0.999:
    # 30 of 30, and tone prompts from 220 Hz to 1760 Hz within a semitone for 99% of clips (the
    # 6000-step model: 64% over 220-880 Hz). Below ~200 Hz, where a mel row is wider than a
    # semitone, tones still come out 1-3 semitones flat.
    unet_steps: int = 10000
    unet_batch_size: int = 32
    unet_lr: float = 6e-4
    # Learning-rate multiplier of the text encoder in the joint stage. It arrives there already
    # reading its captions (text_pretrain_steps), so it moves at the UNet's rate.
    text_lr_scale: float = 1.0
    warmup_steps: int = 100
    # An average over the last ~1000 steps (0.995: ~200), which the longer run allows.
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    min_snr_gamma: float = 5.0
    # Weight of an auxiliary loss that makes the text encoder's end-of-text state say what the
    # caption names, through a linear probe: the pitch and the rate (log2), a sweep's end points
    # and the sound family. Without it the encoder, learning only from the diffusion loss, left
    # "220 Hz" and "880 Hz" nearly identical after 3500 steps (the digits are separate tokens;
    # their place value has to be composed) and mixed up "white noise" with noise bursts.
    # 0 turns it off.
    caption_aux_weight: float = 0.1
    # Steps of probe-only training of the text encoder before the UNet starts (0: none).
    text_pretrain_steps: int = 1500
    text_pretrain_batch_size: int = 128
    # Probability of dropping each filler word (captions.FILLER_WORDS: articles, prepositions,
    # "pure", "wave", "playing"...) from a caption, while the text encoder is pretrained and in the
    # joint stage, so that what it reads does not hang on the exact wording of the training
    # templates (0: off).
    text_word_dropout: float = 0.0
    # Last stage: the VAE decoder alone is trained further on the same images, the encoder (and so
    # every latent the UNet learned) frozen, as Stable Diffusion's ft-MSE decoder was. After the
    # joint stage the decoder still darkened loud broadband images: real white noise came back
    # through encode/decode with spectral flatness 0.25 instead of 0.45, and so did every white
    # noise the UNet made. 0 turns it off.
    decoder_steps: int = 2000
    decoder_lr: float = 5e-4
    # A decoder wider than the encoder (engine.models.decoder_vae), comma-separated widths per
    # level, trained from scratch in the decoder stage on the frozen encoder's latents; with
    # ``--init-from`` (or ``--vae-from``) that stage then runs on the reused VAE, whose UNet stays
    # valid. "" keeps the VAE's own decoder.
    decoder_widths: str = ""
    # The text encoder's size (CLIP text transformer layers and width).
    text_layers: int = 2
    text_hidden_size: int = 64

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (bool, str)):
                continue
            if f.name in ("caption_dropout", "ema_decay", "text_word_dropout"):
                if not 0 <= value < 1:
                    raise ValueError(f"`{f.name}` must be in [0, 1), got {value}.")
            elif f.name in ("caption_aux_weight", "text_pretrain_steps", "decoder_steps", "unet_steps", "reader_steps"):
                # (0 UNet steps: a continuation that trains only a new decoder; see _train)
                if not value >= 0:
                    raise ValueError(f"`{f.name}` must be >= 0, got {value}.")
            elif f.name != "seed" and not value > 0:
                raise ValueError(f"`{f.name}` must be positive, got {value}.")
        if self.vae_crop % 8 or self.vae_crop > min(IMAGE_HEIGHT, IMAGE_WIDTH):
            raise ValueError(f"`vae_crop` must be a multiple of 8 up to {IMAGE_HEIGHT}, got {self.vae_crop}.")
        widths = self.decoder_width_list()
        if widths and (len(widths) != len(VAE_WIDTHS) or min(widths) < 8 or any(w % 8 for w in widths)):
            raise ValueError(
                f"`decoder_widths` must be {len(VAE_WIDTHS)} comma-separated multiples of 8, got {self.decoder_widths!r}."
            )
        if widths and not self.decoder_steps:
            raise ValueError("a new decoder (`decoder_widths`) needs `decoder_steps` to train it.")

    def decoder_width_list(self) -> tuple[int, ...]:
        """``decoder_widths`` as numbers (empty: the VAE's own decoder)."""
        try:
            return tuple(int(w) for w in self.decoder_widths.replace(" ", "").split(",") if w)
        except ValueError:
            raise ValueError(f"`decoder_widths` must be comma-separated whole numbers, got {self.decoder_widths!r}.") from None


# ---------------------------------------------------------------------------------------------
# Tokenizer: a CLIP byte-level BPE learned from the caption vocabulary
# ---------------------------------------------------------------------------------------------


def write_tokenizer(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """Write a CLIPTokenizer covering ``corpus`` (merges learned from it until every caption
    word is one token); return the vocab."""
    return write_clip_tokenizer(folder, learn_bpe_merges(corpus), MAX_TOKEN_LENGTH)


# ---------------------------------------------------------------------------------------------
# Model components (constructor configs; geometry of SD: VAE downsamples by 8 into 4 channels)
# ---------------------------------------------------------------------------------------------


#: The starter VAE's channels per level (the decoder's too, unless ``decoder_widths``).
VAE_WIDTHS = (8, 16, 32, 32)


def make_vae(sample_size: int = IMAGE_HEIGHT) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=VAE_WIDTHS,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=sample_size,
    )


def make_unet(
    sample_size: int = IMAGE_HEIGHT // 8,
    block_out_channels: tuple[int, ...] = (32, 64, 64),
    cross_attention_dim: int = TEXT_HIDDEN_SIZE,
) -> Any:
    """A small SD-style UNet. Besides cross-attention, the pooled prompt embedding is added to the
    timestep embedding (``addition_embed_type="text"``) and every ResNet block is modulated by it
    (scale and shift): a global path that learns "which pitch / which rate" far faster from
    scratch than cross-attention alone (in a pilot run, 800 steps of cross-attention only left the
    pitch independent of the prompt). Cross-attention at the 16x16 level too doubled the step
    time on CPU, so it runs at 8x8 and 4x4 only. ``sample_size`` is the latent height,
    ``block_out_channels`` the width of the three levels, ``cross_attention_dim`` the text
    encoder's width."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=tuple(block_out_channels),
        layers_per_block=1,
        norm_num_groups=16,
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=4,
        addition_embed_type="text",
        addition_embed_type_num_heads=4,
        resnet_time_scale_shift="scale_shift",
    )


def make_text_encoder(vocab: dict[str, int], hidden_size: int = TEXT_HIDDEN_SIZE, layers: int = 2) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        intermediate_size=4 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKEN_LENGTH,
        layer_norm_eps=1e-5,
        hidden_act="quick_gelu",
        bos_token_id=vocab[BOS_TOKEN],
        eos_token_id=vocab[EOS_TOKEN],
        pad_token_id=vocab[EOS_TOKEN],
    )
    return CLIPTextModel(config)


def make_scheduler() -> Any:
    """Stable Diffusion 1.x's noise schedule (the app builds its samplers from this config)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        clip_sample=False,
        steps_offset=1,
        prediction_type="epsilon",
    )


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def spectrogram_params() -> Any:
    """The starter model's :class:`engine.audio.spectrogram.SpectrogramParams`."""
    from engine.audio.spectrogram import SpectrogramParams

    return SpectrogramParams(**STARTER_SPECTROGRAM)


def image_array(audio: np.ndarray, params: Any, width: int = IMAGE_WIDTH) -> np.ndarray:
    """Riffusion spectrogram image of mono ``audio`` as uint8 (rows, ``width``) (the R channel;
    rows = ``params.num_frequencies``)."""
    from engine.audio.spectrogram import image_from_audio

    image = np.asarray(image_from_audio(np.asarray(audio, dtype=np.float32)[None], params, width=width))
    return np.ascontiguousarray(image[..., 0])


@dataclass(frozen=True, eq=False)
class Dataset:
    """``images`` uint8 (N, H, W); ``captions`` the unique caption strings; ``caption_index[i]``
    the indices (into ``captions``) of example i's captions; ``kinds[i]`` its sound family;
    ``caption_facts[c]`` the numbers caption c names (:func:`caption_facts`; NaN where it names
    none) and ``caption_classes[c, h]`` what it names for each categorical head h of the caption
    probe (``class_counts[h]`` classes; -100 where it names nothing), e.g. the index in
    ``synth.KINDS`` of the family it describes."""

    images: np.ndarray
    captions: tuple[str, ...]
    caption_index: tuple[tuple[int, ...], ...]
    kinds: tuple[str, ...]
    caption_facts: np.ndarray
    caption_classes: np.ndarray
    class_counts: tuple[int, ...]
    #: Per sound: the time (s) of its first beat or event where its events are periodic, else
    #: NaN (the hint UNet's pulse train, engine.training.hints); None: no sound is periodic.
    onsets: np.ndarray | None = None


def synthesize_dataset(num_examples: int, seed: int) -> Iterator[Progress | Dataset]:
    """Synthesize ``num_examples`` captioned spectrogram images; yields progress, then the Dataset."""
    rng = np.random.default_rng(seed)
    params = spectrogram_params()
    duration_s = DURATION_S
    images = np.empty((num_examples, IMAGE_HEIGHT, IMAGE_WIDTH), dtype=np.uint8)
    caption_ids: dict[str, int] = {}
    caption_index: list[tuple[int, ...]] = []
    kinds: list[str] = []
    facts: list[np.ndarray] = []
    caption_kinds: list[int] = []
    for i in range(num_examples):
        example = synth.random_example(rng, duration_s, STARTER_SPECTROGRAM["sample_rate"])
        images[i] = image_array(example.audio, params)
        for caption in example.captions:
            if caption not in caption_ids:
                caption_ids[caption] = len(caption_ids)
                facts.append(caption_facts(caption, example.params))
                caption_kinds.append(synth.KINDS.index(example.kind))
        caption_index.append(tuple(caption_ids[c] for c in example.captions))
        kinds.append(example.kind)
        if i % 500 == 0 or i == num_examples - 1:
            yield Progress("synthesize", i + 1, num_examples, f"synthesized {i + 1}/{num_examples} sounds")
    yield Dataset(
        images,
        tuple(caption_ids),
        tuple(caption_index),
        tuple(kinds),
        np.array(facts, dtype=np.float32).reshape(-1, len(CAPTION_FACTS)),
        np.array(caption_kinds, dtype=np.int64)[:, None],
        (len(synth.KINDS),),
    )


#: What the caption probe reads from the text encoder (see ``TrainConfig.caption_aux_weight``).
CAPTION_FACTS = ("pitch", "rate", "sweep_start", "sweep_end")


_NAMED_PITCH_RE = re.compile(r"\b\d+ hz\b|\b[a-g]#?\d\b", re.IGNORECASE)


def caption_facts(caption: str, params: dict[str, Any]) -> np.ndarray:
    """The :data:`CAPTION_FACTS` that ``caption`` names about a sound drawn with ``params``, in
    octaves (pitch and sweep ends as log2(Hz / 440), rate as log2(per second)); NaN for what the
    caption does not name ("an A major chord" names no octave, so no pitch)."""
    pitch = params.get("freq_hz", params.get("root_hz"))
    rate = params.get("rate_per_s")
    sweep = params.get("start_hz"), params.get("end_hz")
    values = (
        np.log2(pitch / 440.0) if pitch and _NAMED_PITCH_RE.search(caption) else np.nan,
        np.log2(rate) if rate and "per second" in caption else np.nan,
        np.log2(sweep[0] / 440.0) if sweep[0] and " from " in caption else np.nan,
        np.log2(sweep[1] / 440.0) if sweep[1] and " from " in caption else np.nan,
    )
    return np.array(values, dtype=np.float32)


def _to_model_range(images_uint8: Any) -> Any:
    """uint8 (B, H, W) -> float (B, 3, H, W) in [-1, 1], the grey channel replicated (RGB)."""
    import torch

    x = torch.as_tensor(images_uint8, dtype=torch.float32) / 127.5 - 1.0
    return x[:, None].expand(-1, 3, -1, -1).contiguous()


# ---------------------------------------------------------------------------------------------
# Training stages
# ---------------------------------------------------------------------------------------------


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up, then cosine decay to 10% of ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _smoothed(previous: float | None, value: float, keep: float = 0.98) -> float:
    """Exponential moving average of a logged loss (the first value starts it)."""
    return value if previous is None else keep * previous + (1 - keep) * value


def _random_crops(images: np.ndarray, config: TrainConfig, generator: Any, *, align_x: bool) -> Any:
    """``vae_batch_size`` random images, one random ``vae_crop`` square window (its top on the
    8-row latent grid; its left edge too with ``align_x``), in the model's range."""
    import torch

    crop = config.vae_crop
    height, width = images.shape[1:]
    idx = torch.randint(0, len(images), (config.vae_batch_size,), generator=generator).numpy()
    y0 = int(torch.randint(0, height - crop + 1, (1,), generator=generator)) // 8 * 8
    x0 = int(torch.randint(0, width - crop + 1, (1,), generator=generator))
    if align_x:
        x0 = x0 // 8 * 8
    return _to_model_range(images[idx, y0 : y0 + crop, x0 : x0 + crop])


def _reconstruction(recon: Any, x: Any) -> Any:
    """The VAE's reconstruction loss: L1 + MSE."""
    return (recon - x).abs().mean() + (recon - x).pow(2).mean()


def train_vae(vae: Any, images: np.ndarray, config: TrainConfig, generator: Any) -> Iterator[Progress]:
    """Train the VAE on random crops: L1 + MSE reconstruction and a small KL term."""
    import torch

    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
    vae.train()
    ema_loss = None
    for step in range(config.vae_steps):
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, config.vae_steps, min(50, config.vae_steps // 10 + 1), config.vae_lr)
        x = _random_crops(images, config, generator, align_x=False)
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
        loss = _reconstruction(vae.decode(z).sample, x) + config.vae_kl_weight * posterior.kl().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        ema_loss = _smoothed(ema_loss, float(loss.detach()))
        if step % 20 == 0 or step == config.vae_steps - 1:
            yield Progress("train-vae", step + 1, config.vae_steps, f"VAE loss {ema_loss:.4f}")
    vae.eval()


def finetune_decoder(vae: Any, images: np.ndarray, config: TrainConfig, generator: Any) -> Iterator[Progress]:
    """Train the VAE's decoder (and post-quant conv) on random crops with the encoder frozen:
    L1 + MSE reconstruction from latents sampled from the frozen posterior. The latents, and so
    the UNet trained on them, stay valid. Skipped when ``decoder_steps`` is 0."""
    import torch

    steps = config.decoder_steps
    if steps == 0:
        return
    trainable = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    vae.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(trainable, lr=config.decoder_lr, weight_decay=0.0)
    ema_loss = None
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, steps, min(50, steps // 10 + 1), config.decoder_lr)
        x = _random_crops(images, config, generator, align_x=True)
        with torch.no_grad():
            posterior = vae.encode(x).latent_dist
            z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
        loss = _reconstruction(vae.decode(z).sample, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        ema_loss = _smoothed(ema_loss, float(loss.detach()))
        if step % 20 == 0 or step == steps - 1:
            yield Progress("train-decoder", step + 1, steps, f"decoder loss {ema_loss:.4f}")
    vae.requires_grad_(True)
    vae.eval()


def encode_dataset(vae: Any, images: np.ndarray, batch_size: int = 64) -> Iterator[Progress | tuple[Any, Any]]:
    """Encode every image once; yields progress, then (latent means, latent stds) (N, 4, H/8, W/8)."""
    import torch

    means, stds = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            posterior = vae.encode(_to_model_range(images[start : start + batch_size])).latent_dist
            means.append(posterior.mean)
            stds.append(posterior.std)
            yield Progress("encode", min(start + batch_size, len(images)), len(images), "encoding latents")
    yield torch.cat(means), torch.cat(stds)


def _tokenize(tokenizer: Any, texts: Sequence[str]) -> Any:
    """Token ids (N, MAX_TOKEN_LENGTH) exactly as the diffusers pipeline tokenizes prompts."""
    return tokenizer(
        list(texts), padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids


def _probe_loss(read: Any, facts: Any, classes: Any, class_counts: Sequence[int]) -> Any:
    """Caption-probe loss: squared error (octaves^2) on the facts a caption names, plus
    cross-entropy on each categorical head (e.g. its sound family) where it names a class."""
    import torch

    named = torch.isfinite(facts)
    start = facts.shape[1]
    error = (read[:, :start] - torch.nan_to_num(facts)).pow(2) * named
    loss = error.sum() / named.sum().clamp(min=1)
    for head, count in enumerate(class_counts):
        target = classes[:, head]
        if bool((target >= 0).any()):
            loss = loss + torch.nn.functional.cross_entropy(read[:, start : start + count], target)
        start += count
    return loss


def filler_token_mask(tokenizer: Any) -> Any:
    """A boolean per token id: True for the single-token filler words (captions.FILLER_WORDS)."""
    import torch

    from engine.training.captions import FILLER_WORDS

    mask = torch.zeros(len(tokenizer), dtype=torch.bool)
    for word in FILLER_WORDS:
        ids = tokenizer(word, add_special_tokens=False).input_ids
        if len(ids) == 1:
            mask[ids[0]] = True
    return mask


def drop_words(caption_ids: Any, droppable: Any, probability: float, pad_id: int, generator: Any) -> Any:
    """``caption_ids`` with each droppable token removed with ``probability`` (the rest close up,
    padding fills the end; the start and end tokens are never droppable)."""
    import torch

    drop = droppable[caption_ids] & (torch.rand(caption_ids.shape, generator=generator) < probability)
    order = torch.argsort(drop.to(torch.int8), dim=1, stable=True)
    out = torch.gather(caption_ids, 1, order)
    out[torch.gather(drop, 1, order)] = pad_id
    return out


def pretrain_text_encoder(
    text_encoder: Any,
    probe: Any,
    caption_ids: Any,
    facts: Any,
    classes: Any,
    class_counts: Sequence[int],
    config: TrainConfig,
    generator: Any,
    droppable: Any = None,
    probe_only: bool = False,
) -> Iterator[Progress]:
    """Teach the text encoder to read every caption (its pitch, rate, sweep and family) through
    the linear ``probe`` before the UNet sees it: about a minute and a half of CPU for what the
    diffusion loss alone did not teach in 3500 steps. Skipped when ``text_pretrain_steps`` is 0.
    With ``config.text_word_dropout``, the ``droppable`` tokens (:func:`filler_token_mask`) are
    dropped at random from each batch. ``probe_only`` fits the probe alone to an encoder that
    already reads its captions (a run continued from an earlier one), leaving the encoder as the
    UNet learned it."""
    import contextlib

    import torch

    steps = config.text_pretrain_steps
    if steps == 0:
        return
    trainable = list(probe.parameters()) + ([] if probe_only else list(text_encoder.parameters()))
    optimizer = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=1e-2)
    text_encoder.train(not probe_only)
    ema = None
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, steps, min(100, steps // 10 + 1), 1e-3)
        pick = torch.randint(0, len(caption_ids), (config.text_pretrain_batch_size,), generator=generator)
        ids = caption_ids[pick]
        if config.text_word_dropout > 0 and droppable is not None:
            ids = drop_words(ids, droppable, config.text_word_dropout, text_encoder.config.pad_token_id, generator)
        with torch.no_grad() if probe_only else contextlib.nullcontext():
            pooled = text_encoder(ids).pooler_output
        loss = _probe_loss(probe(pooled), facts[pick], classes[pick], class_counts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        ema = _smoothed(ema, float(loss.detach()), keep=0.95)
        if step % 50 == 0 or step == steps - 1:
            yield Progress("train-text", step + 1, steps, f"caption probe {ema:.4f}")


def train_unet(
    unet: Any,
    text_encoder: Any,
    tokenizer: Any,
    scheduler: Any,
    latents: tuple[Any, Any],
    dataset: Dataset,
    config: TrainConfig,
    generator: Any,
    continued: bool = False,
) -> Iterator[Progress | tuple[dict, dict]]:
    """Train the UNet and the text encoder jointly on latents (epsilon prediction, min-SNR weights).
    ``continued``: both come trained from an earlier run, so the text stage fits the probe alone.

    Yields progress, then the EMA state dicts (unet, text encoder).
    """
    import torch

    from engine.training import hints

    means, stds = latents
    caption_ids = _tokenize(tokenizer, dataset.captions)
    empty_ids = _tokenize(tokenizer, [""])[0]
    # The caption probe: a linear read-out of the end-of-text state (the caption facts, then one
    # logit per class of each categorical head, e.g. the sound family), trained with the encoder
    # and thrown away afterwards: it only shapes what the encoder puts there.
    counts = dataset.class_counts
    probe = torch.nn.Linear(text_encoder.config.hidden_size, dataset.caption_facts.shape[1] + sum(counts))
    fact_targets = torch.as_tensor(dataset.caption_facts, dtype=torch.float32)
    class_targets = torch.as_tensor(dataset.caption_classes, dtype=torch.long)
    droppable = filler_token_mask(tokenizer)
    yield from pretrain_text_encoder(
        text_encoder, probe, caption_ids, fact_targets, class_targets, counts, config, generator, droppable, continued
    )
    params = list(unet.parameters()) + list(text_encoder.parameters()) + list(probe.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": list(unet.parameters()), "scale": 1.0},
            {"params": list(text_encoder.parameters()) + list(probe.parameters()), "scale": config.text_lr_scale},
        ],
        lr=config.unet_lr,
        weight_decay=1e-2,
    )
    ema = {
        "unet": {k: v.detach().clone() for k, v in unet.state_dict().items()},
        "text": {k: v.detach().clone() for k, v in text_encoder.state_dict().items()},
    }
    alphas_cumprod = scheduler.alphas_cumprod.to(torch.float32)
    snr = alphas_cumprod / (1 - alphas_cumprod)
    loss_weight = torch.clamp(snr, max=config.min_snr_gamma) / snr  # min-SNR-gamma for epsilon targets
    unet.train()
    text_encoder.train()
    drawn_hints = is_hint_unet(unet)
    if drawn_hints:
        dataset = _with_onsets(dataset)
    ema_loss = ema_probe = None
    batch = config.unet_batch_size
    for step in range(config.unet_steps):
        for group in optimizer.param_groups:
            group["lr"] = group["scale"] * _lr_at(step, config.unet_steps, config.warmup_steps, config.unet_lr)
        idx = torch.randint(0, len(means), (batch,), generator=generator)
        z0 = means[idx] + stds[idx] * torch.randn(means[idx].shape, generator=generator)
        picks = torch.rand(batch, generator=generator)
        drop = torch.rand(batch, generator=generator) < config.caption_dropout
        chosen = hints.chosen_captions(dataset, idx, picks)
        ids = torch.where(drop[:, None], empty_ids[None], caption_ids[chosen])
        if config.text_word_dropout > 0:  # the UNet, too, learns the sound from shortened wordings
            ids = drop_words(ids, droppable, config.text_word_dropout, text_encoder.config.pad_token_id, generator)
        noise = torch.randn(z0.shape, generator=generator)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), generator=generator)
        noisy = scheduler.add_noise(z0, noise, t)
        encoded = text_encoder(ids)
        hidden = encoded.last_hidden_state
        # A hint UNet is shown the true pitch and beat of each pair (its reader learns them last).
        shown = {"hint_facts": hints.facts_for(dataset, idx, chosen, drop)} if drawn_hints else {}
        pred = unet(noisy, t, encoder_hidden_states=hidden, **shown).sample
        per_example = (pred - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (per_example * loss_weight[t]).mean()
        probe_loss = None
        if config.caption_aux_weight > 0 and not bool(drop.all()):
            kept = chosen[~drop]
            probe_loss = _probe_loss(probe(encoded.pooler_output[~drop]), fact_targets[kept], class_targets[kept], counts)
            loss = loss + config.caption_aux_weight * probe_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        decay = min(config.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for name, module in (("unet", unet), ("text", text_encoder)):
                for key, value in module.state_dict().items():
                    if value.dtype.is_floating_point:
                        ema[name][key].mul_(decay).add_(value.detach(), alpha=1 - decay)
                    else:
                        ema[name][key].copy_(value)
        ema_loss = _smoothed(ema_loss, float(per_example.detach().mean()))
        if probe_loss is not None:
            ema_probe = _smoothed(ema_probe, float(probe_loss.detach()))
        if step % 20 == 0 or step == config.unet_steps - 1:
            probe_text = f", caption probe {ema_probe:.3f}" if ema_probe is not None else ""
            yield Progress("train-unet", step + 1, config.unet_steps, f"UNet loss {ema_loss:.4f}{probe_text}")
    unet.eval()
    text_encoder.eval()
    yield ema["unet"], ema["text"]


# ---------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------


def _metadata(config: TrainConfig, losses: dict[str, float], seconds: float) -> dict[str, Any]:
    return {
        "title": STARTER_TITLE,
        "description": STARTER_DESCRIPTION,
        "starter": True,
        "kind": "text-to-spectrogram (synthetic sounds)",
        "height": IMAGE_HEIGHT,
        "width": IMAGE_WIDTH,
        "duration_s": DURATION_S,
        "spectrogram_preset": "starter",
        "spectrogram_file": SPECTROGRAM_FILE,
        # Guidance 5: tone prompts at 17 pitches from 131 Hz to 880 Hz within a semitone for 85% of
        # seeds 0-9 (guidance 3: 82%); "a sine tone at 440 Hz" 30 of 30 seeds at 3, 5 and 7; white
        # noise, clicks and sweeps pass at 3 and 5 alike.
        # lora_steps: the cpu-starter LoRA preset's steps for this model (bench_lora_starter: 83% of held-out
        # seeds at 900 steps, 50% at 1200).
        "recommended": {"num_inference_steps": 20, "guidance_scale": 5.0, "scheduler": "dpm++2m-karras",
                        "upsampler": "builtin:upsampler", "lora_steps": {"cpu-starter": 900}},
        "sound_families": list(synth.KINDS),
        "example_prompts": [
            "a sine tone at 440 Hz",
            "a sine tone at C5",
            "an A minor chord",
            "a rising sweep",
            "white noise",
            "clicks at 4 per second",
            "a plucked string at E3",
            "a tremolo tone at 660 Hz",
        ],
        "training": {
            "script": "python -m engine.training.train_starter",
            "config": asdict(config),
            "final_loss": losses,
            "seconds": round(seconds, 1),
        },
    }


@dataclass(frozen=True)
class Recipe:
    """What a starter training run learns from and what it saves, besides the stages it shares
    with every starter model: the ``spectrogram`` (SpectrogramParams fields; its
    ``num_frequencies`` is the image height) and image ``width``; ``dataset(config)`` yields
    progress, then the :class:`Dataset`; ``tokenizer_corpus()`` the texts the tokenizer's merges
    are learned from; ``make_unet(config)``; ``metadata(config, losses, seconds)`` the
    ``starter.json`` contents."""

    spectrogram: dict[str, Any]
    width: int
    dataset: Callable[[Any], Iterator[Progress | Dataset]]
    tokenizer_corpus: Callable[[], Sequence[str]]
    make_unet: Callable[[Any], Any]
    metadata: Callable[[Any, dict[str, float], float], dict[str, Any]]

    @property
    def height(self) -> int:
        return int(self.spectrogram["num_frequencies"])


def train(
    config: TrainConfig,
    out_dir: Path,
    recipe: Recipe | None = None,
    vae_from: Path | None = None,
    init_from: Path | None = None,
) -> Iterator[Progress]:
    """Train the starter model with ``config`` and save it to ``out_dir`` (replaced if present).
    ``recipe`` is the first starter model's (:data:`STARTER_RECIPE`) unless given.

    ``vae_from``: a starter model folder (the same recipe's, trained earlier) whose VAE is reused
    as it is: the VAE and decoder stages are skipped and the UNet learns the latents of that
    VAE's encoder, which the decoder fine-tune never changes. A run that changes only the text
    encoder or the UNet then costs their stages alone.

    ``init_from``: continue an earlier run of the same recipe and width (a starter model folder):
    its VAE is reused as with ``vae_from``, and its UNet and text encoder are where this run's
    joint stage starts (a fresh warm-up and schedule of ``unet_steps``); the text stage then fits
    the caption probe alone (``text_pretrain_steps`` of it) so the encoder keeps what the UNet
    learned to read. The saved metadata keeps the earlier run's training record.

    Yields :class:`Progress` (stages synthesize, train-vae, encode, train-text, train-unet,
    train-decoder, save; a recipe's dataset may report other stages first). The run sets torch's
    CPU thread count for itself (``config.num_threads``) and puts the caller's back when it ends,
    is closed or fails (on the engine worker each step also runs with its own count).
    """
    import torch

    before = torch.get_num_threads()
    try:
        yield from _train(config, out_dir, recipe, vae_from, init_from)
    finally:
        torch.set_num_threads(before)


def _train(
    config: TrainConfig,
    out_dir: Path,
    recipe: Recipe | None,
    vae_from: Path | None = None,
    init_from: Path | None = None,
) -> Iterator[Progress]:
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    recipe = recipe or STARTER_RECIPE
    if config.unet_steps == 0 and init_from is None:
        raise ValueError("0 UNet steps would leave the UNet untrained: that only continues an earlier run (--init-from).")
    if init_from is not None:
        if vae_from is not None and Path(vae_from).resolve() != Path(init_from).resolve():
            raise ValueError("`init_from` reuses that run's own VAE: leave `vae_from` out or give the same folder.")
        vae_from = init_from
    started = time.monotonic()
    # One short STFT per sound: thread start-up costs more than it saves (10x on 2 busy cores).
    torch.set_num_threads(1)
    dataset: Dataset | None = None
    for item in recipe.dataset(config):
        if isinstance(item, Dataset):
            dataset = item
        else:
            yield item
    assert dataset is not None
    torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    out_dir = Path(out_dir)
    staging = out_dir.parent / (out_dir.name + ".staging")
    if staging.exists():
        shutil.rmtree(staging)
    corpus = recipe.tokenizer_corpus()
    vocab = write_tokenizer(staging / "tokenizer", corpus)
    tokenizer = CLIPTokenizer.from_pretrained(staging / "tokenizer")

    torch.manual_seed(config.seed)
    if vae_from is not None:
        vae = _reused_vae(Path(vae_from), recipe)
    else:
        vae = make_vae(recipe.height)
        yield from train_vae(vae, dataset.images, config, generator)
    if config.decoder_width_list():
        from engine.models.decoder_vae import with_decoder

        torch.manual_seed(config.seed + 4)
        vae = with_decoder(vae, config.decoder_width_list())

    latents: tuple[Any, Any] | None = None
    for item in encode_dataset(vae, dataset.images):
        if isinstance(item, Progress):
            yield item
        else:
            latents = item
    assert latents is not None
    # Unit-variance latents for the UNet, as SD's scaling_factor does (stored in the VAE config;
    # a reused VAE keeps the factor its own run measured).
    if vae_from is None:
        vae.register_to_config(scaling_factor=float(1.0 / latents[0].std()))
    scaling = float(vae.config.scaling_factor)
    latents = (latents[0] * scaling, latents[1] * scaling)

    torch.manual_seed(config.seed + 1)
    unet, scheduler = recipe.make_unet(config), make_scheduler()
    text_encoder = make_text_encoder(vocab, config.text_hidden_size, config.text_layers)
    earlier_training = None
    if init_from is not None:
        earlier_training = _load_earlier_run(Path(init_from), unet, text_encoder, staging / "tokenizer")
    ema: tuple[dict, dict] | None = None
    messages: list[str] = []
    continued = init_from is not None
    for item in train_unet(unet, text_encoder, tokenizer, scheduler, latents, dataset, config, generator, continued):
        if isinstance(item, Progress):
            messages.append(item.message)
            yield item
        else:
            ema = item
    assert ema is not None
    unet.load_state_dict(ema[0])
    text_encoder.load_state_dict(ema[1])
    if is_hint_unet(unet):
        yield from _train_hint_reader(unet, text_encoder, tokenizer, dataset, config)
    # Its own generator: the stage adds to a run without changing anything before it. A reused
    # VAE keeps its decoder unless this run gives it a new one.
    if vae_from is None or config.decoder_width_list():
        yield from finetune_decoder(vae, dataset.images, config, torch.Generator().manual_seed(config.seed + 2))
    vae_loss = _reconstruction_loss(vae, dataset.images[:256])

    yield Progress("save", 0, 1, f"saving to {out_dir}")
    from diffusers import PNDMScheduler

    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=PNDMScheduler.from_config(scheduler.config, skip_prk_steps=True),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(staging, safe_serialization=True)
    # Keep exactly the tokenizer files written above, whatever save_pretrained adds.
    shutil.rmtree(staging / "tokenizer")
    write_tokenizer(staging / "tokenizer", corpus)
    (staging / SPECTROGRAM_FILE).write_text(json.dumps(recipe.spectrogram, indent=2) + "\n", encoding="utf-8")
    found = re.search(r"UNet loss ([0-9.]+)", messages[-1]) if messages else None
    unet_loss = float(found.group(1)) if found else None  # None: no UNet step in this run
    losses = {"vae_reconstruction_l1": round(vae_loss, 5), "unet_epsilon_mse": None if unet_loss is None else round(unet_loss, 5)}
    metadata = recipe.metadata(config, losses, time.monotonic() - started)
    if vae_from is not None:
        metadata.setdefault("training", {})["vae_from"] = str(vae_from)
    if init_from is not None:
        metadata.setdefault("training", {}).update(init_from=str(init_from), earlier_training=earlier_training)
    (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    yield Progress("save", 1, 1, f"saved {out_dir} ({folder_size_bytes(out_dir) / 1e6:.2f} MB)")


#: The first starter model: synthesized sounds in the 128 x 128 ``starter`` spectrogram.
STARTER_RECIPE = Recipe(
    spectrogram=STARTER_SPECTROGRAM,
    width=IMAGE_WIDTH,
    dataset=lambda config: synthesize_dataset(config.num_examples, config.seed),
    tokenizer_corpus=synth.caption_vocabulary,
    make_unet=lambda config: make_unet(cross_attention_dim=config.text_hidden_size),
    metadata=_metadata,
)


def is_hint_unet(unet: Any) -> bool:
    """Whether ``unet`` draws hint maps (engine.models.hint_unet), so training shows it the true ones."""
    from engine.models.hint_unet import HintUNet2DConditionModel

    return isinstance(unet, HintUNet2DConditionModel)


def _with_onsets(dataset: Dataset) -> Dataset:
    """``dataset`` with its ``onsets`` (all NaN where the recipe gave none: no pulse train)."""
    if dataset.onsets is not None:
        return dataset
    return replace(dataset, onsets=np.full(len(dataset.images), np.nan, dtype=np.float32))


def _train_hint_reader(unet: Any, text_encoder: Any, tokenizer: Any, dataset: Dataset, config: TrainConfig) -> Iterator[Progress]:
    """The hint UNet's last stage: its caption reader learns to read the hints from the final
    text encoder (``reader_steps``, a field of the recipes that make hint UNets), with its own
    generator, so the stage changes nothing before it."""
    import torch

    from engine.training import hints

    yield from hints.train_reader(
        unet,
        text_encoder,
        _tokenize(tokenizer, dataset.captions),
        _tokenize(tokenizer, [""])[0],
        _with_onsets(dataset),
        int(getattr(config, "reader_steps", 3000)),
        torch.Generator().manual_seed(config.seed + 3),
        filler_token_mask(tokenizer),
        config.text_word_dropout,
        caption_dropout=config.caption_dropout,
    )


def _reused_vae(folder: Path, recipe: Recipe) -> Any:
    """The VAE of an earlier run of ``recipe`` (see :func:`train`'s ``vae_from``), checked to be
    for the same spectrogram."""
    from diffusers import AutoencoderKL

    from engine.models.decoder_vae import DecoderAutoencoderKL

    spectrogram_file = folder / SPECTROGRAM_FILE
    if not spectrogram_file.is_file() or json.loads(spectrogram_file.read_text()) != recipe.spectrogram:
        raise ValueError(f"{folder} is not a starter model of this spectrogram: its VAE cannot be reused.")
    config = json.loads((folder / "vae" / "config.json").read_text())
    cls = DecoderAutoencoderKL if config.get("_class_name") == DecoderAutoencoderKL.__name__ else AutoencoderKL
    return cls.from_pretrained(folder / "vae").eval()


def _load_earlier_run(folder: Path, unet: Any, text_encoder: Any, tokenizer_dir: Path) -> Any:
    """Load an earlier run's UNet and text encoder weights (see :func:`train`'s ``init_from``)
    into this run's fresh ``unet`` and ``text_encoder``, after checking that its tokenizer is
    this run's (same vocabulary and merges) and its models have the same shapes. Returns the
    earlier run's training record (its metadata's "training"), or None."""
    from safetensors.torch import load_file

    for name in ("vocab.json", "merges.txt"):
        theirs, ours = folder / "tokenizer" / name, tokenizer_dir / name
        if not theirs.is_file() or theirs.read_bytes() != ours.read_bytes():
            raise ValueError(f"{folder} was trained with another tokenizer ({name} differs): it cannot be continued.")
    for module, weights, label in (
        (unet, folder / "unet" / "diffusion_pytorch_model.safetensors", "UNet"),
        (text_encoder, folder / "text_encoder" / "model.safetensors", "text encoder"),
    ):
        ours, theirs = module.state_dict(), load_file(weights)
        # A plain UNet continues into a variant that adds weights starting at zero (a frequency
        # embedding, a hint convolution and reader: engine.models), so the continued model starts
        # from exactly the earlier one's outputs; not the other way round.
        added = {k for k in ours.keys() - theirs.keys() if k.startswith(getattr(module, "ADDED_WEIGHTS", ()))}
        if ours.keys() - added != theirs.keys() or any(ours[k].shape != theirs[k].shape for k in theirs):
            raise ValueError(f"{folder}'s {label} has another shape than this run's (width or layers differ).")
        module.load_state_dict(theirs, strict=not added)
    metadata_file = folder / METADATA_FILE
    return json.loads(metadata_file.read_text()).get("training") if metadata_file.is_file() else None


def reconstruct(vae: Any, images: np.ndarray) -> tuple[Any, Any]:
    """uint8 (B, H, W) spectrogram images -> (the VAE's input, decode(encode mean)), both float
    (B, 3, H, W) in the model's range [-1, 1]."""
    import torch

    with torch.no_grad():
        x = _to_model_range(images)
        return x, vae.decode(vae.encode(x).latent_dist.mean).sample


def _reconstruction_loss(vae: Any, images: np.ndarray) -> float:
    """Mean absolute error (image range [-1, 1]) of decode(encode mean) on full-size images."""
    x, recon = reconstruct(vae, images)
    return float((recon - x).abs().mean())


def folder_size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _parse_bool(text: str) -> bool:
    """``--flag true``/``false`` (argparse's ``type=bool`` would read "false" as True)."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def run_main(argv: list[str] | None, defaults: TrainConfig, recipe: Recipe, description: str, default_out: Path) -> int:
    """The command line of a training script: one ``--<field>`` option per config field, then
    the run with its progress printed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out, help="output diffusers folder")
    parser.add_argument("--vae-from", type=Path, default=None,
                        help="reuse the VAE of this earlier run of the same model (skips the VAE and decoder stages)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="continue this earlier run of the same model: its VAE, UNet and text encoder are the start")
    for f in fields(defaults):
        kind = type(getattr(defaults, f.name))
        parser.add_argument("--" + f.name.replace("_", "-"), type=_parse_bool if kind is bool else kind, default=None)
    args = parser.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in fields(defaults) if getattr(args, f.name) is not None}
    config = replace(defaults, **overrides)
    started = time.monotonic()
    last_stage = None
    for progress in train(config, args.out, recipe, args.vae_from, args.init_from):
        elapsed = time.monotonic() - started
        if progress.stage != last_stage or progress.step == progress.total or progress.step % 100 == 1:
            print(f"[{elapsed:7.1f} s] {progress.stage:11s} {progress.step}/{progress.total} {progress.message}", flush=True)
        last_stage = progress.stage
    print(f"done in {time.monotonic() - started:.1f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, TrainConfig(), STARTER_RECIPE, __doc__.splitlines()[0], DEFAULT_OUT_DIR)


if __name__ == "__main__":
    sys.exit(main())
