"""A hub super-resolution model as an upsampler kind: YatharthS/FlashSR ("FastAudioSR").

    python -m engine.upsample.fasr upsampler.pth --out ~/fasr-upsampler     # once, from the hub file
    specdiff-cli upsample speech16k.wav -o full.wav --model ~/fasr-upsampler

The model (Apache-2.0, about 2 MB) is HierSpeech++'s SpeechSR generator trained on speech: 16 kHz
in, 48 kHz out. Its layers are BigVGAN's (:mod:`engine.vocoders.bigvgan`): a 7-tap input conv,
linear interpolation to three times the length, the mean of two anti-aliased AMP residual blocks
(SnakeBeta activations; a third block is in the weights but unused), an anti-aliased activation
and a 7-tap output conv with tanh. It expects an 8 kHz input band (a 16 kHz recording), so on
audio that stops lower (the starter model's 4 kHz) the band in between stays empty; see the
README's note on hub upsamplers.

The hub file is a pickle (``upsampler.pth``): :func:`convert` reads it once with
``torch.load(weights_only=True)`` (no code runs), folds the weight normalisation and writes an
upsampler folder (``upsampler.json`` of kind ``"fasr"`` + ``model.safetensors``) that
:func:`engine.upsample.models.load_upsampler` reads like any other. As an upsampler it keeps the
input's own band below the cutoff and takes the model's output above it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.vocoders.bigvgan import AMPBlock1, Activation1d, SnakeBeta, fold_weight_norm

#: The model's input and output rates (fixed by its training).
INPUT_RATE_HZ = 16000
OUTPUT_RATE_HZ = 48000
_ACTIVATION = {"activation": "snakebeta", "snake_logscale": True}


@dataclass(frozen=True)
class FasrConfig:
    """The generator's size (read from the weights' shapes by :func:`config_from_state`)."""

    channels: int = 32
    kernel_sizes: tuple[int, ...] = (3, 7, 11)
    dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))

    def __post_init__(self) -> None:
        if self.channels < 1 or len(self.kernel_sizes) != 3 or len(self.dilations) != 3:
            raise ValueError("a FlashSR generator has three residual blocks and at least one channel.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FasrConfig:
        return cls(channels=int(data["channels"]), kernel_sizes=tuple(int(k) for k in data["kernel_sizes"]),
                   dilations=tuple(tuple(int(d) for d in ds) for ds in data["dilations"]))

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(map(list, v)) if k == "dilations" else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


class FasrGenerator(nn.Module):
    """16 kHz waveform ``(batch, 1, n)`` -> 48 kHz waveform ``(batch, 1, 3 n)`` in [-1, 1]."""

    def __init__(self, config: FasrConfig) -> None:
        super().__init__()
        c = config.channels
        self.conv_pre = nn.Conv1d(1, c, 7, 1, padding=3)
        self.resblocks = nn.ModuleList(AMPBlock1(_ACTIVATION, c, k, list(d))
                                       for k, d in zip(config.kernel_sizes, config.dilations))
        self.activation_post = Activation1d(SnakeBeta(c, logscale=True))
        self.conv_post = nn.Conv1d(c, 1, 7, 1, padding=3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        x = F.interpolate(x, int(x.shape[-1] * 3), mode="linear")
        x = (self.resblocks[2](x) + self.resblocks[0](x)) / 2  # the published model skips block 1
        return torch.tanh(self.conv_post(self.activation_post(x)))


class FasrUpsampler:
    """The generator as an upsampler (:func:`engine.upsample.run.upsample_clip`): audio at 48 kHz in
    and out; below the cutoff the input is kept, above it the model's output is used."""

    kind = "fasr"
    sample_rate_hz = OUTPUT_RATE_HZ
    #: The model fills the band above its 16 kHz input's Nyquist frequency (8 kHz): a band that
    #: ends there (a 16 kHz recording) is its very use, so the limit sits a little above it.
    max_cutoff_hz = INPUT_RATE_HZ / 2 + 500.0
    min_cutoff_hz = 1000.0
    chunk_alignment = OUTPUT_RATE_HZ // INPUT_RATE_HZ

    def __init__(self, config: FasrConfig, net: FasrGenerator | None = None) -> None:
        self.config = config
        self.net = net if net is not None else FasrGenerator(config)

    @torch.no_grad()
    def extend(self, audio: np.ndarray, cutoff_hz: float, *, generator: torch.Generator | None = None,
               steps: int = 0) -> np.ndarray:
        """``audio`` (channels, samples) float32 at 48 kHz, band-limited at ``cutoff_hz``: the same
        length, the input below the cutoff and the model's output above it (deterministic)."""
        from engine.audio.io import fit_length, resample

        channels, length = audio.shape
        low = resample(np.asarray(audio, dtype=np.float32), OUTPUT_RATE_HZ, INPUT_RATE_HZ)
        out = self.net(torch.from_numpy(np.ascontiguousarray(low))[:, None, :])[:, 0, :].numpy()
        out = fit_length(out.astype(np.float32), length)
        kept = np.fft.rfft(audio.astype(np.float64), axis=-1)
        made = np.fft.rfft(out.astype(np.float64), axis=-1)
        above = np.fft.rfftfreq(length, 1 / OUTPUT_RATE_HZ) >= min(cutoff_hz, INPUT_RATE_HZ / 2)
        kept[:, above] = made[:, above]
        return np.fft.irfft(kept, n=length, axis=-1).astype(np.float32)


