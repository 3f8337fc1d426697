"""Discovery conversations: their messages and the proposals (actions). A reply's blocks are its
agent session's transcript blocks (``db/sessions.py``), the one store of every session kind."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from codality_server.domain.discover import (
    REPLY_BLOCK_KINDS,
    Action,
    ActionKind,
    ActionStatus,
    Conversation,
    Message,
    ReplyStatus,
)
from codality_server.domain.sessions import TranscriptBlock

from .database import Connection, Row, fetchall, fetchone
from .sessions import append_block, transcript_block

_CONVERSATION = (
    "c.id, c.project_id, c.title, c.created_by, c.created_at, c.updated_at,"
    " (SELECT count(*) FROM conversation_messages m WHERE m.conversation_id = c.id)"
    " AS message_count"
)
_MESSAGE = (
    "id, conversation_id, role, status, content, error, model, tokens_in, tokens_out, cost_usd,"
    " session_id, created_by, created_at, updated_at"
)
_ACTION = (
    "id, conversation_id, message_id, kind, proposal, status, result, decided_by, decided_at,"
    " created_at"
)


def _conversation(row: Row) -> Conversation:
    return Conversation(
        id=row["id"],
        project_id=row["project_id"],
        title=row["title"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        message_count=row["message_count"],
    )


def _message(row: Row, blocks: list[TranscriptBlock], actions: list[Action]) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        status=ReplyStatus(row["status"]),
        error=row["error"],
        model=row["model"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        cost_usd=row["cost_usd"],
        session_id=row["session_id"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        blocks=tuple(blocks),
        actions=tuple(actions),
        content=row["content"],
    )


def _action(row: Row) -> Action:
    return Action(
        id=row["id"],
        conversation_id=row["conversation_id"],
        message_id=row["message_id"],
        kind=ActionKind(row["kind"]),
        proposal=json.loads(row["proposal"]),
        status=ActionStatus(row["status"]),
        result=json.loads(row["result"]) if row["result"] else None,
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        created_at=row["created_at"],
    )


# --- conversations -------------------------------------------------------------------------------


async def insert_conversation(
    conn: Connection, project_id: int, title: str, created_by: int | None, now: str
) -> Conversation:
    row = await fetchone(
        conn,
        "INSERT INTO conversations(project_id, title, created_by, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        (project_id, title, created_by, now, now),
    )
    assert row is not None
    found = await get_conversation(conn, row["id"])
    assert found is not None
    return found


async def get_conversation(conn: Connection, conversation_id: int) -> Conversation | None:
    row = await fetchone(
        conn, f"SELECT {_CONVERSATION} FROM conversations c WHERE c.id = ?", (conversation_id,)
    )
    return _conversation(row) if row else None


async def list_conversations(conn: Connection, project_id: int) -> list[Conversation]:
    """A project's conversations, most recently active first."""
    rows = await fetchall(
        conn,
        f"SELECT {_CONVERSATION} FROM conversations c WHERE c.project_id = ?"
        " ORDER BY c.updated_at DESC, c.id DESC",
        (project_id,),
    )
    return [_conversation(row) for row in rows]


async def set_title(conn: Connection, conversation_id: int, title: str, now: str) -> bool:
    cur = await conn.execute(
        "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?",
        (title, now, conversation_id),
    )
    return cur.rowcount > 0


async def touch(conn: Connection, conversation_id: int, now: str) -> None:
    await conn.execute(
        "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
    )


async def delete_conversation(conn: Connection, conversation_id: int) -> bool:
    cur = await conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
    return cur.rowcount > 0


# --- messages ------------------------------------------------------------------------------------


async def insert_message(
    conn: Connection,
    conversation_id: int,
    role: str,
    status: ReplyStatus,
    created_by: int | None,
    now: str,
    model: str | None = None,
    content: str = "",
) -> int:
    row = await fetchone(
        conn,
        "INSERT INTO conversation_messages(conversation_id, role, status, content, model,"
        " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (conversation_id, role, status.value, content, model, created_by, now, now),
    )
    assert row is not None
    return int(row["id"])


async def link_session(conn: Connection, message_id: int, session_id: int) -> None:
    await conn.execute(
        "UPDATE conversation_messages SET session_id = ? WHERE id = ?", (session_id, message_id)
    )


