"""The download_model job, run on the engine worker: fetch a model into the hub cache.

Downloads go through the worker like any other job, so they queue behind generation, report
progress (bytes, rate, ETA) and can be cancelled; files fetched before a cancel stay in the
cache and a later download resumes from them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator
from typing import Any

from engine.specs import JobCancelledError, Progress

#: How often the job wakes up while no progress arrives, to notice a cancel (seconds).
_POLL_S = 0.2
#: How long a cancelled download may take to stop its transfer threads before the job ends.
_STOP_WAIT_S = 15.0
_DONE = object()


def _download_progress(model: str, report: Any) -> Progress:
    """``engine.models.store.DownloadProgress`` -> the job's Progress (stage "download")."""
    total = int(report.bytes_total or 0)
    done = int(report.bytes_done)
    name = f" ({report.filename})" if getattr(report, "filename", None) else ""
    return Progress(
        stage="download",
        step=done,
        total=total,
        message=f"Downloading {model}{name}",
        bytes_done=done,
        bytes_total=total or None,
        rate_bytes_per_s=report.rate_bytes_per_s,
        eta_s=report.eta_s,
    )


def run_download(spec: Any, ctx: Any) -> Generator[Progress, None, Any]:
    """Download ``spec.model`` (at ``spec.revision``) into the model store's cache.

    The transfer runs on a helper thread (``ModelStore.resolve(download=True)``); this generator
    yields ``Progress(stage="download", bytes_done=..., bytes_total=..., rate_bytes_per_s=...,
    eta_s=...)`` as reports arrive and returns the ``ResolvedModel``. An already complete cached
    copy returns at once.

    Raises:
        OfflineModeError: offline mode is on and the model is not cached (nothing is contacted).
        JobCancelledError: the job was cancelled (the partial files stay cached).
        ModelError subclasses: not found, gated, no network, ... (from the store).
    """
    store = ctx.store
    cancel_event: threading.Event = ctx.cancel_event
    yield Progress(stage="download", message=f"Looking up {spec.model}")
    reports: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = store.resolve(
                spec.model, spec.revision, download=True, progress=reports.put, cancel_event=cancel_event,
                kind=getattr(spec, "model_kind", "sd"),
            )
        except BaseException as error:  # noqa: BLE001 - handed to the job's thread
            outcome["error"] = error
        finally:
            reports.put(_DONE)

    thread = threading.Thread(target=work, name=f"download {spec.model}", daemon=True)
    thread.start()
    try:
        finished = False
        while not finished:
            try:
                item = reports.get(timeout=_POLL_S)
            except queue.Empty:
                ctx.check_cancelled()  # a stalled transfer must not delay a cancel
                continue
            latest = None
            while True:  # coalesce: only the newest report matters
                if item is _DONE:
                    finished = True
                    break
                latest = item
                try:
                    item = reports.get_nowait()
                except queue.Empty:
                    break
            if latest is not None:
                yield _download_progress(spec.model, latest)
    finally:
        if thread.is_alive():
            cancel_event.set()  # the job is ending early (cancel or close): stop the transfer
            thread.join(_STOP_WAIT_S)

    error = outcome.get("error")
    if error is not None:
        from engine.models.errors import DownloadCancelledError

        if isinstance(error, DownloadCancelledError):
            raise JobCancelledError() from error
        raise error
    return outcome["result"]

