"""How a pipeline is placed on the hardware: the torch-free part of loading.

Kept apart from :mod:`engine.models.loading` so the GUI can validate settings without importing torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.models.errors import LoadPolicyError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class LoadPolicy:
    """How to place a pipeline on the hardware.

    Attributes:
        device: "auto" (CUDA, else MPS, else CPU), "cpu", "cuda", "cuda:N" or "mps".
        precision: "auto" (fp16 on CUDA, fp32 elsewhere), "fp32", "fp16" (CUDA only) or "bf16".
        attention_slicing: compute attention in slices (less memory, a little slower).
        vae_slicing: decode a batch one image at a time.
        vae_tiling: decode large images in overlapping tiles.
        cpu_offload: keep components in CPU memory and move each to the GPU while it runs
            (CUDA only; much less GPU memory, slower).

    Raises:
        LoadPolicyError: a value is not one of the above.
    """

    device: str = "auto"
    precision: str = "auto"
    attention_slicing: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not _DEVICE_PATTERN.match(self.device):
            raise LoadPolicyError(f"LoadPolicy.device is {self.device!r}; expected one of {', '.join(DEVICE_CHOICES)}.")
        if self.precision not in PRECISIONS:
            raise LoadPolicyError(f"LoadPolicy.precision is {self.precision!r}; expected one of {', '.join(PRECISIONS)}.")
        for name in ("attention_slicing", "vae_slicing", "vae_tiling", "cpu_offload"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise LoadPolicyError(f"LoadPolicy.{name} is {value!r}; expected True or False.")
