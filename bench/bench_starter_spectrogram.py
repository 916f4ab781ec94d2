"""Which spectrogram should the starter model work in? Real sounds through each candidate.

For each candidate Riffusion-format preset (mel rows, top frequency, window length), real
sounds go through audio -> spectrogram image -> (optionally a VAE trained here on that
spectrogram, as the starter's stage 1 trains it) -> image -> Griffin-Lim audio, and are measured:

* pitch: sine tones at every semitone from A1 (55 Hz) to B6, the share within a semitone below
  and above 200 Hz and the mean error below 200 Hz (a mel row there is wider than a semitone:
  the first starter model's low tones came out 1-3 semitones flat);
* time: single drum hits rendered from FluidR3 (mean onset error in ms) and drum beats (tempo
  within 5%);
* cost: pixels per 2.56 s image, relative to the first starter's 128 x 128 (the UNet's step time
  grows with it).

The reference in the same run is the first starter model's own spectrogram (candidate "A").

    .venv/bin/python bench/bench_starter_spectrogram.py [--vae-steps 1500] [--only A,C]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Candidates: name -> SpectrogramParams changes from the first starter's spectrogram.
CANDIDATES: dict[str, dict] = {
    "A 128 rows 0-4 kHz 100 ms": {},
    "B 128 rows 0-3 kHz 100 ms": {"max_frequency": 3000},
    "C 128 rows 0-4 kHz 150 ms": {"window_duration_ms": 150, "padded_duration_ms": 300},
    "D 160 rows 0-4 kHz 100 ms": {"num_frequencies": 160},
    "F 256 rows 0-4 kHz 100 ms": {"num_frequencies": 256},
    "G 128 rows 0-4 kHz 200 ms": {"window_duration_ms": 200, "padded_duration_ms": 400},
}
WIDTH = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae-steps", type=int, default=0, help="also train a VAE per candidate (0: inversion only)")
    parser.add_argument("--vae-examples", type=int, default=1500, help="images per candidate VAE (half synth, half GM)")
    parser.add_argument("--only", default="", help="comma-separated candidate letters")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from engine.audio import spectrogram
    from engine.audio.spectrogram import SpectrogramParams
    from engine.training import gm_corpus, starter_metrics, synth
    from engine.training import train_starter as ts

    rate = ts.STARTER_SPECTROGRAM["sample_rate"]
    duration = 2.56
    n = int(round(duration * rate))
    notes = synth.named_notes("A1", "B6")
    tones = [0.5 * synth.sine(synth.note_to_hz(note), n, rate, 0.3) for note in notes]
    freqs = np.array([synth.note_to_hz(note) for note in notes])
    rng = np.random.default_rng(0)
    hit_keys = (36, 38, 42, 39, 49, 45)
    hits = [gm_corpus.GMClip(kit, True, (gm_corpus.NoteEvent(key, 100, 0.3 + 0.05 * i, 0.3),), {"kind": "hit"})
            for i, (kit, key) in enumerate((k, h) for k in (0, 25, 32) for h in hit_keys)]  # fmt: skip
    rock = [p for p in gm_corpus.BEAT_PATTERNS if p.name in ("rock", "four on the floor", "shuffle")]
    beats = [gm_corpus.beat_clip(p, kit, bpm, 100, float(rng.uniform(0, 0.4))) for p in rock for kit in (0, 24) for bpm in (85, 110, 140)]
    hit_audio = gm_corpus.render(hits, sample_rate_hz=rate, duration_s=duration)
    beat_audio = gm_corpus.render(beats, sample_rate_hz=rate, duration_s=duration)
    training_audio = []
    if args.vae_steps:
        train_rng = np.random.default_rng(1)
        training_audio = [synth.random_example(train_rng, duration, rate).audio for _ in range(args.vae_examples // 2)]
        clips = [gm_corpus.random_clip(train_rng) for _ in range(args.vae_examples - len(training_audio))]
        training_audio += list(gm_corpus.render(clips, sample_rate_hz=rate, duration_s=duration))

    chosen = [c for c in CANDIDATES if not args.only or c[0] in args.only.split(",")]
    for name in chosen:
        params = SpectrogramParams(**{**ts.STARTER_SPECTROGRAM, **CANDIDATES[name]})
        started = time.monotonic()
        through = _identity
        if args.vae_steps:
            through = _trained_vae(params, training_audio, args.vae_steps)

        def round_trip(audio: np.ndarray, params=params, through=through) -> np.ndarray:
            pixels = through(ts.image_array(audio, params, WIDTH))
            out, _ = spectrogram.audio_from_image(spectrogram.Image.fromarray(pixels), params, generator=torch.Generator().manual_seed(0))
            return out[0]

        errors = np.array([12 * math.log2(starter_metrics.dominant_frequency_hz(round_trip(x), rate) / f) for x, f in zip(tones, freqs)])
        low, high = (freqs >= 100) & (freqs < 200), (freqs >= 200) & (freqs <= 2000)
        onset_ms = [1000 * abs(starter_metrics.onset_times_s(round_trip(x), rate)[0] - c.notes[0].start_s) for x, c in zip(hit_audio, hits)]
        tempo_ok = [starter_metrics.tempo_check(c.attributes["tempo_bpm"]).passes(starter_metrics.tempo_bpm(round_trip(x), rate)) for x, c in zip(beat_audio, beats)]
        cost = params.num_frequencies * WIDTH / (128 * 128)
        print(
            f"{name}{' + VAE' if args.vae_steps else ''}: tones within a semitone 100-200 Hz {np.mean(np.abs(errors[low]) <= 1):.0%} "
            f"(mean error {errors[low].mean():+.2f} st), 200-2000 Hz {np.mean(np.abs(errors[high]) <= 1):.0%}; "
            f"drum onsets off by {np.mean(onset_ms):.1f} ms; beats at tempo {np.mean(tempo_ok):.0%}; "
            f"cost {cost:.2f}x the first starter's image ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
        print("   low tones (semitones):", " ".join(f"{note}:{e:+.1f}" for note, e, f in zip(notes, errors, freqs) if f < 260), flush=True)


def _identity(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels[..., None], 3, axis=2)


def _trained_vae(params, training_audio, steps: int):
    """A VAE trained as the starter's stage 1 (train_starter.train_vae) on the images of
    ``training_audio`` in ``params``; returns image -> decode(encode(image)) as uint8 RGB."""
    import torch

    from engine.pipelines.sampling import to_uint8
    from engine.training import train_starter as ts

    images = np.stack([ts.image_array(a, params, WIDTH) for a in training_audio])
    config = ts.TrainConfig(vae_steps=steps)
    torch.manual_seed(0)
    vae = ts.make_vae(params.num_frequencies)
    for _ in ts.train_vae(vae, images, config, torch.Generator().manual_seed(0)):
        pass

    def through(pixels: np.ndarray) -> np.ndarray:
        _, recon = ts.reconstruct(vae, pixels[None])
        return to_uint8((recon[0].permute(1, 2, 0) / 2 + 0.5).clamp(0, 1).numpy())

    return through


if __name__ == "__main__":
    main()
