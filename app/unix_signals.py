"""SIGTERM, SIGINT and SIGHUP as a Qt signal, so a logout, ``kill`` or Ctrl+C in the terminal
closes the window cleanly instead of killing the process mid-write.

Python runs its signal handlers only between bytecodes, and while Qt's event loop waits in C++
no bytecode runs. So the handler does nothing itself: :func:`signal.set_wakeup_fd` makes the
C-level handler write the signal's number into a socket pair, a ``QSocketNotifier`` wakes the
event loop when it becomes readable, and :class:`SignalWatcher` emits ``received(signum)``.
"""

from __future__ import annotations

import signal
import socket
import sys

from PySide6.QtCore import QObject, QSocketNotifier, Signal

#: The signals that ask the app to end (SIGHUP: the terminal it was started from closed).
QUIT_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGINT", None), getattr(signal, "SIGHUP", None)) if s
)


class SignalWatcher(QObject):
    """Delivers ``signals`` to the event loop as ``received(int signum)``. Install it on the main
    thread (Python's rule for signal handlers); :meth:`uninstall` puts the old handlers back."""

    received = Signal(int)

    def __init__(self, signals: tuple[int, ...] = QUIT_SIGNALS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._old_wakeup_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        # A Python-level handler must exist for the wakeup byte to be written; it does nothing.
        self._old_handlers = {signum: signal.signal(signum, _ignore) for signum in signals}
        self.notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self.notifier.activated.connect(self._on_notifier_activated)

    def _on_notifier_activated(self, *_: object) -> None:
        try:
            data = self._reader.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        for signum in data:
            self.received.emit(int(signum))

    def uninstall(self) -> None:
        """Restore the previous handlers and wakeup fd, and close the socket pair."""
        self.notifier.setEnabled(False)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        self._reader.close()
        self._writer.close()


def _ignore(signum: int, frame: object) -> None:
    """The Python-level handler: the work happens in the event loop (SignalWatcher.received)."""


def install_quit_handler(on_quit, parent: QObject | None = None) -> SignalWatcher | None:
    """A :class:`SignalWatcher` calling ``on_quit(signum)`` for :data:`QUIT_SIGNALS` (None on
    platforms without them)."""
    if sys.platform == "win32" or not QUIT_SIGNALS:
        return None
    watcher = SignalWatcher(QUIT_SIGNALS, parent)
    watcher.received.connect(on_quit)
    return watcher
