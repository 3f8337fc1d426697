"""Events: the one catalogue of every event type, its payload model and the channels it goes on.

Each payload is a pydantic model registered with ``@event(type, channels, description)``; the bus
publishes models (``bus.publish(TicketUpdated.of(ticket), channels)``), so a payload that does
not match its model fails where it is made, not in a client. ``CATALOGUE`` maps each type to its
model; ``scripts/gen_events.py`` turns it into ``codality_cli/api/event_types.py`` (TypedDicts the
CLI and TUI decode with, since the CLI never imports the server), and a test keeps that file
current. The SSE endpoint accepts every channel kind the catalogue names.

Channels are ``{kind}:{id}`` with the numeric ids the API returns. One event may be visible on
several channels (an agent delta belongs to its ticket and its project) yet has a single id, so a
subscriber to everything receives it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar, Literal, Self, TypeVar

from .discover import ActionView, MessageView, ToolCallView
from .github import (
    CheckCounts,
    CheckRunView,
    PullRequestCard,
    PullRequestView,
    WebhookDelivery,
)
from .plans import PlanDraftView, PlanView, ReadinessView, SuggestionView
from .pushes import PushRetry, PushView
from .queues import QueueItemView, QueueProgress, QueueView
from .reviews import ReviewCommentView, ReviewView
from .sessions import SessionOwner, SessionView, TranscriptBlockView, Usage
from .shapes import Shape
from .tickets import CommentView, TicketView
from .users import Person


class ChannelKind(StrEnum):
    TICKET = "ticket"
    PROJECT = "project"
    PLAN = "plan"
    CONVERSATION = "conversation"
    QUEUE = "queue"


def channel(kind: ChannelKind, ident: int) -> str:
    return f"{kind.value}:{ident}"


def ticket_channel(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def project_channel(project_id: int) -> str:
    return f"project:{project_id}"


def plan_channel(plan_id: int) -> str:
    return f"plan:{plan_id}"


def conversation_channel(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def queue_channel(queue_id: int) -> str:
    return f"queue:{queue_id}"


class Payload(Shape):
    """Base of every event payload; ``@event`` fills the class variables."""

    TYPE: ClassVar[str]
    CHANNELS: ClassVar[tuple[ChannelKind, ...]]
    CHANNEL_KINDS: ClassVar[frozenset[str]]
    DESCRIPTION: ClassVar[str]

    @classmethod
    def of(cls, view: dict[str, Any]) -> Self:
        """The payload from a domain object's ``view()`` (checked against the model)."""
        return cls.model_validate(view)


CATALOGUE: dict[str, type[Payload]] = {}
#: Models that are not payloads but that clients read too (they appear inside payloads or in
#: API answers), exported to the CLI's generated module alongside the payloads.
SHAPES: list[type[Shape]] = []

P = TypeVar("P", bound=type[Payload])
S = TypeVar("S", bound=type[Shape])


def event(type_: str, channels: tuple[ChannelKind, ...], description: str) -> Callable[[P], P]:
    """Register a payload model as the one for ``type_``."""

    def register(cls: P) -> P:
        if type_ in CATALOGUE:
            raise ValueError(f"event type {type_!r} is registered twice")
        cls.TYPE, cls.CHANNELS, cls.DESCRIPTION = type_, channels, description
        cls.CHANNEL_KINDS = frozenset(kind.value for kind in channels)
        CATALOGUE[type_] = cls
        return cls

    return register


def shape(cls: S) -> S:
    SHAPES.append(cls)
    return cls


def channel_kinds() -> frozenset[str]:
    """Every channel kind some event type is published on."""
    return frozenset(kind.value for cls in CATALOGUE.values() for kind in cls.CHANNELS)


TICKET, PROJECT, PLAN, CONVERSATION, QUEUE = (
    ChannelKind.TICKET,
    ChannelKind.PROJECT,
    ChannelKind.PLAN,
    ChannelKind.CONVERSATION,
    ChannelKind.QUEUE,
)
#: A session publishes on its owner's channels, whatever the owner is.
SESSION_CHANNELS = (TICKET, PROJECT, PLAN, CONVERSATION, QUEUE)

# --- shapes inside payloads -------------------------------------------------------------------


for _nested in (
    CheckCounts,
    PullRequestCard,
    PullRequestView,
    CheckRunView,
    PushRetry,
    PushView,
    TicketView,
    Person,
    CommentView,
    ReviewCommentView,
    ReviewView,
    PlanDraftView,
    SuggestionView,
    ReadinessView,
    PlanView,
    QueueItemView,
    QueueProgress,
    QueueView,
    SessionOwner,
    SessionView,
    Usage,
    TranscriptBlockView,
    ToolCallView,
    ActionView,
    MessageView,
):
    shape(_nested)


# --- tickets, comments, reviews -----------------------------------------------------------------


@event("ticket:created", (TICKET, PROJECT), "A ticket was filed")
class TicketCreated(TicketView, Payload):
    pass


