"""Build the tiny Stable Diffusion 1.5-family test models in tests/assets/.

Writes two diffusers folders (model_index.json, unet/, vae/, text_encoder/, tokenizer/,
scheduler/, weights in safetensors):

* ``tests/assets/tiny-sd/``          a StableDiffusionPipeline (UNet in_channels=4)
* ``tests/assets/tiny-sd-inpaint/``  a StableDiffusionInpaintPipeline (UNet in_channels=9:
  4 noisy latents + 1 mask + 4 masked-image latents, like stable-diffusion-inpainting)

The components are built from constructor configs with fixed seeds (in the spirit of
diffusers' ``tests/pipelines/stable_diffusion/test_stable_diffusion.py::get_dummy_components``)
but keep the real SD geometry: the VAE downsamples by 8 (four encoder blocks) into 4 latent
channels, the UNet takes 64x64 latents for a 512x512 image, the text encoder is a CLIP text
model with 77 positions, and the tokenizer is a byte-level CLIP BPE whose vocab.json and
merges.txt are written here (nothing is downloaded). The weights are random: the images are
noise-like, but every shape, dtype and code path is the one a real checkpoint takes.

Run ``python tests/assets/make_tiny_sd.py`` to regenerate; the output is deterministic.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from engine.training.clip_tokenizer import BOS_TOKEN, EOS_TOKEN, write_clip_tokenizer

ASSETS_DIR = Path(__file__).resolve().parent
TINY_SD_DIR = ASSETS_DIR / "tiny-sd"
TINY_SD_INPAINT_DIR = ASSETS_DIR / "tiny-sd-inpaint"

MAX_TOKEN_LENGTH = 77
CROSS_ATTENTION_DIM = 32

# A few merges so that common prompt words become multi-character tokens, as in the real
# CLIP BPE. Every merge result is added to the vocabulary below.
MERGES: tuple[tuple[str, str], ...] = (
    ("i", "n"),
    ("t", "h"),
    ("e", "r"),
    ("a", "n"),
    ("o", "n</w>"),
    ("th", "e</w>"),
    ("in", "g</w>"),
    ("a", "z"),
    ("az", "z</w>"),
    ("j", "azz</w>"),
    ("p", "i"),
    ("pi", "an"),
    ("pian", "o</w>"),
    ("d", "r"),
    ("u", "m"),
    ("dr", "um"),
    ("drum", "s</w>"),
    ("g", "u"),
    ("gu", "i"),
    ("t", "ar</w>"),
    ("a", "r</w>"),
    ("gui", "tar</w>"),
    ("b", "a"),
    ("ba", "s"),
    ("bas", "s</w>"),
    ("s", "o"),
    ("so", "lo</w>"),
    ("l", "o</w>"),
)


def write_tokenizer(folder: Path) -> int:
    """Write vocab.json, merges.txt and the tokenizer configs; return the vocabulary size."""
    return len(write_clip_tokenizer(folder, MERGES, MAX_TOKEN_LENGTH))


def make_vae():
    """AutoencoderKL: 4 blocks -> downsamples by 8, 4 latent channels, SD's scaling factor."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=512,
        scaling_factor=0.18215,
    )


def make_unet(in_channels: int):
    """UNet2DConditionModel for 64x64 latents; cross-attention (to_q/to_k/to_v/to_out) at 32x32."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=64,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=CROSS_ATTENTION_DIM,
        attention_head_dim=2,
    )


def make_text_encoder(vocab_size: int, vocab: dict[str, int]):
    """A 2-layer CLIPTextModel with SD's 77 positions and the tiny vocabulary."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=CROSS_ATTENTION_DIM,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKEN_LENGTH,
        layer_norm_eps=1e-5,
        hidden_act="quick_gelu",
        bos_token_id=vocab[BOS_TOKEN],
        eos_token_id=vocab[EOS_TOKEN],
        pad_token_id=vocab[EOS_TOKEN],
    )
    torch.manual_seed(0)
    return CLIPTextModel(config).eval()


def make_scheduler():
    """PNDMScheduler with SD 1.x's configuration."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def build(folder: Path, *, in_channels: int) -> Path:
    """Build and save one tiny pipeline folder (replacing any previous one); return its path."""
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    if folder.exists():
        shutil.rmtree(folder)
    staging = folder.parent / (folder.name + ".tokenizer-staging")
    if staging.exists():
        shutil.rmtree(staging)
    vocab_size = write_tokenizer(staging)
    vocab = json.loads((staging / "vocab.json").read_text(encoding="utf-8"))
    tokenizer = CLIPTokenizer.from_pretrained(staging)

    pipeline_class = StableDiffusionPipeline if in_channels == 4 else StableDiffusionInpaintPipeline
    pipe = pipeline_class(
        vae=make_vae(),
        text_encoder=make_text_encoder(vocab_size, vocab),
        tokenizer=tokenizer,
        unet=make_unet(in_channels),
        scheduler=make_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    # Keep exactly the tokenizer files written above (the slow-tokenizer pair every
    # transformers version reads), whatever the installed version's save_pretrained adds.
    shutil.rmtree(folder / "tokenizer")
    shutil.copytree(staging, folder / "tokenizer")
    shutil.rmtree(staging)
    return folder


def make_hub_cache_entry(
    cache_dir: str | Path,
    repo_id: str,
    source: str | Path = TINY_SD_DIR,
    *,
    commit: str = "0" * 40,
    ref: str | None = "main",
) -> Path:
    """Put a model folder into a Hugging Face hub cache, laid out as huggingface_hub does it.

    ``models--owner--name/blobs/<sha256>`` holds the contents, ``snapshots/<commit>/<path>`` are
    relative symlinks to the blobs, and ``refs/<ref>`` holds the commit hash. Returns the
    snapshot folder. Used by tests to stand in for a downloaded model without any network.
    """
    repo_dir = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    blobs = repo_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(source).rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        if not blob.exists():
            blob.write_bytes(data)
        link = snapshot / path.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref is not None:
        (repo_dir / "refs").mkdir(exist_ok=True)
        (repo_dir / "refs" / ref).write_text(commit)
    return snapshot


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ASSETS_DIR, help="where tiny-sd/ and tiny-sd-inpaint/ go")
    args = parser.parse_args(argv)
    for name, in_channels in (("tiny-sd", 4), ("tiny-sd-inpaint", 9)):
        folder = build(args.out_dir / name, in_channels=in_channels)
        size_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        for path in folder.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        print(f"{folder}: {size_bytes / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
