"""The discovery agent: a conversation's replies, run as sessions on the platform's supervisor.

A reply is one agent session owned by the conversation (so one reply at a time: a second message
while one streams is a 409), of the ``discovery`` kind: the read-only tools on a checkout of the
default branch plus the proposal tools. The platform's loop and model client do the model work;
this module's listener turns what the loop reports into ``discover:*`` events and stores the reply
block by block as the conversation's message:

- a text delta is published first, then stored (coalesced by a background write), so the wire
  never waits for the disk and a crash loses at most the write in flight;
- a tool call is stored and published as ``discover:tool_call`` before it runs; its result is
  stored after;
- a proposal tool checks and stores a pending action (``DiscoverService.propose``); a malformed
  proposal comes back to the model as a tool error and nothing is stored;
- when the session ends, the message gets its final status (cancelled, interrupted, failed with
  the reason), usage and cost, and ``discover:message`` carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict

from codality_server.agent.kinds import AgentKind
from codality_server.agent.loop import AgentLoop, LoopListener
from codality_server.agent.model import BlockKind, CallUsage, Message, ModelClient, ModelRequest
from codality_server.agent.prompts import tool_section
from codality_server.agent.tools import READ_ONLY_TOOLS, Tool, Toolbox, ToolContext
from codality_server.agent.tools.base import ToolInput
from codality_server.domain.discover import (
    PROPOSAL_TOOLS,
    ReplyStatus,
    clean_message,
)
from codality_server.domain.discover import (
    Message as DiscoverMessage,
)
from codality_server.domain.discover_history import history
from codality_server.domain.errors import Conflict
from codality_server.domain.events import (
    DiscoverDelta,
    DiscoverError,
    DiscoverToolCall,
    DiscoverToolResult,
    Payload,
    conversation_channel,
    project_channel,
)
from codality_server.domain.planning import TITLE_TOOL, read_title
from codality_server.domain.projects import Project
from codality_server.domain.sessions import AgentSession, Owner, OwnerKind, SessionStatus
from codality_server.domain.tool_schema import input_schema
from codality_server.domain.users import User
from codality_server.git.checkout import branch_checkout

from .base import Service
from .knowledge import ServiceKnowledge
from .models import answer_input
from .recorder import Recorder, SessionEvents
from .supervisor import USER_STOPPED, Run, SessionSpec

if TYPE_CHECKING:
    from . import Services
    from .agent_sessions import Usage
    from .discover import DiscoverService

log = logging.getLogger("codality.discover")

BUSY = "a reply is still being written in this conversation; wait for it or cancel it"
SYSTEM = """You are Codality's discovery assistant for the project {project}. People talk with you \
before any work starts: what would it take to add a feature, where does something live, what \
should be done first. Read the code before you answer; it is the project's default branch \
({branch}), read-only. Answer plainly and concretely, naming files and functions.

