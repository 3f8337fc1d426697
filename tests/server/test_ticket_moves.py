"""The ticket transition table (``domain/ticket_moves.py``): who may move a ticket where."""

from __future__ import annotations

import itertools

import pytest

from codality_server.domain.errors import Conflict
from codality_server.domain.ticket_moves import (
    ANY,
    OPEN,
    TRANSITIONS,
    Action,
    IllegalMove,
    allows,
    next_status,
)
from codality_server.domain.tickets import TicketStatus as S


def test_every_action_has_one_row_and_every_narrowed_row_says_why_it_refuses() -> None:
    assert set(TRANSITIONS) == set(Action)
    for action, row in TRANSITIONS.items():
        assert row.action is action and row.why
        assert row.sources, action
        if row.sources != ANY:
            assert "{number}" in row.refusal, action


@pytest.mark.parametrize("action", [Action.BY_HAND, Action.PROPOSAL])
def test_the_user_moves_a_ticket_anywhere(action: Action) -> None:
    for before, chosen in itertools.product(S, S):
        assert next_status(before, action, 1, chosen) is chosen


def test_a_move_by_hand_needs_the_status_the_user_chose() -> None:
    with pytest.raises(ValueError, match="chose"):
        next_status(S.BACKLOG, Action.BY_HAND, 1)


@pytest.mark.parametrize("before", sorted(OPEN))
def test_the_agent_starts_an_open_ticket_in_progress(before: S) -> None:
    assert next_status(before, Action.AGENT_STARTS, 3) is S.IN_PROGRESS


@pytest.mark.parametrize("before", [S.DONE, S.CANCELLED])
def test_the_agent_may_not_start_a_closed_ticket(before: S) -> None:
    with pytest.raises(IllegalMove) as refused:
        next_status(before, Action.AGENT_STARTS, 7)
    assert isinstance(refused.value, Conflict)  # answered 409
    assert refused.value.code == "illegal_status_change"
    assert refused.value.message == (
        f"ticket #7 is {before.value}; reopen it with `codality ticket reopen 7` "
        "before starting the agent"
    )


@pytest.mark.parametrize(
    ("action", "closed", "target"),
    [
        (Action.AGENT_COMPLETES, {S.DONE, S.CANCELLED}, S.IN_REVIEW),
        (Action.PR_CLOSED, {S.DONE, S.CANCELLED}, S.CANCELLED),
        (Action.PR_MERGED, {S.DONE}, S.DONE),
    ],
)
def test_reactions_leave_a_ticket_already_closed_as_it_is(
    action: Action, closed: set[S], target: S
) -> None:
    for before in S:
        assert allows(before, action) is (before not in closed), (action, before)
        if before not in closed:
            assert next_status(before, action, 1) is target


@pytest.mark.parametrize(
    ("action", "target"),
    [
        (Action.MERGE, S.DONE),
        (Action.DISCARD, S.BACKLOG),
        (Action.DISCARD_CANCEL, S.CANCELLED),
    ],
)
def test_merge_and_discard_move_from_any_status(action: Action, target: S) -> None:
    assert all(next_status(before, action, 1) is target for before in S)
