"""upsample: restore the missing top of a band-limited clip (super-resolution).

    specdiff-cli upsample starter.wav -o full.wav                      # the shipped offline model
    specdiff-cli upsample old.wav -o new.wav --model ~/my-upsampler --rate 48000

The clip's cutoff is detected (the starter model's audio stops at 4 kHz, an MP3 often at
16 kHz) and the clip is low-passed there; the band above is made by the upsampler
(:mod:`engine.upsample`) up to the model's Nyquist frequency, in chunks with overlap and
crossfade. Silent or already full-band clips pass through unchanged with a note.

With ``--start``/``--end`` only that range changes: it is upsampled with a quarter second of
the clip on each side, at the clip's own rate, and crossfaded in; every other sample stays
bit-identical (the app's Upsample on a selection). The recipe records the range and regenerates
the same samples.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.specs import MAX_SEED, MAX_STEPS, AudioInputJob, Progress, TaskResult, check_int, check_range
from engine.tasks import Needs, Task

#: The shipped offline upsampler (engine.upsample.models.DEFAULT_UPSAMPLER, without importing it).
DEFAULT_UPSAMPLER = "builtin:upsampler"


@dataclass(frozen=True, eq=False, kw_only=True)
class UpsampleJob(AudioInputJob):
    """Upsample ``audio`` with the upsampler ``model`` (``builtin:<name>`` or a folder).

    ``output_rate_hz`` 0 means the model's rate (or the clip's, if higher). ``seed`` and
    ``steps`` are for sampling upsamplers (diffusion; 0 steps = the model's default); the
    spectral upsampler is deterministic and ignores them.

    ``start_s``/``end_s`` (both or neither) upsample only that range of the clip: the result is
    the clip at its own rate with the range upsampled (seeing :data:`RANGE_CONTEXT_S` of the clip
    on each side) and crossfaded in over ``crossfade_s`` inside each edge; every sample outside
    the range is the clip's own.
    """

    kind: ClassVar[str] = "upsample"
    model: str = DEFAULT_UPSAMPLER
    output_rate_hz: int = 0
    seed: int = 0
    steps: int = 0
    start_s: float | None = None
    end_s: float | None = None
    crossfade_s: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("`model` must name an upsampler (builtin:<name> or a folder).")
        if self.output_rate_hz:
            check_int("output_rate_hz", self.output_rate_hz, 8000, 192000)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("steps", self.steps, 0, MAX_STEPS)
        check_range("crossfade_s", self.crossfade_s, 0.0, 0.5)
        if (self.start_s is None) != (self.end_s is None):
            raise ValueError("a range to upsample needs both `start_s` and `end_s`.")
        if self.start_s is not None:
            self._check_span("start_s", self.start_s, "end_s", self.end_s)
            if self.output_rate_hz and self.output_rate_hz != self.sample_rate_hz:
                raise ValueError(
                    f"an upsampled range keeps the clip's rate ({self.sample_rate_hz} Hz); leave `output_rate_hz` unset."
                )

    def recipe_params(self) -> dict[str, Any]:
        params = super().recipe_params()
        if self.start_s is None:  # a whole-clip recipe reads as before ranges existed
            for name in ("start_s", "end_s", "crossfade_s"):
                del params[name]
        return params

    def describe(self) -> str:
        return "Upsample range" if self.start_s is not None else "Upsample"


#: Clip audio on each side of a range that the upsampler sees with it (as an edit's new audio).
RANGE_CONTEXT_S = 0.25


def upsample_range(spec: UpsampleJob, upsampler: Any) -> Generator[Progress, None, tuple[np.ndarray, dict[str, Any]]]:
    """The clip with ``spec``'s range upsampled at the clip's rate and crossfaded in (see
    :class:`UpsampleJob`); the rest bit-identical. A silent or full-band range leaves the clip as
    it is (the facts say so)."""
    from engine.audio.splice import splice
    from engine.upsample.run import upsample_clip

    audio, rate = spec.audio, int(spec.sample_rate_hz)
    a = int(round(spec.start_s * rate))
    b = min(int(round(spec.end_s * rate)), audio.shape[1])
    reach = int(round(RANGE_CONTEXT_S * rate))
    lo, hi = max(a - reach, 0), min(b + reach, audio.shape[1])
    outcome = yield from upsample_clip(upsampler, audio[:, lo:hi], rate, output_rate_hz=rate, seed=spec.seed,
                                       steps=spec.steps)
    facts = {**outcome.facts, "range_samples": [a, b]}
    if outcome.note:
        facts["note"] = outcome.note
    if outcome.facts.get("passed_through"):
        return np.array(audio, dtype=np.float32), facts
    piece = np.zeros((audio.shape[0], b - a), dtype=np.float32)
    part, gain_db = below_ceiling(audio[:, a:b], outcome.audio[:, a - lo : b - lo])
    if gain_db:
        facts["gain_db"] = round(gain_db, 3)
    piece[:, : part.shape[1]] = part
    fade = min(int(round(spec.crossfade_s * rate)), (b - a) // 2)
    return splice(np.asarray(audio, dtype=np.float32), piece, a, b, fade, curve="linear"), facts


def upsample_result(spec: UpsampleJob, ctx: Any = None) -> Generator[Progress, None, TaskResult]:
    """Run ``spec``: the result with its recipe (the note, cutoffs and chunks in its facts)."""
    from engine.upsample.models import load_upsampler
    from engine.upsample.run import upsample_clip

    yield Progress(stage="load", message=f"Loading upsampler {spec.model}")
    upsampler = load_upsampler(spec.model, getattr(ctx, "store", None))
    if spec.start_s is not None:
        audio, facts = yield from upsample_range(spec, upsampler)
        recipe = spec.make_recipe(seed=spec.seed, model_id=spec.model, facts=facts)
        return TaskResult(recipe=recipe, audio=audio, sample_rate_hz=int(spec.sample_rate_hz))
    outcome = yield from upsample_clip(
        upsampler, spec.audio, spec.sample_rate_hz, output_rate_hz=spec.output_rate_hz or None,
        seed=spec.seed, steps=spec.steps,
    )
    facts = dict(outcome.facts)
    if outcome.note:
        facts["note"] = outcome.note
    audio = outcome.audio
    if not facts.get("passed_through"):
        audio, gain_db = below_ceiling(spec.audio, audio)
        if gain_db:
            facts["gain_db"] = round(gain_db, 3)
    recipe = spec.make_recipe(seed=spec.seed, model_id=spec.model, facts=facts)
    return TaskResult(recipe=recipe, audio=audio, sample_rate_hz=outcome.sample_rate_hz)


def below_ceiling(original: np.ndarray, upsampled: np.ndarray) -> tuple[np.ndarray, float]:
    """``upsampled`` lowered just enough that its true peak stays at or below the higher of the
    original's own true peak and -1 dBTP (never above 0 dBTP), and the gain applied (dB, <= 0).

    The restored band adds energy (white noise cut at 4 kHz gains the band up to 22 kHz): without
    this, a clip that peaked at -4 dBTP came out at +5 dBTP and clipped in a 16-bit file. The
    input's band is kept as it is whenever the result does not pass the ceiling."""
    from engine.audio.loudness import apply_gain, peak_guard_gain

    gain_db = peak_guard_gain(upsampled, original, most_dbtp=0.0)
    return (apply_gain(upsampled, gain_db), gain_db) if gain_db < 0 else (upsampled, 0.0)


def run(spec: UpsampleJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    result = yield from upsample_result(spec, ctx)
    return (result,)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_output_arguments

    parser.add_argument("input", help="audio file (WAV, FLAC, ...)")
    add_output_arguments(parser)
    parser.add_argument("--model", default=DEFAULT_UPSAMPLER,
                        help=f"upsampler: builtin:<name> or a folder made by train_upsampler (default {DEFAULT_UPSAMPLER})")
    parser.add_argument("--rate", type=int, default=0, help="output sample rate in Hz (default: the model's, 44100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling upsamplers (diffusion)")
    parser.add_argument("--steps", type=int, default=0, help="sampling steps of diffusion upsamplers (default: the model's)")
    parser.add_argument("--start", type=float, default=None,
                        help="with --end: upsample only this range (seconds), at the input's rate; the rest stays exact")
    parser.add_argument("--end", type=float, default=None, help="end of the range, seconds")


def spec_from_args(args: argparse.Namespace, cli: Any) -> UpsampleJob:
    from engine.cli.common import EXIT_USAGE, CliError
    from engine.upsample.models import UpsamplerError, upsampler_dir

    try:
        upsampler_dir(args.model, cli.store)
    except UpsamplerError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    audio, rate = cli.read_clip(args.input)
    cli.outputs()
    return cli.spec(UpsampleJob, audio=audio, sample_rate_hz=rate, model=args.model,
                    output_rate_hz=args.rate, seed=args.seed, steps=args.steps, start_s=args.start, end_s=args.end)


def write_results(results: Any, args: argparse.Namespace, cli: Any) -> None:
    from engine.cli.common import write_audio_results

    for result in results:
        note = result.recipe.facts.get("note")
        if note:
            print(f"note: {note}")
    write_audio_results(results, args, cli)


TASK = Task(
    name="upsample",
    spec=UpsampleJob,
    run=run,
    title="Upsample",
    summary="restore the missing top band of a band-limited clip (super-resolution)",
    needs=Needs(model=None, audio=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
    write_results=write_results,
)

