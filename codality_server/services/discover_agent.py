"""The discovery agent: a conversation's replies, run as sessions on the platform's supervisor.

A reply is one agent session owned by the conversation (so one reply at a time: a second message
while one streams is a 409), of the ``discovery`` kind: the read-only tools on a checkout of the
default branch plus the proposal tools. The platform's loop, model client and recorder do the
work, as for every session kind: the reply's blocks are its session's transcript, and its events
are ``discover:*`` (``DiscoverEvents``):

- a text delta is stored (at most every ``Recorder.FLUSH_S``) and published as
  ``discover:delta`` (``block``, ``at``, ``kind``); thinking is kept in the transcript only;
- a tool call is stored and published as ``discover:tool_call`` before it runs; its result is
  stored after;
- a proposal tool checks and stores a pending action (``DiscoverService.propose``) with an
  ``action`` block, and links the tool's result to it; a malformed proposal comes back to the
  model as a tool error and nothing is stored;
- when the session ends, the message gets its final status (cancelled, interrupted, failed with
  the reason), the session's usage and cost, and ``discover:message`` carries it.
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
from codality_server.agent.model import ModelRequest
from codality_server.agent.prompts import tool_section
from codality_server.agent.tools import READ_ONLY_TOOLS, Tool, ToolContext
from codality_server.agent.tools.base import ToolInput
from codality_server.domain.discover import (
    PROPOSAL_TOOLS,
    MessageSent,
    ReplyCancelled,
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

from .base import Core, Service
from .knowledge import ServiceKnowledge
from .models import answer_input
from .recorder import SessionEvents
from .supervisor import USER_STOPPED, LoopJob, Run, SessionSpec

if TYPE_CHECKING:
    from .comments import CommentService
    from .discover import DiscoverService
    from .models import ModelService
    from .settings import SettingsService
    from .supervisor import Supervisor
    from .tickets import TicketService

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
    failures and retries as ``discover:error``. Thinking is not published: a reply shows what
    it says (the session's transcript keeps the thinking)."""

    shows_thinking = False

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


class _AnyInput(ToolInput):
    """A proposal's raw input: checked by the proposal's own schema, in the domain."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class ProposalTool(Tool):
    """A proposal tool: the model sees its domain schema; its input is checked when it runs."""

    schema: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.schema}


@dataclass
class Proposals:
    """A reply's proposal tools. They store on its message and in its session's transcript, so
    they run once the session has started (``run``; the model only calls tools after that)."""

    discover: DiscoverService
    project: Project
    conversation_id: int
    message_id: int
    run: Run | None = None

    def tools(self) -> tuple[Tool, ...]:
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
            run = self.run
            assert run is not None, "a proposal tool ran before its session started"
            action = await self.discover.propose(
                self.project,
                self.conversation_id,
                self.message_id,
                run.session.id,
                name,
                args.model_extra or {},
            )
            run.recorder.link_result(action_id=action.id)
            return (
                f"Stored as proposal {action.id}, pending: the user will confirm, edit or reject"
                " it. Do not propose it again."
            )

        return propose


@dataclass(kw_only=True)
class ReplyJob(LoopJob):
    """One reply: the loop over the conversation so far; at its end, the message's status."""

    agent: DiscoverAgent
    proposals: Proposals
    first_message: str | None = None

    async def started(self, run: Run) -> None:
        self.proposals.run = run
        await self.agent.discover.link_session(self.proposals.message_id, run.session.id)

    async def ended(self, run: Run, session: AgentSession) -> None:
        status = ENDINGS.get(session.status, ReplyStatus.FAILED)
        error = session.error if status is not ReplyStatus.COMPLETE else None
        if status is ReplyStatus.CANCELLED and error == USER_STOPPED:
            error = "cancelled by a user"  # a budget that ran out keeps its own reason
        proposals = self.proposals
        discover = self.agent.discover
        await discover.finish_reply(
            proposals.message_id,
            status,
            error,
            (session.tokens_in, session.tokens_out, session.cost_usd),
        )
        message = await discover.message(proposals.conversation_id, proposals.message_id)
        discover.publish_message(proposals.project, proposals.conversation_id, message)
        if self.first_message is not None:
            self.agent.name_later(proposals.conversation_id, self.first_message)


