"""Stored settings: one row per key that an admin changed, its value as JSON."""

from __future__ import annotations

import json
from typing import Any

from .database import Connection, fetchall


async def stored_settings(conn: Connection) -> dict[str, Any]:
    rows = await fetchall(conn, "SELECT key, value FROM settings")
    return {row["key"]: json.loads(row["value"]) for row in rows}


async def save_settings(conn: Connection, values: dict[str, Any], now: str) -> None:
    await conn.executemany(
        "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [(key, json.dumps(value), now) for key, value in values.items()],
    )
