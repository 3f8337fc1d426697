"""Agent overhead per tool call, excluding model time.

A scripted model asks for ``read_file`` on a small file N times in one session. The scripted
endpoint stamps when it finished answering call i and when call i+1 arrived; the gap is the
agent's own time for one tool round: parsing the streamed answer, publishing and storing the
events and blocks, running the tool, and building and sending the next request. The SDK copies
and encodes the whole history on every call (and the scripted endpoint, in this same process,
parses it), so later rounds cost more: compare figures at the same ``--calls``. Goal (issues 4
and 10): median ≤ 10 ms. Run: ``.venv/bin/python bench/agent_tool_overhead.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from serving import agent_bench, make_repo

from codality_server.scripted.server import REQUESTS


async def measure(calls: int, root: Path) -> list[float]:
    turn = {"blocks": [{"type": "tool_use", "name": "read_file", "input": {"path": "small.txt"}}]}
    bench = agent_bench(
        [turn] * calls,
        root / "repo",
        root / "data",
        {"sandbox": "none", "max_turns_per_run": calls + 10},
    )
    async with bench as (api, slug, model):
        await api.post(f"/api/projects/{slug}/tickets", json={"title": "Bench", "kind": "chore"})
        agent = f"/api/projects/{slug}/tickets/1/agent"
        await api.post(f"{agent}/start")
        while (await api.get(f"{agent}/status")).json()["running"]:
            await asyncio.sleep(0.1)
        status = (await api.get(f"{agent}/status")).json()["session"]
        assert status["status"] == "completed", status
    recorded = model[REQUESTS]
    return [
        (recorded[i + 1]["received_at"] - recorded[i]["answered_at"]) * 1000
        for i in range(len(recorded) - 1)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory(prefix="codality-bench-agent-") as folder:
        root = Path(folder)
        make_repo(root / "repo")
        gaps = asyncio.run(measure(calls, root))
    gaps.sort()
    median = statistics.median(gaps)
    p95 = gaps[int(len(gaps) * 0.95)]
    print(
        f"tool rounds: {len(gaps)}  median {median:.2f} ms  p95 {p95:.2f} ms  max {gaps[-1]:.2f} ms"
    )
    print(f"goal ≤ 10 ms median: {'met' if median <= 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
