"""Recipes: everything needed to make a result again, as one JSON object (torch-free).

A recipe is a header every task shares, the task's own parameters, fingerprints of its inputs
and facts about the run::

    {"format": 2, "task": "inpaint", "engine_version": "0.1.0",
     "model_id": "builtin:starter", "model_revision": null, "seed": 7, "loras": [["style.safetensors", 0.8]],
     "device": "cpu", "dtype": "float32", "vocoder": "griffin-lim",
     "params": {"prompt": "train horn", "num_inference_steps": 30, "start_s": 1.0, "end_s": 2.5, ...},
     "inputs": {"audio": {"sha256": "fe74...", "shape": [2, 132300], "sample_rate_hz": 44100,
                          "path": "/home/me/in.wav"}},
     "facts": {"spectrogram": {...}, "width": 64, "height": 512, "tiles": [[13, 64, 30, 60, 0, 0]]}}

* ``params`` are the task's spec fields (``JobSpec.recipe_params``), JSON values only: tuples
  become lists, painted masks are bit-packed (:func:`encode_mask`).
* ``inputs`` name what the task ran on without storing it: the input audio's sha256
  (:func:`audio_fingerprint`), shape and rate, and optionally a ``path`` where it was read from
  (a hint the CLI writes; regenerating checks the fingerprint, never trusts the path).
* ``facts`` are what the run decided or measured (image size, spectrogram parameters, tiles,
  offsets): shown to the user, never needed to regenerate.

Recipes written before the task registry (format 1: flat ``prompt``, ``guidance_scale``,
``width``, ``height``, ``spectrogram``, ``extra``; tasks named ``text_to_audio`` and
``variation``; the starter model as an absolute install path) are migrated when read
(:func:`migrate_v1`), so WAV files and ``.sdproj`` projects from then still load and regenerate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

#: The recipe layout this version writes; older layouts are migrated when read.
RECIPE_FORMAT = 2
#: The engine version recorded in every recipe.
ENGINE_VERSION = "0.1.0"
#: The vocoder every spectrogram task uses today (recorded in recipes as ``vocoder``).
GRIFFIN_LIM = "griffin-lim"


@dataclass(frozen=True)
class Recipe:
    """Everything needed to regenerate a result identically on the same device and dtype.

    Header (every task): ``task`` (the task's one name), ``model_id`` (a hub repo id, a local
    folder or a portable ``builtin:<name>`` id; None for tasks without a model) and
    ``model_revision``, ``seed`` (the seed this result used; None if the task draws none),
    ``loras`` as ``(path_or_id, weight)`` pairs, ``device`` and ``dtype`` it ran on,
    ``vocoder`` (what turned spectrograms into audio, None if nothing did) and
    ``engine_version``. The task's own part: ``params``, ``inputs`` and ``facts`` (see the module
    docstring), JSON-able only.
    """

    task: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    model_revision: str | None = None
    seed: int | None = None
    loras: tuple[tuple[str, float], ...] = ()
    device: str = "cpu"
    dtype: str = "float32"
    vocoder: str | None = None
    engine_version: str = ENGINE_VERSION
    format: int = RECIPE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["loras"] = [list(pair) for pair in self.loras]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Read a recipe of this or an older format (older ones are migrated; see :func:`migrate_v1`).

        Raises ValueError for a recipe from a newer version (a newer format or unknown fields)
        or one that is not a recipe at all.
        """
        if not isinstance(data, Mapping):
            raise ValueError("a recipe must be a JSON object.")
        data = dict(data)
        if "format" not in data:
            data = migrate_v1(data)
        if not isinstance(data.get("format"), int) or data["format"] > RECIPE_FORMAT:
            raise ValueError(
                f"this recipe has format {data.get('format')!r}; this version reads formats up to "
                f"{RECIPE_FORMAT}. It may be from a newer version."
            )
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown recipe fields {sorted(unknown)}; this recipe may be from a newer version.")
        if not isinstance(data.get("task"), str) or not data["task"]:
            raise ValueError("the recipe names no task.")
        for part in ("params", "inputs", "facts"):
            if not isinstance(data.get(part, {}), dict):
                raise ValueError(f"the recipe's `{part}` must be a JSON object.")
        for name, kinds in _HEADER_TYPES.items():
            if name in data and not isinstance(data[name], kinds):
                raise ValueError(f"the recipe's `{name}` must be {_HEADER_TYPE_NAMES[name]}, got {data.get(name)!r}.")
        from engine.tasks import canonical_name

        data["task"] = canonical_name(data["task"])
        data["loras"] = tuple((str(p), float(w)) for p, w in data.get("loras", ()))
        data["format"] = RECIPE_FORMAT
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the recipe is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def with_input_path(self, name: str, path: str) -> Recipe:
        """A copy whose input ``name`` records ``path`` as where it was read from (a hint only)."""
        if name not in self.inputs:
            raise ValueError(f"the {self.task} recipe has no input {name!r}; it has {sorted(self.inputs) or 'none'}.")
        inputs = {key: dict(value) for key, value in self.inputs.items()}
        inputs[name]["path"] = str(path)
        return replace(self, inputs=inputs)


