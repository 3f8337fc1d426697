"""The agent's runs on a ticket: ``ticket runs``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..output import Column, money

if TYPE_CHECKING:
    from ..context import CliContext

RUN_COLUMNS = [
    Column("id", "id"),
    Column("trigger", "trigger"),
    Column("status", "status"),
    Column("model", "model"),
    Column("sandbox", "sandbox"),
    Column("tokens in", "tokens_in"),
    Column("cache read", "tokens_cache_read"),
    Column("cache write", "tokens_cache_write"),
    Column("tokens out", "tokens_out"),
    Column("cost", "cost_usd", lambda s: money(s.get("cost_usd"))),
    Column("started", "started_at"),
    Column("summary", "summary"),
    Column("reason", "error"),  # why a run did not complete: a budget, a failure, a stop
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
