"""The dataset of a LoRA run: a folder of sounds (and/or clips in memory) -> captioned spectrogram images.

    target = target_for_model("resources/models/starter")
    dataset = build_dataset("my_sounds/", target, trigger="zorblat")
    train, validation = split_dataset(dataset, validation_fraction=0.1, seed=0)

Captions, first match wins per file: ``metadata.jsonl`` or ``metadata.csv`` in the folder with
``file_name`` and ``text`` columns (the Hugging Face audiofolder convention), a ``NAME.txt`` beside
``NAME.wav`` (the kohya convention), else the file name ("dog_bark_02.wav" -> "dog bark 02").
Clips passed in memory carry their own caption. An optional ``prefix`` and ``trigger`` word go in
front of every caption ("<prefix> <trigger>, <caption>").

Preprocessing is seed 000's: resample to the model's spectrogram rate, mono, cut to the model's
clip length (trim or zero-pad the tail), peak-normalise, and encode with the model's spectrogram
preset (:func:`engine.audio.spectrogram.image_from_audio`). Silent and unreadable files are skipped
and listed with the reason; a dataset with nothing usable raises :class:`LoraDataError` with one
line that says why.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

#: File suffixes read as audio (whatever libsndfile reads).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus")
METADATA_FILES = ("metadata.jsonl", "metadata.csv")
#: A clip whose peak is below this (about -90 dBFS) is silent: it would train the model on noise floor.
SILENCE_PEAK = 3e-5


class LoraDataError(ValueError):
    """The dataset cannot be used; the message is one line that says why and what to do."""


@dataclass(frozen=True)
class SpectrogramTarget:
    """What the base model was trained on: the spectrogram parameters, image width and clip length.

    ``preset`` names the preset (recorded in the LoRA's metadata); ``params`` may differ from it
    in ``num_frequencies`` (the image height).
    """

    preset: str
    params: Any  # engine.audio.spectrogram.SpectrogramParams
    width: int

    @property
    def height(self) -> int:
        return int(self.params.num_frequencies)

    @property
    def duration_s(self) -> float:
        return self.width * self.params.hop_length / self.params.sample_rate

    @property
    def num_samples(self) -> int:
        return self.width * self.params.hop_length

    def to_json(self) -> dict[str, Any]:
        return {"preset": self.preset, "height": self.height, "width": self.width, "duration_s": self.duration_s}


def make_target(preset: str, duration_s: float, height: int | None = None) -> SpectrogramTarget:
    """A target from a preset name, a clip length and an optional image height (mel rows).

    Raises ValueError for an unknown preset or a size that is not a multiple of 8.
    """
    from engine.audio.spectrogram import get_preset, width_for_duration

    params = get_preset(preset)
    if height is not None and height != params.num_frequencies:
        params = replace(params, num_frequencies=int(height))
    width = int(width_for_duration(params, duration_s))
    if params.num_frequencies % 8 or width % 8:
        raise ValueError(f"the image must be a multiple of 8 pixels, got {params.num_frequencies}x{width}.")
    return SpectrogramTarget(preset=preset, params=params, width=width)


def target_for_model(model: str, *, preset: str | None = None, duration_s: float | None = None,
                     height: int | None = None) -> SpectrogramTarget:
    """The spectrogram target of ``model`` (folder or repo id) from its model card / hints.

    Explicit arguments win over the hints; a model with no hints needs ``preset`` and ``duration_s``.
    Raises LoraDataError when neither says which spectrogram the model was trained on.
    """
    from engine.models.catalog import model_hints

    hints = model_hints(model)
    preset = preset or (hints.spectrogram_preset if hints else None)
    duration_s = duration_s or (hints.duration_s if hints else None)
    if preset is None or duration_s is None:
        raise LoraDataError(
            f"Model '{model}' does not say which spectrogram it was trained on; pass a spectrogram preset "
            "and a clip length (--spectrogram-preset and --duration on the command line)."
        )
    return make_target(preset, float(duration_s), height)


@dataclass(frozen=True)
class Clip:
    """A sound given in memory (a clip or a selection of the open project)."""

    name: str
    audio: np.ndarray  # (channels, samples) or (samples,) float
    sample_rate_hz: int
    caption: str = ""


@dataclass(frozen=True, eq=False)
class Example:
    """One training example: ``image`` uint8 (H, W, 3), the Riffusion spectrogram image of ``audio``."""

    name: str
    caption: str
    image: np.ndarray
    audio: np.ndarray  # (1, samples) float32 at the target's sample rate, as preprocessed


@dataclass(frozen=True, eq=False)
class LoraDataset:
    """Examples in a stable order (by name) and the inputs that were skipped, with the reason."""

    examples: tuple[Example, ...]
    target: SpectrogramTarget
    skipped: tuple[tuple[str, str], ...] = ()
    trigger: str = ""
    prefix: str = ""
    source: str = ""
    #: Captions of metadata.csv / metadata.jsonl whose file_name is no file of the folder (a typo
    #: there silently gave those files their names as captions).
    unmatched_captions: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.examples)

    def describe(self) -> str:
        """One line: the sounds used, those skipped and why, and metadata captions that name no file."""
        text = f"{len(self)} sound{'' if len(self) == 1 else 's'}"
        if self.skipped:
            text += f", skipped {len(self.skipped)} (" + "; ".join(f"{name}: {why}" for name, why in self.skipped) + ")"
        if self.unmatched_captions:
            names = ", ".join(self.unmatched_captions[:3]) + (" ..." if len(self.unmatched_captions) > 3 else "")
            many = len(self.unmatched_captions) > 1
            text += (f"; the metadata names {len(self.unmatched_captions)} file{'s' if many else ''} not in the folder "
                     f"({names}): the sound{'s' if many else ''} meant got {'other captions' if many else 'another caption'}")
        return text

    @property
    def captions(self) -> list[str]:
        return [example.caption for example in self.examples]

    def summary(self) -> dict[str, Any]:
        """What goes in the LoRA's metadata: counts, trigger, captions (at most 50), skipped files."""
        return {
            "source": self.source,
            "num_examples": len(self.examples),
            "trigger": self.trigger,
            "prefix": self.prefix,
            "captions": sorted(set(self.captions))[:50],
            "skipped": [list(item) for item in self.skipped][:50],
            "spectrogram": self.target.to_json(),
        }

    def subset(self, indices: Iterable[int]) -> LoraDataset:
        return replace(self, examples=tuple(self.examples[i] for i in indices))


# ---------------------------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------------------------


def caption_from_name(name: str) -> str:
    """"dog_bark-02.wav" -> "dog bark 02"."""
    stem = Path(name).stem
    return re.sub(r"\s+", " ", re.sub(r"[_\-.]+", " ", stem)).strip()


def read_metadata_captions(folder: Path) -> dict[str, str]:
    """``file_name`` -> ``text`` from the folder's metadata.jsonl or metadata.csv (both if present).

    Raises LoraDataError for a metadata file that cannot be read or lacks the two columns.
    """
    captions: dict[str, str] = {}
    for name in METADATA_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8-sig")
            if name.endswith(".jsonl"):
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                rows = list(csv.DictReader(text.splitlines()))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
            raise LoraDataError(f"{path}: cannot read the captions: {error}".splitlines()[0]) from error
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or not isinstance(row.get("file_name"), str) or "text" not in row:
                raise LoraDataError(f"{path}: row {number} needs a 'file_name' and a 'text' column.")
            captions.setdefault(Path(row["file_name"]).as_posix(), str(row["text"] or "").strip())
    return captions


def full_caption(caption: str, trigger: str = "", prefix: str = "") -> str:
    """``"<prefix> <trigger>, <caption>"``, leaving out the empty parts."""
    head = " ".join(part for part in (prefix.strip(), trigger.strip()) if part)
    caption = caption.strip()
    if head and caption:
        return f"{head}, {caption}"
    return head or caption


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------


def preprocess(audio: np.ndarray, sample_rate_hz: int, target: SpectrogramTarget) -> np.ndarray:
    """Seed 000's preprocessing: resample, mono, trim/pad the tail to the clip length, peak 1.

    Returns (1, samples) float32; raises ``SilentClipError`` for a silent clip and the
    ``engine.audio.io`` errors for a bad array.
    """
    from engine.audio.io import fit_length, peak_normalize, resample, to_mono, validate_audio

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    validate_audio(audio, sample_rate_hz)
    out = to_mono(resample(audio, int(sample_rate_hz), int(target.params.sample_rate)))
    out = fit_length(out, target.num_samples)
    if not out.size or float(np.max(np.abs(out))) < SILENCE_PEAK:
        raise SilentClipError("silent (peak below -90 dBFS in the part the model sees)")
    return peak_normalize(out, 1.0)


class SilentClipError(ValueError):
    pass


def spectrogram_image(audio: np.ndarray, target: SpectrogramTarget) -> np.ndarray:
    """(1, samples) audio -> uint8 (H, W, 3) Riffusion spectrogram image at the target's size."""
    from engine.audio.spectrogram import image_from_audio

    image = np.asarray(image_from_audio(audio, target.params, width=target.width).convert("RGB"))
    return np.ascontiguousarray(image, dtype=np.uint8)


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def build_dataset(
    folder: str | Path | None,
    target: SpectrogramTarget,
    *,
    clips: Sequence[Clip] = (),
    trigger: str = "",
    prefix: str = "",
    captions: dict[str, str] | None = None,
) -> LoraDataset:
    """Read, caption and preprocess every sound in ``folder`` (recursively) and ``clips``.

    ``captions`` (file name relative to the folder, or clip name -> text) override every other
    source. Raises LoraDataError when the folder does not exist, holds no audio, or nothing
    usable is left (every file silent or unreadable: the message lists the first reasons).
    """
    from engine.audio.io import AudioFileError, read_audio

    if folder is None and not clips:
        raise LoraDataError("No sounds to train on: choose a folder of audio files or add clips.")
    typed = dict(captions or {})
    examples: list[Example] = []
    skipped: list[tuple[str, str]] = []
    source = ""
    if folder is not None:
        root = Path(folder).expanduser()
        source = str(root)
        if not root.is_dir():
            raise LoraDataError(f"The dataset folder '{root}' does not exist or is not a folder.")
        files = _audio_files(root)
        if not files and not clips:
            raise LoraDataError(
                f"The folder '{root}' holds no audio files ({', '.join(AUDIO_SUFFIXES)})."
            )
        metadata = read_metadata_captions(root)
        named = {p.relative_to(root).as_posix() for p in files} | {p.name for p in files}
        unmatched = tuple(sorted(name for name in metadata if name not in named))
        for path in files:
            rel = path.relative_to(root).as_posix()
            try:
                audio, rate = read_audio(path)
                processed = preprocess(audio, rate, target)
            except (AudioFileError, SilentClipError) as error:
                reason = str(error).removeprefix(f"{path}: ").removeprefix(f"{path}")
                skipped.append((rel, reason.strip(" :") or type(error).__name__))
                continue
            sidecar = path.with_suffix(".txt")
            if rel in typed:
                text = typed[rel]
            elif rel in metadata or path.name in metadata:
                text = metadata.get(rel, metadata.get(path.name, ""))
            elif sidecar.is_file():
                text = sidecar.read_text(encoding="utf-8", errors="replace").strip()
            else:
                text = caption_from_name(path.name)
            examples.append(Example(rel, full_caption(text, trigger, prefix), spectrogram_image(processed, target), processed))
    for clip in clips:
        try:
            processed = preprocess(clip.audio, clip.sample_rate_hz, target)
        except (AudioFileError, SilentClipError, ValueError) as error:
            skipped.append((clip.name, str(error).splitlines()[0]))
            continue
        text = typed.get(clip.name, clip.caption) or caption_from_name(clip.name)
        examples.append(Example(clip.name, full_caption(text, trigger, prefix), spectrogram_image(processed, target), processed))
    if not examples:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped[:3])
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        raise LoraDataError(f"No usable sounds: all {len(skipped)} were skipped ({reasons}{more}).")
    return LoraDataset(tuple(examples), target, tuple(skipped), trigger.strip(), prefix.strip(), source,
                       unmatched if folder is not None else ())


def split_dataset(dataset: LoraDataset, validation_fraction: float = 0.1, seed: int = 0) -> tuple[LoraDataset, LoraDataset]:
    """A seeded (train, validation) split; validation gets round(fraction * n) examples, at least one
    when fraction > 0 and there are two or more, and the training set always keeps one."""
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"`validation_fraction` must be in [0, 1), got {validation_fraction}.")
    n = len(dataset)
    n_val = 0 if validation_fraction == 0 or n < 2 else min(n - 1, max(1, int(math.floor(n * validation_fraction + 0.5))))
    order = np.random.default_rng(seed).permutation(n)
    val = sorted(order[:n_val].tolist())
    train = sorted(order[n_val:].tolist())
    return dataset.subset(train), dataset.subset(val)


__all__ = [
    "AUDIO_SUFFIXES", "Clip", "Example", "LoraDataError", "LoraDataset", "SpectrogramTarget", "build_dataset",
    "caption_from_name", "full_caption", "make_target", "preprocess", "read_metadata_captions", "split_dataset",
    "spectrogram_image", "target_for_model",
]