When the talk reaches work to do, propose it with a proposal tool; nothing is created until the \
user confirms the proposal (they may edit it first or reject it):
- propose_tickets: new tickets, smallest useful steps, with dependencies on earlier ones;
- propose_plan: a design document when the work needs one;
- propose_queue: tickets (existing by number, or new) for agents to work through in order;
- propose_ticket_update: a change to an existing ticket.
Propose each thing once; the tool result tells you when it is stored."""
TITLE_PROMPT = (
    "Give a short title (at most 8 words, no quotes, no full stop) for a conversation about a"
    " code base that starts with this message, with the give_title tool:\n\n{message}"
)
ENDINGS = {
    SessionStatus.COMPLETED: ReplyStatus.COMPLETE,
    SessionStatus.STOPPED: ReplyStatus.CANCELLED,
    SessionStatus.INTERRUPTED: ReplyStatus.INTERRUPTED,
}


def owner(conversation_id: int) -> Owner:
    return Owner(OwnerKind.CONVERSATION, conversation_id)


def channels(project_id: int, conversation_id: int) -> tuple[str, str]:
    return project_channel(project_id), conversation_channel(conversation_id)


class DiscoverEvents(SessionEvents):
    """A reply's events: its stream as ``discover:delta`` / ``tool_call`` / ``tool_result``,
    failures and retries as ``discover:error``."""

    def __init__(self, conversation_id: int, message_id: int) -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id

    def _ids(self, session_id: int) -> dict[str, int]:
        return {
            "conversation_id": self.conversation_id,
            "session_id": session_id,
            "message_id": self.message_id,
        }

    def text_delta(
        self, session_id: int, text: str, block: int | None = None, at: int | None = None
    ) -> Payload | None:
        return DiscoverDelta(**self._ids(session_id), text=text, block=block, at=at, kind="text")

    def tool_call(
        self, session_id: int, tool_use_id: str, name: str, tool_input: Any
    ) -> Payload | None:
        return DiscoverToolCall(
            **self._ids(session_id), tool_use_id=tool_use_id, name=name, input=tool_input
        )

    def tool_result(
        self, session_id: int, tool_use_id: str, name: str, ok: bool, output: str
    ) -> Payload | None:
        ids = self._ids(session_id)
        return DiscoverToolResult(**ids, tool_use_id=tool_use_id, name=name, ok=ok, output=output)

    def error(self, session_id: int, message: str, retrying: bool) -> Payload | None:
        return DiscoverError(
            conversation_id=self.conversation_id,
            session_id=session_id,
            message=message,
            retrying=retrying,
        )


@dataclass(frozen=True)
class ReplyBlocks:
    """A reply's blocks are its message's; the reply's usage is stored when it ends."""

    store: DiscoverService
    message_id: int

    async def append(self, kind: str, data: dict[str, Any], usage: Usage | None) -> int:
        return await self.store.append_block(self.message_id, kind, data)

    async def rewrite(self, block_id: int, data: dict[str, Any], usage: Usage | None) -> None:
        await self.store.rewrite_block(block_id, data)

    async def set_usage(self, usage: Usage) -> None:
        """Nothing to do: ``finish_reply`` stores the reply's usage with its status."""


class _AnyInput(ToolInput):
    """A proposal's raw input: checked by the proposal's own schema, in the domain."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class ProposalTool(Tool):
    """A proposal tool: the model sees its domain schema; its input is checked when it runs."""

    schema: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.schema}


class ReplyListener(Recorder):
    """A reply's recorder: the loop's text and tool calls become the reply message's blocks and
    ``discover:*`` events; retries, history cuts and usage go to the session's own recorder."""

    def __init__(
        self, agent: DiscoverAgent, project: Project, conversation_id: int, message_id: int
    ) -> None:
        # The session's id is known once it starts (``attach``), before the loop reports.
        super().__init__(
            0,
            channels(project.id, conversation_id),
            agent.bus,
            ReplyBlocks(agent.services.discover, message_id),
            DiscoverEvents(conversation_id, message_id),
        )
        self.store_service = agent.services.discover
        self.project = project
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.session_recorder: LoopListener | None = None
        self.usage_total = CallUsage()
        self.current_call: str | None = None
        self.actions: dict[str, int] = {}

    def attach(self, run: Run) -> None:
        self.session_id = run.session.id
        self.session_recorder = run.recorder

    async def thinking_delta(self, text: str) -> None:
        """A reply keeps what it says; the conversation's history has no place for thinking."""

    async def block_done(self, kind: BlockKind, text: str) -> None:
        if kind == "text":
            await super().block_done(kind, text)

    async def tool_call(self, tool_use_id: str, name: str, tool_input: Any) -> None:
        await super().tool_call(tool_use_id, name, tool_input)
        self.current_call = tool_use_id

    def result_links(self, tool_use_id: str) -> dict[str, Any]:
        self.current_call = None
        action_id = self.actions.get(tool_use_id)
        return {} if action_id is None else {"action_id": action_id}

    async def retrying(self, message: str, delay_s: float) -> None:
        if self.session_recorder is not None:
            await self.session_recorder.retrying(message, delay_s)

    async def history_trimmed(self, note: str, tokens_before: int, tokens_after: int) -> None:
        if self.session_recorder is not None:
            await self.session_recorder.history_trimmed(note, tokens_before, tokens_after)

    async def usage(self, total: CallUsage) -> None:
        self.usage_total = total
        if self.session_recorder is not None:
            await self.session_recorder.usage(total)

    # --- proposals ------------------------------------------------------------------------------

    def proposal_tools(self) -> tuple[Tool, ...]:
        return tuple(
            ProposalTool(
                name,
                spec.description,
                _AnyInput,
                self._proposer(name),
                schema=input_schema(spec.schema),
            )
            for name, spec in PROPOSAL_TOOLS.items()
        )

    def _proposer(self, name: str) -> Any:
        async def propose(_: ToolContext, args: _AnyInput) -> str:
            action = await self.store_service.propose(
                self.project, self.conversation_id, self.message_id, name, args.model_extra or {}
            )
            if self.current_call is not None:
                self.actions[self.current_call] = action.id
            return (
                f"Stored as proposal {action.id}, pending: the user will confirm, edit or reject"
                " it. Do not propose it again."
            )

        return propose


