"""The write path: one writer, rollback on error, cancellation never leaves a transaction open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codality_server.db.database import Database
from codality_server.db.migrate import migrate


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "t.db")
    await database.open()
    await migrate(database)
    yield database
    await database.close()


async def insert_setting(db: Database, key: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES (?, '1', 'now')", (key,)
        )


async def test_an_error_rolls_back_and_the_writer_stays_usable(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO settings(key, value, updated_at) VALUES ('a','1','n')")
            raise RuntimeError("boom")
    assert await db.fetchall("SELECT key FROM settings") == []
    await insert_setting(db, "b")
    assert [r["key"] for r in await db.fetchall("SELECT key FROM settings")] == ["b"]


async def test_cancelled_writers_never_leave_a_transaction_open(db: Database) -> None:
    # Cancel writers at every point of their life; afterwards the writer must still work.
    for delay in (0, 0.0001, 0.0005, 0.001, 0.002):
        tasks = [asyncio.create_task(insert_setting(db, f"k{delay}-{i}")) for i in range(20)]
        await asyncio.sleep(delay)
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await insert_setting(db, "final")
    row = await db.fetchone("SELECT count(*) AS n FROM settings WHERE key = 'final'")
    assert row is not None and row["n"] == 1


async def test_cached_reads_last_until_the_next_write(db: Database) -> None:
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        row = await db.fetchone("SELECT count(*) AS n FROM settings")
        assert row is not None
        return int(row["n"])

    assert await db.cached("count", load) == 0
    assert await db.cached("count", load) == 0
    assert calls == 1
    await insert_setting(db, "x")
    assert await db.cached("count", load) == 1
    assert calls == 2
