"""Webhook deliveries across a stop: waiting ones are run again, begun ones are failed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codality_server.db import github as db_github
from codality_server.db.database import Database
from codality_server.db.migrate import migrate
from codality_server.domain.github import DeliveryStatus


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "t.db")
    await database.open()
    await migrate(database)
    yield database
    await database.close()


async def deliver(db: Database, delivery: str, body: bytes, event: str = "push") -> int:
    async with db.transaction() as conn:
        row = await db_github.record_delivery(
            conn,
            delivery_id=delivery,
            event=event,
            action=None,
            repository="o/r",
            answered="pong" if event == "ping" else None,
            payload=body,
            now="t0",
        )
    return row.id


async def test_only_deliveries_never_begun_wait_and_the_body_goes_when_done(db: Database) -> None:
    waiting = await deliver(db, "a", b'{"n": 1}')
    begun = await deliver(db, "b", b'{"n": 2}')
    done = await deliver(db, "c", b'{"n": 3}')
    await deliver(db, "d", b'{"n": 4}', event="ping")
    await deliver(db, "a", b'{"n": 1}')  # a repeat: skipped, nothing kept
    async with db.transaction() as conn:
        await db_github.mark_started(conn, begun, "t1")
        await db_github.mark_started(conn, done, "t1")
        await db_github.finish_event(conn, done, None, DeliveryStatus.PROCESSED, "ok", "t2")
        assert await db_github.fail_interrupted(conn, "t3") == 1
        assert await db_github.waiting_deliveries(conn) == [(waiting, "push", b'{"n": 1}', "o/r")]
    kept = await db.fetchall("SELECT id FROM webhook_events WHERE payload IS NOT NULL")
    assert [r["id"] for r in kept] == [waiting]
    rows = {r.id: r for r in await db_github.list_events(db.reader, None, 10)}
    assert rows[begun].status is DeliveryStatus.FAILED
    assert rows[begun].result == "the server stopped while processing it"
    assert rows[waiting].status is DeliveryStatus.RECEIVED
