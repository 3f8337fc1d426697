"""A fake Anthropic Messages server for tests: the shipped scripted endpoint, in a thread.

It reuses ``codality_server.scripted.server`` (the same SSE sequence ``codality demo``
streams, with tool inputs built from the schemas each request offers) and adds what tests need
around it: a script per test, the recorded requests, and helpers to build turns (tool calls,
error statuses, mid-stream errors, broken streams).

Like the real API it refuses a request whose tool schemas are not valid JSON Schema (400), and,
stricter than it, one whose schema requires a property it never defines. Every such refusal and
every turn that does not follow its request is a problem, and ``stop`` fails the test with them.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import jsonschema_rs
from aiohttp import web

from codality_server.scripted.billing import PromptCache
from codality_server.scripted.server import (
    CACHE,
    MODEL_TURNS,
    PROBLEMS,
    REQUESTS,
    TURNS,
    Turn,
    create_app,
)


def text(value: str, **extra: Any) -> Turn:
    """A turn that only says something and ends the model's turn."""
    return {"blocks": [{"type": "text", "text": value}], **extra}


def tool(name: str, say: str | None = None, thinking: str | None = None, **tool_input: Any) -> Turn:
    """A turn that (optionally thinks and says something, then) calls one tool."""
    blocks: list[dict[str, Any]] = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": thinking})
    if say:
        blocks.append({"type": "text", "text": say})
    blocks.append({"type": "tool_use", "name": name, "input": tool_input})
    return {"blocks": blocks}


def system_text(request: dict[str, Any]) -> str:
    """A request's system prompt as text, whether sent as a string or as blocks."""
    system = request.get("system", "")
    return system if isinstance(system, str) else "".join(b["text"] for b in system)


def unchecked(turn: Turn) -> Turn:
    """``turn`` played as written: a model that ignores the tools or tool_choice it is sent."""
    return {**turn, "unchecked": True}


def _required_undefined(node: Any, where: str) -> Iterator[str]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _required_undefined(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        defined = node.get("properties", {})
        for name in node.get("required", []):
            if name not in defined:
                yield f"{where}: requires {name!r} but never defines it"
        for key, value in node.items():
            yield from _required_undefined(value, f"{where}.{key}")


def schema_problems(schema: Any, where: str = "input_schema") -> list[str]:
    """What is wrong with a tool's input schema: invalid JSON Schema (draft 2020-12, as the
    Messages API requires), or a required property the schema does not define."""
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as exc:
        return [f"{where}: JSON schema is invalid: {exc.message}"]
    return list(_required_undefined(schema, where))


@web.middleware
async def _check_tools(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        tools = json.loads(await request.read()).get("tools", [])
    except (ValueError, AttributeError):
        tools = []
    found = [
        problem
        for index, tool in enumerate(tools)
        for problem in schema_problems(tool.get("input_schema"), f"tools.{index}.input_schema")
    ]
    if found:
        request.app[PROBLEMS].extend(found)
        error = {"type": "invalid_request_error", "message": "; ".join(found)}
        return web.json_response({"type": "error", "error": error}, status=400)
    return await handler(request)


def overloaded(status: int = 529) -> Turn:
    error_type = "rate_limit_error" if status == 429 else "overloaded_error"
    return {"status": status, "error_type": error_type, "message": "Overloaded"}


class FakeAnthropic:
    """The scripted endpoint on a free loopback port, with its own loop in a daemon thread."""

    def __init__(self) -> None:
        self.app = create_app([])
        self.app.middlewares.append(_check_tools)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> FakeAnthropic:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def script(self, *turns: Turn) -> None:
        """Replace what the next requests get, one turn per request."""
        self.app[TURNS][:] = [dict(turn) for turn in turns]

    def script_model(self, model: str, *turns: Turn) -> None:
        """What the next requests to ``model`` get, before (and apart from) the main script."""
        self.app[MODEL_TURNS][model] = [dict(turn) for turn in turns]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request body received so far."""
        return [entry["body"] for entry in self.app[REQUESTS]]

    @property
    def usages(self) -> list[dict[str, int]]:
        """The usage each answered request reported (refused ones have none)."""
        return [entry["usage"] for entry in self.app[REQUESTS] if "usage" in entry]

    @property
    def cache(self) -> PromptCache:
        """The prompt cache and window the requests are billed by (settable per test)."""
        return self.app[CACHE]

    @property
    def headers(self) -> list[dict[str, str]]:
        return [entry["headers"] for entry in self.app[REQUESTS]]

    @property
    def problems(self) -> list[str]:
        """Requests refused for their tool schemas, and turns that did not follow their request
        (the test reading them clears them to say they were expected)."""
        return self.app[PROBLEMS]

    def stop(self) -> None:
        """Stop serving; fail if a request or a turn went wrong unexpectedly."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        assert not self.problems, "the fake model found problems:\n" + "\n".join(self.problems)
