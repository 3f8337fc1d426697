"""Where notifications show: never over a text input.

Textual stacks toasts at the bottom right, above the footer — exactly where the ticket screen's
message box, the discovery chat's input and a form's lower fields are. Whenever the screen's
layout changes (a toast comes or goes) or the focus moves, the app measures the toast stack and
the screen's visible inputs, and moves the stack to the top right (under the title bar) when the
bottom would cover an input and the top would not; when both would, the side that leaves the
focused input clear wins.
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Input, TextArea

ON_TOP = "-toasts-top"  # the screen class that moves its toast stack to the top


def input_regions(screen: Screen[Any]) -> list[Region]:
    """Where the screen's visible text inputs are."""
    return [
        widget.region
        for widget in screen.query("Input, TextArea")
        if isinstance(widget, Input | TextArea) and widget.display and widget.region.area
    ]


def stack_regions(screen: Screen[Any]) -> tuple[Region, Region] | None:
    """Where the toasts shown now would be at the bottom and at the top; None without any.

    Measured from the toasts as laid out (their column and the height of the stack, a margin
    line above each), placed as the two positions put them: above the footer line, or under
    the title bar.
    """
    # Textual's own widgets, found by name (their module is private).
    rack = next(iter(screen.query_children("ToastRack")), None)
    toasts = [toast.region for toast in rack.query("Toast") if toast.region.area] if rack else []
    if not toasts:
        return None
    x = min(region.x for region in toasts)
    width = max(region.right for region in toasts) - x
    height = min(max(r.bottom for r in toasts) - min(r.y for r in toasts) + 1, screen.size.height)
    bottom = Region(x, screen.size.height - 1 - height, width, height)
    return bottom, Region(x, 1, width, height)


def toasts_on_top(screen: Screen[Any]) -> bool | None:
    """Whether the stack should go to the top; None when there is nothing to place."""
    stacks = stack_regions(screen)
    if stacks is None:
        return None
    bottom, top = stacks
    inputs = input_regions(screen)
    if not any(bottom.overlaps(region) for region in inputs):
        return False
    if not any(top.overlaps(region) for region in inputs):
        return True
    focused = screen.focused
    return focused is not None and bottom.overlaps(focused.region)
