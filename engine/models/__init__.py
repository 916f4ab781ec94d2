"""Model storage (Hugging Face cache and local folders), the model catalog, and pipeline loading."""

from engine.models.catalog import (
    CATALOG,
    DEFAULT_GENERATE_MODEL,
    STARTER_MODEL_DIR,
    STARTER_MODEL_ID,
    CatalogEntry,
    default_model,
    find_entry,
)
from engine.models.errors import (
    DeviceNotAvailableError,
    DownloadCancelledError,
    GatedModelError,
    LoadPolicyError,
    ModelError,
    ModelNotDownloadedError,
    ModelNotFoundError,
    NotADiffusersModelError,
    OfflineModeError,
    PickleWeightsRefusedError,
)
from engine.models.policy import LoadPolicy
from engine.models.store import (
    CachedModel,
    DownloadProgress,
    ModelStore,
    ResolvedModel,
    check_weights,
    plan_pipeline_files,
)

__all__ = [
    "CATALOG",
    "DEFAULT_GENERATE_MODEL",
    "STARTER_MODEL_DIR",
    "STARTER_MODEL_ID",
    "CachedModel",
    "CatalogEntry",
    "DeviceNotAvailableError",
    "DownloadCancelledError",
    "DownloadProgress",
    "GatedModelError",
    "LoadPolicy",
    "LoadPolicyError",
    "LoadedModel",
    "ModelError",
    "ModelNotDownloadedError",
    "ModelNotFoundError",
    "ModelStore",
    "NotADiffusersModelError",
    "OfflineModeError",
    "PickleWeightsRefusedError",
    "PipelineCache",
    "ResolvedModel",
    "check_weights",
    "default_model",
    "find_entry",
    "load_pipeline",
    "plan_pipeline_files",
    "resolve_device",
    "resolve_dtype",
]


_LOADING_NAMES = {"LoadedModel", "PipelineCache", "load_pipeline", "resolve_device", "resolve_dtype"}


def __getattr__(name: str):
    # engine.models.loading imports torch; load it only when one of its names is asked for, so the
    # GUI can use the store, catalog and policy without paying for torch on its thread.
    if name in _LOADING_NAMES:
        from engine.models import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'engine.models' has no attribute {name!r}")
