"""``memory``: read-only project history, usually the agent's first call in a session."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from .base import Tool, ToolContext, ToolError, ToolInput

Topic = Literal["overview", "recent_tickets", "ticket", "sessions", "reviews"]


class MemoryInput(ToolInput):
    topic: Topic = Field(
        "overview",
        description="overview (project and ticket counts), recent_tickets, ticket (one ticket's "
        "timeline; needs number), sessions (past agent sessions and outcomes), reviews",
    )
    number: int | None = Field(None, ge=1, description="ticket number, for topic=ticket")
    limit: int = Field(10, ge=1, le=50)


async def memory(ctx: ToolContext, args: MemoryInput) -> str:
    if args.topic == "ticket" and args.number is None:
        raise ToolError("topic 'ticket' needs a ticket number")
    found = await ctx.need_knowledge().memory(args.topic, args.number, args.limit)
    return json.dumps(found, indent=1)


TOOLS = [
    Tool(
        "memory",
        "Read-only project history: overview, recent tickets, a ticket's timeline, past agent "
        "sessions and their outcomes, and reviews. Call it first to get your bearings.",
        MemoryInput,
        memory,
    )
]
