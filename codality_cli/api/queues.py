"""Work queues of one project: ordered tickets the agent works through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .resource import Resource, rows, segment

if TYPE_CHECKING:
    from .models import QueueView


def queues_path(slug: str) -> str:
    return f"/api/projects/{segment(slug)}/discover/queues"


def queue_path(slug: str, queue_id: int) -> str:
    return f"{queues_path(slug)}/{int(queue_id)}"


class QueuesApi(Resource):
    async def list(self, slug: str) -> list[QueueView]:
        """Every queue of the project, oldest first, each with its ``items``."""
        return rows(await self.t.get(queues_path(slug)))

    async def create(self, slug: str, fields: dict[str, Any]) -> QueueView:
        """``fields``: ``name``, ``tickets`` (numbers), optional ``description``, ``merge_each``,
        ``max_parallel``."""
        result: QueueView = await self.t.post(queues_path(slug), fields)
        return result

    async def get(self, slug: str, queue_id: int) -> QueueView:
        result: QueueView = await self.t.get(queue_path(slug, queue_id))
        return result

    async def update(self, slug: str, queue_id: int, fields: dict[str, Any]) -> QueueView:
        result: QueueView = await self.t.put(queue_path(slug, queue_id), fields)
        return result

    async def delete(self, slug: str, queue_id: int) -> None:
        await self.t.delete(queue_path(slug, queue_id))

    async def start(self, slug: str, queue_id: int) -> QueueView:
        """Start a pending queue; answers it with its first items running."""
        result: QueueView = await self.t.post(f"{queue_path(slug, queue_id)}/start")
        return result

    async def cancel(self, slug: str, queue_id: int) -> QueueView:
        result: QueueView = await self.t.post(f"{queue_path(slug, queue_id)}/cancel")
        return result

    async def release(self, slug: str, queue_id: int) -> QueueView:
        """A paused, cancelled or completed queue back to pending (its done tickets stay done)."""
        result: QueueView = await self.t.post(f"{queue_path(slug, queue_id)}/release")
        return result
