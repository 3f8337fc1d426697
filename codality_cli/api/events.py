"""The event stream: SSE over httpx-sse, resumed with ``Last-Event-ID`` after a broken connection.

httpx-sse neither reconnects nor tracks ids (stack-notes §3), so ``subscribe`` does both; the read
timeout is None because the stream is idle between events (the server sends heartbeats).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .resource import Resource
from .transport import clean_params, decode_error, load_httpx, unreachable


@dataclass(frozen=True)
class ServerEvent:
    """One frame: ``id``, ``type`` and the payload ``{"type", "channel", "ts", "data"}``."""

    id: int | None
    type: str
    channel: str
    ts: str
    data: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "channel": self.channel,
            "ts": self.ts,
            "data": self.data,
        }


def parse_frame(event_id: str, event_type: str, data: str) -> ServerEvent:
    payload = json.loads(data) if data else {}
    return ServerEvent(
        id=int(event_id) if event_id.isdigit() else None,
        type=str(payload.get("type") or event_type),
        channel=str(payload.get("channel", "*")),
        ts=str(payload.get("ts", "")),
        data=payload.get("data"),
    )


class EventsApi(Resource):
    async def subscribe(
        self,
        channels: Sequence[str] = (),
        last_event_id: int | None = None,
        retries: int | None = None,
        retry_delay: float = 1.0,
        on_reconnect: Callable[[], Awaitable[bool]] | None = None,
        on_connect: Callable[[], object] | None = None,
        on_lost: Callable[[], object] | None = None,
    ) -> AsyncIterator[ServerEvent]:
        """Yield events forever, reconnecting from the last seen id.

        ``retries`` bounds consecutive failed reconnects (None: keep trying); an error answer
        (4xx, such as a bad channel or an ended session) is raised at once. ``on_reconnect`` runs
        once a connection is up after any earlier attempt (not on a first connection that went
        through at once): what happened meanwhile may never be replayed (a restarted server
        forgets its ring), so a follower re-reads the state it waits on there, and returning
        False ends the stream. ``on_connect`` is called once the first connection is up (the
        server is subscribed then), so a caller can start what it wants to follow without a gap.
        ``on_lost`` is called when an established stream breaks (once per outage). Before each
        new try the transport asks where the server is now (``Transport.relocate``): the local
        server may have come back on another port, or need starting again.
        """
        httpx = load_httpx()
        from httpx_sse import aconnect_sse

        first_attempt = True
        failures = 0
        params = clean_params({"channel": list(channels) or None})
        timeout = httpx.Timeout(10.0, read=None)
        while True:
            headers = self.t.auth_headers()
            if last_event_id is not None:
                headers["Last-Event-ID"] = str(last_event_id)
            try:
                async with aconnect_sse(
                    self.t.client,
                    "GET",
                    "/api/events",
                    params=params,
                    headers=headers,
                    timeout=timeout,
                ) as source:
                    if source.response.status_code >= 400:
                        await source.response.aread()
                        raise decode_error(source.response)
                    failures = 0
                    if not first_attempt and on_reconnect is not None and not await on_reconnect():
                        return
                    if on_connect is not None:
                        on_connect()
                        on_connect = None
                    first_attempt = False
                    async for frame in source.aiter_sse():
                        event = parse_frame(frame.id, frame.event, frame.data)
                        if event.id is not None:
                            last_event_id = event.id
                        yield event
            except httpx.TransportError as exc:
                if failures == 0 and not first_attempt and on_lost is not None:
                    on_lost()
                first_attempt = False
                failures += 1
                if retries is not None and failures > retries:
                    raise unreachable(self.t.base_url, exc) from exc
                await self.t.pause(retry_delay)
                await self.t.relocate()
                continue
            await self.t.pause(retry_delay)
