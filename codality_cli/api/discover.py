"""Discovery conversations: their messages, replies, and the actions they propose."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .resource import Resource, rows, segment

if TYPE_CHECKING:
    from .models import (
        Action,
        Conversation,
        ConversationWithMessages,
        Message,
        MessageSent,
        ReplyCancelled,
    )


# A reply may read much of the code first; `say` waits as long as the server allows a session.
REPLY_WAIT_S = 3600.0


def conversations_path(slug: str) -> str:
    return f"/api/projects/{segment(slug)}/discover/conversations"


def conversation_path(slug: str, conversation_id: int) -> str:
    return f"{conversations_path(slug)}/{int(conversation_id)}"


class DiscoverApi(Resource):
    async def list(self, slug: str) -> list[Conversation]:
        return rows(await self.t.get(conversations_path(slug)))

    async def create(self, slug: str, title: str = "") -> ConversationWithMessages:
        result: ConversationWithMessages = await self.t.post(
            conversations_path(slug), {"title": title}
        )
        return result

    async def get(self, slug: str, conversation_id: int) -> ConversationWithMessages:
        """The conversation with ``messages`` (blocks, tool calls, actions) and ``streaming``."""
        result: ConversationWithMessages = await self.t.get(
            conversation_path(slug, conversation_id)
        )
        return result

    async def rename(self, slug: str, conversation_id: int, title: str) -> Conversation:
        path = conversation_path(slug, conversation_id)
        result: Conversation = await self.t.put(path, {"title": title})
        return result

    async def delete(self, slug: str, conversation_id: int) -> None:
        await self.t.delete(conversation_path(slug, conversation_id))

    async def decide(
        self,
        slug: str,
        conversation_id: int,
        action_id: int,
        decision: str,
        edits: dict[str, Any] | None = None,
    ) -> Action:
        """``confirm`` (with optional ``edits``) or ``reject``; answers the decided action."""
        body: dict[str, Any] = {"decision": decision}
        if edits is not None:
            body["edits"] = edits
        path = f"{conversation_path(slug, conversation_id)}/actions/{int(action_id)}"
        result: Action = await self.t.post(path, body)
        return result

    async def send(self, slug: str, conversation_id: int, content: str) -> MessageSent:
        """Send a message; answers at once (202) with its ``id``, the ``reply_id`` being
        written and ``last_event_id`` (follow the reply's events after it)."""
        path = f"{conversation_path(slug, conversation_id)}/messages"
        result: MessageSent = await self.t.post(path, {"content": content})
        return result

    async def say(self, slug: str, conversation_id: int, content: str) -> Message:
        """Send a message and wait for the finished reply (however long the model takes)."""
        from .transport import decode_error

        path = f"{conversation_path(slug, conversation_id)}/messages"
        response = await self.t.send(
            "POST", path, json={"content": content}, params={"wait": "true"}, timeout=REPLY_WAIT_S
        )
        if response.status_code >= 400:
            raise decode_error(response)
        result: Message = response.json()
        return result

    async def cancel(self, slug: str, conversation_id: int) -> ReplyCancelled:
        """Cancel the reply being written (409 when none is)."""
        result: ReplyCancelled = await self.t.post(
            f"{conversation_path(slug, conversation_id)}/cancel"
        )
        return result
