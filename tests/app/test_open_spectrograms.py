"""Opening a project ends with the spectrograms of its clips: computed off the GUI thread after the
document is swapped in, counted in the status bar, which says the project is open once they are."""

from __future__ import annotations

import threading

import numpy as np

from app.model.project import Clip, Project, Track

RATE = 22050


def test_opening_counts_the_spectrograms_computed_off_the_gui_thread(window, qtbot, tmp_path, monkeypatch):
    from app.model.persistence import save_project
    from app.plot_items.spectrogram_compute import SpectrogramJob

    t = np.arange(RATE) / RATE
    project = Project(sample_rate_hz=RATE)
    track = Track(name="T")
    for k in range(3):  # imported audio: no stored image, the timeline computes a display spectrogram
        track.clips.append(Clip(name=f"c{k}", audio=(0.3 * np.sin(2 * np.pi * 220 * (k + 1) * t)).astype(np.float32)[None],
                                sample_rate_hz=RATE, start_s=1.0 * k))
    project.add_track(track)
    path = tmp_path / "three.sdproj"
    save_project(project, path)

    release, threads = threading.Event(), []
    compute = SpectrogramJob._compute

    def held(job):  # worker thread: wait until the test has seen the status bar
        threads.append(threading.current_thread())
        release.wait(30)
        compute(job)

    monkeypatch.setattr(SpectrogramJob, "_compute", held)
    with qtbot.waitSignal(window.project_loaded, timeout=30000):
        window.open_project(str(path))
    qtbot.waitUntil(lambda: bool(threads), timeout=20000)
    qtbot.waitUntil(lambda: "spectrograms" in window.statusBar().currentMessage(), timeout=20000)
    assert window.statusBar().currentMessage().startswith(f"Opened {path}: spectrograms (")
    assert window.timeline.spectrogram_pending()
    release.set()
    qtbot.waitUntil(lambda: not window.timeline.spectrogram_pending(), timeout=30000)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Opened {path}", timeout=10000)
    assert threads and all(thread is not threading.main_thread() for thread in threads)
