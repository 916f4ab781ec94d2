"""Real sampled sounds for the starter model (engine.training.gm_corpus): rendered General MIDI
clips sound like what their attributes say, reproducibly; and the measurements used on them
(engine.training.starter_metrics: pitch, drum tempo, instrument identity)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.training import gm_corpus as gm
from engine.training import midi
from engine.training import starter_metrics as metrics

SR = 22050
DURATION_S = 2.56

pytestmark = pytest.mark.skipif(not gm.FLUID_FONT.is_file(), reason=f"needs apt packages {gm.APT_PACKAGES}")


def render(clips, **kwargs):
    return gm.render(clips, sample_rate_hz=SR, duration_s=DURATION_S, **kwargs)


def note(program: int, key: int, *, length_s: float = 1.5, start_s: float = 0.1, velocity: int = 90) -> gm.GMClip:
    return gm.note_clip(program, key, velocity, length_s, start_s, loudness="medium", length="long")


def test_a_rendered_note_sounds_at_its_named_pitch_and_starts_on_time():
    flute = [note(73, key, start_s=0.3) for key in (60, 69, 76)]  # C4, A4, E5: the fundamental is the loudest
    others = [note(program, 57, start_s=0.3) for program in (0, 19, 42, 65)]  # piano, organ, cello, sax at A3
    audio = render(flute + others)
    assert audio.shape == (7, int(round(DURATION_S * SR))) and audio.dtype == np.float32
    for i, (clip, x) in enumerate(zip(flute + others, audio)):
        hz = metrics.dominant_frequency_hz(x, SR)
        harmonic = 1 if i < len(flute) else max(1, round(hz / clip.attributes["hz"]))
        assert metrics.semitones_between(hz, harmonic * clip.attributes["hz"]) <= 0.5, (gm.clip_summary(clip), hz)
        onsets = metrics.onset_times_s(x, SR)
        assert abs(onsets[0] - 0.3) <= 0.02, onsets
        assert np.abs(x[: int(0.28 * SR)]).max() < 1e-4  # silent before the note


def test_clips_do_not_leak_into_each_other_and_rendering_is_reproducible():
    loud_long = note(48, 60, length_s=2.56, start_s=0.0, velocity=127)  # strings, held to the end
    silent = gm.GMClip(0, False, (), {"kind": "note"})
    clips = [loud_long, silent, note(0, 60), silent]
    first = render(clips, workers=2)
    assert np.abs(first[0]).max() > 0.05
    assert not first[1].any() and not first[3].any()
    assert np.array_equal(first, render(clips, workers=2))
    # Split differently, a clip follows other clips: fluidsynth reuses voices, whose first
    # 64-sample block ramps from the previous voice's level (a tiny difference at the onset).
    again = render(clips, workers=1)
    assert np.abs(again - first).max() <= 0.05 * np.abs(first).max()
    assert (np.abs(again - first) > 1e-6).sum() <= 2 * gm.FLUIDSYNTH_BLOCK


def test_drum_beats_come_at_their_tempo_and_hits_sound_once():
    rock = next(p for p in gm.BEAT_PATTERNS if p.name == "rock")
    beats = [gm.beat_clip(rock, kit, bpm, 100, 0.1) for kit, bpm in ((0, 90), (25, 120), (32, 150))]
    hits = [gm.GMClip(0, True, (gm.NoteEvent(key, 110, 0.5, 0.3),), {"kind": "hit"}) for key in (36, 38, 42, 49)]
    audio = render(beats + hits)
    for clip, x in zip(beats, audio):
        assert metrics.tempo_check(clip.attributes["tempo_bpm"]).passes(metrics.tempo_bpm(x, SR)), gm.clip_summary(clip)
    for x in audio[len(beats) :]:
        assert abs(metrics.onset_times_s(x, SR)[0] - 0.5) <= 0.02
        assert np.abs(x[: int(0.49 * SR)]).max() < 1e-4 < np.abs(x).max()


def test_random_clips_of_every_kind_render_to_sound():
    rng = np.random.default_rng(3)
    clips = [gm.random_clip(rng, kind) for kind in gm.CLIP_KINDS for _ in range(3)]
    audio = render(clips)
    silent = [gm.clip_summary(c) for c, x in zip(clips, audio) if np.abs(x).max() < 1e-3]
    assert len(silent) <= 1, silent  # a few drum keys are missing from some kits


def test_random_clips_are_seeded_and_never_play_a_held_out_instrument_at_pitch():
    def draw(seed):
        rng = np.random.default_rng(seed)
        return [gm.random_clip(rng) for _ in range(3000)]

    clips = draw(0)
    assert [c.attributes for c in clips[:50]] == [c.attributes for c in draw(0)[:50]]
    assert {c.kind for c in clips} == set(gm.CLIP_KINDS)
    for clip in clips:
        if clip.kind in ("note", "chord", "arpeggio"):
            assert not any(gm.is_held_out(clip.program, n.key) for n in clip.notes), gm.clip_summary(clip)
            inst = gm.INSTRUMENTS[clip.program]
            if clip.kind == "note":
                assert inst.low <= clip.notes[0].key <= inst.high
    for program in gm.IDENTITY_PROGRAMS:
        assert all(gm.is_held_out(program, key) for key in gm.IDENTITY_KEYS)
    held = sum(gm.is_held_out(p, k) for p in gm.PITCHED_PROGRAMS for k in range(gm.INSTRUMENTS[p].low, gm.INSTRUMENTS[p].high + 1))
    total = sum(i.high - i.low + 1 for i in gm.INSTRUMENTS)
    assert 0.04 < held / total < 0.1


def test_the_tables_cover_general_midi():
    assert [i.program for i in gm.INSTRUMENTS] == list(range(119))
    assert [e.program for e in gm.EFFECTS] == list(range(119, 128))
    assert all(28 <= i.low < i.high <= 96 for i in gm.INSTRUMENTS)
    assert gm.key_name(60) == "C4" and gm.key_name(61) == "C#4" and gm.key_hz(69) == 440.0
    assert max(gm.TEMPOS_BPM) < 2 * min(gm.TEMPOS_BPM)  # no tempo is another's double


def test_a_missing_renderer_or_font_names_the_apt_packages(monkeypatch, tmp_path):
    with pytest.raises(gm.RenderError, match="apt install fluidsynth fluid-soundfont-gm"):
        gm.render([note(0, 60)], sample_rate_hz=SR, duration_s=1.0, font=tmp_path / "missing.sf2")
    monkeypatch.setattr(gm.shutil, "which", lambda name: None)
    with pytest.raises(gm.RenderError, match="fluidsynth is not installed.*apt install fluidsynth"):
        gm.render([note(0, 60)], sample_rate_hz=SR, duration_s=1.0)


def test_midi_files_encode_times_and_messages():
    assert midi._variable_length(0) == b"\x00" and midi._variable_length(0x40) == b"\x40"
    assert midi._variable_length(0x80) == b"\x81\x00" and midi._variable_length(0x3FFF) == b"\xff\x7f"
    data = midi.midi_file_bytes([midi.MidiEvent(0.5, midi.note_on(0, 60, 100)), midi.MidiEvent(0.0, midi.program_change(0, 40))], end_s=1.0)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    track = data[22:]
    assert track.find(b"\xc0\x28") < track.find(b"\x90\x3c\x64")  # sorted by time: program, then note
    with pytest.raises(ValueError, match="channel"):
        midi.note_on(16, 60, 100)
    with pytest.raises(ValueError, match="end_s"):
        midi.midi_file_bytes([midi.MidiEvent(2.0, midi.note_off(0, 60))], end_s=1.0)


def test_the_tempo_measure_reads_click_tracks_and_refuses_silence():
    from engine.training import synth

    for rate in (1.5, 2.0, 2.5):  # 90, 120, 150 BPM
        audio = synth.clicks(rate, int(DURATION_S * SR), SR, offset_s=0.05)
        assert metrics.tempo_bpm(audio, SR) == pytest.approx(60 * rate, rel=0.02)
    assert math.isnan(metrics.tempo_bpm(np.zeros(SR), SR))


def test_an_instrument_classifier_from_other_fonts_tells_fluidr3_instruments_apart():
    """Trained on TimGM6mb renders only, it names the instrument of FluidR3 notes it never
    heard, at G4 and D4."""
    programs = (0, 40, 56, 73)  # piano, violin, trumpet, flute
    classifier = metrics.identity_classifier(programs, keys=range(55, 79, 2), fonts=[gm.TIMGM_FONT], takes=2)
    rng = np.random.default_rng(1)
    clips = [gm.random_note(rng, p, key) for p in programs for key in gm.IDENTITY_KEYS]
    features = np.array([metrics.timbre_features(x, SR) for x in render(clips)])
    accuracy = classifier.accuracy(features, [c.attributes["program"] for c in clips])
    assert accuracy >= 0.75, accuracy


def test_any_tempo_beats_play_at_the_odd_whole_bpm_their_captions_name():
    # Starter model 2's captions name any whole BPM (107, 131...), not only multiples of 5, and
    # the rendered beat keeps that tempo.
    rng = np.random.default_rng(11)
    beats = [gm.random_clip(rng, "beat", any_tempo=True) for _ in range(60)]
    tempos = {c.attributes["tempo_bpm"] for c in beats}
    assert len(tempos - set(gm.TEMPOS_BPM)) >= 30
    assert gm.TEMPOS_BPM[0] <= min(tempos) and max(tempos) <= gm.TEMPOS_BPM[-1]
    odd = [c for c in beats if c.attributes["tempo_bpm"] % 5][:3]
    for clip, x in zip(odd, render(odd)):
        assert metrics.tempo_check(clip.attributes["tempo_bpm"]).passes(metrics.tempo_bpm(x, SR)), gm.clip_summary(clip)
    same = [gm.random_clip(np.random.default_rng(4), "beat").attributes for _ in range(2)]
    assert same[0] == gm.random_clip(np.random.default_rng(4), "beat", any_tempo=False).attributes == same[1]
