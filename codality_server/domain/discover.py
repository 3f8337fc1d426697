"""Discovery (product.md §8): conversations, their messages, and the model's proposals.

A proposal is what the discovery model asks the user to confirm: tickets, a plan, a work queue or a
change to a ticket. The schemas below are the single definition of each: they give the model its
tool input schemas, check what the model sends (a malformed proposal is reported back to it and
never stored), and check the user's ``edits`` when an action is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidInput
from .sessions import TranscriptBlock, TranscriptBlockView
from .shapes import Shape
from .tickets import MARKDOWN_MAX_BYTES, TITLE_MAX_CHARS, Kind, Priority, TicketStatus

CONVERSATION_TITLE_MAX = 200
MESSAGE_MAX_BYTES = 100 * 1024
MAX_PROPOSED_TICKETS = 50


class ReplyStatus(StrEnum):
    """How a message stands: a reply is ``streaming`` until it ends one of the other ways."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    INTERRUPTED = "interrupted"  # the server stopped (or crashed) mid-reply
    CANCELLED = "cancelled"  # a user cancelled it
    FAILED = "failed"  # the model could not be reached or broke off


class ActionKind(StrEnum):
    TICKETS = "tickets"
    PLAN = "plan"
    QUEUE = "queue"
    TICKET_UPDATE = "ticket_update"


class ActionStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


# --- shapes: what the API answers, the ``discover:*`` events carry and the document describes --


class ConversationView(Shape):
    id: int
    project_id: int
    title: str
    created_by: int | None
    message_count: int
    created_at: str
    updated_at: str


class ToolCallView(Shape):
    """A tool the model called while writing a reply."""

    tool_use_id: str
    name: str
    input: Any


class ActionView(Shape):
    """A proposal of the model's, waiting for the user (``pending``) or decided."""

    id: int
    conversation_id: int
    message_id: int
    kind: ActionKind
    proposal: dict[str, Any]
    status: ActionStatus
    result: dict[str, Any] | None
    decided_by: int | None
    decided_at: str | None
    created_at: str


class MessageView(Shape):
    """A message of a conversation: ``content`` is its text blocks joined, ``blocks`` every
    stored block in order (a new text block is a new paragraph)."""

    id: int
    conversation_id: int
    role: str
    status: ReplyStatus
    content: str
    error: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    session_id: int | None
    created_by: int | None
    created_at: str
    updated_at: str
    blocks: list[TranscriptBlockView]
    tool_calls: list[ToolCallView]
    actions: list[ActionView]


class ConversationWithMessages(ConversationView):
    streaming: bool
    messages: list[MessageView]
    #: The bus id to follow live events after (None in the answer that creates it).
    last_event_id: int | None = None


class MessageSent(Shape):
    """A sent message's id and its reply's, and the bus id the reply's events come after."""

    id: int
    conversation_id: int
    reply_id: int
    session_id: int
    last_event_id: int


class ReplyCancelled(Shape):
    cancelled: bool
    session_id: int


