"""Migrations: numbered, each applied once in one transaction, fresh install == upgrade path."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from codality_server.db.database import Database
from codality_server.db.migrate import available_migrations, migrate


def schema_of(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        ).fetchall()
    return [(name, sql) for name, sql in rows]


def test_migrations_are_numbered_once_each_from_one() -> None:
    # Numbers are handed out ahead to branches that land in any order, so a number may be
    # missing for a while; two files with one number, or a number below 1, never.
    versions = [version for version, _, _ in available_migrations()]
    assert versions[0] == 1
    assert len(set(versions)) == len(versions)


async def test_fresh_database_gets_every_migration_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "fresh.db")
    await db.open()
    try:
        applied = await migrate(db)
        assert applied == [v for v, _, _ in available_migrations()]
        assert await migrate(db) == []
        mode = await db.fetchone("PRAGMA journal_mode")
        assert mode is not None and mode[0] == "wal"
        fk = await db.fetchone("PRAGMA foreign_keys")
        assert fk is not None and fk[0] == 1
        recorded = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in recorded] == applied
    finally:
        await db.close()


async def test_upgrading_from_each_version_equals_a_fresh_install(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    db = Database(fresh)
    await db.open()
    await migrate(db)
    await db.close()
    for version, _, _ in available_migrations():
        path = tmp_path / f"from-{version}.db"
        old = Database(path)
        await old.open()
        await migrate(old, up_to=version)
        await old.close()
        upgraded = Database(path)
        await upgraded.open()
        await migrate(upgraded)
        await upgraded.close()
        assert schema_of(path) == schema_of(fresh)


async def test_a_failing_migration_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codality_server.db import migrate as migrate_module

    shipped = available_migrations()
    number = shipped[-1][0] + 1  # after the last one (numbers may have gaps)
    broken = (
        number,
        f"{number:04d}_broken.sql",
        "CREATE TABLE half_done (id INTEGER);\nTHIS IS NOT SQL;\n",
    )
    monkeypatch.setattr(migrate_module, "available_migrations", lambda: [*shipped, broken])
    db = Database(tmp_path / "broken.db")
    await db.open()
    try:
        try:
            await migrate_module.migrate(db)
        except sqlite3.OperationalError:
            pass
        else:
            raise AssertionError("the broken migration applied")
        tables = await db.fetchall("SELECT name FROM sqlite_master WHERE name = 'half_done'")
        assert tables == []
        versions = await db.fetchall("SELECT version FROM schema_migrations")
        assert [r["version"] for r in versions] == [v for v, _, _ in shipped]
    finally:
        await db.close()


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("fixture", ["codality-0001.db", "codality-0001-0004-0005.db"])
async def test_a_real_database_upgrades_with_its_sessions_carried_over(
    tmp_path: Path, fixture: str
) -> None:
    """Databases the server made before 0002, driven over HTTP with the scripted model: two
    tickets, a comment, and one completed agent session (thinking, text, a tool call and its
    result, a commit). ``codality-0001.db`` by commit 14033a6 (only 0001);
    ``codality-0001-0004-0005.db`` by 3a170b3 (plans and queues landed before sessions had
    owners, so 0002 applies after them)."""
    from codality_server.db import sessions as db_sessions
    from codality_server.db import tickets as db_tickets
    from codality_server.domain.sessions import Owner, OwnerKind

    path = tmp_path / "codality.db"
    shutil.copy(FIXTURES / fixture, path)
    with sqlite3.connect(path) as conn:
        before = conn.execute(
            "SELECT id, ticket_id, trigger, status, model, tokens_in, tokens_out, cost_usd,"
            " summary, started_at, ended_at FROM agent_sessions"
        ).fetchall()
        blocks_before = conn.execute("SELECT * FROM transcript_blocks ORDER BY id").fetchall()
    assert len(before) == 1 and len(blocks_before) >= 5

    db = Database(path)
    await db.open()
    try:
        with sqlite3.connect(path) as raw:
            had = {row[0] for row in raw.execute("SELECT version FROM schema_migrations")}
        assert await migrate(db) == [v for v, _, _ in available_migrations() if v not in had]
        (old,) = before
        session = await db_sessions.get_session(db.reader, old[0])
        assert session is not None
        assert session.owner == Owner(OwnerKind.TICKET, old[1]) and session.ticket_id == old[1]
        assert session.agent == "ticket" and session.channels == ("ticket:1", "project:1")
        assert (
            session.trigger,
            session.status.value,
            session.model,
            session.tokens_in,
            session.tokens_out,
            session.cost_usd,
            session.summary,
            session.started_at,
            session.ended_at,
        ) == old[2:]
        # Its input was billed uncached: nothing written to or read from the cache (0008).
        assert (session.tokens_cache_write, session.tokens_cache_read) == (0, 0)
        assert session.usage().tokens_uncached == session.tokens_in
        blocks = await db.fetchall("SELECT * FROM transcript_blocks ORDER BY id")
        assert [tuple(row) for row in blocks] == blocks_before
        worked = await db_tickets.get_ticket(db.reader, old[1])
        assert worked is not None and worked.agent_status == "completed"

        # An owner's sessions, and their blocks, go with it.
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM tickets WHERE id = ?", (old[1],))
        assert await db.fetchall("SELECT id FROM agent_sessions") == []
        assert await db.fetchall("SELECT id FROM transcript_blocks") == []
    finally:
        await db.close()
    assert schema_of(path) == schema_of(await _fresh(tmp_path))


async def _fresh(tmp_path: Path) -> Path:
    fresh = tmp_path / "fresh.db"
    db = Database(fresh)
    await db.open()
    await migrate(db)
    await db.close()
    return fresh
