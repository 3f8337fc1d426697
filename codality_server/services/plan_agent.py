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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codality_server.agent.kinds import AgentKind
from codality_server.agent.model import ModelFailure, ModelRequest
from codality_server.agent.prompts import tool_section
from codality_server.agent.tools import READ_ONLY_TOOLS, ToolContext
from codality_server.domain.errors import Conflict, Unavailable, UpstreamFailed
from codality_server.domain.events import Payload, PlanDelta, plan_channel, project_channel
from codality_server.domain.planning import (
    DRAFTS_TOOL,
    EXTRACT_SYSTEM,
    READINESS_SYSTEM,
    READINESS_TOOL,
    SUGGEST_SYSTEM,
    TITLE_PROMPT,
    TITLE_TOOL,
    Extraction,
    UnusableAnswer,
    answer_value,
    changes_since,
    extract_prompt,
    json_in,
    read_drafts,
    read_readiness,
    read_suggestions,
    read_title,
    readiness_prompt,
    suggest_prompt,
)
from codality_server.domain.plans import Plan, Readiness, Suggestion
from codality_server.domain.projects import Project
from codality_server.domain.sessions import Owner, OwnerKind, SessionStatus
from codality_server.domain.users import User
from codality_server.git.checkout import branch_checkout

from .base import Core, Service, now_iso
from .knowledge import ServiceKnowledge
from .models import answer_input
from .recorder import SessionEvents
from .supervisor import LoopJob, Run, SessionSpec

if TYPE_CHECKING:
    from .comments import CommentService
    from .models import ModelService
    from .plans import PlanService
    from .settings import SettingsService
    from .supervisor import Supervisor
    from .tickets import TicketService

log = logging.getLogger("codality.plans")

TITLE_MAX_TOKENS = 60
READINESS_MAX_TOKENS = 1024
#: Reads code and tickets, changes nothing.
PLANNER = AgentKind("planner", READ_ONLY_TOOLS)
BUSY = "suggestions are already being written for this plan; wait for them or stop them"


def plan_owner(plan_id: int) -> Owner:
    return Owner(OwnerKind.PLAN, plan_id)


class PlanEvents(SessionEvents):
    """A suggestion round streams as ``plan:delta``: its text blocks, and a ``tool_call`` delta
    per tool call (its thinking is kept in the transcript, not published)."""

    shows_thinking = False

    def __init__(self, plan_id: int) -> None:
        self.plan_id = plan_id

    def text_delta(
        self, session_id: int, text: str, block: int | None = None, at: int | None = None
    ) -> Payload | None:
        return PlanDelta(
            plan_id=self.plan_id, session_id=session_id, text=text, block=block, at=at, kind="text"
        )

    def tool_call(
        self, session_id: int, tool_use_id: str, name: str, tool_input: Any
    ) -> Payload | None:
        return PlanDelta(
            plan_id=self.plan_id,
            session_id=session_id,
            text="",
            kind="tool_call",
            tool=name,
            input=tool_input,
        )

    def tool_result(
        self, session_id: int, tool_use_id: str, name: str, ok: bool, output: str
    ) -> Payload | None:
        return None

    def prompt(self, session_id: int, text: str) -> Payload | None:
        return None


@dataclass
class SuggestJob(LoopJob):
    """The loop, keeping the model's failure so the answer can say 503 (try again) or 502."""

    failure: ModelFailure | None = None

    async def run(self, run: Run) -> str:
        try:
            return await super().run(run)
        except ModelFailure as exc:
            self.failure = exc
            raise


