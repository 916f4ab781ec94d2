"""The AudioSet class list, seed 001's prompt templates and output sizes (engine.audioset)."""

from __future__ import annotations

import re

import json

import pytest

from engine import audioset
from engine.audio.spectrogram import get_preset, width_for_duration


def test_the_shipped_list_has_all_527_labels_in_index_order_with_parents():
    labels = audioset.load_labels()
    assert len(labels) == audioset.NUM_LABELS == 527
    assert [label.index for label in labels] == list(range(527))
    assert labels[0].name == "Speech" and labels[0].mid == "/m/09x0r"
    assert len(set(audioset.label_names())) == 527
    # Only the two ontology roots among the labels have no parent.
    assert sorted(label.name for label in labels if not label.parents) == ["Animal", "Music"]
    assert audioset.get_label("bark").parents == ("Dog",)


def test_the_label_file_names_its_source_and_licence():
    data = json.loads(audioset.LABELS_FILE.read_text(encoding="utf-8"))
    assert data["count"] == 527
    assert "CC BY" in data["licence"] and "audioset" in json.dumps(data["source"]).lower()


def test_search_ranks_the_exact_name_first_then_words_then_children():
    found = audioset.search_labels("dog")
    assert found[0] == "Dog"
    assert {"Bark", "Howl", "Growling"} <= set(found)  # children found through their parent
    assert found.index("Whimper (dog)") < found.index("Bark")  # name match before family match
    assert audioset.search_labels("male sp") == ["Male speech, man speaking"]
    assert audioset.search_labels("SINE WAVE")[0] == "Sine wave"
    assert audioset.search_labels("zzzz") == []
    assert audioset.search_labels("") == list(audioset.label_names())
    assert len(audioset.search_labels("music", limit=3)) == 3


def test_search_rejects_a_negative_limit():
    with pytest.raises(ValueError, match="limit"):
        audioset.search_labels("dog", limit=-1)


def test_seed_001_templates():
    assert audioset.class_prompt("Dog") == "a spectrogram of the sound of Dog"
    assert audioset.mixture_prompt("Dog", "Bark", "Howl") == (
        "a mel spectrogram of the sound of multiple overlapping Dogs, including Bark and Howl"
    )
    with pytest.raises(ValueError, match="label"):
        audioset.class_prompt("  ")
    with pytest.raises(ValueError, match="`b`"):
        audioset.mixture_prompt("Dog", "Bark", "")


@pytest.mark.parametrize(
    "name, plural",
    [
        ("Dog", "Dogs"),
        ("Domestic animals, pets", "Domestic animals"),
        ("Bee, wasp, etc.", "Bees"),
        ("Roaring cats (lions, tigers)", "Roaring cats"),
        ("Brief tone", "Brief tones"),
        ("Musical instrument", "Musical instruments"),
        ("Music", "Music"),
        ("Breathing", "Breathing"),
        ("Fly, housefly", "Flies"),
        ("Bird vocalization, bird call, bird song", "Bird vocalizations"),
        ("Glass", "Glasses"),
    ],
)
def test_mixture_parents_read_as_plurals(name, plural):
    assert audioset.plural_class_name(name) == plural


def test_every_real_mixture_prompt_reads_cleanly():
    prompt = audioset.mixture_prompt(audioset.mixture_parent("Bark", "Meow"), "Bark", "Meow")
    assert prompt == "a mel spectrogram of the sound of multiple overlapping Domestic animals, including Bark and Meow"
    for label in audioset.load_labels():
        for parent in label.parents:
            plural = audioset.plural_class_name(parent)
            assert not re.search(r"ss$|[^aeiou]ys$", plural), (parent, plural)  # no "petss", no "Machinerys"
            assert "," not in plural and "(" not in plural


def test_mixture_parent_is_the_nearest_common_ancestor():
    assert audioset.mixture_parent("Bark", "Howl") == "Dog"
    assert audioset.mixture_parent("Bark", "Meow") == "Domestic animals, pets"
    assert audioset.mixture_parent("Guitar", "Piano") == "Musical instrument"
    assert audioset.children("Dog") == ["Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)"]
    with pytest.raises(audioset.UnknownLabelError, match="not an AudioSet label"):
        audioset.mixture_parent("Bark", "Dgo")


def test_output_sizes_map_to_job_height_and_duration():
    assert audioset.OUTPUT_SIZES == {"64x400 (seed 001)": (64, 400), "512x512": (512, 512)}
    params = get_preset("riffusion")
    settings = audioset.output_size_settings("64x400 (seed 001)", params)
    assert settings["height"] == 64
    assert width_for_duration(params, settings["duration_s"]) == 400  # 4.0 s at 10 ms per column
    assert audioset.output_size_settings("512x512", params) == {"height": 512, "duration_s": 5.12}
    with pytest.raises(ValueError, match="unknown output size"):
        audioset.output_size_settings("256x256", params)


def test_a_broken_label_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps({"labels": [{"index": 1, "mid": "/m/x", "name": "X"}]}))
    with pytest.raises(ValueError, match="index 1; expected 0"):
        audioset.load_labels(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        audioset.load_labels(bad)
