"""Train an upsampler on audio that needs no download, or on any folder of audio.

    python -m engine.training.train_upsampler --out resources/models/upsampler           # shipped model
    python -m engine.training.train_upsampler --out my-upsampler --audio ~/Music --steps 3000
    python -m engine.training.train_upsampler --kind diffusion --out my-diffusion-upsampler --audio ~/Music

Data (the default): General MIDI clips rendered by fluidsynth from Debian's FluidR3 sound font
(:mod:`engine.training.gm_corpus`: sampled instruments, drum kits, sound effects), without the
instruments in :data:`HELD_OUT_PROGRAMS`, plus the synthetic corpus (:mod:`engine.training.synth`:
tones, chords, sweeps, white/pink/brown noise, clicks, plucks). ``--audio DIR`` trains on every
audio file in a folder instead (cut into 2.56 s pieces at the model's rate). Evaluation
(bench/bench_upsample.py) uses other sound fonts (TimGM6mb, MuseScore General) and the held-out
instruments.

Kinds: ``spectral`` (the shipped offline model, :mod:`engine.upsample.spectral`: band energies
above a random cutoff between 2.5 and 12 kHz predicted from those below, L1 on log10 power) and
``diffusion`` (seed 004's waveform U-Net, :mod:`engine.upsample.diffusion`). Everything is seeded:
the same command on the same machine and thread count writes the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

#: General MIDI programs never used for training (evaluation's held-out instruments): every
#: eighth program from 5 (electric piano 2, xylophone, accordion, overdriven guitar, slap bass 2,
#: pizzicato strings, voice oohs, brass section, English horn, shakuhachi, ...).
HELD_OUT_PROGRAMS = frozenset(range(5, 128, 8))
CLIP_S = 2.56


def corpus_clips(count: int, rng: np.random.Generator, held_out: bool = False) -> list[Any]:
    """``count`` General MIDI clips: without (``held_out`` False) or only with (True) the
    held-out instruments (drum beats and hits count as training material)."""
    from engine.training.gm_corpus import random_clip

    clips = []
    while len(clips) < count:
        clip = random_clip(rng)
        pitched = not clip.drums
        is_held = pitched and clip.program in HELD_OUT_PROGRAMS
        if is_held == held_out and (pitched or not held_out):
            clips.append(clip)
    return clips


def _normalise(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each clip to a random peak between -20 and -1 dBFS (silent clips stay silent)."""
    peaks = np.abs(audio).max(axis=1, keepdims=True)
    target = 10 ** (rng.uniform(-20, -1, size=(len(audio), 1)) / 20)
    return np.where(peaks > 1e-6, audio * target / np.maximum(peaks, 1e-6), audio).astype(np.float32)


def builtin_corpus(num_gm: int, num_synth: int, sample_rate_hz: int, seed: int, batch: int = 500) -> Iterator[np.ndarray]:
    """Batches (clips, samples) float32 of ``num_gm`` FluidR3 renders, then ``num_synth``
    synthetic sounds (in batches, so the corpus never sits in memory as audio at once)."""
    from engine.training.gm_corpus import render
    from engine.training.synth import random_example

    rng = np.random.default_rng(seed)
    clips = corpus_clips(num_gm, rng)
    for start in range(0, num_gm, batch):
        audio = render(clips[start : start + batch], sample_rate_hz=sample_rate_hz, duration_s=CLIP_S, workers=2)
        yield _normalise(audio[np.abs(audio).max(axis=1) > 1e-4], rng)
    for start in range(0, num_synth, batch):
        count = min(batch, num_synth - start)
        audio = np.stack([random_example(rng, CLIP_S, sample_rate_hz).audio for _ in range(count)]).astype(np.float32)
        yield _normalise(audio, rng)


def folder_corpus(folder: Path, sample_rate_hz: int, seed: int, max_clips: int = 20000) -> np.ndarray:
    """Every audio file under ``folder`` (wav, flac, ogg, aiff), mono at ``sample_rate_hz``, cut
    into :data:`CLIP_S` pieces. ValueError if there is none."""
    from engine.audio.io import read_audio, resample, to_mono

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".wav", ".flac", ".ogg", ".aiff", ".aif"})
    n = int(CLIP_S * sample_rate_hz)
    pieces = []
    for path in files:
        try:
            audio, rate = read_audio(path)
        except ValueError as error:
            print(f"skipped {path}: {error}")
            continue
        mono = resample(to_mono(audio), rate, sample_rate_hz)[0]
        pieces.extend(mono[i : i + n] for i in range(0, len(mono) - n + 1, n))
    if not pieces:
        raise ValueError(f"no audio of at least {CLIP_S} s in {folder} (wav, flac, ogg, aiff).")
    rng = np.random.default_rng(seed)
    audio = np.stack(pieces[:max_clips]).astype(np.float32)
    return _normalise(audio[np.abs(audio).max(axis=1) > 1e-4], rng)


# ---------------------------------------------------------------------------------------------
# The spectral model
# ---------------------------------------------------------------------------------------------


def band_powers(batches: Iterable[np.ndarray], upsampler: Any, batch: int = 64) -> Any:
    """Linear band powers (clips, bands, frames) float32 of batches of audio (clips, samples)."""
    import torch

    c = upsampler.config
    out = []
    for audio in batches:
        for start in range(0, len(audio), batch):
            x = torch.from_numpy(audio[start : start + batch])
            spec = torch.stft(x, c.n_fft, c.hop, window=upsampler.window, center=True, return_complex=True)
            power = spec.real**2 + spec.imag**2
            out.append(torch.einsum("bk,ckt->cbt", upsampler.band_matrix, power))
    return torch.cat(out)


