"""The visible time range of the timeline: set, zoom, scroll, and the scroll bar and overview
region that follow it (and move it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.widgets.qt_timeline import QtTimeline

MIN_VISIBLE_S = 0.005
MAX_VISIBLE_S = 4 * 3600.0
DEFAULT_VISIBLE_S = 30.0
#: The project's first clips, when they end before this fraction of the view, are zoomed to.
FIRST_CLIPS_FILL = 0.5
#: Zoom factor of one wheel notch and of one +/- key press.
ZOOM_STEP = 1.25
KEY_ZOOM_STEP = 1.5
#: One wheel notch scrolls this fraction of the visible span.
SCROLL_FRACTION = 0.1


class ViewportMixin:
    """QtTimeline's view range (``self._view``), kept in step across lanes, ruler, scroll bar and
    overview; ``self._syncing`` guards against the widgets' change signals echoing back."""

    def visible_range(self: QtTimeline) -> tuple[float, float]:
        """The time range shown, ``(start_s, end_s)``."""
        return self._view

    def _content_end_s(self: QtTimeline) -> float:
        """The project's end (at least 1 s), from the overview's block layers (every track's, also
        while a new document's lanes are still coming), which keep their extent as clips come, go
        and change: no loop over the clips (it ran six times per open)."""
        return max(max((layer.end_s for layer in self._overview.rows.values()), default=0.0), 1.0)

    def set_visible_range(self: QtTimeline, start_s: float, end_s: float) -> None:
        """Show ``start_s .. end_s`` (clamped: span between 5 ms and 4 h, start >= 0)."""
        span = min(max(float(end_s) - float(start_s), MIN_VISIBLE_S), MAX_VISIBLE_S)
        start = max(0.0, float(start_s))
        end = start + span
        if self._syncing:
            return
        self._syncing = True
        try:
            self._view = (start, end)
            for lane in self._lanes:
                lane.viewbox.setXRange(start, end, padding=0.0)
            self.ruler_viewbox.setXRange(start, end, padding=0.0)
            self._update_overview_range()
            self.overview_region.setRegion((start, end))
            total = max(self._content_end_s() * 1.05, end)
            self.scrollbar.setRange(0, max(0, int(round((total - span) * 1000))))
            self.scrollbar.setPageStep(max(1, int(round(span * 1000))))
            self.scrollbar.setSingleStep(max(1, int(round(span * 100))))
            self.scrollbar.setValue(int(round(start * 1000)))
        finally:
            self._syncing = False
        self._schedule_details()
        self.view_range_changed.emit(start, end)

    def zoom(self: QtTimeline, factor: float, anchor_s: float | None = None) -> None:
        """Zoom in by ``factor`` (> 1 in, < 1 out) keeping ``anchor_s`` (default the centre) in place."""
        start, end = self._view
        span = end - start
        if anchor_s is None:
            anchor_s = start + span / 2
        new_span = min(max(span / factor, MIN_VISIBLE_S), MAX_VISIBLE_S)
        fraction = (anchor_s - start) / span if span > 0 else 0.5
        new_start = anchor_s - fraction * new_span
        self.set_visible_range(new_start, new_start + new_span)

    def _key_zoom_anchor(self: QtTimeline) -> float | None:
        start, end = self._view
        playhead = self.project.playhead_s
        return playhead if start <= playhead <= end else None

    def zoom_in(self: QtTimeline) -> None:
        self.zoom(KEY_ZOOM_STEP, self._key_zoom_anchor())

    def zoom_out(self: QtTimeline) -> None:
        self.zoom(1.0 / KEY_ZOOM_STEP, self._key_zoom_anchor())

    def zoom_to_fit(self: QtTimeline) -> None:
        self.set_visible_range(0.0, self._content_end_s() * 1.02)

    def zoom_to_selection(self: QtTimeline) -> bool:
        """Show the selected time range, else the selected clips (a little margin around them).
        False when nothing is selected."""
        selection = self.project.selection
        if selection.has_time_range:
            lo, hi = selection.start_s, selection.end_s
        else:
            clips = self.project.selected_clips()
            if not clips:
                return False
            lo, hi = min(c.start_s for c in clips), max(c.end_s for c in clips)
        pad = 0.03 * (hi - lo)
        self.set_visible_range(lo - pad, hi + pad)
        return True

    def scroll_by(self: QtTimeline, seconds: float) -> None:
        start, end = self._view
        self.set_visible_range(start + seconds, end + seconds)

    def _on_scrollbar_value_changed(self: QtTimeline, value: int) -> None:
        if self._syncing:
            return
        start, end = self._view
        self.set_visible_range(value / 1000.0, value / 1000.0 + (end - start))

    def _on_overview_region_changed(self: QtTimeline) -> None:
        if self._syncing:
            return
        lo, hi = self.overview_region.getRegion()
        self.set_visible_range(lo, hi)

    def _update_overview_range(self: QtTimeline) -> None:
        total = max(self._content_end_s() * 1.02, self._view[1])
        self.overview_viewbox.setXRange(0.0, total, padding=0.0)

    def _px_per_s(self: QtTimeline) -> float:
        start, end = self._view
        width = self._lanes[0].viewbox.width() if self._lanes else self.ruler_viewbox.width()
        return max(width, 1.0) / (end - start)

    def reveal_clips(self: QtTimeline, clip_ids: list[str]) -> None:
        """Bring clips into view: scroll as little as needed (or zoom out when they are longer
        than the view) and scroll the lanes to the first one's track."""
        spans, first_lane = [], None
        for clip_id in clip_ids:
            for lane in self._lanes:
                block = lane.layer.blocks.get(clip_id)
                if block is not None:
                    spans.append((block[0].start_s, block[0].end_s))
                    first_lane = first_lane or lane
                    break
        if not spans:
            return
        lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
        start, end = self._view
        span = end - start
        every = {clip.id for clip in self.project.clips()}
        if every and every <= set(clip_ids) and hi < FIRST_CLIPS_FILL * span:
            # The project's first clips: the whole project, not a sliver of a 30 s view (a first
            # 2.56 s generation was 40 px wide at the default window size).
            self.zoom_to_fit()
        elif hi - lo > 0.9 * span:
            pad = 0.05 * (hi - lo)
            self.set_visible_range(lo - pad, hi + pad)
        elif lo < start or hi > end:
            new_start = lo - 0.05 * span if lo < start else hi + 0.05 * span - span
            self.set_visible_range(new_start, new_start + span)
        if first_lane is not None:
            self.lanes_scroll.ensureWidgetVisible(first_lane.row, 0, 0)