@dataclass
class ReplyJob:
    """One reply: the loop over the conversation so far, reported to a ``ReplyListener``."""

    agent: DiscoverAgent
    listener: ReplyListener
    client: ModelClient
    request: ModelRequest
    messages: list[Message]
    toolbox: Toolbox
    first_message: str | None = None

    async def started(self, run: Run) -> None:
        self.agent.live[self.listener.conversation_id] = self.listener
        self.listener.attach(run)
        await self.agent.services.discover.link_session(self.listener.message_id, run.session.id)

    async def run(self, run: Run) -> str:
        async with self.client:
            loop = AgentLoop(
                self.client, self.request, self.toolbox, self.listener, run.inbox, run.budget
            )
            result = await loop.run(self.messages)
        return result.summary

    async def ended(self, run: Run, session: AgentSession) -> None:
        self.agent.live.pop(self.listener.conversation_id, None)
        await self.listener.flush()
        status = ENDINGS.get(session.status, ReplyStatus.FAILED)
        error = session.error if status is not ReplyStatus.COMPLETE else None
        if status is ReplyStatus.CANCELLED and error == USER_STOPPED:
            error = "cancelled by a user"  # a budget that ran out keeps its own reason
        usage = self.listener.usage_total
        discover = self.agent.services.discover
        await discover.finish_reply(
            self.listener.message_id,
            status,
            error,
            (usage.tokens_in, usage.tokens_out, usage.cost_usd),
        )
        message = await discover.message(self.listener.conversation_id, self.listener.message_id)
        discover.publish_message(self.listener.project, self.listener.conversation_id, message)
        if self.first_message is not None:
            self.agent.name_later(self.listener.conversation_id, self.first_message)


