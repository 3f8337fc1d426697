"""SSE fan-out: publish→receive latency with 50 subscribers at 1,000 events/s, and losses.

Goal (issue 9): p99 ≤ 5 ms, zero lost. The server runs in this process (the bus is published to
directly, as the agent does); the subscribers run in other processes over real TCP, so they share
the machine the way a server and its terminals do.

Three figures, to tell the server's share from the subscribers':

- ``server``: publish → the frame handed to the socket (after ``StreamResponse.write``), measured
  in the server process by wrapping the SSE encoder and the response's ``write`` for the run.
- ``receive``: publish → the frame's bytes read by the subscriber, before any parsing.
- ``parse``: the subscriber's own time to turn those bytes into events (per event).

``--procs`` spreads the subscribers over several processes (``--procs 5`` = 10 connections each);
``--reader raw`` reads the socket with asyncio streams and splits frames with bytes methods instead
of aiohttp's line iterator (``aiohttp``, the default).

    python bench/sse_fanout.py [--subscribers 50] [--rate 1000] [--seconds 5] [--procs 1]
                               [--reader aiohttp|raw]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SUBSCRIBER = r"""
import asyncio, json, sys, time

END = b'"type":"agent:prompt"'

def frames(buffer, out_receive, out_parse, received_at):
    # Complete frames in ``buffer``; returns what is left and whether the end came.
    *complete, rest = buffer.split(b"\n\n")
    ended = False
    for frame in complete:
        start = time.monotonic_ns()
        data = None
        for line in frame.split(b"\n"):
            if line.startswith(b"data: "):
                data = json.loads(line[6:])
        if data is None:
            continue
        if data["type"] == "agent:prompt":  # the end marker
            ended = True
            continue
        out_parse.append(time.monotonic_ns() - start)
        out_receive.append(received_at - int(data["data"]["text"]))
    return rest, ended

async def raw(url, token, receive, parse):
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET /api/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], head
    print("ready", flush=True)
    wire = buffer = b""
    while True:
        chunk = await reader.read(1 << 20)
        if not chunk:
            return
        now = time.monotonic_ns()
        wire += chunk
        # Undo the chunked transfer encoding: <hex size>\r\n<data>\r\n, whole chunks only.
        while (eol := wire.find(b"\r\n")) >= 0:
            size = int(wire[:eol], 16)
            end = eol + 2 + size
            if len(wire) < end + 2:
                break
            buffer += wire[eol + 2 : end]
            wire = wire[end + 2 :]
        buffer, ended = frames(buffer, receive, parse, now)
        if ended:
            writer.close()
            return

async def with_aiohttp(url, token, receive, parse):
    import aiohttp
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/api/events", headers={"Authorization": "Bearer " + token},
                         timeout=aiohttp.ClientTimeout(total=None)) as r:
            print("ready", flush=True)
            async for line in r.content:
                if line.startswith(b"data: "):
                    now = time.monotonic_ns()
                    data = json.loads(line[6:])
                    if data["type"] == "agent:prompt":  # the end marker
                        return
                    parse.append(time.monotonic_ns() - now)
                    receive.append(now - int(data["data"]["text"]))

async def main():
    url, token, n, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    one = raw if kind == "raw" else with_aiohttp
    receives = [[] for _ in range(n)]
    parses = [[] for _ in range(n)]
    await asyncio.gather(*(one(url, token, receives[i], parses[i]) for i in range(n)))
    print(json.dumps([len(o) for o in receives]))
    print(json.dumps([x for o in receives for x in o]))
    print(json.dumps([x for o in parses for x in o]))

