"""How a ticket's work is named wherever git or GitHub shows it: PR titles, merge commits and
the agent's commits all read ``add() subtracts [codality-1]``."""

from __future__ import annotations

SUBJECT_MAX_CHARS = 72
# The author and committer of what the agent (or no user) commits on a ticket's branch.
AGENT_IDENTITY = ("Codality Agent", "agent@codality.invalid")


def ticket_key(number: int) -> str:
    """How a ticket is named in git and on GitHub: ``codality-7``. Never ``#7``, which GitHub
    links to its own issue or PR 7 (and a squash merge adds the PR's ``(#N)`` after the title);
    a fixed prefix and a number is also the form GitHub's autolink references can turn into a
    link."""
    return f"codality-{number}"


def work_subject(title: str, number: int, limit: int | None = None) -> str:
    """The ticket's title, then its key in brackets: ``add() subtracts [codality-1]``. With a
    ``limit`` (a commit subject's 72 characters) the title is shortened, never the key."""
    key = f" [{ticket_key(number)}]"
    text = title.strip()
    if limit is not None and len(text) + len(key) > limit:
        text = text[: max(limit - len(key) - 1, 1)].rstrip() + "…"
    return f"{text}{key}"
