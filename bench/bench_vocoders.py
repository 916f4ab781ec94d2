"""Vocoders side by side: multi-resolution STFT distance to the original audio and real-time factor.

Run:  .venv/bin/python bench/bench_vocoders.py [--clips 8] [--preset starter] [--threads 1]
                                                [--vocoder NAME_OR_FOLDER ...] [--font timgm]
                                                [--bigvgan-speed]

Held-out clips that no model here was trained on: General MIDI clips (notes, chords, arpeggios,
beats, hits, effects) rendered with fluidsynth from TimGM6mb (or MuseScore General) - the starter
model and the offline vocoder/upsampler train on FluidR3_GM renders. Each clip is analysed with
the preset (the spectrogram a model would draw), every vocoder turns that spectrogram back into
audio (same seed), and the output is compared with the original clip by

* multi-resolution STFT distance (Yamamoto et al. 2020, as in Parallel WaveGAN / BigVGAN's
  training loss): the mean over FFT sizes 512, 1024 and 2048 (hop 1/4, Hann) of spectral
  convergence ||S - S'||_F / ||S||_F plus mean |log S - log S'|, over the bins the spectrogram
  holds (0 to the preset's ``max_frequency``: nothing above it was ever in the input) - lower is
  better;
* real-time factor: audio seconds per second of wall time on ``--threads`` CPU threads.

Griffin-Lim (the reference) always runs in the same pass; the ratio column is each vocoder's
distance / Griffin-Lim's (below 1: better than Griffin-Lim). Neural vocoders whose weights are
not in the store are listed as skipped. ``--bigvgan-speed`` also times BigVGAN-v2's generator at
the hub model's full size (122 M parameters; random weights: the speed does not depend on the
weights) on the CPU, and on CUDA when there is one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.params import get_preset  # noqa: E402
from engine.audio.spectrogram import mel_from_audio  # noqa: E402
from engine.models.errors import ModelError  # noqa: E402
from engine.vocoders import DEFAULT_VOCODER, vocoder_names  # noqa: E402
from engine.vocoders.factory import make_vocoder  # noqa: E402

FFT_SIZES = (512, 1024, 2048)
#: BigVGAN-v2 44 kHz 128-band 512x as published (config.json of nvidia/bigvgan_v2_44khz_128band_512x).
BIGVGAN_V2_CONFIG = {
    "resblock": "1", "num_mels": 128, "upsample_rates": [8, 4, 2, 2, 2, 2],
    "upsample_kernel_sizes": [16, 8, 4, 4, 4, 4], "upsample_initial_channel": 1536,
    "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "activation": "snakebeta", "snake_logscale": True, "use_tanh_at_final": False, "use_bias_at_final": False,
    "sampling_rate": 44100, "n_fft": 2048, "hop_size": 512, "win_size": 2048, "fmin": 0, "fmax": None,
}  # fmt: skip


def mr_stft_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate_hz: int, max_hz: float) -> float:
    """Multi-resolution STFT distance (spectral convergence + log-magnitude L1, mean over FFT sizes)
    of mono ``estimate`` against ``reference``, over the bins up to ``max_hz``."""
    ref = torch.from_numpy(np.asarray(reference, dtype=np.float32))
    est = torch.from_numpy(np.asarray(estimate, dtype=np.float32))
    total = 0.0
    for n_fft in FFT_SIZES:
        window = torch.hann_window(n_fft)
        bins = int(max_hz * n_fft / sample_rate_hz) + 1
        s_ref = torch.stft(ref, n_fft, n_fft // 4, window=window, return_complex=True).abs()[:bins]
        s_est = torch.stft(est, n_fft, n_fft // 4, window=window, return_complex=True).abs()[:bins]
        convergence = torch.linalg.norm(s_ref - s_est) / torch.linalg.norm(s_ref).clamp_min(1e-8)
        log_l1 = (torch.log(s_ref.clamp_min(1e-5)) - torch.log(s_est.clamp_min(1e-5))).abs().mean()
        total += float(convergence + log_l1)
    return total / len(FFT_SIZES)


def held_out_clips(count: int, params, font: str, seed: int) -> np.ndarray:
    """``count`` General MIDI clips rendered with a font no model here trains on, peak 0.5."""
    from engine.training import gm_corpus

    fonts = {"timgm": gm_corpus.TIMGM_FONT, "musescore": gm_corpus.MUSESCORE_FONT}
    rng = np.random.default_rng(seed)
    clips = [gm_corpus.random_clip(rng) for _ in range(count)]
    duration_s = params.hop_length * 256 / params.sample_rate
    audio = gm_corpus.render(clips, sample_rate_hz=params.sample_rate, duration_s=duration_s, font=fonts[font],
                             workers=1)
    peaks = np.abs(audio).max(axis=1, keepdims=True)
    keep = peaks[:, 0] > 1e-4  # a silent render says nothing
    return (0.5 * audio[keep] / peaks[keep]).astype(np.float32)


def time_generator(device: str, seconds: float = 5.0, repeats: int = 2) -> float:
    """BigVGAN-v2's generator at full size (random weights) on ``device``: real-time factor."""
    from engine.vocoders.bigvgan import BigVGAN, bigvgan_mel

    model = BigVGAN(BIGVGAN_V2_CONFIG).to(device).eval()
    wave = (0.1 * torch.randn(1, int(seconds * 44100))).to(device)
    with torch.inference_mode():
        mel = bigvgan_mel(wave, BIGVGAN_V2_CONFIG)
        model(mel[..., :32])  # warm up
        best = float("inf")
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(mel)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    return seconds / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--preset", default="starter")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gl-iters", type=int, default=32)
    parser.add_argument("--vocoder", action="append", default=[], help="names or folders (default: every registry vocoder)")
    parser.add_argument("--font", choices=("timgm", "musescore"), default="timgm")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--bigvgan-speed", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    params = get_preset(args.preset)
    clips = held_out_clips(args.clips, params, args.font, args.seed)
    seconds = clips.shape[0] * clips.shape[1] / params.sample_rate
    print(f"{clips.shape[0]} held-out GM clips ({args.font}), {seconds:.1f} s at {params.sample_rate} Hz, preset "
          f"{args.preset!r} (0-{params.max_frequency:.0f} Hz compared), {args.threads} torch thread(s)")
    names = [DEFAULT_VOCODER] + [n for n in (args.vocoder or vocoder_names()) if n != DEFAULT_VOCODER]
    rows = []
    for name in names:
        try:
            vocoder = make_vocoder(name, n_iter=args.gl_iters)
        except (ModelError, ValueError) as error:
            print(f"{name:>14}: skipped ({str(error).splitlines()[0][:110]})")
            continue
        distances, wall = [], 0.0
        for index, clip in enumerate(clips):
            mel = torch.from_numpy(mel_from_audio(clip[None], params))
            start = time.perf_counter()
            wave = vocoder(mel, params, num_samples=clip.size, generator=torch.Generator().manual_seed(index))
            wall += time.perf_counter() - start
            distances.append(mr_stft_distance(clip, wave[0].numpy(), params.sample_rate, params.max_frequency))
        rows.append((name, float(np.mean(distances)), seconds / wall))
    reference = rows[0][1]
    print(f"{'vocoder':>14}  {'MR-STFT dist':>12}  {'/ GL':>6}  {'x real time':>11}")
    for name, distance, rtf in rows:
        print(f"{Path(name).name if os.sep in name else name:>14}  {distance:12.3f}  {distance / reference:6.2f}  {rtf:11.1f}")
    if args.bigvgan_speed:
        print(f"BigVGAN-v2 generator (122 M parameters, random weights), CPU {args.threads} thread(s): "
              f"{time_generator('cpu', seconds=2.0, repeats=1):.2f}x real time")
        if torch.cuda.is_available():
            print(f"BigVGAN-v2 generator on {torch.cuda.get_device_name()}: {time_generator('cuda'):.1f}x real time "
                  "(NVIDIA: 70-80x on an A100, plain torch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
