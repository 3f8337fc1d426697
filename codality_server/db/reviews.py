"""Reviews, their inline comments, and captured merge diffs."""

from __future__ import annotations

import json
from itertools import groupby

from codality_server.domain.reviews import (
    MergeDiff,
    Review,
    ReviewComment,
    ReviewCommentDraft,
    ReviewState,
)

from .database import Connection, Row, fetchall, fetchone

_COMMENT_COLUMNS = "c.id, c.review_id, c.path, c.line, c.body, c.created_at"


def _comment(row: Row) -> ReviewComment:
    return ReviewComment(
        id=row["id"],
        review_id=row["review_id"],
        path=row["path"],
        line=row["line"],
        body=row["body"],
        created_at=row["created_at"],
    )


def _review(row: Row, comments: tuple[ReviewComment, ...], user_name: str | None = None) -> Review:
    return Review(
        id=row["id"],
        ticket_id=row["ticket_id"],
        user_id=row["user_id"],
        state=ReviewState(row["state"]),
        body=row["body"],
        created_at=row["created_at"],
        comments=comments,
        user_name=user_name,
    )


async def insert_review(
    conn: Connection,
    ticket_id: int,
    user_id: int | None,
    state: ReviewState,
    body: str,
    comments: list[ReviewCommentDraft],
    now: str,
) -> Review:
    row = await fetchone(
        conn,
        "INSERT INTO reviews(ticket_id, user_id, state, body, created_at) VALUES (?, ?, ?, ?, ?)"
        " RETURNING id, ticket_id, user_id, state, body, created_at",
        (ticket_id, user_id, state.value, body, now),
    )
    assert row is not None
    saved = []
    for draft in comments:
        comment_row = await fetchone(
            conn,
            "INSERT INTO review_comments(review_id, path, line, body, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id, review_id, path, line, body, created_at",
            (row["id"], draft.path, draft.line, draft.body, now),
        )
        assert comment_row is not None
        saved.append(_comment(comment_row))
    named = await fetchone(conn, "SELECT name FROM users WHERE id = ?", (user_id,))
    return _review(row, tuple(saved), named["name"] if named else None)


async def list_review_comments(conn: Connection, ticket_id: int) -> list[ReviewComment]:
    """Every inline comment of the ticket's reviews, oldest first."""
    rows = await fetchall(
        conn,
        f"SELECT {_COMMENT_COLUMNS} FROM review_comments c JOIN reviews r ON r.id = c.review_id"
        " WHERE r.ticket_id = ? ORDER BY c.id",
        (ticket_id,),
    )
    return [_comment(r) for r in rows]


async def list_reviews(conn: Connection, ticket_id: int) -> list[Review]:
    """The ticket's reviews with their inline comments, oldest first."""
    rows = await fetchall(
        conn,
        "SELECT r.id, r.ticket_id, r.user_id, r.state, r.body, r.created_at, u.name AS user_name"
        " FROM reviews r LEFT JOIN users u ON u.id = r.user_id WHERE r.ticket_id = ? ORDER BY r.id",
        (ticket_id,),
    )
    comments = {
        review_id: tuple(group)
        for review_id, group in groupby(
            await list_review_comments(conn, ticket_id), key=lambda c: c.review_id
        )
    }
    return [_review(r, comments.get(r["id"], ()), r["user_name"]) for r in rows]


async def save_merge_diff(conn: Connection, merge_diff: MergeDiff) -> None:
    """Keep a ticket's merge diff; a later merge of the same ticket replaces it."""
    await conn.execute(
        "INSERT INTO merge_diffs(ticket_id, strategy, merged_sha, diff, stats, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(ticket_id) DO UPDATE SET"
        " strategy = excluded.strategy, merged_sha = excluded.merged_sha,"
        " diff = excluded.diff, stats = excluded.stats, created_at = excluded.created_at",
        (
            merge_diff.ticket_id,
            merge_diff.strategy,
            merge_diff.merged_sha,
            merge_diff.diff,
            merge_diff.stats_json(),
            merge_diff.created_at,
        ),
    )


async def get_merge_diff(conn: Connection, ticket_id: int) -> MergeDiff | None:
    row = await fetchone(
        conn,
        "SELECT ticket_id, strategy, merged_sha, diff, stats, created_at FROM merge_diffs"
        " WHERE ticket_id = ?",
        (ticket_id,),
    )
    if row is None:
        return None
    return MergeDiff(
        ticket_id=row["ticket_id"],
        strategy=row["strategy"],
        merged_sha=row["merged_sha"],
        diff=row["diff"],
        stats=json.loads(row["stats"]),
        created_at=row["created_at"],
    )
