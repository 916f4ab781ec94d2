"""How fast the shipped starter model generates on this machine's CPU, and how well it follows prompts.

Generates the four prompt-check prompts (engine.training.starter_metrics.PROMPT_CHECKS) through
the real Engine + TextToAudioJob at the model's training resolution (128 x 128, 2.56 s) with
20 DPM++ 2M Karras steps, and prints:

* seconds per clip (end to end: text encoder, UNet, VAE, Griffin-Lim) against the reference
  measured in the same run, the clip's own duration (the ratio is the real-time factor), and
  against the same job with the random tiny SD test model (tests/assets/tiny-sd) at the same size;
* each prompt check's pass rate over the seeds.

    .venv/bin/python bench/bench_starter_model.py [--seeds 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
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
    args = parser.parse_args()

    import tempfile

    import torch
    from assets.make_tiny_sd import TINY_SD_DIR

    from engine.api import Engine, EngineSettings, TextToAudioJob
    from engine.audio import spectrogram
    from engine.audio.spectrogram import SpectrogramParams
    from engine.models.catalog import STARTER_MODEL_DIR
    from engine.training import starter_metrics
    from engine.training.train_starter import DURATION_S, SPECTROGRAM_FILE

    torch.set_num_threads(args.threads)
    folder = args.model or STARTER_MODEL_DIR
    params = SpectrogramParams.from_dict(json.loads((folder / SPECTROGRAM_FILE).read_text()))
    spectrogram.PRESETS.setdefault("starter", params)
    meta = json.loads((folder / "starter.json").read_text())
    guidance = meta["recommended"]["guidance_scale"]
    timings: dict[str, list[float]] = {"starter": [], "tiny-sd": []}

    with tempfile.TemporaryDirectory() as cache, Engine(EngineSettings(device="cpu", offline=True, cache_dir=cache)) as engine:

        def run(model: Path, prompt: str, seed: int, key: str):
            job = TextToAudioJob(
                prompt=prompt, seed=seed, model=str(model), spectrogram_preset="starter",
                duration_s=DURATION_S, num_inference_steps=20, guidance_scale=guidance,
            )
            started = time.perf_counter()
            (result,) = engine.run(job, timeout_s=600)
            timings[key].append(time.perf_counter() - started)
            return result.audio, result.sample_rate_hz

        run(folder, "warm up", 0, "starter")
        run(TINY_SD_DIR, "warm up", 0, "tiny-sd")
        timings = {"starter": [], "tiny-sd": []}
        report = starter_metrics.evaluate(lambda p, s: run(folder, p, s, "starter"), seeds=range(args.seeds))
        for seed in range(3):
            run(TINY_SD_DIR, "a sine tone at 440 Hz", seed, "tiny-sd")

    starter_s = sorted(timings["starter"])[len(timings["starter"]) // 2]
    tiny_s = sorted(timings["tiny-sd"])[len(timings["tiny-sd"]) // 2]
    print(f"starter model: {starter_s:.2f} s per {DURATION_S} s clip (median of {len(timings['starter'])}, "
          f"{args.threads} thread(s), 20 steps, guidance {guidance})")
    print(f"reference, clip duration: {DURATION_S:.2f} s -> real-time factor {starter_s / DURATION_S:.2f}")
    print(f"reference, tiny random SD test model, same job: {tiny_s:.2f} s -> ratio {starter_s / tiny_s:.2f}")
    for prompt, row in report.items():
        print(f"{prompt!r}: pass rate {row['pass_rate']:.0%} ({row['criterion']}); values {row['values']}")


if __name__ == "__main__":
    main()
