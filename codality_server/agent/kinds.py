"""Kinds of agent: each declares exactly the tools it is given.

The toolbox built from a kind is the one source of what the model may call: the request's
``tools`` and the system prompt's tool list both come from it (``prompts.tool_section``), and a
kind with no tools gets neither. A feature defines its kind next to its service, for example a
planner as ``AgentKind("planner", READ_ONLY_TOOLS)`` or discovery as the read-only tools plus its
proposal tools.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tools import ALL_TOOLS, Tool, Toolbox, ToolContext


@dataclass(frozen=True)
class AgentKind:
    """A kind of agent: its name (recorded on each session) and its tools."""

    name: str
    tools: tuple[Tool, ...] = ()

    def toolbox(self, context: ToolContext | None = None) -> Toolbox:
        """The kind's tools over ``context`` (None is enough for a kind without tools)."""
        return Toolbox(context, self.tools)


TICKET = AgentKind("ticket", tuple(ALL_TOOLS))
#: No tools at all: a plain conversation with the model (and the platform's own test kind).
ECHO = AgentKind("echo")
