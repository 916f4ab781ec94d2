"""Record golden outputs of every task with the code of the time (issue 12, before the task registry).

Run from the repository root: ``python tests/assets/golden/make_golden.py``. Writes, next to this
file, ``input.wav`` (the edit tasks' input, 16-bit PCM so that it reads back identically on every
machine), ``golden.json`` (per case: the recipe JSON exactly as that code wrote it, the sha256 of
the float32 audio, its shape and 256 evenly spaced samples) and ``project.sdproj`` (a project
saved by that code holding a generated and an inpainted clip with their recipes).

Kept for the record: it uses the API of the commit that recorded the fixtures (see README.md).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "engine")]

from assets.make_tiny_sd import TINY_SD_DIR  # noqa: E402
from test_inpaint import make_clip  # noqa: E402

from engine.api import (  # noqa: E402
    Engine,
    EngineSettings,
    ExtendJob,
    InpaintJob,
    InterpolateJob,
    LoopJob,
    TextToAudioJob,
    VariationJob,
)
from engine.audio.io import read_audio, write_audio  # noqa: E402
from engine.models.catalog import STARTER_MODEL_DIR  # noqa: E402

RATE = 44100
FAST = dict(num_inference_steps=2, height=64, model=str(TINY_SD_DIR))
EDIT = dict(FAST, griffin_lim_iters=4, window_s=0.64)
SAMPLES_KEPT = 256


def environment() -> str:
    import torch

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return f"{platform.machine()} | {cpu} | torch {torch.__version__} | numpy {np.__version__}"


def summary(result) -> dict:
    audio = np.ascontiguousarray(result.audio, dtype=np.float32)
    index = np.linspace(0, audio.shape[1] - 1, SAMPLES_KEPT).round().astype(int)
    return {
        "recipe": result.recipe.to_json(),
        "sha256": hashlib.sha256(audio.tobytes()).hexdigest(),
        "shape": list(audio.shape),
        "sample_rate_hz": int(result.sample_rate_hz),
        "sample_index": index.tolist(),
        "samples": audio[:, index].astype(float).tolist(),
    }


def main() -> None:
    write_audio(HERE / "input.wav", make_clip(1.0, channels=2), RATE, subtype="PCM_16")
    clip, rate = read_audio(HERE / "input.wav")
    mask = np.zeros((64, clip.shape[1] // 441), dtype=np.float32)
    mask[10:40, 30:60] = 1.0
    mask[45:60, 70:90] = 0.7
    cases = {
        "generate": TextToAudioJob(prompt="jazz piano", negative_prompt="drums", seed=3, duration_s=0.64,
                                   num_variations=2, scheduler="euler-a", **FAST),
        "generate_starter": TextToAudioJob(prompt="a sine tone at 440 Hz", seed=5, num_inference_steps=2,
                                           guidance_scale=5.0, duration_s=2.56, spectrogram_preset="starter",
                                           model=str(STARTER_MODEL_DIR)),
        "inpaint": InpaintJob(audio=clip, sample_rate_hz=rate, start_s=0.3, end_s=0.6, fmin_hz=200.0,
                              fmax_hz=2000.0, prompt="train horn", seed=7, **EDIT),
        "inpaint_mask": InpaintJob(audio=clip, sample_rate_hz=rate, mask=mask, prompt="birds", seed=8,
                                   strength=0.8, **EDIT),
        "extend": ExtendJob(audio=clip, sample_rate_hz=rate, left_s=0.3, right_s=0.5, prompt="rain",
                            prompt_left="wind", context_s=0.64, seed=9, **dict(EDIT, window_s=1.28)),
        "loop": LoopJob(audio=clip, sample_rate_hz=rate, seam_s=0.4, prompt="drum loop", seed=4, **EDIT),
        "vary": VariationJob(audio=clip, sample_rate_hz=rate, strength=0.5, prompt="piano", num_variations=2,
                             seed=1, **EDIT),
        "interpolate": InterpolateJob(prompt="church bells", prompt_to="electronic beats", num_steps=3, seed=6,
                                      seed_to=2, crossfade_s=0.16, **EDIT),
    }
    out: dict = {"environment": environment(), "cases": {}}
    results = {}
    with Engine(EngineSettings(device="cpu", offline=True)) as engine:
        for name, spec in cases.items():
            made = engine.run(spec, timeout_s=600)
            results[name] = made
            for index, result in enumerate(made):
                key = name if len(made) == 1 else f"{name}_{index + 1}"
                out["cases"][key] = summary(result)
                print(key, out["cases"][key]["sha256"][:16], out["cases"][key]["shape"])
    (HERE / "golden.json").write_text(json.dumps(out, indent=1) + "\n")

    from app.model.persistence import save_project
    from app.model.project import Clip, Project, Track

    project = Project(sample_rate_hz=RATE)
    track = Track(name="Track 1")
    generated = results["generate"][0]
    inpainted = results["inpaint"][0]
    track.clips.append(Clip(name="jazz piano #3", audio=generated.audio, sample_rate_hz=generated.sample_rate_hz,
                            recipe=generated.recipe, image=generated.image))
    track.clips.append(Clip(name="inpainted", audio=inpainted.audio, sample_rate_hz=rate, start_s=1.0,
                            recipe=inpainted.recipe, image=inpainted.image))
    project.add_track(track)
    save_project(project, HERE / "project.sdproj")


if __name__ == "__main__":
    main()
