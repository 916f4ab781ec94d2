"""Model storage (Hugging Face cache and local folders), the model catalog, and pipeline loading."""

from engine.models.catalog import (
    CATALOG,
    DEFAULT_TEXT_TO_AUDIO_MODEL,
    STARTER_MODEL_DIR,
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
from engine.models.loading import LoadedModel, LoadPolicy, PipelineCache, load_pipeline, resolve_device, resolve_dtype
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
    "DEFAULT_TEXT_TO_AUDIO_MODEL",
    "STARTER_MODEL_DIR",
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
