"""How discovery conversations read in a terminal: messages, tool calls and proposal cards.

Shared by ``codality discover show|say|chat`` and the TUI's discovery screen, so a conversation
shows the same everywhere: what a reply says and does goes through the session renderer
(``AgentPrinter`` or the TUI's ``Transcript``), proposals as cards. Plain text only; callers add
colour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from .agent_stream import stored_entries

PREVIEW = 70
#: A reply's live events a chat shows as they stream (a proposal shows as its card instead).
STREAM = frozenset({"discover:delta", "discover:tool_call", "discover:tool_result"})
#: What a stored message shows as: its events (through the session renderer), a user's line,
#: a proposal's card, how the reply ended.
ChatItem = (
    tuple[Literal["event"], tuple[str, dict[str, Any]]]
    | tuple[Literal["user", "ended"], str]
    | tuple[Literal["card"], dict[str, Any]]
)


def streams_live(type_: str, data: Mapping[str, Any]) -> bool:
    """Whether a chat shows this event of a reply as it streams."""
    return type_ in STREAM and not _is_proposal(data)


def _is_proposal(data: Mapping[str, Any]) -> bool:
    return str(data.get("name", "")).startswith("propose_")


def reply_ending(message: Mapping[str, Any]) -> str | None:
    """``[reply failed: why]`` for a reply that did not complete; None when it did (or runs)."""
    status = message.get("status")
    if status in (None, "complete", "streaming"):
        return None
    reason = message.get("error") or ""
    return f"[reply {status}{': ' + reason if reason else ''}]"


def chat_items(message: Mapping[str, Any]) -> Iterator[ChatItem]:
    """A stored message as a chat shows it, in order: the user's line, or the reply's blocks as
    the events they streamed as, a card per proposal, and how it ended."""
    if message.get("role") == "user":
        yield "user", f"you: {message.get('content', '')}"
        return
    actions = {a["id"]: a for a in message.get("actions") or []}
    for type_, data in stored_entries(message.get("blocks") or [], "discover"):
        if type_ == "discover:action":
            if data.get("action_id") in actions:
                yield "card", actions[data["action_id"]]
        elif not _is_proposal(data):
            yield "event", (type_, data)
    ended = reply_ending(message)
    if ended is not None:
        yield "ended", ended


def _short(text: str, limit: int = PREVIEW) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _draft_line(position: int, draft: dict[str, Any]) -> str:
    tags = f"[{draft.get('kind', 'task')}/{draft.get('priority', 'medium')}]"
    after = draft.get("depends_on") or []
    waits = f" (after {', '.join(str(p) for p in after)})" if after else ""
    return f"  {position}. {tags} {_short(draft.get('title', ''))}{waits}"


def card_lines(action: Mapping[str, Any]) -> list[str]:
    """A proposal as a small card: a heading line, then what it would make or change."""
    proposal = action.get("proposal") or {}
    kind = action.get("kind")
    heading = f"proposal {action.get('id')} · "
    lines: list[str] = []
    if kind == "tickets":
        drafts = proposal.get("tickets") or []
        heading += f"{len(drafts)} ticket{'s' if len(drafts) != 1 else ''}"
        lines = [_draft_line(i, d) for i, d in enumerate(drafts, start=1)]
    elif kind == "plan":
        heading += f"plan: {_short(proposal.get('title', ''))}"
        body = [line for line in str(proposal.get("body", "")).splitlines() if line.strip()]
        lines = [f"  {_short(line)}" for line in body[:3]]
        if len(body) > 3:
            lines.append(f"  … {len(body) - 3} more lines")
        lines += [_draft_line(i, d) for i, d in enumerate(proposal.get("tickets") or [], start=1)]
    elif kind == "queue":
        heading += f"queue: {_short(proposal.get('name', ''))}"
        for position, item in enumerate(proposal.get("items") or [], start=1):
            if "ticket" in item:
                lines.append(f"  {position}. #{item['ticket']}")
            else:
                lines.append(f"  {position}. new: {_short(item.get('title', ''))}")
    elif kind == "ticket_update":
        heading += f"update ticket #{proposal.get('number')}"
        for name in ("title", "kind", "priority", "status", "description"):
            if name in proposal:
                lines.append(f"  {name} → {_short(proposal[name])}")
    else:
        heading += str(kind)
        lines = [f"  {_short(json.dumps(proposal))}"]
    if proposal.get("rationale"):
        lines.append(f"  why: {_short(proposal['rationale'], 200)}")
    status = action.get("status", "pending")
    if status != "pending":
        made = made_summary(action)
        lines.append(f"  {status}" + (f": {made}" if made else ""))
    return [heading, *lines]


def made_summary(action: Mapping[str, Any]) -> str:
    """What a confirmed action made: ``created tickets #4, #5`` and the like."""
    result = action.get("result") or {}
    parts = []
    if result.get("tickets"):
        numbers = ", ".join(f"#{t['number']}" for t in result["tickets"])
        parts.append(f"created ticket{'s' if len(result['tickets']) > 1 else ''} {numbers}")
    if result.get("ticket"):
        parts.append(f"updated ticket #{result['ticket']['number']}")
    if result.get("plan"):
        parts.append(f"created plan {result['plan']['id']}")
    if result.get("queue"):
        parts.append(f"created queue {result['queue']['id']}")
    return "; ".join(parts)
