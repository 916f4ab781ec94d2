"""Mask painting: the controller that turns timeline gestures into mask commands, and its toolbar.

:class:`MaskPainter` is the timeline's ``mask_handler``: with a mask tool on, each drag on a lane
becomes one shape on the mask of the clip under the pointer (one undo step per stroke, rectangle
or band), shown live on that clip's :class:`~app.plot_items.mask_item.MaskItem` while it is drawn.
It also gives every clip item its overlay (a timeline clip decorator) and keeps the overlays in
step with the :class:`~app.model.mask.MaskStore`.

:class:`QtMaskTools` is the toolbar: tool (edit, brush, eraser, rectangle, time band, frequency
band), brush size and hardness, the selected clip's feather radius, invert and clear.
"""

from __future__ import annotations

import weakref
from typing import Any

import shiboken6

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolBar, QToolButton, QWidget

from app.model.mask import MAX_FEATHER_PX, FreqBand, MaskStore, Rect, Stroke, TimeBand, hz_to_mel
from app.model.mask_commands import SetMaskFeather, add_shape, clear_mask, invert_mask
from app.model.project import Clip, Project
from app.plot_items.mask_item import MaskItem
from app.widgets.greyed import enable_or_say_why
from app.widgets.spin_boxes import SpinBox

#: Mask tools, in toolbar order; "edit" turns painting off (the timeline's own gestures).
MASK_TOOLS = ("edit", "brush", "eraser", "rect", "time_band", "freq_band")
TOOL_LABELS = {
    "edit": ("Edit", "Move, trim and select clips (mask painting off)"),
    "brush": ("Brush", "Paint the region to regenerate"),
    "eraser": ("Eraser", "Erase painted mask"),
    "rect": ("Rectangle", "Drag a time x frequency rectangle"),
    "time_band": ("Time Band", "Drag a full-height time band"),
    "freq_band": ("Freq Band", "Drag a frequency band across the whole clip"),
}
DEFAULT_BRUSH_PX = 24
MAX_BRUSH_PX = 400
DEFAULT_HARDNESS = 0.8


