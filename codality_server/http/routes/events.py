"""The SSE endpoint."""

from __future__ import annotations

from aiohttp import web

from codality_server.domain.errors import InvalidInput
from codality_server.domain.events import channel_kinds
from codality_server.http.keys import BUS, SETTINGS, STREAMS

from ..route import Route
from ..sse import stream_events


def _last_event_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput("Last-Event-ID must be an integer", field="Last-Event-ID") from None


_KINDS = sorted(channel_kinds())
_CHANNELS = ", ".join(f"{kind}:{{id}}" for kind in _KINDS)


async def events(request: web.Request) -> web.StreamResponse:
    """The stream of the channels asked for; none, or ``*`` among them, is every channel."""
    channels = [c for c in request.query.getall("channel", []) if c]
    for channel in channels:
        kind, _, ident = channel.partition(":")
        if channel != "*" and (kind not in _KINDS or not ident.isdigit()):
            raise InvalidInput(f"channel {channel!r} is not {_CHANNELS} or *", field="channel")
    return await stream_events(
        request,
        request.app[BUS],
        [] if "*" in channels else channels,
        _last_event_id(request),
        request.app[SETTINGS].heartbeat_s,
        request.app[STREAMS],
    )


ROUTES = [
    Route(
        "GET",
        "/api/events",
        events,
        "Real-time event stream (SSE): each event's data is its type's payload",
        media_types=("text/event-stream",),
    )
]
