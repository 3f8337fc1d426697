"""Plans: their columns and drafts, and ``plan list | show``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..output import Column, Output

if TYPE_CHECKING:
    from ..api.models import PlanDraftView
    from ..context import CliContext

PLAN_COLUMNS = [
    Column("id", "id"),
    Column("title", "title"),
    Column("status", "status"),
    Column("drafts", "drafts", lambda plan: len(plan["drafts"])),
    Column("updated", "updated_at"),
]
PLAN_FIELDS = [
    *PLAN_COLUMNS[:-1],
    Column("ready", "readiness.ready"),
    Column("created", "created_at"),
    Column("updated", "updated_at"),
    Column("approved", "approved_at"),
]
DRAFT_COLUMNS = [
    Column("order", "order"),
    Column("title", "title"),
    Column("kind", "kind"),
    Column("priority", "priority"),
    Column("depends on", "depends_on", lambda d: " ".join(str(n) for n in d["depends_on"])),
    Column("ticket", "ticket", lambda d: f"#{d['ticket']}" if d["ticket"] else None),
]


def show_drafts(output: Output, drafts: list[PlanDraftView]) -> None:
    """The drafts as a table on a terminal, TSV rows when piped (after a ``--`` line)."""
    if not drafts:
        return
    streams = output.streams
    if streams.out_tty:
        streams.console().print("\n[bold]Ticket drafts[/bold]")
    else:
        streams.write("--\n")
    output.items(drafts, DRAFT_COLUMNS)


def list_plans(cli: CliContext, as_json: bool, fields: str | None) -> None:
    plans = cli.run_in_project(lambda api, slug: api.plans.list(slug))
    cli.output(as_json, fields).items(plans, PLAN_COLUMNS)


def show(cli: CliContext, plan_id: int, as_json: bool, fields: str | None) -> None:
    """``plan show``: its fields, its markdown body and its ticket drafts."""
    plan = cli.run_in_project(lambda api, slug: api.plans.get(slug, plan_id))
    output = cli.output(as_json, fields)
    output.item(plan, PLAN_FIELDS, body=plan["body"] or None)
    if not output.as_json:
        show_drafts(output, plan["drafts"])
