"""App-wide messages, named for what happened.

``live.py`` posts these to the app; the app forwards events to its screens, which set widget
attributes. Widgets post their own messages (``StatusColumn.TicketOpened`` …) up to their screen.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class EventReceived(Message, bubble=False):
    """One event from the server's SSE stream (``/api/events``).

    Consecutive agent text (or thinking) deltas of one session arrive joined into one message per
    frame (``live.py``): then ``data["text"]`` is their text, ``event_id`` the last one's id and
    ``first_event_id`` the first one's (the same id for any other event).

    It does not bubble: the app forwards a copy to each screen, and bubbling back up would loop.
    """

    def __init__(
        self,
        event_id: int | None,
        type_: str,
        channel: str,
        data: dict[str, Any],
        first_event_id: int | None = None,
    ):
        super().__init__()
        self.event_id = event_id
        self.type = type_
        self.channel = channel
        self.data = data
        self.first_event_id = event_id if first_event_id is None else first_event_id

    @property
    def ticket_id(self) -> int | None:
        """The ticket the event is about: its ``ticket:{id}`` channel, else ``data.ticket_id``."""
        kind, _, raw = self.channel.partition(":")
        if kind == "ticket" and raw.isdigit():
            return int(raw)
        found = self.data.get("ticket_id")
        return found if isinstance(found, int) else None

    def copy(self) -> EventReceived:
        """A fresh message for another recipient (a message is handled once)."""
        return EventReceived(self.event_id, self.type, self.channel, self.data, self.first_event_id)


class ConnectionLost(Message):
    """The event stream dropped; ``live.py`` is retrying with ``Last-Event-ID``."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ConnectionRestored(Message, bubble=False):
    """The server answers again; the app tells each screen, which reloads what it shows.

    Event ids stay unique across server restarts, so resuming with ``Last-Event-ID`` never skips
    a new server's events; but a restarted server's replay ring starts empty (and any ring is
    bounded), so what changed while the stream was down may never be replayed."""


class TicketOpenRequested(Message):
    """A screen wants a ticket opened; the app pushes the ticket screen."""

    def __init__(self, slug: str, number: int) -> None:
        super().__init__()
        self.slug = slug
        self.number = number


class ReviewRequested(Message):
    """A screen wants a ticket's diff review opened."""

    def __init__(self, slug: str, number: int) -> None:
        super().__init__()
        self.slug = slug
        self.number = number


class PlansOpenRequested(Message):
    """A screen wants the project's plans opened."""

    def __init__(self, slug: str) -> None:
        super().__init__()
        self.slug = slug


class QueuesRequested(Message):
    """A screen wants the project's work queues shown."""

    def __init__(self, slug: str, project_id: int | None) -> None:
        super().__init__()
        self.slug = slug
        self.project_id = project_id


class DiscoverOpenRequested(Message):
    """A screen wants the project's discovery chat opened."""

    def __init__(self, slug: str) -> None:
        super().__init__()
        self.slug = slug


class ProjectSwitchRequested(Message):
    """A screen wants another project's board (``p``, ``:project NAME``)."""

    def __init__(self, slug: str) -> None:
        super().__init__()
        self.slug = slug


class PromptReady(Message):
    """A prompt opened by a key (``:``, ``/``) has the focus: the keys typed after that key,
    held by the app meanwhile, can go to it now (see ``CodalityApp.hold_keys``)."""
