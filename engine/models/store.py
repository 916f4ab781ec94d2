"""Where models live: the Hugging Face hub cache (shared with other tools) and local folders.

The store finds models of several kinds (:data:`MODEL_KINDS`): ``"sd"``, a diffusers Stable
Diffusion pipeline (the default), and ``"vocoder"``, a vocoder model (``config.json`` plus its
weights at the top of the folder or repository; see :func:`plan_vocoder_files`). Each kind says
which files it needs; finding, downloading and listing are the same code for all of them.

:class:`ModelStore` turns a model reference (a hub repo id such as
``riffusion/riffusion-model-v1`` or a path to a diffusers folder) into a local folder that
:mod:`engine.models.loading` can load, downloading from the hub only when asked to.

Policies enforced here:

* Lookups never touch the network: a repo id is resolved from the local cache only.
  Downloads happen only with ``download=True`` and never in offline mode.
* Only the files a Stable Diffusion pipeline needs are fetched: ``model_index.json`` and the
  configs, tokenizer files and default-precision weights of ``unet``, ``vae``,
  ``text_encoder``, ``tokenizer`` and ``scheduler``. No safety checker, no fp16/EMA variants,
  no root-level single-file checkpoints.
* Weights are safetensors. Pickle weights (.bin/.ckpt/.pt/.pth) are used only with
  ``allow_pickle=True``; a model that has nothing else is refused before anything is downloaded.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from tqdm.std import tqdm as _base_tqdm

from engine.models.catalog import builtin_model_dir, portable_model_id
from engine.models.errors import (
    DownloadCancelledError,
    GatedModelError,
    ModelError,
    ModelNotDownloadedError,
    ModelNotFoundError,
    NotADiffusersModelError,
    OfflineModeError,
    PickleWeightsRefusedError,
)

#: Pipeline components we load, in model_index.json's names.
PIPELINE_COMPONENTS: tuple[str, ...] = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
#: Components that carry weights (the others are configs and vocabularies only).
WEIGHT_COMPONENTS: tuple[str, ...] = ("unet", "vae", "text_encoder")
SAFE_WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors",)
PICKLE_WEIGHT_SUFFIXES: tuple[str, ...] = (".bin", ".ckpt", ".pt", ".pth")
#: File stems of a component's default (non-variant) weights in diffusers and transformers.
_WEIGHT_STEMS: frozenset[str] = frozenset({"diffusion_pytorch_model", "model", "pytorch_model"})
_SHARD_SUFFIX = re.compile(r"-\d+-of-\d+$")
#: Small non-weight files kept from each component folder (configs, vocabularies, merges).
_CONFIG_SUFFIXES: tuple[str, ...] = (".json", ".txt", ".model")
_TRUE_STRINGS = frozenset({"1", "ON", "YES", "TRUE"})
#: Minimum seconds between two progress callbacks (the last one is always sent).
PROGRESS_INTERVAL_S = 0.1
#: Window over which the download rate is measured.
RATE_WINDOW_S = 5.0


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference resolved to a loadable folder on this machine.

    Attributes:
        model_id: the hub repo id, the absolute folder path of a local model, or ``builtin:<name>``
            for a model that ships with the app (however it was given).
        revision: the commit hash of the hub snapshot; None for a local folder.
        path: the folder holding model_index.json and the component subfolders.
        source: "hub" (from the Hugging Face cache) or "local" (a folder given by path).
    """

    model_id: str
    revision: str | None
    path: Path
    source: Literal["hub", "local"]


