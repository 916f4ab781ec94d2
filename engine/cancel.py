"""Cancel points for the long loops a job runs (torch-free, no Qt).

The worker installs the running job's cancel check for its own thread while it advances the
job's generator (:func:`cancel_scope`). Any loop deep inside the engine that runs for more than a
fraction of a second - Griffin-Lim iterations, the phase-gradient walk, chunk loops of analysis and
inversion - calls :func:`cancel_point` now and then, and the job stops there with
:class:`engine.specs.JobCancelledError`, without threading a callback through every signature.
Outside a job (tests, scripts, the app's own threads) :func:`cancel_point` does nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

__all__ = ["cancel_point", "cancel_scope"]

_local = threading.local()


@contextlib.contextmanager
def cancel_scope(check: Callable[[], None] | None) -> Iterator[None]:
    """Make ``check`` (raises to cancel) what :func:`cancel_point` calls on this thread, for the block."""
    previous = getattr(_local, "check", None)
    _local.check = check
    try:
        yield
    finally:
        _local.check = previous


def cancel_point() -> None:
    """Raise the current job's cancellation (JobCancelledError) if it was cancelled; else nothing."""
    check = getattr(_local, "check", None)
    if check is not None:
        check()
