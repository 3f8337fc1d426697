"""The agent's runs on a ticket: ``ticket runs``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..output import Column, money

if TYPE_CHECKING:
    from ..context import CliContext

# On a narrow terminal the summary keeps its room; id, status and cost always show.
RUN_COLUMNS = [
    Column("id", "id"),
    Column("trigger", "trigger", minor=4),
    Column("status", "status"),
    Column("model", "model", minor=5),
    Column("sandbox", "sandbox", minor=10),
    Column("turns", "turns", minor=3),  # model calls, the unit of --max-turns
    Column("tokens in", "tokens_in", minor=9),
    Column("cache read", "tokens_cache_read", minor=8),
    Column("cache write", "tokens_cache_write", minor=7),
    Column("tokens out", "tokens_out", minor=6),
    Column("cost", "cost_usd", lambda s: money(s["cost_usd"])),
    Column("started", "started_at", minor=2),
    Column("summary", "summary", truncate=True),
    # why a run did not complete: a budget, a failure, a stop
    Column("reason", "error", truncate=True, minor=1),
]


def runs(cli: CliContext, number: int, as_json: bool, fields: str | None) -> None:
    """The current and past runs; replay one with ``ticket watch --session``."""
    found = cli.run_in_project(lambda api, slug: api.agent.status(slug, number))
    if as_json or fields:
        cli.output(True, fields).json(found)
        return
    state = "running" if found["running"] else "not running"
    cli.streams.message(f"ticket #{number}: agent {state}")
    cli.output(False).items(found["sessions"], RUN_COLUMNS)