@event(
    "ticket:updated", (TICKET, PROJECT), "A ticket changed (fields, status, branch, agent state)"
)
class TicketUpdated(TicketView, Payload):
    pass


@event("comment:created", (TICKET, PROJECT), "A comment was posted on a ticket")
class CommentCreated(CommentView, Payload):
    pass


@event("review:created", (TICKET, PROJECT), "A review was submitted")
class ReviewCreated(ReviewView, Payload):
    pass


@event(
    "feedback:started", (TICKET, PROJECT), "Feedback (a review, CI, a PR comment) started the agent"
)
class FeedbackStarted(Payload):
    """The agent started on feedback: a review inside Codality, or on GitHub a CI failure, a PR
    comment or a review (then ``trigger`` says which and ``pull_request`` names the PR)."""

    ticket_id: int
    review_id: int | None = None
    trigger: str = "review"
    pull_request: int | None = None
    session: SessionView


# --- agent sessions (any owner) ----------------------------------------------------------------


@event("agent:started", SESSION_CHANNELS, "An agent session began")
class AgentStarted(SessionView, Payload):
    session_id: int


@event("agent:stopped", SESSION_CHANNELS, "An agent session ended (status, summary, usage)")
class AgentStopped(SessionView, Payload):
    session_id: int
    usage: Usage


class BlockDelta(Payload):
    """A piece of a streaming transcript block: the one delta protocol of every session kind
    (ticket, plan suggestion, discovery reply), each under its own event name. ``block``: the id
    of the stored block the text grows, so a viewer can tell where one message ends and the next
    begins (a new id starts a new block); ``at``: where in that block's text this delta starts,
    so a viewer that read the stored block skips what it already has; ``kind``: the block's
    kind."""

    text: str
    block: int | None = None
    at: int | None = None
    kind: Literal["text", "thinking", "tool_call"] = "text"


@event("agent:text_delta", SESSION_CHANNELS, "Streaming text from the agent")
class AgentTextDelta(BlockDelta):
    session_id: int


@event("agent:thinking_delta", SESSION_CHANNELS, "Streaming thinking from the agent")
class AgentThinkingDelta(BlockDelta):
    session_id: int
    kind: Literal["text", "thinking", "tool_call"] = "thinking"


@event("agent:tool_call", SESSION_CHANNELS, "The agent called a tool (name and input)")
class AgentToolCall(Payload):
    session_id: int
    tool_use_id: str
    name: str
    input: Any


@event("agent:tool_result", SESSION_CHANNELS, "A tool finished (output capped at 4 KB)")
class AgentToolResult(Payload):
    session_id: int
    tool_use_id: str
    name: str
    ok: bool
    output: str


@event("agent:error", SESSION_CHANNELS, "An error in a session (``retrying``: it goes on)")
class AgentError(Payload):
    session_id: int
    message: str
    retrying: bool = False


@event(
    "agent:history_trimmed",
    SESSION_CHANNELS,
    "The run's history was cut to fit the model's context window (what was dropped)",
)
class AgentHistoryTrimmed(Payload):
    """``tokens_before`` / ``tokens_after``: the history's estimated size around the cut."""

    session_id: int
    message: str
    tokens_before: int
    tokens_after: int


@event(
    "agent:preparing",
    SESSION_CHANNELS,
    "A run getting ready before the model is asked: what it does, ``done`` when it is ready",
)
class AgentPreparing(Payload):
    session_id: int
    step: str
    done: bool = False


@event("agent:user_message", SESSION_CHANNELS, "A person sent the running agent a message")
class AgentUserMessage(Payload):
    session_id: int
    text: str
    mode: Literal["steer", "queue"]
    source: str


@event("agent:prompt", SESSION_CHANNELS, "The first message the model was given")
class AgentPrompt(Payload):
    session_id: int
    text: str


@event("agent:commit", SESSION_CHANNELS, "The agent's leftover work was committed at the end")
class AgentCommit(Payload):
    session_id: int
    sha: str
    message: str


# --- plans -------------------------------------------------------------------------------------


@event("plan:created", (PROJECT, PLAN), "A plan was created")
class PlanCreated(PlanView, Payload):
    pass


@event("plan:updated", (PROJECT, PLAN), "A plan changed (body, title, drafts, status)")
class PlanUpdated(PlanView, Payload):
    pass


@event("plan:deleted", (PROJECT, PLAN), "A plan was deleted")
class PlanDeleted(Payload):
    id: int
    project_id: int


@event("plan:delta", (PROJECT, PLAN), "Streaming text while the model works on a plan")
class PlanDelta(BlockDelta):
    """A ``kind`` ``tool_call`` delta is a tool call of the model's: ``tool`` and ``input`` say
    which, its ``text`` is empty."""

    plan_id: int
    session_id: int | None = None
    tool: str | None = None
    input: Any = None


# --- discovery ---------------------------------------------------------------------------------


