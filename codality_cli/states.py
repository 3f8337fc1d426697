"""The words a person reads for the API's states: one vocabulary for the CLI and the TUI.

The API says ``in_review``, ``timed_out``, ``changes_requested``: scripts read those (piped output,
``--json``) and type them (``codality ticket status 3 in_review``). A person reads them as words —
``in review``, ``timed out`` — in the CLI's tables and messages and on the board's columns and
cards alike, all through ``state_words``, so the same state never reads two ways.
"""

from __future__ import annotations


def state_words(state: str) -> str:
    """``in_review`` → ``in review``: a status, a run's end, a review's verdict in words."""
    return state.replace("_", " ")


def state_title(state: str) -> str:
    """``in_review`` → ``In review``: the same words heading a board column."""
    words = state_words(state)
    return words[:1].upper() + words[1:]
