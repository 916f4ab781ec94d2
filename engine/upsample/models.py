"""Upsampler models on disk: a folder with ``upsampler.json`` (kind + config) and
``model.safetensors``, found by name.

    upsampler = load_upsampler("builtin:upsampler")      # the shipped offline model
    upsampler = load_upsampler("/path/to/my-upsampler")   # any folder train_upsampler wrote
    save_upsampler(folder, upsampler, training={...})

Upsamplers are a kind of model of the model store (``kind="upsampler"``: a hub repo holding
these two files resolves from the cache like any model): :data:`KINDS` maps a folder's ``kind``
to how it is built, so a new kind (the seed
004 diffusion upsampler, a hub port) is one entry. Weights are only ever read from safetensors
(no pickles). Loaded models are cached by folder and file times.

Hub super-resolution models (issue 14, decided in the README's "Why no hub super-resolution
model" note): AudioSR is not ported (its code is CC BY-NC-SA 4.0, its weights a 5.7 GB pickle,
its pins clash with our stack, 50 diffusion steps per chunk), nor FlashSR by Im & Nam (3.1 GB of
pickles, code without a stated licence). YatharthS/FlashSR (Apache-2.0, about 2 MB, a
BigVGAN-style speech generator, 16 kHz -> 48 kHz) is the ``"fasr"`` kind
(:mod:`engine.upsample.fasr`, converted once from its hub pickle); it expects an 8 kHz input band
where the starter model stops at 4 kHz, so the spectral model stays the default.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.models.catalog import BUILTIN_PREFIX

#: The folder file that says what an upsampler is.
CONFIG_FILE = "upsampler.json"
WEIGHTS_FILE = "model.safetensors"
#: Shipped upsamplers live in resources/models/<name> next to the shipped models.
_BUILTIN_DIR = Path(__file__).resolve().parents[2] / "resources" / "models"
#: The upsampler the starter model's card recommends: 4 kHz band -> 44.1 kHz full band.
DEFAULT_UPSAMPLER = "builtin:upsampler"
#: The model store's kind of upsampler folders (engine.models.store.MODEL_KINDS).
MODEL_KIND = "upsampler"
#: Spelled in a spec, a setting or on the command line: do not upsample.
NO_UPSAMPLER = "none"


class UpsamplerError(ValueError):
    """An upsampler that cannot be found or loaded (the message says which and why)."""


def _spectral(config: dict[str, Any]) -> Any:
    from engine.upsample.spectral import BandNet, SpectralConfig, SpectralUpsampler

    cfg = SpectralConfig.from_dict(config)
    return SpectralUpsampler(cfg, BandNet(cfg))


def _diffusion(config: dict[str, Any]) -> Any:
    from engine.upsample.diffusion import DiffusionConfig, DiffusionUpsampler

    return DiffusionUpsampler(DiffusionConfig.from_dict(config))


def _fasr(config: dict[str, Any]) -> Any:
    from engine.upsample.fasr import build

    return build(config)


#: kind -> build(config dict) -> an upsampler object whose ``.net`` gets the weights.
KINDS: dict[str, Callable[[dict[str, Any]], Any]] = {"spectral": _spectral, "diffusion": _diffusion, "fasr": _fasr}


def builtin_upsamplers() -> list[str]:
    """``builtin:<name>`` of every shipped upsampler."""
    return sorted(BUILTIN_PREFIX + p.parent.name for p in _BUILTIN_DIR.glob(f"*/{CONFIG_FILE}"))


def upsampler_dir(name: str, store: Any = None) -> Path:
    """The folder of upsampler ``name``: ``builtin:<name>``, a folder, or a hub repo id
    (``owner/name`` with upsampler.json + model.safetensors) found in the model store's cache
    (kind ``"upsampler"``, never downloaded here). UpsamplerError says what is wrong."""
    text = str(name).strip()
    if text.startswith(BUILTIN_PREFIX):
        short = text[len(BUILTIN_PREFIX):]
        folder = _BUILTIN_DIR / short
        if not short or "/" in short or short.startswith(".") or not (folder / CONFIG_FILE).is_file():
            raise UpsamplerError(
                f"'{text}' is not an upsampler that ships with this version; shipped: {', '.join(builtin_upsamplers()) or 'none'}."
            )
        return folder
    folder = Path(text).expanduser()
    if (folder / CONFIG_FILE).is_file():
        return folder
    if text.count("/") == 1 and not folder.exists() and not text.startswith((".", "~", "/")):
        from engine.models.errors import ModelError
        from engine.models.store import ModelStore

        try:
            return (store or ModelStore()).resolve(text, kind=MODEL_KIND).path
        except (ModelError, ValueError) as error:
            raise UpsamplerError(str(error).splitlines()[0]) from None
    raise UpsamplerError(f"'{text}' is not an upsampler folder (no {CONFIG_FILE} in it).")


def read_card(folder: Path) -> dict[str, Any]:
    try:
        card = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UpsamplerError(f"{folder / CONFIG_FILE} cannot be read: {error}".splitlines()[0]) from None
    if not isinstance(card, dict) or card.get("kind") not in KINDS or not isinstance(card.get("config"), dict):
        raise UpsamplerError(f"{folder / CONFIG_FILE}: expected {{'kind': one of {sorted(KINDS)}, 'config': {{...}}}}.")
    return card


_cache: dict[tuple[str, float, float], Any] = {}
_lock = threading.Lock()


def load_upsampler(name: str, store: Any = None) -> Any:
    """The upsampler named ``name`` (see :func:`upsampler_dir`) with its weights, ready to run (cached).

    Raises UpsamplerError for a missing folder, a bad config or weights that do not fit it.
    """
    folder = upsampler_dir(name, store).resolve()
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise UpsamplerError(f"{folder} has no {WEIGHTS_FILE}.")
    key = (str(folder), (folder / CONFIG_FILE).stat().st_mtime, weights.stat().st_mtime)
    with _lock:
        if key in _cache:
            return _cache[key]
    card = read_card(folder)
    from safetensors.torch import load_file

    try:
        upsampler = KINDS[card["kind"]](card["config"])
        state = load_file(str(weights))
        upsampler.net.load_state_dict(state)
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        raise UpsamplerError(f"upsampler {name}: {error}".splitlines()[0]) from None
    upsampler.net.eval()
    upsampler.name = str(name)
    upsampler.card = card
    with _lock:
        _cache.clear()
        _cache[key] = upsampler
    return upsampler


def save_upsampler(folder: str | Path, kind: str, config: dict[str, Any], net: Any, **extra: Any) -> Path:
    """Write ``net``'s weights (safetensors) and ``{"kind", "config", **extra}`` to ``folder``."""
    from safetensors.torch import save_file

    if kind not in KINDS:
        raise ValueError(f"unknown upsampler kind {kind!r}; known: {', '.join(sorted(KINDS))}.")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(out / WEIGHTS_FILE, 0o666 & ~umask)  # safetensors writes 0600; saved files keep the umask
    card = {"kind": kind, "config": config, **extra}
    (out / CONFIG_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return out
