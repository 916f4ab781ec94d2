"""Vocoders: what turns a spectrogram into audio, a kind of model (torch-free registry).

Every job that makes audio from a spectrogram names its vocoder (``GenerationJob.vocoder``,
``VocodeJob.vocoder``); the recipe records it in its header and regenerating uses it again. A
vocoder is named by

* a registry name (:data:`VOCODERS`): ``griffin-lim`` (the reference and the fallback: needs no
  weights) or a neural vocoder whose weights come from the Hugging Face hub (``bigvgan-v2``) or
  ship with the app;
* a folder holding a vocoder model (``config.json`` plus safetensors weights), given by path or as
  ``builtin:<name>`` for ``resources/models/<name>``. The model store finds it
  (``ModelStore.resolve(..., kind="vocoder")``) like any other model.

:func:`engine.vocoders.factory.make_vocoder` is the one factory that builds any of them (torch);
this module only names and describes them, so the GUI can list them without importing torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from engine.recipes import GRIFFIN_LIM

if TYPE_CHECKING:
    from engine.models.store import ModelStore

__all__ = [
    "DEFAULT_VOCODER",
    "GRIFFIN_LIM",
    "VOCODERS",
    "VocoderEntry",
    "check_vocoder_name",
    "find_vocoder",
    "vocoder_names",
    "vocoder_status",
]

#: What every job uses unless it names another vocoder (and what recipes written before recorded).
DEFAULT_VOCODER = GRIFFIN_LIM
#: The store's model kind of vocoder folders.
MODEL_KIND = "vocoder"


@dataclass(frozen=True)
class VocoderEntry:
    """A vocoder the app knows.

    Attributes:
        name: what jobs, recipes and ``--vocoder`` call it.
        title: a short human name for menus.
        description: one or two sentences.
        architecture: ``"griffin-lim"`` (phase reconstruction, no weights) or ``"bigvgan"``.
        source: where its weights come from: a hub repo id, ``builtin:<name>``, or None (no weights).
        license: the weights' (and code's) licence.
        approx_size_bytes: what the store downloads (0 for none).
        sample_rate_hz: the rate the model works at (None: any rate).
    """

    name: str
    title: str
    description: str
    architecture: Literal["griffin-lim", "bigvgan"]
    source: str | None
    license: str
    approx_size_bytes: int = 0
    sample_rate_hz: int | None = None


VOCODERS: tuple[VocoderEntry, ...] = (
    VocoderEntry(
        name=GRIFFIN_LIM,
        title="Griffin-Lim",
        description=(
            "Phase reconstruction from the magnitudes alone (PGHI start, fast Griffin-Lim): no weights, any "
            "spectrogram, the reference and the fallback. Its phase artefacts sound slightly metallic."
        ),
        architecture="griffin-lim",
        source=None,
        license="MIT (this app)",
    ),
    VocoderEntry(
        name="bigvgan-v2",
        title="BigVGAN-v2 44 kHz",
        description=(
            "NVIDIA's universal neural vocoder (44.1 kHz, 128 mel bands, hop 512), run on the Griffin-Lim audio "
            "re-analysed to its mel: cleaner transients and harmonics than Griffin-Lim alone; slow on a CPU."
        ),
        architecture="bigvgan",
        source="nvidia/bigvgan_v2_44khz_128band_512x",
        license="MIT",
        # bigvgan_generator.pt (122 M parameters, fp32) + config.json
        approx_size_bytes=489_000_000,
        sample_rate_hz=44100,
    ),
)


def vocoder_names() -> tuple[str, ...]:
    """The registry names, the default first."""
    return tuple(entry.name for entry in VOCODERS)


def find_vocoder(name: str) -> VocoderEntry | None:
    """The registry entry called ``name`` (case-insensitive), or None (a folder or unknown name)."""
    wanted = str(name).strip().lower()
    return next((entry for entry in VOCODERS if entry.name == wanted), None)


def _looks_like_folder(name: str) -> bool:
    return (
        name.startswith(("builtin:", "~", ".", "/"))
        or "/" in name
        or os.sep in name
        or (os.altsep is not None and os.altsep in name)
    )


def check_vocoder_name(name: object) -> None:
    """Raise ValueError (one line) unless ``name`` is a registry name or names a vocoder folder.

    Only the form is checked here (no file system access): a folder that does not exist is reported
    when the job runs (the store's ModelNotFoundError).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"`vocoder` must name a vocoder ({', '.join(vocoder_names())}) or a vocoder folder, got {name!r}.")
    if find_vocoder(name) is None and not _looks_like_folder(name):
        raise ValueError(
            f"unknown vocoder {name!r}; known: {', '.join(vocoder_names())} (or the path of a vocoder folder)."
        )


def vocoder_status(entry: VocoderEntry, store: ModelStore | None) -> str:
    """``"built in"`` (needs no download), ``"downloaded"`` or ``"downloadable"``; no network access."""
    if entry.source is None:
        return "built in"
    if entry.source.startswith("builtin:"):
        return "built in"
    if store is not None and store.is_downloaded(entry.source, kind=MODEL_KIND):
        return "downloaded"
    return "downloadable"
