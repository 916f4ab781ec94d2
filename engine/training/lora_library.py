"""The user's LoRAs: files in the library folder and LoRAs in the Hugging Face hub cache.

    entries, problems = scan_library()            # library folder + hub cache, header reads only
    entry = read_lora_entry("zorblat.safetensors")
    entry.fits("builtin:starter")                 # False: trained for another base model

Torch-free: a ``.safetensors`` file starts with an 8-byte little-endian header length and a JSON
header (tensor names, dtypes, shapes, offsets and ``__metadata__``), so a LoRA is described from
that header alone (and, for a kohya file's ``.alpha``, one scalar read at its offset). Our own
LoRAs carry their training record in the metadata key ``specdiff_lora``
(:data:`engine.training.lora.METADATA_KEY`): base model, settings, dataset summary, trigger words.
LoRAs made by kohya's sd-scripts carry ``ss_*`` keys (``ss_network_dim``, ``ss_network_alpha``,
``ss_sd_model_name``), and ``modelspec.*`` keys; those are read too.

The library folder is ``<user data dir>/loras`` (:func:`library_dir`; ``$SPECDIFF_DATA_DIR``
overrides the data directory). Nothing here touches the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: The metadata key of our training record (the same as engine.training.lora.METADATA_KEY; kept
#: here as text so that this module imports no torch).
METADATA_KEY = "specdiff_lora"
DATA_DIR_ENV = "SPECDIFF_DATA_DIR"
#: A safetensors header larger than this is not a LoRA's (and not read).
MAX_HEADER_BYTES = 64 * 2**20
_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": None}
#: The down-projection of a LoRA pair in every layout: PEFT ``lora_A``, diffusers ``lora.down``,
#: kohya ``lora_down``.
_DOWN = re.compile(r"lora[._](A|down)\.")


class LoraLibraryError(ValueError):
    """A file cannot be read as a LoRA; the message is one line that says why."""


def user_data_dir() -> Path:
    """Where the app keeps the user's data: ``$SPECDIFF_DATA_DIR``, else the platform's place
    (``~/.local/share/specdiff-studio``, ``~/Library/Application Support/Specdiff Studio``,
    ``%APPDATA%/Specdiff Studio``)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Specdiff Studio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Specdiff Studio"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "specdiff-studio"


def library_dir() -> Path:
    """The folder the app keeps LoRAs in (trained ones land here)."""
    return user_data_dir() / "loras"


def default_hub_cache() -> Path:
    """The Hugging Face hub cache folder ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home).expanduser() / "hub"


# ---------------------------------------------------------------------------------------------
# Reading one file
# ---------------------------------------------------------------------------------------------


def read_header(path: str | Path) -> tuple[dict[str, Any], dict[str, str], int]:
    """``(tensors, metadata, data_start)`` of a .safetensors file: tensor name -> {dtype, shape,
    data_offsets}, the ``__metadata__`` strings, and where the tensor data starts.

    Raises LoraLibraryError for a file that is not safetensors.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise LoraLibraryError(f"'{path.name}' is not a .safetensors file (too short).")
            (size,) = struct.unpack("<Q", head)
            if size > MAX_HEADER_BYTES or size > path.stat().st_size - 8:
                raise LoraLibraryError(f"'{path.name}' is not a .safetensors file (bad header length).")
            raw = handle.read(size)
    except OSError as error:
        raise LoraLibraryError(f"Cannot read '{path}': {error.strerror or error}.") from error
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LoraLibraryError(f"'{path.name}' is not a .safetensors file (the header is not JSON).") from error
    if not isinstance(header, dict):
        raise LoraLibraryError(f"'{path.name}' is not a .safetensors file (the header is not a table).")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        metadata = {}
    return header, {str(k): str(v) for k, v in metadata.items()}, 8 + size


def _read_scalar(path: Path, info: dict[str, Any], data_start: int) -> float | None:
    """The value of a one-element tensor (a kohya ``.alpha``) without torch."""
    import numpy as np

    dtype = info.get("dtype")
    begin, end = info.get("data_offsets", (0, 0))
    try:
        with path.open("rb") as handle:
            handle.seek(data_start + int(begin))
            raw = handle.read(int(end) - int(begin))
    except OSError:
        return None
    if dtype == "BF16" and len(raw) == 2:
        return float(np.frombuffer(b"\x00\x00" + raw, "<f4")[0])
    code = _DTYPES.get(str(dtype))
    if code is None or len(raw) != np.dtype(code).itemsize:
        return None
    return float(np.frombuffer(raw, code)[0])


