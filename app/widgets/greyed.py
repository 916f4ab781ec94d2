"""A greyed control says why when hovered: its tooltip is the reason while it is disabled, and its
own tooltip comes back when it is enabled again (buttons that were greyed with no word: the Sound
Classes' Use prompt and Generate, the Pictures dock's buttons, the mask Feather box, the model
manager's Delete and Make default)."""

from __future__ import annotations

from typing import Any

_TIP = "enabledTip"


def enable_or_say_why(control: Any, why_not: str | None) -> None:
    """Enable ``control`` (a widget or an action) when ``why_not`` is None, else grey it with
    ``why_not`` as its tooltip."""
    tip = control.property(_TIP)
    if tip is None:
        tip = control.toolTip()
        control.setProperty(_TIP, tip)
    control.setEnabled(why_not is None)
    control.setToolTip(tip if why_not is None else why_not)