async def finish_message(
    conn: Connection,
    message_id: int,
    status: ReplyStatus,
    error: str | None,
    usage: tuple[int, int, float] | None,
    now: str,
) -> None:
    if usage is None:
        await conn.execute(
            "UPDATE conversation_messages SET status = ?, error = ?, updated_at = ? WHERE id = ?",
            (status.value, error, now, message_id),
        )
        return
    tokens_in, tokens_out, cost = usage
    await conn.execute(
        "UPDATE conversation_messages SET status = ?, error = ?, tokens_in = ?, tokens_out = ?,"
        " cost_usd = ?, updated_at = ? WHERE id = ?",
        (status.value, error, tokens_in, tokens_out, cost, now, message_id),
    )


async def interrupt_streaming(conn: Connection, now: str) -> int:
    """Replies a dead server left ``streaming`` become ``interrupted``; returns how many."""
    cur = await conn.execute(
        "UPDATE conversation_messages SET status = 'interrupted',"
        " error = coalesce(error, 'the server stopped before the reply was finished'),"
        " updated_at = ? WHERE status = 'streaming'",
        (now,),
    )
    return cur.rowcount


async def messages(
    conn: Connection, conversation_id: int, message_id: int | None = None
) -> list[Message]:
    """The conversation's messages (or just ``message_id``) with their blocks (a reply's: those
    of its session's transcript that it shows) and actions."""
    where, params = "conversation_id = ?", [conversation_id]
    if message_id is not None:
        where, params = where + " AND id = ?", [conversation_id, message_id]
    rows = await fetchall(
        conn, f"SELECT {_MESSAGE} FROM conversation_messages WHERE {where} ORDER BY id", params
    )
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    marks = ", ".join("?" for _ in ids)
    by_session = {row["session_id"]: row["id"] for row in rows if row["session_id"] is not None}
    sessions = ", ".join("?" for _ in by_session)
    kinds = ", ".join("?" for _ in REPLY_BLOCK_KINDS)
    blocks: dict[int, list[TranscriptBlock]] = defaultdict(list)
    for row in await fetchall(
        conn,
        "SELECT id, session_id, kind, data, created_at FROM transcript_blocks"
        f" WHERE session_id IN ({sessions}) AND kind IN ({kinds}) ORDER BY id",
        [*by_session, *REPLY_BLOCK_KINDS],
    ):
        blocks[by_session[row["session_id"]]].append(transcript_block(row))
    actions: dict[int, list[Action]] = defaultdict(list)
    for row in await fetchall(
        conn,
        f"SELECT {_ACTION} FROM conversation_actions WHERE message_id IN ({marks}) ORDER BY id",
        ids,
    ):
        actions[row["message_id"]].append(_action(row))
    return [_message(row, blocks[row["id"]], actions[row["id"]]) for row in rows]


# --- actions -------------------------------------------------------------------------------------


async def insert_action(
    conn: Connection,
    conversation_id: int,
    message_id: int,
    session_id: int,
    kind: ActionKind,
    proposal: dict[str, Any],
    now: str,
) -> Action:
    """Store a pending action, and the ``action`` block that places it in the reply's session
    transcript (``session_id``), where the proposal was made."""
    row = await fetchone(
        conn,
        "INSERT INTO conversation_actions(conversation_id, message_id, kind, proposal,"
        f" created_at) VALUES (?, ?, ?, ?, ?) RETURNING {_ACTION}",
        (conversation_id, message_id, kind.value, json.dumps(proposal, ensure_ascii=False), now),
    )
    assert row is not None
    action = _action(row)
    await append_block(conn, session_id, "action", {"action_id": action.id}, now)
    return action


async def get_action(conn: Connection, action_id: int) -> Action | None:
    row = await fetchone(
        conn, f"SELECT {_ACTION} FROM conversation_actions WHERE id = ?", (action_id,)
    )
    return _action(row) if row else None


async def decide_action(
    conn: Connection,
    action_id: int,
    status: ActionStatus,
    proposal: dict[str, Any],
    result: dict[str, Any] | None,
    decided_by: int | None,
    now: str,
) -> Action | None:
    """Record the decision, only if the action is still pending (None when it was not)."""
    row = await fetchone(
        conn,
        "UPDATE conversation_actions SET status = ?, proposal = ?, result = ?, decided_by = ?,"
        f" decided_at = ? WHERE id = ? AND status = 'pending' RETURNING {_ACTION}",
        (
            status.value,
            json.dumps(proposal, ensure_ascii=False),
            json.dumps(result, ensure_ascii=False) if result is not None else None,
            decided_by,
            now,
            action_id,
        ),
    )
    return _action(row) if row else None
