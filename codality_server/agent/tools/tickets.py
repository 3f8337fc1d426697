"""Ticket tools: look at another ticket of the project, or search for related ones."""

from __future__ import annotations

import json

from pydantic import Field

from .base import Tool, ToolContext, ToolInput


class GetTicketInput(ToolInput):
    number: int = Field(ge=1, description="the ticket's number in this project")


async def get_ticket(ctx: ToolContext, args: GetTicketInput) -> str:
    return json.dumps(await ctx.need_knowledge().get_ticket(args.number), indent=1)


class SearchTicketsInput(ToolInput):
    query: str = Field(
        min_length=1, description="words to look for in titles, descriptions and comments"
    )
    limit: int = Field(10, ge=1, le=50)


async def search_tickets(ctx: ToolContext, args: SearchTicketsInput) -> str:
    found = await ctx.need_knowledge().search_tickets(args.query, args.limit)
    return json.dumps(found, indent=1) if found else "no tickets match"


TOOLS = [
    Tool(
        "get_ticket",
        "Fetch a ticket of this project by its number, with its comments.",
        GetTicketInput,
        get_ticket,
    ),
    Tool(
        "search_tickets",
        "Full-text search over this project's tickets and their comments.",
        SearchTicketsInput,
        search_tickets,
    ),
]
