"""The events bus.

It publishes payload models from the catalogue (``domain/events.py``) on channels the catalogue
allows for their type. ``publish`` never blocks and never awaits: it stamps the event, keeps it
in a replay ring and puts it on every matching subscriber's bounded queue. A subscriber whose
queue is full is marked overflowed and disconnected by its reader (it can resume with
``Last-Event-ID``), so a slow terminal never slows an agent.

Event ids are integers that keep growing across restarts: a bus numbers its events on from the
time it was created, in microseconds since the Unix epoch. A client that resumes with the
previous server's ``Last-Event-ID`` therefore gets every event of the new server from its ring,
never a stretch of it. That holds while a server publishes on average fewer than a million
events a second over its life (and the clock does not step back across a restart).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

from codality_server.domain.events import Event, Payload, check_channels


class Subscription:
    """One subscriber: its channel filter and a bounded list of events not yet taken.

    Cheaper than an ``asyncio.Queue`` read with ``wait_for`` (a task and a timer per event): the
    reader sleeps on one future that the first event since its last ``drain`` wakes, so a burst
    costs one wake-up and is written as one batch.
    """

    def __init__(self, bus: EventBus, channels: frozenset[str] | None, size: int) -> None:
        self._bus = bus
        self.channels = channels
        self._size = size
        self._pending: list[Event] = []
        self._waiter: asyncio.Future[None] | None = None
        self.overflowed = False
        # Replayed events are kept apart from the bounded live list: a reconnect may replay the
        # whole ring, which must not count as falling behind.
        self.backlog: list[Event] = []

    def offer(self, event: Event) -> None:
        if self.overflowed:
            return
        if len(self._pending) >= self._size:
            self.overflowed = True
            self._bus.unsubscribe(self)
        else:
            self._pending.append(event)
        self.wake()

    def wake(self) -> None:
        """End the reader's ``wait`` (an event came, or it has something else to do)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def ready(self) -> bool:
        """Whether ``drain`` has something, or the subscriber overflowed."""
        return bool(self._pending or self.backlog) or self.overflowed

    def drain(self) -> list[Event]:
        """Every event waiting right now (replayed ones first), without waiting."""
        events, self.backlog = self.backlog, []
        if self._pending:
            events += self._pending
            self._pending = []
        return events

    async def wait(self) -> None:
        """Sleep until ``ready`` or ``wake``; no timer per call (a reader that wants one, for a
        heartbeat say, keeps its own and calls ``wake``)."""
        if self.ready:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of events to subscribers by channel, with a replay ring for reconnects."""

    def __init__(
        self, ring_size: int = 10_000, queue_size: int = 5_000, first_id: int | None = None
    ) -> None:
        start = time.time_ns() // 1_000 if first_id is None else first_id
        self._before_first = start - 1
        self._ids = itertools.count(start)
        self._ring: deque[Event] = deque(maxlen=ring_size)
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    @property
    def last_id(self) -> int:
        """The newest event's id; before any event, one less than the first id to come."""
        return self._ring[-1].id if self._ring else self._before_first

    def publish(self, payload: Payload, channels: Iterable[str]) -> Event:
        """Stamp and deliver one event; returns it with its id."""
        names = tuple(channels)
        check_channels(payload, names)
        event = Event(
            payload=payload,
            channels=names,
            id=next(self._ids),
            ts=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        self._ring.append(event)
        for sub in list(self._subscribers):
            if event.channel_for(sub.channels) is not None:
                sub.offer(event)
        return event

    def subscribe(
        self, channels: Iterable[str] | None = None, last_event_id: int | None = None
    ) -> Subscription:
        """Register a subscriber; events after ``last_event_id`` still in the ring come first."""
        wanted = frozenset(channels) if channels else None
        sub = Subscription(self, wanted, self._queue_size)
        if last_event_id is not None:
            sub.backlog = [
                event
                for event in self._ring
                if event.id > last_event_id and event.channel_for(wanted) is not None
            ]
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