def is_lora_header(tensors: dict[str, Any]) -> bool:
    """True when the tensor names are a LoRA's (PEFT ``lora_A``, diffusers ``lora.down``, kohya ``lora_down``)."""
    return any(_DOWN.search(name) for name in tensors)


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN -> None


@dataclass(frozen=True)
class LoraEntry:
    """One LoRA the user can apply.

    ``ref`` is what goes into a job's ``loras`` (the file's path); ``base_model`` is the model it
    was trained on as recorded ('' when the file does not say); ``settings`` our training
    settings (empty for LoRAs made elsewhere).
    """

    ref: str
    path: str
    name: str
    source: str  # "library", "hub" or "file"
    base_model: str = ""
    base_model_title: str = ""
    trigger_words: tuple[str, ...] = ()
    rank: int | None = None
    alpha: float | None = None
    fmt: str = "unknown"  # "diffusers", "kohya" or "unknown"
    targets: tuple[str, ...] = ()  # "unet", "text_encoder"
    steps: int | None = None
    size_bytes: int = 0
    settings: dict[str, Any] = field(default_factory=dict, compare=False)
    dataset: dict[str, Any] = field(default_factory=dict, compare=False)
    trained_here: bool = False  # carries our training record (a new run can start from it)

    def fits(self, model: str) -> bool | None:
        """True when trained on ``model``, False when on another model, None when the file does
        not say (a LoRA made elsewhere without a base model in its metadata)."""
        if not self.base_model:
            return None
        return same_model(self.base_model, model)

    def warning(self, model: str) -> str:
        """A one-line warning when the LoRA was trained for another model than ``model``, else ''."""
        if self.fits(model) is False:
            title = self.base_model_title or self.base_model
            return f"'{self.name}' was trained for {title}, not this model: it may do nothing useful."
        return ""

    def describe(self) -> str:
        """One line: base model, trigger words, rank/alpha, steps and format."""
        parts = [f"for {self.base_model_title or self.base_model}" if self.base_model else "base model unknown"]
        if self.trigger_words:
            parts.append("trigger " + ", ".join(self.trigger_words))
        if self.rank is not None:
            parts.append(f"rank {self.rank}" + (f", alpha {self.alpha:g}" if self.alpha is not None else ""))
        if self.steps:
            parts.append(f"{self.steps} steps")
        if self.settings.get("learning_rate"):
            parts.append(f"lr {self.settings['learning_rate']:g}")
        parts.append(self.fmt if self.fmt != "unknown" else "format unknown")
        return "; ".join(parts)


def same_model(a: str, b: str) -> bool:
    """Whether two model names (repo id, folder, ``builtin:<name>``) name the same model."""
    from engine.models.catalog import portable_model_id

    def key(text: str) -> str:
        text = portable_model_id(str(text).strip())
        if text.startswith("builtin:") or not text:
            return text
        path = Path(text).expanduser()
        if path.exists():
            try:
                return str(path.resolve())
            except OSError:
                return text
        return text.lower().rstrip("/")

    return key(a) == key(b)


