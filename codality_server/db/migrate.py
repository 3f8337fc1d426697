"""Numbered, append-only migrations, each applied in one transaction together with its record."""

from __future__ import annotations

import re
from importlib import resources

from .database import Database

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration, in order."""
    found = []
    for entry in resources.files("codality_server.db.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort()
    return found


def _statements(sql: str) -> list[str]:
    """Split a migration into statements; ``sqlite3.complete_statement`` respects triggers."""
    import sqlite3

    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


async def migrate(db: Database, up_to: int | None = None) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied now."""
    async with db.transaction() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
    applied: list[int] = []
    for version, name, sql in available_migrations():
        if up_to is not None and version > up_to:
            break
        async with db.transaction() as conn:
            async with conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
            ) as cur:
                if await cur.fetchone():
                    continue
            for statement in _statements(sql):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations(version, name) VALUES (?, ?)", (version, name)
            )
        applied.append(version)
    return applied
