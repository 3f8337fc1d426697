"""A plan suggestion, applied on the client.

The server answers where a suggestion goes (``passage``; empty: at the end) and its ``text``; the
client builds the new body and saves it with one ``PUT``, as the API intends. Shared by
``codality plan suggest`` and the TUI's plans screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def apply_suggestion(body: str, suggestion: Mapping[str, Any]) -> str | None:
    """``body`` with the suggestion's passage replaced (once) by its text, or its text added at
    the end; None when the passage is no longer in the body (an earlier change took it)."""
    passage = str(suggestion.get("passage") or "")
    text = str(suggestion.get("text") or "")
    if not passage.strip():
        return body.rstrip("\n") + ("\n\n" if body.strip() else "") + text + "\n"
    if passage not in body:
        return None
    return body.replace(passage, text, 1)
