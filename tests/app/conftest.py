"""Fixtures for the app tests: temporary settings, a real engine client, the main window, and a
check that no test leaves an engine worker, a specdiff-* thread or a QThread running.

Qt is imported lazily so tests/app/test_model.py (the Qt-free document model) runs without it.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY_SD = ROOT / "tests" / "assets" / "tiny-sd"
THREAD_GRACE_S = 5.0


def _our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("specdiff-") and t.is_alive()]


@pytest.fixture(autouse=True)
def _no_dangling_threads(request):
    """Fail a test that leaves the engine worker (``specdiff-engine``), another ``specdiff-*``
    thread, or a QThread it started still running (napari's _dangling_qthreads idea)."""
    before = set(_our_threads())
    started_qthreads: list = []
    qtcore = sys.modules.get("PySide6.QtCore")
    original_start = None
    if qtcore is not None:
        original_start = qtcore.QThread.start

        def tracking_start(self, *args, **kwargs):
            started_qthreads.append(self)
            return original_start(self, *args, **kwargs)

        qtcore.QThread.start = tracking_start
    yield
    if original_start is not None:
        qtcore.QThread.start = original_start
    deadline = time.monotonic() + THREAD_GRACE_S
    leftover = [t for t in _our_threads() if t not in before]
    for thread in leftover:  # threads that are already finishing get a moment
        thread.join(max(0.0, deadline - time.monotonic()))
    leftover = [t.name for t in leftover if t.is_alive()]
    running_q = []
    for qthread in started_qthreads:
        try:
            if qthread.isRunning():
                running_q.append(repr(qthread))
        except RuntimeError:  # the C++ object is gone: not running
            pass
    assert not leftover, f"test left threads running: {leftover}"
    assert not running_q, f"test left QThreads running: {running_q}"


@pytest.fixture
def tiny_model() -> str:
    """Absolute path of the tiny diffusers model used for real generations in tests."""
    assert (TINY_SD / "model_index.json").is_file()
    return str(TINY_SD)


@pytest.fixture
def make_settings(tmp_path):
    """AppSettings in a temporary INI file (never the user's settings)."""
    from app.settings import AppSettings

    def make(name: str = "settings.ini"):
        return AppSettings(tmp_path / name)

    return make


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def engine_settings(tmp_path):
    """CPU, offline, an empty private hub cache: nothing reaches the network."""
    from engine.api import EngineSettings

    return EngineSettings(device="cpu", offline=True, cache_dir=str(tmp_path / "hub"))


@pytest.fixture
def make_client(qapp, engine_settings):
    """Build EngineClients that are shut down (worker joined) after the test."""
    from app.engine_client import EngineClient

    clients = []

    def make(settings=None):
        client = EngineClient(settings or engine_settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def make_window(qtbot, client, settings):
    """Main windows over the real engine client, closed without prompts after the test."""
    from app.main_window import MainWindow

    windows = []

    def make(*, settings_=None, **kwargs):
        window = MainWindow(client, settings_ or settings, **kwargs)
        window.ask_before_closing = False
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.client.wait_for_tasks()
        window.close()


@pytest.fixture
def window(make_window, qtbot):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def browser(qtbot):
    """The Sound Classes browser alone, shown at a dock's size."""
    from app.widgets.qt_class_browser import QtClassBrowser

    widget = QtClassBrowser()
    qtbot.addWidget(widget)
    widget.resize(360, 640)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def make_wav(tmp_path):
    """Write a float32 WAV of noise: make_wav(name, seconds, channels, rate) -> (path, audio)."""
    import soundfile as sf

    def make(name="tone.wav", seconds=0.5, channels=2, rate=44100, seed=0, subtype="FLOAT"):
        rng = np.random.default_rng(seed)
        audio = rng.uniform(-0.9, 0.9, (channels, int(seconds * rate))).astype(np.float32)
        path = tmp_path / name
        sf.write(path, audio.T, rate, subtype=subtype)
        return path, audio

    return make


@pytest.fixture
def wait_job(qtbot):
    """wait_job(client, start) -> (outcome, args): runs ``start()`` (which submits a job and
    returns its handle or id) and waits until that job finishes, fails or is cancelled. A failure shows
    its message at once instead of a timeout."""

    def wait(client, start, timeout_ms: int = 120000):
        outcomes: dict[int, tuple[str, tuple]] = {}
        slots = {
            "finished": lambda job_id, result: outcomes.setdefault(job_id, ("finished", (job_id, result))),
            "failed": lambda job_id, msg, kind: outcomes.setdefault(job_id, ("failed", (job_id, msg, kind))),
            "cancelled": lambda job_id: outcomes.setdefault(job_id, ("cancelled", (job_id,))),
        }
        for name, slot in slots.items():
            getattr(client, f"job_{name}").connect(slot)
        try:
            started = start()
            job_id = getattr(started, "job_id", started)
            qtbot.waitUntil(lambda: job_id in outcomes, timeout=timeout_ms)
        finally:
            for name, slot in slots.items():
                getattr(client, f"job_{name}").disconnect(slot)
        return outcomes[job_id]

    return wait


@pytest.fixture
def themed_app(qtbot):
    """The QApplication in the app's theme (style sheet and link colours) for one test; the
    other tests run unthemed, as before."""
    from PySide6.QtWidgets import QApplication

    from app.__main__ import apply_theme

    app = QApplication.instance()
    sheet, palette = app.styleSheet(), app.palette()
    apply_theme(app)
    yield app
    app.setStyleSheet(sheet)
    app.setPalette(palette)
