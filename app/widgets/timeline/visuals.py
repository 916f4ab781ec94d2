"""Per audio array: its waveform envelope pyramid and its display spectrogram, computed off the
GUI thread and shared by every clip cut from the same array (splits, duplicates, undo).

:class:`VisualsCache` owns one worker thread. Small arrays get their pyramid at once; larger ones
and every spectrogram are computed on the worker, and the results cross back to the GUI thread as
queued signals. The cache keys arrays by ``id(audio)`` (signals carry keys as Python objects:
an id overflows a C int) and holds the arrays only weakly.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore
from PySide6.QtCore import Signal

from app.model.project import Clip
from app.plot_items.envelope import EnvelopePyramid
from app.plot_items.spectrogram_compute import SpectrogramJob
from app.plot_items.spectrogram_item import SpectrogramImage

log = logging.getLogger(__name__)

#: Clips with more values (channels x samples) get their envelope pyramid computed on the worker
#: (a 10-minute stereo clip takes about half a second); smaller ones at once (< ~50 ms).
PYRAMID_SYNC_MAX_VALUES = 4_000_000


@dataclass
class Visuals:
    """What is drawn of one audio array."""

    audio_ref: weakref.ref
    pyramid: EnvelopePyramid | None = None
    spectrogram: SpectrogramImage | None = None
    job: SpectrogramJob | None = None


def audio_key(audio: np.ndarray) -> int:
    return id(audio)


class VisualsCache(QtCore.QObject):
    """Envelope pyramids and display spectrograms by audio array (GUI thread API).

    Signals (GUI thread):
        pyramid_ready(int key, EnvelopePyramid): a pyramid computed on the worker arrived.
        spectrogram_started(int key, SpectrogramImage): the first columns of an image are ready.
        spectrogram_updated(int key): more columns are ready (the image has notified its items).
        spectrogram_finished(int key, str clip_id): the image is complete.
        spectrogram_failed(str clip_id, str reason): it could not be computed.
    """

    pyramid_ready = Signal(object, object)
    spectrogram_started = Signal(object, object)
    spectrogram_updated = Signal(object)
    spectrogram_finished = Signal(object, str)
    spectrogram_failed = Signal(str, str)
    _spectrogram_progressed = Signal(object, bool)
    _pyramid_computed = Signal(object, object)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._visuals: dict[int, Visuals] = {}
        self._sweep_at = 64  # sweep dead entries when the cache grows past this (amortised O(1))
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="specdiff-spectrogram")
        self._spectrogram_progressed.connect(self._on_spectrogram_progressed)
        self._pyramid_computed.connect(self._on_pyramid_computed)

    def get(self, key: int) -> Visuals | None:
        return self._visuals.get(key)

    def values(self) -> list[Visuals]:
        return list(self._visuals.values())

    def for_clip(self, clip: Clip) -> Visuals:
        """The visuals of ``clip``'s audio, created (pyramid now or queued) if new."""
        key = audio_key(clip.audio)
        visuals = self._visuals.get(key)
        if visuals is not None and visuals.audio_ref() is clip.audio:
            return visuals
        visuals = Visuals(audio_ref=weakref.ref(clip.audio))
        self._visuals[key] = visuals
        if clip.audio.size <= PYRAMID_SYNC_MAX_VALUES:
            visuals.pyramid = EnvelopePyramid(clip.audio)
        else:
            audio, computed, name = clip.audio, self._pyramid_computed, clip.name

            def compute() -> None:  # worker thread; the result crosses back as a queued signal
                try:
                    pyramid = EnvelopePyramid(audio)
                except Exception:  # the clip stays without a waveform; nothing else breaks
                    log.exception("could not compute the waveform envelope of clip %r", name)
                    return
                computed.emit(key, pyramid)

            self._submit(compute)
        if len(self._visuals) >= self._sweep_at:
            self._drop_dead()
            self._sweep_at = max(64, 2 * len(self._visuals))
        return visuals

    def adopt(self, prepared: dict[int, tuple[np.ndarray, EnvelopePyramid]]) -> None:
        """Take pyramids computed off the GUI thread (:func:`prepare_pyramids`)."""
        for key, (audio, pyramid) in prepared.items():
            visuals = self._visuals.get(key)
            if visuals is None or visuals.audio_ref() is not audio:
                self._visuals[key] = Visuals(audio_ref=weakref.ref(audio), pyramid=pyramid)
            elif visuals.pyramid is None:
                visuals.pyramid = pyramid

    def ensure_spectrogram(self, clip: Clip, visuals: Visuals) -> None:
        """Queue the display spectrogram of ``clip``'s audio unless it is there or on its way."""
        if visuals.spectrogram is not None or visuals.job is not None:
            return
        job = SpectrogramJob(clip.audio, clip.sample_rate_hz, clip.spectrogram_preset)
        visuals.job = job
        token = (audio_key(clip.audio), clip.id)
        progressed = self._spectrogram_progressed
        job.on_progress = lambda done: progressed.emit(token, done)  # worker thread -> queued
        self._submit(job.run)

    def pending(self) -> bool:
        """True while a spectrogram is still being computed."""
        return any(v.job is not None for v in self._visuals.values())

    def _submit(self, fn: Callable[[], None]) -> None:
        if not self._closed:  # after shutdown nothing new starts (the view is closing)
            self._executor.submit(fn)

    def shutdown(self) -> None:
        """Cancel the spectrogram jobs and stop the worker (waits for it)."""
        self._closed = True
        for visuals in self._visuals.values():
            if visuals.job is not None:
                visuals.job.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _drop_dead(self) -> None:
        for key, visuals in list(self._visuals.items()):
            if visuals.audio_ref() is None:
                if visuals.job is not None:
                    visuals.job.cancel()
                del self._visuals[key]

    def _on_pyramid_computed(self, key: int, pyramid: EnvelopePyramid) -> None:
        visuals = self._visuals.get(key)
        if visuals is None or visuals.pyramid is not None:
            return
        visuals.pyramid = pyramid
        self.pyramid_ready.emit(key, pyramid)

    def _on_spectrogram_progressed(self, token: tuple[int, str], done: bool) -> None:
        key, clip_id = token
        visuals = self._visuals.get(key)
        if visuals is None or visuals.job is None:
            return
        job = visuals.job
        if done:
            visuals.job = None
            if job.error is not None:
                # Keep showing the waveform; say why in the lanes' tooltip.
                self.spectrogram_failed.emit(clip_id, job.error)
                return
            job.publish_levels()
        if job.image is None:
            return
        if visuals.spectrogram is None:
            visuals.spectrogram = job.image
            self.spectrogram_started.emit(key, job.image)
        visuals.spectrogram.notify()
        self.spectrogram_updated.emit(key)
        if done:
            self.spectrogram_finished.emit(key, clip_id)


def prepare_pyramids(
    clips: list[Clip], progress: Callable[[int, int], None] | None = None
) -> dict[int, tuple[np.ndarray, EnvelopePyramid]]:
    """Envelope pyramids of the distinct audio arrays of ``clips``, computed on the calling thread
    (a loader thread, before a document is swapped in; see :meth:`VisualsCache.adopt`).
    ``progress(done, total)`` is called after each array. Returns ``{id(audio): (audio, pyramid)}``."""
    arrays = list({id(c.audio): c.audio for c in clips}.values())
    prepared: dict[int, tuple[np.ndarray, EnvelopePyramid]] = {}
    for i, audio in enumerate(arrays):
        prepared[audio_key(audio)] = (audio, EnvelopePyramid(audio))
        if progress is not None:
            progress(i + 1, len(arrays))
    return prepared
