"""The main window and the engine: the model list, the hub check, engine settings, unloading,
the model manager, the LoRA wizard and the settings dialog, the audio output device. A mixin of
:class:`app.main_window.MainWindow`."""

from __future__ import annotations

from typing import Any

from app.engine_client import ModelListing
from engine.api import EngineSettings


class EngineMixin:
    """Models and engine settings of the main window."""

    def refresh_models(self) -> None:
        """List models off the GUI thread; the prompt panel and model manager update after."""
        self.client.request_models(self.settings.local_model_folders)

    def _on_client_models_listed(self, listing: ModelListing) -> None:
        self.model_listing = listing
        self.prompt_panel.set_models(listing, self.settings.default_model)

    def check_hub(self) -> None:
        """Show whether the model hub can be reached (checked off the GUI thread, every
        HUB_CHECK_INTERVAL_MS; in offline mode nothing is checked and no call is made)."""
        from app.widgets.qt_status import HUB_OFFLINE_MODE, HUB_REACHABLE, HUB_UNREACHABLE

        try:
            store = self.client.store
        except RuntimeError:  # the engine has been shut down (the window is closing)
            self.hub_timer.stop()
            return
        if store.is_offline:
            self.hub_timer.stop()
            self.status.set_hub_state(HUB_OFFLINE_MODE)
            return
        self.hub_timer.start()
        if self._hub_check_running:
            return
        self._hub_check_running = True
        endpoint = store.endpoint or "the Hugging Face hub"

        def done(reachable: bool) -> None:
            self._hub_check_running = False
            if not store.is_offline and store is self.client.store:
                self.status.set_hub_state(HUB_REACHABLE if reachable else HUB_UNREACHABLE, endpoint)
            self.hub_checked.emit(bool(reachable))

        def failed(exc: BaseException) -> None:
            done(False)

        self.client.run_in_thread("hub-check", store.hub_reachable, done, failed, essential=False)

    def _on_client_engine_restarted(self, settings: EngineSettings) -> None:
        self.status.set_engine_settings(settings)
        self.prompt_panel.lora_picker.cache_dir = settings.cache_dir
        self.check_hub()
        self.show_message("Engine settings applied.")
        self.refresh_models()

    def _on_client_task_failed(self, what: str, message: str) -> None:
        self.show_message(f"{what}: {message}")

    def apply_engine_settings(self, settings: EngineSettings) -> None:
        """Save new engine settings and restart the engine (now, or when the jobs end)."""
        self.settings.set_engine_settings(settings)
        if settings == self.client.settings:
            return
        if not self.client.restart(settings):
            self.show_message("The new engine settings apply when the running jobs finish.")

    def unload_models(self) -> None:
        from engine.api import UnloadModelsJob

        handle = self.client.submit(UnloadModelsJob())
        # Said when done (it gave no sign at all: nothing loaded, or memory freed, looked the same).
        handle.finished.connect(lambda *_: self.show_message("Models unloaded: their memory is free again."))

    def open_model_manager(self, *_: Any, select: str = "") -> None:
        """Show the model manager (one per window), with model ``select`` selected if given."""
        from app.dialogs.model_manager import ModelManagerDialog

        dialog = getattr(self, "model_manager", None)
        if dialog is None:
            dialog = ModelManagerDialog(self.client, self.settings, self, listing=self.model_listing)
            dialog.models_changed.connect(self.refresh_models)
            dialog.engine_settings_changed.connect(self.apply_engine_settings)
            self.model_manager = dialog
        dialog.show()
        dialog.raise_()
        if select:
            dialog.select_when_listed(select)
        dialog.refresh()

    def open_lora_wizard(self) -> Any:
        """Tools > Train a LoRA…: one wizard per window (a run keeps going while it is hidden)."""
        from app.widgets.lora_wizard import LoraWizard

        wizard = getattr(self, "lora_wizard", None)
        if wizard is None:
            combo = self.prompt_panel.model_combo
            models = [(combo.itemData(i), combo.itemText(i)) for i in range(combo.count()) if combo.itemData(i)]
            wizard = LoraWizard(self.client, generation=self.generation, project=self.project, settings=self.settings,
                                models=models, parent=self)
            wizard.lora_trained.connect(lambda _entry: self.prompt_panel.lora_picker.refresh())
            self.lora_wizard = wizard
        wizard.show()
        wizard.raise_()
        return wizard

    def open_settings_dialog(self) -> None:
        from app.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.client.settings, self.player, self)
        dialog.engine_settings_changed.connect(self.apply_engine_settings)
        dialog.audio_device_changed.connect(self._on_settings_audio_device_changed)
        dialog.generation_defaults_changed.connect(lambda defaults: self.generation.use_defaults(**defaults))
        dialog.open()
        self.settings_dialog = dialog

    def _on_transport_output_device_changed(self, device_id: object) -> None:
        self.settings.audio_output_device = device_id

    def _on_settings_audio_device_changed(self, device_id: object) -> None:
        self.settings.audio_output_device = device_id
        set_output_device = getattr(self.transport, "set_output_device", None)
        if callable(set_output_device):
            if not set_output_device(device_id):
                self.show_message("Could not use that output device.")
        elif self.player is not None:
            try:
                self.player.set_device(device_id)
            except Exception as exc:  # a device that vanished, a PortAudio error
                self.show_message(f"Could not use that output device: {exc}")
