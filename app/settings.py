"""Persistent application settings (QSettings), typed.

Values other than window geometry are stored as JSON text so they come back with their types on
every platform and format. Tests pass a temporary ``path``; the app uses the user's settings
(or ``$SPECDIFF_SETTINGS`` / ``--settings PATH``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from engine.api import EngineSettings

ORGANIZATION = "Specdiff"
APPLICATION = "Specdiff Studio"
MAX_RECENT_FILES = 10
SETTINGS_ENV = "SPECDIFF_SETTINGS"


class AppSettings:
    """Typed access to the app's QSettings; ``path`` given -> an INI file there."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        path = path or os.environ.get(SETTINGS_ENV) or None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
            )

    @property
    def path(self) -> str:
        return self.qsettings.fileName()

    # -- raw ---------------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.qsettings.value(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, json.dumps(value))

    def sync(self) -> None:
        self.qsettings.sync()

    # -- engine ------------------------------------------------------------------------------

    def engine_settings(self) -> EngineSettings:
        """The saved engine settings; unknown or invalid saved values fall back to defaults."""
        saved = self.get("engine/settings", {}) or {}
        names = {f.name for f in fields(EngineSettings)}
        values = {k: v for k, v in saved.items() if k in names and k != "token"}
        values["token"] = self.hf_token or None
        try:
            return EngineSettings(**values)
        except (TypeError, ValueError):
            return EngineSettings(token=self.hf_token or None)

    def set_engine_settings(self, settings: EngineSettings) -> None:
        data = asdict(settings)
        data.pop("token", None)  # kept apart, see hf_token
        self.set("engine/settings", data)

    @property
    def hf_token(self) -> str:
        """The Hugging Face token entered in the app ('' = use the hub's own login/HF_TOKEN)."""
        return str(self.get("engine/hf_token", "") or "")

    @hf_token.setter
    def hf_token(self, token: str) -> None:
        self.set("engine/hf_token", token.strip())

    # -- models ------------------------------------------------------------------------------

    @property
    def default_model(self) -> str:
        """The model the user made the default ('' = the engine's choice, see catalog.default_model)."""
        return str(self.get("models/default", "") or "")

    @default_model.setter
    def default_model(self, model_id: str) -> None:
        self.set("models/default", model_id)

    @property
    def local_model_folders(self) -> list[str]:
        return [str(p) for p in self.get("models/local_folders", []) or []]

    def add_local_model_folder(self, folder: str) -> None:
        folders = self.local_model_folders
        folder = str(Path(folder).expanduser().resolve())
        if folder not in folders:
            self.set("models/local_folders", folders + [folder])

    def remove_local_model_folder(self, folder: str) -> None:
        self.set("models/local_folders", [f for f in self.local_model_folders if f != folder])

    # -- generation defaults (Edit > Settings) -------------------------------------------------

    @property
    def default_vocoder(self) -> str:
        """The vocoder of jobs whose vocoder the user has not picked in the prompt panel."""
        from engine.api import DEFAULT_VOCODER, check_vocoder_name

        value = self.get("generation/default_vocoder", DEFAULT_VOCODER)
        try:
            check_vocoder_name(value)
        except (TypeError, ValueError):
            return DEFAULT_VOCODER
        return str(value)

    @default_vocoder.setter
    def default_vocoder(self, name: str) -> None:
        self.set("generation/default_vocoder", name)

    @property
    def full_band_default(self) -> bool:
        """Whether the upsampler a model's card recommends runs unless the user switches Full band off."""
        return bool(self.get("generation/full_band", True))

    @full_band_default.setter
    def full_band_default(self, on: bool) -> None:
        self.set("generation/full_band", bool(on))

    # -- audio and files -----------------------------------------------------------------------

    @property
    def audio_output_device(self) -> int | None:
        value = self.get("audio/output_device", None)
        return int(value) if isinstance(value, int) else None

    @audio_output_device.setter
    def audio_output_device(self, device_id: int | None) -> None:
        self.set("audio/output_device", device_id)

    @property
    def recent_files(self) -> list[str]:
        return [str(p) for p in self.get("files/recent", []) or []]

    def add_recent_file(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_files if p != path]
        self.set("files/recent", recent[:MAX_RECENT_FILES])

    def clear_recent_files(self) -> None:
        self.set("files/recent", [])

    @property
    def last_directory(self) -> str:
        return str(self.get("files/last_directory", "") or str(Path.home()))

    @last_directory.setter
    def last_directory(self, folder: str) -> None:
        self.set("files/last_directory", str(folder))

    # -- panels ------------------------------------------------------------------------------

    @property
    def prompt_state(self) -> dict[str, Any]:
        value = self.get("panels/prompt", {})
        return value if isinstance(value, dict) else {}

    @prompt_state.setter
    def prompt_state(self, state: dict[str, Any]) -> None:
        self.set("panels/prompt", state)

    @property
    def class_browser_state(self) -> dict[str, Any]:
        value = self.get("panels/class_browser", {})
        return value if isinstance(value, dict) else {}

    @class_browser_state.setter
    def class_browser_state(self, state: dict[str, Any]) -> None:
        self.set("panels/class_browser", state)

    # -- window ------------------------------------------------------------------------------

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """(geometry, dock/toolbar state) as saved by ``save_window_state``."""
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
