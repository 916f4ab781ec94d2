"""Which AudioSet classes a model knows, read from its model card (issue 15 part 4): the starter
model's card lists them (``audioset_classes``), a general model lists none and is not judged
class by class, and a class the model was not trained on gets a caution naming a real model."""

from __future__ import annotations

import json
import sys

import pytest

from engine.audioset import UnknownLabelError, model_classes
from engine.models.catalog import STARTER_MODEL_DIR, model_hints, task_caution


def write_card(folder, **fields):
    """The shipped starter's card with ``fields`` replaced: the schema the app reads today."""
    card = json.loads((STARTER_MODEL_DIR / "starter.json").read_text(encoding="utf-8"))
    card.pop("audioset_classes", None)
    card.update(fields)
    (folder / "starter.json").write_text(json.dumps(card), encoding="utf-8")
    return str(folder)


def test_a_card_with_audioset_classes_knows_those_and_only_those(tmp_path):
    model = write_card(tmp_path, title="Stand-in", audioset_classes=["Piano", "violin, FIDDLE", "Drum kit", "Not a class", 7])
    classes = model_classes(model)
    assert not classes.general and classes.title == "Stand-in"
    assert classes.known == {"Piano", "Violin, fiddle", "Drum kit"}  # canonical names; junk dropped
    assert classes.knows("piano") is True and classes.knows("Shout") is False
    assert classes.unknown(["Piano", "Shout", "shout", "Bark"]) == ["Shout", "Bark"]
    assert classes.caution(["Piano", "Drum kit"]) is None
    caution = classes.caution(["Piano", "Shout"])
    assert caution.startswith("Stand-in was not trained on \u201cShout\u201d") and "3 of the 527" in caution
    assert "Riffusion v1" in caution and "Model Manager" in caution and "Piano" not in caution
    with pytest.raises(UnknownLabelError):
        classes.knows("Not a class")
    # Judged class by class, so the starter's blanket warning about class prompts is not given.
    assert task_caution(model, "sound_classes") is None
    assert model_hints(model).audioset_classes == ("Piano", "violin, FIDDLE", "Drum kit", "Not a class")


def test_a_starter_card_without_the_list_knows_none_and_keeps_its_blanket_warning(tmp_path):
    model = write_card(tmp_path, starter=True)
    classes = model_classes(model)
    assert classes.known == frozenset() and not classes.general
    assert "knows none of the AudioSet classes" in classes.caution(["Dog"])
    assert "synthetic sounds" in task_caution(model, "sound_classes")


def test_general_models_are_not_judged_class_by_class(tmp_path):
    for model in ("riffusion/riffusion-model-v1", "someone/unknown-model", str(tmp_path), ""):
        classes = model_classes(model)
        assert classes.general and classes.known is None
        assert classes.knows("Shout") is None and classes.unknown(["Shout"]) == [] and classes.caution(["Shout"]) is None
    assert model_classes("riffusion/riffusion-model-v1").title == "Riffusion v1"
    # A card that lists no classes and is no starter: a general model too.
    assert model_classes(write_card(tmp_path, starter=False)).general


def test_the_shipped_starter_card_is_read_the_same_way():
    classes = model_classes("builtin:starter")
    listed = json.loads((STARTER_MODEL_DIR / "starter.json").read_text(encoding="utf-8")).get("audioset_classes")
    if listed is None:  # starter model 1: synthetic sounds only
        assert classes.known == frozenset()
    else:  # starter model 2 lists what its training sounds are examples of
        assert classes.known and {"Piano", "Drum kit"} <= classes.known and classes.knows("Shout") is False
    assert "Shout" in classes.caution(["Shout"])


def test_reading_classes_does_not_import_torch():
    import subprocess

    code = ("import sys; from engine.audioset import model_classes; model_classes('builtin:starter'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
