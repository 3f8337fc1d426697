"""What every service shares: the database, the bus and the settings; and what belongs to no one
service (the repositories' locks, the restart switch). A service's collaborators are its
constructor's parameters, wired by the composition root (``Services``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from codality_server.db.database import Database
from codality_server.events.bus import EventBus
from codality_server.settings import ServerSettings


@dataclass(frozen=True)
class Core:
    """Long-lived resources, opened and closed by the application's lifecycle."""

    db: Database
    bus: EventBus
    config: ServerSettings


def now_iso() -> str:
    """UTC timestamps as ISO-8601 with milliseconds and a ``Z``; they sort as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Service:
    """Base of every use-case class: the shared resources; collaborators come as parameters."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def db(self) -> Database:
        return self.core.db

    @property
    def bus(self) -> EventBus:
        return self.core.bus

    @property
    def config(self) -> ServerSettings:
        return self.core.config


class RepoLocks:
    """The one lock per repository for git work that moves its worktrees or branches.

    Starting an agent (worktree creation), its final commit, merge and discard all take it,
    so a merge can never interleave with an agent setting up on the same repository.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def __call__(self, repo_path: str) -> asyncio.Lock:
        return self._locks.setdefault(repo_path, asyncio.Lock())


class Restarter:
    """The way to ask the process runner (``__main__``) for a restart."""

    def __init__(self) -> None:
        # Set by the process runner; an app embedded in another program (tests) has none.
        self.requested: asyncio.Event | None = None
        self.pending = False

    def request(self) -> bool:
        """Restart shortly (after the answer is sent); False with no process runner to ask."""
        if self.requested is None:
            return False
        self.pending = True
        asyncio.get_running_loop().call_later(0.2, self.requested.set)
        return True
