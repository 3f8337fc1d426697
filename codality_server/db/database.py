"""The database gateway.

One writer connection serialised by a lock, every write inside ``BEGIN IMMEDIATE`` so two writers
never meet in SQLite's busy handler; one reader connection, which WAL lets run beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

Row = aiosqlite.Row
Connection = aiosqlite.Connection
Params = Iterable[Any] | dict[str, Any]
T = TypeVar("T")
CACHE_ENTRIES = 1024
MISSING = object()  # ``Database.peek`` found nothing valid


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")
    await conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class Database:
    """aiosqlite behind a read path and a single, serialised write path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # Every committed write bumps the version; cached reads are valid for one version only.
        self.version = 0
        self._cache: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()

    async def open(self) -> None:
        self._writer = await _connect(self.path)
        self._reader = await _connect(self.path)

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def reader(self) -> aiosqlite.Connection:
        assert self._reader is not None, "database is not open"
        return self._reader

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Yield the writer inside ``BEGIN IMMEDIATE``; commit on success, roll back on error."""
        assert self._writer is not None, "database is not open"
        async with self._lock:
            try:
                await self._run_to_end("BEGIN IMMEDIATE")
                yield self._writer
            except BaseException:
                await self._rollback()
                raise
            try:
                await self._run_to_end("COMMIT")
            finally:
                self.version += 1

    async def _run_to_end(self, sql: str) -> None:
        """Run one statement on the writer; a cancelled caller still waits for it to finish.

        aiosqlite runs the statement on its thread whether or not the awaiting task is cancelled,
        so letting go of the lock before it finished would leave the writer mid-transaction for
        the next caller.
        """
        assert self._writer is not None
        statement = asyncio.ensure_future(self._writer.execute(sql))
        try:
            await asyncio.shield(statement)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await statement
            raise

    async def _rollback(self) -> None:
        """Roll back if a transaction is open (BEGIN may not have run when the caller failed)."""
        with contextlib.suppress(sqlite3.OperationalError):
            await self._run_to_end("ROLLBACK")

    def peek(self, key: Hashable) -> Any:
        """The cached value for ``key`` when it is still valid, else ``MISSING`` (no await)."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            self._cache.move_to_end(key)
            return hit[1]
        return MISSING

    async def cached(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """``load()``'s result, reused until the next committed write.

        Hot read paths (the session behind a token, a project by slug, a ticket list) are asked
        far more often than anything changes; a result read while a write committed is not kept.
        """
        hit = self.peek(key)
        if hit is not MISSING:
            return hit  # type: ignore[no-any-return]
        version = self.version
        value = await load()
        if version == self.version:
            self._cache[key] = (version, value)
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        return await fetchone(self.reader, sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return await fetchall(self.reader, sql, params)


# Both helpers make one trip to aiosqlite's thread (execute + fetch + close together); the
# cursor-based form costs three, which dominates fast queries.


async def fetchone(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> Row | None:
    """The first row from any connection (the writer, inside a transaction, sees its writes)."""
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def fetchall(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> list[Row]:
    return list(await conn.execute_fetchall(sql, params))
