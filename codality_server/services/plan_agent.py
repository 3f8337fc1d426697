"""The model's work on plans: naming, readiness, extraction into drafts, and suggestions.

Every call goes through the platform: one-shot calls through ``services.models.complete`` (a
missing key is a 400 naming ``ANTHROPIC_API_KEY``, a model failure a 503 or 502 with the reason),
suggestion rounds as plan-owned sessions under the supervisor, with the read-only tools on a
checkout of the default branch. What the model answers is read by ``domain.planning``, which
repairs or refuses it; an unusable answer is a 502 that says what was wrong, and nothing is
stored. Results are stored on the plan and published as ``plan:updated``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from codality_server.domain.errors import Conflict, UpstreamFailed
from codality_server.domain.planning import (
    EXTRACT_SYSTEM,
    READINESS_SYSTEM,
    TITLE_PROMPT,
    Extraction,
    UnusableAnswer,
    clean_generated_title,
    extract_prompt,
    read_drafts,
    read_readiness,
    readiness_prompt,
)
from codality_server.domain.plans import Plan, Readiness

from .base import Service, now_iso

if TYPE_CHECKING:
    from . import Services

log = logging.getLogger("codality.plans")

TITLE_MAX_TOKENS = 60
READINESS_MAX_TOKENS = 1024


class PlanAgent(Service):
    """Model-driven plan work; the plan's own rules and storage stay in ``PlanService``."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._naming: dict[int, asyncio.Task[None]] = {}

    # --- readiness --------------------------------------------------------------------------

    async def check_ready(self, slug: str, plan_id: int) -> Readiness:
        """The fast model's verdict on whether the plan can become tickets (stored on it)."""
        project, plan = await self.services.plans.get(slug, plan_id)
        reply = await self.services.models.complete(
            readiness_prompt(plan.title, plan.body),
            system=READINESS_SYSTEM,
            tier="fast_model",
            max_tokens=READINESS_MAX_TOKENS,
        )
        try:
            readiness = read_readiness(reply.text, now_iso())
        except UnusableAnswer as exc:
            raise UpstreamFailed(f"the model's readiness verdict was unusable: {exc}") from exc
        await self.services.plans.record(project, plan.id, readiness=readiness)
        return readiness

    # --- extraction -------------------------------------------------------------------------

    async def extract(self, slug: str, plan_id: int) -> tuple[Plan, Extraction]:
        """Ordered ticket drafts from the plan, checked and repaired, stored on the plan."""
        project, plan = await self.services.plans.get(slug, plan_id)
        if plan.approved:
            raise Conflict(f"plan {plan_id} is approved; its drafts already became tickets")
        if not plan.body.strip():
            raise Conflict(f"plan {plan_id} is empty; write it before extracting tickets")
        reply = await self.services.models.complete(
            extract_prompt(plan.title, plan.body), system=EXTRACT_SYSTEM, tier="model"
        )
        try:
            extraction = read_drafts(reply.text)
        except UnusableAnswer as exc:
            raise UpstreamFailed(
                f"the model's ticket drafts were unusable ({exc}); nothing was stored, try again"
            ) from exc
        stored = await self.services.plans.record(project, plan.id, drafts=extraction.drafts)
        return stored, extraction

    # --- naming -----------------------------------------------------------------------------

    def name_later(self, plan: Plan) -> None:
        """Name an untitled plan that has a body, in the background (``plan:updated`` follows)."""
        if plan.title or not plan.body.strip() or plan.id in self._naming:
            return
        task = asyncio.create_task(self._name(plan.id, plan.body))
        self._naming[plan.id] = task
        task.add_done_callback(lambda _: self._naming.pop(plan.id, None))

    async def _name(self, plan_id: int, body: str) -> None:
        try:
            reply = await self.services.models.complete(
                TITLE_PROMPT.format(body=body[:4000]),
                tier="fast_model",
                max_tokens=TITLE_MAX_TOKENS,
            )
            title = clean_generated_title(reply.text)
            if title:
                await self.services.plans.name(plan_id, title)
        except Exception as exc:  # a title is a nicety: the plan works without one
            log.warning("naming plan %d failed: %s", plan_id, exc)

    async def naming_done(self) -> None:
        """Wait for the titles being generated (tests and shutdown)."""
        await asyncio.gather(*self._naming.values(), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._naming.values()):
            task.cancel()
        await self.naming_done()
