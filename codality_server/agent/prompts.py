"""The ticket agent's system prompt, first message and reasoning budget, all from the settings.

System prompt order (codality-docs.md §5.3): base identity, the ticket kind's methodology, the
priority's approach, the general approach, the tools (listed from the session's toolbox by
``tool_section``, which every kind's prompt uses), the git rules, then the repository's own
``AGENTS.md`` / ``CLAUDE.md``. Reasoning effort comes from the priority unless the kind
overrides it, and maps to an extended-thinking budget; temperature likewise (kind over priority
over the global setting). The Messages API refuses a temperature with thinking enabled, so a
temperature is only sent when thinking is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codality_server.domain.projects import Project
from codality_server.domain.settings import KindConfig, PriorityConfig, Settings
from codality_server.domain.tickets import Ticket

from .tools import Toolbox

REPO_INSTRUCTION_FILES = ("AGENTS.md", "CLAUDE.md")
REPO_INSTRUCTION_LIMIT = 20 * 1024
THINKING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
MIN_THINKING_BUDGET = 1024


@dataclass(frozen=True)
class Reasoning:
    thinking_budget: int | None
    temperature: float | None


def _configs(settings: Settings, ticket: Ticket) -> tuple[KindConfig, PriorityConfig]:
    kind: KindConfig = getattr(settings.kinds, ticket.kind.value)
    priority: PriorityConfig = getattr(settings.priorities, ticket.priority.value)
    return kind, priority


def reasoning(settings: Settings, ticket: Ticket) -> Reasoning:
    """Thinking budget and temperature for this ticket's kind and priority."""
    kind, priority = _configs(settings, ticket)
    effort = kind.reasoning_effort or priority.reasoning_effort
    temperature = kind.temperature
    if temperature is None:
        temperature = priority.temperature
    if temperature is None:
        temperature = settings.temperature
    return thinking(effort, temperature, settings.max_tokens)


def thinking(effort: str | None, temperature: float | None, max_tokens: int) -> Reasoning:
    """A reasoning effort as a thinking budget that leaves the answer room (else none, and the
    temperature instead: the API refuses both together)."""
    budget = THINKING_BUDGETS.get(effort or "")
    if budget is not None:
        budget = min(budget, max_tokens // 2)
        if budget < MIN_THINKING_BUDGET:
            budget = None
    return Reasoning(budget, None if budget else temperature)


def tool_section(preamble: str, toolbox: Toolbox) -> str:
    """The prompt's tools: the preamble and one line per tool the session really has; a session
    without tools is told so."""
    lines = toolbox.describe()
    if not lines:
        return "You have no tools in this session: answer from the conversation alone."
    return f"{preamble}\n\nTool reference:\n{lines}".strip()


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
    settings: Settings, ticket: Ticket, toolbox: Toolbox, worktree: Path, branch: str
) -> str:
    prompts = settings.prompts
    kind, priority = _configs(settings, ticket)
    sections = [
        prompts.base_identity,
        f"# Ticket kind: {kind.label}\n\n{kind.prompt}",
        f"# Priority: {priority.label}\n\n{priority.prompt}",
        prompts.approach,
        tool_section(prompts.tool_availability, toolbox),
        f"{prompts.git_workflow}\n\nYou are on branch `{branch}`.",
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
