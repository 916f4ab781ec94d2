"""Pictures from audio (issue 16): seconds per picture, and whether the starter picture model's
pictures tell sound families apart on sounds it never heard.

* Family identity on held-out sounds: General MIDI clips rendered with the *other* sound fonts
  (TimGM6mb and MuseScore General; the starter was trained on FluidR3 and csound renders), ``--per-group``
  clips for each of the 7 family groups (keys, plucked, bowed/organ, winds, synth, drums,
  noise/effects). Each clip goes through the real ``illustrate`` task (Engine + IllustrateJob,
  the starter picture model) and a simple classifier (nearest centroid of the mean colour of the
  picture's shapes, fitted on the procedural target pictures of FluidR3 training-corpus sounds)
  names the group. Target: at least 80%. References from the same run: chance (1/7), the same
  classifier on the held-out sounds' own procedural pictures (what a perfect model would reach),
  and the audio encoder's group head on the same clips (what the condition carries).
  Every figure has its 95% interval (Wilson, over the sounds); with several ``--model`` the
  differences between the first model and each other one on the same sounds get a paired 95%
  interval (bootstrap over the sounds) and the count of sounds only one of the two got right.
  Notes on an instrument-at-pitch combination training never rendered
  (``gm_corpus.is_held_out``) are reported apart; ``--unseen-notes`` draws only those for the
  pitched groups (font *and* instrument-at-pitch held out).
* Seconds per picture on this CPU (``--threads``, default 2): the starter picture model through
  the task, and the zero-shot path with the tiny random AST and SD in tests/assets at 64x64 and
  the same steps (the cost of the tagging + SD machinery without real weights); ratio of the two.

    .venv/bin/python bench/bench_pictures.py [--per-group 8] [--steps 50] [--guidance 3] [--threads 2] [--model M]... [--encoder-only]
        [--unseen-notes] [--save RESULTS.json]

``--model`` may be given several times: each model is measured on the same rendered sounds.
``--encoder-only`` skips the pictures and prints only the encoder's group head (seconds, not minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def held_out_clips(rng: np.random.Generator, per_group: int, unseen_notes: bool = False) -> list[tuple[str, object, Path]]:
    """(group, GMClip, font): ``per_group`` clips of each group, fonts alternating TimGM6mb / MuseScore.
    With ``unseen_notes`` the pitched groups' notes are only instrument-at-pitch combinations
    that training never renders (``gm_corpus.is_held_out``)."""
    from engine.pictures.drawing import GROUPS, gm_group
    from engine.training import gm_corpus

    fonts = [gm_corpus.TIMGM_FONT, gm_corpus.MUSESCORE_FONT]
    programs = {g: [i.program for i in gm_corpus.INSTRUMENTS if gm_group(i.family, i.program) == g] for g in GROUPS}
    unseen = {g: [(p, k) for p in programs[g] for k in range(gm_corpus.INSTRUMENTS[p].low, gm_corpus.INSTRUMENTS[p].high + 1)
                  if gm_corpus.is_held_out(p, k)] for g in GROUPS}
    out = []
    for group in GROUPS:
        for n in range(per_group):
            if group == "drums" and (not (unseen if unseen_notes else programs)[group] or n % 2 == 0):
                clip = gm_corpus.random_clip(rng, "beat" if n % 4 == 0 else "hit")
            elif group == "noise":
                clip = gm_corpus.random_clip(rng, "effect")
            elif unseen_notes:
                program, key = unseen[group][int(rng.integers(len(unseen[group])))]
                clip = gm_corpus.random_note(rng, program, key)
            else:
                program = programs[group][int(rng.integers(len(programs[group])))]
                inst = gm_corpus.INSTRUMENTS[program]
                clip = gm_corpus.random_note(rng, program, int(rng.integers(inst.low, inst.high + 1)))
            out.append((group, clip, fonts[n % 2]))
    return out


def unseen_note(clip) -> bool:
    """Whether ``clip`` is a note on an instrument-at-pitch combination training never renders."""
    from engine.training import gm_corpus

    a = clip.attributes
    return a["kind"] == "note" and gm_corpus.is_held_out(int(a["program"]), int(a["key"]))


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``hits`` / ``n``."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def share(right: np.ndarray, digits: int = 1) -> str:
    """"74.2% [70.0-78.1%] of 446": the share of ``right`` with its 95% interval and the count."""
    right = np.asarray(right, bool)
    low, high = wilson(int(right.sum()), len(right))
    return f"{right.mean():.{digits}%} [{low:.{digits}%}-{high:.{digits}%}] of {len(right)}".replace("%-", "-")


def paired_difference(a: np.ndarray, b: np.ndarray, resamples: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``b`` minus mean of ``a`` (right/wrong per sound, the same sounds) and its paired
    95% bootstrap interval over the sounds."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    index = np.random.default_rng(seed).integers(len(a), size=(resamples, len(a)))
    differences = b[index].mean(axis=1) - a[index].mean(axis=1)
    return float(b.mean() - a.mean()), float(np.quantile(differences, 0.025)), float(np.quantile(differences, 0.975))


def shape_colour(picture: np.ndarray) -> np.ndarray:
    """Mean colour of the picture's brightest quarter of pixels (the disc, band and ticks), normalised."""
    pixels = picture.reshape(-1, 3).astype(np.float64)
    bright = pixels[np.argsort(pixels.sum(axis=1))[-len(pixels) // 4 :]].mean(axis=0)
    return bright / (np.linalg.norm(bright) + 1e-9)


class NearestCentroid:
    def fit(self, features: np.ndarray, labels: np.ndarray) -> NearestCentroid:
        self.classes = np.unique(labels)
        self.centroids = np.stack([features[labels == c].mean(axis=0) for c in self.classes])
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        distances = ((features[:, None, :] - self.centroids[None]) ** 2).sum(axis=2)
        return self.classes[np.argmin(distances, axis=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None,
                        help="picture model (repeatable: each measured on the same sounds; default builtin:pictures)")
    parser.add_argument("--per-group", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--guidance", type=float, default=None,
                        help="classifier-free guidance of the pictures (default: the illustrate task's, 3)")
    parser.add_argument("--encoder-only", action="store_true",
                        help="only the audio encoder's group head on the held-out sounds (no pictures drawn)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--unseen-notes", action="store_true",
                        help="the pitched groups' notes only on instrument-at-pitch combinations training never renders")
    parser.add_argument("--save", default=None, help="write each sound's truth and each model's guesses to this JSON file")
    parser.add_argument("--against", default=None,
                        help="a --save file of an earlier run on the same sounds: its models are compared with these "
                             "(pictures are seeded, so a model's guesses there are what this run would give)")
    args = parser.parse_args()

    import torch

    from engine.api import Engine, EngineSettings
    from engine.pictures.corpus import gm_sounds, gm_attributes, SAMPLE_RATE_HZ, DURATION_S
    from engine.pictures.drawing import GROUPS, draw
    from engine.pictures.illustrate import load_cached, picture_model_dir
    from engine.tasks.illustrate import IllustrateJob
    from engine.training import gm_corpus

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)

    # The classifier: fitted on the target pictures of training-corpus sounds (FluidR3).
    if not args.encoder_only:
        train = gm_sounds(np.random.default_rng(args.seed + 1), 400)
        classifier = NearestCentroid().fit(np.stack([shape_colour(draw(s.attributes)) for s in train]),
                                           np.array([s.attributes.group for s in train]))

    clips = held_out_clips(rng, args.per_group, args.unseen_notes)
    # One fluidsynth run per font (loading MuseScore General's compressed samples once per clip took
    # most of a run on a busy machine); a note's first 64 samples may differ slightly from a clip
    # rendered alone (gm_corpus.render).
    audio: list = [None] * len(clips)
    for font in dict.fromkeys(font for _, _, font in clips):
        index = [i for i, (_, _, f) in enumerate(clips) if f == font]
        rendered = gm_corpus.render([clips[i][1] for i in index], sample_rate_hz=SAMPLE_RATE_HZ, duration_s=DURATION_S,
                                    font=font, workers=1)
        for i, a in zip(index, rendered):
            audio[i] = a
    kept = [(c, a) for c, a in zip(clips, audio) if np.abs(a).max() > 1e-3]
    truth = np.array([group for (group, _, _), _ in kept])
    fonts = np.array([Path(font).stem for (_, _, font), _ in kept])
    unseen = np.array([unseen_note(clip) for (_, clip, _), _ in kept])
    print(f"held-out sounds: {len(kept)} ({args.per_group} per group asked, seed {args.seed}, TimGM6mb + MuseScore General; "
          f"{unseen.sum()} of them notes on an instrument-at-pitch combination training never rendered), "
          f"{args.steps} steps, guidance {3.0 if args.guidance is None else args.guidance:g}; [95% intervals]", flush=True)
    if not args.encoder_only:
        targets = np.stack([shape_colour(draw(gm_attributes(clip, a))) for (_, clip, _), a in kept])

    zero_shot: list[float] = []
    results: dict[str, dict[str, np.ndarray]] = {}
    summaries = [gm_corpus.clip_summary(clip) for (_, clip, _), _ in kept]
    if args.against:
        import json

        saved = json.loads(Path(args.against).read_text())
        same = {"seed": args.seed, "per_group": args.per_group, "steps": args.steps, "unseen_notes": args.unseen_notes,
                "guidance": args.guidance}
        if any(saved.get(k) != v for k, v in same.items()) or [x["summary"] for x in saved["sounds"]] != summaries:
            parser.error(f"{args.against} was measured on other sounds or settings")
        results = {f"{name} (saved)": {k: np.array(v) for k, v in r.items()} for name, r in saved["models"].items()}
    for model_name in args.model or ["builtin:pictures"]:
        print(f"== {model_name}")
        model = load_cached(picture_model_dir(model_name))
        from engine.pictures.model import prepare_clip

        with torch.no_grad():
            embeddings = model.embed_audio(np.stack([prepare_clip(a[None, :], SAMPLE_RATE_HZ) for _, a in kept]))
            encoder_groups = np.array([GROUPS[i] for i in model.encoder.predict(embeddings)["group"].argmax(1).tolist()])
        results[model_name] = {"encoder": encoder_groups}
        if args.encoder_only:
            print(f"the audio encoder's group head: {share(encoder_groups == truth)}; "
                  + "; ".join(f"{font} {share(encoder_groups[fonts == font] == truth[fonts == font])}" for font in sorted(set(fonts)))
                  + "; " + " ".join(f"{g} {np.mean(encoder_groups[truth == g] == g):.0%}" for g in GROUPS), flush=True)
            continue

        pictures, seconds = [], []
        cpu_started = time.process_time()
        with Engine(EngineSettings(device="cpu", offline=True)) as engine:
            for index, (_, a) in enumerate(kept):
                job = IllustrateJob(audio=a[None, :].astype(np.float32), sample_rate_hz=SAMPLE_RATE_HZ, model=model_name,
                                    seed=index, num_inference_steps=args.steps, guidance_scale=args.guidance)
                started = time.perf_counter()
                result = engine.run(job)[0]
                seconds.append(time.perf_counter() - started)
                pictures.append(np.asarray(result.pictures[0]))
            predicted = classifier.predict(np.stack([shape_colour(p) for p in pictures]))
            cpu_per_picture = (time.process_time() - cpu_started) / max(1, len(pictures))

            # The zero-shot path with tiny random components, same steps, 64x64.
            from assets.make_tiny_ast import TINY_AST_DIR
            from assets.make_tiny_sd import TINY_SD_DIR

            for index, (_, a) in enumerate([] if zero_shot else kept[:4]):  # once, with the first model
                job = IllustrateJob(audio=a[None, :].astype(np.float32), sample_rate_hz=SAMPLE_RATE_HZ, model=str(TINY_SD_DIR),
                                    tagger=str(TINY_AST_DIR), seed=index, num_inference_steps=args.steps, width=64, height=64)
                started = time.perf_counter()
                engine.run(job)
                zero_shot.append(time.perf_counter() - started)
        results[model_name]["pictures"] = predicted

        right = predicted == truth
        ideal = classifier.predict(targets) == truth
        print(f"family group told apart from the pictures: {share(right)} (target 80%)")
        print(f"  reference, chance: {1 / len(GROUPS):.1%}; the same classifier on the sounds' own procedural pictures: "
              f"{share(ideal)}; the audio encoder's group head: {share(encoder_groups == truth)}")
        print(f"  pictures showing the encoder's own guess: {share(predicted == encoder_groups)} "
              "(what the diffusion stage loses on the way); where the encoder is right: "
              f"{share(right[encoder_groups == truth])}, where it is wrong the pictures are right anyway for "
              f"{share(right[encoder_groups != truth])}")
        print(f"  ratio to the procedural pictures: {right.mean() / max(ideal.mean(), 1e-9):.2f}")
        for font in sorted(set(fonts)):
            mask = fonts == font
            print(f"  {font}: {share(right[mask])} (encoder {share(encoder_groups[mask] == truth[mask])})")
        if unseen.any():
            print(f"  notes on unseen instrument-at-pitch combinations: {share(right[unseen])} "
                  f"(encoder {share(encoder_groups[unseen] == truth[unseen])})")
        for group in GROUPS:
            mask = truth == group
            print(f"  {group:8s} {share(right[mask], 0)} (encoder {np.mean(encoder_groups[mask] == group):.0%}); "
                  "taken for " + (", ".join(f"{g} {n}" for g, n in zip(*np.unique(predicted[mask & ~right], return_counts=True)))
                                  or "nothing else"))
        print(f"seconds per picture ({args.threads} threads): starter picture model {np.median(seconds):.2f} s; "
              f"zero-shot with tiny AST + SD at 64x64 {np.median(zero_shot):.2f} s; ratio {np.median(seconds) / np.median(zero_shot):.2f}; "
              f"starter CPU seconds per picture {cpu_per_picture:.2f}", flush=True)

    names = list(results)
    for later, other in enumerate(names[1:], start=1):
        for first in names[:later]:
            print(f"== {other} against {first}, the same {len(kept)} sounds (paired 95% intervals)")
            for what in ("pictures", "encoder"):
                if what not in results[other] or what not in results[first]:
                    continue
                a, b = results[first][what] == truth, results[other][what] == truth
                difference, low, high = paired_difference(a, b)
                print(f"  {what}: {difference * 100:+.1f} points [{low * 100:+.1f} to {high * 100:+.1f}]; right only with "
                      f"{first}: {int((a & ~b).sum())}, only with {other}: {int((b & ~a).sum())}")
    if args.save:
        import json

        Path(args.save).write_text(json.dumps({
            "seed": args.seed, "per_group": args.per_group, "steps": args.steps, "unseen_notes": args.unseen_notes,
            "guidance": args.guidance,
            "sounds": [{"group": g, "font": str(f), "unseen_note": bool(u), "summary": summary}
                       for g, f, u, summary in zip(truth, fonts, unseen, summaries)],
            "models": {name: {k: v.tolist() for k, v in r.items()} for name, r in results.items()},
        }, indent=1))


if __name__ == "__main__":
    main()
