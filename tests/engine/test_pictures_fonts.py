"""The picture model's training corpus rendered through several sound fonts (issue 16): each
General MIDI clip rendered with a font drawn from a list (``train_pictures --fonts``), the clips
themselves the same whatever the fonts, and the fonts named in the trained model's card."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.training import gm_corpus as gm

pytestmark = pytest.mark.skipif(
    not (gm.FLUID_FONT.is_file() and gm.CSOUND_FONT.is_file()),
    reason=f"needs apt packages {gm.APT_PACKAGES} {gm.TRAINING_FONT_PACKAGES['csound']}",
)


def test_each_clip_is_rendered_with_a_font_drawn_from_the_list_and_the_clips_stay_the_same():
    from engine.pictures.corpus import gm_sounds

    alone = gm_sounds(np.random.default_rng(3), 24)
    mixed = gm_sounds(np.random.default_rng(3), 24, fonts=[gm.FLUID_FONT, gm.CSOUND_FONT],
                      font_rng=np.random.default_rng(9))
    assert [s.label for s in mixed] == [s.label for s in alone]  # the same notes, beats and effects
    sources = [s.source for s in mixed]
    assert {"gm:FluidR3_GM", "gm:sf_GMbank"} == set(sources), sources
    for one, other in zip(alone, mixed):
        # Rendered in another batch, a FluidR3 clip may differ in a note's first 64 samples (fluidsynth
        # ramps a reused voice from its last level): under 1% of the sound; another font's, over 50%.
        difference = np.abs(one.audio - other.audio).sum() / np.abs(one.audio).sum()
        assert (difference < 0.01) == (other.source == "gm:FluidR3_GM"), (one.label, other.source, difference)
        if other.source == "gm:sf_GMbank":  # another font's samples: another sound, the same family and note
            assert difference > 0.5, one.label
            assert (other.attributes.group, other.attributes.pitch_hz) == (one.attributes.group, one.attributes.pitch_hz)


def test_training_fonts_by_name_and_one_line_errors(monkeypatch, tmp_path):
    assert gm.training_fonts("fluid, csound") == [gm.FLUID_FONT, gm.CSOUND_FONT]
    with pytest.raises(ValueError, match="unknown training font.*timgm.*known: fluid, csound, opl3"):
        gm.training_fonts("fluid,timgm")  # the held-out fonts are not training fonts
    monkeypatch.setitem(gm.TRAINING_FONTS, "opl3", tmp_path / "missing.sf2")
    with pytest.raises(gm.RenderError, match="apt install opl3-soundfont"):
        gm.training_fonts(["fluid", "opl3"])


def test_train_pictures_with_two_fonts_names_them_in_the_model_card(tmp_path, capsys):
    from engine.pictures.model import load_picture_model
    from engine.training.train_pictures import main

    out = tmp_path / "model"
    assert main(["--out", str(out), "--fonts", "fluid,csound", "--gm", "16", "--synth", "4",
                 "--encoder-steps", "3", "--steps", "2"]) == 0
    card = json.loads((out / "picture_model.json").read_text())["card"]
    assert card["extra"]["fonts"] == ["fluid", "csound"]
    assert "FluidR3_GM, csound's sf_GMbank" in card["trained_on"]
    assert "--fonts fluid,csound" in card["extra"]["command"]
    assert "csound's sf_GMbank" in (out / "README.md").read_text()
    first = load_picture_model(out)  # a model illustrate can use

    # The diffusion stage again on the same corpus, the encoder taken from the first run and the
    # diffusion stage started from its weights: the same encoder, a UNet and projector two small
    # steps away from the first run's, and a card that is valid JSON (no NaN encoder loss) saying
    # where both came from.
    again = tmp_path / "again"
    assert main(["--out", str(again), "--fonts", "fluid,csound", "--gm", "16", "--synth", "4",
                 "--encoder-from", str(out), "--diffusion-from", str(out), "--steps", "2"]) == 0
    card = json.loads((again / "picture_model.json").read_text(), parse_constant=lambda c: pytest.fail(c))["card"]
    assert card["extra"]["encoder_from"] == card["extra"]["diffusion_from"] == str(out)
    assert "encoder_loss_first_last" not in card["extra"]
    second = load_picture_model(again)
    for name, weight in first.encoder.state_dict().items():
        assert torch.equal(weight, second.encoder.state_dict()[name]), name
    for part in ("unet", "projector"):
        before, after = getattr(first, part).state_dict(), getattr(second, part).state_dict()
        assert max(float((before[n] - after[n]).abs().max()) for n in before) < 0.01, part  # a fresh start: ~0.1-1
