"""A fake Anthropic Messages server for tests: the shipped scripted endpoint, in a thread.

It reuses ``codality_server.scripted.server`` (the same SSE sequence ``codality demo``
streams) and adds what tests need around it: a script per test, the recorded requests, and
helpers to build turns (tool calls, error statuses, mid-stream errors, broken streams).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from codality_server.scripted.billing import PromptCache
from codality_server.scripted.server import CACHE, MODEL_TURNS, REQUESTS, TURNS, Turn, create_app


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


def overloaded(status: int = 529) -> Turn:
    error_type = "rate_limit_error" if status == 429 else "overloaded_error"
    return {"status": status, "error_type": error_type, "message": "Overloaded"}


class FakeAnthropic:
    """The scripted endpoint on a free loopback port, with its own loop in a daemon thread."""

    def __init__(self) -> None:
        self.app = create_app([])
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

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
