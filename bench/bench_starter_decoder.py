"""How much instrument identity a starter model's VAE keeps (issue 15): the ceiling of what its
UNet's clips can reach, since every generated clip is drawn by that decoder.

FluidR3 renders of the identity bench's five instruments (piano, nylon guitar, violin, trumpet,
flute) at its notes (G4, D4), several takes each, go through the model's VAE (encode, take the
posterior mean, decode) and Griffin-Lim, and are named by the same classifier as in
``bench/bench_starter_prompts.py`` (trained on renders from the other sound fonts sent through
the spectrogram). Reference measured in the same run: the same renders through the spectrogram
alone (no VAE), what a perfect decoder would reach. Also the full-image L1 reconstruction error
on those spectrograms.

    .venv/bin/python bench/bench_starter_decoder.py [--model resources/models/starter2]... [--takes 4]

``--model`` may be given several times: each model's VAE is measured on the same renders.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", default=None, help="starter folder (repeatable; default: starter2)")
    parser.add_argument("--takes", type=int, default=4, help="renders per instrument and note (random loudness, length, onset)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    from PIL import Image

    from engine.audio import spectrogram
    from engine.audio.spectrogram import SpectrogramParams
    from engine.training import gm_corpus, starter_metrics
    from engine.training import train_starter as ts

    torch.set_num_threads(args.threads)
    folders = args.model or [ROOT / "resources" / "models" / "starter2"]
    params = SpectrogramParams.from_dict(json.loads((folders[0] / ts.SPECTROGRAM_FILE).read_text()))
    meta = json.loads((folders[0] / ts.METADATA_FILE).read_text())
    rate, duration_s, width = params.sample_rate, float(meta["duration_s"]), int(meta["width"])

    def audio_of(image: np.ndarray) -> np.ndarray:
        picture = Image.fromarray(np.repeat(image[..., None], 3, axis=2))
        out, _ = spectrogram.audio_from_image(picture, params, generator=torch.Generator().manual_seed(0))
        return out[0]

    def round_trip(audio: np.ndarray) -> np.ndarray:
        return audio_of(ts.image_array(audio, params, width))

    started = time.perf_counter()
    programs = starter_metrics.IDENTITY_INSTRUMENTS
    classifier = starter_metrics.identity_classifier(programs, sample_rate_hz=rate, duration_s=duration_s, transform=round_trip)
    rng = np.random.default_rng(7)
    clips = [gm_corpus.random_note(rng, p, k) for p in programs for k in gm_corpus.IDENTITY_KEYS for _ in range(args.takes)]
    labels = [c.attributes["program"] for c in clips]
    images = np.stack([ts.image_array(x, params, width) for x in gm_corpus.render(clips, sample_rate_hz=rate, duration_s=duration_s)])
    reference = classifier.accuracy(np.array([starter_metrics.timbre_features(audio_of(x), rate) for x in images]), labels)
    print(f"classifier and {len(clips)} FluidR3 renders ready in {time.perf_counter() - started:.0f} s", flush=True)
    for folder in folders:
        vae = ts._reused_vae(folder, _recipe_for(folder))
        started = time.perf_counter()
        x, recon = ts.reconstruct(vae, images)
        decoded = ((recon.mean(dim=1).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
        l1 = float((recon - x).abs().mean())
        features = np.array([starter_metrics.timbre_features(audio_of(d), rate) for d in decoded])
        ours = classifier.accuracy(features, labels)
        widths = [block.resnets[0].conv1.out_channels for block in vae.decoder.up_blocks]
        print(f"{folder}: decoder widths {widths} "
              f"({sum(p.numel() for p in vae.decoder.parameters()) / 1e6:.2f} M weights), L1 {l1:.4f}, "
              f"{(time.perf_counter() - started) / len(images) * 1000:.0f} ms per clip")
        for line in starter_metrics.confusion_lines(labels, classifier.predict(features)):
            print("  " + line)
        print(f"  identity through the VAE: {ours:.0%} of {len(labels)} renders; reference (spectrogram alone) "
              f"{reference:.0%} -> ratio {ours / max(reference, 1e-9):.2f}", flush=True)


def _recipe_for(folder: Path):
    """The training recipe whose spectrogram ``folder`` uses (the VAE loader checks it)."""
    from engine.training import train_starter as ts
    from engine.training import train_starter2 as ts2

    spectrogram_file = json.loads((folder / ts.SPECTROGRAM_FILE).read_text())
    return ts2.STARTER2_RECIPE if spectrogram_file == ts2.STARTER2_RECIPE.spectrogram else ts.STARTER_RECIPE


if __name__ == "__main__":
    main()
