"""A ticket as a two-line card: number and title (after ⧗ when a work queue will run it), then
the agent badge, kind, priority, assignee, cost and the pull request with its check summary.

Cards are text drawn by a ``StatusColumn`` line by line rather than one widget each, so a board
of a thousand tickets paints only the cards in view (bench/tui_board.py).
"""

from __future__ import annotations

from rich.text import Text

from codality_cli.output import money
from codality_cli.tui.board_state import Ticket, agent_badge, pr_summary

PRIORITY_STYLES = {"urgent": "bold red", "high": "yellow", "medium": "cyan", "low": "dim"}
BADGE_STYLES = {
    "running": "bold black on green",
    "needs review": "bold black on yellow",
    "failed": "bold white on red",
    "timed out": "bold white on red",
    "interrupted": "bold black on dark_orange",
}


def render_card(ticket: Ticket) -> Text:
    """The card's text; the title is cut to one line by the column's width."""
    card = Text(no_wrap=True, overflow="ellipsis")
    if ticket.get("queued"):
        card.append("⧗ ", style="bold cyan")  # a work queue will run it (the queue panel: q)
    card.append(f"#{ticket.get('number')} ", style="bold")
    card.append(str(ticket.get("title", "")))
    card.append("\n")
    badge = agent_badge(ticket)
    if badge:  # first, so a narrow column cuts the kind rather than the agent's state
        card.append(f" {badge} ", style=BADGE_STYLES[badge])
        card.append(" ")
    card.append(str(ticket.get("kind", "")), style="italic")
    card.append(" · ")
    priority = str(ticket.get("priority", ""))
    card.append(priority, style=PRIORITY_STYLES.get(priority, ""))
    owner = assignee_label(ticket)
    if owner:
        card.append(f" · @{owner}", style="dim")
    cost = ticket.get("agent_cost_usd")
    if isinstance(cost, int | float) and cost:
        card.append(f"  {money(cost)}", style="dim")
    pr = pr_summary(ticket)
    if pr:
        card.append("  ")
        card.append(pr, style=pr_style(ticket))
    return card


def assignee_label(ticket: Ticket) -> str | None:
    """Who has the ticket: the person's name, ``agent``, or None when nobody does."""
    assignee = ticket.get("assignee")
    if assignee is None:
        return None
    if assignee == "agent":
        return "agent"
    return str(ticket.get("assignee_name") or f"user {assignee}")


def pr_style(ticket: Ticket) -> str:
    """Red while a check fails, magenta once merged, dim when closed, else green."""
    pr = ticket.get("pull_request") or {}
    if pr.get("state") == "merged":
        return "magenta"
    if pr.get("state") == "closed":
        return "dim"
    return "red" if (pr.get("checks") or {}).get("failed") else "green"
