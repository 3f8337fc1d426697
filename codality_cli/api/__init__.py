"""``ApiClient``: the one async client of the Codality API, shared by the CLI and the TUI.

One sub-client per resource (``client.projects.list()``, ``client.tickets.get(slug, n)`` …), all
over one ``Transport``. Use it as an async context manager so the connection pool is closed.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import ApiError, AuthRequired, ServerUnavailable
from .transport import BlockingTransport, Locate, Transport

if TYPE_CHECKING:
    from .agent import AgentApi
    from .auth import AuthApi
    from .comments import CommentsApi
    from .discover import DiscoverApi
    from .events import EventsApi
    from .github import GitHubApi
    from .me import MeApi
    from .plans import PlansApi
    from .projects import ProjectsApi
    from .pull_requests import PullRequestsApi
    from .queues import QueuesApi
    from .reviews import ReviewsApi
    from .settings import SettingsApi
    from .tickets import TicketsApi
    from .users import UsersApi
    from .worktrees import WorktreesApi

__all__ = ["ApiClient", "ApiError", "AuthRequired", "ServerUnavailable"]


class ApiClient:
    """The facade: ``base_url`` plus an optional session token, one attribute per resource.

    Each resource's module is imported the first time it is used: a one-shot command needs one
    or two of the sixteen, and importing them all costs ~6 ms of its start.
    """

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

    @cached_property
    def auth(self) -> AuthApi:
        from .auth import AuthApi

        return AuthApi(self.transport)

    @cached_property
    def projects(self) -> ProjectsApi:
        from .projects import ProjectsApi

        return ProjectsApi(self.transport)

    @cached_property
    def tickets(self) -> TicketsApi:
        from .tickets import TicketsApi

        return TicketsApi(self.transport)

    @cached_property
    def comments(self) -> CommentsApi:
        from .comments import CommentsApi

        return CommentsApi(self.transport)

    @cached_property
    def users(self) -> UsersApi:
        from .users import UsersApi

        return UsersApi(self.transport)

    @cached_property
    def me(self) -> MeApi:
        from .me import MeApi

        return MeApi(self.transport)

    @cached_property
    def settings(self) -> SettingsApi:
        from .settings import SettingsApi

        return SettingsApi(self.transport)

    @cached_property
    def events(self) -> EventsApi:
        from .events import EventsApi

        return EventsApi(self.transport)

    @cached_property
    def agent(self) -> AgentApi:
        from .agent import AgentApi

        return AgentApi(self.transport)

    @cached_property
    def reviews(self) -> ReviewsApi:
        from .reviews import ReviewsApi

        return ReviewsApi(self.transport)

    @cached_property
    def worktrees(self) -> WorktreesApi:
        from .worktrees import WorktreesApi

        return WorktreesApi(self.transport)

    @cached_property
    def github(self) -> GitHubApi:
        from .github import GitHubApi

        return GitHubApi(self.transport)

    @cached_property
    def pull_requests(self) -> PullRequestsApi:
        from .pull_requests import PullRequestsApi

        return PullRequestsApi(self.transport)

    @cached_property
    def queues(self) -> QueuesApi:
        from .queues import QueuesApi

        return QueuesApi(self.transport)

    @cached_property
    def plans(self) -> PlansApi:
        from .plans import PlansApi

        return PlansApi(self.transport)

    @cached_property
    def discover(self) -> DiscoverApi:
        from .discover import DiscoverApi

        return DiscoverApi(self.transport)

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