class DiscoverAgent(Service):
    """Send a message, run the reply, cancel it, name the conversation."""

    context_budget_chars = 400_000

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._naming: set[asyncio.Task[None]] = set()
        self._closing = False
        self.live: dict[int, ReplyListener] = {}  # conversation id → the reply being written

    async def send(
        self, slug: str, conversation_id: int, user: User | None, content: str
    ) -> dict[str, Any]:
        """Store the user's message and start the reply; answers the ids (202)."""
        content = clean_message(content)
        project, conversation = await self.services.discover.get(slug, conversation_id)
        supervisor = self.services.supervisor
        last_event_id = self.bus.last_id  # the reply's events all come after this one
        async with supervisor.claim(owner(conversation.id), busy=BUSY) as claim:
            client = await self.services.models.client()  # 400 without a key: nothing stored
            settings = await self.services.settings.current()
            checkout = await asyncio.to_thread(
                branch_checkout,
                Path(project.path),
                project.default_branch,
                self.config.data_dir / "discover" / str(project.id),
            )
            message_id = await self.services.discover.add_user_message(
                conversation.id, user, content
            )
            reply_id = await self.services.discover.start_reply(conversation.id, settings.model)
            try:
                listener = ReplyListener(self, project, conversation.id, reply_id)
                kind = AgentKind("discovery", (*READ_ONLY_TOOLS, *listener.proposal_tools()))
                context = ToolContext(checkout, knowledge=ServiceKnowledge(self.services, project))
                toolbox = kind.toolbox(context)
                stored = await self.services.discover.messages(conversation.id)
                turns, _ = history(stored, self.context_budget_chars)
                system = tool_section(
                    SYSTEM.format(project=project.name, branch=project.default_branch), toolbox
                )
                request = ModelRequest(
                    model=settings.model,
                    max_tokens=settings.max_tokens,
                    system=system,
                    temperature=settings.temperature,
                )
                untitled = not conversation.title and conversation.message_count == 0
                job = ReplyJob(
                    self, listener, client, request, turns, toolbox, content if untitled else None
                )
                spec = SessionSpec(
                    owner(conversation.id),
                    kind,
                    channels=channels(project.id, conversation.id),
                    model=settings.model,
                    events=DiscoverEvents(conversation.id, reply_id),
                    started_by=user.id if user else None,
                )
                session = await claim.launch(spec, job)
            except BaseException as exc:  # the reply never started: say so on it
                reason = f"the reply could not start: {type(exc).__name__}: {exc}"
                await asyncio.shield(
                    self.services.discover.finish_reply(reply_id, ReplyStatus.FAILED, reason)
                )
                raise
        return {
            "id": message_id,
            "conversation_id": conversation.id,
            "reply_id": reply_id,
            "session_id": session.id,
            "last_event_id": last_event_id,
        }

    async def wait(self, conversation_id: int, session_id: int, reply_id: int) -> DiscoverMessage:
        """The reply once its session has ended (its final status, usage and blocks)."""
        await self.services.supervisor.wait(session_id)
        return await self.services.discover.message(conversation_id, reply_id)

    async def cancel(self, slug: str, conversation_id: int) -> dict[str, Any]:
        _, conversation = await self.services.discover.get(slug, conversation_id)
        if self.services.supervisor.running(owner(conversation.id)) is None:
            raise Conflict(f"no reply is being written in conversation {conversation_id}")
        session = await self.services.supervisor.stop(owner(conversation.id))
        return {"cancelled": True, "session_id": session.id}

    async def cancel_quietly(self, conversation_id: int) -> None:
        if self.services.supervisor.running(owner(conversation_id)) is not None:
            with contextlib.suppress(Conflict):
                await self.services.supervisor.stop(owner(conversation_id))

    def streaming(self, conversation_id: int) -> bool:
        return self.services.supervisor.is_busy(owner(conversation_id))

    # --- naming ---------------------------------------------------------------------------------

    def name_later(self, conversation_id: int, first_message: str) -> None:
        if self._closing:
            return
        task = asyncio.create_task(self._name(conversation_id, first_message))
        self._naming.add(task)
        task.add_done_callback(self._naming.discard)

    async def _name(self, conversation_id: int, first_message: str) -> None:
        """A title from ``fast_model`` for a conversation still without one."""
        try:
            reply = await self.services.models.complete(
                TITLE_PROMPT.format(message=first_message[:4000]), max_tokens=60, answer=TITLE_TOOL
            )
            title = read_title(answer_input(reply, TITLE_TOOL), reply.text)
            conversation = await self.services.discover.conversation(conversation_id)
            if title and conversation is not None and not conversation.title:
                await self.services.discover.set_title(conversation_id, title)
        except Exception as exc:  # naming is a nicety; the conversation works without it
            log.warning("naming conversation %d failed: %s", conversation_id, exc)

    async def stop(self) -> None:
        """Server shutdown: no more naming; the replies themselves end with the supervisor."""
        self._closing = True
        for task in list(self._naming):
            task.cancel()