@event("discover:delta", (PROJECT, CONVERSATION), "Streaming text of a discovery reply")
class DiscoverDelta(BlockDelta):
    conversation_id: int
    session_id: int | None = None
    message_id: int | None = None


@event("discover:tool_call", (PROJECT, CONVERSATION), "The discovery agent called a tool")
class DiscoverToolCall(Payload):
    conversation_id: int
    session_id: int | None = None
    message_id: int | None = None
    tool_use_id: str
    name: str
    input: Any


@event("discover:tool_result", (PROJECT, CONVERSATION), "A discovery tool finished")
class DiscoverToolResult(Payload):
    conversation_id: int
    session_id: int | None = None
    message_id: int | None = None
    tool_use_id: str
    name: str
    ok: bool
    output: str


@event(
    "discover:message",
    (PROJECT, CONVERSATION),
    "A discovery message is complete (user or assistant)",
)
class DiscoverMessage(Payload):
    conversation_id: int
    message: MessageView


@event("discover:error", (PROJECT, CONVERSATION), "A discovery reply failed or is retrying")
class DiscoverError(Payload):
    conversation_id: int
    session_id: int | None = None
    message: str
    retrying: bool = False


# --- work queues -------------------------------------------------------------------------------


@event("queue:created", (PROJECT, QUEUE), "A work queue was made")
class QueueCreated(Payload):
    queue: QueueView


@event("queue:updated", (PROJECT, QUEUE), "A work queue changed (items, order, settings)")
class QueueUpdated(Payload):
    queue: QueueView


@event("queue:cancelled", (PROJECT, QUEUE, TICKET), "A work queue was cancelled")
class QueueCancelled(Payload):
    """``item``: the first item whose agent the cancel stopped, if one ran."""

    queue: QueueView
    item: QueueItemView | None = None
    reason: str | None = None


@event("queue:deleted", (PROJECT, QUEUE), "A work queue was deleted")
class QueueDeleted(Payload):
    id: int
    project_id: int
    name: str


@event("queue:started", (PROJECT, QUEUE, TICKET), "A work queue started running")
class QueueStarted(Payload):
    queue: QueueView
    item: QueueItemView | None = None
    session: SessionView | None = None


@event("queue:advanced", (PROJECT, QUEUE, TICKET), "An item finished and the next one started")
class QueueAdvanced(Payload):
    """``item`` and ``session``: the item that started and its session; ``previous``: the item
    whose completion led here (None when a free place in parallel was filled)."""

    queue: QueueView
    item: QueueItemView | None = None
    session: SessionView | None = None
    previous: QueueItemView | None = None


@event(
    "queue:paused", (PROJECT, QUEUE, TICKET), "A work queue paused (an item failed, or a conflict)"
)
class QueuePaused(Payload):
    queue: QueueView
    item: QueueItemView | None = None
    session: SessionView | None = None
    reason: str


@event("queue:completed", (PROJECT, QUEUE, TICKET), "A work queue finished every ticket")
class QueueCompleted(Payload):
    queue: QueueView
    item: QueueItemView | None = None
    session: SessionView | None = None


# --- GitHub ------------------------------------------------------------------------------------


@event("pr:created", (TICKET, PROJECT), "A pull request was opened for a ticket")
class PullRequestCreated(Payload):
    ticket_id: int
    pull_request: PullRequestView


@event("pr:updated", (TICKET, PROJECT), "A pull request's state, checks or reviews changed")
class PullRequestUpdated(Payload):
    """``check``: the check run whose change this is, when one is."""

    ticket_id: int
    pull_request: PullRequestView
    check: CheckRunView | None = None


@event("github:webhook", (PROJECT,), "A GitHub webhook delivery was received and handled")
class GithubWebhook(WebhookDelivery, Payload):
    pass


# --- the published event -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Event:
    """One published event; ``id`` and ``ts`` are assigned by the bus.

    Compared and hashed by identity, so an encoded frame can be cached per event.
    """

    payload: Payload
    channels: tuple[str, ...]
    id: int = 0
    ts: str = ""

    @property
    def type(self) -> str:
        return self.payload.TYPE

    @cached_property
    def data(self) -> dict[str, Any]:
        """The payload as JSON-ready data."""
        return self.payload.model_dump(mode="json")

    @cached_property
    def data_json(self) -> str:
        """The payload as JSON text, encoded once however many subscribers receive it."""
        return self.payload.model_dump_json()

    def channel_for(self, wanted: frozenset[str] | None) -> str | None:
        """The channel under which a subscriber with ``wanted`` sees this event, or None."""
        if not wanted:
            return self.channels[0] if self.channels else "*"
        for name in self.channels:
            if name in wanted:
                return name
        return None


def check_channels(payload: Payload, channels: tuple[str, ...]) -> None:
    """Every channel is one of the kinds the catalogue names for this type."""
    for name in channels:
        if name.partition(":")[0] not in payload.CHANNEL_KINDS:
            raise ValueError(f"{payload.TYPE} is not published on {name!r}")
