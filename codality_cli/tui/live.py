"""The one subscriber to ``/api/events``: every event becomes an ``EventReceived`` for the app.

When the stream breaks, the app hears ``ConnectionLost`` (its banner shows), this worker waits
for the server to answer ``/healthz`` again — asking before each try where it listens now, since
the local server may come back on another port or need starting again — says
``ConnectionRestored`` and resubscribes with ``Last-Event-ID`` so the events published meanwhile
are replayed, not lost.

A streaming agent sends thousands of text deltas a second; posting each as a message kept the
app's queue so busy that a key waited behind them (bench/tui_stream.py). ``DeltaBatcher`` joins
the deltas that arrive within one frame into a single message, for every session kind: they all
stream the one delta protocol (``block``, ``at``, ``kind``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from textual.message import Message

from codality_cli.api import ApiError, ServerUnavailable
from codality_cli.tui.messages import ConnectionLost, ConnectionRestored, EventReceived

if TYPE_CHECKING:
    from codality_cli.api import ApiClient

Post = Callable[[Message], object]

# The events of every session kind that carry a piece of a transcript block's text.
DELTA_TYPES = frozenset(
    {"agent:text_delta", "agent:thinking_delta", "discover:delta", "plan:delta"}
)
FRAME_S = 1 / 30
HEALTH_TIMEOUT_S = 5.0


def is_text_delta(type_: str, data: Mapping[str, Any]) -> bool:
    """A piece of a text or thinking block, of any session kind (a plan's ``tool_call`` delta is
    not one): joined per frame here, and sent only to the screens that show a stream."""
    return type_ in DELTA_TYPES and data.get("kind", "text") in ("text", "thinking")


def _one_stream(first: EventReceived, then: EventReceived) -> bool:
    """Whether two text deltas grow one transcript block (same event, channel and session)."""
    keys = ("kind", "session_id", "block")
    return (first.type, first.channel) == (then.type, then.channel) and all(
        first.data.get(key) == then.data.get(key) for key in keys
    )


class DeltaBatcher:
    """Posts events in order, joining consecutive text deltas of one type, kind, channel,
    session and transcript block (the joined event keeps the first delta's ``block`` and
    ``at``).

    A joined run is posted when another event comes, when ``flush`` is called, or a frame after
    its first delta, so text shows within a frame and no event overtakes another.
    """

    def __init__(self, post: Post, frame_s: float = FRAME_S) -> None:
        self._post = post
        self._frame_s = frame_s
        self._run: EventReceived | None = None
        self._texts: list[str] = []
        self._last_id: int | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, message: EventReceived) -> None:
        run = self._run
        if not is_text_delta(message.type, message.data):
            self.flush()
            self._post(message)
        elif run is not None and _one_stream(run, message):
            self._texts.append(str(message.data.get("text") or ""))
            self._last_id = message.event_id if message.event_id is not None else self._last_id
        else:
            self.flush()
            self._run = message
            self._texts = [str(message.data.get("text") or "")]
            self._last_id = message.event_id
            self._timer = asyncio.get_running_loop().call_later(self._frame_s, self.flush)

    def flush(self) -> None:
        """Post the run being joined, if any."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        run, self._run = self._run, None
        if run is None:
            return
        data = {**run.data, "text": "".join(self._texts)}
        self._texts = []
        self._post(EventReceived(self._last_id, run.type, run.channel, data, run.event_id))


async def wait_for_server(api: ApiClient, delay_s: float) -> None:
    """Return once the server, wherever it listens now, answers its health check."""
    while True:
        await api.transport.relocate()
        try:
            # Briefly: whatever took the old address may accept and never answer.
            await api.auth.health(timeout=HEALTH_TIMEOUT_S)
            return
        except (ServerUnavailable, ApiError):
            await asyncio.sleep(delay_s)


async def follow_events(api: ApiClient, post: Post, retry_delay_s: float = 0.5) -> None:
    """Forward events forever (until the worker is cancelled), resuming from the last id."""
    last_id: int | None = None
    batcher = DeltaBatcher(post)
    while True:
        try:
            async for event in api.events.subscribe(last_event_id=last_id, retries=0):
                if event.id is not None:
                    last_id = event.id
                data = event.data if isinstance(event.data, dict) else {"value": event.data}
                batcher.add(EventReceived(event.id, event.type, event.channel, data))
        except (ServerUnavailable, ApiError) as exc:
            batcher.flush()
            post(ConnectionLost(str(exc)))
            await asyncio.sleep(retry_delay_s)
            await wait_for_server(api, retry_delay_s)
            post(ConnectionRestored())
