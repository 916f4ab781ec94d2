"""Upsamplers side by side on held-out clips: LSD, white-noise flatness, real-time factor.

Run:  .venv/bin/python bench/bench_upsample.py [--clips 16] [--model builtin:upsampler]
                                               [--diffusion FOLDER] [--noise-seeds 3] [--threads 2]

Held-out clips no upsampler here was trained on: General MIDI clips rendered from two other sound
fonts (TimGM6mb, MuseScore General Lite) and from FluidR3 with the instruments training leaves
out (engine.training.train_upsampler.HELD_OUT_PROGRAMS), 2.56 s at 44.1 kHz. Each is made what the
starter model makes (22.05 kHz, nothing above 4 kHz; and, MP3-like, 44.1 kHz cut at 8 kHz), then
upsampled. Figures, each beside its reference from the same run:

* LSD (engine.upsample.dsp.log_spectral_distance, log10 power, 2048-point frames) against the
  original: of the upsampled clip and of the band-limited input (target: 30% lower), at 44.1 kHz
  and at 22.05 kHz output (the at-least-11-kHz target).
* Full-band spectral flatness of the starter model's "white noise" (20 steps, seeds 0..n-1)
  before and after upsampling, against real white noise (~0.56; target >= 0.3).
* Real-time factor (audio seconds per second) of upsampling 30 s on ``--threads`` threads,
  against Griffin-Lim inversion of the same 30 s in the starter's spectrogram (the pipeline
  stage it follows).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audio.io import resample  # noqa: E402
from engine.upsample.dsp import log_spectral_distance, spectral_flatness  # noqa: E402
from engine.upsample.models import load_upsampler  # noqa: E402
from engine.specs import run_to_end as drive  # noqa: E402
from engine.upsample.run import upsample_clip  # noqa: E402

RATE = 44100


def brick_wall(audio: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(audio, axis=-1)
    spectrum[..., np.fft.rfftfreq(audio.shape[-1], 1 / rate) >= cutoff_hz] = 0
    return np.fft.irfft(spectrum, n=audio.shape[-1], axis=-1).astype(np.float32)


def held_out_clips(count: int, seed: int) -> dict[str, np.ndarray]:
    """name -> (count, samples) at 44.1 kHz, peak-normalised to 0.5, silent clips dropped."""
    from engine.training.gm_corpus import FLUID_FONT, MUSESCORE_FONT, TIMGM_FONT, render
    from engine.training.train_upsampler import corpus_clips

    rng = np.random.default_rng(seed)
    sets = {}
    other = corpus_clips(count, rng)
    sets["TimGM6mb"] = render(other, sample_rate_hz=RATE, duration_s=2.56, font=TIMGM_FONT)
    sets["MuseScore"] = render(other, sample_rate_hz=RATE, duration_s=2.56, font=MUSESCORE_FONT)
    sets["FluidR3 held-out instruments"] = render(corpus_clips(count, rng, held_out=True), sample_rate_hz=RATE,
                                                  duration_s=2.56, font=FLUID_FONT)
    out = {}
    for name, audio in sets.items():
        peaks = np.abs(audio).max(axis=1)
        keep = audio[peaks > 1e-3]
        out[name] = (keep * (0.5 / np.abs(keep).max(axis=1, keepdims=True))).astype(np.float32)
    return out


def lsd_rows(upsamplers: dict[str, object], clips: dict[str, np.ndarray], steps: int) -> None:
    print("\nLSD against the original (lower is better; ratio = upsampled / band-limited input)")
    cases = (("starter-like: 22.05 kHz, cut at 4 kHz -> 44.1 kHz", 22050, 4000.0, RATE),
             ("starter-like: 22.05 kHz, cut at 4 kHz -> 22.05 kHz", 22050, 4000.0, 22050),
             ("MP3-like: 44.1 kHz cut at 8 kHz -> 44.1 kHz", RATE, 8000.0, RATE))
    for title, in_rate, cutoff, out_rate in cases:
        print(f"  {title}")
        for set_name, audio in clips.items():
            base, ours = {}, {name: [] for name in upsamplers}
            lsd_in = []
            for clip in audio:
                original = resample(clip[None], RATE, out_rate)
                limited = brick_wall(resample(clip[None], RATE, in_rate), in_rate, cutoff)
                lsd_in.append(log_spectral_distance(original, resample(limited, in_rate, out_rate), out_rate))
                for name, upsampler in upsamplers.items():
                    made = drive(upsample_clip(upsampler, limited, in_rate, output_rate_hz=out_rate, steps=steps))
                    ours[name].append(log_spectral_distance(original, made.audio, out_rate))
            base = float(np.mean(lsd_in))
            row = "  ".join(f"{name} {np.mean(v):.3f} (x{np.mean(v) / base:.2f})" for name, v in ours.items())
            print(f"    {set_name:30s} n={len(audio):3d}  input {base:.3f}  {row}")


def noise_rows(upsamplers: dict[str, object], seeds: int, steps: int) -> None:
    from engine.api import Engine, EngineSettings, GenerateJob

    print("\nStarter model 'white noise' (20 steps): full-band spectral flatness (real white noise in the last row)")
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        made = [engine.run(GenerateJob("white noise", seed=s, model="builtin:starter", spectrogram_preset="starter",
                                       duration_s=2.56, num_inference_steps=20, guidance_scale=5.0))[0]
                for s in range(seeds)]
    for result in made:
        rate = result.sample_rate_hz
        row = [f"seed {result.recipe.seed}: starter {spectral_flatness(result.audio, rate):.3f} (0-{rate / 2000:.2f} kHz)"]
        for name, upsampler in upsamplers.items():
            for out_rate in (RATE, 22050):
                up = drive(upsample_clip(upsampler, result.audio, rate, output_rate_hz=out_rate, steps=steps))
                row.append(f"{name} {spectral_flatness(up.audio, out_rate):.3f} (0-{out_rate / 2000:.2f} kHz)")
        print("  " + "  ".join(row))
    noise = np.random.default_rng(0).standard_normal((1, RATE * 2)).astype(np.float32)
    print(f"  real white noise {spectral_flatness(noise, RATE):.3f}")


def speed_rows(upsamplers: dict[str, object], steps: int) -> None:
    from engine.audio.params import get_preset
    from engine.audio.spectrogram import audio_from_mel, mel_from_audio

    seconds = 30.0
    rng = np.random.default_rng(1)
    clip = brick_wall((0.1 * rng.standard_normal((1, int(22050 * seconds)))).astype(np.float32), 22050, 4000.0)
    params = get_preset("starter")
    mel = mel_from_audio(clip, params)
    start = time.perf_counter()
    audio_from_mel(mel, params)
    gl = time.perf_counter() - start
    print(f"\nReal-time factor on {torch.get_num_threads()} threads ({seconds:.0f} s at 22.05 kHz, cut at 4 kHz)")
    print(f"  Griffin-Lim inversion of the same audio (starter preset): {seconds / gl:.1f}x real time")
    for name, upsampler in upsamplers.items():
        start = time.perf_counter()
        drive(upsample_clip(upsampler, clip, 22050, steps=steps))
        took = time.perf_counter() - start
        print(f"  {name}: {seconds / took:.1f}x real time ({took:.2f} s; {took / gl:.2f}x Griffin-Lim's time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=16, help="clips per held-out set")
    parser.add_argument("--model", default="builtin:upsampler")
    parser.add_argument("--diffusion", default=None, help="a diffusion upsampler folder to compare")
    parser.add_argument("--steps", type=int, default=0, help="diffusion sampling steps (default: the model's)")
    parser.add_argument("--noise-seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    upsamplers = {"spectral": load_upsampler(args.model)}
    if args.diffusion:
        upsamplers["diffusion"] = load_upsampler(args.diffusion)
    clips = held_out_clips(args.clips, args.seed)
    lsd_rows(upsamplers, clips, args.steps)
    noise_rows(upsamplers, args.noise_seeds, args.steps)
    speed_rows(upsamplers, args.steps)


if __name__ == "__main__":
    main()
