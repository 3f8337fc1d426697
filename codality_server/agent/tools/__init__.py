"""The agent's tools and the toolbox that validates their input and catches their failures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from codality_server.domain.errors import DomainError

from . import files, memory, search, shell, tickets
from .base import Tool, ToolContext, ToolError, ToolOutcome

ALL_TOOLS: list[Tool] = [
    *shell.TOOLS,
    *files.TOOLS,
    *search.TOOLS,
    *tickets.TOOLS,
    *memory.TOOLS,
]
BY_NAME = {tool.name: tool for tool in ALL_TOOLS}

#: Looking without touching: what planners and discovery get (plus their own tools).
READ_ONLY_TOOLS: tuple[Tool, ...] = tuple(
    BY_NAME[name]
    for name in ("read_file", "grep", "list_directory", "get_ticket", "search_tickets")
)


class Toolbox:
    """Runs tools by name; every failure comes back as an error outcome for the model.

    ``tools`` is exactly what the session gets: None means every tool, an empty list none.
    """

    def __init__(self, context: ToolContext | None, tools: Sequence[Tool] | None = None) -> None:
        self.context = context
        self.tools = {tool.name: tool for tool in (ALL_TOOLS if tools is None else tools)}
        self._specs = tuple(tool.spec() for tool in self.tools.values())

    def specs(self) -> list[dict[str, Any]]:
        """The tools as the Messages API expects them (built once per toolbox)."""
        return list(self._specs)

    def describe(self) -> str:
        """One line per tool, for the system prompt's tool section."""
        return "\n".join(f"- {t.name}: {t.description}" for t in self.tools.values())

    async def run(self, name: str, raw_input: Any) -> ToolOutcome:
        tool = self.tools.get(name)
        if tool is None:
            available = ", ".join(self.tools) or "none"
            return ToolOutcome(False, f"unknown tool {name!r}; available: {available}")
        try:
            args = tool.input_model.model_validate(raw_input)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
                for err in exc.errors()
            )
            return ToolOutcome(False, f"invalid input for {name}: {problems}")
        if self.context is None:
            return ToolOutcome(False, f"{name} has nothing to work on in this session")
        try:
            return ToolOutcome(True, await tool.run(self.context, args))
        except ToolError as exc:
            return ToolOutcome(False, str(exc))
        except DomainError as exc:
            return ToolOutcome(False, exc.message)
        except OSError as exc:
            return ToolOutcome(False, f"{type(exc).__name__}: {exc.strerror or exc}")


__all__ = ["ALL_TOOLS", "READ_ONLY_TOOLS", "Tool", "ToolContext", "ToolOutcome", "Toolbox"]
