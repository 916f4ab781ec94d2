"""Errors raised while finding, downloading and loading models.

Every message is written for the user: it names the model (repo id or folder) and says what
to do next. All derive from :class:`ModelError`, so a caller can catch one type.
"""

from __future__ import annotations

PULL_HINT = "Download it in the model manager, or run `specdiff-cli models pull {model_id}`."


class ModelError(RuntimeError):
    """Base class for every model storage and loading error."""


class ModelNotDownloadedError(ModelError):
    """A hub model is not (completely) in the local cache and no download was allowed."""

    def __init__(self, model_id: str, detail: str = "", *, revision: str | None = None) -> None:
        self.model_id = model_id
        self.revision = revision
        at = f" (revision {revision})" if revision else ""
        text = f"Model '{model_id}'{at} is not downloaded."
        if detail:
            text += f" {detail}"
        super().__init__(f"{text} {PULL_HINT.format(model_id=model_id)}")


class OfflineModeError(ModelNotDownloadedError):
    """A download was asked for while offline mode is on (ours or HF_HUB_OFFLINE)."""

    def __init__(self, model_id: str, *, revision: str | None = None) -> None:
        super().__init__(
            model_id,
            "Offline mode is on, so it cannot be downloaded now: turn offline mode off in the settings "
            "(and unset HF_HUB_OFFLINE if it is set in your environment), then try again.",
            revision=revision,
        )


class ModelNotFoundError(ModelError):
    """No such hub repository or revision, or no such local folder."""


class GatedModelError(ModelError):
    """The repository needs an access token (gated or private)."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        super().__init__(
            f"Model '{model_id}' is gated or private: it needs a Hugging Face access token. "
            f"Accept its license at https://huggingface.co/{model_id} while logged in, create a read token at "
            "https://huggingface.co/settings/tokens, then enter it under Settings > Hugging Face token "
            "(or set the HF_TOKEN environment variable, or run `hf auth login`)."
        )


class PickleWeightsRefusedError(ModelError):
    """A component has only pickle weights (.bin/.ckpt/.pt/.pth), which can run arbitrary code."""

    def __init__(self, model: str, files: list[str] | tuple[str, ...]) -> None:
        self.model = model
        self.files = tuple(files)
        listed = ", ".join(self.files)
        super().__init__(
            f"Model '{model}' has only pickle weights ({listed}); loading pickle files can run arbitrary code, "
            "so they are refused. Use a copy of the model in safetensors format, or, if you trust its author, "
            "turn on 'Allow pickle weights' in the settings (allow_pickle=True)."
        )


class NotADiffusersModelError(ModelError):
    """A folder or repository is not a diffusers Stable Diffusion pipeline we can load."""


class DownloadCancelledError(ModelError):
    """The user cancelled a download. Files fetched so far stay in the cache and a later download resumes."""


class DeviceNotAvailableError(ModelError):
    """The requested device (cuda, mps) is not available on this machine."""


class LoadPolicyError(ModelError, ValueError):
    """A load policy value is invalid or cannot be honoured on the chosen device."""
