"""Rendering: a rich table on a terminal, tab-separated lines when piped, the API's JSON on demand.

Every list/show command goes through ``Output.items``/``Output.item`` so the contract holds
everywhere: ``--json`` prints the API's objects unchanged (optionally only ``--fields``), TSV rows
carry ISO-8601 times and no decoration, and nothing but data reaches stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import CliError, ExitCode
from .states import state_words
from .streams import Streams

if TYPE_CHECKING:
    from datetime import datetime

# What to do when a list comes back empty, by "noun verb" (aliases too): said on stderr, never
# with --json (which prints ``[]``), so a person learns the next step and scripts see no change.
EMPTY_HINTS: dict[str, str] = {
    "project list": "no projects yet; add a repository with `codality project create --path DIR`",
    "ticket list": "no tickets to show; file one with `codality ticket create TITLE`",
    "ticket search": "no tickets match; try other words, or `codality ticket list`",
    "ticket comments": "no comments yet; add one with `codality ticket comment NUMBER`",
    "ticket reviews": "no reviews yet; review the work with `codality ticket review NUMBER`",
    "plan list": "no plans yet; write one with `codality plan create [TITLE]`",
    "queue list": "no queues yet; line tickets up with `codality queue create NAME NUMBER...`",
    "discover list": "no conversations yet; start one with `codality discover new`",
    "pr list": "no pull requests yet; open one with `codality pr create NUMBER`",
    "pr comments": "no comments on this pull request yet",
    "github repos": "no repositories visible; install the GitHub App on some with"
    " `codality github connect`",
    "github events": "no webhook deliveries yet",
}
EMPTY_HINTS["ticket ls"] = EMPTY_HINTS["ticket list"]


class Column(NamedTuple):
    """One column: its header and the (dotted) key it shows, or a function of the object.

    ``truncate``: in a terminal's table this column gives way when the rows are too wide, cut
    short with "…" on one line (a title); the others then keep their width. Never in JSON/TSV.
    ``minor``: on a terminal too narrow for every column, minor ones are left out (highest
    first, and first of all those with nothing to show) before a truncating column gets less
    than ``TITLE_ROOM`` characters — as ``gh`` does. JSON and TSV always have every column.
    """

    header: str
    key: str
    get: Callable[[Any], Any] | None = None  # a row of whatever model the table shows
    truncate: bool = False
    minor: int = 0

    def value(self, obj: Mapping[str, Any]) -> Any:
        if self.get is not None:
            return self.get(obj)
        return pick(obj, self.key)


# What a truncating column (a title) keeps on a narrow terminal before minor columns give way.
TITLE_ROOM = 50
GAP = 2  # between two columns of a table


def money(value: Any) -> str:
    """A cost to the hundredth of a cent — agent runs cost cents: ``$0.0042``. The CLI's
    tables, the board's cards and the TUI's run lists all show it so."""
    return f"${float(value or 0):.4f}"


def fitting(columns: Sequence[Column], cells: list[list[str]], width: int) -> list[int]:
    """The indexes of ``columns`` to show in ``width`` characters, given each column's cells.

    Minor columns are dropped — empty ones first, then the most minor — until the rest fit
    with every truncating column at ``TITLE_ROOM`` (or its whole width, when less).
    """
    from rich.cells import cell_len

    def wanted(index: int) -> int:
        column = columns[index]
        natural = max(cell_len(column.header), *(cell_len(c) for c in cells[index]))
        return min(natural, TITLE_ROOM) if column.truncate else natural

    kept = list(range(len(columns)))
    empty = {i for i in kept if all(c == "-" for c in cells[i])}
    droppable = sorted(
        (i for i in kept if columns[i].minor), key=lambda i: (i in empty, columns[i].minor)
    )
    while droppable and sum(map(wanted, kept)) + GAP * (len(kept) - 1) > width:
        kept.remove(droppable.pop())
    return kept


def pick(obj: Any, dotted: str) -> Any:
    """``pick({"a": {"b": 1}}, "a.b") == 1``; missing keys give None."""
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def relative_time(iso: str, now: datetime | None = None) -> str:
    """``2024-05-01T10:00:00Z`` → ``3h ago`` for humans; unparsable text is returned as is."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in ((86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return iso