# --- stored things --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    id: int
    project_id: int
    title: str
    created_by: int | None
    created_at: str
    updated_at: str
    message_count: int = 0

    def shape(self) -> ConversationView:
        return ConversationView(
            id=self.id,
            project_id=self.project_id,
            title=self.title,
            created_by=self.created_by,
            message_count=self.message_count,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")

    def with_messages(
        self, messages: list[Message], streaming: bool, last_event_id: int | None = None
    ) -> dict[str, Any]:
        """The conversation with every message (``last_event_id``: where live events follow)."""
        return ConversationWithMessages(
            **self.shape().model_dump(),
            streaming=streaming,
            messages=[m.shape() for m in messages],
            last_event_id=last_event_id,
        ).model_dump(mode="json")


#: What a reply message shows of its session's transcript: what the model said and did, and the
#: proposals it stored. The rest of that transcript (thinking, retries, history cuts, how the
#: session ended) is the session's; the message's ``status`` and ``error`` say how it ended.
REPLY_BLOCK_KINDS = ("text", "tool_call", "tool_result", "action")


@dataclass(frozen=True)
class Action:
    id: int
    conversation_id: int
    message_id: int
    kind: ActionKind
    proposal: dict[str, Any]
    status: ActionStatus
    result: dict[str, Any] | None
    decided_by: int | None
    decided_at: str | None
    created_at: str

    def shape(self) -> ActionView:
        return ActionView(
            id=self.id,
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            kind=self.kind,
            proposal=self.proposal,
            status=self.status,
            result=self.result,
            decided_by=self.decided_by,
            decided_at=self.decided_at,
            created_at=self.created_at,
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    role: str
    status: ReplyStatus
    error: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    session_id: int | None
    created_by: int | None
    created_at: str
    updated_at: str
    #: A reply's blocks: its session's transcript (``REPLY_BLOCK_KINDS``).
    blocks: tuple[TranscriptBlock, ...] = ()
    actions: tuple[Action, ...] = field(default=())
    #: What the message says when no session wrote it: a user's message.
    content: str = ""

    @property
    def text(self) -> str:
        said = "".join(str(b.data.get("text", "")) for b in self.blocks if b.kind == "text")
        return self.content + said

    def shape(self) -> MessageView:
        return MessageView(
            id=self.id,
            conversation_id=self.conversation_id,
            role=self.role,
            status=self.status,
            content=self.text,
            error=self.error,
            model=self.model,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            cost_usd=self.cost_usd,
            session_id=self.session_id,
            created_by=self.created_by,
            created_at=self.created_at,
            updated_at=self.updated_at,
            blocks=[b.shape() for b in self.blocks],
            tool_calls=[_tool_call(b) for b in self.blocks if b.kind == "tool_call"],
            actions=[a.shape() for a in self.actions],
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


def _tool_call(block: TranscriptBlock) -> ToolCallView:
    return ToolCallView(
        tool_use_id=str(block.data.get("tool_use_id", "")),
        name=str(block.data.get("name", "")),
        input=block.data.get("input"),
    )


def clean_message(content: str) -> str:
    if not content.strip():
        raise InvalidInput("content: must not be empty", field="content")
    if len(content.encode()) > MESSAGE_MAX_BYTES:
        raise InvalidInput(f"content: at most {MESSAGE_MAX_BYTES} bytes", field="content")
    return content


def clean_conversation_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) > CONVERSATION_TITLE_MAX:
        raise InvalidInput(f"title: at most {CONVERSATION_TITLE_MAX} characters", field="title")
    return title


# --- proposals ------------------------------------------------------------------------------------

Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX_CHARS, pattern=r"\S")]
Markdown = Annotated[str, Field(max_length=MARKDOWN_MAX_BYTES)]
Position = Annotated[int, Field(ge=1, le=MAX_PROPOSED_TICKETS)]
Number = Annotated[int, Field(ge=1, le=2**62)]


class _Strict(BaseModel):
    # Enums arrive as JSON strings, so those fields are lax; everything else is strict.
    model_config = ConfigDict(extra="forbid", strict=True)


class NewTicket(_Strict):
    title: Title
    description: Markdown = ""
    kind: Kind = Field(default=Kind.TASK, strict=False)
    priority: Priority = Field(default=Priority.MEDIUM, strict=False)


class TicketDraft(NewTicket):
    depends_on: list[Position] = Field(
        default_factory=list,
        description="1-based positions of earlier tickets in this list that must be done first",
    )


def _check_order(drafts: list[TicketDraft], where: str) -> None:
    for index, draft in enumerate(drafts, start=1):
        for position in draft.depends_on:
            if position >= index:
                raise ValueError(
                    f"{where}[{index}] depends on position {position}: a ticket may only depend"
                    " on tickets listed before it"
                )


class TicketsProposal(_Strict):
    tickets: list[TicketDraft] = Field(min_length=1, max_length=MAX_PROPOSED_TICKETS)
    rationale: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> TicketsProposal:
        _check_order(self.tickets, "tickets")
        return self


class PlanProposal(_Strict):
    title: Title
    body: Annotated[str, Field(min_length=1, max_length=MARKDOWN_MAX_BYTES)]
    tickets: list[TicketDraft] = Field(default_factory=list, max_length=MAX_PROPOSED_TICKETS)
    rationale: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> PlanProposal:
        _check_order(self.tickets, "tickets")
        return self


