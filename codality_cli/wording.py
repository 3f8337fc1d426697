"""The server's error messages in the CLI's words.

The API names request fields (``comments.0.path``), body values (``init: true``) and endpoints
(``POST /api/me/ssh-key``), which is right for API clients and meaningless to someone who typed
a command. ``cli_message`` rewrites them into options and commands once, where ``CliContext.run``
turns an ``ApiError`` into a ``CliError``, so no command has to.
"""

from __future__ import annotations

import re

from .errors import ExitCode, exit_code_for_status

# Whole phrases that name an API detail, and what to say instead.
PHRASES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"pass init: true to "), "pass --init to "),
    (
        re.compile(r"browse folders with browse\?path=\S*"),
        "list a folder with `codality project browse PATH`",
    ),
    (
        re.compile(r"(?:generate|make) one with POST /api/me/ssh-key"),
        "make one with `codality me ssh-key --generate`",
    ),
    (re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) /api/\S+"), "the server"),
]

# Pydantic's wording of common checks.
CHECKS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^String should have at least 1 character$"), "must not be empty"),
    (re.compile(r"^String should have at least (\d+) characters$"), r"needs \1 characters or more"),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"takes at most \1 characters"),
    (re.compile(r"^Input should be greater than or equal to (\S+)$"), r"must be \1 or more"),
    (re.compile(r"^Input should be greater than (\S+)$"), r"must be more than \1"),
    (re.compile(r"^Input should be less than or equal to (\S+)$"), r"must be \1 or less"),
    (re.compile(r"^Input should be a valid integer.*$"), "must be a whole number"),
    (re.compile(r"^Field required$"), "is required"),
    (re.compile(r"^List should have at least 1 item.*$"), "must not be an empty list"),
    (re.compile(r"^unknown field$"), "is not known here"),
]

# Request fields, by the option (or thing) a person gave.
FIELDS: dict[str, str] = {
    "title": "the title",
    "description": "the description (--body)",
    "body": "the body (--message)",
    "kind": "--kind",
    "priority": "--priority",
    "assignee": "--assignee",
    "assignee_id": "--assignee",
    "default_branch": "--default-branch",
    "protected_main": "--protected-main",
    "path": "the path",
    "url": "--clone",
    "name": "the name",
    "email": "the e-mail",
    "q": "the search",
    "limit": "--limit",
    "max_parallel": "--max-parallel",
    "merge_each": "--merge-each",
    "tickets": "the tickets",
    "content": "the message",
    "message": "the message",
    "installation_id": "the installation id",
    "role": "the role",
}

_FIELD_PREFIX = re.compile(
    r"^(?P<field>[a-z_]+(?:(?:\.\d+|\[\d+\])?\.[a-z_]+)*): (?P<rest>.*)$", re.DOTALL
)
# Bad input that names something missing: "not found" (3), like a missing ticket anywhere else.
_MISSING = re.compile(r"\bno (?:user|ticket|project) with\b|\bhas no ticket #")
_DRAFT_COMMENT = re.compile(r"^comments\.(\d+)\.(path|line)$")


def _field_words(field: str) -> str | None:
    """The CLI's name for a request field, or None when it has none to offer."""
    comment = _DRAFT_COMMENT.match(field)
    if comment:
        return f"--line comment {int(comment.group(1)) + 1}"
    if any(c.isdigit() for c in field):
        return None
    return FIELDS.get(field.rsplit(".", 1)[-1])  # ``edits.tickets``: the tickets


def cli_message(message: str) -> str:
    """``message`` with request fields, body values and endpoints put in CLI terms."""
    for pattern, replacement in PHRASES:
        message = pattern.sub(replacement, message)
    unknown_setting = re.fullmatch(r"(\S+): unknown setting", message)
    if unknown_setting:
        return (
            f"unknown setting {unknown_setting.group(1)!r}; `codality settings defaults` lists them"
        )
    prefixed = _FIELD_PREFIX.match(message)
    if not prefixed:
        return message
    field, rest = prefixed.group("field"), prefixed.group("rest")
    for pattern, replacement in CHECKS:
        if pattern.match(rest):
            rest = pattern.sub(replacement, rest)
            break
    words = _field_words(field)
    if words is None:
        return f"{field}: {rest}"
    if rest.startswith(("must ", "needs ", "takes ", "is ")):
        return f"{words} {rest}"
    if words.startswith("the ") and not rest.startswith(("at most", "at least")):
        return rest  # it names the value itself ("/src is not a git repository; …")
    return f"{words}: {rest}"


def cli_exit_code(status: int, code: str, message: str, field: str | None = None) -> ExitCode:
    """The exit code of an API failure: bad input is a usage error (2) like a bad option, and a
    person or ticket that does not exist is "not found" (3) even where the server calls it
    bad input. A missing server setting (an environment name such as ``ANTHROPIC_API_KEY``) is
    no fault of the command line: an error (1)."""
    if _MISSING.search(message):
        return ExitCode.NOT_FOUND
    if code == "invalid_input" and not (field and field.isupper()):
        return ExitCode.USAGE
    return exit_code_for_status(status)


# The framework's wording of a bad option value.
USAGE: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"(-?\d+(?:\.\d+)?) is not in the range x>=(-?\d+(?:\.\d+)?)\.?"),
        r"\1 is too small: at least \2",
    ),
    (
        re.compile(r"(-?\d+(?:\.\d+)?) is not in the range x<=(-?\d+(?:\.\d+)?)\.?"),
        r"\1 is too large: at most \2",
    ),
    (re.compile(r"(\S+) is not a valid int(?: range)?\.?"), r"\1 is not a whole number"),
    (re.compile(r"(\S+) is not a valid float(?: range)?\.?"), r"\1 is not a number"),
]


def usage_message(message: str) -> str:
    """A usage error from the command-line parser, lower-cased and in plain words."""
    for pattern, replacement in USAGE:
        message = pattern.sub(replacement, message)
    return message[:1].lower() + message[1:]
