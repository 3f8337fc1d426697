"""Reviews of a ticket's work, their inline comments, and the diff captured when it was merged.

A ``changes_requested`` review is also the agent's next assignment: ``feedback_message`` turns
the review into the message the feedback session starts with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import InvalidInput
from .shapes import Shape
from .tickets import clean_markdown


class ReviewState(StrEnum):
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    COMMENTED = "commented"


@dataclass(frozen=True)
class ReviewCommentDraft:
    """An inline comment as submitted, before it is checked against the diff."""

    path: str
    line: int
    body: str


class ReviewCommentView(Shape):
    id: int
    review_id: int
    path: str
    line: int
    body: str
    created_at: str


class ReviewView(Shape):
    id: int
    ticket_id: int
    user_id: int | None
    user_name: str | None  # the reviewer's display name (None once they are removed)
    state: ReviewState
    body: str
    created_at: str
    comments: list[ReviewCommentView]


@dataclass(frozen=True)
class ReviewComment:
    id: int
    review_id: int
    path: str
    line: int
    body: str
    created_at: str

    def shape(self) -> ReviewCommentView:
        return ReviewCommentView(
            id=self.id,
            review_id=self.review_id,
            path=self.path,
            line=self.line,
            body=self.body,
            created_at=self.created_at,
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


@dataclass(frozen=True)
class Review:
    id: int
    ticket_id: int
    user_id: int | None
    state: ReviewState
    body: str
    created_at: str
    comments: tuple[ReviewComment, ...]
    user_name: str | None = None  # the reviewer's display name (None once they are removed)

    def view(self) -> dict[str, Any]:
        return ReviewView(
            id=self.id,
            ticket_id=self.ticket_id,
            user_id=self.user_id,
            user_name=self.user_name,
            state=self.state,
            body=self.body,
            created_at=self.created_at,
            comments=[c.shape() for c in self.comments],
        ).model_dump(mode="json")


@dataclass(frozen=True)
class MergeDiff:
    """The default branch's diff across a ticket's merge, kept after the branch is gone."""

    ticket_id: int
    strategy: str
    merged_sha: str
    diff: str
    stats: dict[str, Any]
    created_at: str
    #: The files whose patch text ``diff`` leaves out (too large), with their counts and why.
    not_shown: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "strategy": self.strategy,
            "merged_sha": self.merged_sha,
            "diff": self.diff,
            "not_shown": self.not_shown,
            "created_at": self.created_at,
        }

    def stats_view(self) -> dict[str, Any]:
        return {"merged_sha": self.merged_sha, **self.stats}

    def stats_json(self) -> str:
        return json.dumps(self.stats)


def clean_review(
    state: ReviewState, body: str, comments: list[ReviewCommentDraft]
) -> tuple[str, list[ReviewCommentDraft]]:
    """Bodies within limits; anything but an approval must say something."""
    text = clean_markdown(body, "body")
    cleaned = []
    for i, comment in enumerate(comments):
        item = f"comments.{i}"
        if comment.line < 1:
            raise InvalidInput(f"{item}.line: must be 1 or more", field=f"{item}.line")
        note = clean_markdown(comment.body, f"{item}.body", required=True)
        cleaned.append(ReviewCommentDraft(comment.path, comment.line, note))
    if state != ReviewState.APPROVED and not text.strip() and not cleaned:
        raise InvalidInput(f"body: a {state.value} review needs a body or inline comments", "body")
    return text, cleaned


def feedback_message(review: Review) -> str:
    """What the agent is told when a review asks for changes."""
    parts = ["A reviewer requested changes to your work on this ticket. Address every point."]
    if review.body.strip():
        parts.append(f"Review:\n{review.body.strip()}")
    if review.comments:
        lines = [f"- {c.path}:{c.line}: {c.body.strip()}" for c in review.comments]
        parts.append("Inline comments (file:line refer to the current diff):\n" + "\n".join(lines))
    return "\n\n".join(parts)
