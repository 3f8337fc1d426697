"""Migrations: numbered, each applied once in one transaction, fresh install == upgrade path."""

from __future__ import annotations

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
