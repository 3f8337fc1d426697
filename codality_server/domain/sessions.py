"""Agent sessions (product.md §5): one run of an agent, and its stored transcript.

A session belongs to an owner: a ticket (the ticket agent), a plan (suggestions), a conversation
(a discovery reply) or a queue item. ``agent`` names the kind of agent that ran (its tools);
``channels`` are where its events went, kept so that even a session a dead server left behind
can announce its end to whoever watches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .shapes import Shape

if TYPE_CHECKING:
    from .settings import Price


class SessionStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"


class OwnerKind(StrEnum):
    TICKET = "ticket"
    PLAN = "plan"
    CONVERSATION = "conversation"
    QUEUE_ITEM = "queue_item"


@dataclass(frozen=True)
class Owner:
    """What a session belongs to; at most one session runs per owner."""

    kind: OwnerKind
    id: int

    @classmethod
    def ticket(cls, ticket_id: int) -> Owner:
        return cls(OwnerKind.TICKET, ticket_id)

    def __str__(self) -> str:
        return f"{self.kind.value} {self.id}"


class Trigger(StrEnum):
    MANUAL = "manual"
    QUEUE = "queue"
    REVIEW = "review"
    CI = "ci"
    COMMENT = "comment"


# --- shapes: what the API answers, the ``agent:*`` events carry and the document describes ---


class SessionOwner(Shape):
    kind: OwnerKind
    id: int


class Usage(Shape):
    """``tokens_in`` is every input token; the three after it split it by how it was billed
    (uncached, written to the prompt cache, read from it). ``turns``: the model calls made
    (the unit of the turn budgets), history summaries included."""

    tokens_in: int
    tokens_uncached: int
    tokens_cache_write: int
    tokens_cache_read: int
    tokens_out: int
    cost_usd: float
    turns: int


class SessionView(Shape):
    """An agent session as the API shows it (``GET …/agent/status``, ``agent:*`` events)."""

    id: int
    ticket_id: int | None
    owner: SessionOwner
    agent: str
    trigger: str
    status: SessionStatus
    model: str
    sandbox: str
    tokens_in: int
    tokens_uncached: int
    tokens_cache_write: int
    tokens_cache_read: int
    tokens_out: int
    cost_usd: float
    turns: int
    summary: str | None
    error: str | None
    started_at: str
    ended_at: str | None


class TranscriptBlockView(Shape):
    """One stored block of a transcript (a session's, or a discovery reply's message); ``data``
    is the matching event's payload without its ids (``text`` → the text blocks,
    ``tool_call`` → ``AgentToolCall`` …)."""

    id: int
    kind: str
    data: dict[str, Any]
    created_at: str


class SessionWithTranscript(SessionView):
    """One session with every stored block (``GET …/agent/sessions/{id}``)."""

    transcript: list[TranscriptBlockView]
    #: The bus id to follow live events after, so none is missed or seen twice.
    last_event_id: int


class AgentStatus(Shape):
    """Whether an agent runs on a ticket, its current or last session, and every session."""

    running: bool
    session: SessionView | None
    sessions: list[SessionView]


@dataclass(frozen=True)
class TokenCounts:
    """The tokens of a call (or, added up, of a run) as the Messages API bills them: input read
    uncached, input written to the prompt cache, input read from it, and output."""

    uncached: int = 0
    cache_write: int = 0
    cache_read: int = 0
    output: int = 0

    @property
    def input(self) -> int:
        """Every input token the model read, however billed."""
        return self.uncached + self.cache_write + self.cache_read

    def __add__(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(
            self.uncached + other.uncached,
            self.cache_write + other.cache_write,
            self.cache_read + other.cache_read,
            self.output + other.output,
        )


def call_cost(tokens: TokenCounts, price: Price | None) -> float:
    """US dollars for the tokens at the model's prices per million; unknown models cost 0."""
    if price is None:
        return 0.0
    cost = (
        tokens.uncached * price.input_per_mtok
        + tokens.cache_write * price.cache_write_per_mtok
        + tokens.cache_read * price.cache_read_per_mtok
        + tokens.output * price.output_per_mtok
    )
    return round(cost / 1_000_000, 6)


