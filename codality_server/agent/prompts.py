"""The agent's system prompt, first message and reasoning budget, all from the settings.

System prompt order (codality-docs.md §5.3): base identity, the ticket kind's methodology, the
priority's approach, the general approach, the tool list, the git rules, then the repository's
own ``AGENTS.md`` / ``CLAUDE.md``. Reasoning effort comes from the priority unless the kind
overrides it, and maps to an extended-thinking budget; temperature likewise (kind over priority
over the global setting). The Messages API refuses a temperature with thinking enabled, so a
temperature is only sent when thinking is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codality_server.domain.projects import Project
from codality_server.domain.tickets import Ticket

REPO_INSTRUCTION_FILES = ("AGENTS.md", "CLAUDE.md")
REPO_INSTRUCTION_LIMIT = 20 * 1024
THINKING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
MIN_THINKING_BUDGET = 1024


@dataclass(frozen=True)
class Reasoning:
    thinking_budget: int | None
    temperature: float | None


def reasoning(settings: dict[str, Any], ticket: Ticket, max_tokens: int) -> Reasoning:
    """Thinking budget and temperature for this ticket's kind and priority."""
    kind = settings["kinds"].get(ticket.kind.value, {})
    priority = settings["priorities"].get(ticket.priority.value, {})
    effort = kind.get("reasoning_effort") or priority.get("reasoning_effort")
    temperature = kind.get("temperature")
    if temperature is None:
        temperature = priority.get("temperature")
    if temperature is None:
        temperature = settings.get("temperature")
    budget = THINKING_BUDGETS.get(effort or "")
    if budget is not None:
        # The budget must stay below max_tokens so the answer itself has room.
        budget = min(budget, max_tokens // 2)
        if budget < MIN_THINKING_BUDGET:
            budget = None
    return Reasoning(budget, None if budget else temperature)


def repository_instructions(worktree: Path) -> str:
    """The repository's own agent instructions, each file capped."""
    parts = []
    for name in REPO_INSTRUCTION_FILES:
        path = worktree / name
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes()[:REPO_INSTRUCTION_LIMIT].decode("utf-8", "replace")
            parts.append(f"# Repository instructions from {name}\n\n{text.strip()}")
    return "\n\n".join(parts)


def system_prompt(
    settings: dict[str, Any], ticket: Ticket, tool_lines: str, worktree: Path, branch: str
) -> str:
    prompts = settings["prompts"]
    kind = settings["kinds"].get(ticket.kind.value, {})
    priority = settings["priorities"].get(ticket.priority.value, {})
    sections = [
        prompts.get("base_identity", ""),
        f"# Ticket kind: {kind.get('label', ticket.kind.value)}\n\n{kind.get('prompt', '')}",
        f"# Priority: {priority.get('label', ticket.priority.value)}\n\n"
        f"{priority.get('prompt', '')}",
        prompts.get("approach", ""),
        f"{prompts.get('tool_availability', '')}\n\nTool reference:\n{tool_lines}",
        f"{prompts.get('git_workflow', '')}\n\nYou are on branch `{branch}`.",
        repository_instructions(worktree),
    ]
    return "\n\n".join(section.strip() for section in sections if section.strip())


def first_message(
    project: Project,
    ticket: Ticket,
    comments: list[dict[str, Any]],
    trigger: str,
    context: str | None,
) -> str:
    """Title, description, comments, then what triggered this run."""
    lines = [
        f"# Ticket #{ticket.number}: {ticket.title}",
        f"Project: {project.name} · kind: {ticket.kind.value} · priority: "
        f"{ticket.priority.value} · default branch: {project.default_branch}",
        "",
        ticket.description.strip() or "(no description)",
    ]
    if comments:
        lines += ["", "## Comments"]
        for comment in comments:
            author = comment.get("author") or {}
            who = "agent" if comment.get("author_kind") == "agent" else author.get("name", "user")
            lines += ["", f"**{who}** ({comment.get('created_at', '')}):", comment["body"]]
    if context:
        heading = {"manual": "Message from the user"}.get(trigger, f"Context ({trigger})")
        lines += ["", f"## {heading}", "", context.strip()]
    lines += [
        "",
        "Work on this ticket now. When you are done, end with a short summary of what you "
        "changed and how you verified it.",
    ]
    return "\n".join(lines)
