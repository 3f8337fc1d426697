"""A conversation as the model's context: stored messages → Messages API turns, trimmed to fit.

The whole conversation is the context. A reply is stored as blocks (text, tool calls, their
results), so it is rebuilt as the assistant/user turns it was made of; a tool call a crash left
without its result gets an error result, because the API refuses a ``tool_use`` without one. A
proposal's result says how the user decided, so the model knows what exists now. Past the budget,
the oldest exchanges are left out, whole, and the first turn says so.
"""

from __future__ import annotations

import json
from typing import Any

from .discover import Action, Message, ReplyStatus

TRIMMED_NOTE = (
    "[Earlier messages of this conversation were left out to fit the context budget.]\n\n"
)
CUT_OFF = {
    ReplyStatus.INTERRUPTED: "[This reply was cut off: the server stopped while writing it.]",
    ReplyStatus.CANCELLED: "[The user cancelled this reply before it was finished.]",
    ReplyStatus.FAILED: "[This reply failed before it was finished.]",
}
MISSING_RESULT = "the reply was cut off before this tool ran"
Turn = dict[str, Any]


def _decision(action: Action) -> str:
    from .discover import ActionStatus

    if action.status is ActionStatus.PENDING:
        return f"proposal {action.id} is waiting for the user's decision"
    if action.status is ActionStatus.REJECTED:
        return f"the user rejected proposal {action.id}"
    made = json.dumps(_brief(action.result or {}), ensure_ascii=False)
    return f"the user confirmed proposal {action.id}; it made {made}"


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    """What a confirmed action made, by number and title (not whole views)."""
    brief: dict[str, Any] = {}
    if result.get("tickets"):
        brief["tickets"] = [{"number": t["number"], "title": t["title"]} for t in result["tickets"]]
    for key in ("ticket", "plan", "queue"):
        if result.get(key):
            item = result[key]
            brief[key] = {k: item[k] for k in ("id", "number", "title", "name") if k in item}
    return brief


def _assistant_turns(message: Message) -> list[Turn]:
    """A stored reply as alternating assistant (text, tool_use) and user (tool_result) turns."""
    actions = {a.id: a for a in message.actions}
    turns: list[Turn] = []
    open_calls: list[str] = []

    def add(role: str, block: dict[str, Any]) -> None:
        if not turns or turns[-1]["role"] != role:
            turns.append({"role": role, "content": []})
        turns[-1]["content"].append(block)

    def close_calls() -> None:
        for tool_use_id in open_calls:
            add("user", _result(tool_use_id, MISSING_RESULT, error=True))
        open_calls.clear()

    for block in message.blocks:
        data = block.data
        if block.kind == "text" and str(data.get("text", "")).strip():
            if open_calls:
                close_calls()
            add("assistant", {"type": "text", "text": data["text"]})
        elif block.kind == "tool_call":
            add("assistant", _tool_use(data))
            open_calls.append(str(data["tool_use_id"]))
        elif block.kind == "tool_result" and str(data.get("tool_use_id")) in open_calls:
            output = str(data.get("output") or "(empty)")
            action = actions.get(data["action_id"]) if data.get("action_id") else None
            if action is not None:
                output = f"{output}\n({_decision(action)})"
            open_calls.remove(str(data["tool_use_id"]))
            add("user", _result(str(data["tool_use_id"]), output, error=not data.get("ok", True)))
    close_calls()
    note = CUT_OFF.get(message.status)
    if note:
        add("assistant", {"type": "text", "text": note})
    return turns


def _tool_use(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": str(data["tool_use_id"]),
        "name": str(data["name"]),
        "input": data.get("input") if isinstance(data.get("input"), dict) else {},
    }


def _result(tool_use_id: str, output: str, error: bool) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": output, "is_error": error}


def _size(turns: list[Turn]) -> int:
    return sum(len(json.dumps(turn["content"], ensure_ascii=False)) for turn in turns)


def history(messages: list[Message], budget_chars: int) -> tuple[list[Turn], bool]:
    """The conversation as Messages API turns (user first, roles alternating) and whether older
    exchanges were left out to stay under ``budget_chars``.

    Exchanges (a user message and the reply to it) are dropped whole from the oldest; the latest
    user message always stays.
    """
    exchanges: list[list[Turn]] = []
    for message in messages:
        if message.role == "user":
            exchanges.append(
                [{"role": "user", "content": [{"type": "text", "text": message.text}]}]
            )
        elif exchanges:
            exchanges[-1].extend(_assistant_turns(message))
    trimmed = False
    while len(exchanges) > 1 and sum(_size(e) for e in exchanges) > budget_chars:
        exchanges.pop(0)
        trimmed = True
    turns: list[Turn] = []
    for turn in (t for exchange in exchanges for t in exchange):
        if turns and turns[-1]["role"] == turn["role"]:
            turns[-1]["content"] = [*turns[-1]["content"], *turn["content"]]
        else:
            turns.append({"role": turn["role"], "content": list(turn["content"])})
    if trimmed and turns:
        first = turns[0]["content"]
        first.insert(0, {"type": "text", "text": TRIMMED_NOTE.strip()})
    return turns, trimmed