def random_cutoffs(rng: np.random.Generator, count: int, config: Any) -> np.ndarray:
    """Training cutoffs (Hz): 40% around the starter's 4 kHz, the rest uniform up to the max."""
    wide = rng.uniform(2500.0, config.max_cutoff_hz, size=count)
    near = rng.uniform(3500.0, 4500.0, size=count)
    return np.where(rng.random(count) < 0.4, near, wide)


def warmup_cosine(steps: int, warmup: int = 100) -> Any:
    """Learning-rate factor per step: linear warm-up, then a cosine down to 5%."""
    warmup = max(1, min(warmup, steps // 10))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, t)))

    return factor


def optimise(net: Any, batch_loss: Any, args: argparse.Namespace, lr: float, log: Any = print) -> list[float]:
    """``args.steps`` AdamW steps on ``batch_loss(step)`` (warm-up + cosine, gradients clipped
    at 1), logging every ``args.log_every``; returns the losses. Leaves ``net`` in eval mode."""
    import torch

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(args.steps))
    net.train()
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        loss = batch_loss(step)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if step % args.log_every == 0 or step == args.steps:
            log(f"step {step}/{args.steps}  loss {np.mean(losses[-args.log_every:]):.4f}  {time.perf_counter() - started:.0f} s")
    net.eval()
    return losses


def train_spectral(audio: Iterable[np.ndarray], args: argparse.Namespace, log: Any = print) -> tuple[Any, dict[str, Any]]:
    import torch

    from engine.upsample.spectral import POWER_FLOOR, BandNet, SpectralConfig, SpectralUpsampler, features

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    started = time.perf_counter()
    config = SpectralConfig(hidden=args.hidden, layers=args.layers)
    net = BandNet(config)
    helper = SpectralUpsampler(config, net)
    powers = band_powers(audio, helper)
    log(f"data ready in {time.perf_counter() - started:.0f} s")
    n_clips, bands, frames = powers.shape
    log(f"{n_clips} clips, {bands} bands x {frames} frames, {sum(p.numel() for p in net.parameters())} parameters")
    crop = min(args.crop_frames, frames)

    def batch_loss(step: int) -> Any:
        idx = torch.from_numpy(rng.integers(0, n_clips, size=args.batch_size))
        offsets = rng.integers(0, frames - crop + 1, size=args.batch_size)
        batch = torch.stack([powers[i, :, o : o + crop] for i, o in zip(idx.tolist(), offsets.tolist())])
        known_bins = np.ceil(random_cutoffs(rng, args.batch_size, config) / config.bin_hz).astype(int)
        counts = [helper.known_bands(int(k)) for k in known_bins]
        known = torch.zeros(args.batch_size, bands)
        for j, nb in enumerate(counts):
            known[j, :nb] = 1.0
        inputs = batch.clone()
        # The bands just below a cutoff are often rolled off (a mel filter bank's top, an
        # anti-alias filter): attenuate them at random so the model does not copy the cliff.
        for j, nb in enumerate(counts):
            if rng.random() < 0.5 and nb > 2:
                inputs[j, nb - 1] *= float(10 ** -rng.uniform(0, 2))
                inputs[j, nb - 2] *= float(10 ** -rng.uniform(0, 1))
        feats, ref = features(inputs, known, helper.widths)
        target = (torch.log10(batch + POWER_FLOOR) - ref) / 2
        unknown = 1.0 - known.unsqueeze(-1)
        return ((net(feats) - target).abs() * unknown).sum() / (unknown.sum() * crop)

    losses = optimise(net, batch_loss, args, args.lr, log)
    info = {"final_loss_l1_log10_power_halved": round(float(np.mean(losses[-100:])), 4)}
    return SpectralUpsampler(config, net), info


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine.training.train_upsampler", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (upsampler.json + model.safetensors)")
    parser.add_argument("--kind", default="spectral", choices=("spectral", "diffusion"))
    parser.add_argument("--audio", default=None, help="train on the audio files of this folder instead of the built-in corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--num-gm", type=int, default=3000, help="General MIDI clips rendered for the built-in corpus")
    parser.add_argument("--num-synth", type=int, default=1200, help="synthetic clips for the built-in corpus")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--crop-frames", type=int, default=96)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--crop-samples", type=int, default=16384, help="diffusion: training crop length (samples)")
    parser.add_argument("--diffusion-channels", type=int, nargs="+", default=[32, 64, 96, 128],
                        help="diffusion: U-Net channels per level (each a multiple of 8)")
    parser.add_argument("--diffusion-lr", type=float, default=5e-4)
    parser.add_argument("--log-every", type=int, default=100)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from engine.upsample.models import save_upsampler

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    rate = 44100
    if args.audio:
        audio = [folder_corpus(Path(args.audio), rate, args.seed)]
        data = {"folder": str(Path(args.audio).resolve())}
    else:
        audio = builtin_corpus(args.num_gm, args.num_synth, rate, args.seed)
        data = {"general_midi_clips": args.num_gm, "synth_clips": args.num_synth,
                "font": "FluidR3_GM (fluid-soundfont-gm)", "held_out_programs": sorted(HELD_OUT_PROGRAMS)}
    if args.kind == "spectral":
        upsampler, info = train_spectral(audio, args)
    else:
        from engine.upsample.diffusion import train_diffusion

        upsampler, info = train_diffusion(audio, args)
    seconds = time.perf_counter() - started
    training = {
        "script": "python -m engine.training.train_upsampler",
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "data": data,
        "seconds": round(seconds, 1),
        "threads": args.threads,
        "torch": torch.__version__,
        **info,
    }
    out = save_upsampler(args.out, args.kind, upsampler.config.to_dict(), upsampler.net, training=training)
    print(f"wrote {out} in {seconds:.0f} s")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
