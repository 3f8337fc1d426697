"""Work queue endpoints: list, create (ext), show, edit, delete, start, cancel, release.

``start`` answers 200 with the queue once its first agents run (the agents themselves answer
202 elsewhere; here the queue's new state is the result)."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codality_server.domain.queues import (
    DESCRIPTION_MAX_CHARS,
    MAX_ITEMS,
    MAX_PARALLEL,
    NAME_MAX_CHARS,
)
from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok, no_content
from ..route import Route
from ..schema import Body, RowId
from ..validation import parse_body, path_int
from ..views import array_of, ref

Tickets = list[RowId]


class QueueCreate(Body):
    name: str = Field(max_length=NAME_MAX_CHARS)
    description: str = Field("", max_length=DESCRIPTION_MAX_CHARS)
    tickets: Tickets = Field(description="ticket numbers, in the order to work them")
    merge_each: bool = Field(False, description="merge each completed ticket before the next")
    max_parallel: int = Field(1, ge=1, le=MAX_PARALLEL)


class QueueUpdate(Body):
    name: str | None = Field(None, max_length=NAME_MAX_CHARS)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX_CHARS)
    tickets: Tickets | None = Field(
        None,
        description=f"the full new order (at most {MAX_ITEMS}); pending tickets may be added,"
        " moved or left out, the others must stay",
    )
    merge_each: bool | None = None
    max_parallel: int | None = Field(None, ge=1, le=MAX_PARALLEL)


def _queue(request: web.Request) -> tuple[str, int]:
    return request.match_info["slug"], path_int(request, "id")


async def list_queues(request: web.Request) -> web.Response:
    queues = await request.app[SERVICES].queues.list(request.match_info["slug"])
    return json_ok([queue.view() for queue in queues])


async def create_queue(request: web.Request) -> web.Response:
    body = await parse_body(request, QueueCreate)
    queue = await request.app[SERVICES].queues.create(
        request.match_info["slug"], request[USER], **body.model_dump()
    )
    return json_created(queue.view())


async def show_queue(request: web.Request) -> web.Response:
    _, queue = await request.app[SERVICES].queues.get(*_queue(request))
    return json_ok(queue.view())


async def update_queue(request: web.Request) -> web.Response:
    body = await parse_body(request, QueueUpdate)
    queue = await request.app[SERVICES].queues.update(*_queue(request), **body.model_dump())
    return json_ok(queue.view())


async def delete_queue(request: web.Request) -> web.Response:
    await request.app[SERVICES].queues.delete(*_queue(request))
    return no_content()


async def start_queue(request: web.Request) -> web.Response:
    queue = await request.app[SERVICES].queue_runner.start(*_queue(request), request[USER])
    return json_ok(queue.view())


async def cancel_queue(request: web.Request) -> web.Response:
    return json_ok((await request.app[SERVICES].queue_runner.cancel(*_queue(request))).view())


async def release_queue(request: web.Request) -> web.Response:
    return json_ok((await request.app[SERVICES].queue_runner.release(*_queue(request))).view())


_QUEUES = "/api/projects/{slug}/discover/queues"
_QUEUE = _QUEUES + "/{id}"

ROUTES = [
    Route(
        "GET", _QUEUES, list_queues, "List work queues", tag="queues", returns=array_of("QueueView")
    ),
    Route(
        "POST",
        _QUEUES,
        create_queue,
        "Create a work queue from ticket numbers",
        body=QueueCreate,
        tag="queues",
        status=201,
        returns=ref("QueueView"),
    ),
    Route(
        "GET", _QUEUE, show_queue, "Get queue with items", tag="queues", returns=ref("QueueView")
    ),
    Route(
        "PUT",
        _QUEUE,
        update_queue,
        "Update queue name/description, options, or its pending tickets",
        body=QueueUpdate,
        tag="queues",
        returns=ref("QueueView"),
    ),
    Route("DELETE", _QUEUE, delete_queue, "Delete queue", tag="queues", status=204),
    Route(
        "POST",
        _QUEUE + "/start",
        start_queue,
        "Start sequential execution (the first pending tickets' agents start now)",
        tag="queues",
        returns=ref("QueueView"),
    ),
    Route(
        "POST",
        _QUEUE + "/cancel",
        cancel_queue,
        "Cancel queue execution (running agents are stopped)",
        tag="queues",
        returns=ref("QueueView"),
    ),
    Route(
        "POST",
        _QUEUE + "/release",
        release_queue,
        "Reset queue to pending (every ticket not done is pending again)",
        tag="queues",
        returns=ref("QueueView"),
    ),
]
