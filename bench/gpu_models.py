"""Random-weight models at Stable Diffusion 1.5's geometry (or a tiny one) for the GPU benches.

Speed and memory of training and sampling depend on a model's shapes, not on its weights, so
bench_lora_gpu.py and bench_pictures_gpu.py build SD 1.5 from its published configs with random
weights (nothing is downloaded) and save it as a diffusers folder that the engine's store loads
like any other local model:

* UNet2DConditionModel: block_out_channels 320/640/1280/1280, layers_per_block 2,
  cross_attention_dim 768, attention_head_dim 8, 4 in/out channels (about 860M parameters);
* CLIPTextModel: CLIP ViT-L/14's text tower, 12 layers of width 768, vocabulary 49408, 77
  positions (about 123M);
* AutoencoderKL: 4 levels 128/256/512/512, 2 layers per block, 4 latent channels (about 84M);
* PNDMScheduler with SD 1.x's settings, and the byte-level CLIP tokenizer of tests/assets
  (few merges: prompts become more tokens, never more than the 77 positions the text tower reads);
* for the pictures bench, an AST AudioSet tagger at MIT/ast-finetuned-audioset-10-10-0.4593's
  geometry (12 layers of width 768, 1024 frames x 128 mel bins, 527 classes).

``tiny`` is a small model of the same structure for checks on a CPU (seconds).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

GEOMETRIES = ("sd15", "tiny")
#: Parameters of the real SD 1.5 components (runwayml/stable-diffusion-v1-5's safetensors).
SD15_PARAMETERS = {"unet": 859_520_964, "text_encoder": 123_060_480, "vae": 83_653_863}
CLIP_VOCAB_SIZE = 49408
MAX_TOKENS = 77


def unet_config(geometry: str) -> dict[str, Any]:
    if geometry == "sd15":
        return dict(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32,
        )  # fmt: skip
    _check(geometry)
    return dict(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
    )  # fmt: skip


def vae_config(geometry: str) -> dict[str, Any]:
    _check(geometry)
    levels = (128, 256, 512, 512) if geometry == "sd15" else (8, 8, 16, 16)
    return dict(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=levels,
        layers_per_block=2 if geometry == "sd15" else 1, latent_channels=4,
        norm_num_groups=32 if geometry == "sd15" else 4, sample_size=512, scaling_factor=0.18215,
    )  # fmt: skip


def text_config(geometry: str, bos: int = 49406, eos: int = 49407) -> Any:
    from transformers import CLIPTextConfig

    _check(geometry)
    size = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                projection_dim=768) if geometry == "sd15" else \
        dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, projection_dim=32)
    return CLIPTextConfig(vocab_size=CLIP_VOCAB_SIZE if geometry == "sd15" else max(bos, eos) + 1,
                          max_position_embeddings=MAX_TOKENS, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                          bos_token_id=bos, eos_token_id=eos, pad_token_id=eos, **size)


def _check(geometry: str) -> None:
    if geometry not in GEOMETRIES:
        raise ValueError(f"unknown geometry {geometry!r}; choose one of {', '.join(GEOMETRIES)}")


def _components(geometry: str, bos: int = 49406, eos: int = 49407) -> dict[str, Any]:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    return {"unet": UNet2DConditionModel(**unet_config(geometry)), "vae": AutoencoderKL(**vae_config(geometry)),
            "text_encoder": CLIPTextModel(text_config(geometry, bos, eos))}


def parameter_counts(geometry: str) -> dict[str, int]:
    """Parameters of each component, counted on the meta device (no memory, no weights).

    accelerate's init_empty_weights puts only the parameters there: under ``with
    torch.device("meta")`` a module that transformers imports lazily during the construction would
    keep its module-level tensors on the meta device (torchaudio's kaldi EPSILON did, and the AST
    tagger's feature extractor then failed)."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        components = _components(geometry)
    return {name: sum(p.numel() for p in module.parameters()) for name, module in components.items()}


def build_sd_folder(folder: Path, geometry: str, *, dtype: Any = None, seed: int = 0) -> Path:
    """Write a StableDiffusionPipeline folder with random weights at ``geometry`` into ``folder``.

    The weights are made on the CPU (not under a ``torch.device`` context, which would also place
    the module-level tensors of whatever is imported meanwhile) and saved as ``dtype`` (default
    float32) in safetensors; nothing stays in memory afterwards."""
    import gc
    import json

    import torch
    from assets.make_tiny_sd import make_scheduler, write_tokenizer
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    from engine.training.clip_tokenizer import BOS_TOKEN, EOS_TOKEN

    folder = Path(folder)
    staging = folder.parent / (folder.name + ".tokenizer")
    write_tokenizer(staging)
    vocab = json.loads((staging / "vocab.json").read_text(encoding="utf-8"))
    torch.manual_seed(seed)
    components = _components(geometry, vocab[BOS_TOKEN], vocab[EOS_TOKEN])
    pipe = StableDiffusionPipeline(
        tokenizer=CLIPTokenizer.from_pretrained(staging), scheduler=make_scheduler(), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False, **components,
    )  # fmt: skip
    if dtype is not None:
        pipe.to(dtype=dtype)
    pipe.save_pretrained(folder, safe_serialization=True)
    shutil.rmtree(staging)
    del pipe, components
    gc.collect()
    return folder


def build_ast_folder(folder: Path, geometry: str) -> Path:
    """An AST AudioSet tagger (transformers' ASTForAudioClassification, random weights) with its
    feature extractor: MIT/ast-finetuned-audioset-10-10-0.4593's geometry for ``sd15``."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    from engine.audioset import label_names

    _check(geometry)
    labels = label_names()
    size = dict(num_mel_bins=128, max_length=1024) if geometry == "sd15" else \
        dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_mel_bins=64,
             max_length=128)
    config = ASTConfig(id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)}, **size)
    torch.manual_seed(0)
    ASTForAudioClassification(config).eval().save_pretrained(folder, safe_serialization=True)
    ASTFeatureExtractor(num_mel_bins=size["num_mel_bins"], max_length=size["max_length"],
                        sampling_rate=16000).save_pretrained(folder)
    return Path(folder)


def bench_parser(description: str, steps_help: str) -> argparse.ArgumentParser:
    """The options both GPU benches take: --device, --size, --steps, --geometry."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda if available, else cpu)")
    parser.add_argument("--size", type=int, default=512, help="image size in pixels (default 512)")
    parser.add_argument("--steps", type=int, default=30, help=steps_help)
    parser.add_argument("--geometry", choices=GEOMETRIES, default=None,
                        help="sd15 (SD 1.5's shapes, default on a GPU) or tiny (for CPU checks, default on a CPU)")
    parser.add_argument("--model-folder", default=None,
                        help="keep the random-weight model in this folder and reuse it when it is there (default: "
                             "a temporary folder, built each run)")
    return parser