class MaskPainter(QObject):
    """Paints masks from the timeline's :class:`~app.widgets.qt_timeline.MaskGesture` values.

    Signals: ``tool_changed(str)``, ``painted(str clip_id)`` (a shape was committed),
    ``message(str)`` (why a gesture did nothing).
    """

    tool_changed = Signal(str)
    painted = Signal(str)
    message = Signal(str)

    def __init__(self, project: Project, undo_stack: Any, masks: MaskStore, timeline: Any) -> None:
        super().__init__()
        self.project = project
        self.undo_stack = undo_stack
        self.masks = masks
        self.timeline = timeline
        self.tool = "edit"
        self.brush_px = DEFAULT_BRUSH_PX
        self.hardness = DEFAULT_HARDNESS
        self._items: dict[str, weakref.ref] = {}
        self._active: dict[str, Any] | None = None
        masks.events.mask_changed.connect(self._on_masks_mask_changed)
        masks.events.masks_reset.connect(self._on_masks_reset)
        if timeline is not None and hasattr(timeline, "add_clip_decorator"):
            timeline.mask_handler = self
            timeline.add_clip_decorator(self._decorate)
            timeline.tool_changed.connect(self._on_timeline_tool_changed)

    def shutdown(self) -> None:
        self.masks.events.mask_changed.disconnect(self._on_masks_mask_changed)
        self.masks.events.masks_reset.disconnect(self._on_masks_reset)

    # -- tools ---------------------------------------------------------------------------------

    def set_tool(self, tool: str) -> None:
        """One of MASK_TOOLS; any tool but "edit" puts the timeline into its mask mode."""
        if tool not in MASK_TOOLS:
            raise ValueError(f"mask tool must be one of {', '.join(MASK_TOOLS)}, got {tool!r}.")
        self.tool = tool
        if self.timeline is not None and hasattr(self.timeline, "set_tool"):
            wanted = "edit" if tool == "edit" else "mask"
            if self.timeline.tool != wanted:
                self.timeline.set_tool(wanted)
        self.tool_changed.emit(tool)

    def _on_timeline_tool_changed(self, tool: str) -> None:
        if tool != "mask" and self.tool != "edit":  # the timeline's own box/edit tool took over
            self.tool = "edit"
            self.tool_changed.emit("edit")

    def set_brush(self, size_px: int | None = None, hardness: float | None = None) -> None:
        if size_px is not None:
            if not 1 <= size_px <= MAX_BRUSH_PX:
                raise ValueError(f"brush size must be 1 to {MAX_BRUSH_PX} px, got {size_px}.")
            self.brush_px = int(size_px)
        if hardness is not None:
            if not 0 <= hardness <= 1:
                raise ValueError(f"brush hardness must be between 0 and 1, got {hardness}.")
            self.hardness = float(hardness)

    # -- overlays ------------------------------------------------------------------------------

    def _decorate(self, clip_item: Any, clip: Clip) -> None:
        item = MaskItem(self.masks.get(clip.id), clip.total_s, clip_item.layout.scale)
        clip_item.add_overlay(item)
        self._items[clip.id] = weakref.ref(item)

    def mask_item(self, clip_id: str) -> MaskItem | None:
        """The overlay showing this clip's mask on the timeline (None if not shown). A clip the
        timeline draws as a block (out of view, or narrow) gets its detailed item first."""
        item = self._live_item(clip_id)
        if item is None and callable(getattr(self.timeline, "clip_item", None)):
            self.timeline.clip_item(clip_id)
            item = self._live_item(clip_id)
        return item

    def _live_item(self, clip_id: str) -> MaskItem | None:
        ref = self._items.get(clip_id)
        item = ref() if ref is not None else None
        if item is None or not shiboken6.isValid(item) or item.scene() is None:
            return None  # never made, or gone with its clip item
        return item

    def _on_masks_mask_changed(self, clip_id: str, mask: Any) -> None:
        item = self._live_item(clip_id)
        if item is not None:
            item.set_mask(mask)

    def _on_masks_reset(self) -> None:
        for clip_id in list(self._items):
            item = self._live_item(clip_id)
            if item is None:
                del self._items[clip_id]
            else:
                item.set_mask(self.masks.get(clip_id))

    # -- target clip ---------------------------------------------------------------------------

    def clip_at(self, track_id: str, time_s: float) -> Clip | None:
        """The clip under ``time_s`` on a track: a selected one first, else the topmost."""
        try:
            track = self.project.track(track_id)
        except KeyError:
            return None
        under = [c for c in track.clips if c.start_s <= time_s < c.end_s]
        if not under:
            return None
        selected = [c for c in under if c.id in self.project.selection.clip_ids]
        return (selected or under)[-1]

    def target_clip(self) -> Clip | None:
        """The clip that invert / clear / feather act on: the first selected clip, else the clip under
        the playhead on the selected track."""
        clips = self.project.selected_clips()
        if clips:
            return clips[0]
        track = self.project.selected_track()
        return self.clip_at(track.id, self.project.playhead_s) if track is not None else None

    # -- gestures ------------------------------------------------------------------------------

    def mask_gesture(self, gesture: Any) -> None:
        """Handle one MaskGesture from the timeline."""
        if self.tool == "edit":
            return
        if gesture.phase in ("start", "click"):
            self._begin(gesture)
        active = self._active
        if active is None:
            return
        clip = active["clip"]
        t = self._clip_time(clip, gesture.time_s)
        shape = self._shape(active, t, gesture.hz)
        if gesture.phase in ("finish", "click"):
            self._active = None
            self._commit(clip, shape)
        else:
            active["shape"] = shape
            item = self.mask_item(clip.id)
            if item is not None:
                item.preview(shape)

    def _begin(self, gesture: Any) -> None:
        self._active = None
        clip = self.clip_at(gesture.track_id, gesture.start_time_s)
        if clip is None:
            self.message.emit("Paint on a clip: there is none under the pointer on this track.")
            return
        if not gesture.in_band:
            self.message.emit("Masks are painted on the spectrogram: start on it (view Spectrogram or Both).")
            return
        t0 = self._clip_time(clip, gesture.start_time_s)
        self._active = {"clip": clip, "t0": t0, "f0": gesture.start_hz, "shape": None,
                        "radius_s": self.brush_px / 2 * gesture.s_per_px,
                        "radius_mel": self._radius_mel(gesture.start_hz, self.brush_px / 2 * gesture.y_per_px)}

    def _radius_mel(self, hz: float, radius_y: float) -> float:
        """A lane-y radius at ``hz`` in htk mel (the lane's scale may be slaney)."""
        scale = self.timeline.frequency_scale
        y = scale.y_of_hz(hz)
        other = scale.hz_of_y(y + radius_y) if y + radius_y <= scale.height else scale.hz_of_y(y - radius_y)
        return max(abs(float(hz_to_mel(other)) - float(hz_to_mel(hz))), 1e-3)

    @staticmethod
    def _clip_time(clip: Clip, timeline_s: float) -> float:
        """Timeline seconds -> seconds in the clip's audio, clamped to the audio."""
        return min(max(timeline_s - clip.start_s + clip.offset_s, 0.0), clip.total_s)

    def _shape(self, active: dict[str, Any], t: float, hz: float) -> Any:
        t0, f0 = active["t0"], active["f0"]
        tool = self.tool
        try:
            if tool in ("brush", "eraser"):
                stroke = active["shape"]
                if stroke is None:
                    return Stroke(((t0, f0),), active["radius_s"], active["radius_mel"], self.hardness,
                                  erase=tool == "eraser")
                if stroke.points[-1] == (t, hz):
                    return stroke
                return stroke.with_point(t, hz)
            (lo_t, hi_t), (lo_f, hi_f) = sorted((t0, t)), sorted((f0, hz))
            if tool == "rect":
                return Rect(lo_t, hi_t, lo_f, hi_f)
            if tool == "time_band":
                return TimeBand(lo_t, hi_t)
            return FreqBand(lo_f, hi_f)
        except ValueError:  # a rectangle or band with no extent yet
            return None

    def _commit(self, clip: Clip, shape: Any) -> None:
        item = self.mask_item(clip.id)
        if shape is None or not self.project.has_clip(clip.id):
            if item is not None:
                item.preview(None)
            return
        if item is not None:
            item.preview(shape)  # the overlay keeps this raster when the command lands
        try:
            self.undo_stack.push_command(add_shape(self.project, self.masks, clip.id, shape))
        finally:
            if item is not None and item.previewing:
                item.preview(None)
        self.painted.emit(clip.id)

    # -- whole-mask edits ----------------------------------------------------------------------

    def _on_target(self, make: Any) -> bool:
        clip = self.target_clip()
        if clip is None:
            self.message.emit("Select a clip first.")
            return False
        self.undo_stack.push_command(make(self.project, self.masks, clip.id))
        return True

    def invert(self) -> bool:
        """Invert the target clip's mask (one undo step)."""
        return self._on_target(invert_mask)

    def clear(self) -> bool:
        """Clear the target clip's mask (one undo step; nothing happens if it is already empty)."""
        clip = self.target_clip()
        if clip is not None and self.masks.get(clip.id).is_empty:
            return False
        return self._on_target(clear_mask)

    def set_feather(self, feather_px: int) -> bool:
        """Set the target clip's feather radius (consecutive changes merge into one undo step)."""
        clip = self.target_clip()
        if clip is None or self.masks.get(clip.id).feather_px == feather_px:
            return False
        self.undo_stack.push_command(SetMaskFeather(self.project, self.masks, clip.id, feather_px))
        return True


