"""Autosave and crash recovery.

While the app runs, :class:`Autosaver` writes the project (with its masks) every
``interval_s`` seconds in which something changed, to ``<folder>/autosave-<session>.sdproj``,
atomically and off the GUI thread, followed by a small ``autosave-<session>.json`` naming the
process, the project's own file and the time. A clean exit removes both. What is left in the
folder at the next start belongs to a session that did not end cleanly (a crash, a kill, a power
cut): :func:`find_recoverable` lists those, and the app offers to recover them. What a killed
autosave left half-written goes at the next start (:func:`remove_leftovers`): the session's pid
is in every name, so another running instance's files are never touched.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.model.project_files import ProjectFileSnapshot
from engine.audio.io import LEGACY_TEMP_AGE_S, atomic_output_path, remove_leftover_temps

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 60.0
AUTOSAVE_PREFIX = "autosave-"
#: Sessions alive in this process: their files are never offered for recovery.
_LIVE_SESSIONS: set[str] = set()


@dataclass(frozen=True)
class AutosaveInfo:
    """An autosave left behind by a session that did not end cleanly."""

    path: Path  # the .sdproj file
    sidecar: Path  # its .json description
    session: str
    pid: int
    project_path: str | None  # the project's own file, if it had one
    saved_at: float  # time.time() of the autosave

    def describe(self) -> str:
        name = Path(self.project_path).name if self.project_path else "an unsaved project"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        return f"{name} (autosaved {when})"


def _session_pid(path: Path) -> int:
    """The pid in an autosave's name (``autosave-<pid>-<hex>``); 0 for names of earlier versions."""
    head = path.stem.removeprefix(AUTOSAVE_PREFIX).split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def remove_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Delete what killed autosaves left in ``folder`` (temporary files whose process is gone;
    pid-less description temporaries of earlier versions once old). Autosaves themselves stay:
    they are offered for recovery. Returns what was deleted."""
    folder = Path(folder)
    removed = remove_leftover_temps(folder)
    now = time.time()
    for tmp in folder.glob(f"{AUTOSAVE_PREFIX}*.json.tmp"):
        try:
            if now - tmp.stat().st_mtime > LEGACY_TEMP_AGE_S:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except OSError:
        return False
    return True


def find_recoverable(folder: str | os.PathLike) -> list[AutosaveInfo]:
    """Autosaves in ``folder`` whose session is over without a clean exit, newest first.

    Skipped: sessions running in this process, autosaves of another process that is still
    running (a second app window), and sidecars without their project file or that are unreadable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for sidecar in folder.glob(f"{AUTOSAVE_PREFIX}*.json"):
        try:
            data = json.loads(sidecar.read_text())
            info = AutosaveInfo(
                path=sidecar.with_suffix(".sdproj"),
                sidecar=sidecar,
                session=str(data["session"]),
                pid=int(data["pid"]),
                project_path=data.get("project_path"),
                saved_at=float(data["saved_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable autosave description %s", sidecar)
            continue
        if info.session in _LIVE_SESSIONS or not info.path.is_file():
            continue
        if info.pid != os.getpid() and _process_alive(info.pid):
            continue
        found.append(info)
    # An autosave without its description: the session died between writing the two. Its pid is
    # in its name; once that process is gone the file is offered like the others.
    described = {info.path for info in found} | {p.with_suffix(".sdproj") for p in folder.glob(f"{AUTOSAVE_PREFIX}*.json")}
    for path in folder.glob(f"{AUTOSAVE_PREFIX}*.sdproj"):
        session = path.stem.removeprefix(AUTOSAVE_PREFIX)
        pid = _session_pid(path)
        if path in described or session in _LIVE_SESSIONS or (pid != os.getpid() and _process_alive(pid)):
            continue
        try:
            saved_at = path.stat().st_mtime
        except OSError:
            continue
        found.append(AutosaveInfo(path, path.with_suffix(".json"), session, pid, None, saved_at))
    return sorted(found, key=lambda i: i.saved_at, reverse=True)


def discard(info: AutosaveInfo) -> None:
    """Delete an autosave (the user chose not to recover it, or it was recovered)."""
    for path in (info.sidecar, info.path):
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not delete %s: %s", path, exc)


class Autosaver(QObject):
    """Writes the project to the autosave folder every ``interval_s`` seconds after a change.

    ``capture()`` is called on the GUI thread and returns a :class:`ProjectFileSnapshot`;
    ``run_in_thread(name, work, on_done, on_error)`` runs the write (EngineClient.run_in_thread).
    Signals: ``autosaved(str path)``, ``autosave_failed(str message)``.
    """

    autosaved = Signal(str)
    autosave_failed = Signal(str)

    def __init__(
        self,
        folder: str | os.PathLike,
        capture: Any,
        run_in_thread: Any,
        project_path: Any,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if not interval_s > 0:
            raise ValueError(f"autosave `interval_s` must be > 0 seconds, got {interval_s!r}.")
        self.folder = Path(folder)
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:16]}"  # the pid tells whose files these are
        self.path = self.folder / f"{AUTOSAVE_PREFIX}{self.session}.sdproj"
        self.sidecar = self.path.with_suffix(".json")
        self._capture = capture
        self._run_in_thread = run_in_thread
        self._project_path = project_path
        self.dirty = False
        self._writing = False
        self._lock = threading.Lock()
        self._closed = False  # no more autosaves
        self._finished = False  # a clean exit: the files go
        _LIVE_SESSIONS.add(self.session)
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_s * 1000))
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()

    def mark_dirty(self) -> None:
        """Something changed: the next tick writes an autosave."""
        self.dirty = True

    def mark_saved(self) -> None:
        """The project was saved to its own file: the autosave is not needed until the next change."""
        self.dirty = False
        self._delete_files()

    def _on_timer_timeout(self) -> None:
        if self.dirty and not self._writing:
            self.autosave_now()

    def autosave_now(self) -> None:
        """Write an autosave now (off the GUI thread); autosaved(path) follows."""
        if self._closed:
            return
        snapshot = self._capture()
        project_path = self._project_path()
        self.dirty = False
        self._writing = True
        self._run_in_thread("autosave", lambda: self._write(snapshot, project_path), self._on_written, self._on_failed)

    def _write(self, snapshot: ProjectFileSnapshot, project_path: str | None) -> None:
        snapshot.write(self.path)
        description = {"session": self.session, "pid": os.getpid(), "project_path": project_path,
                       "saved_at": time.time(), "format": 1}
        with atomic_output_path(self.sidecar) as tmp:  # it appears only once the project file is complete
            tmp.write_text(json.dumps(description))
        with self._lock:
            if self._finished:  # the app exited cleanly while this was being written
                self._delete_files()

    def _on_written(self, _: Any) -> None:
        self._writing = False
        if not self._closed:
            self.autosaved.emit(str(self.path))

    def _on_failed(self, exc: BaseException) -> None:
        self._writing = False
        self.dirty = True
        self.autosave_failed.emit(f"Autosave failed: {exc}")

    def _delete_files(self) -> None:
        for path in (self.sidecar, self.path):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not delete %s: %s", path, exc)

    def finish(self) -> None:
        """A clean exit: stop and delete this session's autosave."""
        self.timer.stop()
        with self._lock:
            self._closed = self._finished = True
            self._delete_files()
        _LIVE_SESSIONS.discard(self.session)

    def finish_keeping(self) -> None:
        """An exit nobody could be asked about (SIGTERM) with unsaved changes: write the autosave
        one last time, on this (the GUI) thread, and keep it so the next start offers it."""
        self.timer.stop()
        self._closed = True
        try:
            self._write(self._capture(), self._project_path())
        except Exception:  # noqa: BLE001 - the last autosave is best effort; the older one stays
            log.exception("the last autosave before exiting failed")
        _LIVE_SESSIONS.discard(self.session)

    def abandon(self) -> None:
        """Stop without deleting anything, as a crash would (tests)."""
        self.timer.stop()
        self._closed = True
        _LIVE_SESSIONS.discard(self.session)
