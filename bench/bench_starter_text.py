"""How well a starter model's text encoder reads numbers from prompts it never saw (issue 15).

Starter model 2 follows held-out tone phrasings within a semitone for only 28% of clips
(bench_starter_prompts.py). This bench isolates the text side, in minutes instead of a 2-hour
run: a fresh CLIP text encoder of the given size is trained alone with starter training's
caption probe (``engine.training.train_starter.pretrain_text_encoder``: the probe reads the
pitch, rate, sweep, tempo, kind, instrument and family a caption names from the end-of-text
state, which the UNet also receives as its global conditioning), on the captions of a seeded
sample of starter model 2's training sounds. Then the probe reads:

* tone prompts in held-out phrasings (and unseen prompts in training phrasings), 90 Hz-2.2 kHz:
  share within a semitone;
* drum-beat prompts naming a tempo (80-155 BPM), held-out and training phrasings: share within 5%.

The reference is the first run's text recipe (2 layers, 64 wide, 1500 probe steps, round numbers)
trained and measured the same way in the same run. A text encoder that cannot read a number
caps what the UNet can follow, whatever its training.

Measured (one thread, held-out phrasings, tones within a semitone / tempos within 5%; the
reference in the same run 35-38% / 30-32%):

=================================================  ======  =====
ours                                               tones   tempo
=================================================  ======  =====
1500 steps, any-number captions                    23%     41%
1500 steps, word dropout 0.25                      44%     36%
1500 steps, any numbers + word dropout 0.25        54%     56%
5000 steps, any numbers                            59%     96%
5000 steps, any numbers + word dropout 0.25        87%     96%
same, 20 000 sounds (starter model 2's corpus)     91%     98%
=================================================  ======  =====

The shipped corpus names 85 distinct Hz values and 16 tempos in 2000 sounds: read as words,
they do not generalise to 107 BPM. ``--any-numbers`` draws half the pure tones at any whole Hz
and beats at any whole BPM; ``--word-dropout`` drops filler words ("a", "at", "wave"...) at random.

    .venv/bin/python bench/bench_starter_text.py [--layers 2] [--hidden 64] [--steps 5000] \
        [--any-numbers] [--word-dropout 0.25] [--sounds 20000]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REFERENCE = {"layers": 2, "hidden": 64, "steps": 1500}


def captions_table(num_sounds: int, seed: int, any_numbers: bool = False):
    from engine.training import captions, gm_corpus, synth
    from engine.training import train_starter2 as t2

    rng, caption_rng = np.random.default_rng(seed), np.random.default_rng([seed, 2])
    table = t2._CaptionTable()
    for i in range(num_sounds):
        if i < num_sounds * 3 // 10:  # starter model 2's mix: 6000 synthesized, 14000 rendered
            attributes = captions.synth_attributes(synth.random_example(rng, 0.05, 22050, any_hz=any_numbers))
        else:
            attributes = gm_corpus.random_clip(rng, any_tempo=any_numbers).attributes
        for caption in captions.captions_for(attributes, caption_rng, 6):
            table.add(caption, attributes)
    return table


def train_text(table, layers: int, hidden: int, steps: int, seed: int, word_dropout: float = 0.0):
    import torch
    from transformers import CLIPTokenizer

    from engine.training import captions
    from engine.training import train_starter as ts
    from engine.training import train_starter2 as t2

    folder = tempfile.mkdtemp()
    vocab = ts.write_tokenizer(Path(folder), captions.vocabulary_texts())
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    torch.manual_seed(seed)
    encoder = ts.make_text_encoder(vocab, hidden, layers)
    counts = (len(captions.SOUND_KINDS), 128, len(captions.PROBE_FAMILIES))
    facts = torch.as_tensor(np.array(table.facts, dtype=np.float32))
    probe = torch.nn.Linear(hidden, facts.shape[1] + sum(counts))
    config = replace(t2.Train2Config(), text_pretrain_steps=steps, text_word_dropout=word_dropout)
    ids = ts._tokenize(tokenizer, list(table.ids))
    classes = torch.as_tensor(np.array(table.classes, dtype=np.int64))
    started = time.process_time()
    generator, droppable = torch.Generator().manual_seed(seed), ts.filler_token_mask(tokenizer)
    for _ in ts.pretrain_text_encoder(encoder, probe, ids, facts, classes, counts, config, generator, droppable):
        pass
    encoder.eval()
    seconds = time.process_time() - started

    def read(texts):
        with torch.no_grad():
            return probe(encoder(ts._tokenize(tokenizer, texts)).pooler_output).numpy()

    return read, seconds


def prompts(seen: set[str], split: str, seed: int):
    """(tone prompts, log2(hz/440)), (beat prompts, log2(bpm/120)) in ``split``'s phrasings,
    none of them in ``seen`` (the training captions)."""
    from engine.training import captions, synth

    rng = np.random.default_rng([seed, 7])
    pick = captions.training_captions if split == "training" else captions.held_out_captions
    tones, pitches, beats, tempos = [], [], [], []
    while len(tones) < 300:
        if rng.random() < 0.5:
            hz = synth.note_to_hz(str(rng.choice(synth.named_notes())))
        else:
            hz = float(round(2 ** rng.uniform(math.log2(90), math.log2(2200))))
        note = synth.hz_to_note(hz)
        named = abs(12 * math.log2(hz / synth.note_to_hz(note))) < 0.01
        text = pick({"kind": "tone", "source": "synth", "hz": hz, "note": note if named else None}, rng, 1)[0]
        if text not in seen:
            tones.append(text)
            pitches.append(math.log2(hz / 440))
    while len(beats) < 200:
        bpm = int(rng.integers(80, 156))
        attributes = {"kind": "beat", "pattern": "rock", "kit": 0, "tempo_bpm": bpm, "loudness": "medium", "family": "drums"}
        named = [t for t in pick(attributes, rng, 8) if str(bpm) in t and t not in seen]
        if named:
            beats.append(named[0])
            tempos.append(math.log2(bpm / 120))
    return (tones, np.array(pitches)), (beats, np.array(tempos))


def measure(read, sets) -> dict[str, float]:
    (tones, pitches), (beats, tempos) = sets
    semitones = 12 * np.abs(read(tones)[:, 0] - pitches)
    tempo_error = np.abs(2 ** (read(beats)[:, 4] - tempos) - 1)
    return {"tones": float(np.mean(semitones <= 1)), "tone_median_st": float(np.median(semitones)),
            "tempo": float(np.mean(tempo_error <= 0.05))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--sounds", type=int, default=6000, help="training sounds whose captions are read")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--word-dropout", type=float, default=0.0, help="ours: TrainConfig.text_word_dropout")
    parser.add_argument("--any-numbers", action="store_true",
                        help="ours reads captions of tones at any whole Hz and beats at any whole BPM "
                             "(starter model 2's any_numbers), the reference the shipped corpus")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    tables = {"reference": captions_table(args.sounds, args.seed)}
    tables["ours"] = captions_table(args.sounds, args.seed, True) if args.any_numbers else tables["reference"]
    # Prompts none of either table's captions (so unseen by both encoders).
    seen = set(tables["reference"].ids) | set(tables["ours"].ids)
    sets = {split: prompts(seen, split, args.seed) for split in ("training", "held-out")}
    print(f"{len(tables['ours'].ids)} training captions from {args.sounds} sounds; one torch thread")
    rows = {}
    ours = {"layers": args.layers, "hidden": args.hidden, "steps": args.steps, "word_dropout": args.word_dropout}
    for name, cfg in (("ours", ours), ("reference", REFERENCE)):
        read, seconds = train_text(tables[name], cfg["layers"], cfg["hidden"], cfg["steps"], args.seed, cfg.get("word_dropout", 0.0))
        rows[name] = {split: measure(read, sets[split]) for split in sets}
        print(f"{name}: {cfg['layers']} layers, {cfg['hidden']} wide, {cfg['steps']} probe steps, "
              f"word dropout {cfg.get('word_dropout', 0.0)} ({seconds:.0f} s CPU)")
        for split, row in rows[name].items():
            print(f"  {split:9s} tones within a semitone {row['tones']:.0%} (median {row['tone_median_st']:.2f} st), "
                  f"tempo within 5% {row['tempo']:.0%}")
    held, ref = rows["ours"]["held-out"], rows["reference"]["held-out"]
    print(f"held-out phrasings, ours / reference: tones {held['tones']:.0%} / {ref['tones']:.0%} "
          f"(ratio {held['tones'] / max(ref['tones'], 1e-9):.2f}), tempo {held['tempo']:.0%} / {ref['tempo']:.0%} "
          f"(ratio {held['tempo'] / max(ref['tempo'], 1e-9):.2f})")


if __name__ == "__main__":
    main()
