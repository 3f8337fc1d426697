"""Server-Sent Events over the bus: replay after ``Last-Event-ID``, heartbeats, coalesced writes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import weakref

from aiohttp import web

from codality_server.domain.events import Event
from codality_server.events.bus import EventBus


def encode(event: Event, channels: frozenset[str] | None) -> bytes:
    return _frame(event, event.channel_for(channels) or "*")


@functools.lru_cache(maxsize=4096)
def _frame(event: Event, channel: str) -> bytes:
    """One event's frame, encoded once however many subscribers receive it."""
    # The payload's JSON is made once per event (``Event.data_json``) and spliced in.
    head = json.dumps(
        {"type": event.type, "channel": channel, "ts": event.ts}, separators=(",", ":")
    )
    data = f'{head[:-1]},"data":{event.data_json}}}'
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()


class StreamRegistry:
    """Open SSE responses, so shutdown can end them instead of waiting on them."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()

    def add(self, task: asyncio.Task[object]) -> None:
        self._open.add(task)

    def discard(self, task: asyncio.Task[object]) -> None:
        self._open.discard(task)

    def cancel_all(self) -> None:
        for task in list(self._open):
            task.cancel()


async def stream_events(
    request: web.Request,
    bus: EventBus,
    channels: list[str],
    last_event_id: int | None,
    heartbeat_s: float,
    registry: StreamRegistry,
) -> web.StreamResponse:
    """Write events until the client goes away, the server stops, or the subscriber overflows."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    sub = bus.subscribe(channels or None, last_event_id)
    task = asyncio.current_task()
    if task is not None:
        registry.add(task)
    loop = asyncio.get_running_loop()
    last_write = loop.time()
    beat: asyncio.TimerHandle

    def heartbeat() -> None:
        # One timer per heartbeat period, not one per event: wake the writer once the stream
        # has been quiet for ``heartbeat_s``.
        nonlocal beat
        quiet = loop.time() - last_write
        if quiet >= heartbeat_s * 0.99:
            sub.wake()
            quiet = 0.0
        beat = loop.call_later(heartbeat_s - quiet, heartbeat)

    beat = loop.call_later(heartbeat_s, heartbeat)
    try:
        await response.write(b": connected\n\n")
        replayed = sub.drain()
        if replayed:
            await response.write(b"".join(encode(event, sub.channels) for event in replayed))
        while True:
            await sub.wait()
            batch = sub.drain()
            if batch:
                await response.write(b"".join(encode(event, sub.channels) for event in batch))
            elif not sub.overflowed:
                await response.write(b": keepalive\n\n")
            last_write = loop.time()
            if sub.overflowed:  # everything it got is written; it resumes with Last-Event-ID
                break
    except ConnectionResetError:
        pass  # the client went away
    finally:  # also on cancellation (a shutdown), which then goes on up to aiohttp
        beat.cancel()
        sub.close()
        if task is not None:
            registry.discard(task)
        with contextlib.suppress(Exception):
            await response.write_eof()
    return response
