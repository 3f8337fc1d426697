"""Long agent runs: prompt caching and the cost as billed, a history that outgrows the context
window, and budgets. The fake model bills like the Messages API (``scripted/billing.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from codality_server.domain.sessions import TokenCounts, call_cost
from codality_server.domain.settings import Settings
from codality_server.scripted.server import Turn
from tests.conftest import assert_error, git
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .conftest import agent_url, new_ticket, replay_events, wait_for_end

MODULE_LINES = 120


def add_module(repo: Path) -> None:
    """A module of some size for the agent to read over and over, committed."""
    body = "".join(
        f"def step_{i}(value):\n    return value * {i} + {i % 7}  # step {i}\n\n"
        for i in range(MODULE_LINES)
    )
    (repo / "src" / "steps.py").write_text(body)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add steps")


def long_script(turns: int) -> list[Turn]:
    """``turns`` model calls: reading, grepping and running in turn, then a final answer."""
    calls = [
        tool("read_file", path="src/steps.py"),
        tool("grep", pattern=r"step_\d+"),
        tool("bash", command="python3 -c 'print(sum(range(1000)))'"),
    ]
    script = [calls[i % len(calls)] for i in range(turns - 1)]
    return [*script, text(f"Done after {turns} turns.")]


def billed(usages: list[dict[str, int]]) -> TokenCounts:
    total = TokenCounts()
    for usage in usages:
        total += TokenCounts(
            usage["input_tokens"],
            usage["cache_creation_input_tokens"],
            usage["cache_read_input_tokens"],
            usage["output_tokens"],
        )
    return total


async def test_a_30_turn_run_reads_most_of_its_input_from_the_cache_and_costs_as_billed(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    add_module(git_repo)
    fake_anthropic.script(*long_script(30))
    ticket = await new_ticket(agent_api, project["slug"])
    started = await agent_api.post(agent_url(project, ticket, "start"), json={})
    assert started.status_code == 202, started.text
    ended = await wait_for_end(agent_api, project, ticket, timeout=60)
    assert ended["status"] == "completed", ended
    assert ended["summary"] == "Done after 30 turns."

    requests = fake_anthropic.requests
    assert len(requests) == 30
    # The stable prefix and the rolling marks: never more than the API's four per request.
    for request in requests:
        marks = [t for t in request["tools"] if "cache_control" in t]
        marks += [b for b in request["system"] if "cache_control" in b]
        for message in request["messages"]:
            if isinstance(message["content"], list):
                marks += [b for b in message["content"] if "cache_control" in b]
        assert len(marks) == (3 if len(request["messages"]) == 1 else 4)
    assert "cache_control" in requests[-1]["messages"][-1]["content"][-1]

    # What the session recorded is what the API reported, split the way it was billed.
    tokens = billed(fake_anthropic.usages)
    assert ended["tokens_in"] == tokens.input and ended["tokens_out"] == tokens.output
    assert ended["tokens_cache_read"] == tokens.cache_read
    assert ended["tokens_cache_write"] == tokens.cache_write
    assert ended["tokens_uncached"] == tokens.uncached
    share = tokens.cache_read / tokens.input
    assert share >= 0.7, f"only {share:.0%} of the input was read from the cache"

    # The cost is the price table's: cache writes at 1.25x, reads at 0.1x of the input price.
    price = Settings().prices["claude-sonnet-4-6"]
    assert (price.cache_write_per_mtok, price.cache_read_per_mtok) == (3.75, 0.3)
    per_call = [call_cost(billed([usage]), price) for usage in fake_anthropic.usages]
    assert abs(ended["cost_usd"] - sum(per_call)) < 1e-5
    uncached = call_cost(TokenCounts(uncached=tokens.input, output=tokens.output), price)
    assert ended["cost_usd"] < uncached / 2


async def test_a_run_stops_at_its_dollar_budget_from_the_settings_or_its_own(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    add_module(git_repo)
    changed = await agent_api.put("/api/settings", json={"max_cost_per_run_usd": 0.02})
    assert changed.status_code == 200, changed.text
    fake_anthropic.script(*long_script(40))
    ticket = await new_ticket(agent_api, project["slug"])
    assert (await agent_api.post(agent_url(project, ticket, "start"), json={})).status_code == 202
    ended = await wait_for_end(agent_api, project, ticket, timeout=60)
    assert ended["status"] == "stopped" and ended["error"] == "budget: $0.02", ended
    # It stopped after the call that reached the budget, not one call later or earlier.
    price = Settings().prices["claude-sonnet-4-6"]
    spent = [call_cost(billed([usage]), price) for usage in fake_anthropic.usages]
    assert sum(spent) >= 0.02 > sum(spent[:-1])
    assert abs(ended["cost_usd"] - sum(spent)) < 1e-5

    # Live: the reason comes with agent:stopped and as an agent:error line.
    seen = await replay_events(agent_api, ticket)
    stopped = seen[-1]["data"]
    assert stopped["status"] == "stopped" and stopped["error"] == "budget: $0.02"
    errors = [e["data"]["message"] for e in seen if e["type"] == "agent:error"]
    assert errors == ["budget: $0.02"]

    # A run's own budget replaces the settings': here a lower one.
    before = len(fake_anthropic.requests)
    fake_anthropic.script(*long_script(40))
    url = agent_url(project, ticket, "start")
    bad = await agent_api.post(url, json={"max_turns": 0})
    assert_error(bad, 400, "invalid_input")
    own = await agent_api.post(url, json={"max_turns": 2, "max_cost_usd": 5})
    assert own.status_code == 202, own.text
    again = await wait_for_end(agent_api, project, ticket, timeout=60)
    assert again["status"] == "stopped" and again["error"] == "budget: 2 turns"
    assert len(fake_anthropic.requests) == before + 2