@dataclass(frozen=True)
class CachedModel:
    """One model repository in the hub cache.

    Attributes:
        model_id: the hub repo id.
        revisions: cached commit hashes, most recently modified first.
        refs: branch or tag names pointing at a cached revision (e.g. "main").
        size_bytes: bytes on disk for all revisions (blobs shared between revisions count once).
        last_modified: POSIX time (s) of the newest file.
        path: the repo's folder in the cache (``models--owner--name``).
        is_pipeline: True when a cached revision has model_index.json (a diffusers pipeline),
            False for other tools' models that share the cache.
    """

    model_id: str
    revisions: tuple[str, ...]
    refs: tuple[str, ...]
    size_bytes: int
    last_modified: float
    path: Path
    is_pipeline: bool


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report of a download.

    Attributes:
        bytes_done: bytes fetched so far in this download (resumed partial files included).
        bytes_total: bytes this download fetches in all (files already cached excluded); 0 if unknown.
        rate_bytes_per_s: recent download rate over the last few seconds.
        eta_s: estimated seconds left, None while the rate is unknown.
        filename: the file being fetched when the hub library reports one, else None
            (recent huggingface_hub versions report one aggregated stream of bytes).
        files_done: files finished so far.
        files_total: files this download fetches.
    """

    bytes_done: int
    bytes_total: int
    rate_bytes_per_s: float
    eta_s: float | None
    filename: str | None
    files_done: int = 0
    files_total: int = 0


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class FilePlan:
    """Which files of a pipeline (folder or repository listing) we would load.

    Attributes:
        files: relative posix paths to fetch or load (model_index.json, configs, weights).
        missing: human-readable descriptions of what a loadable pipeline lacks.
        pickle_only: pickle weight files of components that have no safetensors weights and
            that were not accepted (allow_pickle False).
    """

    files: tuple[str, ...]
    missing: tuple[str, ...] = ()
    pickle_only: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing and not self.pickle_only


def _weight_kind(filename: str) -> tuple[str | None, bool]:
    """Classify a file: ("safe" | "pickle" | None, is the default precision, not a variant like .fp16)."""
    name = PurePosixPath(filename).name
    if name.endswith(SAFE_WEIGHT_SUFFIXES):
        kind = "safe"
    elif name.endswith(PICKLE_WEIGHT_SUFFIXES):
        kind = "pickle"
    else:
        return None, False
    stem = _SHARD_SUFFIX.sub("", name.rsplit(".", 1)[0])
    return kind, stem in _WEIGHT_STEMS


def plan_pipeline_files(
    files: Iterable[str], *, allow_pickle: bool = False, components: tuple[str, ...] = PIPELINE_COMPONENTS
) -> FilePlan:
    """Choose, from a listing of relative posix paths, the files a Stable Diffusion pipeline loads.

    Per component: every config/vocabulary file (``*.json``, ``*.txt``, ``*.model``) directly in
    its folder and, for ``unet``/``vae``/``text_encoder``, the default-precision weights:
    safetensors when present, else pickle weights if ``allow_pickle``. Variants (``.fp16``,
    ``.ema``...) and files outside the component folders are never chosen.

    Returns:
        A :class:`FilePlan`; check ``plan.complete`` (nothing raised here).
    """
    listing = sorted({f.replace("\\", "/").lstrip("/") for f in files})
    chosen: list[str] = []
    missing: list[str] = []
    pickle_only: list[str] = []
    if "model_index.json" in listing:
        chosen.append("model_index.json")
    else:
        missing.append("model_index.json")
    for component in components:
        in_folder = [f for f in listing if f.startswith(component + "/") and f.count("/") == 1]
        configs = [f for f in in_folder if f.endswith(_CONFIG_SUFFIXES)]
        if not configs:
            missing.append(f"{component}/ (no config files)")
            continue
        chosen.extend(configs)
        if component not in WEIGHT_COMPONENTS:
            continue
        safe = [f for f in in_folder if _weight_kind(f) == ("safe", True)]
        pickle = [f for f in in_folder if _weight_kind(f) == ("pickle", True)]
        if safe:
            chosen.extend(safe)
        elif pickle and allow_pickle:
            chosen.extend(pickle)
        elif pickle:
            pickle_only.extend(pickle)
        else:
            variants = [PurePosixPath(f).name for f in in_folder if _weight_kind(f)[0] is not None]
            detail = f" (only variants: {', '.join(variants)})" if variants else ""
            missing.append(f"{component} weights{detail}")
    return FilePlan(files=tuple(chosen), missing=tuple(missing), pickle_only=tuple(pickle_only))


def plan_vocoder_files(files: Iterable[str], *, allow_pickle: bool = False) -> FilePlan:
    """Choose, from a listing of relative posix paths, the files a vocoder model loads.

    ``config.json`` and the generator's weights at the top level: every ``*.safetensors`` file
    when there is one; else the generator's pickle (``.pt``/``.pth``/``.bin``, never a
    discriminator's or optimizer's state), as NVIDIA's BigVGAN repositories publish it. Such a
    pickle is read only with torch's weights-only unpickler (no code runs) and converted to a
    safetensors copy on first load, so it is accepted without ``allow_pickle``.
    """
    del allow_pickle  # vocoder pickles are always read weights-only (see above)
    listing = sorted({f.replace("\\", "/").lstrip("/") for f in files})
    top = [f for f in listing if "/" not in f]
    chosen: list[str] = []
    missing: list[str] = []
    if "config.json" in top:
        chosen.append("config.json")
    else:
        missing.append("config.json")
    safe = [f for f in top if f.endswith(SAFE_WEIGHT_SUFFIXES)]
    pickle = [f for f in top if f.endswith(PICKLE_WEIGHT_SUFFIXES)
              and not any(word in f.lower() for word in ("discriminator", "optimizer", "optim"))]
    if safe:
        chosen.extend(safe)
    elif pickle:
        chosen.extend(pickle[:1] if len(pickle) == 1 else [f for f in pickle if "generator" in f.lower()][:1] or pickle[:1])
    else:
        missing.append("vocoder weights (*.safetensors or the generator's .pt)")
    return FilePlan(files=tuple(chosen), missing=tuple(missing))


def plan_upsampler_files(files: Iterable[str], *, allow_pickle: bool = False) -> FilePlan:
    """Choose, from a listing of relative posix paths, the files an upsampler loads:
    ``upsampler.json`` and ``model.safetensors`` at the top (engine.upsample.models; never a pickle)."""
    del allow_pickle  # upsamplers load safetensors only
    listing = {f.replace("\\", "/").lstrip("/") for f in files}
    wanted = ("upsampler.json", "model.safetensors")
    return FilePlan(files=tuple(f for f in wanted if f in listing), missing=tuple(f for f in wanted if f not in listing))


#: Model kinds the store finds: the files each needs, the file that marks one in the hub cache,
#: and what a complete one looks like (for messages).
MODEL_KINDS: dict[str, tuple[Callable[..., FilePlan], str, str]] = {
    "sd": (plan_pipeline_files, "model_index.json",
           "Expected model_index.json and the subfolders unet/, vae/, text_encoder/, tokenizer/ and scheduler/ "
           "with their configs and weights (as written by diffusers' save_pretrained)."),
    "vocoder": (plan_vocoder_files, "config.json",
                "Expected config.json and the generator's weights (*.safetensors, or the generator's .pt) "
                "at the top of the folder."),
    "upsampler": (plan_upsampler_files, "upsampler.json",
                  "Expected upsampler.json and model.safetensors at the top of the folder (as "
                  "engine.training.train_upsampler writes them)."),
}


def _kind(kind: str) -> tuple[Callable[..., FilePlan], str, str]:
    try:
        return MODEL_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; the store knows {', '.join(MODEL_KINDS)}.") from None


def _list_pipeline_folder(folder: Path) -> list[str]:
    """Relative posix paths of the files at the top of ``folder`` and one level below (no deeper walk)."""
    found: list[str] = []
    for entry in os.scandir(folder):
        if entry.is_file():
            found.append(entry.name)
        elif entry.is_dir() and not entry.name.startswith("."):
            found.extend(f"{entry.name}/{sub.name}" for sub in os.scandir(entry.path) if sub.is_file())
    return found


def check_weights(path: str | Path, allow_pickle: bool = False) -> tuple[str, ...]:
    """Check the weights of a diffusers pipeline folder against the safetensors-only policy.

    Args:
        path: the pipeline folder (with unet/, vae/, text_encoder/ subfolders).
        allow_pickle: accept .bin/.ckpt/.pt/.pth weights for components without safetensors.

    Returns:
        The relative paths of the weight files that would be loaded.

    Raises:
        PickleWeightsRefusedError: a component has only pickle weights and allow_pickle is False.
        NotADiffusersModelError: a weight component has no default-precision weights at all.
    """
    folder = Path(path).expanduser()
    plan = plan_pipeline_files(_list_pipeline_folder(folder), allow_pickle=allow_pickle, components=WEIGHT_COMPONENTS)
    if plan.pickle_only:
        raise PickleWeightsRefusedError(str(folder), plan.pickle_only)
    weights_missing = [m for m in plan.missing if m != "model_index.json"]
    if weights_missing:
        raise NotADiffusersModelError(f"Folder '{folder}' lacks {', '.join(weights_missing)}.")
    return tuple(f for f in plan.files if _weight_kind(f)[0] is not None)


def _describe_incomplete(label: str, plan: FilePlan, kind: str = "sd") -> str:
    what = "diffusers Stable Diffusion pipeline" if kind == "sd" else f"{kind} model"
    return f"'{label}' is not a complete {what}: missing {', '.join(plan.missing)}. {_kind(kind)[2]}"


def _validate_pipeline_folder(folder: Path, *, allow_pickle: bool, kind: str = "sd") -> None:
    """Raise NotADiffusersModelError / PickleWeightsRefusedError unless ``folder`` is a loadable model of ``kind``."""
    plan_files, marker, _ = _kind(kind)
    plan = plan_files(_list_pipeline_folder(folder), allow_pickle=allow_pickle)
    if plan.pickle_only:
        raise PickleWeightsRefusedError(str(folder), plan.pickle_only)
    if plan.missing:
        raise NotADiffusersModelError(f"Folder {_describe_incomplete(str(folder), plan, kind)}")
    try:
        json.loads((folder / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NotADiffusersModelError(f"'{folder / marker}' is not readable JSON: {error}") from error


def _env_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE_STRINGS


class _DownloadTracker:
    """Aggregates the progress bars huggingface_hub opens during one snapshot_download.

    Byte bars (unit "B") are summed, except the network "transfer" bar that recent versions keep
    beside the bytes-written bar (counting both would count every byte twice). Other bars count
    files. Every update checks the cancel event and raises DownloadCancelledError from inside the
    download thread, which stops it; callbacks are throttled to one per PROGRESS_INTERVAL_S.
    Thread-safe: downloads run in several threads.
    """

    def __init__(
        self,
        callback: ProgressCallback | None,
        cancel_event: threading.Event | None,
        *,
        planned_bytes: int = 0,
        planned_files: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.callback = callback
        self.cancel_event = cancel_event
        self.planned_bytes = planned_bytes
        self.planned_files = planned_files
        self._clock = clock
        self._lock = threading.Lock()
        self._bars: list[_ProgressBar] = []
        self._samples: deque[tuple[float, int]] = deque()
        self._last_emit_s = float("-inf")

    def tqdm_class(self) -> type[_ProgressBar]:
        """A tqdm subclass bound to this tracker, for snapshot_download(tqdm_class=...)."""
        return type("BoundProgressBar", (_ProgressBar,), {"tracker": self})

    def raise_if_cancelled(self) -> None:
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise DownloadCancelledError("Download cancelled.")

    def _register(self, bar: _ProgressBar) -> None:
        with self._lock:
            self._bars.append(bar)

    def snapshot(self) -> DownloadProgress:
        """The current totals as a DownloadProgress."""
        with self._lock:
            return self._snapshot_locked(self._clock())

    def _snapshot_locked(self, now_s: float) -> DownloadProgress:
        byte_bars = [b for b in self._bars if b.is_bytes and not b.is_transfer]
        file_bars = [b for b in self._bars if not b.is_bytes]
        bytes_done = int(sum(b.n for b in byte_bars))
        bytes_total = max(self.planned_bytes, int(sum(b.total or 0 for b in byte_bars)))
        files_done = int(sum(b.n for b in file_bars))
        files_total = max(self.planned_files, int(sum(b.total or 0 for b in file_bars)))
        samples = self._samples
        if not samples or samples[-1][1] != bytes_done:
            samples.append((now_s, bytes_done))
        while len(samples) > 2 and now_s - samples[0][0] > RATE_WINDOW_S:
            samples.popleft()
        elapsed_s = now_s - samples[0][0]
        rate = (bytes_done - samples[0][1]) / elapsed_s if elapsed_s > 0 else 0.0
        rate = max(rate, 0.0)
        eta_s = max(bytes_total - bytes_done, 0) / rate if rate > 0 and bytes_total else None
        current = [b for b in self._bars if b.is_bytes and not b.is_transfer and b.looks_like_file]
        filename = current[-1].desc if current else None
        return DownloadProgress(bytes_done, bytes_total, rate, eta_s, filename, files_done, files_total)

    def _on_update(self, *, force: bool = False) -> None:
        self.raise_if_cancelled()
        if self.callback is None:
            return
        with self._lock:
            now_s = self._clock()
            if not force and now_s - self._last_emit_s < PROGRESS_INTERVAL_S:
                return
            self._last_emit_s = now_s
            report = self._snapshot_locked(now_s)
        self.callback(report)

    def finish(self) -> None:
        """Send a last report (always, unthrottled)."""
        self._on_update(force=True)


class _ProgressBar(_base_tqdm):
    """A silent tqdm that feeds a _DownloadTracker (bound through a subclass's ``tracker``)."""

    tracker: _DownloadTracker

    def __init__(self, *args, **kwargs) -> None:
        kwargs.pop("name", None)  # huggingface_hub's own tqdm takes a name; plain tqdm does not
        kwargs["disable"] = True  # never draw
        self.desc_text = str(kwargs.get("desc") or (args[1] if len(args) > 1 else "") or "")
        self.is_bytes = kwargs.get("unit") == "B"
        # The network-bytes bar of recent huggingface_hub: its bytes are counted when written.
        # Decided at creation, because the hub renames bars when they finish.
        self.is_transfer = self.is_bytes and self.desc_text.lower().startswith("downloading bytes")
        super().__init__(*args, **kwargs)
        self.tracker._register(self)

    @property
    def looks_like_file(self) -> bool:
        """Per-file bars are described by the file name alone."""
        text = self.desc_text
        return bool(text) and " " not in text and ("." in text or "/" in text)

    @property
    def desc(self) -> str:  # tqdm keeps no desc when disabled
        return self.desc_text

    @desc.setter
    def desc(self, value: str) -> None:
        self.desc_text = str(value or "")

    def set_description(self, desc=None, refresh=True) -> None:
        self.desc_text = str(desc or "")

    def set_description_str(self, desc=None, refresh=True) -> None:
        self.desc_text = str(desc or "")

    def update(self, n: float | None = 1) -> bool:
        # A disabled tqdm does not count, so count here.
        self.n += n or 0
        self.tracker._on_update()
        return True


class ModelStore:
    """Finds, downloads, lists and deletes Stable Diffusion pipelines.

    Args:
        cache_dir: the Hugging Face hub cache folder; None means the standard one
            (``huggingface_hub.constants.HF_HUB_CACHE``), shared with other tools.
        offline: make no network call at all (also when HF_HUB_OFFLINE is not set).
            HF_HUB_OFFLINE=1 in the environment turns it on too.
        token: Hugging Face access token for gated or private repositories; None uses the
            token saved by ``hf auth login`` or HF_TOKEN, if any.
        allow_pickle: accept pickle weights (.bin/.ckpt/.pt/.pth) where a component has no
            safetensors. Off by default: pickle files can run code when loaded.
        endpoint: the hub endpoint (a mirror); None uses HF_ENDPOINT or huggingface.co.

    Not thread-safe for concurrent downloads of the same model; the engine uses it from its
    worker thread (``progress`` callbacks run on download threads).
    """

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        *,
        offline: bool = False,
        token: str | None = None,
        allow_pickle: bool = False,
        endpoint: str | None = None,
    ) -> None:
        from huggingface_hub import constants

        self.cache_dir = Path(cache_dir if cache_dir is not None else constants.HF_HUB_CACHE).expanduser()
        self.offline = bool(offline)
        self.token = token or None
        self.allow_pickle = bool(allow_pickle)
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return (
            f"ModelStore(cache_dir={str(self.cache_dir)!r}, offline={self.offline}, "
            f"allow_pickle={self.allow_pickle}, token={'set' if self.token else None})"
        )

    @property
    def is_offline(self) -> bool:
        """True when no network call may be made (our flag or HF_HUB_OFFLINE)."""
        return self.offline or _env_offline()

    def hub_reachable(self, timeout_s: float = 3.0) -> bool:
        """Whether the hub (or the mirror in ``endpoint`` / HF_ENDPOINT) answers right now.

        In offline mode this makes no network call and returns False. Otherwise one HEAD request
        to the endpoint (through the usual proxy variables): any HTTP answer counts as reachable;
        a refused connection, a failed name lookup or ``timeout_s`` seconds of silence do not.
        Blocking: call it off the GUI thread.
        """
        if self.is_offline:
            return False
        import urllib.error
        import urllib.request

        from huggingface_hub import constants

        url = (self.endpoint or constants.ENDPOINT).rstrip("/") + "/"
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "specdiff-studio"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s):
                return True
        except urllib.error.HTTPError:
            return True  # it answered (even a 4xx/5xx means the network path works)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    # ----------------------------------------------------------------------------- resolve

    def resolve(
        self,
        model: str | os.PathLike,
        revision: str | None = None,
        *,
        download: bool = False,
        progress: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
        kind: str = "sd",
    ) -> ResolvedModel:
        """Resolve a repo id or a local folder to a loadable pipeline folder (or a model of another ``kind``).

        A path to an existing folder (absolute, relative or starting with ~) is used as is, and
        ``builtin:<name>`` names a model that ships with the app (resources/models/<name>).
        Anything else is a hub repo id, looked up in the cache without network; when it is not
        there (or incomplete) and ``download`` is true, the needed files are downloaded.

        Args:
            model: hub repo id ("owner/name"), path of a diffusers pipeline folder or ``builtin:<name>``.
            revision: branch, tag or commit hash of a hub model (None: "main"). Not for folders.
            download: fetch a missing hub model (never in offline mode).
            progress: called with DownloadProgress during a download, from download threads.
            cancel_event: set it to stop a download; DownloadCancelledError is raised.
            kind: the kind of model (:data:`MODEL_KINDS`): which files it needs.

        Raises:
            ModelNotFoundError: no such folder; not a valid repo id; no such repo or revision.
            NotADiffusersModelError: the folder or repo is not a complete SD pipeline.
            PickleWeightsRefusedError: a component has only pickle weights and allow_pickle is off.
            ModelNotDownloadedError: not (completely) cached and download is false.
            OfflineModeError: download asked for in offline mode and the model is not cached.
            GatedModelError: the repo needs an access token.
            DownloadCancelledError: cancel_event was set during the download.
            ModelError: the hub could not be reached or the download failed.
        """
        folder = _as_local_folder(model)
        if folder is not None:
            if revision is not None:
                raise ModelNotFoundError(
                    f"A revision ('{revision}') was given for the local folder '{folder}'; revisions apply "
                    "only to hub repo ids. Leave the revision empty for a folder."
                )
            _validate_pipeline_folder(folder, allow_pickle=self.allow_pickle, kind=kind)
            # A shipped model is named portably (builtin:<name>), however it was given.
            return ResolvedModel(model_id=portable_model_id(str(folder)), revision=None, path=folder, source="local")

        repo_id = _validate_repo_id(os.fspath(model))
        cached, plan = self._find_cached(repo_id, revision, kind)
        if cached is not None:
            return cached
        if not download:
            if plan is not None and plan.pickle_only:
                raise PickleWeightsRefusedError(repo_id, plan.pickle_only)
            detail = f"The cached copy is incomplete (missing {', '.join(plan.missing)})." if plan else ""
            raise ModelNotDownloadedError(repo_id, detail, revision=revision)
        if self.is_offline:
            raise OfflineModeError(repo_id, revision=revision)
        return self._download(repo_id, revision, progress, cancel_event, kind)

    def is_downloaded(self, model_id: str, revision: str | None = None, *, kind: str = "sd") -> bool:
        """True when ``resolve(model_id, revision, kind=kind)`` succeeds without downloading (no network)."""
        try:
            self.resolve(model_id, revision, kind=kind)
        except ModelError:
            return False
        return True

    def _find_cached(
        self, repo_id: str, revision: str | None, kind: str = "sd"
    ) -> tuple[ResolvedModel | None, FilePlan | None]:
        """Look a repo up in the cache (files only). Returns (model, None) or (None, plan of what is there)."""
        from huggingface_hub import try_to_load_from_cache

        plan_files, marker, _ = _kind(kind)
        index = try_to_load_from_cache(repo_id, marker, cache_dir=self.cache_dir, revision=revision)
        if not isinstance(index, str):
            return None, None
        snapshot = Path(index).parent
        plan = plan_files(_list_pipeline_folder(snapshot), allow_pickle=self.allow_pickle)
        if not plan.complete:
            return None, plan
        return ResolvedModel(model_id=repo_id, revision=snapshot.name, path=snapshot, source="hub"), None

    # ----------------------------------------------------------------------------- download

    def _hub_api(self):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=self.token)

    def plan_download(
        self, repo_id: str, revision: str | None = None, kind: str = "sd"
    ) -> tuple[str, FilePlan, dict[str, int]]:
        """Ask the hub which files a download of ``repo_id`` would fetch (one network call).

        Returns:
            (commit hash, plan, file sizes in bytes by relative path).

        Raises:
            OfflineModeError in offline mode, PickleWeightsRefusedError, NotADiffusersModelError,
            and the hub errors listed in :meth:`resolve`.
        """
        if self.is_offline:
            raise OfflineModeError(repo_id, revision=revision)
        try:
            info = self._hub_api().model_info(repo_id, revision=revision, files_metadata=True)
        except Exception as error:  # noqa: BLE001 - mapped to a user-facing error
            raise _hub_error(repo_id, revision, error) from error
        sizes = {s.rfilename: int(s.size or 0) for s in (info.siblings or [])}
        plan = _kind(kind)[0](sizes, allow_pickle=self.allow_pickle)
        if plan.pickle_only:
            raise PickleWeightsRefusedError(repo_id, plan.pickle_only)
        if plan.missing:
            raise NotADiffusersModelError(f"Repository {_describe_incomplete(repo_id, plan, kind)}")
        return str(info.sha), plan, sizes

    def _download(
        self,
        repo_id: str,
        revision: str | None,
        progress: ProgressCallback | None,
        cancel_event: threading.Event | None,
        kind: str = "sd",
    ) -> ResolvedModel:
        from huggingface_hub import snapshot_download, try_to_load_from_cache

        commit, plan, sizes = self.plan_download(repo_id, revision, kind)
        to_fetch = [
            f
            for f in plan.files
            if not isinstance(try_to_load_from_cache(repo_id, f, cache_dir=self.cache_dir, revision=commit), str)
        ]
        tracker = _DownloadTracker(
            progress,
            cancel_event,
            planned_bytes=sum(sizes.get(f, 0) for f in to_fetch),
            planned_files=len(plan.files),
        )
        tracker.raise_if_cancelled()
        try:
            folder = snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=self.cache_dir,
                token=self.token,
                endpoint=self.endpoint,
                allow_patterns=list(plan.files),
                tqdm_class=tracker.tqdm_class(),
            )
        except DownloadCancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - mapped to a user-facing error
            raise _hub_error(repo_id, revision, error) from error
        # A cancel that arrived after the last byte still cancels the job; the files stay cached.
        tracker.raise_if_cancelled()
        tracker.finish()
        snapshot = Path(folder)
        done = _kind(kind)[0](_list_pipeline_folder(snapshot), allow_pickle=self.allow_pickle)
        if not done.complete:
            raise ModelNotDownloadedError(
                repo_id, f"The download finished incomplete (missing {', '.join(done.missing)}).", revision=revision
            )
        return ResolvedModel(model_id=repo_id, revision=snapshot.name, path=snapshot, source="hub")

    # ----------------------------------------------------------------------------- cache

    def _scan(self):
        from huggingface_hub import scan_cache_dir
        from huggingface_hub.errors import CacheNotFound

        try:
            return scan_cache_dir(self.cache_dir)
        except CacheNotFound:
            return None

    def list_cached(self) -> list[CachedModel]:
        """The model repositories in the hub cache (datasets and spaces left out), sorted by id."""
        info = self._scan()
        if info is None:
            return []
        found = []
        for repo in info.repos:
            if repo.repo_type != "model":
                continue
            revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
            found.append(
                CachedModel(
                    model_id=repo.repo_id,
                    revisions=tuple(r.commit_hash for r in revisions),
                    refs=tuple(sorted(ref for r in revisions for ref in r.refs)),
                    size_bytes=int(repo.size_on_disk),
                    last_modified=float(repo.last_modified),
                    path=Path(repo.repo_path),
                    is_pipeline=any(f.file_name == "model_index.json" and f.file_path.parent == r.snapshot_path
                                    for r in revisions for f in r.files),
                )
            )
        return sorted(found, key=lambda m: m.model_id.lower())

    def delete(self, model_id: str, revision: str | None = None) -> int:
        """Delete a cached model (all revisions) or one revision (commit hash or ref name).

        Returns:
            The bytes freed on disk.

        Raises:
            ModelNotFoundError: the model or revision is not in the cache.
        """
        info = self._scan()
        repo = None
        if info is not None:
            repo = next((r for r in info.repos if r.repo_type == "model" and r.repo_id == model_id), None)
        if repo is None:
            raise ModelNotFoundError(f"Model '{model_id}' is not in the cache at '{self.cache_dir}'; nothing to delete.")
        if revision is None:
            hashes = [r.commit_hash for r in repo.revisions]
        else:
            hashes = [r.commit_hash for r in repo.revisions if r.commit_hash == revision or revision in r.refs]
            if not hashes:
                known = ", ".join(sorted({r.commit_hash for r in repo.revisions} | {x for r in repo.revisions for x in r.refs}))
                raise ModelNotFoundError(
                    f"Revision '{revision}' of model '{model_id}' is not in the cache (cached: {known})."
                )
        strategy = info.delete_revisions(*hashes)
        strategy.execute()
        return int(strategy.expected_freed_size)


