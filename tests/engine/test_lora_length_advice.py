"""The run's length against other LoRA trainers' (issue 13 nit): each clip shown far more often
than kohya_ss / diffusers users do (100-400 times for a small dataset at lr 1e-4) or far fewer
gives one advice sentence with a step count that fits the dataset; a usual length gives none.
The estimate (CLI --estimate, the wizard's estimate line) ends with that sentence."""

from __future__ import annotations

from engine.training.lora_config import (
    PRESETS,
    Estimate,
    StepTiming,
    length_advice,
    suggested_steps,
    usual_showings,
)


def test_four_clips_at_the_cpu_preset_is_advised_fewer_steps():
    """The case last session found: cpu-starter (900 steps, 4 clips a step) on 3 training clips."""
    preset = PRESETS["cpu-starter"]
    advice = length_advice(preset.max_steps, preset.clips_per_step, 3)
    assert advice.startswith("Each clip is seen 1200 times, more than the 100-400 times")
    assert "overfit" in advice and "about 150 steps would show each clip 200 times" in advice


def test_the_preset_on_the_dataset_it_was_tuned_for_gets_no_advice():
    """cpu-starter's 900 steps on 16 clips (14 for training) is what bench_lora_starter measured."""
    preset = PRESETS["cpu-starter"]
    assert length_advice(preset.max_steps, preset.clips_per_step, 14) == ""
    assert length_advice(200, 1, 2) == "" and length_advice(400, 1, 1) == ""  # the edges are usual


def test_too_short_a_run_is_advised_more_steps():
    advice = length_advice(2, 2, 4)
    assert advice.startswith("Each clip is seen only 1 time, fewer than") and "underfit" in advice
    assert "about 400 steps would show each clip 200 times" in advice
    assert length_advice(27, 1, 10).startswith("Each clip is seen only 2.7 times")


def test_large_datasets_need_fewer_passes():
    """diffusers' text_to_image LoRA example: ~830 images, 15000 steps x 4 clips: ~70 showings, usual."""
    low, high = usual_showings(833)
    assert low < 72 < high and usual_showings(10) == (100.0, 400.0)
    assert length_advice(15000, 4, 833) == ""
    assert "a dataset this size" in length_advice(200_000, 4, 833)
    assert suggested_steps(4, 833) == 9300  # two significant figures
    assert length_advice(10, 1, 0) == ""  # nothing read yet: nothing to advise


def estimate(total_steps, clips_per_step, num_train):
    timing = StepTiming((0.5, 0.5), (0.1, 0.1), 2)
    return Estimate.build(total_steps=total_steps, steps_left=total_steps, timing=timing, peak_memory_bytes=2**20,
                          trainable_parameters=10, times_each_clip_seen=total_steps * clips_per_step / num_train,
                          device="cpu", num_train=num_train, clips_per_step=clips_per_step,
                          costs=(("saves", 1, 0.1, 0.1), ("train_evaluations", 2, 0.1, 0.1)))


def test_the_estimate_ends_with_the_advice_and_counts_its_costs_in_good_english():
    text = estimate(900, 4, 3).describe()
    assert text.startswith("900 steps (each clip seen 1200.0 times)")
    assert text.endswith(length_advice(900, 4, 3)) and ".\nEach clip is seen 1200 times" in text
    assert "plus 1 save, 2 training-loss passes" in text
    assert "Each clip" not in estimate(200, 1, 2).describe()
