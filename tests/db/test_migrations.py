"""Migrations: numbered, each applied once in one transaction, fresh install == upgrade path."""

from __future__ import annotations

import json
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


async def test_discovery_replies_move_into_their_sessions_transcripts(tmp_path: Path) -> None:
    """0011: a reply's blocks (written before it, in conversation_blocks) become its session's
    transcript blocks, in order, after what the session already had; a user's message keeps its
    text as ``content``; a reply that never started keeps nothing it did not have."""
    from codality_server.db import conversations as db_conversations
    from codality_server.db import sessions as db_sessions

    path = tmp_path / "codality.db"
    db = Database(path)
    await db.open()
    try:
        await migrate(db, up_to=10)
        t = "2026-01-01T00:00:00Z"
        blocks = [
            ("text", {"text": "Let me look."}),
            ("tool_call", {"tool_use_id": "a", "name": "read_file", "input": {"path": "x.py"}}),
            ("tool_result", {"tool_use_id": "a", "name": "read_file", "ok": True, "output": "x"}),
            ("tool_call", {"tool_use_id": "b", "name": "propose_plan", "input": {}}),
            ("action", {"action_id": 1}),
            ("tool_result", {"tool_use_id": "b", "ok": True, "output": "ok", "action_id": 1}),
            ("text", {"text": "Done."}),
        ]
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO projects(id, slug, name, path, default_branch, created_at,"
                " updated_at) VALUES (1, 'p', 'P', '/p', 'main', ?, ?)",
                (t, t),
            )
            await conn.execute(
                "INSERT INTO conversations(id, project_id, created_at, updated_at)"
                " VALUES (1, 1, ?, ?)",
                (t, t),
            )
            await conn.execute(
                "INSERT INTO agent_sessions(id, owner_kind, owner_id, agent, trigger, status,"
                " model, started_at) VALUES (5, 'conversation', 1, 'discovery', 'manual',"
                " 'completed', 'm', ?)",
                (t,),
            )
            retried = json.dumps({"message": "overloaded", "retrying": True})
            await conn.execute(
                "INSERT INTO transcript_blocks(id, session_id, kind, data, created_at)"
                " VALUES (40, 5, 'error', ?, ?)",
                (retried, t),
            )
            messages = [
                (1, "user", "complete", None),
                (2, "assistant", "complete", 5),
                (3, "user", "complete", None),
                (4, "assistant", "failed", None),  # the reply could not start
            ]
            for message_id, role, status, session_id in messages:
                await conn.execute(
                    "INSERT INTO conversation_messages(id, conversation_id, role, status,"
                    " session_id, created_at, updated_at) VALUES (?, 1, ?, ?, ?, ?, ?)",
                    (message_id, role, status, session_id, t, t),
                )
            await conn.execute(
                "INSERT INTO conversation_actions(id, conversation_id, message_id, kind, proposal,"
                " created_at) VALUES (1, 1, 2, 'plan', '{}', ?)",
                (t,),
            )
            rows = [
                (1, "text", {"text": "What is there?"}),
                *((2, kind, data) for kind, data in blocks),
                (3, "text", {"text": "Thanks — ünïcode too"}),
            ]
            for message_id, kind, data in rows:
                await conn.execute(
                    "INSERT INTO conversation_blocks(message_id, kind, data, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (message_id, kind, json.dumps(data, ensure_ascii=False), t),
                )

        assert await migrate(db) == [v for v, _, _ in available_migrations() if v > 10]
        gone = await db.fetchall("SELECT name FROM sqlite_master WHERE name LIKE 'conversation_b%'")
        assert gone == []
        first, reply, second, unstarted = await db_conversations.messages(db.reader, 1)
        assert (first.content, first.text, first.blocks) == ("What is there?",) * 2 + ((),)
        assert (second.text, unstarted.text, unstarted.blocks) == ("Thanks — ünïcode too", "", ())
        assert reply.content == "" and reply.text == "Let me look.Done."
        assert [(b.kind, b.data) for b in reply.blocks] == blocks
        assert [a.id for a in reply.actions] == [1]
        # The session's transcript is the one store: what it had, then the reply's blocks.
        transcript = await db_sessions.transcript(db.reader, 5)
        assert [(b.kind, b.data) for b in transcript] == [
            ("error", {"message": "overloaded", "retrying": True}),
            *blocks,
        ]
        assert [b.id for b in reply.blocks] == [b.id for b in transcript[1:]]
        assert all(b.id > 40 for b in reply.blocks)

        # A conversation's sessions, and so its replies' blocks, go with it.
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM conversations WHERE id = 1")
        assert await db.fetchall("SELECT id FROM transcript_blocks") == []
    finally:
        await db.close()
