"""The model ↔ tool loop over the anthropic SDK's streaming Messages API.

The loop knows nothing of the database or the bus: everything it sees goes out through one
``emit(kind, data)`` callback, which keeps it testable and lets the runtime decide what is
published and what is stored. Only the SDK's derived event family (``text``, ``thinking``,
``content_block_stop``) is handled, never the raw deltas as well, so nothing is seen twice.

Failures: rate limits, overload and connection errors are retried here with exponential backoff
(the SDK's own retries are off, so there is one policy and the user sees each retry as an
``error`` event); a stream that breaks mid-way (``httpx2.TransportError``, not an anthropic
exception) or an error that persists raises ``ModelFailure`` with a message meant for people.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .tools import Toolbox

if TYPE_CHECKING:
    import anthropic

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
MessageMode = Literal["steer", "queue"]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 529})
RETRYABLE_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error"})
EVENT_OUTPUT_LIMIT = 4 * 1024


class ModelFailure(Exception):
    """The model could not be reached or its answer broke off; the session fails with this."""


@dataclass(frozen=True)
class ModelConfig:
    api_key: str
    base_url: str | None
    model: str
    max_tokens: int
    temperature: float | None = None
    thinking_budget: int | None = None
    max_attempts: int = 5
    backoff_s: float = 1.0

    def request(self, system: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": system,
            "tools": tools,
        }
        if self.thinking_budget:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        elif self.temperature is not None:
            params["temperature"] = self.temperature
        return params


@dataclass
class Inbox:
    """Messages from people to the running agent: ``steer`` ones go with the next tool results,
    ``queue`` ones wait until the model ends its turn."""

    steer: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)

    def put(self, text: str, mode: MessageMode) -> None:
        (self.steer if mode == "steer" else self.queued).append(text)

    def take_steer(self) -> list[str]:
        taken, self.steer = self.steer, []
        return taken

    def take_all(self) -> list[str]:
        taken, self.steer, self.queued = [*self.steer, *self.queued], [], []
        return taken


@dataclass
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass(frozen=True)
class LoopResult:
    summary: str
    usage: Usage


def _user_texts(texts: list[str]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": f"Message from the user during your run:\n{t}"} for t in texts]


def _cap(text: str, limit: int = EVENT_OUTPUT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[… {len(text) - limit} more chars]"


def _describe(exc: Exception) -> str:
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
        kind = error.get("type", "error")
        message = error.get("message") or str(exc)
        return f"the model API answered {exc.status_code} {kind}: {message}"
    if isinstance(exc, anthropic.APIConnectionError):
        return f"the model API could not be reached: {exc}"
    return f"the model's stream broke off mid-way ({type(exc).__name__}: {exc})"


def _retryable(exc: Exception) -> bool:
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):
        return True
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        kind = error.get("type") if isinstance(error, dict) else None
        return exc.status_code in RETRYABLE_STATUS or kind in RETRYABLE_TYPES
    return False


class AgentLoop:
    """One session's conversation with the model, until it ends its turn with nothing pending."""

    def __init__(
        self,
        config: ModelConfig,
        system: str,
        toolbox: Toolbox,
        emit: Emit,
        inbox: Inbox,
        session_id: int,
    ) -> None:
        self.config = config
        self.system = system
        self.toolbox = toolbox
        self.emit = emit
        self.inbox = inbox
        self.session_id = session_id
        self.usage = Usage()
        self._client: anthropic.AsyncAnthropic | None = None

    async def run(self, first_message: str) -> LoopResult:
        messages: list[dict[str, Any]] = [{"role": "user", "content": first_message}]
        try:
            while True:
                final = await self._call_model(messages)
                content = final.model_dump(exclude_none=True)["content"]
                messages.append({"role": "assistant", "content": content})
                tool_uses = [block for block in final.content if block.type == "tool_use"]
                if tool_uses:
                    results = [await self._run_tool(b.id, b.name, b.input) for b in tool_uses]
                    reply = [*results, *_user_texts(self.inbox.take_steer())]
                    messages.append({"role": "user", "content": reply})
                    continue
                pending = self.inbox.take_all()
                if pending:
                    messages.append({"role": "user", "content": _user_texts(pending)})
                    continue
                text = "".join(b.text for b in final.content if b.type == "text").strip()
                return LoopResult(text, self.usage)
        finally:
            if self._client is not None:
                await self._client.close()

    async def _run_tool(self, tool_use_id: str, name: str, raw_input: Any) -> dict[str, Any]:
        ids = {"session_id": self.session_id, "tool_use_id": tool_use_id}
        await self.emit("tool_call", {**ids, "name": name, "input": raw_input})
        outcome = await self.toolbox.run(name, raw_input)
        await self.emit(
            "tool_result", {**ids, "name": name, "ok": outcome.ok, "output": _cap(outcome.output)}
        )
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": outcome.output or "(empty)",
            "is_error": not outcome.ok,
        }

    def _sdk(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            import anthropic

            self._client = anthropic.AsyncAnthropic(
                api_key=self.config.api_key, base_url=self.config.base_url, max_retries=0
            )
        return self._client

    async def _call_model(self, messages: list[dict[str, Any]]) -> Any:
        """One streamed model call, retried with backoff while the failure is transient."""
        import anthropic
        import httpx2

        params = self.config.request(self.system, self.toolbox.specs())
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                return await self._stream_once(params, messages)
            except (anthropic.APIError, httpx2.TransportError) as exc:
                message = _describe(exc)
                if not _retryable(exc) or attempt == self.config.max_attempts:
                    raise ModelFailure(
                        message if attempt == 1 else f"{message} (after {attempt} attempts)"
                    ) from exc
                delay = self.config.backoff_s * 2 ** (attempt - 1)
                await self.emit(
                    "error",
                    {
                        "session_id": self.session_id,
                        "message": f"{message}; retrying in {delay:g} s",
                        "retrying": True,
                    },
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")

    async def _stream_once(self, params: dict[str, Any], messages: list[dict[str, Any]]) -> Any:
        ids = {"session_id": self.session_id}
        # The history is plain dicts (the SDK's own dumps); the SDK validates them on send.
        stream_messages: Any = messages
        async with self._sdk().messages.stream(messages=stream_messages, **params) as stream:
            async for event in stream:
                if event.type == "text":
                    await self.emit("text_delta", {**ids, "text": event.text})
                elif event.type == "thinking":
                    await self.emit("thinking_delta", {**ids, "text": event.thinking})
                elif event.type == "content_block_stop":
                    block = event.content_block
                    if block.type == "text":
                        await self.emit("text", {**ids, "text": block.text})
                    elif block.type == "thinking":
                        await self.emit("thinking", {**ids, "text": block.thinking})
            final = await stream.get_final_message()
        usage = final.usage
        self.usage.tokens_in += (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        self.usage.tokens_out += usage.output_tokens
        await self.emit(
            "usage",
            {**ids, "tokens_in": self.usage.tokens_in, "tokens_out": self.usage.tokens_out},
        )
        return final
