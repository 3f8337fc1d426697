"""What a long agent run costs: calls, input tokens by how they are billed, dollars with and
without prompt caching.

The scripted model bills like the Messages API (``scripted/billing.py``: a prefix ending at a
``cache_control`` mark is written, a later request starting the same way reads it; one token per
4 characters). The run follows the issue's example: a first turn reads a ~25k-token file (with the
system prompt and tools, a ~30k-token prompt), then every turn reads a ~2k-token one, so the
prompt grows ~2k a turn. "Without caching" is the same input billed as plain input, as it was
before prompt caching (no marks: the API reads nothing from the cache). Prices: the default table,
claude-sonnet-4-6 ($3 input, $3.75 cache write, $0.30 cache read, $15 output per million); the
history summaries, if any, at claude-haiku-4-5. Goal (issue 23): in a 30-turn run ≥ 70 % of input
tokens are cache reads.

Run: ``.venv/bin/python bench/long_run.py [--turns 30 40] [--window 60000]`` (``--window``: also a
40-turn run on a model with that window, where the history is cut).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from serving import agent_bench, make_repo

from codality_server.domain.sessions import TokenCounts, call_cost
from codality_server.domain.settings import Settings
from codality_server.scripted.server import MODEL_TURNS, REQUESTS

BIG = "".join(f"# {i:05d} {'notes on the design ' * 4}\n" for i in range(1_200))  # ~25k tokens
STEP = "".join(f"# {i:04d} {'a step of the work ' * 4}\n" for i in range(95))  # ~2k tokens
FILES = {"design.md": BIG, **{f"step_{i}.md": STEP for i in range(60)}}


def script(turns: int) -> list[dict[str, Any]]:
    def read(path: str) -> dict[str, Any]:
        return {"blocks": [{"type": "tool_use", "name": "read_file", "input": {"path": path}}]}

    reads = [read("design.md"), *(read(f"step_{i}.md") for i in range(turns - 2))]
    return [*reads, {"blocks": [{"type": "text", "text": f"Done in {turns} turns."}]}]


async def run(turns: int, root: Path, window: int | None) -> dict[str, Any]:
    settings: dict[str, Any] = {"sandbox": "none", "max_tokens": 4_000}
    if window:
        settings["context_windows"] = {"claude-sonnet-4-6": window}
    repo, data = root / f"repo-{turns}-{window}", root / f"data-{turns}-{window}"
    make_repo(repo, FILES)
    async with agent_bench(script(turns), repo, data, settings) as (api, slug, model):
        if window:
            summary = {"blocks": [{"type": "text", "text": "Read the design and steps."}]}
            model[MODEL_TURNS]["claude-haiku-4-5"] = [summary] * 20
        await api.post(f"/api/projects/{slug}/tickets", json={"title": "Bench", "kind": "chore"})
        agent = f"/api/projects/{slug}/tickets/1/agent"
        await api.post(f"{agent}/start", json={})
        while (await api.get(f"{agent}/status")).json()["running"]:
            await asyncio.sleep(0.1)
        session = (await api.get(f"{agent}/status")).json()["session"]
        assert session["status"] == "completed", session
        transcript = (await api.get(f"{agent}/sessions/{session['id']}")).json()["transcript"]
    answered = [entry for entry in model[REQUESTS] if "usage" in entry]
    return {
        "session": session,
        "calls": len(answered),
        "cuts": sum(block["kind"] == "history_trimmed" for block in transcript),
        "answered": answered,
    }


def figures(label: str, outcome: dict[str, Any]) -> str:
    prices = Settings().prices
    cached = uncached = 0.0
    total = TokenCounts()
    for entry in outcome["answered"]:
        usage, price = entry["usage"], prices[entry["body"]["model"]]
        tokens = TokenCounts(
            usage["input_tokens"],
            usage["cache_creation_input_tokens"],
            usage["cache_read_input_tokens"],
            usage["output_tokens"],
        )
        total += tokens
        cached += call_cost(tokens, price)
        uncached += call_cost(TokenCounts(uncached=tokens.input, output=tokens.output), price)
    session = outcome["session"]
    assert abs(session["cost_usd"] - cached) < 1e-4, (session["cost_usd"], cached)
    share = total.cache_read / total.input
    return (
        f"| {label} | {outcome['calls']} | {outcome['cuts']} | {total.input:,} | "
        f"{total.uncached:,} | {total.cache_write:,} | {total.cache_read:,} ({share:.0%}) | "
        f"{total.output:,} | ${cached:.2f} | ${uncached:.2f} | {uncached / cached:.1f}x |"
    )


async def main_async(turn_counts: list[int], window: int | None) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="codality-bench-long-") as folder:
        root = Path(folder)
        for turns in turn_counts:
            rows.append(figures(f"{turns} turns", await run(turns, root, None)))
        if window:
            label = f"40 turns, {window // 1000}k window"
            rows.append(figures(label, await run(40, root, window)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, nargs="+", default=[30, 40])
    parser.add_argument("--window", type=int, default=60_000)
    args = parser.parse_args()
    rows = asyncio.run(main_async(args.turns, args.window))
    print(
        "| run | calls | cuts | input tokens | uncached | cache write | cache read | output "
        "| cost | cost without caching | saved |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
