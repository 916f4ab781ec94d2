"""The starter model's training sounds (engine.training.synth): each sound is what its caption says."""

from __future__ import annotations

import numpy as np
import pytest

from engine.training import synth

SR = 22050


def dominant_hz(audio: np.ndarray, sample_rate_hz: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * sample_rate_hz / len(audio))


def band_level_db(audio: np.ndarray, low_hz: float, high_hz: float) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / SR)
    band = (freqs >= low_hz) & (freqs < high_hz)
    return float(10 * np.log10(power[band].sum()))


def test_note_names_and_frequencies():
    assert synth.note_to_hz("A4") == 440.0
    assert synth.note_to_hz("a3") == 220.0
    assert synth.note_to_hz("C4") == pytest.approx(261.626, abs=1e-3)
    assert synth.note_to_hz("C#4") == synth.note_to_hz("Db4")
    assert synth.note_to_hz("Cb4") == synth.note_to_hz("B3")
    assert synth.hz_to_note(452.0) == "A4" and synth.hz_to_note(466.2) == "A#4"
    assert synth.named_notes()[0] == "A2" and synth.named_notes()[-1] == "A6" and len(synth.named_notes()) == 49
    with pytest.raises(ValueError, match="'H2'"):
        synth.note_to_hz("H2")
    with pytest.raises(ValueError, match="freq_hz"):
        synth.hz_to_note(0)


@pytest.mark.parametrize("seed", range(6))
def test_a_tone_sounds_at_the_pitch_its_captions_name(seed):
    example = synth.random_example(np.random.default_rng(seed), 2.56, SR, kind="tone")
    freq = example.params["freq_hz"]
    assert dominant_hz(example.audio) == pytest.approx(freq, abs=1.0)
    assert any(f"{round(freq)} Hz" in caption for caption in example.captions)
    if example.params["note"] is not None:
        assert any(caption.endswith(example.params["note"]) for caption in example.captions)


def test_chords_hold_the_three_notes_of_the_triad():
    rng = np.random.default_rng(0)
    root = synth.note_to_hz("C4")
    for quality, third in (("major", 4), ("minor", 3)):
        audio = synth.chord(root, quality, SR * 2, SR, rng)
        spectrum = np.abs(np.fft.rfft(audio))
        freqs = np.fft.rfftfreq(len(audio), 1 / SR)
        peaks = sorted(freqs[np.argsort(spectrum)[-3:]])
        expected = [root, root * 2 ** (third / 12), root * 2 ** (7 / 12)]
        assert peaks == pytest.approx(expected, abs=1.0)
    with pytest.raises(ValueError, match="quality"):
        synth.chord(root, "diminished", SR, SR, rng)


@pytest.mark.parametrize("direction", ["rising", "falling"])
def test_sweeps_move_in_their_direction(direction):
    rng = np.random.default_rng(3)
    while True:
        example = synth.random_example(rng, 2.56, SR, kind="sweep")
        if example.params["direction"] == direction:
            break
    quarter = len(example.audio) // 4
    first, last = dominant_hz(example.audio[:quarter]), dominant_hz(example.audio[-quarter:])
    assert (last > first * 1.5) if direction == "rising" else (first > last * 1.5)
    assert example.captions[0] == f"a {direction} sweep"


def test_noise_colours_have_their_spectral_slopes():
    rng = np.random.default_rng(0)
    slopes = {}
    for color in synth.NOISE_COLORS:
        audio = synth.colored_noise(color, SR * 4, rng)
        assert np.sqrt(np.mean(audio**2)) == pytest.approx(1.0, rel=1e-3)
        slopes[color] = band_level_db(audio, 1000, 2000) - band_level_db(audio, 500, 1000)  # per octave
    # Band power over an octave: white +3 dB (twice the bins), pink 0 dB, brown -3 dB.
    assert slopes["white"] == pytest.approx(3.0, abs=0.5)
    assert slopes["pink"] == pytest.approx(0.0, abs=0.5)
    assert slopes["brown"] == pytest.approx(-3.0, abs=0.5)


