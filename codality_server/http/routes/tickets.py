"""Ticket endpoints: list (by number ascending), create, show, edit, move, assign, search.

``…/tickets/search`` is registered before ``…/tickets/{number}`` so the word is never read as a
number.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from codality_server.domain.tickets import (
    TITLE_MAX_CHARS,
    Kind,
    Priority,
    TicketFilter,
    TicketSort,
    TicketStatus,
    parse_assignee_filter,
    search_expression,
    sorts_descending,
)
from codality_server.http.keys import SERVICES, USER
from codality_server.services.tickets import SEARCH_MAX_LIMIT

from ..responses import json_cached, json_created, json_ok
from ..route import Route
from ..schema import Body, Count, NonBlank, Query, RowId, at_least_one_of, stated
from ..validation import parse_body, parse_query, path_int
from ..views import array_of, ref

# JSON has no enum type, so enum fields are lax (``strict=False``): they take their string values
# and list the allowed ones on error.


# Checked by the domain (``parse_assignee``), which names the field in its message.
ASSIGNEE = stated(RowId, Literal["agent"], None)


class TicketCreate(Body):
    title: Annotated[NonBlank, Field(max_length=TITLE_MAX_CHARS)]
    description: str = ""
    kind: Kind = Field(default=Kind.TASK, strict=False)
    priority: Priority = Field(default=Priority.MEDIUM, strict=False)
    status: TicketStatus = Field(default=TicketStatus.BACKLOG, strict=False)
    assignee: RowId | str | None = Field(None, json_schema_extra=ASSIGNEE)


class TicketUpdate(Body):
    model_config = ConfigDict(
        json_schema_extra=at_least_one_of("title", "description", "kind", "priority")
    )

    title: Annotated[NonBlank, Field(max_length=TITLE_MAX_CHARS)] | None = None
    description: str | None = None
    kind: Kind | None = Field(default=None, strict=False)
    priority: Priority | None = Field(default=None, strict=False)


class StatusChange(Body):
    status: TicketStatus = Field(strict=False)


class Assignment(Body):
    assignee: RowId | str | None = Field(
        description='a user id, "agent", or null', json_schema_extra=ASSIGNEE
    )


class TicketListQuery(Query):
    status: list[TicketStatus] | None = None
    kind: Kind | None = None
    priority: Priority | None = None
    assignee: str | None = Field(
        default=None,
        pattern=r"^\s*(?:agent|none|[0-9]*[1-9][0-9]*)\s*$",
        description='a user id, "agent" or "none"',
    )
    limit: int = Field(default=100, ge=1, le=500)
    offset: Count = 0
    sort: TicketSort = Field(default=TicketSort.NUMBER, strict=False)
    order: Literal["asc", "desc"] | None = Field(
        default=None, description="default: desc for created and updated, else asc"
    )
    q: str | None = Field(
        default=None,
        pattern=r"[^\s*]",
        description="only tickets whose title, description or comments hold these words",
    )


class SearchQuery(Query):
    q: str = Field(pattern=r"[^\s*]", description="words; a trailing * searches by prefix")
    limit: int = Field(default=20, ge=1, le=SEARCH_MAX_LIMIT)


def _slug(request: web.Request) -> str:
    return request.match_info["slug"]


async def list_tickets(request: web.Request) -> web.Response:
    async def views() -> list[dict[str, object]]:
        # Parsed only on a cache miss: a URL that fails validation is never cached.
        query = parse_query(request, TicketListQuery, repeated=("status",))
        where = TicketFilter(
            statuses=tuple(query.status or ()),
            kind=query.kind,
            priority=query.priority,
            assignee=parse_assignee_filter(query.assignee) if query.assignee is not None else None,
            limit=query.limit,
            offset=query.offset,
            sort=query.sort,
            descending=sorts_descending(query.sort, query.order),
            search=search_expression(query.q) if query.q is not None else None,
        )
        tickets = await request.app[SERVICES].tickets.list(_slug(request), where)
        return [ticket.view() for ticket in tickets]

    return await json_cached(request, views)


async def create_ticket(request: web.Request) -> web.Response:
    body = await parse_body(request, TicketCreate)
    ticket = await request.app[SERVICES].tickets.create(
        _slug(request), request[USER], **body.model_dump()
    )
    return json_created(ticket.view())


async def show_ticket(request: web.Request) -> web.Response:
    _, ticket = await request.app[SERVICES].tickets.get(_slug(request), path_int(request, "number"))
    return json_ok(ticket.view())


async def update_ticket(request: web.Request) -> web.Response:
    body = await parse_body(request, TicketUpdate)
    ticket = await request.app[SERVICES].tickets.update(
        _slug(request), path_int(request, "number"), **body.model_dump()
    )
    return json_ok(ticket.view())


async def change_status(request: web.Request) -> web.Response:
    body = await parse_body(request, StatusChange)
    ticket = await request.app[SERVICES].tickets.change_status(
        _slug(request), path_int(request, "number"), body.status
    )
    return json_ok(ticket.view())


async def assign_ticket(request: web.Request) -> web.Response:
    body = await parse_body(request, Assignment)
    ticket = await request.app[SERVICES].tickets.assign(
        _slug(request), path_int(request, "number"), body.assignee
    )
    return json_ok(ticket.view())


async def search_tickets(request: web.Request) -> web.Response:
    query = parse_query(request, SearchQuery)
    hits = await request.app[SERVICES].tickets.search(_slug(request), query.q, query.limit)
    return json_ok([hit.view() for hit in hits])


_TICKETS = "/api/projects/{slug}/tickets"
_TICKET = _TICKETS + "/{number}"

ROUTES = [
    Route(
        "GET",
        _TICKETS + "/search",
        search_tickets,
        "Search tickets by text (title, description, comments), best match first",
        query=SearchQuery,
        tag="tickets",
        returns=array_of("SearchHit"),
    ),
    Route(
        "GET",
        _TICKETS,
        list_tickets,
        "List tickets (filters: status, kind, priority, assignee, q; order: sort, order)",
        query=TicketListQuery,
        tag="tickets",
        returns=array_of("Ticket"),
    ),
    Route(
        "POST",
        _TICKETS,
        create_ticket,
        "Create a ticket",
        body=TicketCreate,
        tag="tickets",
        status=201,
        returns=ref("Ticket"),
    ),
    Route("GET", _TICKET, show_ticket, "Get ticket details", tag="tickets", returns=ref("Ticket")),
    Route(
        "PUT",
        _TICKET,
        update_ticket,
        "Update ticket",
        body=TicketUpdate,
        tag="tickets",
        returns=ref("Ticket"),
    ),
    Route(
        "PATCH",
        _TICKET + "/status",
        change_status,
        "Update ticket status",
        body=StatusChange,
        tag="tickets",
        returns=ref("Ticket"),
    ),
    Route(
        "PATCH",
        _TICKET + "/assign",
        assign_ticket,
        "Assign ticket",
        body=Assignment,
        tag="tickets",
        returns=ref("Ticket"),
    ),
]