def model_folder(args: argparse.Namespace, tmp: str | Path) -> Path:
    """The random-weight SD folder of ``args.geometry``: ``args.model_folder`` when it holds one of
    that geometry already, else built (there, or in ``tmp``), saved in fp16 for a GPU run."""
    import time

    import torch

    folder = Path(args.model_folder) if args.model_folder else Path(tmp) / f"{args.geometry}-random"
    mark = folder / "bench_geometry.txt"
    dtype = torch.float16 if args.device.startswith("cuda") else None
    wanted = f"{args.geometry} {dtype}"
    if mark.is_file() and mark.read_text() == wanted:
        print(f"reusing the random-weight model in {folder}", flush=True)
        return folder
    started = time.perf_counter()
    build_sd_folder(folder, args.geometry, dtype=dtype)
    mark.write_text(wanted)
    print(f"built and saved the random-weight model in {time.perf_counter() - started:.1f} s", flush=True)
    return folder


def start(args: argparse.Namespace, work: str) -> int | None:
    """Fill in the device and geometry, print the geometry's parameter counts (meta device) and the
    device; an exit status (2) when ``args`` ask for the sd15 geometry on a CPU, else None."""
    import torch

    args.device = args.device or default_device()
    args.geometry = args.geometry or ("sd15" if args.device.startswith("cuda") else "tiny")
    counts = parameter_counts(args.geometry)
    print(f"geometry {args.geometry}: " + ", ".join(f"{name} {n:,} parameters" for name, n in counts.items()),
          flush=True)
    if args.geometry == "sd15" and not args.device.startswith("cuda"):
        print(f"The sd15 geometry {work} on a GPU only (minutes per step on a CPU); use --geometry tiny here.")
        return 2
    quiet()
    if not args.device.startswith("cuda"):
        torch.set_num_threads(1)
    print(device_line(args.device), flush=True)
    return None


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class PeakMemory:
    """Peak GPU memory (torch.cuda.max_memory_allocated / max_memory_reserved) of a block, from a
    reset at its start; ``bytes`` stays None on a CPU, where nothing is measured. Blocks nest: an
    inner block's reset does not hide the outer block's earlier peak."""

    _open: list[PeakMemory] = []

    def __init__(self, device: str) -> None:
        self.cuda = str(device).startswith("cuda")
        self.bytes: int | None = None  # peak allocated by tensors
        self.reserved_bytes: int | None = None  # peak held by the caching allocator (what the card gives up)
        self.card_used_bytes: int | None = None  # the card's memory in use at the end (CUDA context included)
        self._seen = (0, 0)

    @staticmethod
    def _peaks() -> tuple[int, int]:
        import torch

        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated()), int(torch.cuda.max_memory_reserved())

    def _note(self, peaks: tuple[int, int]) -> None:
        self._seen = (max(self._seen[0], peaks[0]), max(self._seen[1], peaks[1]))

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            import torch

            if PeakMemory._open:  # keep the enclosing block's peak so far before resetting
                PeakMemory._open[-1]._note(self._peaks())
            torch.cuda.reset_peak_memory_stats()
            PeakMemory._open.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            import torch

            self._note(self._peaks())
            self.bytes, self.reserved_bytes = self._seen
            free, total = torch.cuda.mem_get_info()
            self.card_used_bytes = int(total - free)
            PeakMemory._open.remove(self)
            if PeakMemory._open:
                PeakMemory._open[-1]._note(self._seen)


def release(device: str) -> int | None:
    """Free what the last measurement left (garbage, the allocator's cache); the GPU bytes still
    allocated after it (None on a CPU), printed so a leak into the next measurement shows."""
    import gc

    gc.collect()
    if not str(device).startswith("cuda"):
        return None
    import torch

    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    return int(torch.cuda.memory_allocated())


def gb(num_bytes: int | None) -> str:
    return "not measured" if num_bytes is None else f"{num_bytes / 2**30:.2f} GiB"


def device_line(device: str) -> str:
    import torch

    if str(device).startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return f"device: {props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}"
    return (f"device: cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}), "
            f"torch {torch.__version__}; peak GPU memory is not measured on a CPU")


def quiet() -> None:
    """No progress bars or advice lines from diffusers and transformers (the bench prints its own)."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
