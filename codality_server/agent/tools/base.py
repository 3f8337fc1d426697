"""What every agent tool shares: its input model, its context, and how failures are reported.

A tool is a name, a description, a pydantic input model (its JSON schema is what the model sees)
and an async function returning text. Anything a tool raises as ``ToolError`` or ``DomainError``
(an escaping path, a missing file, bad input) goes back to the model as an error result; it never
ends the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from codality_server.agent.sandbox import Sandbox
from codality_server.domain.tool_schema import input_schema


class ToolError(Exception):
    """A failure to report to the model as the tool's (error) result."""


class ToolInput(BaseModel):
    """Base of tool inputs: unknown fields are refused so typos surface to the model."""

    model_config = ConfigDict(extra="forbid")


class ProjectKnowledge(Protocol):
    """Read-only access to the project's tickets and history, provided by the runtime."""

    async def get_ticket(self, number: int) -> dict[str, Any]: ...

    async def search_tickets(self, query: str, limit: int) -> list[dict[str, Any]]: ...

    async def memory(self, topic: str, number: int | None, limit: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ToolContext:
    """Everything a tool may touch: the worktree (or, for read-only kinds, a checkout), the
    sandbox and the project's knowledge. A kind without ``bash`` needs no sandbox, one without
    the ticket tools no knowledge; a tool whose part is missing reports it to the model."""

    worktree: Path
    sandbox: Sandbox | None = None
    knowledge: ProjectKnowledge | None = None
    bash_timeout_s: float = 60.0

    def need_sandbox(self) -> Sandbox:
        if self.sandbox is None:
            raise ToolError("this session has no shell")
        return self.sandbox

    def need_knowledge(self) -> ProjectKnowledge:
        if self.knowledge is None:
            raise ToolError("this session has no access to the project's tickets")
        return self.knowledge


@dataclass(frozen=True)
class ToolOutcome:
    ok: bool
    output: str


Runner = Callable[[ToolContext, Any], Awaitable[str]]
InputT = TypeVar("InputT", bound=ToolInput)


def in_thread(
    body: Callable[[ToolContext, InputT], str],
) -> Callable[[ToolContext, InputT], Awaitable[str]]:
    """A tool whose body blocks on the file system, run in a worker thread off the event loop."""

    async def run(ctx: ToolContext, args: InputT) -> str:
        return await asyncio.to_thread(body, ctx, args)

    return run


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_model: type[ToolInput]
    run: Runner

    def spec(self) -> dict[str, Any]:
        """The tool as the Messages API expects it."""
        schema = input_schema(self.input_model)
        return {"name": self.name, "description": self.description, "input_schema": schema}


def relative(ctx: ToolContext, path: Path) -> str:
    """A path as the model should see it: relative to the worktree."""
    return str(path.relative_to(ctx.worktree)) or "."