def _as_local_folder(model: str | os.PathLike) -> Path | None:
    """The absolute folder ``model`` names, None if it is a repo id; ModelNotFoundError for a missing path."""
    if not isinstance(model, (str, os.PathLike)):
        raise ModelNotFoundError(f"A model must be a repo id or a folder path, got {type(model).__name__}: {model!r}.")
    text = os.fspath(model)
    try:
        builtin = builtin_model_dir(text)
    except ValueError as error:
        raise ModelNotFoundError(str(error)) from None
    if builtin is not None:
        return builtin
    if not text.strip():
        raise ModelNotFoundError("No model given: expected a hub repo id ('owner/name') or a folder path.")
    candidate = Path(text).expanduser()
    if candidate.is_dir():
        return candidate.resolve()
    looks_like_path = (
        isinstance(model, os.PathLike)
        or candidate.is_absolute()
        or text.startswith(("~", "."))
        or "\\" in text
        or text.count("/") > 1
        or candidate.exists()
    )
    if looks_like_path:
        what = "is not a folder" if candidate.exists() else "does not exist"
        raise ModelNotFoundError(f"Model folder '{candidate}' {what}; expected a diffusers pipeline folder.")
    return None


def _validate_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ModelNotFoundError(
            f"'{repo_id}' is neither an existing folder nor a valid Hugging Face repo id "
            f"(expected 'owner/name', e.g. 'riffusion/riffusion-model-v1'): {error}"
        ) from error
    return repo_id


def _hub_error(repo_id: str, revision: str | None, error: Exception) -> ModelError:
    """Map a huggingface_hub / network exception to our user-facing errors."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(error, ModelError):
        return error
    if isinstance(error, GatedRepoError):
        return GatedModelError(repo_id)
    if isinstance(error, RevisionNotFoundError):
        return ModelNotFoundError(f"Model '{repo_id}' has no revision '{revision}' on the Hugging Face hub.")
    if isinstance(error, RepositoryNotFoundError):
        return ModelNotFoundError(
            f"Model '{repo_id}' was not found on the Hugging Face hub (check the spelling; a private repository "
            "also needs an access token under Settings > Hugging Face token)."
        )
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(error, HfHubHTTPError) and status in (401, 403):
        return GatedModelError(repo_id)
    if isinstance(error, (OfflineModeIsEnabled, LocalEntryNotFoundError)) and _env_offline():
        return OfflineModeError(repo_id, revision=revision)
    return ModelError(
        f"Could not download model '{repo_id}' from the Hugging Face hub: {type(error).__name__}: {error}. "
        "Check your internet connection and try again (partly downloaded files are kept and resumed)."
    )