class PlanAgent(Service):
    """Model-driven plan work; the plan's own rules and storage stay in ``PlanService``."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        tickets: TicketService,
        comments: CommentService,
        plans: PlanService,
        models: ModelService,
        supervisor: Supervisor,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.tickets = tickets
        self.comments = comments
        self.plans = plans
        self.models = models
        self.supervisor = supervisor
        self._naming: dict[int, asyncio.Task[None]] = {}

    # --- readiness --------------------------------------------------------------------------

    async def check_ready(self, slug: str, plan_id: int) -> Readiness:
        """The fast model's verdict on whether the plan can become tickets (stored on it)."""
        project, plan = await self.plans.get(slug, plan_id)
        reply = await self.models.complete(
            readiness_prompt(plan.title, plan.body),
            system=READINESS_SYSTEM,
            tier="fast_model",
            max_tokens=READINESS_MAX_TOKENS,
            answer=READINESS_TOOL,
        )
        try:
            verdict = answer_value(answer_input(reply, READINESS_TOOL), reply.text)
            readiness = read_readiness(verdict, now_iso())
        except UnusableAnswer as exc:
            raise UpstreamFailed(f"the model's readiness verdict was unusable: {exc}") from exc
        await self.plans.record(project, plan.id, readiness=readiness)
        return readiness

    # --- extraction -------------------------------------------------------------------------

    async def extract(self, slug: str, plan_id: int) -> tuple[Plan, Extraction]:
        """Ordered ticket drafts from the plan, checked and repaired, stored on the plan."""
        project, plan = await self.plans.get(slug, plan_id)
        if plan.approved:
            raise Conflict(f"plan {plan_id} is approved; its drafts already became tickets")
        if not plan.body.strip():
            raise Conflict(f"plan {plan_id} is empty; write it before extracting tickets")
        reply = await self.models.complete(
            extract_prompt(plan.title, plan.body),
            system=EXTRACT_SYSTEM,
            tier="model",
            answer=DRAFTS_TOOL,
        )
        try:
            extraction = read_drafts(answer_value(answer_input(reply, DRAFTS_TOOL), reply.text))
        except UnusableAnswer as exc:
            raise UpstreamFailed(
                f"the model's ticket drafts were unusable ({exc}); nothing was stored, try again"
            ) from exc
        stored = await self.plans.record(project, plan.id, drafts=extraction.drafts)
        return stored, extraction

    # --- suggestions ------------------------------------------------------------------------

    async def suggest(self, slug: str, plan_id: int, user: User | None) -> tuple[Suggestion, ...]:
        """One round of suggestions, from the main model reading the code; waits for its end.

        The round is a plan-owned session (one at a time per plan: 409), streamed as
        ``plan:delta``; the model sees the plan, what changed since its last round and what it
        suggested then. Suggestions that can't be applied to the plan are left out.
        """
        project, plan = await self.plans.get(slug, plan_id)
        settings = await self.settings.current()
        client = await self.models.client()  # 400 without a key, before anything runs
        checkout = await self._code_of(project)
        toolbox = PLANNER.toolbox(
            ToolContext(
                checkout, knowledge=ServiceKnowledge(self.tickets, self.comments, self.db, project)
            )
        )
        system = SUGGEST_SYSTEM.format(project=project.name, branch=project.default_branch)
        prompt = suggest_prompt(
            plan.title, plan.body, changes_since(plan.suggested_body, plan.body), plan.suggestions
        )
        job = SuggestJob(
            client,
            ModelRequest(
                model=settings.model,
                max_tokens=settings.max_tokens,
                system=tool_section(system, toolbox),
                temperature=settings.temperature,
            ),
            [{"role": "user", "content": prompt}],
            toolbox,
            prompt=prompt,
        )
        spec = SessionSpec(
            plan_owner(plan.id),
            PLANNER,
            channels=(project_channel(project.id), plan_channel(plan.id)),
            model=settings.model,
            started_by=user.id if user else None,
            events=PlanEvents(plan.id),
        )
        session = await self.supervisor.start(spec, job, busy=BUSY)
        ended = await self.supervisor.wait(session.id)
        if ended.status is not SessionStatus.COMPLETED or job.result is None:
            raise self._round_failed(ended.status, ended.error, job.failure)
        try:
            suggestions = read_suggestions(json_in(job.result.summary), plan.body)
        except UnusableAnswer as exc:
            raise UpstreamFailed(f"the model's suggestions were unusable: {exc}") from exc
        await self.plans.record(project, plan.id, suggestions=suggestions, suggested_body=plan.body)
        return suggestions

    async def _code_of(self, project: Project) -> Path:
        """The tree the planner reads: the tip of the default branch (a cached read-only
        checkout), not whatever the project's own working tree holds."""
        return await asyncio.to_thread(
            branch_checkout,
            Path(project.path),
            project.default_branch,
            self.config.data_dir / "plans" / str(project.id),
        )

    @staticmethod
    def _round_failed(
        status: SessionStatus, error: str | None, failure: ModelFailure | None
    ) -> Exception:
        if failure is not None:
            return (Unavailable if failure.transient else UpstreamFailed)(str(failure))
        if status is SessionStatus.STOPPED:
            return Conflict("the suggestion round was stopped before it finished")
        if status is SessionStatus.TIMED_OUT:
            return Unavailable("the suggestion round took longer than agent_timeout_s allows")
        return Unavailable(f"the suggestion round ended {status.value}: {error or 'no reason'}")

    async def stop_round(self, plan_id: int) -> None:
        """Stop a running suggestion round (the plan is going away)."""
        if self.supervisor.running(plan_owner(plan_id)) is not None:
            await self.supervisor.stop(plan_owner(plan_id))

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
            reply = await self.models.complete(
                TITLE_PROMPT.format(body=body[:4000]),
                tier="fast_model",
                max_tokens=TITLE_MAX_TOKENS,
                answer=TITLE_TOOL,
            )
            title = read_title(answer_input(reply, TITLE_TOOL), reply.text)
            if title:
                await self.plans.name(plan_id, title)
        except Exception as exc:  # a title is a nicety: the plan works without one
            log.warning("naming plan %d failed: %s", plan_id, exc)

    async def naming_done(self) -> None:
        """Wait for the titles being generated (tests and shutdown)."""
        await asyncio.gather(*self._naming.values(), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._naming.values()):
            task.cancel()
        await self.naming_done()
