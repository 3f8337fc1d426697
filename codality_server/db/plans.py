"""Plan rows. Drafts, suggestions and readiness are JSON columns: they are always read and
written whole with their plan, and validated by the domain before they get here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from codality_server.domain.plans import (
    Plan,
    PlanStatus,
    Readiness,
    Suggestion,
    TicketDraft,
)
from codality_server.domain.tickets import Kind, Priority

from .database import Connection, Row, fetchall, fetchone

_COLUMNS = (
    "id, project_id, title, body, status, drafts, suggestions, suggested_body, readiness,"
    " created_by, approved_by, approved_at, created_at, updated_at"
)
_UPDATABLE = {
    "title",
    "body",
    "status",
    "drafts",
    "suggestions",
    "suggested_body",
    "readiness",
    "approved_by",
    "approved_at",
}


def _draft(data: dict[str, Any]) -> TicketDraft:
    return TicketDraft(
        title=data["title"],
        description=data["description"],
        kind=Kind(data["kind"]),
        priority=Priority(data["priority"]),
        order=data["order"],
        depends_on=tuple(data["depends_on"]),
        ticket=data.get("ticket"),
    )


def _readiness(raw: str | None) -> Readiness | None:
    if raw is None:
        return None
    data = json.loads(raw)
    return Readiness(
        ready=data["ready"],
        explanation=data["explanation"],
        missing=tuple(data["missing"]),
        checked_at=data["checked_at"],
    )


def _plan(row: Row) -> Plan:
    return Plan(
        id=row["id"],
        project_id=row["project_id"],
        title=row["title"],
        body=row["body"],
        status=PlanStatus(row["status"]),
        drafts=tuple(_draft(d) for d in json.loads(row["drafts"])),
        suggestions=tuple(Suggestion(**s) for s in json.loads(row["suggestions"])),
        suggested_body=row["suggested_body"],
        readiness=_readiness(row["readiness"]),
        created_by=row["created_by"],
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _to_db(name: str, value: Any) -> Any:
    """Domain values → column values (JSON text for the structured columns)."""
    if name == "drafts":
        return json.dumps([d.view() for d in value], ensure_ascii=False)
    if name == "suggestions":
        return json.dumps([s.view() for s in value], ensure_ascii=False)
    if name == "readiness":
        return None if value is None else json.dumps(value.view(), ensure_ascii=False)
    if name == "status":
        return PlanStatus(value).value
    return value


async def get_plan(conn: Connection, plan_id: int) -> Plan | None:
    row = await fetchone(conn, f"SELECT {_COLUMNS} FROM plans WHERE id = ?", (plan_id,))
    return _plan(row) if row else None


async def list_plans(conn: Connection, project_id: int) -> list[Plan]:
    """A project's plans, newest first."""
    rows = await fetchall(
        conn,
        f"SELECT {_COLUMNS} FROM plans WHERE project_id = ? ORDER BY id DESC",
        (project_id,),
    )
    return [_plan(row) for row in rows]


async def insert_plan(
    conn: Connection,
    project_id: int,
    *,
    title: str,
    body: str,
    drafts: Sequence[TicketDraft],
    created_by: int | None,
    now: str,
) -> Plan:
    row = await fetchone(
        conn,
        "INSERT INTO plans(project_id, title, body, drafts, created_by, created_at, updated_at)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
        (project_id, title, body, _to_db("drafts", drafts), created_by, now, now),
    )
    assert row is not None
    return _plan(row)


async def update_plan(conn: Connection, plan_id: int, now: str, **fields: Any) -> Plan | None:
    """Set the given columns (domain values) and ``updated_at``; None when the plan is gone."""
    assert set(fields) <= _UPDATABLE, f"unexpected fields {set(fields) - _UPDATABLE}"
    assignments = "".join(f"{name} = ?, " for name in fields)
    values = [_to_db(name, value) for name, value in fields.items()]
    row = await fetchone(
        conn,
        f"UPDATE plans SET {assignments}updated_at = ? WHERE id = ? RETURNING {_COLUMNS}",
        (*values, now, plan_id),
    )
    return _plan(row) if row else None


async def delete_plan(conn: Connection, plan_id: int) -> bool:
    """Delete the plan and its sessions (suggestion rounds; 0004 predates session owners)."""
    cur = await conn.execute("DELETE FROM plans WHERE id = ?", (plan_id,))
    await conn.execute(
        "DELETE FROM agent_sessions WHERE owner_kind = 'plan' AND owner_id = ?", (plan_id,)
    )
    return cur.rowcount > 0
