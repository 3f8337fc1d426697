"""Pull requests, their check runs and comments, and the webhook delivery log."""

from __future__ import annotations

from typing import Any

from codality_server.domain.github import (
    CheckRun,
    DeliveryStatus,
    PrState,
    PullRequest,
    PullRequestCommentView,
    ReviewState,
    WebhookDelivery,
)
from codality_server.domain.tickets import Ticket

from .database import Connection, Row, fetchall, fetchone
from .tickets import _COLUMNS as TICKET_COLUMNS
from .tickets import _ticket as ticket_from_row

_PR_COLUMNS = (
    "p.id, p.ticket_id, p.project_id, p.owner, p.repo, p.number, p.url, p.title, p.state,"
    " p.head_branch, p.head_sha, p.base_branch, p.review_state, p.checks_passed,"
    " p.checks_failed, p.checks_pending, p.auto_retry_count, p.merged_sha, p.created_at,"
    " p.updated_at, p.closed_at, p.ci_handled_sha, t.number AS ticket_number"
)
_PR_FROM = "FROM pull_requests p JOIN tickets t ON t.id = p.ticket_id"
_PR_UPDATABLE = {
    "title",
    "base_branch",
    "state",
    "head_sha",
    "review_state",
    "checks_passed",
    "checks_failed",
    "checks_pending",
    "auto_retry_count",
    "merged_sha",
    "closed_at",
    "ci_handled_sha",
}


