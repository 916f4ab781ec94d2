"""Known models the model manager offers, and the default model choice.

The catalog lists real Hugging Face repositories in diffusers layout. Sizes are what
:class:`engine.models.store.ModelStore` downloads: the fp32 unet, vae and text encoder in
safetensors plus configs (about 4.3 GB for an SD 1.x pipeline), not the whole repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from engine.models.store import ModelStore

#: The small shipped "starter" model (a diffusers folder trained by engine.training.train_starter).
STARTER_MODEL_DIR: Path = Path(__file__).resolve().parents[2] / "resources" / "models" / "starter"
#: Models that ship with the app live in resources/models/<name> and are named ``builtin:<name>``
#: in specs and recipes, so a recipe regenerates on another machine or from another install folder.
BUILTIN_PREFIX = "builtin:"
STARTER_MODEL_ID = BUILTIN_PREFIX + "starter"
_BUILTIN_MODELS_DIR = STARTER_MODEL_DIR.parent
#: Starter model 2 (General MIDI instruments, drums and effects as well as the first starter's
#: synthetic sounds; it follows freely phrased tone prompts): the default offline model.
STARTER2_MODEL_DIR: Path = _BUILTIN_MODELS_DIR / "starter2"
STARTER2_MODEL_ID = BUILTIN_PREFIX + "starter2"
#: A model folder's own description of itself (the starter model writes one): title,
#: description, spectrogram preset, native size and recommended sampling settings.
MODEL_CARD_FILE = "starter.json"

DEFAULT_GENERATE_MODEL = "riffusion/riffusion-model-v1"

# fp32 SD 1.x components in safetensors: unet 3.44 GB + text encoder 0.49 GB + vae 0.33 GB.
_SD1_PIPELINE_BYTES = 4_265_000_000


@dataclass(frozen=True)
class CatalogEntry:
    """A model the app knows.

    Attributes:
        model_id: Hugging Face repo id.
        title: short name for menus.
        description: one or two sentences for the model manager.
        tasks: engine tasks it suits ("generate", "vary", "inpaint", "extend", "illustrate").
        kind: "text2img" (4-channel UNet) or "inpaint" (9-channel UNet: latents, mask, masked image).
        approx_size_bytes: approximate download size of the files the store fetches.
        license: the repository's license id.
        notes: caveats shown next to the entry.
    """

    model_id: str
    title: str
    description: str
    tasks: tuple[str, ...]
    kind: Literal["text2img", "inpaint"]
    approx_size_bytes: int
    license: str
    notes: str = ""


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        model_id="riffusion/riffusion-model-v1",
        title="Riffusion v1",
        description=(
            "Stable Diffusion 1.5 fine-tuned on 512x512 mel spectrogram images of music, in the Riffusion "
            "format this app reads and writes. The default for text-to-audio."
        ),
        tasks=("generate", "vary", "inpaint", "extend"),
        kind="text2img",
        approx_size_bytes=_SD1_PIPELINE_BYTES,
        license="creativeml-openrail-m",
        notes="Trained on music clips about 5 s long; prompts name genres, instruments and moods.",
    ),
    CatalogEntry(
        model_id="stable-diffusion-v1-5/stable-diffusion-v1-5",
        title="Stable Diffusion 1.5",
        description=(
            "The general image model Riffusion was fine-tuned from. Knows no spectrograms, but its img2img "
            "and masked repainting work on them at low strength; it draws the zero-shot pictures of a clip "
            "(Picture from Audio: the clip's AudioSet tags as its prompt)."
        ),
        tasks=("vary", "inpaint", "extend", "illustrate"),
        kind="text2img",
        approx_size_bytes=_SD1_PIPELINE_BYTES,
        license="creativeml-openrail-m",
        notes="Text-to-audio from scratch gives images, not music: start from an existing clip.",
    ),
    CatalogEntry(
        model_id="stable-diffusion-v1-5/stable-diffusion-inpainting",
        title="Stable Diffusion 1.5 Inpainting",
        description=(
            "SD 1.5 with a 9-channel UNet trained to fill masked regions; repaints a selected time or "
            "frequency range so it blends with its surroundings."
        ),
        tasks=("inpaint", "extend"),
        kind="inpaint",
        approx_size_bytes=_SD1_PIPELINE_BYTES,
        license="creativeml-openrail-m",
        notes="Not trained on spectrograms; best for short repairs.",
    ),
    CatalogEntry(
        model_id="CompVis/stable-diffusion-v1-4",
        title="Stable Diffusion 1.4",
        description="The original CompVis Stable Diffusion release, a base for fine-tunes and LoRA training.",
        tasks=("vary", "inpaint", "extend", "illustrate"),
        kind="text2img",
        approx_size_bytes=_SD1_PIPELINE_BYTES,
        license="creativeml-openrail-m",
    ),
)


def _is_model_folder(folder: Path) -> bool:
    """A shipped model: a pipeline (model_index.json) or a model of another kind (config.json: a
    vocoder; upsampler.json: an upsampler; picture_model.json: a picture model)."""
    return any((folder / name).is_file()
               for name in ("model_index.json", "config.json", "upsampler.json", "picture_model.json"))


def shipped_model_ids() -> list[str]:
    """The ``builtin:<name>`` ids of the models that ship with this version, sorted."""
    return sorted(BUILTIN_PREFIX + p.name for p in _BUILTIN_MODELS_DIR.glob("*") if _is_model_folder(p))


def builtin_model_dir(model_id: str) -> Path | None:
    """The folder of a shipped model named ``builtin:<name>``, None for any other id.

    Raises ValueError for a ``builtin:`` id that names no shipped model.
    """
    text = str(model_id)
    if not text.startswith(BUILTIN_PREFIX):
        return None
    name = text[len(BUILTIN_PREFIX):]
    folder = _BUILTIN_MODELS_DIR / name
    if not name or "/" in name or "\\" in name or name.startswith(".") or not _is_model_folder(folder):
        shipped = ", ".join(shipped_model_ids()) or "none"
        raise ValueError(f"'{text}' is not a model that ships with this version; shipped: {shipped}.")
    return folder


def portable_model_id(model: str) -> str:
    """``builtin:<name>`` for the folder of a shipped model, else ``model`` unchanged.

    A shipped model's folder is recognised in this install and, for recipes written before
    recipes named models portably, in any install (a path ending in ``resources/models/<name>``
    where this version ships ``<name>``).
    """
    text = str(model)
    if text.startswith(BUILTIN_PREFIX) or not text.strip():
        return text
    path = Path(text).expanduser()
    parts = path.parts
    if len(parts) >= 3 and parts[-3:-1] == ("resources", "models") and _is_model_folder(_BUILTIN_MODELS_DIR / parts[-1]):
        return BUILTIN_PREFIX + parts[-1]
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL in the text
        return text
    if resolved.parent == _BUILTIN_MODELS_DIR.resolve() and _is_model_folder(resolved):
        return BUILTIN_PREFIX + resolved.name
    return text


def find_entry(model_id: str) -> CatalogEntry | None:
    """The catalog entry for ``model_id`` (exact repo id, case-insensitive), or None."""
    wanted = model_id.strip().lower()
    return next((entry for entry in CATALOG if entry.model_id.lower() == wanted), None)


def default_model(store: ModelStore) -> str:
    """The model to use when the user picked none, without network access.

    Returns the Riffusion repo id when it is downloaded, else the shipped starter model 2
    (:data:`STARTER2_MODEL_ID`: instruments, drums, effects and synthetic sounds) when it exists,
    else the first starter model (:data:`STARTER_MODEL_ID`: synthetic sounds only) when it
    exists, else the Riffusion repo id (which the caller then offers to download).
    """
    if store.is_downloaded(DEFAULT_GENERATE_MODEL):
        return DEFAULT_GENERATE_MODEL
    for folder, model_id in ((STARTER2_MODEL_DIR, STARTER2_MODEL_ID), (STARTER_MODEL_DIR, STARTER_MODEL_ID)):
        if (folder / "model_index.json").is_file():
            return model_id
    return DEFAULT_GENERATE_MODEL


@dataclass(frozen=True)
class ModelHints:
    """What the app should preset when a model is picked, and how to label it.

    ``None`` fields mean "no opinion, keep the user's value". ``starter`` marks the shipped
    synthetic-sounds model, which the UI labels as such and points to a real download.
    """

    title: str
    description: str = ""
    starter: bool = False
    spectrogram_preset: str | None = None
    duration_s: float | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    scheduler: str | None = None
    #: The upsampler its recommended pipeline runs after inversion (``builtin:upsampler``: the
    #: starter model's 4 kHz band made full-band), None for none.
    upsampler: str | None = None
    example_prompts: tuple[str, ...] = field(default=())
    #: What the model does well (the starter card's sound families), for labels.
    sound_families: tuple[str, ...] = field(default=())
    #: The AudioSet classes its card says it was trained on (``audioset_classes``, as written
    #: there; :func:`engine.audioset.model_classes` checks them), None when the card lists none.
    audioset_classes: tuple[str, ...] | None = None
    #: (task, warning) pairs: tasks the model does badly and what to say before running one.
    cautions: tuple[tuple[str, str], ...] = field(default=())


#: Riffusion's own inference defaults (riffusion 0.0.5 InferenceInput: 50 steps, guidance 7).
_RIFFUSION_HINTS = ModelHints(
    title="Riffusion v1",
    description="Music and sound from text, 5.12 s per 512-pixel image.",
    spectrogram_preset="riffusion",
    duration_s=5.12,
    num_inference_steps=50,
    guidance_scale=7.0,
    example_prompts=("jazzy rapping from paris", "church bells on sunday", "funky synth solo"),
)


def _number(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return kind(value)


def model_hints(model: str) -> ModelHints | None:
    """Hints for ``model`` (repo id or local folder), or None when nothing is known about it.

    A local folder's ``starter.json`` (written by the starter model's training script) wins;
    catalog repo ids have built-in hints. Never touches the network; a malformed card is
    ignored (returns None) rather than breaking model selection.
    """
    text = str(model).strip()
    if not text:
        return None
    try:
        folder = builtin_model_dir(text) or Path(text).expanduser()
    except ValueError:
        return None
    card_path = folder / MODEL_CARD_FILE
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(card, dict):
            return None
        recommended = card.get("recommended") if isinstance(card.get("recommended"), dict) else {}
        prompts = card.get("example_prompts")
        families, cautions = card.get("sound_families"), card.get("cautions")
        classes = card.get("audioset_classes")
        preset = card.get("spectrogram_preset")
        scheduler = recommended.get("scheduler")
        upsampler = recommended.get("upsampler")
        return ModelHints(
            title=str(card.get("title") or folder.name),
            description=str(card.get("description") or ""),
            starter=card.get("starter") is True,
            spectrogram_preset=preset if isinstance(preset, str) else None,
            duration_s=_number(card, "duration_s", float),
            num_inference_steps=_number(recommended, "num_inference_steps", int),
            guidance_scale=_number(recommended, "guidance_scale", float),
            scheduler=scheduler if isinstance(scheduler, str) else None,
            upsampler=upsampler if isinstance(upsampler, str) and upsampler.strip() else None,
            example_prompts=tuple(str(p) for p in prompts) if isinstance(prompts, list) else (),
            sound_families=tuple(str(f) for f in families) if isinstance(families, list) else (),
            audioset_classes=tuple(str(c) for c in classes if isinstance(c, str)) if isinstance(classes, list) else None,
            cautions=tuple((_task_name(str(k)), str(v)) for k, v in cautions.items()) if isinstance(cautions, dict) else (),
        )
    if text.lower() == DEFAULT_GENERATE_MODEL.lower():
        return _RIFFUSION_HINTS
    return None


def _task_name(name: str) -> str:
    """A task named in a model card, under its current name (cards written before the task
    registry may say ``text_to_audio`` or ``variation``; the registry knows those old names)."""
    from engine.tasks import canonical_name  # torch-free; imported late (task modules read this catalog)

    return canonical_name(name)


def is_starter_model(model: str) -> bool:
    """Whether ``model`` is the shipped starter model (or another folder whose card says so)."""
    hints = model_hints(model)
    return bool(hints and hints.starter)


#: What a task needs of a model, in the catalog's terms (Sound Classes prompts are generation).
_TASK_NEEDS = {"sound_classes": "generate", "continue": "extend", "loop": "inpaint", "interpolate": "generate"}
_TASK_LABELS = {"generate": "text-to-audio generation", "sound_classes": "AudioSet class prompts",
                "vary": "variations", "inpaint": "inpainting", "extend": "extending clips",
                "continue": "continuing clips", "loop": "making loops", "interpolate": "interpolating prompts",
                "illustrate": "pictures from audio"}


def task_caution(model: str, task: str) -> str | None:
    """What to tell the user before running ``task`` (an app task name: "generate",
    "sound_classes", "inpaint", "extend", "continue", "loop", "vary", "interpolate") with
    ``model``, when the model is known to do it badly; None when nothing is known against it.

    A model card's ``cautions`` say so explicitly; a starter model whose card lists no AudioSet
    classes (the first one: synthetic sounds only) warns about every AudioSet class prompt (one
    that lists them is judged class by class: :meth:`engine.audioset.ModelClasses.caution`); a
    catalog model warns about tasks it is not listed for."""
    hints = model_hints(model)
    if hints is not None:
        said = dict(hints.cautions)
        if task in said:
            return said[task]
        if hints.starter and task == "sound_classes" and hints.audioset_classes is None:
            families = ", ".join(f.replace("_", " ") for f in hints.sound_families) or "synthetic sounds"
            return (f"This model was trained only on synthetic sounds ({families}). AudioSet class "
                    "prompts such as 'Shout' or 'Dog' give a tone, noise or silence, not that sound. "
                    "Download a real model (Generate > Model Manager) for class prompts.")
    entry = find_entry(model)
    if entry is None:
        return None
    need = _TASK_NEEDS.get(task, task)
    if need in entry.tasks:
        return None
    label = _TASK_LABELS.get(task, task)
    return f"{entry.title} is not made for {label}." + (f" {entry.notes}" if entry.notes else "")
