"""Spectrogram parameters, presets and EXIF tags: how audio maps to a Riffusion-style image (torch-free).

The parameter set, the presets and Riffusion's EXIF tags live here, apart from the torch code that
computes spectrograms (:mod:`engine.audio.spectrogram`) and inverts them
(:mod:`engine.audio.inversion`), so that the GUI can read presets and image metadata without
importing torch, and the two torch modules depend on this one instead of on each other.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from engine.audio.io import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ

__all__ = [
    "INT16_SCALE",
    "DEFAULT_MAX_VALUE",
    "OUTPUT_PEAK",
    "ExifTag",
    "SpectrogramParamsError",
    "SpectrogramExifError",
    "SpectrogramParams",
    "PRESETS",
    "get_preset",
    "width_for_duration",
    "duration_for_width",
    "samples_for_width",
    "max_value_from_exif",
    "has_spectrogram_exif",
]

#: float audio * INT16_SCALE = the int16 sample values Riffusion computes on.
INT16_SCALE = 32768.0
#: Riffusion's ``max_value`` when an image carries no MAX_VALUE tag ("shouldn't matter":
#: decoded audio is peak-normalised).
DEFAULT_MAX_VALUE = 30e6
#: Peak level of audio decoded from an image.
OUTPUT_PEAK = 0.99
#: Sane ranges (issue 17: an image whose EXIF asked for n_fft 2**20 and a 1-sample hop took 8.7 GB).
_MAX_N_FFT = 1 << 16  # 1.5 s at 44.1 kHz; Riffusion uses 17640
_MAX_FRAMES_PER_WINDOW = 64  # window / hop; Riffusion 10, the starter 5
_MAX_NUM_FREQUENCIES = 2048
_POWER_RANGE = (0.01, 10.0)


class ExifTag(IntEnum):
    """Riffusion's custom EXIF tags (``SpectrogramParams.ExifTags``)."""

    SAMPLE_RATE = 11000
    STEREO = 11005
    STEP_SIZE_MS = 11010
    WINDOW_DURATION_MS = 11020
    PADDED_DURATION_MS = 11030
    NUM_FREQUENCIES = 11040
    MIN_FREQUENCY = 11050
    MAX_FREQUENCY = 11060
    POWER_FOR_IMAGE = 11070
    MAX_VALUE = 11080


class SpectrogramParamsError(ValueError):
    """A SpectrogramParams field (or a recipe dict) holds an unusable value; ``field`` names it."""

    field: str | None = None


class SpectrogramExifError(SpectrogramParamsError):
    """An image's EXIF lacks some of Riffusion's spectrogram tags or holds bad values."""