class ExistingTicket(_Strict):
    ticket: Number = Field(description="the number of an existing ticket")


class QueueProposal(_Strict):
    name: Title
    description: Markdown = ""
    items: list[ExistingTicket | NewTicket] = Field(
        min_length=1,
        max_length=MAX_PROPOSED_TICKETS,
        description="in the order they run: {ticket: N} for an existing ticket, or a new one",
    )
    rationale: str = ""


class TicketUpdateProposal(_Strict):
    number: Number
    title: Title | None = None
    description: Markdown | None = None
    kind: Kind | None = Field(default=None, strict=False)
    priority: Priority | None = Field(default=None, strict=False)
    status: TicketStatus | None = Field(default=None, strict=False)
    rationale: str = ""

    @model_validator(mode="after")
    def _changes_something(self) -> TicketUpdateProposal:
        if not self.changes():
            raise ValueError("give at least one of title, description, kind, priority, status")
        return self

    def changes(self) -> dict[str, Any]:
        fields = ("title", "description", "kind", "priority", "status")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


Proposal = TicketsProposal | PlanProposal | QueueProposal | TicketUpdateProposal


@dataclass(frozen=True)
class ProposalTool:
    name: str
    kind: ActionKind
    schema: type[BaseModel]
    description: str


PROPOSAL_TOOLS: dict[str, ProposalTool] = {
    tool.name: tool
    for tool in (
        ProposalTool(
            "propose_tickets",
            ActionKind.TICKETS,
            TicketsProposal,
            "Propose new tickets (with dependencies between them) for the user to confirm."
            " Nothing is created until the user confirms.",
        ),
        ProposalTool(
            "propose_plan",
            ActionKind.PLAN,
            PlanProposal,
            "Propose a plan: a markdown design document, optionally with ticket drafts. Nothing"
            " is created until the user confirms.",
        ),
        ProposalTool(
            "propose_queue",
            ActionKind.QUEUE,
            QueueProposal,
            "Propose a work queue: tickets (existing ones by number, or new ones) that agents"
            " work through in order. Nothing is created until the user confirms.",
        ),
        ProposalTool(
            "propose_ticket_update",
            ActionKind.TICKET_UPDATE,
            TicketUpdateProposal,
            "Propose changes to an existing ticket (title, description, kind, priority,"
            " status). Nothing changes until the user confirms.",
        ),
    )
}
SCHEMAS: dict[ActionKind, type[BaseModel]] = {t.kind: t.schema for t in PROPOSAL_TOOLS.values()}


def _problems(exc: ValidationError, prefix: str) -> tuple[str, str]:
    """(field of the first problem, every problem on one line each)."""
    lines, first = [], ""
    for error in exc.errors():
        where = ".".join(str(part) for part in (prefix, *error.get("loc", ())) if part != "")
        message = "unknown field" if error.get("type") == "extra_forbidden" else error["msg"]
        lines.append(f"{where or 'input'}: {message}")
        first = first or where
    return first, "; ".join(lines)


def validate_proposal(kind: ActionKind, raw: Any, prefix: str = "") -> dict[str, Any]:
    """The proposal in its stored form, or InvalidInput naming every problem."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{prefix or 'input'}: must be an object", field=prefix or None)
    try:
        parsed = SCHEMAS[kind].model_validate(raw)
    except ValidationError as exc:
        where, message = _problems(exc, prefix)
        raise InvalidInput(message, field=where or None) from None
    stored: dict[str, Any] = parsed.model_dump(mode="json", exclude_none=True)
    return stored


def with_edits(kind: ActionKind, proposal: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """The proposal with the user's ``edits`` (top-level fields replaced), checked again."""
    return validate_proposal(kind, {**proposal, **edits}, prefix="edits")


def parse(kind: ActionKind, proposal: dict[str, Any]) -> Any:
    """A stored (already valid) proposal as its schema object."""
    return SCHEMAS[kind].model_validate(proposal)
