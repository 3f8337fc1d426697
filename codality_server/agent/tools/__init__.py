"""The agent's tools and the toolbox that validates their input and catches their failures."""

from __future__ import annotations

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


class Toolbox:
    """Runs tools by name; every failure comes back as an error outcome for the model."""

    def __init__(self, context: ToolContext, tools: list[Tool] | None = None) -> None:
        """``tools=None`` means every tool; an empty list means none (a read-only run, say)."""
        self.context = context
        self.tools = {tool.name: tool for tool in (ALL_TOOLS if tools is None else tools)}

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self.tools.values()]

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
        try:
            return ToolOutcome(True, await tool.run(self.context, args))
        except ToolError as exc:
            return ToolOutcome(False, str(exc))
        except DomainError as exc:
            return ToolOutcome(False, exc.message)
        except OSError as exc:
            return ToolOutcome(False, f"{type(exc).__name__}: {exc.strerror or exc}")


__all__ = ["ALL_TOOLS", "Tool", "ToolContext", "ToolOutcome", "Toolbox"]
