"""``ApiClient``: the one async client of the Codality API, shared by the CLI and the TUI.

One sub-client per resource (``client.projects.list()``, ``client.tickets.get(slug, n)`` …), all
over one ``Transport``. Use it as an async context manager so the connection pool is closed.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from .agent import AgentApi
from .auth import AuthApi
from .comments import CommentsApi
from .discover import DiscoverApi
from .errors import ApiError, AuthRequired, ServerUnavailable
from .events import EventsApi, ServerEvent
from .github import GitHubApi
from .me import MeApi
from .plans import PlansApi
from .projects import ProjectsApi
from .pull_requests import PullRequestsApi
from .queues import QueuesApi
from .reviews import ReviewsApi
from .settings import SettingsApi
from .tickets import TicketsApi
from .transport import BlockingTransport, Locate, Transport
from .users import UsersApi
from .worktrees import WorktreesApi

__all__ = ["ApiClient", "ApiError", "AuthRequired", "ServerEvent", "ServerUnavailable"]


class ApiClient:
    """The facade: ``base_url`` plus an optional session token, one attribute per resource."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        ca_cert: Path | None = None,
        blocking: bool = False,
        locate: Locate | None = None,
    ) -> None:
        """``blocking``: one-shot commands, driven by ``run_blocking`` without an event loop.
        ``locate``: where the (local) server listens now, asked after a lost connection; only
        for the async transport, whose streams and screens outlive a server restart."""
        if blocking:
            self.transport: Transport = BlockingTransport(base_url, token, ca_cert)
        else:
            self.transport = Transport(base_url, token, ca_cert, locate)
        self.auth = AuthApi(self.transport)
        self.projects = ProjectsApi(self.transport)
        self.tickets = TicketsApi(self.transport)
        self.comments = CommentsApi(self.transport)
        self.users = UsersApi(self.transport)
        self.me = MeApi(self.transport)
        self.settings = SettingsApi(self.transport)
        self.events = EventsApi(self.transport)
        self.agent = AgentApi(self.transport)
        self.reviews = ReviewsApi(self.transport)
        self.worktrees = WorktreesApi(self.transport)
        self.github = GitHubApi(self.transport)
        self.pull_requests = PullRequestsApi(self.transport)
        self.queues = QueuesApi(self.transport)
        self.plans = PlansApi(self.transport)
        self.discover = DiscoverApi(self.transport)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def token(self) -> str | None:
        return self.transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self.transport.token = value

    async def aclose(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
