"""Discovery conversations: their messages, replies, and the actions they propose."""

from __future__ import annotations

from typing import Any

from .resource import Resource, rows, segment


def conversations_path(slug: str) -> str:
    return f"/api/projects/{segment(slug)}/discover/conversations"


def conversation_path(slug: str, conversation_id: int) -> str:
    return f"{conversations_path(slug)}/{int(conversation_id)}"


class DiscoverApi(Resource):
    async def list(self, slug: str) -> list[dict[str, Any]]:
        return rows(await self.t.get(conversations_path(slug)))

    async def create(self, slug: str, title: str = "") -> dict[str, Any]:
        result: dict[str, Any] = await self.t.post(conversations_path(slug), {"title": title})
        return result

    async def get(self, slug: str, conversation_id: int) -> dict[str, Any]:
        """The conversation with ``messages`` (blocks, tool calls, actions) and ``streaming``."""
        result: dict[str, Any] = await self.t.get(conversation_path(slug, conversation_id))
        return result

    async def rename(self, slug: str, conversation_id: int, title: str) -> dict[str, Any]:
        path = conversation_path(slug, conversation_id)
        result: dict[str, Any] = await self.t.put(path, {"title": title})
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
    ) -> dict[str, Any]:
        """``confirm`` (with optional ``edits``) or ``reject``; answers the decided action."""
        body: dict[str, Any] = {"decision": decision}
        if edits is not None:
            body["edits"] = edits
        path = f"{conversation_path(slug, conversation_id)}/actions/{int(action_id)}"
        result: dict[str, Any] = await self.t.post(path, body)
        return result
