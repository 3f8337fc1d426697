"""The one model client: every model call of every feature goes through ``ModelClient``.

It owns what each caller would otherwise repeat: the SDK's set-up from the resolved key and base
URL (``ModelAccess``, from the settings service), the request's shape (model, max tokens, system
prompt, tools, thinking budget or temperature), streaming, retries with exponential backoff, the
broken-stream case, prompt caching, and the usage and cost of each call.

Prompt caching (as the Messages API bills it): a request's prefix up to a block marked
``cache_control`` is written to the cache (1.25x the input price) and read back by a later request
that starts the same way (0.1x). Each request marks at most four blocks (the API's limit): the last
tool, the system prompt, and in a conversation the newest message and the one before it (where the
previous request put its mark), so every turn reads all earlier turns from the cache and writes
only its own. The marks go on copies; the history itself never carries them.

A call takes a message history and returns it with the model's answer appended (as the SDK's own
dump, so thinking blocks keep their signatures and the history can be sent again), which is all a
conversation needs to continue. Failures: rate limits, overload, 5xx and connection errors are
retried here (the SDK's own retries are off so there is one policy, and the listener hears of
each retry); a stream that breaks mid-way (``httpx2.TransportError``, not an anthropic exception)
or an error that persists raises ``ModelFailure`` with a message meant for people.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from codality_server.domain.sessions import TokenCounts, call_cost
from codality_server.domain.settings import DEFAULT_CONTEXT_WINDOW, ModelAccess, Price

if TYPE_CHECKING:
    import anthropic

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 529})
RETRYABLE_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error"})

Message = dict[str, Any]
BlockKind = Literal["text", "thinking"]

CACHE_MARK: dict[str, str] = {"type": "ephemeral"}
#: Blocks the API refuses a ``cache_control`` on.
UNMARKABLE = frozenset({"thinking", "redacted_thinking"})


class ModelFailure(Exception):
    """The model could not be reached or its answer broke off; a session fails with this.

    ``transient`` says whether trying later may help (overload, rate limits, the network) as
    opposed to a request the API refuses.
    """

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class PromptTooLong(ModelFailure):
    """The API refused the request as longer than the model's context window; ``tokens`` and
    ``limit`` are its count of the prompt and the window, when it said. A loop shortens its
    history and tries again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)
        found = TOO_LONG.search(message)
        numbers = [int(n) for n in found.groups() if n] if found else []
        self.tokens: int | None = numbers[0] if numbers else None
        self.limit: int | None = numbers[-1] if numbers else None


#: The API's words for a prompt over the window (the input alone, or with max_tokens).
TOO_LONG = re.compile(
    r"prompt is too long: (\d+) tokens > (\d+) maximum"
    r"|input length and `max_tokens` exceed context limit: (\d+) \+ \d+ > (\d+)"
)


@dataclass(frozen=True)
class ModelRequest:
    """What to ask for, besides the messages: one per session or per one-shot call."""

    model: str
    max_tokens: int
    system: str = ""
    tools: tuple[Mapping[str, Any], ...] = ()
    #: e.g. ``{"type": "tool", "name": …}``: the model must answer by calling that tool.
    tool_choice: Mapping[str, Any] | None = None
    temperature: float | None = None
    thinking_budget: int | None = None

    def params(self) -> dict[str, Any]:
        """The request's fields besides the messages, the tools and system prompt marked as the
        stable prefix to cache."""
        params: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens}
        if self.system:
            params["system"] = [{"type": "text", "text": self.system, "cache_control": CACHE_MARK}]
        if self.tools:
            *tools, last = self.tools
            params["tools"] = [*tools, {**last, "cache_control": CACHE_MARK}]
        if self.tool_choice:
            params["tool_choice"] = dict(self.tool_choice)
        # The Messages API refuses a temperature together with thinking.
        if self.thinking_budget:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        elif self.temperature is not None:
            params["temperature"] = self.temperature
        return params


