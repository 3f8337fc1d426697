"""Which status changes a ticket may make, and why: the one table every move goes through.

A ticket's status is changed by the user (the CLI, the board, a discovery proposal they confirmed)
and by the server's own actions (the agent, merges, discards, GitHub's pull request events). Each
action has one row: the statuses it may move a ticket from, where it moves it, and why. A move the
table does not allow is refused with the row's reason (``IllegalMove``, a 409), or, for a reaction
to something that already happened (a run ended, GitHub closed a PR), simply not made.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .errors import Conflict
from .tickets import TicketStatus

ANY: Final = frozenset(TicketStatus)
OPEN: Final = ANY - {TicketStatus.DONE, TicketStatus.CANCELLED}


class Action(StrEnum):
    """Who or what moves a ticket."""

    BY_HAND = "by_hand"
    PROPOSAL = "proposal"
    AGENT_STARTS = "agent_starts"
    AGENT_COMPLETES = "agent_completes"
    MERGE = "merge"
    PR_MERGED = "pr_merged"
    PR_CLOSED = "pr_closed"
    DISCARD = "discard"
    DISCARD_CANCEL = "discard_cancel"


@dataclass(frozen=True)
class Transition:
    """One row: ``action`` moves a ticket from any of ``sources`` to ``target`` (None: to the
    status the user chose). ``refusal`` explains a move from elsewhere, in the user's words
    (``{number}`` and ``{status}`` are filled in)."""

    action: Action
    sources: frozenset[TicketStatus]
    target: TicketStatus | None
    why: str
    refusal: str = ""


TRANSITIONS: Final[dict[Action, Transition]] = {
    row.action: row
    for row in (
        Transition(
            Action.BY_HAND,
            ANY,
            None,
            "the user moves a ticket anywhere (codality ticket status, close, reopen; the board)",
        ),
        Transition(
            Action.PROPOSAL,
            ANY,
            None,
            "the user confirmed a discovery proposal that changes the ticket's status",
        ),
        Transition(
            Action.AGENT_STARTS,
            OPEN,
            TicketStatus.IN_PROGRESS,
            "the agent starts working on the ticket",
            "ticket #{number} is {status}; reopen it with `codality ticket reopen {number}` "
            "before starting the agent",
        ),
        Transition(
            Action.AGENT_COMPLETES,
            OPEN,
            TicketStatus.IN_REVIEW,
            "the agent's run completed: its work waits for review",
            "ticket #{number} was closed ({status}) while the agent ran; it stays {status}",
        ),
        Transition(
            Action.MERGE,
            ANY,
            TicketStatus.DONE,
            "the ticket's branch was merged into the default branch (codality merge)",
        ),
        Transition(
            Action.PR_MERGED,
            ANY - {TicketStatus.DONE},
            TicketStatus.DONE,
            "the ticket's pull request was merged on GitHub",
            "ticket #{number} already {status}",
        ),
        Transition(
            Action.PR_CLOSED,
            OPEN,
            TicketStatus.CANCELLED,
            "the ticket's pull request was closed on GitHub without merging",
            "ticket #{number} already {status}",
        ),
        Transition(
            Action.DISCARD,
            ANY,
            TicketStatus.BACKLOG,
            "the ticket's work was discarded (codality discard): it goes back to the backlog",
        ),
        Transition(
            Action.DISCARD_CANCEL,
            ANY,
            TicketStatus.CANCELLED,
            "the ticket's work was discarded and the ticket cancelled (codality discard --cancel)",
        ),
    )
}


class IllegalMove(Conflict):
    """A status change the table does not allow; the message says why and what to do."""

    code = "illegal_status_change"


def allows(status: TicketStatus, action: Action) -> bool:
    """Whether ``action`` may move a ticket that is ``status`` now."""
    return status in TRANSITIONS[action].sources


def next_status(
    status: TicketStatus, action: Action, number: int, chosen: TicketStatus | None = None
) -> TicketStatus:
    """Where ``action`` moves ticket ``number`` from ``status`` (``chosen`` is the user's pick
    for the moves made by hand); ``IllegalMove`` when the table does not allow it."""
    row = TRANSITIONS[action]
    if status not in row.sources:
        raise IllegalMove(row.refusal.format(number=number, status=status.value))
    target = row.target or chosen
    if target is None:
        raise ValueError(f"{action.value} moves to the status the user chose; give it")
    return target
