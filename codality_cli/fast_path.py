"""The read commands, run straight from argv without the CLI framework.

Importing typer (with its click) and building a command costs ~40 ms of a command that
otherwise takes ~50: the read commands people and scripts run most — ``ticket list | show |
status | diff | runs``, ``queue list | show``, ``plan list | show`` and the completion helper —
are parsed here and run through the same code the typer commands call (``views/``), so they
print the same bytes. Whatever this parser does not fully understand (help, ``--``, an unknown
or repeated option, a value the command would refuse) is left to the full CLI, which answers it
with its own messages: ``run`` then returns False having done nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .context import CliContext

# The root command's options, allowed before the noun and after it (``main.hoist_global_options``).
GLOBAL_VALUES = {
    "--server": "server",
    "--data-dir": "data_dir",
    "-p": "project",
    "--project": "project",
    "--ca-cert": "ca_cert",
}
GLOBAL_FLAGS = {"--no-color": "no_color"}
OUTPUT_VALUES = {"--fields": "fields"}
OUTPUT_FLAGS = {"--json": "json"}
BAIL = ("-h", "--help", "--version", "--")


class Parsed(NamedTuple):
    """One command line: the global options, the command's options and its arguments."""

    words: tuple[str, ...]
    globals: dict[str, str | bool]
    options: dict[str, list[str] | bool]
    arguments: list[str]