def with_cache_marks(messages: list[Message]) -> list[Message]:
    """``messages`` with the rolling cache marks: on the last markable block of the newest
    message and of the newest user message before it. Marks already in the history are dropped,
    so a request never carries more than the API's four."""
    marked = [_unmarked(m) for m in messages]
    users = [i for i, m in enumerate(marked) if m.get("role") == "user"]
    targets = {len(marked) - 1, *users[-2:-1]} if marked else set()
    for index in targets:
        marked[index] = _marked(marked[index])
    return marked


def content_blocks(message: Message) -> list[dict[str, Any]]:
    """A message's content as a list of (copied) blocks; a string is one text block."""
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [dict(block) for block in content or []]


def _unmarked(message: Message) -> Message:
    content = message.get("content")
    if isinstance(content, list) and any("cache_control" in b for b in content):
        content = [{k: v for k, v in b.items() if k != "cache_control"} for b in content]
        return {**message, "content": content}
    return message


def _marked(message: Message) -> Message:
    blocks = content_blocks(message)
    for block in reversed(blocks):
        if block.get("type") not in UNMARKABLE:
            block["cache_control"] = CACHE_MARK
            return {**message, "content": blocks}
    return message


@dataclass(frozen=True)
class CallUsage:
    """Tokens, US dollars and model calls of one call (or, added up, of a run)."""

    tokens: TokenCounts = field(default_factory=TokenCounts)
    cost_usd: float = 0.0
    calls: int = 0

    @property
    def tokens_in(self) -> int:
        return self.tokens.input

    @property
    def tokens_out(self) -> int:
        return self.tokens.output

    def __add__(self, other: CallUsage) -> CallUsage:
        return CallUsage(
            self.tokens + other.tokens,
            round(self.cost_usd + other.cost_usd, 6),
            self.calls + other.calls,
        )


@dataclass(frozen=True)
class ToolUse:
    id: str
    name: str
    input: Any


@dataclass(frozen=True)
class ModelReply:
    """One answer: the history with it appended, its blocks, why it stopped and what it cost."""

    messages: list[Message]
    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: CallUsage

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text").strip()

    @property
    def tool_uses(self) -> list[ToolUse]:
        return [
            ToolUse(b["id"], b["name"], b.get("input"))
            for b in self.content
            if b.get("type") == "tool_use"
        ]


class StreamListener:
    """What a caller hears while an answer streams; every method is optional (no-op here)."""

    async def text_delta(self, text: str) -> None:
        """A piece of the answer's text."""

    async def thinking_delta(self, text: str) -> None:
        """A piece of the model's thinking."""

    async def block_done(self, kind: BlockKind, text: str) -> None:
        """A text or thinking block is complete (``text`` is all of it)."""

    async def retrying(self, message: str, delay_s: float) -> None:
        """A call failed for a reason that may pass; it is tried again after ``delay_s``."""


QUIET = StreamListener()


def sdk_client(access: ModelAccess) -> anthropic.AsyncAnthropic:
    """The SDK's client for ``access``; retries are ours (``ModelClient.reply``), not the SDK's."""
    import anthropic

    return anthropic.AsyncAnthropic(api_key=access.api_key, base_url=access.base_url, max_retries=0)


