"""Agent session records: the row of each run and its transcript, block by block.

The supervisor (``services/supervisor.py``) drives runs; this service is where their state is
written, so that a crash loses nothing already seen live, and where sessions are read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codality_server.db import sessions as db_sessions
from codality_server.domain.errors import NotFound
from codality_server.domain.sessions import (
    AgentSession,
    Owner,
    SessionStatus,
    SessionWithTranscript,
    TokenCounts,
)

from .base import Service, now_iso

INTERRUPTED_MESSAGE = "the server stopped while the agent was running"

#: Tokens by how they were billed, and US dollars: a session's usage so far.
Usage = tuple[TokenCounts, float, int]  # tokens, US dollars, model calls


class AgentSessionService(Service):
    """Create, update and read agent sessions and their transcripts."""

    async def create(
        self,
        owner: Owner,
        agent: str,
        channels: Sequence[str],
        trigger: str,
        model: str,
        sandbox: str,
        started_by: int | None,
    ) -> AgentSession:
        async with self.db.transaction() as conn:
            return await db_sessions.insert_session(
                conn, owner, agent, channels, trigger, model, sandbox, started_by, now_iso()
            )

    async def append(
        self, session_id: int, kind: str, data: dict[str, Any], usage: Usage | None = None
    ) -> int:
        """Store one transcript block (and, in the same transaction, the session's usage so
        far when given); returns its id."""
        async with self.db.transaction() as conn:
            if usage is not None:
                await db_sessions.set_usage(conn, session_id, *usage)
            return await db_sessions.append_block(conn, session_id, kind, data, now_iso())

    async def rewrite(
        self, session_id: int, block_id: int, data: dict[str, Any], usage: Usage | None = None
    ) -> None:
        """Replace a stored block's data (a streaming block that grew), with the usage too."""
        async with self.db.transaction() as conn:
            if usage is not None:
                await db_sessions.set_usage(conn, session_id, *usage)
            await db_sessions.replace_block_data(conn, block_id, data)

    async def set_usage(self, session_id: int, usage: Usage) -> None:
        async with self.db.transaction() as conn:
            await db_sessions.set_usage(conn, session_id, *usage)

    async def finish(
        self, session_id: int, status: SessionStatus, summary: str | None, error: str | None
    ) -> AgentSession:
        async with self.db.transaction() as conn:
            done = await db_sessions.finish_session(
                conn, session_id, status, summary, error, now_iso()
            )
        if done is None:
            raise NotFound(f"no agent session {session_id}")
        return done

    async def interrupt_running(self, message: str = INTERRUPTED_MESSAGE) -> list[AgentSession]:
        """Crash recovery: sessions left ``running`` by a dead server become ``interrupted``."""
        async with self.db.transaction() as conn:
            return await db_sessions.interrupt_running(conn, message, now_iso())

    async def get(self, session_id: int) -> AgentSession:
        session = await db_sessions.get_session(self.db.reader, session_id)
        if session is None:
            raise NotFound(f"no agent session {session_id}")
        return session

    async def for_owner(self, owner: Owner) -> list[AgentSession]:
        """The owner's sessions, newest first."""
        return await db_sessions.owner_sessions(self.db.reader, owner)

    async def with_transcript(
        self, owner: Owner, session_id: int, last_event_id: int
    ) -> dict[str, Any]:
        """One session of the owner with every stored block, and ``last_event_id`` (read by the
        caller before the transcript: ``Supervisor.transcript``)."""
        session = await db_sessions.get_session(self.db.reader, session_id)
        if session is None or session.owner != owner:
            raise NotFound(f"this {owner.kind.value} has no agent session {session_id}")
        blocks = await db_sessions.transcript(self.db.reader, session_id)
        return SessionWithTranscript(
            **session.shape().model_dump(),
            transcript=[block.shape() for block in blocks],
            last_event_id=last_event_id,
        ).model_dump(mode="json")
