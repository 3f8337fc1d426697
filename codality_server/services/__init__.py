"""Use cases. They orchestrate the database, git, the agent and the bus; no aiohttp here.

``Services`` is the composition root: it builds every service with the collaborators it uses,
lower ones first, so who-needs-whom is a graph without cycles that the constructors spell out
(``tests/test_service_graph.py`` holds it so). Where a lower service's event must set off one
above it, the higher one subscribes below, here and nowhere else.
"""

from __future__ import annotations

from .base import Core, RepoLocks, Restarter


class Services:
    """The registry the HTTP handlers reach services through; no service holds it."""

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
        self.repo_lock = RepoLocks()
        # Set by the process runner (``__main__``); an app embedded in tests has none to ask.
        self.restarter = Restarter()
        self.egress = EgressProxy()  # sandboxed commands' way out, started on first use

        # Records and settings.
        self.settings = SettingsService(core, restarter=self.restarter)
        self.auth = AuthService(core, settings=self.settings)
        self.profile = ProfileService(core)
        self.users = UserService(core, profile=self.profile)
        self.projects = ProjectService(core, settings=self.settings)
        self.tickets = TicketService(core, projects=self.projects)
        self.comments = CommentService(core, tickets=self.tickets)
        self.stacks = StackService(core, tickets=self.tickets)
        self.plans = PlanService(core, projects=self.projects, tickets=self.tickets)
        self.queues = QueueService(core, projects=self.projects)
        self.discover = DiscoverService(
            core, projects=self.projects, tickets=self.tickets, plans=self.plans, queues=self.queues
        )
        # The agent platform: the model, sessions and the supervisor that runs them.
        self.models = ModelService(core, settings=self.settings)
        self.agent_sessions = AgentSessionService(core)
        self.supervisor = Supervisor(
            core, settings=self.settings, agent_sessions=self.agent_sessions
        )
        # Model-driven features over the records.
        self.plan_agent = PlanAgent(
            core,
            settings=self.settings,
            tickets=self.tickets,
            comments=self.comments,
            plans=self.plans,
            models=self.models,
            supervisor=self.supervisor,
        )
        self.discover_agent = DiscoverAgent(
            core,
            settings=self.settings,
            tickets=self.tickets,
            comments=self.comments,
            models=self.models,
            supervisor=self.supervisor,
            discover=self.discover,
        )
        # A ticket's work: its worktree, the agent on it, merging it.
        self.worktrees = WorktreeService(
            core,
            settings=self.settings,
            tickets=self.tickets,
            comments=self.comments,
            stacks=self.stacks,
            supervisor=self.supervisor,
            repo_lock=self.repo_lock,
        )
        self.agent = TicketAgentService(
            core,
            settings=self.settings,
            tickets=self.tickets,
            comments=self.comments,
            stacks=self.stacks,
            models=self.models,
            agent_sessions=self.agent_sessions,
            supervisor=self.supervisor,
            worktrees=self.worktrees,
            repo_lock=self.repo_lock,
            egress=self.egress,
        )
        self.queue_runner = QueueRunner(
            core,
            settings=self.settings,
            projects=self.projects,
            tickets=self.tickets,
            agent_sessions=self.agent_sessions,
            supervisor=self.supervisor,
            agent=self.agent,
            worktrees=self.worktrees,
            queues=self.queues,
        )
        # GitHub: the app, pull requests, reviews, what GitHub tells us.
        self.github = GitHubService(core, settings=self.settings, projects=self.projects)
        self.pull_requests = PullRequestService(
            core,
            settings=self.settings,
            projects=self.projects,
            tickets=self.tickets,
            ticket_comments=self.comments,
            stacks=self.stacks,
            github=self.github,
            agent_sessions=self.agent_sessions,
            agent=self.agent,
            worktrees=self.worktrees,
            repo_lock=self.repo_lock,
        )
        self.reviews = ReviewService(
            core,
            settings=self.settings,
            tickets=self.tickets,
            stacks=self.stacks,
            agent=self.agent,
            pull_requests=self.pull_requests,
        )
        self.feedback = FeedbackService(
            core,
            settings=self.settings,
            projects=self.projects,
            tickets=self.tickets,
            comments=self.comments,
            github=self.github,
            agent=self.agent,
            pull_requests=self.pull_requests,
        )
        self.webhooks = WebhookService(
            core,
            settings=self.settings,
            projects=self.projects,
            tickets=self.tickets,
            agent_sessions=self.agent_sessions,
            github=self.github,
            agent=self.agent,
            pull_requests=self.pull_requests,
            feedback=self.feedback,
        )

        # Reactions: a lower service's event, the higher services that answer it, in order.
        # The end of every agent session, after the session's own job has (``Job.ended``: the
        # ticket's status move), and for sessions found interrupted at start-up too: the work
        # queue settles the item and starts the next; the ticket's pull request hears how the
        # run went (its work pushed in protected mode, ``codality/agent``).
        for reaction in (self.queue_runner.session_ended, self.feedback.session_ended):
            self.supervisor.on_end(reaction)
        # A user's comment steers the ticket's running agent.
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