def read_lora_entry(path: str | Path, *, source: str = "file", ref: str | None = None) -> LoraEntry:
    """Describe the LoRA in ``path`` from its header. Raises LoraLibraryError for a file that is
    not safetensors or holds no LoRA weights."""
    path = Path(path).expanduser()
    tensors, metadata, data_start = read_header(path)
    if not is_lora_header(tensors):
        raise LoraLibraryError(f"'{path.name}' holds no LoRA weights (no lora_A/lora_down tensors).")
    record = _json(metadata.get(METADATA_KEY))
    record = record if isinstance(record, dict) else {}
    settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    dataset = record.get("dataset") if isinstance(record.get("dataset"), dict) else {}

    # Rank: the smaller side of the first down/A matrix.
    rank = None
    for name, info in sorted(tensors.items()):
        if _DOWN.search(name) and len(info.get("shape", ())) >= 2:
            rank = int(info["shape"][0])
            break
    alpha = _number(settings.get("alpha"))
    adapter = _json(metadata.get("lora_adapter_metadata"))
    if alpha is None and isinstance(adapter, dict):
        alpha = _number(adapter.get("unet.lora_alpha", adapter.get("lora_alpha")))
    if alpha is None:
        alpha = _number(metadata.get("ss_network_alpha"))
    if alpha is None:
        alpha_key = next((name for name in sorted(tensors) if name.endswith(".alpha")), None)
        if alpha_key is not None:
            alpha = _read_scalar(path, tensors[alpha_key], data_start)
    if rank is None:
        rank_value = _number(settings.get("rank") or metadata.get("ss_network_dim"))
        rank = int(rank_value) if rank_value else None

    names = list(tensors)
    if any(n.startswith("lora_unet_") or n.startswith("lora_te") for n in names):
        fmt = "kohya"
    elif any(n.startswith(("unet.", "text_encoder.")) for n in names):
        fmt = "diffusers"
    else:
        fmt = str(record.get("format") or "unknown")
    targets = tuple(t for t, prefixes in (("unet", ("unet.", "lora_unet_")), ("text_encoder", ("text_encoder.", "lora_te")))
                    if any(n.startswith(prefixes) for n in names))

    base = str(record.get("base_model") or metadata.get("ss_sd_model_name") or metadata.get("modelspec.architecture") or "")
    title = str(record.get("base_model_title") or "")
    triggers = record.get("trigger_words")
    if not isinstance(triggers, list):
        phrase = metadata.get("modelspec.trigger_phrase", "")
        triggers = [t.strip() for t in phrase.split(",") if t.strip()]
    steps = record.get("steps")
    if steps is None and metadata.get("ss_steps"):
        steps = _number(metadata["ss_steps"])
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    name = str(metadata.get("modelspec.title") or "") or path.stem
    return LoraEntry(
        ref=ref if ref is not None else str(path),
        path=str(path),
        name=name,
        source=source,
        base_model=base,
        base_model_title=title,
        trigger_words=tuple(str(t) for t in triggers if str(t).strip()),
        rank=rank,
        alpha=alpha,
        fmt=fmt,
        targets=targets,
        steps=int(steps) if isinstance(steps, (int, float)) else None,
        size_bytes=size,
        settings=dict(settings),
        dataset=dict(dataset),
        trained_here=bool(settings),
    )


# ---------------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------------


def scan_folder(folder: str | Path, *, source: str = "library") -> tuple[list[LoraEntry], list[tuple[str, str]]]:
    """Every LoRA ``.safetensors`` below ``folder`` (hidden folders and checkpoints skipped) and the
    files that could not be read, with the reason. A missing folder gives nothing."""
    folder = Path(folder).expanduser()
    entries: list[LoraEntry] = []
    problems: list[tuple[str, str]] = []
    if not folder.is_dir():
        return entries, problems
    for path in sorted(folder.rglob("*.safetensors")):
        rel = path.relative_to(folder).parts
        if any(part.startswith(".") or part.endswith((".checkpoints", ".training")) for part in rel):
            continue
        try:
            entries.append(read_lora_entry(path, source=source))
        except LoraLibraryError as error:
            problems.append((str(path), str(error)))
    return entries, problems


def _snapshot(repo: Path) -> Path | None:
    """The snapshot of a cached repo folder (``models--owner--name``) that ``refs/main`` names,
    else the newest; None when it has none."""
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    try:
        main = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        main = ""
    if main and re.fullmatch(r"[0-9a-fA-F]{7,64}", main) and (snapshots / main).is_dir():
        return snapshots / main
    revisions = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return revisions[-1] if revisions else None


def _card_facts(snapshot: Path) -> tuple[str, tuple[str, ...]]:
    """``(base_model, trigger words)`` from a hub repo's model card (README.md's YAML front matter:
    ``base_model:`` and ``instance_prompt:``, as diffusers' LoRA training scripts write them);
    ``("", ())`` when it does not say."""
    try:
        text = (snapshot / "README.md").read_text(encoding="utf-8", errors="replace")[:65536]
    except OSError:
        return "", ()
    if not text.startswith("---"):
        return "", ()
    header = text[3:].split("\n---", 1)[0]
    base, trigger = "", ()
    lines = header.splitlines()
    for i, line in enumerate(lines):
        key, _sep, value = line.partition(":")
        value = value.strip().strip("'\"")
        if key.strip() == "base_model":
            if not value and i + 1 < len(lines) and lines[i + 1].strip().startswith("- "):
                value = lines[i + 1].strip()[2:].strip().strip("'\"")
            base = value
        elif key.strip() == "instance_prompt" and value:
            trigger = (value,)
    return base, trigger


