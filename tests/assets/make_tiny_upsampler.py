"""Build the tiny random-weight spectral upsampler in tests/assets/tiny-upsampler/.

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
CONFIG = SpectralConfig(sample_rate_hz=22050, n_fft=512, hop=128, num_bands=16, hidden=8, layers=2, kernel=3,
                        min_cutoff_hz=1500.0, max_cutoff_hz=8000.0)


def main() -> None:
    torch.manual_seed(0)
    net = BandNet(CONFIG)
    save_upsampler(OUT, "spectral", CONFIG.to_dict(), net, training={"note": "random weights (tests only)"})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
