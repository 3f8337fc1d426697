"""Reviews, their inline comments, and captured merge diffs."""

from __future__ import annotations

import json
from itertools import groupby

from codality_server.domain.pushes import RETRYABLE, PushReport, PushState
from codality_server.domain.reviews import (
    MergeDiff,
    Review,
    ReviewComment,
    ReviewCommentDraft,
    ReviewState,
)

from .database import Connection, Row, fetchall, fetchone

_RETRYABLE = ", ".join(f"'{state.value}'" for state in sorted(RETRYABLE))
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
        "INSERT INTO merge_diffs(ticket_id, strategy, merged_sha, diff, stats, not_shown,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(ticket_id) DO UPDATE SET"
        " strategy = excluded.strategy, merged_sha = excluded.merged_sha,"
        " diff = excluded.diff, stats = excluded.stats, not_shown = excluded.not_shown,"
        " created_at = excluded.created_at,"
        " push_state = NULL, push_detail = NULL, push_branch = NULL, pushed_at = NULL",
        (
            merge_diff.ticket_id,
            merge_diff.strategy,
            merge_diff.merged_sha,
            merge_diff.diff,
            merge_diff.stats_json(),
            json.dumps(merge_diff.not_shown),
            merge_diff.created_at,
        ),
    )


async def record_push(conn: Connection, ticket_ids: list[int], report: PushReport) -> None:
    """How the merges of ``ticket_ids`` went to origin (their merge diffs are kept already)."""
    await conn.executemany(
        "UPDATE merge_diffs SET push_state = ?, push_detail = ?, push_branch = ?, pushed_at = ?"
        " WHERE ticket_id = ?",
        [(report.state.value, report.detail, report.branch, report.at, t) for t in ticket_ids],
    )


async def push_report(conn: Connection, ticket_id: int) -> PushReport | None:
    row = await fetchone(
        conn,
        "SELECT push_state, push_branch, push_detail, pushed_at FROM merge_diffs"
        " WHERE ticket_id = ? AND push_state IS NOT NULL",
        (ticket_id,),
    )
    if row is None:
        return None
    return PushReport(
        PushState(row["push_state"]), row["push_branch"], row["push_detail"], row["pushed_at"]
    )


async def unpushed_merges(conn: Connection, project_id: int, branch: str) -> list[tuple[int, str]]:
    """(ticket id, merged commit) of the project's local merges into ``branch`` not yet known to
    be on origin."""
    rows = await fetchall(
        conn,
        "SELECT m.ticket_id, m.merged_sha FROM merge_diffs m JOIN tickets t ON t.id = m.ticket_id"
        f" WHERE t.project_id = ? AND m.push_branch = ? AND m.push_state IN ({_RETRYABLE})",
        (project_id, branch),
    )
    return [(row["ticket_id"], row["merged_sha"]) for row in rows]


async def get_merge_diff(conn: Connection, ticket_id: int) -> MergeDiff | None:
    row = await fetchone(
        conn,
        "SELECT ticket_id, strategy, merged_sha, diff, stats, not_shown, created_at"
        " FROM merge_diffs"
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
        not_shown=json.loads(row["not_shown"]),
    )