def _looks_like_time(key: str) -> bool:
    return key.endswith("_at")


def _names_a_state(key: str) -> bool:
    """``status``, ``agent_status``, ``state``, ``review_state``: shown in words on a terminal."""
    return key.endswith(("status", "state"))


def plain(value: Any) -> str:
    """A value as TSV text: empty for null, lower-case booleans, compact JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value).replace("\t", " ").replace("\n", " ")


def human(value: Any, key: str) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and _looks_like_time(key):
        return relative_time(value)
    if isinstance(value, str) and _names_a_state(key):
        return state_words(value)
    return plain(value)


class Output:
    """One command's output mode, bound to its streams."""

    def __init__(
        self,
        streams: Streams,
        as_json: bool = False,
        fields: str | None = None,
        empty_hint: str | None = None,
    ) -> None:
        """``empty_hint``: what to do next, said on stderr when a list is empty."""
        self.streams = streams
        self.empty_hint = empty_hint
        self.fields = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        self.as_json = as_json or self.fields is not None

    def select(self, obj: Any) -> Any:
        """Only the ``--fields`` of an object (all of it without them)."""
        if self.fields is None or not isinstance(obj, dict):
            return obj
        missing = [f for f in self.fields if f not in obj]
        if missing:
            raise CliError(
                f"--fields: no field {', '.join(missing)}; available: {', '.join(sorted(obj))}",
                ExitCode.USAGE,
            )
        return {f: obj[f] for f in self.fields}

    def json(self, data: Any) -> None:
        """Pretty JSON with a trailing newline; the same shape whatever stdout is."""
        self.streams.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def items(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> None:
        if self.as_json:
            self.json([self.select(row) for row in rows])
            return
        if not rows:
            if self.empty_hint is not None:
                self.streams.message(self.empty_hint)
            elif self.streams.out_tty:
                self.streams.message("nothing to show")
            return
        if not self.streams.out_tty:
            for row in rows:
                self.streams.write("\t".join(plain(c.value(row)) for c in columns) + "\n")
            return
        from rich.table import Table
        from rich.text import Text

        console = self.streams.console()
        cells = [[human(c.value(row), c.key) for row in rows] for c in columns]
        shown = fitting(columns, cells, console.width)
        table = Table(box=None, header_style="bold", pad_edge=False)
        shrinks = any(c.truncate for c in columns)
        for index in shown:
            column = columns[index]
            # Only the truncating column may shrink; its cells stay one line, cut with "…".
            table.add_column(column.header.upper(), no_wrap=shrinks and not column.truncate)
        for at in range(len(rows)):
            table.add_row(
                *(
                    Text(cells[i][at], no_wrap=True, overflow="ellipsis")
                    if columns[i].truncate
                    else cells[i][at]
                    for i in shown
                )
            )
        console.print(table)

    def item(
        self, obj: Mapping[str, Any], columns: Sequence[Column], body: str | None = None
    ) -> None:
        """One object as ``field: value`` lines (tab-separated when piped), then a body."""
        if self.as_json:
            self.json(self.select(obj))
            return
        if not self.streams.out_tty:
            for column in columns:
                self.streams.write(f"{column.header}:\t{plain(column.value(obj))}\n")
            if body:
                self.streams.write("--\n" + body.rstrip("\n") + "\n")
            return
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for column in columns:
            table.add_row(column.header, human(column.value(obj), column.key))
        console = self.streams.console()
        console.print(table)
        if body:
            from rich.markdown import Markdown

            console.print()
            console.print(Markdown(body))

    def done(self, message: str, obj: Any = None) -> None:
        """A mutation's result: its JSON with ``--json``, else a confirmation on stderr."""
        if self.as_json:
            self.json(self.select(obj) if obj is not None else {})
        else:
            self.streams.message(message)
