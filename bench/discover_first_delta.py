"""Discovery streaming latency: the model's first token to the first ``discover:delta`` on the wire.

The scripted model stamps when it wrote the first text delta of each answer (``first_delta_at``);
an SSE client subscribed to the project's channel stamps when the first ``discover:delta`` of the
reply arrives. The gap is everything discovery adds on the way: the SDK's parsing, the listener
(which publishes before it stores), the bus, the SSE frame and the client's read. Everything runs
in one process and one event loop, so the clocks agree. Goal (issue 14): p99 ≤ 5 ms.
Run: ``.venv/bin/python bench/discover_first_delta.py [--replies N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from serving import agent_bench

from codality_server.scripted.server import REQUESTS

ANSWER = {"blocks": [{"type": "text", "text": "A short answer about the code, in a few words."}]}


def make_repo(path: Path) -> None:
    path.mkdir()
    (path / "app.py").write_text("def greet(name):\n    return 'hello ' + name\n")
    env = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
        "PATH": "/usr/bin:/bin",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)


async def measure(replies: int, root: Path) -> list[float]:
    bench = agent_bench([ANSWER] * replies, root / "repo", root / "data")
    async with bench as (api, slug, model):
        project = (await api.get(f"/api/projects/{slug}")).json()
        base = f"/api/projects/{slug}/discover/conversations"
        conversation = (await api.post(base, json={"title": "bench"})).json()
        messages = f"{base}/{conversation['id']}/messages"
        arrivals: dict[int, float] = {}
        first = asyncio.Event()

        async def listen() -> None:
            params = {"channel": f"project:{project['id']}"}
            async with api.stream("GET", "/api/events", params=params, timeout=None) as stream:
                async for line in stream.aiter_lines():
                    if line == ": connected":
                        first.set()
                    if not line.startswith("data: ") or '"discover:delta"' not in line:
                        continue
                    now = time.monotonic()
                    reply = json.loads(line.removeprefix("data: "))["data"]["message_id"]
                    arrivals.setdefault(reply, now)

        listener = asyncio.create_task(listen())
        await first.wait()
        gaps = []
        for index in range(replies):
            reply = await api.post(messages, json={"content": "q"}, params={"wait": "true"})
            reply_id = reply.json()["id"]
            while reply_id not in arrivals:
                await asyncio.sleep(0.001)
            stamped = model[REQUESTS][index]["first_delta_at"]
            gaps.append((arrivals[reply_id] - stamped) * 1000)
        listener.cancel()
    return gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=300)
    replies = parser.parse_args().replies
    with tempfile.TemporaryDirectory(prefix="codality-bench-discover-") as folder:
        root = Path(folder)
        make_repo(root / "repo")
        gaps = sorted(asyncio.run(measure(replies, root)))
    p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
    print(
        f"first discover:delta after the model's first token, {len(gaps)} replies:"
        f" median {statistics.median(gaps):.2f} ms, p99 {p99:.2f} ms, max {gaps[-1]:.2f} ms"
        f" (goal p99 ≤ 5 ms)"
    )


if __name__ == "__main__":
    main()
