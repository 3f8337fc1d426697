"""The agent on a ticket: start, stop, status, messages, one stored session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .resource import Resource
from .tickets import ticket_path

if TYPE_CHECKING:
    from .models import AgentStatus, Delivered, SessionView, SessionWithTranscript


def agent_path(slug: str, number: int) -> str:
    return f"{ticket_path(slug, number)}/agent"


class AgentApi(Resource):
    async def start(
        self,
        slug: str,
        number: int,
        message: str | None = None,
        model: str | None = None,
        max_turns: int | None = None,
        max_cost_usd: float | None = None,
    ) -> SessionView:
        """Start a session; answers its view at once (the run goes on in the server)."""
        fields = {
            "message": message,
            "model": model,
            "max_turns": max_turns,
            "max_cost_usd": max_cost_usd,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        result: SessionView = await self.t.post(f"{agent_path(slug, number)}/start", body)
        return result

    async def stop(self, slug: str, number: int) -> SessionView:
        result: SessionView = await self.t.post(f"{agent_path(slug, number)}/stop")
        return result

    async def status(self, slug: str, number: int) -> AgentStatus:
        """``{running, session, sessions}``: the current or last session and every past one."""
        result: AgentStatus = await self.t.get(f"{agent_path(slug, number)}/status")
        return result

    async def message(self, slug: str, number: int, text: str, mode: str = "steer") -> Delivered:
        body = {"message": text, "mode": mode}
        result: Delivered = await self.t.post(f"{agent_path(slug, number)}/message", body)
        return result

    async def session(self, slug: str, number: int, session_id: int) -> SessionWithTranscript:
        """One session with ``transcript`` and ``last_event_id`` (follow live after it)."""
        path = f"{agent_path(slug, number)}/sessions/{int(session_id)}"
        result: SessionWithTranscript = await self.t.get(path)
        return result