class QtMaskTools(QToolBar):
    """The mask toolbar over a :class:`MaskPainter`: tools, brush size and hardness, feather,
    invert, clear. It follows the painter's tool and the selected clip's feather. Each control
    is its own toolbar item, so a narrow window tucks the last ones into the overflow menu."""

    def __init__(self, painter: MaskPainter, parent: QWidget | None = None) -> None:
        super().__init__("Mask Tools", parent)
        self.setObjectName("maskToolbar")
        self.painter = painter
        self.tool_buttons: dict[str, QToolButton] = {}
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
        self.addWidget(QLabel(" Mask: "))
        for tool in MASK_TOOLS:
            text, tip = TOOL_LABELS[tool]
            button = QToolButton(text=text, checkable=True, toolTip=tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setObjectName(f"maskTool_{tool}")
            self.tool_group.addButton(button)
            self.tool_buttons[tool] = button
            button.toggled.connect(lambda on, t=tool: on and self.painter.tool != t and self.painter.set_tool(t))
            self.addWidget(button)
        self.size_spin = SpinBox(minimum=1, maximum=MAX_BRUSH_PX, value=painter.brush_px, suffix=" px",
                                  toolTip="Brush size on screen ([ and ] change it)")
        self.hardness_spin = SpinBox(minimum=0, maximum=100, value=round(painter.hardness * 100), suffix=" %",
                                      toolTip="Brush hardness: 100 % is a hard edge, less fades to the edge")
        self.feather_spin = SpinBox(minimum=0, maximum=MAX_FEATHER_PX, suffix=" px",
                                     toolTip="Feather radius of the selected clip's mask (spectrogram pixels)")
        self.invert_button = QToolButton(text="Invert", toolTip="Invert the selected clip's mask")
        self.clear_button = QToolButton(text="Clear", toolTip="Clear the selected clip's mask")
        self.addSeparator()
        for label, widget in (("Size", self.size_spin), ("Hardness", self.hardness_spin), ("Feather", self.feather_spin)):
            widget.setMaximumWidth(widget.fontMetrics().horizontalAdvance("0000 px") + 36)
            # Label and box in one piece: on a narrow window "Feather" stayed on the toolbar while
            # its box went behind the "more" button.
            pair = QWidget()
            row = QHBoxLayout(pair)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(0)
            row.addWidget(QLabel(f" {label} ", buddy=widget))  # the buddy names the box in messages
            row.addWidget(widget)
            self.addWidget(pair)
        self.addWidget(self.invert_button)
        self.addWidget(self.clear_button)
        self.size_spin.valueChanged.connect(lambda v: self.painter.set_brush(size_px=v))
        self.hardness_spin.valueChanged.connect(lambda v: self.painter.set_brush(hardness=v / 100))
        self.feather_spin.valueChanged.connect(self._on_feather_spin_value_changed)
        self.invert_button.clicked.connect(lambda: self.painter.invert())
        self.clear_button.clicked.connect(lambda: self.painter.clear())
        painter.tool_changed.connect(self._on_painter_tool_changed)
        painter.project.events.selection_changed.connect(self._on_project_selection_changed)
        painter.masks.events.mask_changed.connect(self._on_masks_mask_changed)
        self.destroyed.connect(lambda *_: self._disconnect(painter))
        self._on_painter_tool_changed(painter.tool)
        self._sync_feather()

    def _disconnect(self, painter: MaskPainter) -> None:
        painter.project.events.selection_changed.disconnect(self._on_project_selection_changed)
        painter.masks.events.mask_changed.disconnect(self._on_masks_mask_changed)

    def _on_painter_tool_changed(self, tool: str) -> None:
        button = self.tool_buttons[tool]
        if not button.isChecked():
            button.blockSignals(True)
            button.setChecked(True)
            button.blockSignals(False)

    def _on_feather_spin_value_changed(self, value: int) -> None:
        self.painter.set_feather(value)

    def _on_project_selection_changed(self, selection: Any) -> None:
        self._sync_feather()

    def _on_masks_mask_changed(self, clip_id: str, mask: Any) -> None:
        self._sync_feather()

    def _sync_feather(self) -> None:
        clip = self.painter.target_clip()
        enable_or_say_why(self.feather_spin, None if clip is not None else "Select a clip first: the feather is its mask's")
        if clip is not None:
            self.feather_spin.blockSignals(True)
            self.feather_spin.setValue(self.painter.masks.get(clip.id).feather_px)
            self.feather_spin.blockSignals(False)