def dollars(amount: float) -> str:
    """``$2.00``; an amount under a cent keeps four decimals (``$0.0010``), never ``$0.00``."""
    return f"${amount:.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


def turns_text(count: int) -> str:
    """``1 turn``, ``40 turns``."""
    return f"{count} turn" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class Budget:
    """The most one run may take: model calls (turns) and US dollars; None is no limit.

    A run stops before a call once it has made ``max_turns`` calls, or once what it has spent
    plus what that call's input will cost at least (``AgentLoop``'s estimate) would pass
    ``max_cost_usd``. A call's output is only known once it is made, so the call that crosses
    the dollar limit is the last one: a run may pass it by at most that one call."""

    max_turns: int | None = None
    max_cost_usd: float | None = None
    #: How the dollar limit is named in the reason, when it is not the run's own (a queue's
    #: remaining budget: ``$5.00 for the queue``).
    cost_label: str | None = None
    #: The same for the turn limit (``40 turns for the queue``).
    turns_label: str | None = None

    def reached(self, turns: int, cost_usd: float, next_input_usd: float = 0.0) -> str | None:
        """Why a run that made ``turns`` calls costing ``cost_usd`` must stop before its next
        call, whose input costs ``next_input_usd`` at least, if it must."""
        if self.max_turns is not None and turns >= self.max_turns:
            return f"budget: {self.turns_label or turns_text(self.max_turns)}"
        if self.max_cost_usd is not None and (
            cost_usd >= self.max_cost_usd or cost_usd + next_input_usd > self.max_cost_usd
        ):
            return f"budget: {self.cost_label or dollars(self.max_cost_usd)}"
        return None

    def over(self, defaults: Budget) -> Budget:
        """This budget's limits, with ``defaults``' where it sets none."""
        cost = self if self.max_cost_usd is not None else defaults
        turns = self if self.max_turns is not None else defaults
        return Budget(turns.max_turns, cost.max_cost_usd, cost.cost_label, turns.turns_label)


@dataclass(frozen=True)
class AgentSession:
    id: int
    owner: Owner
    agent: str
    channels: tuple[str, ...]
    trigger: str
    status: SessionStatus
    model: str
    sandbox: str
    #: Every input token, then the part of them written to and read from the prompt cache.
    tokens_in: int
    tokens_cache_write: int
    tokens_cache_read: int
    tokens_out: int
    cost_usd: float
    #: Model calls (turns) made so far.
    model_calls: int
    summary: str | None
    error: str | None
    started_by: int | None
    started_at: str
    ended_at: str | None

    @property
    def ticket_id(self) -> int | None:
        return self.owner.id if self.owner.kind is OwnerKind.TICKET else None

    @property
    def ended(self) -> bool:
        return self.status is not SessionStatus.RUNNING

    def usage(self) -> Usage:
        """Tokens by how they were billed, what they cost, and the model calls made."""
        return Usage(
            tokens_in=self.tokens_in,
            tokens_uncached=self.tokens_in - self.tokens_cache_write - self.tokens_cache_read,
            tokens_cache_write=self.tokens_cache_write,
            tokens_cache_read=self.tokens_cache_read,
            tokens_out=self.tokens_out,
            cost_usd=self.cost_usd,
            turns=self.model_calls,
        )

    def shape(self) -> SessionView:
        return SessionView(
            id=self.id,
            ticket_id=self.ticket_id,
            owner=SessionOwner(kind=self.owner.kind, id=self.owner.id),
            agent=self.agent,
            trigger=self.trigger,
            status=self.status,
            model=self.model,
            sandbox=self.sandbox,
            **self.usage().model_dump(),
            summary=self.summary,
            error=self.error,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


@dataclass(frozen=True)
class TranscriptBlock:
    """One stored piece of a run: text, thinking, a tool call or result, a message, an error."""

    id: int
    session_id: int
    kind: str
    data: dict[str, Any]
    created_at: str

    def shape(self) -> TranscriptBlockView:
        return TranscriptBlockView(
            id=self.id, kind=self.kind, data=self.data, created_at=self.created_at
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")