class DiscoverAgent(Service):
    """Send a message, run the reply, cancel it, name the conversation."""

    context_budget_chars = 400_000

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        tickets: TicketService,
        comments: CommentService,
        models: ModelService,
        supervisor: Supervisor,
        discover: DiscoverService,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.tickets = tickets
        self.comments = comments
        self.models = models
        self.supervisor = supervisor
        self.discover = discover
        self._naming: set[asyncio.Task[None]] = set()
        self._closing = False

    async def send(
        self, slug: str, conversation_id: int, user: User | None, content: str
    ) -> MessageSent:
        """Store the user's message and start the reply; answers the ids (202)."""
        content = clean_message(content)
        project, conversation = await self.discover.get(slug, conversation_id)
        supervisor = self.supervisor
        last_event_id = self.bus.last_id  # the reply's events all come after this one
        async with supervisor.claim(owner(conversation.id), busy=BUSY) as claim:
            client = await self.models.client()  # 400 without a key: nothing stored
            settings = await self.settings.current()
            checkout = await asyncio.to_thread(
                branch_checkout,
                Path(project.path),
                project.default_branch,
                self.config.data_dir / "discover" / str(project.id),
            )
            message_id = await self.discover.add_user_message(conversation.id, user, content)
            reply_id = await self.discover.start_reply(conversation.id, settings.model)
            try:
                proposals = Proposals(self.discover, project, conversation.id, reply_id)
                kind = AgentKind("discovery", (*READ_ONLY_TOOLS, *proposals.tools()))
                context = ToolContext(
                    checkout,
                    knowledge=ServiceKnowledge(self.tickets, self.comments, self.db, project),
                )
                toolbox = kind.toolbox(context)
                stored = await self.discover.messages(conversation.id)
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
                    client,
                    request,
                    turns,
                    toolbox,
                    agent=self,
                    proposals=proposals,
                    first_message=content if untitled else None,
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
                    self.discover.finish_reply(reply_id, ReplyStatus.FAILED, reason)
                )
                raise
        return MessageSent(
            id=message_id,
            conversation_id=conversation.id,
            reply_id=reply_id,
            session_id=session.id,
            last_event_id=last_event_id,
        )

    async def wait(self, conversation_id: int, session_id: int, reply_id: int) -> DiscoverMessage:
        """The reply once its session has ended (its final status, usage and blocks)."""
        await self.supervisor.wait(session_id)
        return await self.discover.message(conversation_id, reply_id)

    async def cancel(self, slug: str, conversation_id: int) -> ReplyCancelled:
        _, conversation = await self.discover.get(slug, conversation_id)
        if self.supervisor.running(owner(conversation.id)) is None:
            raise Conflict(f"no reply is being written in conversation {conversation_id}")
        session = await self.supervisor.stop(owner(conversation.id))
        return ReplyCancelled(cancelled=True, session_id=session.id)

    async def cancel_quietly(self, conversation_id: int) -> None:
        if self.supervisor.running(owner(conversation_id)) is not None:
            with contextlib.suppress(Conflict):
                await self.supervisor.stop(owner(conversation_id))

    async def store_open_block(self, conversation_id: int) -> None:
        """Store the text block of the reply being written as it stands, so a conversation read
        next holds every delta published so far (``Recorder.store_open_block``)."""
        run = self.supervisor.running(owner(conversation_id))
        if run is not None:
            await run.recorder.store_open_block()

    def streaming(self, conversation_id: int) -> bool:
        return self.supervisor.is_busy(owner(conversation_id))

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
            reply = await self.models.complete(
                TITLE_PROMPT.format(message=first_message[:4000]), max_tokens=60, answer=TITLE_TOOL
            )
            title = read_title(answer_input(reply, TITLE_TOOL), reply.text)
            conversation = await self.discover.conversation(conversation_id)
            if title and conversation is not None and not conversation.title:
                await self.discover.set_title(conversation_id, title)
        except Exception as exc:  # naming is a nicety; the conversation works without it
            log.warning("naming conversation %d failed: %s", conversation_id, exc)

    async def stop(self) -> None:
        """Server shutdown: no more naming; the replies themselves end with the supervisor."""
        self._closing = True
        for task in list(self._naming):
            task.cancel()