class ModelClient:
    """Model calls with one policy for set-up, retries, streaming and cost. Close it when done
    (or use it as ``async with``). Given ``sdk``, it borrows that SDK client and leaves it
    open; otherwise it makes its own at the first call and closes it."""

    def __init__(
        self,
        access: ModelAccess,
        prices: Mapping[str, Price] | None = None,
        *,
        max_attempts: int = 5,
        backoff_s: float = 1.0,
        sdk: anthropic.AsyncAnthropic | None = None,
        windows: Mapping[str, int] | None = None,
        fast_model: str = "claude-haiku-4-5",
    ) -> None:
        self.access = access
        self.prices = prices or {}
        self.windows = windows or {}
        #: The model that summarises a history outgrowing its window.
        self.fast_model = fast_model
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._sdk = sdk
        self._owns_sdk = sdk is None

    def context_window(self, model: str) -> int:
        """Tokens ``model`` takes, prompt and answer (the ``context_windows`` setting)."""
        return self.windows.get(model, DEFAULT_CONTEXT_WINDOW)

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        sdk, self._sdk = self._sdk, None
        if sdk is not None and self._owns_sdk:
            await sdk.close()

    async def reply(
        self,
        request: ModelRequest,
        messages: list[Message],
        listener: StreamListener = QUIET,
        *,
        cache_history: bool = True,
    ) -> ModelReply:
        """One streamed call, retried while the failure is transient; ``messages`` is not
        changed, the reply carries the extended history. ``cache_history``: mark the history
        for the cache too (a conversation that goes on), not only the tools and system prompt."""
        import anthropic
        import httpx2

        params = request.params()
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await self._stream_once(params, messages, listener, cache_history)
            except (anthropic.APIError, httpx2.TransportError) as exc:
                message = describe_failure(exc)
                if isinstance(exc, anthropic.BadRequestError) and TOO_LONG.search(message):
                    raise PromptTooLong(message) from exc
                retryable = is_retryable(exc)
                if not retryable or attempt == self.max_attempts:
                    raise ModelFailure(
                        message if attempt == 1 else f"{message} (after {attempt} attempts)",
                        transient=retryable or isinstance(exc, httpx2.TransportError),
                    ) from exc
                delay = self.backoff_s * 2 ** (attempt - 1)
                await listener.retrying(f"{message}; retrying in {delay:g} s", delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")

    async def complete(
        self,
        request: ModelRequest,
        prompt: str,
        listener: StreamListener = QUIET,
    ) -> ModelReply:
        """A one-shot call (a title, a readiness check): one user message, the reply. Its
        message is not cached: nothing will read it again."""
        messages: list[Message] = [{"role": "user", "content": prompt}]
        return await self.reply(request, messages, listener, cache_history=False)

    def _client(self) -> anthropic.AsyncAnthropic:
        if self._sdk is None:
            self._sdk = sdk_client(self.access)
        return self._sdk

    async def _stream_once(
        self,
        params: dict[str, Any],
        messages: list[Message],
        listener: StreamListener,
        cache_history: bool,
    ) -> ModelReply:
        # Only the SDK's derived events (text, thinking, content_block_stop) are handled, never
        # the raw deltas as well, so nothing is heard twice. The history is plain dicts (the
        # SDK's own dumps); the SDK checks them on send.
        history: Any = with_cache_marks(messages) if cache_history else messages
        async with self._client().messages.stream(messages=history, **params) as stream:
            async for event in stream:
                if event.type == "text":
                    await listener.text_delta(event.text)
                elif event.type == "thinking":
                    await listener.thinking_delta(event.thinking)
                elif event.type == "content_block_stop":
                    block = event.content_block
                    if block.type == "text":
                        await listener.block_done("text", block.text)
                    elif block.type == "thinking":
                        await listener.block_done("thinking", block.thinking)
            final = await stream.get_final_message()
        usage = final.usage
        tokens = TokenCounts(
            uncached=usage.input_tokens,
            cache_write=usage.cache_creation_input_tokens or 0,
            cache_read=usage.cache_read_input_tokens or 0,
            output=usage.output_tokens,
        )
        price = self.prices.get(final.model) or self.prices.get(params["model"])
        cost = CallUsage(tokens, call_cost(tokens, price), calls=1)
        content = final.model_dump(exclude_none=True)["content"]
        return ModelReply(
            [*messages, {"role": "assistant", "content": content}],
            content,
            final.stop_reason,
            cost,
        )


def describe_failure(exc: Exception) -> str:
    """A failure as people should read it."""
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


def is_retryable(exc: Exception) -> bool:
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):
        return True
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        kind = error.get("type") if isinstance(error, dict) else None
        return exc.status_code in RETRYABLE_STATUS or kind in RETRYABLE_TYPES
    return False
