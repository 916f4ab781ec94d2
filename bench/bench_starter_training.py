"""How long starter model 2's training run takes on this machine, projected from measured steps.

Times a few steps of every stage of ``python -m engine.training.train_starter2`` with its
default config (or the overrides given): rendering and imaging the data, the VAE, the caption
probe, the UNet with the text encoder, the decoder; then projects the whole run. The reference,
measured in the same run the same way, is the first starter model's config, whose real run took
51 minutes on an idle 2-core machine: the ratio of the two projections scales that known time.

Both wall-clock and CPU seconds are printed; on a busy machine only the CPU figures (one
thread) say what the run needs.

    .venv/bin/python bench/bench_starter_training.py [--threads 2] [--unet-width 48] [--unet-steps 16000]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The first starter model's measured run (its README figure), for scaling the projections.
FIRST_STARTER_MINUTES = 51.0


def main() -> None:
    from engine.training import train_starter as ts
    from engine.training import train_starter2 as t2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=8, help="timed steps per stage")
    defaults = t2.Train2Config()
    for f in fields(defaults):
        if f.name not in ("num_threads", "seed"):
            parser.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)), default=None)
    args = parser.parse_args()
    overrides = {f.name: getattr(args, f.name, None) for f in fields(defaults)}
    config = replace(defaults, num_threads=args.threads, **{k: v for k, v in overrides.items() if v is not None})

    import torch

    torch.set_num_threads(args.threads)
    data = _data_seconds(config)
    ours = _stage_seconds(config, t2.make_unet(config), t2.STARTER2_SPECTROGRAM["num_frequencies"], args.repeats)
    first = ts.TrainConfig()
    reference = _stage_seconds(first, ts.make_unet(), ts.IMAGE_HEIGHT, args.repeats)
    synth_data = data["synth"]

    def project(cfg, stages, gm_examples: int) -> dict[str, tuple[float, float]]:
        out = {
            "data": tuple(cfg.num_examples * s + gm_examples * g for s, g in zip(synth_data, data["gm"])),
            "vae": tuple(cfg.vae_steps * x for x in stages["vae"]),
            "text": tuple(cfg.text_pretrain_steps * x for x in stages["text"]),
            "unet": tuple(cfg.unet_steps * x for x in stages["unet"]),
            "decoder": tuple(cfg.decoder_steps * x for x in stages["decoder"]),
        }
        return out

    ours_total = project(config, ours, config.num_gm_examples)
    ref_total = project(first, reference, 0)
    print(f"config: {config.num_examples} synthesized + {config.num_gm_examples} rendered sounds, UNet width "
          f"{config.unet_width}, {config.unet_steps} UNet steps of {config.unet_batch_size}, {args.threads} thread(s)")
    for name, (wall, cpu) in ours_total.items():
        print(f"  {name:8s} {wall / 60:6.1f} min wall, {cpu / 60:6.1f} min CPU")
    wall = sum(w for w, _ in ours_total.values())
    cpu = sum(c for _, c in ours_total.values())
    ref_wall = sum(w for w, _ in ref_total.values())
    ref_cpu = sum(c for _, c in ref_total.values())
    print(f"starter 2 projected: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU here; reference, the first "
          f"starter's config projected the same way: {ref_wall / 60:.1f} min wall, {ref_cpu / 60:.1f} min CPU -> "
          f"ratio {wall / ref_wall:.2f} wall, {cpu / ref_cpu:.2f} CPU; scaled by the first starter's real "
          f"{FIRST_STARTER_MINUTES:.0f} min on an idle 2-core machine: {FIRST_STARTER_MINUTES * wall / ref_wall:.0f} min "
          f"(wall ratio), {FIRST_STARTER_MINUTES * cpu / ref_cpu:.0f} min (CPU ratio; use this on a busy machine)")

def _timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm up
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - wall) / repeats, (time.process_time() - cpu) / repeats


def _data_seconds(config) -> dict[str, tuple[float, float]]:
    """Seconds per synthesized and per rendered training sound (render, image, captions)."""
    import resource

    from engine.training import captions, gm_corpus, synth
    from engine.training import train_starter as ts
    from engine.training import train_starter2 as t2

    params = ts.spectrogram_params().__class__(**t2.STARTER2_SPECTROGRAM)
    rng = np.random.default_rng(0)
    count = 64
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        example = synth.random_example(rng, t2.duration_s(), params.sample_rate)
        ts.image_array(example.audio, params, t2.IMAGE_WIDTH)
        captions.captions_for(captions.synth_attributes(example), rng, config.captions_per_example)
    synth_cost = ((time.perf_counter() - wall) / count, (time.process_time() - cpu) / count)
    count = t2.RENDER_BATCH
    clips = [gm_corpus.random_clip(rng) for _ in range(count)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter(), time.process_time()
    audio = gm_corpus.render(clips, sample_rate_hz=params.sample_rate, duration_s=t2.duration_s(), workers=config.render_workers)
    for clip, x in zip(clips, audio):
        ts.image_array(x, params, t2.IMAGE_WIDTH)
        captions.captions_for(clip.attributes, rng, config.captions_per_example)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    gm_cost = ((time.perf_counter() - wall) / count, (time.process_time() - cpu + children) / count)
    print(f"data: {1000 * synth_cost[0]:.1f} ms per synthesized sound, {1000 * gm_cost[0]:.1f} ms per rendered clip "
          f"({count / (gm_cost[0] * count):.0f} clips/s with imaging and captions, {config.render_workers} fluidsynth "
          f"workers; CPU {1000 * gm_cost[1]:.1f} ms)", flush=True)
    return {"synth": synth_cost, "gm": gm_cost}


def _stage_seconds(config, unet, height: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Seconds per step of each trained stage, on random inputs of the real shapes."""
    import torch

    from engine.training import train_starter as ts

    vocab = {f"w{i}</w>": i for i in range(2000)}
    vocab.update({"<|startoftext|>": 2000, "<|endoftext|>": 2001})
    text = ts.make_text_encoder(vocab)
    vae = ts.make_vae(height)
    images = np.random.default_rng(0).integers(0, 256, (64, height, 128), dtype=np.uint8)
    gen = torch.Generator().manual_seed(0)
    vae_opt = torch.optim.AdamW(vae.parameters(), lr=1e-4)

    def vae_step() -> None:
        x = ts._random_crops(images, config, gen, align_x=False)
        loss = ts._reconstruction(vae.decode(vae.encode(x).latent_dist.sample(gen)).sample, x)
        vae_opt.zero_grad()
        loss.backward()
        vae_opt.step()

    ids = torch.randint(0, 2000, (config.text_pretrain_batch_size, ts.MAX_TOKEN_LENGTH))
    text_opt = torch.optim.AdamW(text.parameters(), lr=1e-4)

    def text_step() -> None:
        loss = text(ids).pooler_output.pow(2).mean()
        text_opt.zero_grad()
        loss.backward()
        text_opt.step()

    batch = config.unet_batch_size
    latents = torch.randn(batch, 4, height // 8, 16)
    unet_ids = torch.randint(0, 2000, (batch, ts.MAX_TOKEN_LENGTH))
    unet_opt = torch.optim.AdamW(list(unet.parameters()) + list(text.parameters()), lr=1e-4)

    def unet_step() -> None:
        t = torch.randint(0, 1000, (batch,), generator=gen)
        pred = unet(latents, t, encoder_hidden_states=text(unet_ids).last_hidden_state).sample
        loss = pred.pow(2).mean()
        unet_opt.zero_grad()
        loss.backward()
        unet_opt.step()

    decoder_step = vae_step  # the decoder stage runs the same crops through encode (no grad) and decode
    return {
        "vae": _timed(vae_step, repeats),
        "text": _timed(text_step, repeats),
        "unet": _timed(unet_step, repeats),
        "decoder": _timed(decoder_step, repeats),
    }


if __name__ == "__main__":
    main()
