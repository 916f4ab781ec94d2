"""Snapping clip edges to other clips' edges, the playhead and a 1-2-5 grid."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

#: Snap distance in screen pixels, and the smallest grid spacing.
SNAP_PX = 8
GRID_MIN_PX = 40


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= raw."""
    if raw <= 0:
        return 1.0
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = m * 10.0**exp
        if step >= raw - 1e-12:
            return step
    return 10.0 ** (exp + 1)


def snap_offset(edges: list[float], candidates: list[float], tolerance_s: float, grid_step_s: float) -> float:
    """The shift (seconds) that puts the nearest of ``edges`` onto a candidate time or a grid
    line within ``tolerance_s``; 0 when nothing is near."""
    best: float | None = None
    for edge in edges:
        near = candidates + [round(edge / grid_step_s) * grid_step_s]
        for c in near:
            d = c - edge
            if abs(d) <= tolerance_s and (best is None or abs(d) < abs(best)):
                best = d
    return 0.0 if best is None else best


class SnappingMixin:
    """QtTimeline's snapping: on/off state (button and action kept in step) and snap queries."""

    @property
    def snap_enabled(self: QtTimeline) -> bool:
        return self._snap_enabled

    def set_snap_enabled(self: QtTimeline, enabled: bool) -> None:
        self._snap_enabled = bool(enabled)
        for widget in (self.snap_button, self.snap_action):
            widget.blockSignals(True)
            widget.setChecked(self._snap_enabled)
            widget.blockSignals(False)

    def grid_step_s(self: QtTimeline) -> float:
        """Grid spacing for snapping: a 1-2-5 step at least GRID_MIN_PX wide."""
        return nice_step(GRID_MIN_PX / self._px_per_s())

    def snap_candidates(self: QtTimeline, exclude_clip_id: str | None) -> list[float]:
        times = [self.project.playhead_s, 0.0]
        for clip in self.project.clips():
            if clip.id != exclude_clip_id:
                times.extend((clip.start_s, clip.end_s))
        return times

    def snap_time(self: QtTimeline, t: float, exclude_clip_id: str | None = None) -> float:
        """``t`` moved onto the nearest clip edge, the playhead or a grid line within SNAP_PX
        (unchanged when snapping is off or nothing is near)."""
        return t + self._snap_delta([t], exclude_clip_id)

    def _snap_delta(self: QtTimeline, edges: list[float], exclude_clip_id: str | None) -> float:
        if not self._snap_enabled:
            return 0.0
        tolerance = SNAP_PX / self._px_per_s()
        return snap_offset(edges, self.snap_candidates(exclude_clip_id), tolerance, self.grid_step_s())
