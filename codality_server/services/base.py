"""What every service shares: the database, the bus, the settings and its sibling services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from codality_server.db.database import Database
from codality_server.events.bus import EventBus
from codality_server.settings import ServerSettings

if TYPE_CHECKING:
    from . import Services


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
    """Base of every use-case class; siblings are reached through ``self.services``."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def db(self) -> Database:
        return self.services.core.db

    @property
    def bus(self) -> EventBus:
        return self.services.core.bus

    @property
    def config(self) -> ServerSettings:
        return self.services.core.config
