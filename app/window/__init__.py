"""The main window's parts (:class:`app.main_window.MainWindow` is assembled from their mixins)
and the constants they share."""

from PySide6.QtCore import QSize

APP_TITLE = "Specdiff Studio"
#: Setting: the timeline's spectrogram colour map and range in dB, as [name, dB].
SPECTROGRAM_STYLE_KEY = "spectrogram_style"
STATUS_MESSAGE_MS = 6000
DEFAULT_WINDOW_SIZE = QSize(1400, 860)
HUB_CHECK_INTERVAL_MS = 60_000
