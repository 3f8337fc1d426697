"""The events bus and the SSE endpoint: framing, channel filters, replay, heartbeats, overflow."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from codality_server.domain.events import AgentTextDelta
from codality_server.events.bus import EventBus
from codality_server.http.keys import BUS
from codality_server.settings import ServerSettings
from tests.conftest import (
    RunningServer,
    assert_error,
    bearer_client,
    publish,
    sign_in,
    start_server,
)


async def read_events(
    api: httpx.AsyncClient,
    params: dict[str, Any],
    count: int,
    headers: dict[str, str] | None = None,
    after_connect: Any = None,
) -> list[Any]:
    got = []
    async with aconnect_sse(
        api, "GET", "/api/events", params=params, headers=headers or {}
    ) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        if after_connect is not None:
            after_connect()
        async for sse in source.aiter_sse():
            got.append(sse)
            if len(got) == count:
                break
    return got


async def test_frames_have_id_type_channel_and_data(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    def fire() -> None:
        publish(server, "agent:text_delta", ["ticket:7", "project:2"], {"text": "3"})

    [sse] = await asyncio.wait_for(
        read_events(api, {"channel": "project:2"}, 1, after_connect=fire), 10
    )
    assert sse.event == "agent:text_delta"
    assert int(sse.id) > 0
    body = json.loads(sse.data)
    assert body["type"] == "agent:text_delta"
    assert body["channel"] == "project:2"
    assert body["data"] == {"session_id": 1, "text": "3", "block": None, "at": None, "kind": "text"}
    assert body["ts"].endswith("Z")


async def test_channel_filter_and_replay_after_last_event_id(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    first = publish(server, "agent:text_delta", ["ticket:1", "project:1"], {"text": "1"})
    publish(server, "agent:text_delta", ["ticket:2", "project:1"], {"text": "2"})
    publish(server, "agent:text_delta", ["ticket:1", "project:1"], {"text": "3"})
    # Resuming after the first event on ticket:1 replays only the later ticket:1 event.
    [sse] = await asyncio.wait_for(
        read_events(api, {"channel": "ticket:1"}, 1, headers={"Last-Event-ID": str(first)}), 10
    )
    assert json.loads(sse.data)["data"]["text"] == "3"
    # No channel means everything, each event once even when it is on two channels.
    events = await asyncio.wait_for(read_events(api, {}, 3, headers={"Last-Event-ID": "0"}), 10)
    assert [json.loads(e.data)["data"]["text"] for e in events] == ["1", "2", "3"]
    # So does `*`, alone or next to other channels.
    for channels in (["*"], ["ticket:1", "*"], ["*", "ticket:2"]):
        events = await asyncio.wait_for(
            read_events(api, {"channel": channels}, 3, headers={"Last-Event-ID": "0"}), 10
        )
        assert [json.loads(e.data)["data"]["text"] for e in events] == ["1", "2", "3"], channels


async def test_bad_channel_and_bad_last_event_id_are_400(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/api/events", params={"channel": "nonsense"}), 400)
    assert_error(await api.get("/api/events", params={"channel": "session:1"}), 400)
    assert_error(await api.get("/api/events", headers={"Last-Event-ID": "x"}), 400)


async def test_events_need_a_session(anon: httpx.AsyncClient) -> None:
    assert_error(await anon.get("/api/events"), 401)


async def test_heartbeat_comment_arrives_on_an_idle_stream(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    async with api.stream("GET", "/api/events") as response:
        chunks = b""
        async for chunk in response.aiter_bytes():
            chunks += chunk
            if b": keepalive" in chunks:
                break
    assert b": keepalive" in chunks  # heartbeat_s is 0.5 in the test settings


async def test_slow_subscriber_is_dropped_and_publisher_never_blocks() -> None:
    bus = EventBus(ring_size=100, queue_size=10)
    slow = bus.subscribe()
    fast = bus.subscribe(["ticket:1"])
    for i in range(50):
        bus.publish(AgentTextDelta(session_id=1, text=str(i)), ["ticket:1"])
        fast.drain()
    assert slow.overflowed
    assert bus.subscriber_count == 1
    assert not fast.overflowed
    # The ring (100) still holds all 50, and a replay is not limited by the live queue (10).
    replay = bus.subscribe(last_event_id=0)
    assert [e.data["text"] for e in replay.drain()] == [str(i) for i in range(50)]
    assert not replay.overflowed


def test_an_overflowing_stream_ends_and_resumes_where_it_stopped(data_dir: Path) -> None:
    """A subscriber that cannot keep up gets what it had, then the stream ends; reconnecting
    with ``Last-Event-ID`` delivers the rest from the ring, none lost or repeated."""
    settings = ServerSettings(data_dir=data_dir, port=0, heartbeat_s=0.5, subscriber_queue_size=5)
    server, thread = start_server(settings)
    try:
        token = sign_in(server)

        async def burst() -> None:
            for n in range(20):  # in one go: the stream's writer cannot run in between
                server.app[BUS].publish(AgentTextDelta(session_id=n, text=str(n)), ["ticket:1"])

        async def read(headers: dict[str, str], until_end: bool, count: int = 0) -> list[Any]:
            got = []
            async with (
                bearer_client(server.url, token) as client,
                aconnect_sse(client, "GET", "/api/events", headers=headers) as source,
            ):
                if until_end:
                    server.call(burst())
                async for sse in source.aiter_sse():
                    if sse.data:
                        got.append(sse)
                    if len(got) == count:
                        break
            return got

        first = asyncio.run(asyncio.wait_for(read({}, until_end=True), 10))
        assert [json.loads(e.data)["data"]["session_id"] for e in first] == [0, 1, 2, 3, 4]
        rest = asyncio.run(
            asyncio.wait_for(read({"Last-Event-ID": first[-1].id}, False, count=15), 10)
        )
        assert [json.loads(e.data)["data"]["session_id"] for e in rest] == list(range(5, 20))
    finally:
        server._stop.set()
        thread.join(15)


def test_ring_holds_at_least_ten_thousand_events() -> None:
    bus = EventBus()
    before = bus.last_id
    for i in range(10_050):
        bus.publish(AgentTextDelta(session_id=1, text=str(i)), ["ticket:1"])
    sub = bus.subscribe(last_event_id=before + 50)
    held = sub.drain()
    assert len(held) == 10_000
    assert held[0].id == before + 51 and held[-1].id == before + 10_050
    assert [e.data["text"] for e in held[:2]] == ["50", "51"]


def test_a_restarted_server_numbers_its_events_after_the_last_ones(
    server_settings: ServerSettings,
) -> None:
    """A client resuming with the old server's ``Last-Event-ID`` gets the new server's events."""
    first, thread = start_server(server_settings)
    token = sign_in(first)
    try:
        old = [publish(first, "agent:text_delta", ["ticket:1"], {"text": str(n)}) for n in range(3)]
    finally:
        first._stop.set()
        thread.join(15)
    second, thread = start_server(server_settings)
    try:
        new = publish(second, "agent:text_delta", ["ticket:1"], {"text": "after restart"})
        assert new > max(old)

        async def resume() -> list[Any]:
            async with bearer_client(second.url, token) as client:
                headers = {"Last-Event-ID": str(old[-1])}
                return await read_events(client, {"channel": "ticket:1"}, 1, headers=headers)

        [sse] = asyncio.run(asyncio.wait_for(resume(), 10))
        assert int(sse.id) == new and json.loads(sse.data)["data"]["text"] == "after restart"
    finally:
        second._stop.set()
        thread.join(15)


async def test_every_channel_kind_the_catalogue_names_can_be_followed(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    from codality_server.domain.events import channel_kinds

    assert channel_kinds() == {"ticket", "project", "plan", "conversation", "queue"}
    for kind in sorted(channel_kinds()):
        name = f"{kind}:5"

        def fire(name: str = name) -> None:
            publish(server, "agent:text_delta", [name], {"text": name})

        [sse] = await asyncio.wait_for(
            read_events(api, {"channel": name}, 1, after_connect=fire), 10
        )
        assert json.loads(sse.data)["channel"] == name


def test_the_bus_refuses_a_channel_the_catalogue_does_not_name_for_the_type() -> None:
    import pytest

    from codality_server.domain.events import PlanDeleted

    bus = EventBus()
    with pytest.raises(ValueError, match="plan:deleted is not published on 'ticket:1'"):
        bus.publish(PlanDeleted(id=1, project_id=1), ["ticket:1"])
