"""The one subscriber to ``/api/events``: every event becomes an ``EventReceived`` for the app.

When the stream breaks, the app hears ``ConnectionLost`` (its banner shows), this worker waits
for the server to answer ``/healthz`` again, says ``ConnectionRestored`` and resubscribes with
``Last-Event-ID`` so the events published meanwhile are replayed, not lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

from codality_cli.api import ApiError, ServerUnavailable
from codality_cli.tui.messages import ConnectionLost, ConnectionRestored, EventReceived

if TYPE_CHECKING:
    from codality_cli.api import ApiClient

Post = Callable[[Message], object]


async def wait_for_server(api: ApiClient, delay_s: float) -> None:
    """Return once the server answers its health check."""
    while True:
        try:
            await api.auth.health()
            return
        except (ServerUnavailable, ApiError):
            await asyncio.sleep(delay_s)


async def follow_events(api: ApiClient, post: Post, retry_delay_s: float = 0.5) -> None:
    """Forward events forever (until the worker is cancelled), resuming from the last id."""
    last_id: int | None = None
    while True:
        try:
            async for event in api.events.subscribe(last_event_id=last_id, retries=0):
                if event.id is not None:
                    last_id = event.id
                data = event.data if isinstance(event.data, dict) else {"value": event.data}
                post(EventReceived(event.id, event.type, event.channel, data))
        except (ServerUnavailable, ApiError) as exc:
            post(ConnectionLost(str(exc)))
            await asyncio.sleep(retry_delay_s)
            await wait_for_server(api, retry_delay_s)
            post(ConnectionRestored())