cpu = time.process_time()
asyncio.run(main())
print(json.dumps(time.process_time() - cpu))
"""


@contextmanager
def server_side_timing(latencies: list[int]) -> Iterator[None]:
    """Record publish → written for every frame the SSE handler writes, for the run only."""
    from aiohttp import web

    from codality_server.http import sse

    pending: dict[asyncio.Task[Any] | None, list[int]] = {}
    encode, write = sse.encode, web.StreamResponse.write

    def timed_encode(event: Any, channels: Any) -> bytes:
        t = int(event.data["text"]) if event.type == "agent:text_delta" else None
        if t is not None:
            pending.setdefault(asyncio.current_task(), []).append(t)
        return encode(event, channels)

    async def timed_write(self: web.StreamResponse, data: Any) -> None:
        await write(self, data)
        written = pending.pop(asyncio.current_task(), None)
        if written:
            now = time.monotonic_ns()
            latencies.extend(now - t for t in written)

    sse.encode = timed_encode
    web.StreamResponse.write = timed_write  # type: ignore[method-assign]
    try:
        yield
    finally:
        sse.encode = encode
        web.StreamResponse.write = write  # type: ignore[method-assign]


def percentiles(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def p(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 3)

    return {
        "p50_ms": p(0.50),
        "p95_ms": p(0.95),
        "p99_ms": p(0.99),
        "max_ms": round(ordered[-1] / 1e6, 3),
        "mean_ms": round(statistics.fmean(ordered) / 1e6, 3),
    }


async def run(
    subscribers: int, rate: int, seconds: float, procs: int, reader: str, timing: bool = True
) -> dict[str, Any]:
    import httpx
    from serving import serve

    from codality_server.app import create_app
    from codality_server.domain.events import AgentPrompt, AgentTextDelta
    from codality_server.http.keys import BUS
    from codality_server.settings import ServerSettings

    data_dir = Path(tempfile.mkdtemp(prefix="codality-bench-"))
    app = create_app(ServerSettings(data_dir=data_dir, port=0, keyring=False))
    runner, url = await serve(app)
    code = (data_dir / "setup-code").read_text().strip()
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            f"{url}/api/setup/verify", json={"code": code, "email": "bench@example.com"}
        )
    token = reply.json()["token"]

    shares = [subscribers // procs + (1 if i < subscribers % procs else 0) for i in range(procs)]
    children = []
    for share in shares:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SUBSCRIBER,
            url,
            token,
            str(share),
            reader,
            stdout=subprocess.PIPE,
            limit=2**28,
        )
        children.append(child)
    for child, share in zip(children, shares, strict=True):
        assert child.stdout is not None
        for _ in range(share):
            await child.stdout.readline()
    bus = app[BUS]
    while bus.subscriber_count < subscribers:
        await asyncio.sleep(0.01)

    server: list[int] = []
    total = int(rate * seconds)
    interval = 1 / rate
    with server_side_timing(server) if timing else contextlib.nullcontext():
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(total):
            target = start + i * interval
            # Behind schedule (the process lost the CPU a while), the events due are published
            # back to back, as a stream reader does with several deltas from one network read.
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = AgentTextDelta(session_id=i, text=str(time.monotonic_ns()))
            bus.publish(sent, ["ticket:1", "project:1"])
        publishing_s = time.perf_counter() - start
        await asyncio.sleep(0.5)
        server_cpu_s = time.process_time() - cpu_start
    bus.publish(AgentPrompt(session_id=0, text="end"), ["ticket:1"])
    counts: list[int] = []
    receive: list[int] = []
    parse: list[int] = []
    subscriber_cpu: list[float] = []
    for child in children:
        assert child.stdout is not None
        counts += json.loads(await child.stdout.readline())
        receive += json.loads(await child.stdout.readline())
        parse += json.loads(await child.stdout.readline())
        subscriber_cpu.append(json.loads(await child.stdout.readline()))
        await child.wait()
    await runner.cleanup()

    return {
        "subscribers": subscribers,
        "subscriber_processes": procs,
        "reader": reader,
        "events": total,
        "rate_per_s": rate,
        "achieved_rate_per_s": round(total / publishing_s),
        # Server CPU per second of publishing (1.0 = one core busy), and per event delivered.
        "server_cpu_load": round(server_cpu_s / publishing_s, 3),
        "server_cpu_us_per_delivery": round(server_cpu_s / (total * subscribers) * 1e6, 2),
        # Each subscriber process's CPU per second of publishing: near 1.0 means it is saturated.
        "subscriber_cpu_load": [round(cpu / publishing_s, 3) for cpu in subscriber_cpu],
        "lost": total * subscribers - sum(counts),
        "server_publish_to_write": percentiles(server),
        "publish_to_receive": percentiles(receive),
        "client_parse_per_event": percentiles(parse),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--procs", type=int, default=1, help="subscriber processes")
    parser.add_argument("--reader", choices=("aiohttp", "raw"), default="aiohttp")
    parser.add_argument(
        "--no-server-timing",
        action="store_true",
        help="leave the server uninstrumented (for its CPU figures alone)",
    )
    args = parser.parse_args()
    result = asyncio.run(
        run(
            args.subscribers,
            args.rate,
            args.seconds,
            args.procs,
            args.reader,
            timing=not args.no_server_timing,
        )
    )
    print(json.dumps(result, indent=2))
    server_p99 = result["server_publish_to_write"].get("p99_ms", float("nan"))
    verdict = "meets" if server_p99 <= 5 and result["lost"] == 0 else "misses"
    print(f"goal server-side p99 <= 5 ms and zero lost: {verdict}")


if __name__ == "__main__":
    main()
