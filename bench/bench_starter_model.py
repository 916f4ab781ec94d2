"""How fast the shipped starter model generates on this machine's CPU, and how well it follows prompts.

Generates the four prompt-check prompts (engine.training.starter_metrics.PROMPT_CHECKS) through
the real Engine + GenerateJob at the model's training resolution (128 x 128, 2.56 s) with
20 DPM++ 2M Karras steps, and prints:

* seconds per clip (end to end: text encoder, UNet, VAE, Griffin-Lim) against the reference
  measured in the same run, the clip's own duration (the ratio is the real-time factor), and
  against the same job with the random tiny SD test model (tests/assets/tiny-sd) at the same size;
* each prompt check's pass rate over the seeds;
* with ``--pitches``: how well "a sine tone at <f> Hz" holds its pitch across the named range
  (every third semitone, A2 to A6), against the reference of the same measurement on the real
  sine tone sent through the model's own VAE and Griffin-Lim inversion (what a perfect UNet
  would reach).

    .venv/bin/python bench/bench_starter_model.py [--seeds 10] [--threads 1] [--pitches]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None, help="starter folder (default: the shipped one)")
    parser.add_argument("--pitches", action="store_true", help="also measure tone pitch across the range")
    args = parser.parse_args()

    import tempfile

    import torch
    from assets.make_tiny_sd import TINY_SD_DIR

    from engine.api import Engine, EngineSettings, GenerateJob
    from engine.audio import spectrogram
    from engine.audio.spectrogram import SpectrogramParams
    from engine.models.catalog import STARTER_MODEL_DIR
    from engine.training import starter_metrics, synth
    from engine.training.train_starter import DURATION_S, SPECTROGRAM_FILE

    torch.set_num_threads(args.threads)
    folder = args.model or STARTER_MODEL_DIR
    params = SpectrogramParams.from_dict(json.loads((folder / SPECTROGRAM_FILE).read_text()))
    spectrogram.PRESETS.setdefault("starter", params)
    meta = json.loads((folder / "starter.json").read_text())
    guidance = meta["recommended"]["guidance_scale"]
    timings: dict[str, list[float]] = {"starter": [], "tiny-sd": [], "pitch": []}

    with tempfile.TemporaryDirectory() as cache, Engine(EngineSettings(device="cpu", offline=True, cache_dir=cache)) as engine:

        def run(model: Path, prompt: str, seed: int, key: str):
            job = GenerateJob(
                prompt=prompt, seed=seed, model=str(model), spectrogram_preset="starter",
                duration_s=DURATION_S, num_inference_steps=20, guidance_scale=guidance,
            )
            started = time.perf_counter()
            (result,) = engine.run(job, timeout_s=600)
            timings[key].append(time.perf_counter() - started)
            return result.audio, result.sample_rate_hz

        run(folder, "warm up", 0, "starter")
        run(TINY_SD_DIR, "warm up", 0, "tiny-sd")
        timings = {"starter": [], "tiny-sd": [], "pitch": []}
        report = starter_metrics.evaluate(lambda p, s: run(folder, p, s, "starter"), seeds=range(args.seeds))
        for seed in range(3):
            run(TINY_SD_DIR, "a sine tone at 440 Hz", seed, "tiny-sd")
        if args.pitches:
            pitch_freqs = [synth.note_to_hz(note) for note in synth.named_notes()[::3]]
            pitch_checks = [starter_metrics.tone_check(freq) for freq in pitch_freqs]
            pitch_report = starter_metrics.evaluate(
                lambda p, s: run(folder, p, s, "pitch"), pitch_checks, seeds=range(args.seeds)
            )
            ceiling = _reconstructed_tone_pitches(folder, params, pitch_freqs, pitch_checks)

    starter_s = sorted(timings["starter"])[len(timings["starter"]) // 2]
    tiny_s = sorted(timings["tiny-sd"])[len(timings["tiny-sd"]) // 2]
    print(f"starter model: {starter_s:.2f} s per {DURATION_S} s clip (median of {len(timings['starter'])}, "
          f"{args.threads} thread(s), 20 steps, guidance {guidance})")
    print(f"reference, clip duration: {DURATION_S:.2f} s -> real-time factor {starter_s / DURATION_S:.2f}")
    print(f"reference, tiny random SD test model, same job: {tiny_s:.2f} s -> ratio {starter_s / tiny_s:.2f}")
    for prompt, row in report.items():
        print(f"{prompt!r}: pass rate {row['pass_rate']:.0%} ({row['criterion']}); values {row['values']}")
    if args.pitches:
        print("tone pitch across the range (generated pass rate | real tone through VAE + inversion):")
        for freq, check in zip(pitch_freqs, pitch_checks):
            row = pitch_report[check.prompt]
            semitones = [round(12 * math.log2(v / freq), 1) for v in row["values"]]
            print(f"  {check.prompt!r}: {row['pass_rate']:.0%} | {'pass' if ceiling[check.prompt] else 'FAIL'}; "
                  f"error in semitones {semitones}")
        ours = sum(r["pass_rate"] for r in pitch_report.values()) / len(pitch_report)
        reference = sum(ceiling.values()) / len(ceiling)
        print(f"all tones: {ours:.0%} of generated clips within a semitone; reference (real tones through the "
              f"model's VAE and inversion) {reference:.0%} -> ratio {ours / reference:.2f}")


def _reconstructed_tone_pitches(folder: Path, params, freqs, checks) -> dict[str, bool]:
    """Whether each check's real sine tone survives its training image -> the model's VAE ->
    image (rounded as generated images are) -> audio."""
    from diffusers import AutoencoderKL

    from engine.audio import spectrogram
    from engine.pipelines.sampling import to_uint8
    from engine.training import synth
    from engine.training.train_starter import DURATION_S, image_array, reconstruct

    vae = AutoencoderKL.from_pretrained(folder / "vae").eval()
    num_samples = int(round(DURATION_S * params.sample_rate))
    passed = {}
    for freq, check in zip(freqs, checks):
        _, recon = reconstruct(vae, image_array(synth.sine(freq, num_samples, params.sample_rate), params)[None])
        pixels = to_uint8((recon[0].permute(1, 2, 0) / 2 + 0.5).clamp(0, 1).numpy())
        audio, rate = spectrogram.audio_from_image(spectrogram.Image.fromarray(pixels), params)
        passed[check.prompt] = check.passes(check.measure(audio, rate))
    return passed


if __name__ == "__main__":
    main()
