"""The model ↔ tool loop: ask the model, run the tools it calls, repeat until it ends its turn.

The loop knows nothing of the database or the bus: what it sees goes out through a
``LoopListener`` (the supervisor's recorder stores and publishes it), model calls go through the
one ``ModelClient``, and people reach a running loop through its ``Inbox``. It works on any
message history and returns the history it ended with, so a conversation can continue later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from codality_server.domain.sessions import Budget

from .history import HistoryKeeper, Trim
from .model import (
    CallUsage,
    Message,
    ModelClient,
    ModelReply,
    ModelRequest,
    PromptTooLong,
    StreamListener,
)
from .tools import Toolbox

MessageMode = Literal["steer", "queue"]

EVENT_OUTPUT_LIMIT = 4 * 1024
#: Calls refused as too long, each followed by a deeper cut, before the run fails.
TOO_LONG_TRIES = 3


class BudgetReached(Exception):
    """The run used up its turns or dollars (the message says which); it ends ``stopped``."""


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


class LoopListener(StreamListener):
    """What a loop reports besides the stream: tool calls, their outcomes, and usage so far."""

    async def tool_call(self, tool_use_id: str, name: str, tool_input: Any) -> None:
        """The model asked for a tool; it runs next."""

    async def tool_result(self, tool_use_id: str, name: str, ok: bool, output: str) -> None:
        """A tool finished (``output`` capped for display)."""

    async def usage(self, total: CallUsage) -> None:
        """Tokens and cost of every call so far in this loop."""

    async def history_trimmed(self, note: str, tokens_before: int, tokens_after: int) -> None:
        """The history was cut to fit the context window (``note`` says what went; the token
        counts are estimates)."""


@dataclass(frozen=True)
class LoopResult:
    summary: str
    messages: list[Message]
    usage: CallUsage


def _user_texts(texts: list[str]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": f"Message from the user during your run:\n{t}"} for t in texts]


def _cap(text: str, limit: int = EVENT_OUTPUT_LIMIT) -> str:
    """``text`` cut for an event; the note counts what was left out, lines too, so a viewer can
    still say how long a file the agent read was (the lines shown plus these)."""
    if len(text) <= limit:
        return text
    rest = text[limit:]
    lines = rest.count("\n") + (0 if text.endswith("\n") else 1)
    return text[:limit] + f"\n[… {len(rest)} more chars, {lines} more lines]"


class AgentLoop:
    """One conversation with the model, until it ends its turn with nothing pending."""

    def __init__(
        self,
        client: ModelClient,
        request: ModelRequest,
        toolbox: Toolbox,
        listener: LoopListener,
        inbox: Inbox | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.client = client
        self.budget = budget or Budget()
        # The toolbox is the one source of the tools the model may call.
        self.request = replace(request, tools=tuple(toolbox.specs()))
        self.toolbox = toolbox
        self.listener = listener
        self.inbox = inbox or Inbox()
        self.usage = CallUsage()
        window = client.context_window(self.request.model)
        self.history = HistoryKeeper(client, self.request, window)

    async def run(self, messages: list[Message]) -> LoopResult:
        """Continue ``messages`` (which ends with the user's turn) until the model is done;
        raises ``BudgetReached`` when it would go on past the budget."""
        while True:
            reason = self.budget.reached(self.usage.calls, self.usage.cost_usd)
            if reason is not None:
                raise BudgetReached(reason)
            reply = await self._call(messages)
            messages = reply.messages
            self.history.observe(messages, reply.usage)
            await self._add_usage(reply.usage)
            tool_uses = reply.tool_uses
            if tool_uses:
                results = [await self._run_tool(u.id, u.name, u.input) for u in tool_uses]
                answer = [*results, *_user_texts(self.inbox.take_steer())]
                messages = [*messages, {"role": "user", "content": answer}]
                continue
            pending = self.inbox.take_all()
            if pending:
                messages = [*messages, {"role": "user", "content": _user_texts(pending)}]
                continue
            return LoopResult(reply.text, messages, self.usage)

    async def _call(self, messages: list[Message]) -> ModelReply:
        """One model call on the history cut to fit the window (deeper after each "prompt is
        too long")."""
        trim = await self.history.fit(messages)
        for attempt in range(1, TOO_LONG_TRIES + 1):
            if trim is not None:
                messages = await self._trimmed(trim)
            reason = self.budget.reached(
                self.usage.calls, self.usage.cost_usd, self._input_cost_at_least(messages)
            )
            if reason is not None:
                raise BudgetReached(reason)
            try:
                return await self.client.reply(self.request, messages, self.listener)
            except PromptTooLong as exc:
                if attempt == TOO_LONG_TRIES:
                    raise
                trim = await self.history.fit(messages, refused=exc)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _input_cost_at_least(self, messages: list[Message]) -> float:
        """What the next call's input will cost, as far as it is known before the call: the
        input the last call reported, read from the prompt cache this time, plus what came
        after it at the plain input price (it is billed as a cache write, 1.25x, but its token
        count is an estimate that errs high). Its output cannot be known beforehand."""
        price = self.client.prices.get(self.request.model)
        if price is None:
            return 0.0
        resent, added = self.history.resent_and_added(messages)
        cost = resent * price.cache_read_per_mtok + added * price.input_per_mtok
        return cost / 1_000_000

    async def _trimmed(self, trim: Trim) -> list[Message]:
        summarising, self.history.usage = self.history.usage, None
        if summarising is not None:
            await self._add_usage(summarising)
        await self.listener.history_trimmed(trim.note, trim.tokens_before, trim.tokens_after)
        return trim.messages

    async def _add_usage(self, usage: CallUsage) -> None:
        self.usage = self.usage + usage
        await self.listener.usage(self.usage)

    async def _run_tool(self, tool_use_id: str, name: str, raw_input: Any) -> dict[str, Any]:
        # Recorded before the tool runs: listeners may link what the tool makes to the call.
        await self.listener.tool_call(tool_use_id, name, raw_input)
        outcome = await self.toolbox.run(name, raw_input)
        await self.listener.tool_result(tool_use_id, name, outcome.ok, _cap(outcome.output))
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": outcome.output or "(empty)",
            "is_error": not outcome.ok,
        }
