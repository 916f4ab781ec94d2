"""Captions of the starter model's training sounds (engine.training.captions): many phrasings,
each true to its sound, and held-out phrasings that training never sees."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine import audioset
from engine.training import captions
from engine.training import gm_corpus as gm
from engine.training import synth


def sample_attributes(per_kind: int = 4, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = [gm.random_clip(rng, kind).attributes for kind in gm.CLIP_KINDS for _ in range(per_kind)]
    out += [captions.synth_attributes(synth.random_example(rng, 2.56, 22050, kind)) for kind in synth.KINDS for _ in range(per_kind)]
    return out


def test_held_out_phrasings_never_appear_among_training_captions():
    """Every caption a held-out template can make, against every caption the training templates
    can make (all forms of all slots, with and without articles), for sounds of every kind; and
    the captions training actually draws."""
    rng = np.random.default_rng(1)
    for attributes in sample_attributes(3):
        training = captions.all_captions(attributes, "training")
        held_out = captions.all_captions(attributes, "held-out")
        assert held_out and len(training) >= 5, attributes
        assert not training & held_out, (attributes["kind"], sorted(training & held_out)[:3])
        drawn = captions.training_captions(attributes, rng, 8)
        assert len(drawn) >= 4 and set(drawn) <= training


def test_a_note_is_named_in_many_ways_and_always_truly():
    clip = gm.note_clip(40, 61, 40, 0.2, loudness="soft", length="short")  # a soft, short violin C#4
    every = captions.all_captions(clip.attributes)
    for phrase in ("a violin note at C#4", "violin playing Db4", "C sharp 4 on the violin", "a soft violin note at 277 Hz",
                   "a staccato violin note at 277Hz", "a string instrument playing D flat 4", "a spectrogram of the sound of Violin, fiddle"):
        assert phrase in every, phrase
    pitch_words = {"C#4", "Db4", "C sharp 4", "D flat 4", "277 Hz", "277Hz", "277 hertz"}
    for caption in every:
        assert "violin" in caption.lower() or "string" in caption or "fiddle" in caption, caption
        assert not re.search(r"\b[A-G]#?\d\b|\d+ ?Hz", caption) or any(w in caption for w in pitch_words), caption
        assert "loud" not in caption and " long" not in caption, caption


def test_pitch_tempo_and_articles_take_the_forms_people_type():
    assert captions.note_forms("C4") == ("C4", "middle C")
    assert set(captions.note_forms("F#3")) == {"F#3", "Gb3", "F sharp 3", "G flat 3"}
    assert {"440 Hz", "440Hz", "440 hertz"} <= set(captions.hz_forms(440.0))
    assert {"1 kHz", "1.5kHz"} <= set(captions.hz_forms(1000)) | set(captions.hz_forms(1500))
    assert "120 BPM" in captions.tempo_forms(120) and "120bpm" in captions.tempo_forms(120)
    assert captions.tempo_words(80)[0] == "slow" and captions.tempo_words(150)[0] == "fast"
    assert "Am" in captions.chord_forms("A", "minor") and "Bb major" in captions.chord_forms("A#", "major")
    assert captions._fill("{a} {inst} note", {"a": "\x00a", "inst": "oboe"}) == "an oboe note"
    assert captions._fill("{a} {pitch} tone", {"a": "\x00a", "pitch": "A4"}) == "an A4 tone"
    assert captions._fill("{a} {pitch} tone", {"a": "\x00a", "pitch": "C4"}) == "a C4 tone"
    assert captions._fill("{a} {kit}", {"a": "\x00a", "kit": "808 drum machine"}) == "an 808 drum machine"
    assert [captions._needs_an(w) for w in ("Eb5", "Am", "FM", "ukulele", "harp", "18", "1")] == [True, True, True, False, False, True, False]
    assert captions._fill("{a} {inst}, {pitch}", {"a": "", "inst": "harp", "pitch": "G3"}) == "harp, G3"


def test_the_first_starter_models_tone_prompts_stay_training_captions():
    example = synth.random_example(np.random.default_rng(0), 2.56, 22050, "tone")
    attributes = captions.synth_attributes(example)
    every = captions.all_captions(attributes)
    assert set(example.captions) <= every
    assert f"{round(attributes['hz'])}Hz sine wave" in every


def test_audioset_classes_of_the_corpus_are_real_labels_and_prompt_their_sounds():
    for label in captions.AUDIOSET_CLASSES:
        assert audioset.get_label(label).name == label
    piano = gm.note_clip(0, 60, 80, 1.0, loudness="medium", length="medium").attributes
    assert {"Piano", "Keyboard (musical)"} <= set(captions.audioset_labels(piano))
    assert "a spectrogram of the sound of Piano" in captions.all_captions(piano)
    assert "a spectrogram of the sound of Piano" not in captions.all_captions(piano, "held-out")
    rng = np.random.default_rng(0)
    bird = next(c for c in iter(lambda: gm.random_clip(rng, "effect"), None) if c.program == 123).attributes
    assert "Bird vocalization, bird call, bird song" in captions.audioset_labels(bird)
    assert any("of the sound of Bird" in c for c in (c for _ in range(20) for c in captions.training_captions(bird, rng, 4)))
    beat = gm.beat_clip(gm.BEAT_PATTERNS[0], 25, 120, 100).attributes
    assert {"Drum kit", "Drum machine"} <= set(captions.audioset_labels(beat))


def test_caption_facts_name_only_what_the_caption_says():
    attributes = gm.note_clip(56, 69, 90, 1.0, loudness="medium", length="medium").attributes  # trumpet A4
    named = captions.Caption("a trumpet playing A4", frozenset({"inst", "pitch"}))
    values, kind, program, family = captions.caption_facts(named, attributes)
    assert values[0] == 0.0 and np.isnan(values[1:]).all()
    assert captions.SOUND_KINDS[kind] == "note" and program == 56 and captions.PROBE_FAMILIES[family] == "brass"
    values, _, program, family = captions.caption_facts(captions.Caption("a brass note", frozenset({"family"})), attributes)
    assert np.isnan(values).all() and program == -100 and captions.PROBE_FAMILIES[family] == "brass"
    beat = gm.beat_clip(gm.BEAT_PATTERNS[0], 0, 60 * 2 ** 0.5 * 2, 100).attributes
    values, *_ = captions.caption_facts(captions.Caption("x", frozenset({"tempo"})), beat)
    assert values[4] == pytest.approx(0.5)


def test_every_training_caption_word_is_in_the_tokenizer_corpus():
    vocabulary = {w for text in captions.vocabulary_texts() for w in re.findall(r"[^\W\d_]+", text.lower())}
    rng = np.random.default_rng(2)
    for attributes in sample_attributes(3, seed=2):
        for caption in captions.training_captions(attributes, rng, 8):
            missing = set(re.findall(r"[^\W\d_]+", caption.lower())) - vocabulary
            assert not missing, (caption, missing)


def test_the_benchs_training_phrasing_reference_names_the_same_pitches_and_tempos_in_training_words():
    """bench_starter_prompts --phrasing training: the same pitches and tempos as the held-out
    checks, each prompt a training caption that names its pitch or tempo."""
    from engine.training import starter_metrics as m

    for held, trained in ((m.held_out_tone_checks(), m.held_out_tone_checks(phrasing="training")),
                          (m.held_out_tempo_checks(), m.held_out_tempo_checks(phrasing="training"))):  # fmt: skip
        assert len(held) == len(trained)
        for a, b in zip(held, trained):
            assert a.description == b.description and a.prompt != b.prompt
    for hz, check in zip(m.HELD_OUT_TONE_HZ, m.held_out_tone_checks(phrasing="training")):
        note = synth.hz_to_note(hz)
        attributes = {"kind": "tone", "source": "synth", "hz": hz,
                      "note": note if abs(12 * np.log2(hz / synth.note_to_hz(note))) < 0.01 else None}  # fmt: skip
        assert check.prompt in captions.all_captions(attributes, "training"), check.prompt
        assert f"{hz:g}" in check.prompt or note in check.prompt
    with pytest.raises(ValueError, match="must be 'training' or 'held-out'"):
        m.held_out_tone_checks(phrasing="typed")
