"""Compare A/B: flip a clip between its audio before and after its last replacement (a Re-vocode,
an Upsample, any edit that replaced it in place), to hear the two while playing.

The flip is the undo stack's own step (undo to hear A, redo to hear B), so nothing else in the
project changes and the history stays as it was; it is offered only while that replacement is
the last step (B) or the next redo (A). Playback remixes as the clip changes, so a looped
selection switches between the two versions in place. Qt-free: ``stack`` needs ``index()``,
``undo()``, ``redo()`` and ``model_command(index)`` (:class:`app.undo.UndoStack`).
"""

from __future__ import annotations

from typing import Any

from app.model.commands import CommandGroup, ReplaceClipAudio


def _replaces(command: Any, clip_id: str) -> ReplaceClipAudio | None:
    """The ReplaceClipAudio of ``clip_id`` that ``command`` is or holds first, else None."""
    if isinstance(command, CommandGroup):
        command = command.commands[0] if command.commands else None
    return command if isinstance(command, ReplaceClipAudio) and command.clip_id == clip_id else None


def _version(command: ReplaceClipAudio, fields: dict[str, Any]) -> str:
    """What makes a version: its vocoder and upsampler (from its recipe), and its rate."""
    recipe = fields.get("recipe")
    parts = []
    if recipe is not None:
        if recipe.vocoder:  # None when nothing vocoded it (an upsampled file)
            parts.append(recipe.vocoder)
        upsampler = recipe.params.get("upsampler") or (recipe.model_id if recipe.task == "upsample" else "")
        if upsampler:
            parts.append(f"upsampled by {upsampler}")
    parts.append(f"{fields['sample_rate_hz'] / 1000:g} kHz")
    return ", ".join(parts)


def toggle(stack: Any, clip_id: str) -> str:
    """Flip ``clip_id`` between A (before its last replacement) and B (after); returns what the
    user now hears. Raises ValueError (one line) when the clip's last step is not a replacement."""
    index = stack.index()
    after = _replaces(stack.model_command(index - 1), clip_id) if index > 0 else None
    if after is not None:
        stack.undo()
        return f"A/B: hearing A, before '{after.text}' ({_version(after, after.old)})"
    before = _replaces(stack.model_command(index), clip_id)
    if before is not None:
        stack.redo()
        return f"A/B: hearing B, after '{before.text}' ({_version(before, before.new)})"
    raise ValueError("Nothing to compare: the selected clip's last step did not replace its audio "
                     "(Re-vocode or Upsample it first).")
