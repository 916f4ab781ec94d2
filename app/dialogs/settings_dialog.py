"""Settings: compute device, precision, memory options, model cache folder, audio output device,
and the defaults of every generation and edit (vocoder, full-band upsampling)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.settings import AppSettings
from app.widgets.qt_transport import playback_off_message
from engine.api import EngineSettings

DEVICE_LABELS = {"auto": "Automatic (CUDA, then MPS, then CPU)", "cuda": "CUDA GPU", "mps": "Apple GPU (MPS)", "cpu": "CPU"}
PRECISION_LABELS = {
    "auto": "Automatic (fp16 on CUDA, fp32 elsewhere)",
    "fp32": "fp32 (full precision)",
    "fp16": "fp16 (half, CUDA)",
    "bf16": "bf16",
}


class SettingsDialog(QDialog):
    """Emits ``engine_settings_changed(EngineSettings)``, ``audio_device_changed(id or None)`` and
    ``generation_defaults_changed(dict)`` (``vocoder``, ``full_band``: saved in ``settings``) on OK,
    each only when that part changed. Engine changes restart the engine when idle."""

    engine_settings_changed = Signal(object)
    audio_device_changed = Signal(object)
    generation_defaults_changed = Signal(object)

    def __init__(
        self,
        settings: AppSettings,
        engine_settings: EngineSettings,
        player: Any = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.engine_settings = engine_settings
        self.player = player
        s = engine_settings

        self.device_combo = QComboBox()
        for key, label in DEVICE_LABELS.items():
            self.device_combo.addItem(label, key)
        self.device_combo.setCurrentIndex(self.device_combo.findData(s.device))
        self.precision_combo = QComboBox()
        for key, label in PRECISION_LABELS.items():
            self.precision_combo.addItem(label, key)
        self.precision_combo.setCurrentIndex(self.precision_combo.findData(s.precision))
        self.attention_check = QCheckBox("Attention slicing (less memory, a little slower)")
        self.attention_check.setChecked(s.attention_slicing)
        self.vae_slicing_check = QCheckBox("VAE slicing (decode variations one by one)")
        self.vae_slicing_check.setChecked(s.vae_slicing)
        self.vae_tiling_check = QCheckBox("VAE tiling (decode long clips in tiles)")
        self.vae_tiling_check.setChecked(s.vae_tiling)
        self.offload_check = QCheckBox("Model CPU offload (least GPU memory, slower)")
        self.offload_check.setChecked(s.cpu_offload)
        self.pickle_check = QCheckBox("Allow pickle weights (.bin/.ckpt) - only for models you trust")
        self.pickle_check.setChecked(s.allow_pickle)

        self.cache_edit = QLineEdit(s.cache_dir or "")
        self.cache_edit.setPlaceholderText("The standard Hugging Face cache (shared with other tools)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache_edit, 1)
        cache_row.addWidget(browse)

        engine_box = QGroupBox("Engine")
        engine_form = QFormLayout(engine_box)
        engine_form.addRow("Device", self.device_combo)
        engine_form.addRow("Precision", self.precision_combo)
        for check in (self.attention_check, self.vae_slicing_check, self.vae_tiling_check, self.offload_check, self.pickle_check):
            engine_form.addRow(check)
        engine_form.addRow("Model cache", cache_row)

        self.audio_combo = QComboBox()
        self.audio_combo.addItem("System default", None)
        self.audio_note = QLabel()
        self.audio_note.setObjectName("hintLabel")
        self.audio_note.setWordWrap(True)
        available, reason = player.available() if player is not None else (False, "Playback is not available.")
        if available:
            for device in player.output_devices():
                self.audio_combo.addItem(f"{device.name} ({device.host_api})", device.id)
            index = self.audio_combo.findData(settings.audio_output_device)
            self.audio_combo.setCurrentIndex(max(0, index))
        else:
            # Greyed (the theme's disabled look), and why, in the words the transport bar uses.
            message = playback_off_message(reason)
            self.audio_combo.setEnabled(False)
            self.audio_combo.setToolTip(message)
            self.audio_note.setText(message)
        audio_box = QGroupBox("Audio")
        audio_form = QFormLayout(audio_box)
        audio_form.addRow("Output device", self.audio_combo)
        audio_form.addRow(self.audio_note)

        from engine.api import VOCODERS

        self.vocoder_combo = QComboBox(toolTip="What turns spectrograms into audio in every generation and edit, "
                                               "unless you pick another in the Prompt panel")
        for entry in VOCODERS:
            self.vocoder_combo.addItem(entry.title, entry.name)
        current = settings.default_vocoder
        if self.vocoder_combo.findData(current) < 0:  # a vocoder folder
            self.vocoder_combo.addItem(current, current)
        self.vocoder_combo.setCurrentIndex(self.vocoder_combo.findData(current))
        self.full_band_check = QCheckBox("Full band: run the upsampler the model recommends (the starter's: 44.1 kHz)")
        self.full_band_check.setToolTip("Off: generations and edits keep the model's own band unless you switch "
                                        "Full band on in the Prompt panel")
        self.full_band_check.setChecked(settings.full_band_default)
        defaults_box = QGroupBox("Generation defaults")
        defaults_form = QFormLayout(defaults_box)
        defaults_form.addRow("Vocoder", self.vocoder_combo)
        defaults_form.addRow(self.full_band_check)
        defaults_note = QLabel("Used wherever you have not picked a vocoder or switched Full band yourself.")
        defaults_note.setObjectName("hintLabel")
        defaults_note.setWordWrap(True)
        defaults_form.addRow(defaults_note)

        note = QLabel("Engine changes restart the engine (unloading models) once no job is running.")
        note.setObjectName("hintLabel")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_accepted)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(engine_box)
        layout.addWidget(audio_box)
        layout.addWidget(defaults_box)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model cache folder", self.cache_edit.text())
        if folder:
            self.cache_edit.setText(folder)

    def chosen_engine_settings(self) -> EngineSettings:
        return self.engine_settings.with_changes(
            device=self.device_combo.currentData(),
            precision=self.precision_combo.currentData(),
            attention_slicing=self.attention_check.isChecked(),
            vae_slicing=self.vae_slicing_check.isChecked(),
            vae_tiling=self.vae_tiling_check.isChecked(),
            cpu_offload=self.offload_check.isChecked(),
            allow_pickle=self.pickle_check.isChecked(),
            cache_dir=self.cache_edit.text().strip() or None,
        )

    def chosen_audio_device(self) -> int | None:
        return self.audio_combo.currentData()

    def chosen_generation_defaults(self) -> dict[str, Any]:
        return {"vocoder": self.vocoder_combo.currentData(), "full_band": self.full_band_check.isChecked()}

    def _on_accepted(self) -> None:
        defaults = self.chosen_generation_defaults()
        if defaults != {"vocoder": self.settings.default_vocoder, "full_band": self.settings.full_band_default}:
            self.settings.default_vocoder = defaults["vocoder"]
            self.settings.full_band_default = defaults["full_band"]
            self.generation_defaults_changed.emit(defaults)
        chosen = self.chosen_engine_settings()
        if chosen != self.engine_settings:
            self.engine_settings_changed.emit(chosen)
        if self.audio_combo.isEnabled() and self.chosen_audio_device() != self.settings.audio_output_device:
            self.audio_device_changed.emit(self.chosen_audio_device())
        self.accept()
