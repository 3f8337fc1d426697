"""Events: what happened, on which channels, with what payload.

Channels are ``ticket:{id}`` and ``project:{id}`` with the numeric ids the API returns. One event
may be visible on several channels (an agent delta belongs to its ticket and its project) yet has a
single id, so a subscriber to everything receives it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def ticket_channel(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def project_channel(project_id: int) -> str:
    return f"project:{project_id}"


@dataclass(frozen=True, eq=False)
class Event:
    """One published event; ``id`` and ``ts`` are assigned by the bus.

    Compared and hashed by identity, so an encoded frame can be cached per event.
    """

    type: str
    channels: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    ts: str = ""

    def channel_for(self, wanted: frozenset[str] | None) -> str | None:
        """The channel under which a subscriber with ``wanted`` sees this event, or None."""
        if not wanted:
            return self.channels[0] if self.channels else "*"
        for channel in self.channels:
            if channel in wanted:
                return channel
        return None
