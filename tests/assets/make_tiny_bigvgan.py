"""Build tests/assets/tiny-bigvgan: a BigVGAN-v2 generator with random weights and tiny channels.

The config keeps the hub model's analysis (44.1 kHz, n_fft 2048, hop 512, 128 Slaney mels, fmin 0,
fmax Nyquist, snakebeta, log-scale alphas) so it exercises the real pipeline; only the widths are
tiny. The weights are saved as NVIDIA saves theirs (weight-normalised: ``weight_g``/``weight_v``),
in safetensors. Run: ``python tests/assets/make_tiny_bigvgan.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.vocoders.bigvgan import BigVGAN

CONFIG = {
    "resblock": "1",
    "num_mels": 128,
    "upsample_rates": [8, 8, 8],
    "upsample_kernel_sizes": [16, 16, 16],
    "upsample_initial_channel": 32,
    "resblock_kernel_sizes": [3, 7],
    "resblock_dilation_sizes": [[1, 3], [1, 3]],
    "activation": "snakebeta",
    "snake_logscale": True,
    "use_tanh_at_final": False,
    "use_bias_at_final": False,
    "sampling_rate": 44100,
    "n_fft": 2048,
    "hop_size": 512,
    "win_size": 2048,
    "fmin": 0,
    "fmax": None,
}


def weight_normalised(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Split every conv weight into weight_g (its norm over all dims but the first) and weight_v."""
    out = {}
    for key, value in state.items():
        if key.endswith(".weight") and value.ndim == 3:
            base = key[: -len("weight")]
            out[base + "weight_g"] = value.flatten(1).norm(dim=1).view(-1, 1, 1).clone()
            out[base + "weight_v"] = value.clone()
        else:
            out[key] = value.clone()
    return out


def main(folder: Path = Path(__file__).parent / "tiny-bigvgan") -> None:
    torch.manual_seed(0)
    model = BigVGAN(CONFIG)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("weight"):
                param.normal_(0.0, 0.05)
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    save_file({k: v.contiguous() for k, v in weight_normalised(model.state_dict()).items()},
              str(folder / "bigvgan_generator.safetensors"))


if __name__ == "__main__":
    main()
