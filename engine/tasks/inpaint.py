"""inpaint: regenerate a region of a clip (a time band, optionally limited in frequency, boxes or a
painted mask) and splice the new audio in; everything outside stays exact.

    specdiff-cli inpaint IN.wav --start 1.0 --end 2.5 [--fmin 200 --fmax 2000] --prompt "train horn" -o OUT.wav

The pipeline is :mod:`engine.pipelines.inpaint`.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.specs import Box, Progress, RegionEditJob, TaskResult, check_optional_band
from engine.tasks import Needs, Task


@dataclass(frozen=True, eq=False, kw_only=True)
class InpaintJob(RegionEditJob):
    """Regenerate a region of a clip's spectrogram (issue 4, part 2).

    The region is exactly one of:

    * ``start_s``/``end_s`` (a time band), optionally limited to ``fmin_hz``..``fmax_hz``;
    * ``boxes``: rectangles ``(start_s, end_s, fmin_hz or None, fmax_hz or None)``, their union;
    * ``mask``: a painted mask ``(mel bins, columns)`` in [0, 1] (1 = regenerate, binarised at
      0.5), rows are mel bins with row 0 the lowest frequency, columns the clip's spectrogram
      columns (``samples // hop_length``, 10 ms each in the riffusion preset).
    """

    kind: ClassVar[str] = "inpaint"
    start_s: float | None = None
    end_s: float | None = None
    fmin_hz: float | None = None
    fmax_hz: float | None = None
    boxes: tuple[Box, ...] = ()
    mask: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        has_span = self.start_s is not None or self.end_s is not None
        given = [name for name, present in (("start_s/end_s", has_span), ("boxes", bool(self.boxes)),
                                            ("mask", self.mask is not None)) if present]
        if len(given) != 1:
            raise ValueError(
                "give exactly one region to inpaint: `start_s` and `end_s` (optionally `fmin_hz`/`fmax_hz`), "
                f"`boxes`, or a painted `mask`; got {', '.join(given) or 'none'}."
            )
        if has_span:
            if self.start_s is None or self.end_s is None:
                raise ValueError("a time band needs both `start_s` and `end_s`.")
            self._check_span("start_s", self.start_s, "end_s", self.end_s)
            check_optional_band(self, "fmin_hz", self.fmin_hz, self.fmax_hz)
        elif self.fmin_hz is not None or self.fmax_hz is not None:
            raise ValueError("`fmin_hz`/`fmax_hz` limit a `start_s`/`end_s` band; put limits into each box instead.")
        if self.boxes:
            boxes = []
            for i, box in enumerate(self.boxes):
                if len(box) != 4:
                    raise ValueError(f"boxes[{i}] must be (start_s, end_s, fmin_hz, fmax_hz), got {box!r}.")
                start, end, fmin, fmax = box
                self._check_span(f"boxes[{i}] start_s", start, f"boxes[{i}] end_s", end)
                check_optional_band(self, f"boxes[{i}] fmin_hz", fmin, fmax)
                boxes.append((float(start), float(end), None if fmin is None else float(fmin),
                              None if fmax is None else float(fmax)))
            object.__setattr__(self, "boxes", tuple(boxes))
        if self.mask is not None:
            mask = np.asarray(self.mask)
            if mask.ndim != 2 or mask.dtype.kind not in "fbu":
                raise ValueError(f"`mask` must be a 2-D array (mel bins, columns), got shape {mask.shape}.")
            mask = mask.astype(np.float32)
            if not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
                raise ValueError("`mask` values must be finite and in [0, 1] (1 = regenerate).")
            mask.flags.writeable = False
            object.__setattr__(self, "mask", mask)

    def describe(self) -> str:
        return f"Inpaint: {self.prompt[:40]}" if self.prompt else "Inpaint"


def run(spec: InpaintJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    from engine.pipelines.inpaint import run as inpaint

    return (yield from inpaint(spec, ctx))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_generation_arguments

    parser.add_argument("input")
    parser.add_argument("--start", type=float, required=True, help="seconds")
    parser.add_argument("--end", type=float, required=True, help="seconds")
    parser.add_argument("--fmin", type=float, default=None, help="lowest frequency to regenerate, Hz")
    parser.add_argument("--fmax", type=float, default=None, help="highest frequency to regenerate, Hz")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--strength", type=float, default=1.0, help="(0, 1], default 1 (from noise)")
    parser.add_argument("--feather", type=int, default=4, help="mask feather, pixels (default 4)")
    parser.add_argument("--crossfade", type=float, default=0.02, help="crossfade at the span's edges, s")
    add_generation_arguments(parser)


def spec_from_args(args: argparse.Namespace, cli: Any) -> InpaintJob:
    from engine.cli.common import generation_kwargs

    cli.outputs()
    audio, rate = cli.read_clip(args.input)
    return cli.spec(InpaintJob, audio=audio, sample_rate_hz=rate, start_s=args.start, end_s=args.end,
                    fmin_hz=args.fmin, fmax_hz=args.fmax, prompt=args.prompt, strength=args.strength,
                    feather_px=args.feather, crossfade_s=args.crossfade,
                    **generation_kwargs(args, cli))


TASK = Task(
    name="inpaint",
    spec=InpaintJob,
    run=run,
    title="Inpaint",
    summary="regenerate a time (and frequency) region",
    needs=Needs(model="sd", audio=True, region=True, prompt=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
