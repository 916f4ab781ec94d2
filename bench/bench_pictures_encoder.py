"""The picture model's audio encoder alone: how often its family-group head names the group of
General MIDI sounds rendered with a sound font it never heard (issue 16), for encoders trained
on different sets of training fonts, against shipped picture models in the same run.

The validation split: ``--per-group`` clips of each of the 7 family groups drawn as
bench/bench_pictures.py draws its held-out sounds but with another seed (``--seed``, default
2026; the picture bench uses 1234), all rendered with TimGM6mb, or with ``--font opl3`` with
the OPL3 FM font, which the starter does not train on: TimGM6mb is one of the picture bench's
held-out fonts, so recipes chosen from session 19 on are chosen on OPL3 and the bench's fonts
stay out of tuning. bench/bench_pictures.py's TimGM6mb + MuseScore General sounds stay for the
final figure.

For each ``--fonts`` set (comma-separated names of engine.training.gm_corpus.TRAINING_FONTS)
the starter's corpus is rendered (each General MIDI clip with a font drawn from the set; the
clips themselves are the same for every set) and the starter's encoder stage trained on it
(seeded, ``--train-seeds``); ``--model`` picture models are read as they are::

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_pictures_encoder.py --model builtin:pictures \\
        --fonts fluid --fonts fluid,csound --fonts fluid,csound,opl3 --cache-dir /tmp/corpus --save-dir /tmp/encoders

``--save-dir`` keeps each trained encoder as a picture model (its diffusion stage untrained) for
``train_pictures --encoder-from``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


#: Validation fonts by name (``--font``): the held-out TimGM6mb (what earlier recipes were chosen
#: on), or the OPL3 FM font, which the starter recipe does not train on, so choosing on it keeps
#: both of the bench's fonts out of tuning.
#: csound's GM bank is a starter training font: it validates only encoders trained without it
#: (``--fonts fluid``), a left-out sampled font closer to the bench's than OPL3's FM.
VALIDATION_FONTS = {"timgm": "TIMGM_FONT", "opl3": "OPL3_FONT", "csound": "CSOUND_FONT"}


def validation_split(seed: int, per_group: int, font: str = "timgm") -> tuple[np.ndarray, np.ndarray]:
    """(N, WINDOW_SAMPLES) prepared clips rendered with ``font`` (:data:`VALIDATION_FONTS`) and
    their group names (silent renders dropped)."""
    from bench_pictures import held_out_clips

    from engine.pictures.corpus import DURATION_S, SAMPLE_RATE_HZ
    from engine.pictures.model import prepare_clip
    from engine.training import gm_corpus

    drawn = held_out_clips(np.random.default_rng(seed), per_group)
    audio = gm_corpus.render([clip for _, clip, _ in drawn], sample_rate_hz=SAMPLE_RATE_HZ, duration_s=DURATION_S,
                             font=getattr(gm_corpus, VALIDATION_FONTS[font]), workers=1)
    kept = [i for i, a in enumerate(audio) if np.abs(a).max() > 1e-3]
    clips = np.stack([prepare_clip(audio[i][None, :], SAMPLE_RATE_HZ) for i in kept])
    return clips, np.array([drawn[i][0] for i in kept])


def encoder_groups(model, clips: np.ndarray) -> np.ndarray:
    import torch

    from engine.pictures.drawing import GROUPS

    with torch.no_grad():
        logits = model.encoder.predict(model.embed_audio(clips))["group"]
    return np.array([GROUPS[i] for i in logits.argmax(1).tolist()])


def report(name: str, predicted: np.ndarray, truth: np.ndarray, extra: str = "") -> float:
    from engine.pictures.drawing import GROUPS

    accuracy = float(np.mean(predicted == truth))
    per_group = " ".join(f"{g} {np.mean(predicted[truth == g] == g):.0%}" for g in GROUPS)
    print(f"{name:28s} {accuracy:6.1%}  ({per_group}){extra}", flush=True)
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="a picture model to read as it is (repeatable)")
    parser.add_argument("--fonts", action="append", default=[], help="a training font set to train an encoder on (repeatable)")
    parser.add_argument("--train-seeds", default="0", help="comma-separated training seeds (0: the starter's)")
    parser.add_argument("--encoder-steps", type=int, default=None, help="encoder training steps (default: the starter's)")
    parser.add_argument("--gm", type=int, default=None, help="General MIDI clips in the corpus (default: the starter's)")
    parser.add_argument("--augment", action="store_true", help="train the encoders with train_pictures' --augment")
    parser.add_argument("--mask", action="store_true", help="train the encoders with train_pictures' --mask")
    parser.add_argument("--timbre", action="store_true", help="train the encoders with train_pictures' --timbre")
    parser.add_argument("--encoder-init", default=None,
                        help="fine-tune this picture model's encoder (train_pictures' --encoder-init) instead of training from scratch")
    parser.add_argument("--consistency", type=float, default=0.0, help="train_pictures' --consistency (with --encoder-init)")
    parser.add_argument("--encoder-lr", type=float, default=None, help="train_pictures' --encoder-lr (default: its own)")
    parser.add_argument("--per-group", type=int, default=48)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--font", choices=sorted(VALIDATION_FONTS), default="timgm",
                        help="the validation split's font (opl3: neither of the picture bench's held-out fonts)")
    parser.add_argument("--cache-dir", default=None, help="keep the rendered training corpora here")
    parser.add_argument("--save-dir", default=None, help="keep each trained encoder here as a picture model")
    args = parser.parse_args()

    import torch

    from engine.pictures.illustrate import load_cached, picture_model_dir
    from engine.pictures.model import PictureModelCard, save_picture_model
    from engine.training import train_pictures as tp

    torch.set_num_threads(1)
    clips, truth = validation_split(args.seed, args.per_group, args.font)
    print(f"validation split: {len(truth)} {args.font} clips ({args.per_group} per group asked, seed {args.seed}); "
          f"chance {1 / 7:.1%}", flush=True)
    for name in args.model:
        report(name, encoder_groups(load_cached(picture_model_dir(name)), clips), truth)
    for fonts in args.fonts:
        names = [f.strip() for f in fonts.split(",")]
        started = time.monotonic()
        mels, attributes = tp.cached_corpus(tp.STARTER_SEED, args.gm or tp.STARTER_GM_SOUNDS, tp.STARTER_SYNTH_SOUNDS, fonts=names,
                                            cache_dir=args.cache_dir)
        corpus_s = time.monotonic() - started
        for seed in [int(s) for s in args.train_seeds.split(",")]:
            started = time.monotonic()
            model, losses = tp.starter_encoder_stage(
                mels, attributes, seed=seed, augment=args.augment, mask=args.mask, timbre=args.timbre,
                encoder_init=picture_model_dir(args.encoder_init) if args.encoder_init else None,
                consistency=args.consistency, encoder_lr=args.encoder_lr or tp.ENCODER_LR,
                encoder_steps=args.encoder_steps or tp.STARTER_ENCODER_STEPS)
            recipe = "".join(f", {k} {v}" for k, v in (("steps", args.encoder_steps), ("gm", args.gm),
                                                        ("lr", args.encoder_lr),
                                                        ("consistency", args.consistency)) if v)
            recipe += f", from {args.encoder_init}" if args.encoder_init else ""
            recipe += ", augmented" if args.augment else ""
            recipe += ", masked" if args.mask else ""
            recipe += ", timbre" if args.timbre else ""
            accuracy = report(f"trained on {'+'.join(names)}, seed {seed}{recipe}", encoder_groups(model, clips), truth,
                              f"  [{len(attributes)} sounds, corpus {corpus_s:.0f} s, encoder {time.monotonic() - started:.0f} s, "
                              f"loss {np.mean(losses[-50:]):.2f}]")
            if args.save_dir:
                save_picture_model(model, Path(args.save_dir) / f"{'+'.join(names)}-seed{seed}{recipe.replace(', ', '-').replace(' ', '').replace('/', '_').replace(':', '_')}",
                                   PictureModelCard(title=f"encoder trained on {'+'.join(names)}, seed {seed}",
                                                    extra={"fonts": names, "validation_accuracy": accuracy}))


if __name__ == "__main__":
    main()