def _hub_repos(cache: Path) -> Iterable[tuple[str, Path]]:
    """``(repo id, snapshot)`` of the cached model repos that are not pipelines (no model_index.json)."""
    if not cache.is_dir():
        return
    for repo in sorted(cache.glob("models--*")):
        snapshot = _snapshot(repo)
        if snapshot is None or (snapshot / "model_index.json").exists():
            continue
        yield repo.name.removeprefix("models--").replace("--", "/"), snapshot


def scan_hub_cache(cache_dir: str | Path | None = None) -> tuple[list[LoraEntry], list[tuple[str, str]]]:
    """LoRAs in the hub cache: model repos whose snapshot (the one ``refs/main`` names) holds LoRA
    ``.safetensors`` files (pipelines, folders with ``model_index.json``, are skipped).

    Each entry's ``ref`` is portable, the repo id (``owner/name``; ``owner/name/FILE.safetensors``
    when the repo holds several LoRAs), which :func:`resolve_hub_lora` turns back into the cached
    file on any machine with the repo cached; ``path`` is the file in the snapshot. A base model or
    trigger word the file does not record is taken from the repo's model card."""
    cache = Path(cache_dir).expanduser() if cache_dir else default_hub_cache()
    entries: list[LoraEntry] = []
    problems: list[tuple[str, str]] = []
    for repo_id, snapshot in _hub_repos(cache):
        found: list[LoraEntry] = []
        for path in sorted(snapshot.rglob("*.safetensors")):
            try:
                found.append(read_lora_entry(path, source="hub"))
            except LoraLibraryError as error:
                if "holds no LoRA" not in str(error):
                    problems.append((f"{repo_id}/{path.relative_to(snapshot).as_posix()}", str(error)))
        many = len(found) > 1
        for entry in found:
            ref = f"{repo_id}/{Path(entry.path).relative_to(snapshot).as_posix()}" if many else repo_id
            entries.append(_hub_entry(entry, ref, snapshot))
    return entries, problems


def _hub_entry(entry: LoraEntry, ref: str, snapshot: Path) -> LoraEntry:
    """``entry`` (a file in a hub snapshot) named and applied by its hub ``ref``, with the base model
    and trigger word of the repo's model card where the file does not record them."""
    base, trigger = _card_facts(snapshot)
    return replace(entry, ref=ref, name=ref, source="hub", base_model=entry.base_model or base,
                   trigger_words=entry.trigger_words or trigger)


def describe_lora(ref: str, cache_dir: str | Path | None = None) -> LoraEntry:
    """The entry for a job's LoRA ``ref``: a file, or a hub LoRA (``owner/name[/FILE]``, read from
    the cache ``cache_dir``, its model card's base model included). Raises LoraLibraryError."""
    if not is_hub_ref(ref):
        return read_lora_entry(ref)
    path = resolve_hub_lora(ref, cache_dir)
    snapshot = next(p for p in path.parents if p.parent.name == "snapshots")
    return _hub_entry(read_lora_entry(path, source="hub"), ref, snapshot)


def is_hub_ref(ref: str) -> bool:
    """Whether ``ref`` is written as a hub LoRA (``owner/name`` or ``owner/name/FILE.safetensors``)
    rather than a path: relative, no leading ``.`` or ``~``, and not an existing file or folder."""
    text = str(ref)
    if not text or text.startswith((".", "~", "/", "\\")) or Path(text).is_absolute() or Path(text).exists():
        return False
    parts = text.split("/")
    return all(parts) and (len(parts) == 2 or (len(parts) > 2 and text.endswith(".safetensors")))


