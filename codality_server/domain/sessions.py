"""Agent sessions (product.md §5): one run of the agent on a ticket, and its stored transcript."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class SessionStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"


class Trigger(StrEnum):
    MANUAL = "manual"
    QUEUE = "queue"
    REVIEW = "review"
    CI = "ci"
    COMMENT = "comment"


def session_cost(tokens_in: int, tokens_out: int, price: dict[str, float] | None) -> float:
    """US dollars for the tokens at the model's price per million; unknown models cost 0."""
    if not price:
        return 0.0
    cost = tokens_in * price["input_per_mtok"] + tokens_out * price["output_per_mtok"]
    return round(cost / 1_000_000, 6)


@dataclass(frozen=True)
class AgentSession:
    id: int
    ticket_id: int
    trigger: str
    status: SessionStatus
    model: str
    sandbox: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    summary: str | None
    error: str | None
    started_by: int | None
    started_at: str
    ended_at: str | None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "trigger": self.trigger,
            "status": self.status.value,
            "model": self.model,
            "sandbox": self.sandbox,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
            "summary": self.summary,
            "error": self.error,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }


@dataclass(frozen=True)
class TranscriptBlock:
    """One stored piece of a run: text, thinking, a tool call or result, a message, an error."""

    id: int
    session_id: int
    kind: str
    data: dict[str, Any]
    created_at: str

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "data": self.data, "created_at": self.created_at}
