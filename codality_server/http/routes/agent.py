"""Agent endpoints: start, stop, status, messages to a running agent, and one stored session."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from codality_server.domain.sessions import Budget
from codality_server.http.keys import SERVICES, USER

from ..responses import json_accepted, json_ok
from ..route import Route
from ..schema import Body
from ..validation import parse_body, path_int
from ..views import ref


class AgentStart(Body):
    message: str | None = Field(None, max_length=100_000)
    model: str | None = Field(None, min_length=1, max_length=200)
    #: This run's budget, instead of the settings' ``max_turns_per_run`` / ``max_cost_per_run_usd``.
    max_turns: int | None = Field(None, ge=1, le=100_000)
    max_cost_usd: float | None = Field(None, gt=0, le=100_000, allow_inf_nan=False)


class AgentMessage(Body):
    message: str = Field(min_length=1, max_length=100_000)
    mode: Literal["steer", "queue"] = "steer"


def _ticket(request: web.Request) -> tuple[str, int]:
    return request.match_info["slug"], path_int(request, "number")


async def start(request: web.Request) -> web.Response:
    body = await parse_body(request, AgentStart)
    session = await request.app[SERVICES].agent.start(
        *_ticket(request),
        request[USER],
        message=body.message,
        model=body.model,
        budget=Budget(body.max_turns, body.max_cost_usd),
    )
    return json_accepted(session)


async def stop(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].agent.stop(*_ticket(request)))


async def status(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].agent.status(*_ticket(request)))


async def message(request: web.Request) -> web.Response:
    body = await parse_body(request, AgentMessage)
    delivered = await request.app[SERVICES].agent.message(
        *_ticket(request), body.message, body.mode
    )
    return json_accepted(delivered)


async def session(request: web.Request) -> web.Response:
    found = await request.app[SERVICES].agent.session(
        *_ticket(request), path_int(request, "session_id")
    )
    return json_ok(found)


_AGENT = "/api/projects/{slug}/tickets/{number}/agent"

ROUTES = [
    Route(
        "POST",
        f"{_AGENT}/start",
        start,
        "Start agent on ticket",
        body=AgentStart,
        tag="agent",
        status=202,
        returns=ref("SessionView"),
    ),
    Route(
        "POST",
        f"{_AGENT}/stop",
        stop,
        "Stop running agent",
        tag="agent",
        returns=ref("SessionView"),
    ),
    Route(
        "GET",
        f"{_AGENT}/status",
        status,
        "Get agent status",
        tag="agent",
        returns=ref("AgentStatus"),
    ),
    Route(
        "POST",
        f"{_AGENT}/message",
        message,
        "Send message to running agent",
        body=AgentMessage,
        tag="agent",
        status=202,
        returns=ref("Delivered"),
    ),
    Route(
        "GET",
        f"{_AGENT}/sessions/{{session_id}}",
        session,
        "One agent session with its transcript",
        tag="agent",
        returns=ref("SessionWithTranscript"),
    ),
]