def resolve_hub_lora(ref: str, cache_dir: str | Path | None = None) -> Path:
    """The cached file of the hub LoRA ``ref`` (``owner/name`` or ``owner/name/FILE.safetensors``)
    in ``cache_dir`` (default: :func:`default_hub_cache`), without the network.

    Raises LoraLibraryError with one line: not cached, or a repo of several LoRAs named without
    the file."""
    cache = Path(cache_dir).expanduser() if cache_dir else default_hub_cache()
    owner, name, *rest = str(ref).split("/")
    repo = cache / f"models--{owner}--{name}"
    snapshot = _snapshot(repo) if repo.is_dir() else None
    if snapshot is None:
        raise LoraLibraryError(f"LoRA '{ref}' is neither a file nor a repo in the hub cache ({cache}): "
                               "download it first or give the file's path.")
    if rest:
        path = snapshot.joinpath(*rest)
        if not path.is_file():
            raise LoraLibraryError(f"The hub repo '{owner}/{name}' has no file '{'/'.join(rest)}' in the cache.")
        return path
    found = []
    for path in sorted(snapshot.rglob("*.safetensors")):
        try:
            read_lora_entry(path)
        except LoraLibraryError:
            continue
        found.append(path)
    if not found:
        raise LoraLibraryError(f"The cached hub repo '{ref}' holds no LoRA .safetensors file.")
    if len(found) > 1:
        names = ", ".join(p.relative_to(snapshot).as_posix() for p in found[:3])
        raise LoraLibraryError(f"The hub repo '{ref}' holds several LoRAs ({names}): name one, as "
                               f"'{ref}/{found[0].relative_to(snapshot).as_posix()}'.")
    return found[0]


def scan_library(folders: Iterable[str | Path] | None = None, cache_dir: str | Path | None = None,
                 *, hub: bool = True) -> tuple[list[LoraEntry], list[tuple[str, str]]]:
    """The library folder (or ``folders``) and, with ``hub``, the hub cache: ``(entries, problems)``,
    library entries first, each sorted by name. Reads headers only: call it off the GUI thread for
    a big cache all the same."""
    entries: list[LoraEntry] = []
    problems: list[tuple[str, str]] = []
    for folder in (folders if folders is not None else (library_dir(),)):
        found, bad = scan_folder(folder)
        entries.extend(sorted(found, key=lambda e: e.name.lower()))
        problems.extend(bad)
    if hub:
        found, bad = scan_hub_cache(cache_dir)
        entries.extend(sorted(found, key=lambda e: e.name.lower()))
        problems.extend(bad)
    return entries, problems


def add_to_library(path: str | Path, folder: str | Path | None = None) -> LoraEntry:
    """Copy a LoRA file into the library folder (a new name if one is taken) and describe it.

    Raises LoraLibraryError when the file is not a LoRA (nothing is copied then)."""
    source = Path(path).expanduser()
    read_lora_entry(source)  # check first
    target_dir = Path(folder).expanduser() if folder is not None else library_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.name
    if target.exists() and target.resolve() == source.resolve():
        return read_lora_entry(target, source="library")
    number = 2
    while target.exists():
        target = target_dir / f"{source.stem}-{number}{source.suffix}"
        number += 1
    shutil.copy2(source, target)
    return read_lora_entry(target, source="library")


def unique_output_path(name: str, folder: str | Path | None = None) -> Path:
    """A new ``<name>.safetensors`` path in the library folder (``name-2`` ... when taken)."""
    stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip() or "lora"
    target_dir = Path(folder).expanduser() if folder is not None else library_dir()
    target = target_dir / f"{stem}.safetensors"
    number = 2
    while target.exists() or (target_dir / f"{target.stem}.training").exists():
        target = target_dir / f"{stem}-{number}.safetensors"
        number += 1
    return target


# ---------------------------------------------------------------------------------------------
# What the wizard runs (imported lazily: these import torch when called, never at import)
# ---------------------------------------------------------------------------------------------


def clip(name: str, audio: Any, sample_rate_hz: int, caption: str = "") -> Any:
    """A sound given in memory (a clip or selection of the open project) for a dataset."""
    from engine.training.lora_data import Clip

    return Clip(name, audio, int(sample_rate_hz), caption)


#: Where a run keeps the in-memory clips it trains on, inside its run folder (``output_dir``).
CLIPS_FOLDER = "clips"