#: Types of the header fields a recipe read from a file must have (missing ones take defaults).
_HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "model_id": (str, type(None)),
    "model_revision": (str, type(None)),
    "seed": (int, type(None)),
    "device": (str,),
    "dtype": (str,),
    "vocoder": (str, type(None)),
    "engine_version": (str,),
}
_HEADER_TYPE_NAMES = {"model_id": "a string or null", "model_revision": "a string or null",
                      "seed": "an integer or null", "device": "a string", "dtype": "a string",
                      "vocoder": "a string or null", "engine_version": "a string"}


# ---------------------------------------------------------------------------------------------
# JSON values of spec fields
# ---------------------------------------------------------------------------------------------


def encode_mask(binary: np.ndarray) -> dict[str, Any]:
    """A bool mask as JSON-able data for a recipe (bit-packed, zlib, base64)."""
    binary = np.asarray(binary, dtype=bool)
    packed = zlib.compress(np.packbits(binary, axis=None).tobytes(), 9)
    return {"shape": list(binary.shape), "bits": base64.b64encode(packed).decode("ascii")}


def decode_mask(data: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_mask`. Raises ValueError for malformed data."""
    try:
        shape = tuple(int(n) for n in data["shape"])
        bits = np.frombuffer(zlib.decompress(base64.b64decode(data["bits"])), dtype=np.uint8)
        return np.unpackbits(bits, count=int(np.prod(shape))).astype(bool).reshape(shape)
    except (KeyError, TypeError, ValueError, zlib.error) as error:
        raise ValueError(f"the recipe's mask cannot be decoded: {error}") from None


def to_json_value(value: Any) -> Any:
    """A spec field's value as recipe JSON: tuples become lists, arrays bit-packed masks (>= 0.5)."""
    if isinstance(value, tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return encode_mask(value >= 0.5)
    return value


def from_json_value(value: Any) -> Any:
    """Inverse of :func:`to_json_value`: lists become tuples, packed masks float32 arrays of 0/1."""
    if isinstance(value, list):
        return tuple(from_json_value(v) for v in value)
    if isinstance(value, dict) and "bits" in value:
        return decode_mask(value).astype(np.float32)
    return value


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def audio_fingerprint(audio: np.ndarray, sample_rate_hz: int) -> str:
    """SHA-256 of audio (shape, rate and float32 bytes): a recipe's check that it is regenerated
    from the same input."""
    audio = np.asarray(audio)
    digest = hashlib.sha256()
    digest.update(f"{audio.shape}|{sample_rate_hz}|".encode())
    digest.update(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
    return digest.hexdigest()


def audio_record(audio: np.ndarray, sample_rate_hz: int) -> dict[str, Any]:
    """What a recipe keeps of an input clip: its fingerprint, shape and rate (never the samples)."""
    return {
        "sha256": audio_fingerprint(audio, sample_rate_hz),
        "shape": [int(n) for n in np.shape(audio)],
        "sample_rate_hz": int(sample_rate_hz),
    }


def describe_audio_record(record: Mapping[str, Any]) -> str:
    """'2 ch, 1.000 s at 44100 Hz, sha256 fe7433e2d40a' (and where it was read from, if known)."""
    shape, rate = record.get("shape") or [0, 0], record.get("sample_rate_hz") or 0
    parts = []
    if len(shape) == 2 and rate:
        parts.append(f"{shape[0]} ch, {shape[1] / rate:.3f} s at {rate} Hz")
    if record.get("sha256"):
        parts.append(f"sha256 {str(record['sha256'])[:12]}")
    text = ", ".join(parts) or "unknown audio"
    return f"{text}; read from '{record['path']}'" if record.get("path") else text


#: The key under which the recipe JSON is stored in an audio file's metadata.
RECIPE_METADATA_KEY = "comment"
#: Where a recipe too long for the file's tag goes: ``OUT.wav.recipe.json`` beside ``OUT.wav``.
RECIPE_SIDECAR_SUFFIX = ".recipe.json"


def read_file_recipe(path: str | os.PathLike[str]) -> Recipe:
    """The recipe a file written by ``specdiff-cli`` (or exported by the app) carries: an audio
    file's comment tag, else ``PATH.recipe.json`` beside it (format-1 recipes are migrated); a PNG
    picture's ``specdiff-recipe`` text chunk.

    Raises ValueError if the file carries none or it is not a recipe.
    """
    from pathlib import Path

    from engine.audio.io import read_audio_metadata

    path = Path(path)
    if path.suffix.lower() == ".png":  # a picture (specdiff-cli illustrate): the recipe is in a text chunk
        from engine.pictures.png import read_png_recipe

        return read_png_recipe(path)
    text = read_audio_metadata(path).get(RECIPE_METADATA_KEY)
    if not text:
        sidecar = path.with_name(path.name + RECIPE_SIDECAR_SUFFIX)
        if not sidecar.is_file():
            raise ValueError(f"'{path}' carries no recipe in its {RECIPE_METADATA_KEY!r} metadata (and has no "
                             f"'{sidecar.name}' beside it).")
        text = sidecar.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return Recipe.from_json(text)  # its one-line error
    if isinstance(data, dict) and set(data) == {"recipe"}:  # one clip exported by the app
        data = data["recipe"]
    return Recipe.from_dict(data)


class InputMismatchError(ValueError):
    """A file is not the input a recipe was made from (its fingerprint differs)."""


def read_recorded_input(record: Mapping[str, Any], path: str | os.PathLike[str]) -> tuple[np.ndarray, int] | bytes:
    """A recipe's input as :meth:`engine.specs.JobSpec.from_recipe` takes it, read from ``path``:
    a file input's bytes (``record["kind"] == "file"``: a spectrogram PNG), or ``(audio, rate)``
    resampled to the recorded rate. One reader for every caller (``specdiff-cli regenerate``, the
    app resolving an imported clip's path hint).

    Raises:
        InputMismatchError: the file is not the recorded input (its fingerprint differs).
        OSError, ValueError (engine.audio.io's AudioFileError): it cannot be read.
    """
    from pathlib import Path

    path = Path(path)
    if record.get("kind") == "file":
        data = path.read_bytes()
        if record.get("sha256") and hashlib.sha256(data).hexdigest() != record["sha256"]:
            raise InputMismatchError(f"'{path}' is not the recorded file (its sha256 differs).")
        return data
    from engine.audio.io import read_audio, resample

    audio, rate = read_audio(path)
    wanted_rate = int(record.get("sample_rate_hz") or rate)
    if rate != wanted_rate:
        audio, rate = resample(audio, rate, wanted_rate), wanted_rate
    if record.get("sha256") and audio_fingerprint(audio, rate) != record["sha256"]:
        raise InputMismatchError(f"'{path}' is not the recorded audio (its fingerprint differs).")
    return audio, rate


def input_fingerprint(value: Any) -> str | None:
    """The fingerprint a recipe records for an input value: a file's bytes' sha256, a clip's
    :func:`audio_fingerprint`; None for anything else."""
    if isinstance(value, (bytes, bytearray)):
        return hashlib.sha256(value).hexdigest()
    try:
        audio, rate = value
    except (TypeError, ValueError):
        return None
    return audio_fingerprint(audio, int(rate)) if isinstance(audio, np.ndarray) else None


class MissingInputError(ValueError):
    """Regenerating a recipe needs an input (``name``) that was not given; ``record`` is what
    the recipe says about it (fingerprint, shape, rate, path hint)."""

    def __init__(self, task: str, name: str, record: Mapping[str, Any]) -> None:
        self.task, self.name, self.record = task, name, dict(record)
        super().__init__(
            f"regenerating this {task} needs its input {name} ({describe_audio_record(record)})."
        )


# ---------------------------------------------------------------------------------------------
# Format 1 (before the task registry)
# ---------------------------------------------------------------------------------------------

#: Keys of a format-1 ``extra`` that described the run, not the job.
_V1_FACTS = ("tiles", "offset_samples", "rotation_samples", "band_samples", "window_starts", "alphas", "level")
#: What a format-1 ``extra`` recorded that recipes no longer keep: how many variations the job made
#: and which one this was (the seed says it; a regenerated variation is the only one of its job).
_V1_DROPPED = ("num_variations", "variation_index")


def migrate_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A format-1 recipe (the flat layout) as a format-2 dict.

    The shared generation fields and ``extra``'s task settings become ``params`` (``height``
    None when it is the preset's; text-to-audio gains ``duration_s`` from its image width);
    ``input_sha256``/``input_shape``/``sample_rate_hz`` become ``inputs['audio']``; tiles, offsets
    and the image's size and spectrogram parameters become ``facts``; the starter model's install
    path becomes ``builtin:starter``. Task names stay as written (``Recipe.from_dict`` renames old
    ones through the task registry). Raises ValueError for data that is not a format-1 recipe.
    """
    from engine.audio.params import SpectrogramParams, duration_for_width, get_preset
    from engine.models.catalog import portable_model_id

    required = ("task", "model_id", "prompt", "seed", "num_inference_steps", "guidance_scale", "scheduler",
                "width", "height", "spectrogram")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"the recipe lacks the fields {missing}; it is not a Specdiff recipe.")
    known = set(required) | {"model_revision", "negative_prompt", "loras", "device", "dtype", "extra",
                             "engine_version"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown recipe fields {sorted(unknown)}; this recipe may be from a newer version.")
    extra = dict(data.get("extra") or {})
    params: dict[str, Any] = {
        "prompt": data["prompt"],
        "negative_prompt": data.get("negative_prompt", ""),
        "num_inference_steps": data["num_inference_steps"],
        "guidance_scale": data["guidance_scale"],
        "scheduler": data["scheduler"],
    }
    inputs: dict[str, dict[str, Any]] = {}
    if "input_sha256" in extra:
        inputs["audio"] = {
            "sha256": extra.pop("input_sha256"),
            "shape": extra.pop("input_shape", None),
            "sample_rate_hz": extra.pop("sample_rate_hz", None),
        }
    facts: dict[str, Any] = {"spectrogram": data["spectrogram"], "width": data["width"], "height": data["height"]}
    for key in _V1_FACTS:
        if key in extra:
            facts[key] = extra.pop(key)
    for key in _V1_DROPPED:
        extra.pop(key, None)
    params.update(extra)
    preset = params.get("spectrogram_preset")
    try:
        default_height = get_preset(preset).num_frequencies
    except ValueError:  # a preset this version lacks: keep the height as it was
        default_height = None
    params["height"] = None if data["height"] == default_height else data["height"]
    if data["task"] == "text_to_audio":  # format 1's name of generate (Recipe.from_dict renames it)
        params["duration_s"] = float(duration_for_width(SpectrogramParams.from_dict(data["spectrogram"]), data["width"]))
    return {
        "format": RECIPE_FORMAT,
        "task": data["task"],
        "engine_version": data.get("engine_version", ENGINE_VERSION),
        "model_id": portable_model_id(data["model_id"]),
        "model_revision": data.get("model_revision"),
        "seed": data["seed"],
        "loras": data.get("loras", ()),
        "device": data.get("device", "cpu"),
        "dtype": data.get("dtype", "float32"),
        "vocoder": GRIFFIN_LIM,
        "params": params,
        "inputs": inputs,
        "facts": facts,
    }
