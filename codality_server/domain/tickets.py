"""Tickets and their comments (product.md §4): types, field rules and the search-query grammar.

Validation lives here rather than only in the HTTP schemas because tickets are also created and
edited by other use cases (plans, discovery, the agent's tools), which call the services directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar

from .errors import Conflict, InvalidInput, NotFound
from .github import PullRequestCard
from .pushes import PushView
from .sessions import SessionStatus
from .shapes import Shape
from .users import Person

TITLE_MAX_CHARS = 500
MARKDOWN_MAX_BYTES = 100 * 1024
AGENT: Final = "agent"
UNASSIGNED: Final = "none"

Assignee = int | Literal["agent"] | None


class TicketStatus(StrEnum):
    INBOX = "inbox"
    BACKLOG = "backlog"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    DONE = "done"
    CANCELLED = "cancelled"


class Kind(StrEnum):
    BUG = "bug"
    FEATURE = "feature"
    TASK = "task"
    CHORE = "chore"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


E = TypeVar("E", bound=StrEnum)


def parse_choice(enum: type[E], value: str | E, field: str) -> E:
    """``value`` as a member of ``enum``, or a 400 naming the field and the allowed values."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(f"{field}: {value!r} is not one of {allowed}", field=field) from None


def clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InvalidInput("title: must not be empty", field="title")
    if "\n" in title or "\r" in title:
        raise InvalidInput("title: must be one line", field="title")
    if len(title) > TITLE_MAX_CHARS:
        raise InvalidInput(f"title: at most {TITLE_MAX_CHARS} characters", field="title")
    return title


def clean_markdown(text: str, field: str, required: bool = False) -> str:
    """Markdown bodies keep their whitespace but are capped at 100 KB of UTF-8."""
    if required and not text.strip():
        raise InvalidInput(f"{field}: must not be empty", field=field)
    if len(text.encode()) > MARKDOWN_MAX_BYTES:
        raise InvalidInput(f"{field}: at most {MARKDOWN_MAX_BYTES} bytes", field=field)
    return text


def parse_assignee(value: int | str | None) -> Assignee:
    """A user id, ``"agent"`` or None; whether the user exists is the service's question."""
    if value is None:
        return None
    if value == AGENT:
        return AGENT
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise InvalidInput(
        f"assignee: {value!r} is neither a user id, {AGENT!r} nor null", field="assignee"
    )


AssigneeFilter = int | Literal["agent", "none"]


def parse_assignee_filter(raw: str) -> AssigneeFilter:
    """The ``assignee`` list filter: a user id, ``agent``, or ``none`` for unassigned tickets."""
    raw = raw.strip()
    if raw == AGENT:
        return AGENT
    if raw == UNASSIGNED:
        return UNASSIGNED
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    raise InvalidInput(
        f"assignee: {raw!r} is not a user id, {AGENT!r} or {UNASSIGNED!r}", field="assignee"
    )


class TicketSort(StrEnum):
    """What a ticket list is ordered by (then by number); priority and status in board order."""

    NUMBER = "number"
    CREATED = "created"
    UPDATED = "updated"
    PRIORITY = "priority"
    STATUS = "status"


def sorts_descending(sort: TicketSort, order: str | None) -> bool:
    """``order`` (asc/desc) when given; else newest first for times, ascending otherwise."""
    if order is not None:
        return order == "desc"
    return sort in (TicketSort.CREATED, TicketSort.UPDATED)


@dataclass(frozen=True)
class TicketFilter:
    """What ``GET …/tickets`` narrows by, and its order (ticket number, ascending, unless told).

    ``search`` is an FTS5 expression (``search_expression``) over title, description, comments.
    """

    statuses: tuple[TicketStatus, ...] = ()
    kind: Kind | None = None
    priority: Priority | None = None
    assignee: AssigneeFilter | None = None
    limit: int = 100
    offset: int = 0
    sort: TicketSort = TicketSort.NUMBER
    descending: bool = False
    search: str | None = None


def search_expression(query: str) -> str:
    """Free text → an FTS5 MATCH expression that can never be a syntax error.

    Every whitespace-separated token becomes a quoted phrase (``"`` doubled), so operators and
    punctuation (``foo AND``, ``c++``, ``NEAR(``) are searched as text; a trailing ``*`` is kept
    outside the quotes so ``migr*`` still searches by prefix. Phrases are ANDed.
    """
    phrases = []
    for token in query.split():
        prefix = token.endswith("*")
        word = token.rstrip("*")
        if not word:
            continue
        phrases.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not phrases:
        raise InvalidInput("q: give at least one word to search for", field="q")
    return " ".join(phrases)


