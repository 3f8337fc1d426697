"""A session's recorder: what its loop does goes to the bus and to the stored transcript.

Every session kind records through it: the supervisor gives every run one, storing into the
session's transcript (``SessionBlocks``), the one block store of tickets, feedback runs, plan
suggestions and discovery replies. The loop reports to it (it is the ``LoopListener``) and the
session's job adds its own entries (the prompt, a commit, what a tool's result links to).
Deltas are ``BlockDelta`` events (``block``, ``at``, ``kind``) under the names the
``SessionEvents`` give them.

A text or thinking block is stored while it streams: its row is written at the first delta and
rewritten at most every ``FLUSH_S`` and once more, whole, when the block ends, so a crash
mid-block keeps what viewers had already seen (up to the last flush). Every other entry is
stored before its event is published, so a viewer that reads the transcript, then follows the
events after its ``last_event_id``, misses none. Writes are shielded: a stop may cancel the
session at any await, and a transaction cut off half-way would leave the single writer
connection unusable for everyone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codality_server.agent.loop import LoopListener
from codality_server.agent.model import BlockKind, CallUsage
from codality_server.domain.events import (
    AgentCommit,
    AgentError,
    AgentHistoryTrimmed,
    AgentPreparing,
    AgentPrompt,
    AgentTextDelta,
    AgentThinkingDelta,
    AgentToolCall,
    AgentToolResult,
    AgentUserMessage,
    Payload,
)
from codality_server.events.bus import EventBus

if TYPE_CHECKING:
    from .agent_sessions import AgentSessionService, Usage


class SessionEvents:
    """The events a session publishes for what its loop does: ``agent:*`` here. A feature whose
    clients expect events of its own (discovery's ``discover:delta``) overrides methods; one that
    returns None publishes nothing for that report (the transcript still gets it)."""

    #: Whether the model's thinking is published: a ticket's viewers see it; a plan round's or
    #: a discovery reply's are shown only what it says (the transcript keeps the thinking).
    shows_thinking = True

    def text_delta(
        self, session_id: int, text: str, block: int | None = None, at: int | None = None
    ) -> Payload | None:
        return AgentTextDelta(session_id=session_id, text=text, block=block, at=at, kind="text")

    def thinking_delta(
        self, session_id: int, text: str, block: int | None = None, at: int | None = None
    ) -> Payload | None:
        if not self.shows_thinking:
            return None
        return AgentThinkingDelta(
            session_id=session_id, text=text, block=block, at=at, kind="thinking"
        )

    def tool_call(
        self, session_id: int, tool_use_id: str, name: str, tool_input: Any
    ) -> Payload | None:
        return AgentToolCall(
            session_id=session_id, tool_use_id=tool_use_id, name=name, input=tool_input
        )

    def tool_result(
        self, session_id: int, tool_use_id: str, name: str, ok: bool, output: str
    ) -> Payload | None:
        return AgentToolResult(
            session_id=session_id, tool_use_id=tool_use_id, name=name, ok=ok, output=output
        )

    def error(self, session_id: int, message: str, retrying: bool) -> Payload | None:
        return AgentError(session_id=session_id, message=message, retrying=retrying)

    def history_trimmed(
        self, session_id: int, message: str, tokens_before: int, tokens_after: int
    ) -> Payload | None:
        return AgentHistoryTrimmed(
            session_id=session_id,
            message=message,
            tokens_before=tokens_before,
            tokens_after=tokens_after,
        )

    def user_message(self, session_id: int, text: str, mode: str, source: str) -> Payload | None:
        return AgentUserMessage.model_validate(
            {"session_id": session_id, "text": text, "mode": mode, "source": source}
        )

    def prompt(self, session_id: int, text: str) -> Payload | None:
        return AgentPrompt(session_id=session_id, text=text)

    def preparing(self, session_id: int, step: str, done: bool) -> Payload | None:
        return AgentPreparing(session_id=session_id, step=step, done=done)

    def commit(self, session_id: int, sha: str, message: str) -> Payload | None:
        return AgentCommit(session_id=session_id, sha=sha, message=message)


AGENT_EVENTS = SessionEvents()


@dataclass(frozen=True)
class SessionBlocks:
    """A session's transcript: where its recorder keeps the blocks (``usage``, the session's so
    far, is stored in the same transaction when given)."""

    sessions: AgentSessionService
    session_id: int

    async def append(self, kind: str, data: dict[str, Any], usage: Usage | None) -> int:
        return await self.sessions.append(self.session_id, kind, data, usage)

    async def rewrite(self, block_id: int, data: dict[str, Any], usage: Usage | None) -> None:
        await self.sessions.rewrite(self.session_id, block_id, data, usage)

    async def set_usage(self, usage: Usage) -> None:
        await self.sessions.set_usage(self.session_id, usage)


class Recorder(LoopListener):
    """Publishes a session's events on its channels and stores its transcript blocks."""

    FLUSH_S = 0.25

    def __init__(
        self,
        session_id: int,
        channels: tuple[str, ...],
        bus: EventBus,
        store: SessionBlocks,
        events: SessionEvents = AGENT_EVENTS,
    ) -> None:
        self.session_id = session_id
        self.channels = channels
        self.bus = bus
        self.store = store
        self.events = events
        self._block_kind: str | None = None
        self._block_id: int | None = None
        self._block_text = ""
        self._flushed_at = 0.0
        self._usage: Usage | None = None
        self._links: dict[str, Any] = {}  # what the running tool call's result links to

    # --- the loop's reports --------------------------------------------------------------------

    async def text_delta(self, text: str) -> None:
        # Grown first, so the event can name the block it belongs to and where in it it starts.
        await self._grow("text", text)
        at = len(self._block_text) - len(text)
        self._publish(self.events.text_delta(self.session_id, text, self._block_id, at))

    async def thinking_delta(self, text: str) -> None:
        await self._grow("thinking", text)
        at = len(self._block_text) - len(text)
        self._publish(self.events.thinking_delta(self.session_id, text, self._block_id, at))

    async def block_done(self, kind: BlockKind, text: str) -> None:
        await self._grow(kind, "", whole=text)

    async def tool_call(self, tool_use_id: str, name: str, tool_input: Any) -> None:
        data = {"tool_use_id": tool_use_id, "name": name, "input": tool_input}
        self._links = {}
        await self._entry(
            "tool_call", data, self.events.tool_call(self.session_id, tool_use_id, name, tool_input)
        )

    async def tool_result(self, tool_use_id: str, name: str, ok: bool, output: str) -> None:
        data = {"tool_use_id": tool_use_id, "name": name, "ok": ok, "output": output}
        data, self._links = data | self._links, {}
        payload = self.events.tool_result(self.session_id, tool_use_id, name, ok, output)
        await self._entry("tool_result", data, payload)

    def link_result(self, **links: Any) -> None:
        """Store ``links`` on the result of the tool call running now (tools run one at a time):
        a discovery proposal's result names the action it stored."""
        self._links |= links

    async def retrying(self, message: str, delay_s: float) -> None:
        data = {"message": message, "retrying": True}
        await self._entry("error", data, self.events.error(self.session_id, message, True))

    async def history_trimmed(self, note: str, tokens_before: int, tokens_after: int) -> None:
        data = {"message": note, "tokens_before": tokens_before, "tokens_after": tokens_after}
        payload = self.events.history_trimmed(self.session_id, note, tokens_before, tokens_after)
        await self._entry("history_trimmed", data, payload)

    async def usage(self, total: CallUsage) -> None:
        # Written with the next stored block (one transaction instead of two per tool round),
        # or by ``flush`` at the end: a crash loses at most the usage of the last call.
        self._usage = (total.tokens, total.cost_usd, total.calls)

    async def store_open_block(self) -> None:
        """Write the streaming block as it stands, so a transcript read next holds every delta
        published so far (a viewer joining mid-block then loses none; ``at`` skips repeats)."""
        if self._block_id is not None:
            rewrite = self.store.rewrite(self._block_id, {"text": self._block_text}, None)
            await asyncio.shield(rewrite)
            self._flushed_at = time.monotonic()

    async def flush(self) -> None:
        """Write what is still only in memory: the open block's text published since its last
        write (a stopped session keeps all it streamed), the usage of the last call."""
        await self.store_open_block()
        usage, self._usage = self._usage, None
        if usage is not None:
            await asyncio.shield(self.store.set_usage(usage))

    # --- entries of the session's own -------------------------------------------------------

    async def prompt(self, text: str) -> None:
        """The first message the model was given."""
        await self._entry("prompt", {"text": text}, self.events.prompt(self.session_id, text))

    async def preparing(self, step: str, done: bool = False) -> None:
        """What the run does before the model is asked: each step is published as it starts,
        and the step that ends the preparation is also stored (a replay shows it)."""
        payload = self.events.preparing(self.session_id, step, done)
        if done:
            await self._entry("preparing", {"step": step, "done": True}, payload)
        else:
            self._publish(payload)

    async def commit(self, sha: str, message: str) -> None:
        data = {"sha": sha, "message": message}
        await self._entry("commit", data, self.events.commit(self.session_id, sha, message))

    async def user_message(self, text: str, mode: str, source: str) -> None:
        data = {"text": text, "mode": mode, "source": source}
        payload = self.events.user_message(self.session_id, text, mode, source)
        await self._entry("user_message", data, payload)

    async def error(self, message: str) -> None:
        payload = self.events.error(self.session_id, message, False)
        await self._entry("error", {"message": message}, payload)

    # --- internals ----------------------------------------------------------------------------

    def _publish(self, payload: Payload | None) -> None:
        if payload is not None:
            self.bus.publish(payload, self.channels)

    async def _entry(self, kind: str, data: dict[str, Any], payload: Payload | None) -> None:
        """Store a block, then publish its event: a viewer that reads the transcript and then
        follows the events after its ``last_event_id`` sees the entry at least once."""
        usage, self._usage = self._usage, None
        await asyncio.shield(self.store.append(kind, data, usage))
        self._publish(payload)

    async def _grow(self, kind: str, delta: str, whole: str | None = None) -> None:
        """Add to the streaming block (``whole`` ends it with its final text)."""
        if kind != self._block_kind:
            self._block_kind, self._block_id, self._block_text = kind, None, ""
        self._block_text = whole if whole is not None else self._block_text + delta
        now = time.monotonic()
        if whole is None and self._block_id is not None and now - self._flushed_at < self.FLUSH_S:
            return
        data = {"text": self._block_text}
        usage, self._usage = self._usage, None
        if self._block_id is None:
            self._block_id = await asyncio.shield(self.store.append(kind, data, usage))
        else:
            rewrite = self.store.rewrite(self._block_id, data, usage)
            await asyncio.shield(rewrite)
        self._flushed_at = now
        if whole is not None:
            self._block_kind, self._block_id, self._block_text = None, None, ""
