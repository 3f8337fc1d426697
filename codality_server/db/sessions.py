"""Agent sessions (of any owner) and their transcript blocks."""

from __future__ import annotations

import json
from collections.abc import Sequence

from codality_server.domain.sessions import (
    AgentSession,
    Owner,
    OwnerKind,
    SessionStatus,
    TokenCounts,
    TranscriptBlock,
)

from .database import Connection, Row, fetchall, fetchone

_COLUMNS = (
    "id, owner_kind, owner_id, agent, channels, trigger, status, model, sandbox, tokens_in,"
    " tokens_cache_write, tokens_cache_read, tokens_out, cost_usd, model_calls, summary, error,"
    " started_by, started_at, ended_at"
)


def _session(row: Row) -> AgentSession:
    return AgentSession(
        id=row["id"],
        owner=Owner(OwnerKind(row["owner_kind"]), row["owner_id"]),
        agent=row["agent"],
        channels=tuple(json.loads(row["channels"])),
        trigger=row["trigger"],
        status=SessionStatus(row["status"]),
        model=row["model"],
        sandbox=row["sandbox"],
        tokens_in=row["tokens_in"],
        tokens_cache_write=row["tokens_cache_write"],
        tokens_cache_read=row["tokens_cache_read"],
        tokens_out=row["tokens_out"],
        cost_usd=row["cost_usd"],
        model_calls=row["model_calls"],
        summary=row["summary"],
        error=row["error"],
        started_by=row["started_by"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
    )


async def insert_session(
    conn: Connection,
    owner: Owner,
    agent: str,
    channels: Sequence[str],
    trigger: str,
    model: str,
    sandbox: str,
    started_by: int | None,
    now: str,
) -> AgentSession:
    row = await fetchone(
        conn,
        "INSERT INTO agent_sessions(owner_kind, owner_id, agent, channels, trigger, status, model,"
        " sandbox, started_by, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)"
        f" RETURNING {_COLUMNS}",
        (
            owner.kind.value,
            owner.id,
            agent,
            json.dumps(list(channels)),
            trigger,
            model,
            sandbox,
            started_by,
            now,
        ),
    )
    assert row is not None
    return _session(row)


async def get_session(conn: Connection, session_id: int) -> AgentSession | None:
    row = await fetchone(conn, f"SELECT {_COLUMNS} FROM agent_sessions WHERE id = ?", (session_id,))
    return _session(row) if row else None


async def owner_sessions(conn: Connection, owner: Owner) -> list[AgentSession]:
    """An owner's sessions, newest first."""
    rows = await fetchall(
        conn,
        f"SELECT {_COLUMNS} FROM agent_sessions WHERE owner_kind = ? AND owner_id = ?"
        " ORDER BY id DESC",
        (owner.kind.value, owner.id),
    )
    return [_session(row) for row in rows]


async def set_usage(
    conn: Connection, session_id: int, tokens: TokenCounts, cost_usd: float, model_calls: int
) -> None:
    await conn.execute(
        "UPDATE agent_sessions SET tokens_in = ?, tokens_cache_write = ?, tokens_cache_read = ?,"
        " tokens_out = ?, cost_usd = ?, model_calls = ? WHERE id = ?",
        (
            tokens.input,
            tokens.cache_write,
            tokens.cache_read,
            tokens.output,
            cost_usd,
            model_calls,
            session_id,
        ),
    )


async def finish_session(
    conn: Connection,
    session_id: int,
    status: SessionStatus,
    summary: str | None,
    error: str | None,
    now: str,
) -> AgentSession | None:
    row = await fetchone(
        conn,
        "UPDATE agent_sessions SET status = ?, summary = ?, error = ?, ended_at = ?"
        f" WHERE id = ? RETURNING {_COLUMNS}",
        (status.value, summary, error, now, session_id),
    )
    return _session(row) if row else None


async def interrupt_running(conn: Connection, error: str, now: str) -> list[AgentSession]:
    """Every session still ``running`` (the server died under it) becomes ``interrupted``;
    returns them as they are now."""
    rows = await fetchall(
        conn,
        "UPDATE agent_sessions SET status = 'interrupted', error = ?, ended_at = ?"
        f" WHERE status = 'running' RETURNING {_COLUMNS}",
        (error, now),
    )
    return sorted((_session(row) for row in rows), key=lambda s: s.id)


async def append_block(
    conn: Connection, session_id: int, kind: str, data: dict[str, object], now: str
) -> int:
    cur = await conn.execute(
        "INSERT INTO transcript_blocks(session_id, kind, data, created_at) VALUES (?, ?, ?, ?)",
        (session_id, kind, json.dumps(data, ensure_ascii=False), now),
    )
    return int(cur.lastrowid or 0)


async def replace_block_data(conn: Connection, block_id: int, data: dict[str, object]) -> None:
    """A block that grows while it streams (text, thinking) is rewritten in place."""
    await conn.execute(
        "UPDATE transcript_blocks SET data = ? WHERE id = ?",
        (json.dumps(data, ensure_ascii=False), block_id),
    )


def transcript_block(row: Row) -> TranscriptBlock:
    return TranscriptBlock(
        row["id"], row["session_id"], row["kind"], json.loads(row["data"]), row["created_at"]
    )


async def transcript(conn: Connection, session_id: int) -> list[TranscriptBlock]:
    rows = await fetchall(
        conn,
        "SELECT id, session_id, kind, data, created_at FROM transcript_blocks"
        " WHERE session_id = ? ORDER BY id",
        (session_id,),
    )
    return [transcript_block(row) for row in rows]
