"""Work queue step overhead: from one item's session ending to the next item's session started.

A queue of N tickets runs against the scripted model, each ticket's run a single answer that
ends the turn. The bench follows the project's events over SSE and times, for each step, the
gap between the ``agent:stopped`` of item k and the ``agent:started`` of item k+1: the end hook,
the item's state written, dependencies checked, the next ticket's worktree and branch made, its
session recorded and announced. Both events travel the same SSE path, so its latency cancels.
Goal (issue 13): median ≤ 50 ms. Run: ``.venv/bin/python bench/queue_step.py [--tickets N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from serving import agent_bench, make_repo


def ticket_run(number: int) -> list[dict[str, Any]]:
    """One ticket's scripted run: write its own file, then end the turn."""
    given = {"path": f"step{number}.txt", "content": f"{number}\n"}
    write = {"type": "tool_use", "name": "write_file", "input": given}
    return [{"blocks": [write]}, {"blocks": [{"type": "text", "text": "Done."}]}]


Seen = list[tuple[str, Any, float]]


async def follow(api: httpx.AsyncClient, project_id: int, seen: Seen) -> None:
    """Stamp every agent and queue event of the project as it arrives."""
    from httpx_sse import aconnect_sse

    params = {"channel": f"project:{project_id}"}
    timeout = httpx.Timeout(10.0, read=None)
    async with aconnect_sse(api, "GET", "/api/events", params=params, timeout=timeout) as source:
        async for sse in source.aiter_sse():
            if not sse.data:
                continue
            frame = sse.json()
            seen.append((frame["type"], frame["data"], time.perf_counter()))
            if frame["type"] in ("queue:completed", "queue:paused"):
                return


async def measure(tickets: int, root: Path, sandbox: str, merge_each: bool) -> list[float]:
    settings = {"sandbox": sandbox, "max_concurrent_agents": 3}
    turns = [turn for number in range(1, tickets + 1) for turn in ticket_run(number)]
    async with agent_bench(turns, root / "repo", root / "data", settings) as (
        api,
        slug,
        _,
    ):
        project = (await api.get(f"/api/projects/{slug}")).json()
        for number in range(1, tickets + 1):
            made = await api.post(f"/api/projects/{slug}/tickets", json={"title": f"Step {number}"})
            made.raise_for_status()
        queues = f"/api/projects/{slug}/discover/queues"
        body = {"name": "Bench", "tickets": list(range(1, tickets + 1)), "merge_each": merge_each}
        queue = (await api.post(queues, json=body)).json()
        seen: Seen = []
        listener = asyncio.create_task(follow(api, int(project["id"]), seen))
        await asyncio.sleep(0.2)  # subscribed before the first event
        (await api.post(f"{queues}/{queue['id']}/start")).raise_for_status()
        await asyncio.wait_for(listener, 300)
    assert seen[-1][0] == "queue:completed", seen[-1]
    stopped = [stamp for kind, _, stamp in seen if kind == "agent:stopped"]
    started = [stamp for kind, _, stamp in seen if kind == "agent:started"]
    assert len(stopped) == len(started) == tickets, (len(stopped), len(started))
    return [(started[k + 1] - stopped[k]) * 1000 for k in range(tickets - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=21)
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bubblewrap", "none"))
    parser.add_argument(
        "--merge-each",
        action="store_true",
        help="merge each ticket before the next (the step then includes the merge and a fresh"
        " worktree; the 50 ms goal is for the plain queue)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codality-bench-queue-") as folder:
        root = Path(folder)
        make_repo(root / "repo")
        steps = asyncio.run(measure(args.tickets, root, args.sandbox, args.merge_each))
    steps.sort()
    p90 = steps[int(0.9 * (len(steps) - 1))]
    median = statistics.median(steps)
    mode = f"sandbox {args.sandbox}" + (", merge_each" if args.merge_each else "")
    print(
        f"queue step (session end → next session started), {len(steps)} steps, {mode}:"
        f" median {median:.1f} ms, p90 {p90:.1f} ms, max {steps[-1]:.1f} ms"
    )
    if not args.merge_each:
        print(f"goal ≤ 50 ms median: {'met' if median <= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
