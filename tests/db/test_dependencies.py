"""Ticket dependencies on a real database: recorded, listed, met when done, gone with a ticket."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codality_server.db import dependencies, tickets
from codality_server.db.database import Database
from codality_server.db.migrate import migrate
from codality_server.domain.tickets import Kind, Priority, TicketStatus

NOW = "2025-01-01T00:00:00.000Z"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "t.db")
    await database.open()
    await migrate(database)
    async with database.transaction() as conn:
        await conn.execute(
            "INSERT INTO projects(id, slug, name, path, default_branch, created_at, updated_at)"
            " VALUES (1, 'p', 'P', '/tmp/p', 'main', ?, ?)",
            (NOW, NOW),
        )
    yield database
    await database.close()


async def new_ticket(db: Database, title: str) -> int:
    async with db.transaction() as conn:
        ticket = await tickets.insert_ticket(
            conn,
            1,
            title=title,
            description="",
            kind=Kind.TASK,
            priority=Priority.MEDIUM,
            status=TicketStatus.BACKLOG,
            assignee=None,
            created_by=None,
            now=NOW,
        )
    return ticket.id


async def test_dependencies_are_listed_and_met_when_done(db: Database) -> None:
    schema, api, ui = [await new_ticket(db, t) for t in ("schema", "api", "ui")]
    async with db.transaction() as conn:
        await dependencies.add_dependencies(conn, ui, [api, schema])
        await dependencies.add_dependencies(conn, ui, [api])  # a repeat is ignored
        await dependencies.add_dependencies(conn, api, [schema])

    waits_for = await dependencies.dependencies_of(db.reader, ui)
    assert [t.title for t in waits_for] == ["schema", "api"]
    assert [t.title for t in await dependencies.unmet_dependencies(db.reader, ui)] == [
        "schema",
        "api",
    ]
    # The ticket's own view names its dependencies by number.
    shown = await tickets.get_ticket(db.reader, ui)
    assert shown is not None and shown.view()["depends_on"] == [1, 2]
    listed = await tickets.tickets_where(db.reader, "t.project_id = ?", (1,))
    assert [t.depends_on for t in listed] == [(), (1,), (1, 2)]

    async with db.transaction() as conn:
        await tickets.update_ticket(conn, schema, NOW, status=TicketStatus.DONE)
        await tickets.update_ticket(conn, api, NOW, status=TicketStatus.IN_REVIEW)
    assert [t.title for t in await dependencies.unmet_dependencies(db.reader, ui)] == ["api"]
    assert await dependencies.unmet_dependencies(db.reader, api) == []
    async with db.transaction() as conn:
        await tickets.update_ticket(conn, api, NOW, status=TicketStatus.DONE)
    assert await dependencies.unmet_dependencies(db.reader, ui) == []
    assert len(await dependencies.dependencies_of(db.reader, ui)) == 2


async def test_dependencies_go_with_either_ticket_and_never_on_itself(db: Database) -> None:
    first, second, third = [await new_ticket(db, t) for t in ("one", "two", "three")]
    async with db.transaction() as conn:
        await dependencies.add_dependencies(conn, third, [first, second])
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await dependencies.add_dependencies(conn, first, [first])
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await dependencies.add_dependencies(conn, first, [999])

    async with db.transaction() as conn:
        await conn.execute("DELETE FROM tickets WHERE id = ?", (first,))
    assert [t.title for t in await dependencies.dependencies_of(db.reader, third)] == ["two"]
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM tickets WHERE id = ?", (third,))
    rows = await db.fetchall("SELECT * FROM ticket_dependencies")
    assert rows == []
