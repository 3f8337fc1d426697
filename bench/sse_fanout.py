"""SSE fan-out: publish→receive latency with 50 subscribers at 1,000 events/s, and losses.

Goal (issue 2): p99 ≤ 5 ms, zero lost. The server runs in this process (the bus is published to
directly, as the agent does); the 50 subscribers run in a second process over real TCP, reading
raw SSE frames, so the two share the machine the way a server and its terminals do.

    python bench/sse_fanout.py [--subscribers 50] [--rate 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBSCRIBER = r"""
import asyncio, json, sys, time
import aiohttp

async def one(url, token, n, out):
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/api/events", headers={"Authorization": "Bearer " + token},
                         timeout=aiohttp.ClientTimeout(total=None)) as r:
            print("ready", flush=True)
            async for line in r.content:
                if line.startswith(b"data: "):
                    now = time.monotonic_ns()
                    data = json.loads(line[6:])
                    if data["type"] == "bench:end":
                        return
                    out.append(now - data["data"]["t"])

async def main():
    url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    outs = [[] for _ in range(n)]
    await asyncio.gather(*(one(url, token, n, outs[i]) for i in range(n)))
    print(json.dumps([len(o) for o in outs]))
    print(json.dumps([x for o in outs for x in o]))

asyncio.run(main())
"""


async def run(subscribers: int, rate: int, seconds: float) -> dict[str, float]:
    import httpx
    from serving import serve

    from codality_server.app import create_app
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

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SUBSCRIBER,
        url,
        token,
        str(subscribers),
        stdout=subprocess.PIPE,
        limit=2**28,
    )
    assert proc.stdout is not None
    for _ in range(subscribers):
        await proc.stdout.readline()
    bus = app[BUS]
    while bus.subscriber_count < subscribers:
        await asyncio.sleep(0.01)

    total = int(rate * seconds)
    interval = 1 / rate
    start = time.perf_counter()
    for i in range(total):
        target = start + i * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        bus.publish(
            "agent:text_delta", ["ticket:1", "project:1"], {"t": time.monotonic_ns(), "i": i}
        )
    await asyncio.sleep(0.5)
    bus.publish("bench:end", ["ticket:1"], {"t": time.monotonic_ns()})
    counts_line = await proc.stdout.readline()
    latencies_line = await proc.stdout.readline()
    await proc.wait()
    await runner.cleanup()

    counts = json.loads(counts_line)
    latencies = sorted(json.loads(latencies_line))
    lost = total * subscribers - sum(counts)

    def p(q: float) -> float:
        return float(latencies[min(len(latencies) - 1, int(q * len(latencies)))]) / 1e6

    return {
        "subscribers": subscribers,
        "events": total,
        "rate_per_s": rate,
        "lost": lost,
        "p50_ms": p(0.50),
        "p95_ms": p(0.95),
        "p99_ms": p(0.99),
        "max_ms": latencies[-1] / 1e6,
        "mean_ms": statistics.fmean(latencies) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    result = asyncio.run(run(args.subscribers, args.rate, args.seconds))
    print(json.dumps(result, indent=2))
    verdict = "meets" if result["p99_ms"] <= 5 and result["lost"] == 0 else "misses"
    print(f"goal p99 <= 5 ms and zero lost: {verdict}")


if __name__ == "__main__":
    main()
