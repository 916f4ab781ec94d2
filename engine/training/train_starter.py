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
(seeded), in three stages: (1) the VAE on spectrogram images, (2) the dataset is encoded to
latents once, (3) the UNet and the text encoder jointly, with 10% caption dropout so
classifier-free guidance works. The tokenizer is a CLIP byte-level BPE whose merges are learned
here from the caption vocabulary (nothing is downloaded). The run is deterministic for a given
seed, thread count and machine.

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
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.specs import Progress
from engine.training import synth

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "resources" / "models" / "starter"

#: The spectrogram the starter model works in (Riffusion's SpectrogramParams fields). 128 mel
#: rows from 0 to 4 kHz at 22.05 kHz: near 440 Hz a mel row is ~17 Hz wide, so the 26 Hz semitone
#: above A4 lands ~1.5 rows higher; 100 ms Hann windows (~20 Hz main-lobe half width) keep the two
#: apart. 20 ms per column: 128 columns are 2.56 s.
STARTER_SPECTROGRAM: dict[str, Any] = {
    "sample_rate": 22050,
    "step_size_ms": 20,
    "window_duration_ms": 100,
    "padded_duration_ms": 200,
    "num_frequencies": 128,
    "min_frequency": 0,
    "max_frequency": 4000,
    "mel_scale_norm": None,
    "mel_scale_type": "htk",
    "max_mel_iters": 200,
    "num_griffin_lim_iters": 32,
    "power_for_image": 0.25,
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

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
MAX_TOKEN_LENGTH = 32
TEXT_HIDDEN_SIZE = 64


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train`. The defaults are the shipped model's."""

    seed: int = 0
    # One thread: on two shared cores, two OpenMP threads ran 8x slower than one (spin-waiting).
    num_threads: int = 1
    num_examples: int = 8000
    vae_steps: int = 600
    vae_batch_size: int = 16
    vae_crop: int = 64
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6
    unet_steps: int = 3500
    unet_batch_size: int = 32
    unet_lr: float = 6e-4
    # The text encoder starts from nothing and its signal arrives through the UNet's attention:
    # at the UNet's rate it had not separated "220 Hz" from "440 Hz" after 800 steps.
    text_lr_scale: float = 5.0
    warmup_steps: int = 100
    ema_decay: float = 0.995
    caption_dropout: float = 0.1
    min_snr_gamma: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("caption_dropout", "ema_decay"):
                if not 0 <= value < 1:
                    raise ValueError(f"`{f.name}` must be in [0, 1), got {value}.")
            elif f.name != "seed" and not value > 0:
                raise ValueError(f"`{f.name}` must be positive, got {value}.")
        if self.vae_crop % 8 or self.vae_crop > min(IMAGE_HEIGHT, IMAGE_WIDTH):
            raise ValueError(f"`vae_crop` must be a multiple of 8 up to {IMAGE_HEIGHT}, got {self.vae_crop}.")


# ---------------------------------------------------------------------------------------------
# Tokenizer: a CLIP byte-level BPE learned from the caption vocabulary
# ---------------------------------------------------------------------------------------------

# CLIP's pre-tokenizer: lower-cased words, single digits, runs of punctuation.
_CLIP_WORD_RE = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+")


def bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def learn_bpe_merges(corpus: Sequence[str]) -> list[tuple[str, str]]:
    """Learn BPE merges (Sennrich et al.) from ``corpus`` until every word is a single token.

    Words are split as CLIP's tokenizer splits them (lower case, digits alone) and end with
    ``</w>``. Ties between equally frequent pairs break on the pair's text, so the result is
    deterministic.
    """
    byte_map = bytes_to_unicode()
    word_counts: Counter[str] = Counter()
    for text in corpus:
        for word in _CLIP_WORD_RE.findall(text.lower()):
            word_counts["".join(byte_map[b] for b in word.encode("utf-8"))] += 1
    words = {w: [*w[:-1], w[-1] + "</w>"] for w in word_counts}
    merges: list[tuple[str, str]] = []
    while True:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += word_counts[word]
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for word, symbols in words.items():
            merged: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            words[word] = merged


def write_tokenizer(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """Write a CLIPTokenizer (vocab.json, merges.txt, configs) covering ``corpus``; return the vocab.

    The vocabulary is every byte alone and word-final (so any text tokenizes), the learned
    merges, then the start/end tokens.
    """
    folder.mkdir(parents=True, exist_ok=True)
    merges = learn_bpe_merges(corpus)
    vocab: dict[str, int] = {}
    byte_chars = list(bytes_to_unicode().values())
    for token in byte_chars + [c + "</w>" for c in byte_chars]:
        vocab.setdefault(token, len(vocab))
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab[BOS_TOKEN] = len(vocab)
    vocab[EOS_TOKEN] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    merges_text = "#version: 0.2\n" + "".join(f"{left} {right}\n" for left, right in merges)
    (folder / "merges.txt").write_text(merges_text, encoding="utf-8")
    special = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN, "pad_token": EOS_TOKEN}
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MAX_TOKEN_LENGTH,
        "do_lower_case": True,
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "add_prefix_space": False,
        **special,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
    return vocab


# ---------------------------------------------------------------------------------------------
# Model components (constructor configs; geometry of SD: VAE downsamples by 8 into 4 channels)
# ---------------------------------------------------------------------------------------------


def make_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=IMAGE_HEIGHT,
    )


def make_unet() -> Any:
    """A small SD-style UNet. Besides cross-attention, the pooled prompt embedding is added to the
    timestep embedding (``addition_embed_type="text"``) and every ResNet block is modulated by it
    (scale and shift): a global path that learns "which pitch / which rate" far faster from
    scratch than cross-attention alone (in a pilot run, 800 steps of cross-attention only left the
    pitch independent of the prompt). Cross-attention at the 16x16 level too doubled the step
    time on CPU, so it runs at 8x8 and 4x4 only."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=IMAGE_HEIGHT // 8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        norm_num_groups=16,
        cross_attention_dim=TEXT_HIDDEN_SIZE,
        attention_head_dim=4,
        addition_embed_type="text",
        addition_embed_type_num_heads=4,
        resnet_time_scale_shift="scale_shift",
    )


def make_text_encoder(vocab: dict[str, int]) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=TEXT_HIDDEN_SIZE,
        intermediate_size=4 * TEXT_HIDDEN_SIZE,
        num_hidden_layers=2,
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


def image_array(audio: np.ndarray, params: Any) -> np.ndarray:
    """Riffusion spectrogram image of mono ``audio`` as uint8 (IMAGE_HEIGHT, IMAGE_WIDTH) (the R channel)."""
    from engine.audio.spectrogram import image_from_audio

    image = np.asarray(image_from_audio(np.asarray(audio, dtype=np.float32)[None], params, width=IMAGE_WIDTH))
    return np.ascontiguousarray(image[..., 0])


@dataclass(frozen=True, eq=False)
class Dataset:
    """``images`` uint8 (N, H, W); ``captions`` the unique caption strings; ``caption_index[i]``
    the indices (into ``captions``) of example i's captions; ``kinds[i]`` its sound family."""

    images: np.ndarray
    captions: tuple[str, ...]
    caption_index: tuple[tuple[int, ...], ...]
    kinds: tuple[str, ...]


def synthesize_dataset(num_examples: int, seed: int) -> Iterator[Progress | Dataset]:
    """Synthesize ``num_examples`` captioned spectrogram images; yields progress, then the Dataset."""
    rng = np.random.default_rng(seed)
    params = spectrogram_params()
    duration_s = DURATION_S
    images = np.empty((num_examples, IMAGE_HEIGHT, IMAGE_WIDTH), dtype=np.uint8)
    caption_ids: dict[str, int] = {}
    caption_index: list[tuple[int, ...]] = []
    kinds: list[str] = []
    for i in range(num_examples):
        example = synth.random_example(rng, duration_s, STARTER_SPECTROGRAM["sample_rate"])
        images[i] = image_array(example.audio, params)
        caption_index.append(tuple(caption_ids.setdefault(c, len(caption_ids)) for c in example.captions))
        kinds.append(example.kind)
        if i % 500 == 0 or i == num_examples - 1:
            yield Progress("synthesize", i + 1, num_examples, f"synthesized {i + 1}/{num_examples} sounds")
    yield Dataset(images, tuple(caption_ids), tuple(caption_index), tuple(kinds))


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


def train_vae(vae: Any, images: np.ndarray, config: TrainConfig, generator: Any) -> Iterator[Progress]:
    """Train the VAE on random crops: L1 + MSE reconstruction and a small KL term."""
    import torch

    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
    crop = config.vae_crop
    vae.train()
    ema_loss = None
    for step in range(config.vae_steps):
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, config.vae_steps, min(50, config.vae_steps // 10 + 1), config.vae_lr)
        idx = torch.randint(0, len(images), (config.vae_batch_size,), generator=generator).numpy()
        y0 = int(torch.randint(0, IMAGE_HEIGHT - crop + 1, (1,), generator=generator)) // 8 * 8
        x0 = int(torch.randint(0, IMAGE_WIDTH - crop + 1, (1,), generator=generator))
        x = _to_model_range(images[idx, y0 : y0 + crop, x0 : x0 + crop])
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
        recon = vae.decode(z).sample
        loss = (recon - x).abs().mean() + (recon - x).pow(2).mean() + config.vae_kl_weight * posterior.kl().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        ema_loss = float(loss) if ema_loss is None else 0.98 * ema_loss + 0.02 * float(loss)
        if step % 20 == 0 or step == config.vae_steps - 1:
            yield Progress("train-vae", step + 1, config.vae_steps, f"VAE loss {ema_loss:.4f}")
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


def train_unet(
    unet: Any,
    text_encoder: Any,
    tokenizer: Any,
    scheduler: Any,
    latents: tuple[Any, Any],
    dataset: Dataset,
    config: TrainConfig,
    generator: Any,
) -> Iterator[Progress | tuple[dict, dict]]:
    """Train the UNet and the text encoder jointly on latents (epsilon prediction, min-SNR weights).

    Yields progress, then the EMA state dicts (unet, text encoder).
    """
    import torch

    means, stds = latents
    caption_ids = _tokenize(tokenizer, dataset.captions)
    empty_ids = _tokenize(tokenizer, [""])[0]
    params = list(unet.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": list(unet.parameters()), "scale": 1.0},
            {"params": list(text_encoder.parameters()), "scale": config.text_lr_scale},
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
    ema_loss = None
    batch = config.unet_batch_size
    for step in range(config.unet_steps):
        for group in optimizer.param_groups:
            group["lr"] = group["scale"] * _lr_at(step, config.unet_steps, config.warmup_steps, config.unet_lr)
        idx = torch.randint(0, len(means), (batch,), generator=generator)
        z0 = means[idx] + stds[idx] * torch.randn(means[idx].shape, generator=generator)
        picks = torch.rand(batch, generator=generator)
        drop = torch.rand(batch, generator=generator) < config.caption_dropout
        ids = torch.stack(
            [
                empty_ids if drop[j] else caption_ids[dataset.caption_index[i][int(picks[j] * len(dataset.caption_index[i]))]]
                for j, i in enumerate(idx.tolist())
            ]
        )
        noise = torch.randn(z0.shape, generator=generator)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), generator=generator)
        noisy = scheduler.add_noise(z0, noise, t)
        hidden = text_encoder(ids)[0]
        pred = unet(noisy, t, encoder_hidden_states=hidden).sample
        per_example = (pred - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (per_example * loss_weight[t]).mean()
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
        plain = float(per_example.mean())
        ema_loss = plain if ema_loss is None else 0.98 * ema_loss + 0.02 * plain
        if step % 20 == 0 or step == config.unet_steps - 1:
            yield Progress("train-unet", step + 1, config.unet_steps, f"UNet loss {ema_loss:.4f}")
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
        "spectrogram_file": SPECTROGRAM_FILE,
        "recommended": {"num_inference_steps": 20, "guidance_scale": 3.0, "scheduler": "dpm++2m-karras"},
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


def train(config: TrainConfig, out_dir: Path) -> Iterator[Progress]:
    """Train the starter model with ``config`` and save it to ``out_dir`` (replaced if present).

    Yields :class:`Progress` (stages synthesize, train-vae, encode, train-unet, save).
    """
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    started = time.monotonic()
    # One short STFT per sound: thread start-up costs more than it saves (10x on 2 busy cores).
    torch.set_num_threads(1)
    dataset: Dataset | None = None
    for item in synthesize_dataset(config.num_examples, config.seed):
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
    vocab = write_tokenizer(staging / "tokenizer", synth.caption_vocabulary())
    tokenizer = CLIPTokenizer.from_pretrained(staging / "tokenizer")

    torch.manual_seed(config.seed)
    vae = make_vae()
    yield from train_vae(vae, dataset.images, config, generator)
    vae_loss = _reconstruction_loss(vae, dataset.images[:256])

    latents: tuple[Any, Any] | None = None
    for item in encode_dataset(vae, dataset.images):
        if isinstance(item, Progress):
            yield item
        else:
            latents = item
    assert latents is not None
    # Unit-variance latents for the UNet, as SD's scaling_factor does (stored in the VAE config).
    scaling = float(1.0 / latents[0].std())
    vae.register_to_config(scaling_factor=scaling)
    latents = (latents[0] * scaling, latents[1] * scaling)

    torch.manual_seed(config.seed + 1)
    unet, text_encoder, scheduler = make_unet(), make_text_encoder(vocab), make_scheduler()
    ema: tuple[dict, dict] | None = None
    messages: list[str] = []
    for item in train_unet(unet, text_encoder, tokenizer, scheduler, latents, dataset, config, generator):
        if isinstance(item, Progress):
            messages.append(item.message)
            yield item
        else:
            ema = item
    assert ema is not None
    unet.load_state_dict(ema[0])
    text_encoder.load_state_dict(ema[1])

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
    write_tokenizer(staging / "tokenizer", synth.caption_vocabulary())
    (staging / SPECTROGRAM_FILE).write_text(json.dumps(STARTER_SPECTROGRAM, indent=2) + "\n", encoding="utf-8")
    unet_loss = float(messages[-1].split()[-1]) if messages else float("nan")
    losses = {"vae_reconstruction_l1": round(vae_loss, 5), "unet_epsilon_mse": round(unet_loss, 5)}
    metadata = _metadata(config, losses, time.monotonic() - started)
    (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    yield Progress("save", 1, 1, f"saved {out_dir} ({folder_size_bytes(out_dir) / 1e6:.2f} MB)")


def _reconstruction_loss(vae: Any, images: np.ndarray) -> float:
    """Mean absolute error (image range [-1, 1]) of decode(encode mean) on full-size images."""
    import torch

    with torch.no_grad():
        x = _to_model_range(images)
        recon = vae.decode(vae.encode(x).latent_dist.mean).sample
    return float((recon - x).abs().mean())


def folder_size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="output diffusers folder")
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)), default=None)
    args = parser.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None}
    config = replace(defaults, **overrides)
    started = time.monotonic()
    last_stage = None
    for progress in train(config, args.out):
        elapsed = time.monotonic() - started
        if progress.stage != last_stage or progress.step == progress.total or progress.step % 100 == 1:
            print(f"[{elapsed:7.1f} s] {progress.stage:11s} {progress.step}/{progress.total} {progress.message}", flush=True)
        last_stage = progress.stage
    print(f"done in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
