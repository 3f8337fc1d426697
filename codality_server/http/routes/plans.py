"""Plan endpoints: list, create, show, edit, delete, approve."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codality_server.domain.plans import MAX_DRAFTS, DraftInput
from codality_server.domain.tickets import Kind, Priority
from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok, no_content
from ..route import Route
from ..schema import Body, RowId
from ..validation import parse_body, path_int
from ..views import array_of, ref


class DraftIn(Body):
    title: str
    description: str = ""
    kind: Kind = Field(default=Kind.TASK, strict=False)
    priority: Priority = Field(default=Priority.MEDIUM, strict=False)
    order: RowId | None = Field(default=None, description="position; default: place in the list")
    depends_on: list[RowId] = Field(
        default_factory=list, max_length=MAX_DRAFTS, description="orders of earlier drafts"
    )
    # Drafts as a plan shows them can be sent back as they are; approval sets this, not a PUT.
    ticket: RowId | None = Field(default=None, description="ignored: approval sets it")

    def draft(self) -> DraftInput:
        return DraftInput(
            self.title, self.description, self.kind, self.priority, self.order, self.depends_on
        )


class PlanCreate(Body):
    title: str = Field(default="", description="empty: the fast model names the plan")
    body: str = Field(default="", description="markdown")
    drafts: list[DraftIn] = Field(default_factory=list, max_length=MAX_DRAFTS)


class PlanUpdate(Body):
    title: str | None = None
    body: str | None = None
    drafts: list[DraftIn] | None = Field(default=None, max_length=MAX_DRAFTS)


def _plan(request: web.Request) -> tuple[str, int]:
    return request.match_info["slug"], path_int(request, "id")


async def list_plans(request: web.Request) -> web.Response:
    plans = await request.app[SERVICES].plans.list(request.match_info["slug"])
    return json_ok([plan.view() for plan in plans])


async def create_plan(request: web.Request) -> web.Response:
    body = await parse_body(request, PlanCreate)
    plan = await request.app[SERVICES].plans.create(
        request.match_info["slug"],
        request[USER],
        title=body.title,
        body=body.body,
        drafts=[d.draft() for d in body.drafts],
    )
    return json_created(plan.view())


async def show_plan(request: web.Request) -> web.Response:
    _, plan = await request.app[SERVICES].plans.get(*_plan(request))
    return json_ok(plan.view())


async def update_plan(request: web.Request) -> web.Response:
    body = await parse_body(request, PlanUpdate)
    drafts = None if body.drafts is None else [d.draft() for d in body.drafts]
    plan = await request.app[SERVICES].plans.update(
        *_plan(request), title=body.title, body=body.body, drafts=drafts
    )
    return json_ok(plan.view())


async def delete_plan(request: web.Request) -> web.Response:
    await request.app[SERVICES].plans.delete(*_plan(request))
    return no_content()


async def approve_plan(request: web.Request) -> web.Response:
    tickets = await request.app[SERVICES].plans.approve(*_plan(request), request[USER])
    return json_ok([ticket.view() for ticket in tickets])


async def suggest(request: web.Request) -> web.Response:
    suggestions = await request.app[SERVICES].plan_agent.suggest(*_plan(request), request[USER])
    return json_ok([suggestion.view() for suggestion in suggestions])


async def check_ready(request: web.Request) -> web.Response:
    readiness = await request.app[SERVICES].plan_agent.check_ready(*_plan(request))
    return json_ok(readiness.view())


async def extract_tickets(request: web.Request) -> web.Response:
    plan, extraction = await request.app[SERVICES].plan_agent.extract(*_plan(request))
    return json_ok(
        {
            "drafts": [draft.view() for draft in plan.drafts],
            "repairs": list(extraction.repairs),
            "plan": plan.view(),
        }
    )


_PLANS = "/api/projects/{slug}/plans"
_PLAN = _PLANS + "/{id}"

ROUTES = [
    Route(
        "GET",
        _PLANS,
        list_plans,
        "List plans, newest first",
        tag="plans",
        returns=array_of("PlanView"),
    ),
    Route(
        "POST",
        _PLANS,
        create_plan,
        "Create a plan",
        body=PlanCreate,
        tag="plans",
        status=201,
        returns=ref("PlanView"),
    ),
    Route("GET", _PLAN, show_plan, "Get plan", tag="plans", returns=ref("PlanView")),
    Route(
        "PUT",
        _PLAN,
        update_plan,
        "Update plan",
        body=PlanUpdate,
        tag="plans",
        returns=ref("PlanView"),
    ),
    Route("DELETE", _PLAN, delete_plan, "Delete plan", tag="plans", status=204),
    Route(
        "POST",
        _PLAN + "/approve",
        approve_plan,
        "Approve plan: every draft becomes a ticket (all or nothing); answers the tickets",
        tag="plans",
        returns=array_of("Ticket"),
    ),
    Route(
        "POST",
        _PLAN + "/ai/suggest",
        suggest,
        "Get AI suggestions: the model reads the plan and the code (streams plan:delta);"
        " answers [{passage, text, why}]",
        tag="plans",
        returns=array_of("SuggestionView"),
    ),
    Route(
        "POST",
        _PLAN + "/ai/check-ready",
        check_ready,
        "Check plan readiness (fast model): {ready, explanation, missing}",
        tag="plans",
        returns=ref("ReadinessView"),
    ),
    Route(
        "POST",
        _PLAN + "/ai/extract-tickets",
        extract_tickets,
        "Extract tickets from plan: ordered drafts stored on the plan, with any repairs made",
        tag="plans",
        returns=ref("Extracted"),
    ),
]
