"""Plans of one project: the markdown design, its ticket drafts, approval into tickets."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .resource import Resource, rows, segment

if TYPE_CHECKING:
    from .models import Extracted, PlanView, ReadinessView, SuggestionView, Ticket


MODEL_WAIT_S = 900.0


def plans_path(slug: str) -> str:
    return f"/api/projects/{segment(slug)}/plans"


def plan_path(slug: str, plan_id: int) -> str:
    return f"{plans_path(slug)}/{int(plan_id)}"


class PlansApi(Resource):
    async def list(self, slug: str) -> list[PlanView]:
        return rows(await self.t.get(plans_path(slug)))

    async def create(self, slug: str, fields: dict[str, Any]) -> PlanView:
        """``fields``: ``title`` (empty: the model names it), ``body``, ``drafts``."""
        result: PlanView = await self.t.post(plans_path(slug), fields)
        return result

    async def get(self, slug: str, plan_id: int) -> PlanView:
        result: PlanView = await self.t.get(plan_path(slug, plan_id))
        return result

    async def update(self, slug: str, plan_id: int, fields: dict[str, Any]) -> PlanView:
        result: PlanView = await self.t.put(plan_path(slug, plan_id), fields)
        return result

    async def delete(self, slug: str, plan_id: int) -> None:
        await self.t.delete(plan_path(slug, plan_id))

    async def approve(self, slug: str, plan_id: int) -> builtins.list[Ticket]:
        """Every draft becomes a ticket; answers the tickets created."""
        return rows(await self.t.post(f"{plan_path(slug, plan_id)}/approve"))

    async def suggest(self, slug: str, plan_id: int) -> builtins.list[SuggestionView]:
        """A round of suggestions ``[{passage, text, why}]``; ``plan:delta`` streams meanwhile."""
        path = f"{plan_path(slug, plan_id)}/ai/suggest"
        return rows(await self.t.post(path, timeout=MODEL_WAIT_S))

    async def check_ready(self, slug: str, plan_id: int) -> ReadinessView:
        """``{ready, explanation, missing, checked_at}`` from the fast model."""
        path = f"{plan_path(slug, plan_id)}/ai/check-ready"
        result: ReadinessView = await self.t.post(path, timeout=MODEL_WAIT_S)
        return result

    async def extract(self, slug: str, plan_id: int) -> Extracted:
        """``{drafts, repairs, plan}``: the drafts the model extracted, now on the plan."""
        path = f"{plan_path(slug, plan_id)}/ai/extract-tickets"
        result: Extracted = await self.t.post(path, timeout=MODEL_WAIT_S)
        return result