def _is_real(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class SpectrogramParams:
    """How audio maps to a spectrogram image and back; Riffusion's fields and defaults.

    Units: ``sample_rate`` Hz; ``*_ms`` milliseconds (``step_size_ms`` may be a
    float, e.g. 861/44.1 for a hop of exactly 861 samples); frequencies Hz.
    ``max_mel_iters`` is kept for Riffusion compatibility only (current
    torchaudio's InverseMelScale has no iterations; see engine.audio.inversion).
    Invalid values raise :class:`SpectrogramParamsError` naming the field.
    """

    stereo: bool = False
    sample_rate: int = 44100
    step_size_ms: float = 10
    window_duration_ms: float = 100
    padded_duration_ms: float = 400
    num_frequencies: int = 512
    min_frequency: float = 0
    max_frequency: float = 10000
    mel_scale_norm: str | None = None
    mel_scale_type: str = "htk"
    max_mel_iters: int = 200
    num_griffin_lim_iters: int = 32
    power_for_image: float = 0.25

    # Riffusion's nested enum name, for code ported from Riffusion.
    ExifTags = ExifTag

    @property
    def n_fft(self) -> int:
        """Samples per STFT frame including zero padding (Riffusion's formula)."""
        return int(self.padded_duration_ms / 1000.0 * self.sample_rate)

    @property
    def win_length(self) -> int:
        """Samples in the Hann window of each STFT frame."""
        return int(self.window_duration_ms / 1000.0 * self.sample_rate)

    @property
    def hop_length(self) -> int:
        """Samples between STFT frames = samples per image column."""
        return int(self.step_size_ms / 1000.0 * self.sample_rate)

    def __post_init__(self) -> None:
        def bad(field: str, expected: str) -> SpectrogramParamsError:
            error = SpectrogramParamsError(
                f"SpectrogramParams.{field} must be {expected}, got {getattr(self, field)!r}"
            )
            error.field = field
            return error

        if not isinstance(self.stereo, bool):
            raise bad("stereo", "True or False")
        if not _is_int(self.sample_rate) or not MIN_SAMPLE_RATE_HZ <= self.sample_rate <= MAX_SAMPLE_RATE_HZ:
            raise bad("sample_rate", f"an integer in {MIN_SAMPLE_RATE_HZ}..{MAX_SAMPLE_RATE_HZ} Hz")
        for field in ("step_size_ms", "window_duration_ms", "padded_duration_ms"):
            if not _is_real(getattr(self, field)) or getattr(self, field) <= 0:
                raise bad(field, "a finite number of milliseconds > 0")
        if self.hop_length < 1:
            raise bad("step_size_ms", f"at least one sample long at {self.sample_rate} Hz")
        if self.win_length < 2:
            raise bad("window_duration_ms", f"at least two samples long at {self.sample_rate} Hz")
        if self.hop_length > self.win_length:
            raise bad("step_size_ms", f"<= window_duration_ms ({self.window_duration_ms}) so frames overlap")
        if self.win_length > _MAX_FRAMES_PER_WINDOW * self.hop_length:
            raise bad(
                "step_size_ms",
                f">= window_duration_ms / {_MAX_FRAMES_PER_WINDOW} ({self.window_duration_ms / _MAX_FRAMES_PER_WINDOW:g} ms)",
            )
        if not self.win_length <= self.n_fft <= _MAX_N_FFT:
            raise bad(
                "padded_duration_ms",
                f">= window_duration_ms ({self.window_duration_ms}) and at most {_MAX_N_FFT} samples",
            )
        top = min(self.n_fft // 2 + 1, _MAX_NUM_FREQUENCIES)
        if not _is_int(self.num_frequencies) or not 1 <= self.num_frequencies <= top:
            raise bad("num_frequencies", f"an integer in 1..{top} (n_fft // 2 + 1, at most {_MAX_NUM_FREQUENCIES})")
        if not _is_real(self.min_frequency) or self.min_frequency < 0:
            raise bad("min_frequency", "a finite number of Hz >= 0")
        if not _is_real(self.max_frequency) or not self.min_frequency < self.max_frequency <= self.sample_rate / 2:
            raise bad(
                "max_frequency",
                f"a number of Hz above min_frequency ({self.min_frequency}) and at most "
                f"half the sample rate ({self.sample_rate / 2})",
            )
        if self.mel_scale_norm not in (None, "slaney"):
            raise bad("mel_scale_norm", "None or 'slaney'")
        if self.mel_scale_type not in ("htk", "slaney"):
            raise bad("mel_scale_type", "'htk' or 'slaney'")
        if not _is_int(self.max_mel_iters) or self.max_mel_iters < 0:
            raise bad("max_mel_iters", "an integer >= 0")
        if not _is_int(self.num_griffin_lim_iters) or self.num_griffin_lim_iters < 0:
            raise bad("num_griffin_lim_iters", "an integer >= 0")
        if not _is_real(self.power_for_image) or not _POWER_RANGE[0] <= self.power_for_image <= _POWER_RANGE[1]:
            raise bad("power_for_image", f"a number in {_POWER_RANGE[0]}..{_POWER_RANGE[1]}")

    # ----------------------------------------------------------------- serialisation

    def to_exif(self) -> dict[int, Any]:
        """Riffusion's EXIF tags for these params (MAX_VALUE is added per image)."""
        return {
            ExifTag.SAMPLE_RATE.value: self.sample_rate,
            ExifTag.STEREO.value: self.stereo,
            ExifTag.STEP_SIZE_MS.value: self.step_size_ms,
            ExifTag.WINDOW_DURATION_MS.value: self.window_duration_ms,
            ExifTag.PADDED_DURATION_MS.value: self.padded_duration_ms,
            ExifTag.NUM_FREQUENCIES.value: self.num_frequencies,
            ExifTag.MIN_FREQUENCY.value: self.min_frequency,
            ExifTag.MAX_FREQUENCY.value: self.max_frequency,
            ExifTag.POWER_FOR_IMAGE.value: float(self.power_for_image),
        }

    @classmethod
    def from_exif(cls, exif: Mapping[int, Any]) -> SpectrogramParams:
        """Params from an image's EXIF mapping (``image.getexif()``).

        All nine parameter tags (11000-11070) are required, as in Riffusion; fields
        Riffusion does not store (mel norm/type, iteration counts) take their defaults.

        Raises:
            SpectrogramExifError: tags missing (the message lists them) or unusable values.
        """
        required = [t for t in ExifTag if t is not ExifTag.MAX_VALUE]
        missing = [t.name for t in required if t.value not in exif]
        if missing:
            raise SpectrogramExifError(
                f"image EXIF lacks the spectrogram tag(s) {missing}; a Riffusion-style image "
                "carries all of tags 11000-11070 (or pass params explicitly)"
            )

        def number(tag: ExifTag) -> float | int:
            raw = exif[tag.value]
            try:
                value = float(raw)
            except (TypeError, ValueError) as exc:
                raise SpectrogramExifError(f"EXIF tag {tag.name} ({tag.value}) is not a number: {raw!r}") from exc
            return int(value) if value.is_integer() else value

        def integer(tag: ExifTag) -> int:
            value = number(tag)
            if not isinstance(value, int):
                raise SpectrogramExifError(f"EXIF tag {tag.name} ({tag.value}) must be an integer, got {value!r}")
            return value

        try:
            return cls(
                sample_rate=integer(ExifTag.SAMPLE_RATE),
                stereo=bool(exif[ExifTag.STEREO.value]),
                step_size_ms=number(ExifTag.STEP_SIZE_MS),
                window_duration_ms=number(ExifTag.WINDOW_DURATION_MS),
                padded_duration_ms=number(ExifTag.PADDED_DURATION_MS),
                num_frequencies=integer(ExifTag.NUM_FREQUENCIES),
                min_frequency=number(ExifTag.MIN_FREQUENCY),
                max_frequency=number(ExifTag.MAX_FREQUENCY),
                power_for_image=float(number(ExifTag.POWER_FOR_IMAGE)),
            )
        except SpectrogramExifError:
            raise
        except SpectrogramParamsError as exc:
            tag = _EXIF_TAG_OF_FIELD.get(exc.field or "")
            where = f"EXIF tag {tag.name} ({tag.value}) = {exif[tag.value]!r} is out of range: " if tag else ""
            raise SpectrogramExifError(f"image {where or 'EXIF holds unusable spectrogram params: '}{exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict (for generation recipes)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpectrogramParams:
        """Inverse of :meth:`to_dict`. Missing fields take their defaults.

        Raises:
            SpectrogramParamsError: unknown keys (listed) or invalid values.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise SpectrogramParamsError(f"unknown spectrogram parameter(s) {unknown}; known: {names}")
        return cls(**dict(data))


#: The EXIF tag that stores each SpectrogramParams field (for messages about bad images).
_EXIF_TAG_OF_FIELD = {
    "sample_rate": ExifTag.SAMPLE_RATE,
    "stereo": ExifTag.STEREO,
    "step_size_ms": ExifTag.STEP_SIZE_MS,
    "window_duration_ms": ExifTag.WINDOW_DURATION_MS,
    "padded_duration_ms": ExifTag.PADDED_DURATION_MS,
    "num_frequencies": ExifTag.NUM_FREQUENCIES,
    "min_frequency": ExifTag.MIN_FREQUENCY,
    "max_frequency": ExifTag.MAX_FREQUENCY,
    "power_for_image": ExifTag.POWER_FOR_IMAGE,
}

PRESETS: dict[str, SpectrogramParams] = {
    # Riffusion v1 checkpoints: 512 mels over 0-10 kHz, 10 ms columns (5.12 s per 512 px).
    "riffusion": SpectrogramParams(),
    # Same geometry over 10 Hz - 20 kHz (Riffusion's TODO for newer models).
    "riffusion-20k": SpectrogramParams(min_frequency=10, max_frequency=20000),
    # Seed 000: 10 s in 512 px at 44.1 kHz -> a hop of exactly 861 samples; 20 Hz - 20 kHz.
    "perkins-10s": SpectrogramParams(step_size_ms=861 / 44.1, min_frequency=20, max_frequency=20000),
    # The shipped starter model (resources/models/starter/spectrogram.json, written from this by
    # engine.training.train_starter): 22.05 kHz, 128 mels over 0-4 kHz, 20 ms columns (2.56 s per
    # 128 px); tests keep the two identical.
    "starter": SpectrogramParams(
        sample_rate=22050,
        step_size_ms=20,
        window_duration_ms=100,
        padded_duration_ms=200,
        num_frequencies=128,
        min_frequency=0,
        max_frequency=4000,
    ),
}
# Starter model 2 (resources/models/starter2/spectrogram.json, written from this by
# engine.training.train_starter2): the starter's with 160 mel rows instead of 128, so a row below
# ~200 Hz is narrower than a semitone (bench/bench_starter_spectrogram.py).
PRESETS["starter2"] = dataclasses.replace(PRESETS["starter"], num_frequencies=160)


def get_preset(name: str) -> SpectrogramParams:
    """Look up a preset in :data:`PRESETS`; ValueError listing the presets if unknown."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown spectrogram preset {name!r}; available: {sorted(PRESETS)}") from None


def _check_width(width: object, what: str) -> int:
    if not _is_int(width) or width < 1:
        raise ValueError(f"{what}: width must be a positive integer number of columns, got {width!r}")
    return int(width)


def width_for_duration(params: SpectrogramParams, duration_s: float) -> int:
    """Image width for ``duration_s`` seconds, rounded to the nearest multiple of 8 (at least 8)."""
    if not _is_real(duration_s) or duration_s <= 0:
        raise ValueError(f"width_for_duration: duration_s must be a finite number > 0, got {duration_s!r}")
    columns = duration_s * params.sample_rate / params.hop_length
    return max(8, int(math.floor(columns / 8 + 0.5)) * 8)


def duration_for_width(params: SpectrogramParams, width: int) -> float:
    """Seconds of audio an image ``width`` columns wide decodes to (``width * hop / sr``)."""
    return _check_width(width, "duration_for_width") * params.hop_length / params.sample_rate


def samples_for_width(params: SpectrogramParams, width: int) -> int:
    """Samples an image ``width`` columns wide decodes to (``width * hop_length``)."""
    return _check_width(width, "samples_for_width") * params.hop_length


def max_value_from_exif(exif: Mapping[int, Any]) -> float | None:
    """The MAX_VALUE tag (int16-scale mel maximum) of an image's EXIF, or None if absent."""
    raw = exif.get(ExifTag.MAX_VALUE.value)
    if raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise SpectrogramExifError(f"EXIF tag MAX_VALUE (11080) is not a number: {raw!r}") from exc
    if not math.isfinite(value) or value < 0:
        raise SpectrogramExifError(f"EXIF tag MAX_VALUE (11080) must be finite and >= 0, got {value}")
    return value


def has_spectrogram_exif(exif: Mapping[int, Any]) -> bool:
    return any(t.value in exif for t in ExifTag if t is not ExifTag.MAX_VALUE)
