"""Use cases. They orchestrate the database, git, the agent and the bus; no aiohttp here."""

from __future__ import annotations

import asyncio

from .base import Core


class Services:
    """The registry of services; built once per application."""

    def __init__(self, core: Core) -> None:
        from codality_server.agent.egress import EgressProxy

        from .agent_sessions import AgentSessionService
        from .auth import AuthService
        from .comments import CommentService
        from .discover import DiscoverService
        from .discover_agent import DiscoverAgent
        from .feedback import FeedbackService
        from .github import GitHubService
        from .models import ModelService
        from .plan_agent import PlanAgent
        from .plans import PlanService
        from .profile import ProfileService
        from .projects import ProjectService
        from .pull_requests import PullRequestService
        from .queue_runner import QueueRunner
        from .queues import QueueService
        from .reviews import ReviewService
        from .settings import SettingsService
        from .stacks import StackService
        from .supervisor import Supervisor
        from .ticket_agent import TicketAgentService
        from .tickets import TicketService
        from .users import UserService
        from .webhooks import WebhookService
        from .worktrees import WorktreeService

        self.core = core
        self.settings = SettingsService(self)
        self.auth = AuthService(self)
        self.projects = ProjectService(self)
        self.users = UserService(self)
        self.profile = ProfileService(self)
        self.tickets = TicketService(self)
        self.comments = CommentService(self)
        self.plans = PlanService(self)
        self.plan_agent = PlanAgent(self)
        self.models = ModelService(self)
        self.agent_sessions = AgentSessionService(self)
        self.supervisor = Supervisor(self)
        self.agent = TicketAgentService(self)
        self.stacks = StackService(self)
        self.reviews = ReviewService(self)
        self.worktrees = WorktreeService(self)
        self.queues = QueueService(self)
        self.queue_runner = QueueRunner(self)
        self.discover = DiscoverService(self)
        self.discover_agent = DiscoverAgent(self)
        self.github = GitHubService(self)
        self.pull_requests = PullRequestService(self)
        self.webhooks = WebhookService(self)
        self.feedback = FeedbackService(self)
        # What reacts to the end of every agent session, in this order, after the session's own
        # job has (``Job.ended``: the ticket's status move) and for sessions found interrupted at
        # start-up too: the work queue settles the item and starts the next; the ticket's pull
        # request hears how the run went (its work pushed in protected mode, ``codality/agent``).
        for reaction in (self.queue_runner.session_ended, self.feedback.session_ended):
            self.supervisor.on_end(reaction)
        # What reacts to a user's comment: the ticket's running agent is steered by it.
        self.comments.on_user_comment(self.agent.take_comment)
        # Conversations ask the discovery agent about the replies it writes.
        self.discover.replies_written_by(self.discover_agent)
        # A plan saved untitled is named by the model; one being deleted stops its round.
        self.plans.on_saved(self.plan_agent.name_later)
        self.plans.on_deleting(self.plan_agent.stop_round)
        # An edit of a running queue (new tickets, more room) starts what may run now.
        self.queues.on_running_queue_edited(self.queue_runner.kick)
        # Discarding a ticket's work closes its open pull request first.
        self.worktrees.closes_pull_requests_with(self.pull_requests.close_for_discard)
        self.egress = EgressProxy()  # sandboxed commands' way out, started on first use
        self._repo_locks: dict[str, asyncio.Lock] = {}
        # Set by the process runner (``__main__``); absent when the app is embedded in tests.
        self.restart_requested: asyncio.Event | None = None
        self.restart_pending = False

    async def start(self) -> None:
        """Work to do once the database is open (recovery, setup code)."""
        await self.auth.ensure_setup_code()
        await self.supervisor.recover()
        await self.queue_runner.recover()
        await self.discover.interrupt_streaming()
        await self.webhooks.start()

    async def stop(self) -> None:
        """Work to do before the database closes (mail being sent, webhook work, agents, the
        GitHub client)."""
        await self.auth.stop()
        await self.webhooks.stop()
        await self.discover_agent.stop()
        await self.plan_agent.stop()
        await self.supervisor.shutdown()
        await self.queue_runner.shutdown()
        await self.github.stop()
        await self.models.stop()
        await self.egress.close()

    def repo_lock(self, repo_path: str) -> asyncio.Lock:
        """The one lock for git work that moves a repository's worktrees or branches.

        Starting an agent (worktree creation), its final commit, merge and discard all take it,
        so a merge can never interleave with an agent setting up on the same repository.
        """
        return self._repo_locks.setdefault(repo_path, asyncio.Lock())

    def request_restart(self) -> bool:
        """Ask the process runner to restart shortly (after the answer is sent)."""
        if self.restart_requested is None:
            return False
        self.restart_pending = True
        asyncio.get_running_loop().call_later(0.2, self.restart_requested.set)
        return True