def _pr(row: Row) -> PullRequest:
    return PullRequest(
        id=row["id"],
        ticket_id=row["ticket_id"],
        project_id=row["project_id"],
        owner=row["owner"],
        repo=row["repo"],
        number=row["number"],
        url=row["url"],
        title=row["title"],
        state=PrState(row["state"]),
        head_branch=row["head_branch"],
        head_sha=row["head_sha"],
        base_branch=row["base_branch"],
        review_state=ReviewState(row["review_state"]),
        checks_passed=row["checks_passed"],
        checks_failed=row["checks_failed"],
        checks_pending=row["checks_pending"],
        auto_retry_count=row["auto_retry_count"],
        merged_sha=row["merged_sha"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
        ticket_number=row["ticket_number"],
        ci_handled_sha=row["ci_handled_sha"],
    )


async def pr_for_ticket(conn: Connection, ticket_id: int) -> PullRequest | None:
    row = await fetchone(
        conn, f"SELECT {_PR_COLUMNS} {_PR_FROM} WHERE p.ticket_id = ?", (ticket_id,)
    )
    return _pr(row) if row else None


async def pr_by_number(conn: Connection, owner: str, repo: str, number: int) -> PullRequest | None:
    row = await fetchone(
        conn,
        f"SELECT {_PR_COLUMNS} {_PR_FROM} WHERE p.owner = ? AND p.repo = ? AND p.number = ?",
        (owner, repo, number),
    )
    return _pr(row) if row else None


async def open_prs_for_sha(conn: Connection, owner: str, repo: str, sha: str) -> list[PullRequest]:
    rows = await fetchall(
        conn,
        f"SELECT {_PR_COLUMNS} {_PR_FROM} WHERE p.owner = ? AND p.repo = ? AND p.head_sha = ?"
        " AND p.state = 'open'",
        (owner, repo, sha),
    )
    return [_pr(row) for row in rows]


async def prs_for_project(conn: Connection, project_id: int) -> list[PullRequest]:
    rows = await fetchall(
        conn,
        f"SELECT {_PR_COLUMNS} {_PR_FROM} WHERE p.project_id = ? ORDER BY p.number",
        (project_id,),
    )
    return [_pr(row) for row in rows]


async def save_pr(
    conn: Connection,
    *,
    ticket_id: int,
    project_id: int,
    owner: str,
    repo: str,
    number: int,
    url: str,
    title: str,
    head_branch: str,
    head_sha: str,
    base_branch: str,
    now: str,
) -> PullRequest:
    """Record the ticket's PR; a ticket whose earlier PR was closed gets the new one instead."""
    await conn.execute("DELETE FROM pull_requests WHERE ticket_id = ?", (ticket_id,))
    await conn.execute(
        "INSERT INTO pull_requests(ticket_id, project_id, owner, repo, number, url, title, state,"
        " head_branch, head_sha, base_branch, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)"
        " ON CONFLICT(owner, repo, number) DO UPDATE SET ticket_id = excluded.ticket_id,"
        " state = 'open', head_sha = excluded.head_sha, updated_at = excluded.updated_at",
        (
            ticket_id,
            project_id,
            owner,
            repo,
            number,
            url,
            title,
            head_branch,
            head_sha,
            base_branch,
            now,
            now,
        ),
    )
    found = await pr_for_ticket(conn, ticket_id)
    assert found is not None
    return found


async def update_pr(conn: Connection, pr_id: int, now: str, **fields: Any) -> PullRequest | None:
    assert set(fields) <= _PR_UPDATABLE, f"unexpected fields {set(fields) - _PR_UPDATABLE}"
    values = [v.value if hasattr(v, "value") else v for v in fields.values()]
    assignments = "".join(f"{name} = ?, " for name in fields)
    await conn.execute(
        f"UPDATE pull_requests SET {assignments}updated_at = ? WHERE id = ?",
        (*values, now, pr_id),
    )
    row = await fetchone(conn, f"SELECT {_PR_COLUMNS} {_PR_FROM} WHERE p.id = ?", (pr_id,))
    return _pr(row) if row else None


# --- check runs ---------------------------------------------------------------------------


async def save_check_runs(conn: Connection, pr_id: int, runs: list[CheckRun], now: str) -> None:
    await conn.executemany(
        "INSERT INTO pr_check_runs(pr_id, github_id, head_sha, name, status, conclusion, app,"
        " title, details_url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(pr_id, github_id) DO UPDATE SET status = excluded.status,"
        " conclusion = excluded.conclusion, title = excluded.title,"
        " details_url = excluded.details_url, updated_at = excluded.updated_at",
        [
            (
                pr_id,
                r.github_id,
                r.head_sha,
                r.name,
                r.status,
                r.conclusion,
                r.app,
                r.title,
                r.details_url,
                now,
            )
            for r in runs
        ],
    )


async def check_runs(conn: Connection, pr_id: int, head_sha: str) -> list[CheckRun]:
    rows = await fetchall(
        conn,
        "SELECT github_id, head_sha, name, status, conclusion, app, title, details_url"
        " FROM pr_check_runs WHERE pr_id = ? AND head_sha = ? ORDER BY github_id",
        (pr_id, head_sha),
    )
    return [
        CheckRun(
            github_id=r["github_id"],
            head_sha=r["head_sha"],
            name=r["name"],
            status=r["status"],
            conclusion=r["conclusion"],
            app=r["app"],
            title=r["title"],
            details_url=r["details_url"],
        )
        for r in rows
    ]


# --- comments -----------------------------------------------------------------------------


async def save_comments(
    conn: Connection, pr_id: int, comments: list[dict[str, Any]], now: str
) -> None:
    """Insert or refresh comments synced from GitHub (keyed by kind and GitHub id)."""
    await conn.executemany(
        "INSERT INTO pr_comments(pr_id, github_id, kind, author, body, state, path, line, url,"
        " created_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(kind, github_id) DO UPDATE SET body = excluded.body,"
        " state = excluded.state, synced_at = excluded.synced_at",
        [
            (
                pr_id,
                c["github_id"],
                c["kind"],
                c["author"],
                c["body"],
                c.get("state"),
                c.get("path"),
                c.get("line"),
                c.get("url") or "",
                c["created_at"],
                now,
            )
            for c in comments
        ],
    )


async def comments(conn: Connection, pr_id: int) -> list[PullRequestCommentView]:
    rows = await fetchall(
        conn,
        "SELECT github_id, kind, author, body, state, path, line, url, created_at, synced_at"
        " FROM pr_comments WHERE pr_id = ? ORDER BY created_at, id",
        (pr_id,),
    )
    return [
        PullRequestCommentView(
            id=r["github_id"],
            kind=r["kind"],
            author=r["author"],
            body=r["body"],
            state=r["state"],
            path=r["path"],
            line=r["line"],
            url=r["url"],
            created_at=r["created_at"],
            synced_at=r["synced_at"],
        )
        for r in rows
    ]


# --- webhook deliveries -------------------------------------------------------------------

_EVENT_COLUMNS = (
    "id, delivery_id, event, action, repository, project_id, status, result, received_at,"
    " processed_at"
)


def _event(row: Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        delivery_id=row["delivery_id"],
        event=row["event"],
        action=row["action"],
        repository=row["repository"],
        project_id=row["project_id"],
        status=DeliveryStatus(row["status"]),
        result=row["result"],
        received_at=row["received_at"],
        processed_at=row["processed_at"],
    )


async def record_delivery(
    conn: Connection,
    *,
    delivery_id: str,
    event: str,
    action: str | None,
    repository: str | None,
    answered: str | None,
    payload: bytes,
    now: str,
) -> WebhookDelivery:
    """Log a delivery in one statement: ``skipped`` when its id was accepted before (then with
    that delivery's project), ``processed`` with ``answered`` as the result when the receiver
    answered it itself (a ping), else ``received`` with its ``payload`` (the work comes later)."""
    row = await fetchone(
        conn,
        "WITH earlier(project_id, seen) AS (SELECT max(project_id), count(*) > 0"
        "  FROM webhook_events WHERE delivery_id = :delivery AND status != 'skipped')"
        " INSERT INTO webhook_events(delivery_id, event, action, repository, project_id, status,"
        " result, received_at, processed_at, payload)"
        " SELECT :delivery, :event, :action, :repository, earlier.project_id,"
        "  CASE WHEN seen THEN 'skipped' WHEN :answered IS NOT NULL THEN 'processed'"
        "   ELSE 'received' END,"
        "  CASE WHEN seen THEN 'repeated delivery; handled before' ELSE coalesce(:answered, '')"
        "   END,"
        "  :now, CASE WHEN seen OR :answered IS NOT NULL THEN :now END,"
        "  CASE WHEN seen OR :answered IS NOT NULL THEN NULL ELSE :payload END"
        f" FROM earlier RETURNING {_EVENT_COLUMNS}",
        {
            "delivery": delivery_id,
            "event": event,
            "action": action,
            "repository": repository,
            "answered": answered,
            "payload": payload,
            "now": now,
        },
    )
    assert row is not None
    return _event(row)


async def finish_event(
    conn: Connection,
    event_id: int,
    project_id: int | None,
    status: DeliveryStatus,
    result: str,
    now: str,
) -> WebhookDelivery | None:
    row = await fetchone(
        conn,
        "UPDATE webhook_events SET project_id = ?, status = ?, result = ?, processed_at = ?,"
        f" payload = NULL WHERE id = ? RETURNING {_EVENT_COLUMNS}",
        (project_id, status.value, result, now, event_id),
    )
    return _event(row) if row else None


async def mark_started(conn: Connection, event_id: int, now: str) -> None:
    """The delivery's work begins: from here a stop means it may be half done."""
    await conn.execute("UPDATE webhook_events SET started_at = ? WHERE id = ?", (now, event_id))


async def fail_interrupted(conn: Connection, now: str) -> int:
    """At start-up: deliveries whose work began and never finished (doing it twice could,
    say, restart an agent twice), and any kept without a body, are failed."""
    cursor = await conn.execute(
        "UPDATE webhook_events SET status = 'failed', result = ?, processed_at = ?, payload = NULL"
        " WHERE status = 'received' AND (started_at IS NOT NULL OR payload IS NULL)",
        ("the server stopped while processing it", now),
    )
    return cursor.rowcount


async def waiting_deliveries(conn: Connection) -> list[tuple[int, str, bytes, str]]:
    """(id, event, payload, repository) of deliveries never started, oldest first."""
    rows = await fetchall(
        conn,
        "SELECT id, event, payload, repository FROM webhook_events"
        " WHERE status = 'received' AND started_at IS NULL AND payload IS NOT NULL ORDER BY id",
    )
    return [(r["id"], r["event"], bytes(r["payload"]), r["repository"] or "") for r in rows]


async def list_events(
    conn: Connection, project_id: int | None, limit: int, offset: int = 0
) -> list[WebhookDelivery]:
    where, params = ("WHERE project_id = ?", [project_id]) if project_id is not None else ("", [])
    rows = await fetchall(
        conn,
        f"SELECT {_EVENT_COLUMNS} FROM webhook_events {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return [_event(row) for row in rows]


async def prune_events(conn: Connection, keep: int) -> None:
    await conn.execute(
        "DELETE FROM webhook_events WHERE id <= (SELECT id FROM webhook_events"
        " ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (keep,),
    )


async def open_worktree_tickets(conn: Connection, project_id: int) -> list[Ticket]:
    """The project's tickets that still have a worktree and are neither done nor cancelled."""
    rows = await fetchall(
        conn,
        f"SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.project_id = ?"
        " AND t.worktree_path IS NOT NULL AND t.status NOT IN ('done', 'cancelled')"
        " ORDER BY t.number",
        (project_id,),
    )
    return [ticket_from_row(row) for row in rows]
