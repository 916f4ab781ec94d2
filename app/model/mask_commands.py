"""Undoable mask edits (Qt-free): one stroke, rectangle or band is one undo step; so are invert,
clear and a feather change (consecutive feather changes of one clip merge).

Masks are immutable values, so every command keeps the clip's mask before and after and undo puts
the very same value back.
"""

from __future__ import annotations

from app.model.commands import Command
from app.model.mask import FreqBand, Mask, MaskStore, Rect, Shape, Stroke, TimeBand
from app.model.project import Project

SET_MASK_FEATHER_ID = 101

_SHAPE_TEXT = {Stroke: "Paint mask", Rect: "Mask rectangle", TimeBand: "Mask time band", FreqBand: "Mask frequency band"}


class SetMask(Command):
    """Give a clip a new mask; undo restores the old one. The clip must be in the project now."""

    def __init__(self, project: Project, masks: MaskStore, clip_id: str, mask: Mask, *, text: str = "Edit mask") -> None:
        _, clip = project.find_clip(clip_id)  # KeyError naming the id for an unknown clip
        super().__init__(project, f"{text} on {clip.name!r}")
        if not isinstance(mask, Mask):
            raise ValueError(f"SetMask: expected a Mask, got {type(mask).__name__}")
        self.masks = masks
        self.clip_id = clip_id
        self.old = masks.get(clip_id)
        self.new = mask

    def _redo(self) -> None:
        self.masks.set_mask(self.clip_id, self.new)

    def _undo(self) -> None:
        self.masks.set_mask(self.clip_id, self.old)


def add_shape(project: Project, masks: MaskStore, clip_id: str, shape: Shape) -> SetMask:
    """The command that adds one stroke / rectangle / band to a clip's mask."""
    text = "Erase mask" if shape.erase else _SHAPE_TEXT.get(type(shape), "Edit mask")
    return SetMask(project, masks, clip_id, masks.get(clip_id).with_shape(shape), text=text)


def invert_mask(project: Project, masks: MaskStore, clip_id: str) -> SetMask:
    return SetMask(project, masks, clip_id, masks.get(clip_id).inverted(), text="Invert mask")


def clear_mask(project: Project, masks: MaskStore, clip_id: str) -> SetMask:
    return SetMask(project, masks, clip_id, masks.get(clip_id).cleared(), text="Clear mask")


class SetMaskFeather(SetMask):
    """Change a clip's feather radius; consecutive changes of one clip merge into one step."""

    id = SET_MASK_FEATHER_ID

    def __init__(self, project: Project, masks: MaskStore, clip_id: str, feather_px: int) -> None:
        super().__init__(project, masks, clip_id, masks.get(clip_id).with_feather(feather_px), text="Set mask feather")

    def merge_with(self, other: Command) -> bool:
        if not isinstance(other, SetMaskFeather) or other.clip_id != self.clip_id:
            return False
        self.new = other.new
        return True