class TicketView(Shape):
    """A ticket as the API answers it, events carry it and the OpenAPI document describes it."""

    id: int
    project_id: int
    number: int
    title: str
    description: str
    kind: Kind
    priority: Priority
    status: TicketStatus
    assignee: int | Literal["agent"] | None
    assignee_name: str | None
    branch: str | None
    worktree_path: str | None
    agent_status: SessionStatus | None
    agent_cost_usd: float
    pull_request: PullRequestCard | None
    push: PushView | None  # how its local merge went to origin
    stacked_on: int | None  # the dependency whose unmerged branch its branch started from
    depends_on: list[int]
    created_by: int | None
    created_at: str
    updated_at: str


class SearchHitView(TicketView):
    """A ticket found by search: its snippet with the matches marked, and its rank."""

    snippet: str
    rank: float


@dataclass(frozen=True)
class Ticket:
    id: int
    project_id: int
    number: int
    title: str
    description: str
    kind: Kind
    priority: Priority
    status: TicketStatus
    assignee: Assignee
    branch: str | None
    worktree_path: str | None
    created_by: int | None
    created_at: str
    updated_at: str
    agent_status: str | None
    agent_cost_usd: float = 0.0  # what every agent session on the ticket has cost so far
    depends_on: tuple[int, ...] = ()  # numbers of the tickets this one waits for
    pull_request: dict[str, Any] | None = None  # its GitHub PR's summary, when it has one
    assignee_name: str | None = None  # the assigned user's display name
    push: dict[str, Any] | None = None  # how its local merge went to origin (``PushReport``)
    # Stacked work: the unmerged dependency whose branch this ticket's branch started from (its
    # id and number), and the commit it started at; None when it started from the default branch.
    stacked_on: int | None = None
    stacked_on_number: int | None = None
    fork_sha: str | None = None

    def fields(self) -> dict[str, Any]:
        """The view's fields, as ``TicketView`` (and ``SearchHitView``) take them."""
        return {
            "id": self.id,
            "project_id": self.project_id,
            "number": self.number,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "priority": self.priority,
            "status": self.status,
            "assignee": self.assignee,
            "assignee_name": self.assignee_name,
            "branch": self.branch,
            "worktree_path": self.worktree_path,
            "agent_status": self.agent_status,
            "agent_cost_usd": round(self.agent_cost_usd, 6),
            "pull_request": self.pull_request,
            "push": self.push,
            "stacked_on": self.stacked_on_number,
            "depends_on": list(self.depends_on),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def view(self) -> dict[str, Any]:
        return TicketView.model_validate(self.fields()).model_dump(mode="json")


@dataclass(frozen=True)
class SearchHit:
    """A ticket found by full-text search; lower ``rank`` is better (FTS5 bm25)."""

    ticket: Ticket
    snippet: str
    rank: float

    def view(self) -> dict[str, Any]:
        hit = {**self.ticket.fields(), "snippet": self.snippet, "rank": self.rank}
        return SearchHitView.model_validate(hit).model_dump(mode="json")


class CommentView(Shape):
    id: int
    ticket_id: int
    author: Person | None
    author_kind: Literal["user", "agent"]
    body: str
    created_at: str


@dataclass(frozen=True)
class Comment:
    """A markdown comment on a ticket by a user or by the agent (``author`` is None when the
    agent wrote it or the user was removed)."""

    id: int
    ticket_id: int
    author: Person | None
    author_kind: Literal["user", "agent"]
    body: str
    created_at: str

    def view(self) -> dict[str, Any]:
        return CommentView(
            id=self.id,
            ticket_id=self.ticket_id,
            author=self.author,
            author_kind=self.author_kind,
            body=self.body,
            created_at=self.created_at,
        ).model_dump(mode="json")


def ticket_branch(ticket: Ticket) -> str:
    """The branch holding the ticket's work; NotFound before the agent has made one."""
    if not ticket.branch:
        raise NotFound(f"ticket #{ticket.number} has no branch yet; start the agent on it first")
    return ticket.branch


def work_branch(ticket: Ticket, action: str) -> str:
    """The branch an action (review, merge, discard) works on; 409 while there is none."""
    if not ticket.branch:
        raise Conflict(
            f"ticket #{ticket.number} has no work to {action} yet; start the agent on it first",
            details={"reason": "no_work"},
        )
    return ticket.branch