def number(text: str, least: int = 1) -> int | None:
    """An ASCII whole number of at least ``least`` (what ``typer.Argument(min=…)`` accepts and
    means by it), else None."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value >= least else None


class Command(NamedTuple):
    """What a read command takes, and how it runs once parsed."""

    arguments: int
    values: dict[str, str]
    flags: dict[str, str]
    run: Callable[[CliContext, Parsed], bool]  # False: a value it would refuse (slow path)
    repeatable: frozenset[str] = frozenset()


def _one(parsed: Parsed, name: str) -> str | None:
    found = parsed.options.get(name)
    return found[-1] if isinstance(found, list) else None


def _all(parsed: Parsed, name: str) -> list[str]:
    found = parsed.options.get(name)
    return found if isinstance(found, list) else []


def _json(parsed: Parsed) -> tuple[bool, str | None]:
    return parsed.options.get("json") is True, _one(parsed, "fields")


def _ticket_list(cli: CliContext, parsed: Parsed) -> bool:
    from .views import tickets as t

    try:
        limit, offset = _one(parsed, "limit"), _one(parsed, "offset")
        query = t.ListQuery(
            state=t.State(s) if (s := _one(parsed, "state")) is not None else None,
            status=[t.Status(s) for s in _all(parsed, "status")] or None,
            kind=t.Kind(k) if (k := _one(parsed, "kind")) is not None else None,
            priority=t.Priority(p) if (p := _one(parsed, "priority")) is not None else None,
            search=_one(parsed, "search"),
            sort=t.Sort(_one(parsed, "sort") or "number"),
            order=t.Order(o) if (o := _one(parsed, "order")) is not None else None,
            limit=number(limit) if limit is not None else None,
            offset=number(offset, 0) if offset is not None else None,
        )
    except ValueError:
        return False
    if (limit is not None and query.limit is None) or (offset is not None and query.offset is None):
        return False
    t.list_tickets(cli, query, *_json(parsed))
    return True


def _numbered(show: Callable[[CliContext, int, bool, str | None], None]) -> Callable[..., bool]:
    """A command of one ticket (or plan) number and the output options."""

    def run(cli: CliContext, parsed: Parsed) -> bool:
        which = number(parsed.arguments[0])
        if which is None:
            return False
        show(cli, which, *_json(parsed))
        return True

    return run


def _ticket_show(cli: CliContext, number_: int, as_json: bool, fields: str | None) -> None:
    from .views.tickets import show

    show(cli, number_, as_json, fields)


def _ticket_status(cli: CliContext, number_: int, as_json: bool, fields: str | None) -> None:
    from .views.tickets import show_status

    show_status(cli, number_, as_json, fields)


def _ticket_runs(cli: CliContext, number_: int, as_json: bool, fields: str | None) -> None:
    from .views.runs import runs

    runs(cli, number_, as_json, fields)


def _plan_show(cli: CliContext, number_: int, as_json: bool, fields: str | None) -> None:
    from .views.plans import show

    show(cli, number_, as_json, fields)


def _ticket_diff(cli: CliContext, parsed: Parsed) -> bool:
    from .views.reviews import diff

    which = number(parsed.arguments[0])
    if which is None:
        return False
    diff(cli, which, parsed.options.get("stat") is True, parsed.options.get("committed") is True,
         *_json(parsed))  # fmt: skip
    return True


def _queue_show(cli: CliContext, parsed: Parsed) -> bool:
    from .views.queues import show

    show(cli, parsed.arguments[0], *_json(parsed))
    return True


def _listing(name: str) -> Callable[[CliContext, Parsed], bool]:
    def run(cli: CliContext, parsed: Parsed) -> bool:
        if name == "queues":
            from .views.queues import list_queues as listing
        else:
            from .views.plans import list_plans as listing
        listing(cli, *_json(parsed))
        return True

    return run


def _complete(cli: CliContext, parsed: Parsed) -> bool:
    from .candidates import print_candidates

    print_candidates(cli, parsed.arguments[0])
    return True


TICKET_LIST_VALUES = {
    "--state": "state",
    "-s": "status",
    "--status": "status",
    "--kind": "kind",
    "--priority": "priority",
    "-S": "search",
    "--search": "search",
    "--sort": "sort",
    "--order": "order",
    "--limit": "limit",
    "--offset": "offset",
}
TICKET_LIST = Command(
    0, {**TICKET_LIST_VALUES, **OUTPUT_VALUES}, OUTPUT_FLAGS, _ticket_list, frozenset({"status"})
)
COMMANDS: dict[tuple[str, ...], Command] = {
    ("ticket", "list"): TICKET_LIST,
    ("ticket", "ls"): TICKET_LIST,
    ("ticket", "show"): Command(1, OUTPUT_VALUES, OUTPUT_FLAGS, _numbered(_ticket_show)),
    ("ticket", "view"): Command(1, OUTPUT_VALUES, OUTPUT_FLAGS, _numbered(_ticket_show)),
    ("ticket", "status"): Command(1, OUTPUT_VALUES, OUTPUT_FLAGS, _numbered(_ticket_status)),
    ("ticket", "runs"): Command(1, OUTPUT_VALUES, OUTPUT_FLAGS, _numbered(_ticket_runs)),
    ("ticket", "diff"): Command(
        1,
        OUTPUT_VALUES,
        {**OUTPUT_FLAGS, "--stat": "stat", "--committed": "committed"},
        _ticket_diff,
    ),
    ("queue", "list"): Command(0, OUTPUT_VALUES, OUTPUT_FLAGS, _listing("queues")),
    ("queue", "show"): Command(1, OUTPUT_VALUES, OUTPUT_FLAGS, _queue_show),
    ("plan", "list"): Command(0, OUTPUT_VALUES, OUTPUT_FLAGS, _listing("plans")),
    ("plan", "show"): Command(1, OUTPUT_VALUES, OUTPUT_FLAGS, _numbered(_plan_show)),
    ("__complete",): Command(1, {}, {}, _complete),
}


def parse(argv: list[str]) -> tuple[Command, Parsed] | None:
    """The read command ``argv`` runs, parsed; None when it is not one this parser knows whole."""
    words: list[str] = []
    globals_: dict[str, str | bool] = {}
    options: dict[str, list[str] | bool] = {}
    arguments: list[str] = []
    command: Command | None = None
    tokens = iter(argv)
    for token in tokens:
        if token in BAIL:
            return None
        if not token.startswith("-") or token == "-":
            if command is None:
                words.append(token)
                command = COMMANDS.get(tuple(words))
                if command is None and len(words) == 2:
                    return None
            else:
                arguments.append(token)
            continue
        name, inline = (token.partition("=")[::2]) if token.startswith("--") else (token[:2], "")
        if not token.startswith("--") and len(token) > 2:
            inline = token[2:]
        has_inline = inline != "" or token.endswith("=")
        values = {**GLOBAL_VALUES, **(command.values if command else {})}
        flags = {**GLOBAL_FLAGS, **(command.flags if command else {})}
        if name in flags:
            key = flags[name]
            if has_inline or key in globals_ or key in options:
                return None
            (globals_ if name in GLOBAL_FLAGS else options)[key] = True
            continue
        if name not in values:
            return None
        value = inline if has_inline else next(tokens, None)
        if not value or value.startswith("-"):
            return None
        key = values[name]
        if name in GLOBAL_VALUES:
            if key in globals_:
                return None
            globals_[key] = value
            continue
        assert command is not None
        taken = options.setdefault(key, [])
        if not isinstance(taken, list) or (taken and key not in command.repeatable):
            return None
        taken.append(value)
    if command is None or len(arguments) != command.arguments:
        return None
    return command, Parsed(tuple(words), globals_, options, arguments)


def run(argv: list[str]) -> bool:
    """Run ``argv`` when it is a read command this module knows; False to leave it to typer."""
    parsed = parse(argv)
    if parsed is None:
        return False
    command, line = parsed
    from pathlib import Path

    from .context import CliContext
    from .errors import CliError, ExitCode
    from .settings import CliSettings, check_server_url
    from .streams import Streams

    def path(key: str) -> Path | None:
        value = line.globals.get(key)
        return Path(value) if isinstance(value, str) else None

    server = line.globals.get("server")
    project = line.globals.get("project")
    try:
        settings = CliSettings.load(
            data_dir=path("data_dir"),
            server=server if isinstance(server, str) else None,
            project=project if isinstance(project, str) else None,
            no_color=line.globals.get("no_color") is True,
            ca_cert=path("ca_cert"),
        )
        if settings.remote_url is not None:
            check_server_url(settings.remote_url, "--server" if server else "CODALITY_URL")
        if settings.ca_cert is not None and not settings.ca_cert.is_file():
            raise CliError(f"--ca-cert: no such file {settings.ca_cert}", ExitCode.USAGE)
        cli = CliContext(settings, Streams.system(settings.no_color))
        cli.command = " ".join(line.words)
        return command.run(cli, line)
    except CliError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence, as in ``main.run``
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        sys.exit(ExitCode.ERROR)
