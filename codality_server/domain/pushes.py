"""A local merge's push to ``origin``, as its ticket reports it.

The merge and the ticket becoming ``done`` are one step; the push comes after, outside every
lock, and may fail or time out. Whatever it did is kept with the merge and shown on the ticket,
with the way to push again (``codality ticket push N``) whenever the work is not on the remote.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .shapes import Shape

REMOTE = "origin"


class PushState(StrEnum):
    PENDING = "pending"  # merged; the push has not ended (or the server stopped during it)
    PUSHED = "pushed"
    FAILED = "failed"
    NOT_PUSHED = "not_pushed"  # push off for this merge, or push_after_merge off
    NO_REMOTE = "no_remote"  # the repository has no origin to push to


RETRYABLE = frozenset({PushState.PENDING, PushState.FAILED, PushState.NOT_PUSHED})


class PushRetry(Shape):
    """How to push again: the CLI command and the API request."""

    command: str
    request: str


class PushView(Shape):
    """How a ticket's merge went to ``origin``; ``pushed`` is None while the push runs."""

    pushed: bool | None
    state: PushState
    remote: str
    branch: str
    detail: str | None
    at: str | None
    retry: PushRetry | None


@dataclass(frozen=True)
class PushReport:
    state: PushState
    branch: str
    detail: str | None = None
    at: str | None = None

    @property
    def pushed(self) -> bool | None:
        """True on the remote, False not, None while the push is under way."""
        if self.state is PushState.PENDING:
            return None
        return self.state is PushState.PUSHED

    def summary(self) -> str:
        """In words, for a message: ``pushed main to origin`` or why not."""
        if self.state is PushState.PUSHED:
            return f"pushed {self.branch} to {REMOTE}"
        if self.state is PushState.PENDING:
            return f"not pushed to {REMOTE} yet"
        return f"not pushed to {REMOTE}: {self.detail or self.state.value}"

    def view(self, slug: str, number: int) -> dict[str, Any]:
        retry = (
            PushRetry(
                command=f"codality ticket push {number}",
                request=f"POST /api/projects/{slug}/tickets/{number}/push",
            )
            if self.state in RETRYABLE
            else None
        )
        return PushView(
            pushed=self.pushed,
            state=self.state,
            remote=REMOTE,
            branch=self.branch,
            detail=self.detail,
            at=self.at,
            retry=retry,
        ).model_dump(mode="json")
