"""Build the tiny random-weight upsamplers in tests/assets/: tiny-upsampler/ (spectral) and
tiny-diffusion-upsampler/ (seed 004's U-Net).

A real upsampler folder (``upsampler.json`` + ``model.safetensors``) with a small config:
22.05 kHz, 512-point STFT, 16 bands, 8 hidden channels, two layers. The weights are random
(seeded), so the band it fills is noise-like, but loading and every code path are the real
ones. Run ``python tests/assets/make_tiny_upsampler.py`` to regenerate; the output is
deterministic.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.upsample.models import save_upsampler
from engine.upsample.spectral import BandNet, SpectralConfig

OUT = Path(__file__).resolve().parent / "tiny-upsampler"
DIFFUSION_OUT = Path(__file__).resolve().parent / "tiny-diffusion-upsampler"
CONFIG = SpectralConfig(sample_rate_hz=22050, n_fft=512, hop=128, num_bands=16, hidden=8, layers=2, kernel=3,
                        min_cutoff_hz=1500.0, max_cutoff_hz=8000.0)


def main() -> None:
    torch.manual_seed(0)
    net = BandNet(CONFIG)
    save_upsampler(OUT, "spectral", CONFIG.to_dict(), net, training={"note": "random weights (tests only)"})
    print(f"wrote {OUT}")
    from engine.upsample.diffusion import DiffusionConfig, UNet1d

    config = DiffusionConfig(sample_rate_hz=22050, channels=(8, 16), factors=(4,), blocks=1, embedding=16,
                             default_steps=3, min_cutoff_hz=1500.0, max_cutoff_hz=8000.0, n_fft=512, hop=128)
    torch.manual_seed(0)
    save_upsampler(DIFFUSION_OUT, "diffusion", config.to_dict(), UNet1d(config),
                   training={"note": "random weights (tests only)"})
    print(f"wrote {DIFFUSION_OUT}")


if __name__ == "__main__":
    main()
