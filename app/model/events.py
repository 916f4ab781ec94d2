"""A tiny Qt-free observer, so the document model can announce changes to views (napari-style).

    events = ProjectEvents()
    events.clip_added.connect(view._on_project_clip_added)
    events.clip_added.emit(track, clip)

Callbacks run synchronously, in connection order, on the thread that emits. The model is only
touched on the GUI thread, so that is where every callback runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """One named notification with any number of listeners."""

    __slots__ = ("name", "_callbacks", "_blocked")

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []
        self._blocked = 0

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback(*args)`` on every emit; connecting twice is a no-op. Returns ``callback``."""
        if not callable(callback):
            raise TypeError(f"event {self.name!r}: callback must be callable, got {callback!r}")
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        """Stop calling ``callback`` (all callbacks when None). Unknown callbacks are ignored."""
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        """Call every connected callback with ``args`` (unless blocked)."""
        if self._blocked:
            return
        for callback in list(self._callbacks):
            callback(*args)

    @property
    def callbacks(self) -> tuple[Callable[..., Any], ...]:
        return tuple(self._callbacks)

    def blocked(self) -> _Blocker:
        """Context manager that silences this event while it is open."""
        return _Blocker(self)

    def __repr__(self) -> str:
        return f"<Event {self.name} ({len(self._callbacks)} callbacks)>"


class _Blocker:
    def __init__(self, event: Event) -> None:
        self._event = event

    def __enter__(self) -> Event:
        self._event._blocked += 1
        return self._event

    def __exit__(self, *exc: object) -> None:
        self._event._blocked -= 1


class EventGroup:
    """A set of named events, created from the class attribute ``names``."""

    names: tuple[str, ...] = ()

    def __init__(self) -> None:
        for name in self.names:
            setattr(self, name, Event(name))

    def __iter__(self):
        return (getattr(self, name) for name in self.names)

    def disconnect_all(self, callback: Callable[..., Any]) -> None:
        """Remove ``callback`` from every event of the group (a view closing)."""
        for event in self:
            event.disconnect(callback)


class ProjectEvents(EventGroup):
    """The events a :class:`app.model.project.Project` emits (arguments in brackets).

    track_added(track), track_removed(track), track_changed(track), track_moved(track, index),
    clip_added(track, clip), clip_removed(track, clip), clip_changed(clip),
    selection_changed(selection), playhead_moved(seconds), project_reset(project),
    picture_added(picture), picture_removed(picture) (pictures made from clips, app.model.pictures).

    project_reset means a whole new document was swapped in (File > New, Open, Recover): no
    track or clip events are sent for the tracks and clips that left or arrived with it, so a
    view that keeps per-track or per-clip state rebuilds it from the project then.
    """

    names = (
        "track_added",
        "track_removed",
        "track_changed",
        "track_moved",
        "clip_added",
        "clip_removed",
        "clip_changed",
        "selection_changed",
        "playhead_moved",
        "project_reset",
        "picture_added",
        "picture_removed",
    )

    # Declared for type checkers and readers; filled by EventGroup.__init__.
    track_added: Event
    track_removed: Event
    track_changed: Event
    track_moved: Event
    clip_added: Event
    clip_removed: Event
    clip_changed: Event
    selection_changed: Event
    playhead_moved: Event
    project_reset: Event
    picture_added: Event
    picture_removed: Event