@pytest.mark.parametrize("kind", ["clicks", "pulse_train", "noise_bursts"])
def test_event_trains_repeat_at_the_rate_their_captions_name(kind):
    example = synth.random_example(np.random.default_rng(11), 2.56, SR, kind=kind)
    rate = example.params["rate_per_s"]
    assert any(f"{rate} " in caption for caption in example.captions)
    envelope = np.abs(example.audio) > 0.05 * np.abs(example.audio).max()
    onsets = np.flatnonzero(envelope[1:] & ~envelope[:-1]) + 1
    # merge onsets closer than 20 ms (noise crosses the threshold many times within a burst)
    starts = [onsets[0]] + [b for a, b in zip(onsets, onsets[1:]) if b - a > 0.02 * SR]
    intervals_s = np.diff(starts) / SR
    assert np.median(intervals_s) == pytest.approx(1.0 / rate, rel=0.02)


def test_plucked_and_decaying_tones_ring_at_their_pitch_and_fade():
    rng = np.random.default_rng(5)
    pluck = synth.karplus_strong(440.0, SR * 2, SR, rng, decay_s=0.5)
    assert dominant_hz(pluck[: SR // 2]) == pytest.approx(440.0, rel=0.01)
    decay = synth.decaying_tone(330.0, SR * 2, SR, decay_s=0.3)
    assert dominant_hz(decay) == pytest.approx(330.0, abs=1.0)
    for audio in (pluck, decay):
        assert np.abs(audio[-SR // 4 :]).max() < 0.05 * np.abs(audio).max()


def test_tremolo_swings_the_level_at_its_rate():
    audio = synth.tremolo(440.0, 4.0, 1.0, SR * 2, SR)
    block = SR // 100  # 10 ms RMS envelope
    envelope = np.sqrt(np.mean(audio[: len(audio) // block * block].reshape(-1, block) ** 2, axis=1))
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean()))
    assert np.fft.rfftfreq(len(envelope), 0.01)[np.argmax(spectrum)] == pytest.approx(4.0, abs=0.5)


def test_random_examples_are_seeded_levelled_and_captioned_from_the_vocabulary():
    a = [synth.random_example(np.random.default_rng(7), 1.0, SR) for _ in range(2)]
    assert np.array_equal(a[0].audio, a[1].audio) and a[0].captions == a[1].captions
    rng = np.random.default_rng(1)
    vocabulary = set(synth.caption_vocabulary())
    kinds = set()
    for _ in range(120):
        example = synth.random_example(rng, 0.5, SR)
        kinds.add(example.kind)
        assert example.audio.dtype == np.float32 and example.audio.shape == (SR // 2,)
        peak_db = 20 * np.log10(np.abs(example.audio).max())
        assert -20.01 <= peak_db <= -0.99
        assert len(example.captions) >= 3 and set(example.captions) <= vocabulary
    assert kinds == set(synth.KINDS)


def test_bad_arguments_are_named():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="`kind`"):
        synth.random_example(rng, 1.0, SR, kind="drums")
    with pytest.raises(ValueError, match="duration_s"):
        synth.random_example(rng, 0.0, SR)
    with pytest.raises(ValueError, match="color"):
        synth.colored_noise("blue", 100, rng)
    with pytest.raises(ValueError, match="rate_per_s"):
        synth.clicks(0, 100, SR)


def test_any_hz_tones_name_whole_numbers_the_sine_really_has():
    # Starter model 2 draws half its pure tones at any whole Hz, so its captions teach reading a
    # number instead of recalling sixteen round ones; each caption's number is the tone's pitch.
    rng = np.random.default_rng(3)
    tones = [synth.random_example(rng, 1.0, 22050, "tone", any_hz=True) for _ in range(200)]
    free = [t for t in tones if t.params["note"] is None and t.params["freq_hz"] not in synth.ROUND_FREQUENCIES_HZ]
    assert len({t.params["freq_hz"] for t in free}) >= 80
    low, high = synth.ANY_HZ_RANGE
    for t in free[:10]:
        hz = t.params["freq_hz"]
        assert low <= hz <= high and hz == round(hz)
        assert all(str(int(hz)) in c for c in t.captions)
        spectrum = np.abs(np.fft.rfft(t.audio))
        assert abs(np.argmax(spectrum) - hz) <= 1  # 1 s of audio: 1 Hz bins


def test_without_any_hz_the_draws_are_unchanged():
    a = [synth.random_example(np.random.default_rng(5), 0.1, 22050, "tone") for _ in range(1)]
    b = [synth.random_example(np.random.default_rng(5), 0.1, 22050, "tone", any_hz=False) for _ in range(1)]
    assert a[0].captions == b[0].captions and a[0].params == b[0].params
