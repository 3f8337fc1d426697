"""A stored conversation as the model's context: turns, cut-off replies, trimming."""

from __future__ import annotations

from typing import Any

from codality_server.domain.discover import (
    Action,
    ActionKind,
    ActionStatus,
    Message,
    ReplyStatus,
)
from codality_server.domain.discover_history import MISSING_RESULT, TRIMMED_NOTE, history
from codality_server.domain.sessions import TranscriptBlock as Block

_ids = iter(range(1, 10_000))


def block(kind: str, **data: Any) -> Block:
    return Block(next(_ids), 0, kind, data, "t")


def message(
    role: str,
    *blocks: Block,
    status: ReplyStatus = ReplyStatus.COMPLETE,
    actions: tuple[Action, ...] = (),
) -> Message:
    return Message(
        next(_ids), 1, role, status, None, None, 0, 0, 0.0, None, None, "t", "t", blocks, actions
    )


def user(text: str) -> Message:
    return Message(
        next(_ids),
        1,
        "user",
        ReplyStatus.COMPLETE,
        None,
        None,
        0,
        0,
        0.0,
        None,
        None,
        "t",
        "t",
        content=text,
    )


def test_a_reply_with_tools_becomes_alternating_turns() -> None:
    action = Action(
        7,
        1,
        2,
        ActionKind.TICKETS,
        {},
        ActionStatus.CONFIRMED,
        {"tickets": [{"number": 4, "title": "SSO", "id": 9}]},
        1,
        "t",
        "t",
    )
    reply = message(
        "assistant",
        block("text", text="Let me look."),
        block("tool_call", tool_use_id="a", name="read_file", input={"path": "x.py"}),
        block("tool_result", tool_use_id="a", name="read_file", ok=True, output="code"),
        block("tool_call", tool_use_id="b", name="propose_tickets", input={"tickets": []}),
        block("action", action_id=7),
        block(
            "tool_result",
            tool_use_id="b",
            name="propose_tickets",
            ok=True,
            output="Stored as proposal 7",
            action_id=7,
        ),
        block("text", text="Done."),
        actions=(action,),
    )
    turns, trimmed = history([user("SSO?"), reply, user("thanks")], 10_000)
    assert not trimmed
    assert [t["role"] for t in turns] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert turns[1]["content"][1] == {
        "type": "tool_use",
        "id": "a",
        "name": "read_file",
        "input": {"path": "x.py"},
    }
    confirmed = turns[4]["content"][0]
    assert confirmed["tool_use_id"] == "b" and not confirmed["is_error"]
    assert "confirmed proposal 7" in confirmed["content"] and '"number": 4' in confirmed["content"]
    assert turns[5]["content"] == [{"type": "text", "text": "Done."}]
    assert turns[6]["content"] == [{"type": "text", "text": "thanks"}]


def test_a_reply_cut_off_mid_tool_gets_an_error_result_and_a_note() -> None:
    cut = message(
        "assistant",
        block("text", text="Reading"),
        block("tool_call", tool_use_id="a", name="grep", input={"pattern": "x"}),
        status=ReplyStatus.INTERRUPTED,
    )
    turns, _ = history([user("where?"), cut, user("go on")], 10_000)
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant", "user"]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "a", "content": MISSING_RESULT, "is_error": True}
    ]
    assert "cut off" in turns[3]["content"][0]["text"]
    # The note and the next question are separate turns; roles still alternate.
    assert turns[4]["content"][-1]["text"] == "go on"


def test_the_oldest_exchanges_are_left_out_past_the_budget_with_a_note() -> None:
    long = "x" * 500
    messages = [
        user("first " + long),
        message("assistant", block("text", text="one " + long)),
        user("second " + long),
        message("assistant", block("text", text="two " + long)),
        user("third"),
    ]
    everything, trimmed = history(messages, 100_000)
    assert not trimmed and len(everything) == 5
    turns, trimmed = history(messages, 1_300)
    assert trimmed
    assert turns[0]["content"][0]["text"] == TRIMMED_NOTE.strip()
    assert turns[0]["content"][1]["text"].startswith("second")
    assert len(turns) == 3
    only_last, trimmed = history(messages, 10)
    assert trimmed and only_last[-1]["content"][-1]["text"] == "third" and len(only_last) == 1