def build(config: dict[str, Any]) -> FasrUpsampler:
    """:data:`engine.upsample.models.KINDS`' entry for ``"fasr"`` folders."""
    return FasrUpsampler(FasrConfig.from_dict(config))


def config_from_state(state: dict[str, torch.Tensor]) -> FasrConfig:
    """The generator's size, read from a (folded) state dict's shapes."""
    try:
        channels = int(state["conv_pre.weight"].shape[0])
        kernels = tuple(int(state[f"resblocks.{i}.convs1.0.weight"].shape[-1]) for i in range(3))
    except KeyError as error:
        raise ValueError(f"not a FlashSR generator: no {error.args[0]} in the weights.") from None
    return FasrConfig(channels=channels, kernel_sizes=kernels)


def generator_state(checkpoint: Any) -> dict[str, torch.Tensor]:
    """The generator's weights from the hub checkpoint: its ``model`` (or the dict itself), the
    ``dec.`` prefix of SynthesizerTrn dropped, weight normalisation folded."""
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("not a FlashSR checkpoint: expected a dict of tensors (or one under 'model').")
    state = {k[len("dec."):] if k.startswith("dec.") else k: v for k, v in state.items()}
    return {k: v.float().contiguous() for k, v in fold_weight_norm(state).items()}


def convert(checkpoint_path: str | Path, out_dir: str | Path) -> Path:
    """Write an upsampler folder (kind ``"fasr"``) from the hub's ``upsampler.pth``; returns it.

    The pickle is read with ``weights_only=True`` (tensors and plain containers only). Raises
    ValueError when the file is not a FlashSR generator (the weights must fit it exactly).
    """
    from safetensors.torch import save_file

    try:
        checkpoint = torch.load(str(checkpoint_path), map_location="cpu", weights_only=True)
    except Exception as error:  # an unpickling refusal, a truncated file, ...
        raise ValueError(f"{checkpoint_path} cannot be read as weights: {error}".splitlines()[0]) from None
    state = generator_state(checkpoint)
    config = config_from_state(state)
    net = FasrGenerator(config)
    for key, value in net.state_dict().items():  # the fixed anti-aliasing filters, if not saved
        if key.endswith(".filter"):
            state.setdefault(key, value)
    try:
        net.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{checkpoint_path}: the weights do not fit a FlashSR generator: "
                         f"{str(error).splitlines()[0]}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / "model.safetensors"))
    card = {"kind": "fasr", "config": config.to_dict(),
            "source": {"repo": "YatharthS/FlashSR", "file": Path(checkpoint_path).name, "license": "apache-2.0"}}
    (out / "upsampler.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.upsample.fasr",
                                     description="Make an upsampler folder from YatharthS/FlashSR's upsampler.pth.")
    parser.add_argument("checkpoint", help="upsampler.pth from the hub (hf download YatharthS/FlashSR upsampler.pth)")
    parser.add_argument("--out", required=True, help="the upsampler folder to write")
    args = parser.parse_args(argv)
    try:
        folder = convert(args.checkpoint, args.out)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    print(f"wrote {folder} (use it as --model {folder})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
