"""Status bar items: compute device, memory in use (process RAM and GPU), offline state, playback."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.widgets.qt_job_panel import format_bytes
from engine.api import EngineSettings

MEMORY_TIMER_MS = 2000
HUB_OFFLINE_MODE, HUB_REACHABLE, HUB_UNREACHABLE, HUB_CHECKING = "offline-mode", "reachable", "unreachable", "checking"


def process_memory_bytes() -> int | None:
    """Resident memory of this process (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        return int(psutil.Process().memory_info().rss)
    except Exception:
        return None


def gpu_memory_bytes() -> tuple[str, int] | None:
    """("CUDA"|"MPS", bytes allocated) once the engine has used a GPU, else None.

    Never imports torch itself: the engine loads it lazily on its worker, and only then is
    there GPU memory to report.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return "CUDA", int(torch.cuda.memory_allocated())
        mps = getattr(torch, "mps", None)
        if mps is not None and torch.backends.mps.is_available():
            return "MPS", int(mps.current_allocated_memory())
    except Exception:
        return None
    return None


class QtStatus(QWidget):
    """A row of labels for the status bar; memory refreshes every MEMORY_TIMER_MS."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device_label = QLabel()
        self.device_label.setObjectName("statusDevice")
        self.memory_label = QLabel()
        self.memory_label.setToolTip("Memory this app uses: RAM, and GPU memory while a GPU runs models "
                                     "(Generate > Unload Models frees it)")
        self.offline_label = QLabel()
        self.hub_state = HUB_CHECKING
        self.playback_label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label in (self.playback_label, self.offline_label, self.device_label, self.memory_label):
            layout.addWidget(label)
        self._device_setting = "auto"
        self._device_used: str | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(MEMORY_TIMER_MS)
        self.timer.timeout.connect(self.update_memory)
        self.timer.start()
        self.update_memory()

    def set_engine_settings(self, settings: EngineSettings) -> None:
        self._device_setting = settings.device
        self._device_used = None
        self.set_hub_state(HUB_OFFLINE_MODE if settings.offline else HUB_CHECKING)
        self._show_device()

    def set_hub_state(self, state: str, endpoint: str = "the Hugging Face hub") -> None:
        """Offline mode, hub reachable, hub unreachable, or being checked (HUB_* constants)."""
        text, tip = {
            HUB_OFFLINE_MODE: ("Offline", "Offline mode: no network calls; only downloaded models work"),
            HUB_UNREACHABLE: ("Offline", f"{endpoint} cannot be reached: only downloaded models work "
                                         "(checked again every minute)"),
            HUB_REACHABLE: ("Online", f"Models not yet downloaded can be fetched from {endpoint}"),
            HUB_CHECKING: ("Online?", f"Checking whether {endpoint} can be reached…"),
        }[state]
        self.hub_state = state
        self.offline_label.setText(text)
        self.offline_label.setToolTip(tip)

    def set_device_used(self, device: str) -> None:
        """The device a job actually ran on (from a result's recipe)."""
        self._device_used = device
        self._show_device()

    def _show_device(self) -> None:
        used = self._device_used
        if used and self._device_setting == "auto":
            text = f"Device: auto ({used})"
        else:
            text = f"Device: {used or self._device_setting}"
        self.device_label.setText(text)
        self.device_label.setToolTip(
            "Where models run; change it in Edit > Settings > Device"
            + ("" if self._device_setting != "auto" or used else
               ". Automatic picks CUDA, then MPS, then the CPU: the one used shows after the first job"))

    def set_playback(self, available: bool, reason: str = "") -> None:
        self.playback_label.setText("Playback: on" if available else "Playback: off")
        self.playback_label.setToolTip(reason or ("Audio output ready" if available else ""))

    def update_memory(self) -> None:
        parts = []
        ram = process_memory_bytes()
        if ram is not None:
            parts.append(f"RAM {format_bytes(ram)}")
        gpu = gpu_memory_bytes()
        if gpu is not None:
            parts.append(f"{gpu[0]} {format_bytes(gpu[1])}")
        self.memory_label.setText("  ".join(parts))