def save_clips(run_dir: str | Path, clips: Iterable[Any]) -> Path:
    """Keep a run's in-memory clips (clips or selections of a project) in ``run_dir/clips``: one
    ``.npy`` per clip (the samples exactly) and ``clips.json`` (name, file, rate, caption), written
    to a temporary folder first, so a run on project clips can resume after the app restarts
    (:func:`load_clips`). Returns the folder."""
    import numpy as np

    target = Path(run_dir) / CLIPS_FOLDER
    partial = target.with_name(CLIPS_FOLDER + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    manifest = []
    for index, item in enumerate(clips):
        name = f"{index:04d}.npy"
        np.save(partial / name, np.asarray(item.audio), allow_pickle=False)
        manifest.append({"name": str(item.name), "file": name, "sample_rate_hz": int(item.sample_rate_hz),
                         "caption": str(item.caption or "")})
    (partial / "clips.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def load_clips(run_dir: str | Path) -> tuple[Any, ...]:
    """The clips :func:`save_clips` kept in ``run_dir`` (bit for bit); LoraLibraryError saying why
    in one line when they are missing or damaged."""
    import numpy as np

    from engine.training.lora_data import Clip

    folder = Path(run_dir) / CLIPS_FOLDER
    try:
        manifest = json.loads((folder / "clips.json").read_text(encoding="utf-8"))
        return tuple(Clip(str(item["name"]), np.load(folder / Path(str(item["file"])).name, allow_pickle=False),
                          int(item["sample_rate_hz"]), str(item.get("caption", ""))) for item in manifest)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LoraLibraryError(f"The clips of the run in '{run_dir}' cannot be read: {error}".splitlines()[0]) from None


def preview_dataset(model: str, data_dir: str | None, clips: tuple[Any, ...] = (), *, trigger: str = "",
                    prefix: str = "", captions: dict[str, str] | None = None, validation_fraction: float = 0.1,
                    seed: int = 0, spectrogram_preset: str | None = None, duration_s: float | None = None,
                    height: int | None = None) -> tuple[Any, Any, Any]:
    """Read, caption and preprocess the dataset as training will: ``(dataset, train, validation)``
    (:class:`engine.training.lora_data.LoraDataset` s, the split training will use). Imports torch
    (the spectrogram): call it off the GUI thread. Raises LoraDataError with one line."""
    from engine.training.lora_data import build_dataset, split_dataset, target_for_model

    target = target_for_model(model, preset=spectrogram_preset, duration_s=duration_s, height=height)
    dataset = build_dataset(data_dir, target, clips=clips, trigger=trigger, prefix=prefix, captions=captions)
    train, validation = split_dataset(dataset, validation_fraction, seed)
    return dataset, train, validation


def trained_caption(caption: str, trigger: str = "", prefix: str = "") -> str:
    """The caption a sound is trained with: ``"<prefix> <trigger>, <caption>"`` (torch-free)."""
    from engine.training.lora_data import full_caption

    return full_caption(caption, trigger, prefix)


def presets() -> dict[str, dict[str, Any]]:
    """The training presets by memory (``cpu-starter``, ``gpu-6gb`` ... ``gpu-24gb``) as settings dicts."""
    from engine.training.lora_config import PRESETS

    return {name: config.to_json() for name, config in PRESETS.items()}


def rank_limit(model: str, *, train_text_encoder: bool = False, cache_dir: str | None = None) -> int:
    """The largest LoRA rank of any use on ``model`` (:func:`engine.training.lora.rank_limit`), 0
    when the model cannot be read (the dataset read or the run says why). Finds the model in the
    store and imports torch: call it off the GUI thread."""
    from engine.models.errors import ModelError
    from engine.models.store import ModelStore
    from engine.training.lora import rank_limit as limit

    try:
        return limit(model, train_text_encoder=train_text_encoder, store=ModelStore(cache_dir, offline=True))
    except (ModelError, OSError, ValueError):
        return 0


def machine_preset(device: str = "auto") -> str:
    """The preset for this machine and engine ``device`` ("auto", "cpu", "cuda..."): the CPU one
    without a CUDA GPU, else the largest GPU preset the card's memory fits. Imports torch: call it
    off the GUI thread."""
    from engine.training.lora_config import default_preset

    if device == "cpu":
        return default_preset(None)
    import torch

    if not torch.cuda.is_available():
        return default_preset(None)
    return default_preset(int(torch.cuda.get_device_properties(0).total_memory))


def train_lora_spec() -> type:
    """The train_lora task's spec class (:class:`engine.tasks.train_lora.TrainLoraJob`)."""
    from engine.api import task

    return task("train_lora").spec


__all__ = [
    "DATA_DIR_ENV", "LoraEntry", "LoraLibraryError", "METADATA_KEY", "add_to_library", "default_hub_cache",
    "describe_lora",
    "is_hub_ref", "is_lora_header", "library_dir", "read_header", "read_lora_entry", "resolve_hub_lora",
    "same_model", "scan_folder",
    "scan_hub_cache", "scan_library", "unique_output_path", "user_data_dir", "clip", "preview_dataset", "presets",
    "trained_caption",
    "train_lora_spec", "machine_preset", "save_clips", "load_clips", "CLIPS_FOLDER",
]
