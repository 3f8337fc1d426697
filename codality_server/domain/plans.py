"""Plans (product.md §8): a markdown design, its ticket drafts, and the rules that keep drafts
sound.

Drafts are ordered by implementation sequence. ``order`` counts from 1 and ``depends_on`` names
the orders of *earlier* drafts, so the dependencies of the tickets an approval creates can never
form a cycle. Every way drafts arrive (a ``PUT``, the model's extraction) goes through
``order_drafts``, which renumbers them 1..n and refuses anything it cannot make sound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .errors import InvalidInput
from .shapes import Shape
from .tickets import (
    TITLE_MAX_CHARS,
    Kind,
    Priority,
    clean_markdown,
    clean_title,
    parse_choice,
)

MAX_DRAFTS = 100


class PlanStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


@dataclass(frozen=True)
class DraftInput:
    """A ticket draft as a caller gave it: enums still text, ``order`` optional."""

    title: str
    description: str = ""
    kind: str = Kind.TASK.value
    priority: str = Priority.MEDIUM.value
    order: int | None = None
    depends_on: Sequence[int] = ()


class PlanDraftView(Shape):
    title: str
    description: str
    kind: Kind
    priority: Priority
    order: int
    depends_on: list[int]
    ticket: int | None


@dataclass(frozen=True)
class TicketDraft:
    """One ticket-to-be; ``ticket`` is the number of the ticket approval made from it."""

    title: str
    description: str
    kind: Kind
    priority: Priority
    order: int
    depends_on: tuple[int, ...] = ()
    ticket: int | None = None

    def shape(self) -> PlanDraftView:
        return PlanDraftView(
            title=self.title,
            description=self.description,
            kind=self.kind,
            priority=self.priority,
            order=self.order,
            depends_on=list(self.depends_on),
            ticket=self.ticket,
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


def order_drafts(drafts: Sequence[DraftInput]) -> tuple[TicketDraft, ...]:
    """Validated drafts sorted by ``order`` and renumbered 1..n, dependencies renumbered too.

    A draft without an ``order`` keeps its place in the list. Errors name the draft by its index
    in the input (``drafts[2].depends_on``).
    """
    if len(drafts) > MAX_DRAFTS:
        raise InvalidInput(f"drafts: at most {MAX_DRAFTS} drafts", field="drafts")
    placed: list[tuple[int, int, DraftInput]] = []
    seen: dict[int, int] = {}
    for index, draft in enumerate(drafts):
        order = draft.order if draft.order is not None else index + 1
        if order < 1:
            raise _draft_error(index, "order", "must be 1 or more")
        if order in seen:
            raise _draft_error(
                index, "order", f"{order} is also the order of drafts[{seen[order]}]"
            )
        seen[order] = index
        placed.append((order, index, draft))
    placed.sort()
    renumbered = {order: position for position, (order, _, _) in enumerate(placed, start=1)}
    result = []
    for position, (order, index, draft) in enumerate(placed, start=1):
        depends_on = set()
        for other in draft.depends_on:
            if other not in renumbered:
                raise _draft_error(index, "depends_on", f"no draft has order {other}")
            if other >= order:
                raise _draft_error(
                    index, "depends_on", f"{other} is not an earlier draft (this one is {order})"
                )
            depends_on.add(renumbered[other])
        title, description, kind, priority = _cleaned(index, draft)
        result.append(
            TicketDraft(title, description, kind, priority, position, tuple(sorted(depends_on)))
        )
    return tuple(result)


def _draft_error(index: int, name: str, problem: str) -> InvalidInput:
    where = f"drafts[{index}].{name}"
    return InvalidInput(f"{where}: {problem}", field=where)


def _cleaned(index: int, draft: DraftInput) -> tuple[str, str, Kind, Priority]:
    """The draft's fields checked, errors re-addressed to the draft they came from."""
    try:
        return (
            clean_title(draft.title),
            clean_markdown(draft.description, "description"),
            parse_choice(Kind, draft.kind, "kind"),
            parse_choice(Priority, draft.priority, "priority"),
        )
    except InvalidInput as exc:
        raise _draft_error(index, exc.field or "title", exc.message.split(": ", 1)[-1]) from None


def clean_plan_title(title: str) -> str:
    """A plan's title may be empty: the fast model names an untitled plan."""
    title = title.strip()
    if len(title) > TITLE_MAX_CHARS:
        raise InvalidInput(f"title: at most {TITLE_MAX_CHARS} characters", field="title")
    return title


class SuggestionView(Shape):
    passage: str
    text: str
    why: str


@dataclass(frozen=True)
class Suggestion:
    """One proposed change: the passage it applies to (empty: add at the end), the new text, why."""

    passage: str
    text: str
    why: str

    def shape(self) -> SuggestionView:
        return SuggestionView(passage=self.passage, text=self.text, why=self.why)

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


class ReadinessView(Shape):
    ready: bool
    explanation: str
    missing: list[str]
    checked_at: str


@dataclass(frozen=True)
class Readiness:
    """The fast model's judgement whether the plan is detailed enough to become tickets."""

    ready: bool
    explanation: str
    missing: tuple[str, ...] = ()
    checked_at: str = ""

    def shape(self) -> ReadinessView:
        return ReadinessView(
            ready=self.ready,
            explanation=self.explanation,
            missing=list(self.missing),
            checked_at=self.checked_at,
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


class PlanView(Shape):
    id: int
    project_id: int
    title: str
    body: str
    status: PlanStatus
    drafts: list[PlanDraftView]
    suggestions: list[SuggestionView]
    readiness: ReadinessView | None
    created_by: int | None
    approved_by: int | None
    approved_at: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Plan:
    id: int
    project_id: int
    title: str
    body: str
    status: PlanStatus
    drafts: tuple[TicketDraft, ...]
    created_by: int | None
    created_at: str
    updated_at: str
    approved_by: int | None = None
    approved_at: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    suggested_body: str | None = None  # the body the last suggestions saw
    readiness: Readiness | None = None

    @property
    def approved(self) -> bool:
        return self.status is PlanStatus.APPROVED

    def with_tickets(self, numbers: Sequence[int]) -> tuple[TicketDraft, ...]:
        """The drafts, each naming the ticket made from it (``numbers`` in draft order)."""
        return tuple(replace(d, ticket=n) for d, n in zip(self.drafts, numbers, strict=True))

    def view(self) -> dict[str, Any]:
        return PlanView(
            id=self.id,
            project_id=self.project_id,
            title=self.title,
            body=self.body,
            status=self.status,
            drafts=[draft.shape() for draft in self.drafts],
            suggestions=[s.shape() for s in self.suggestions],
            readiness=self.readiness.shape() if self.readiness else None,
            created_by=self.created_by,
            approved_by=self.approved_by,
            approved_at=self.approved_at,
            created_at=self.created_at,
            updated_at=self.updated_at,
        ).model_dump(mode="json")
