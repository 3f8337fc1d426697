"""Rendering: a rich table on a terminal, tab-separated lines when piped, the API's JSON on demand.

Every list/show command goes through ``Output.items``/``Output.item`` so the contract holds
everywhere: ``--json`` prints the API's objects unchanged (optionally only ``--fields``), TSV rows
carry ISO-8601 times and no decoration, and nothing but data reaches stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .errors import CliError, ExitCode
from .streams import Streams

if TYPE_CHECKING:
    from datetime import datetime

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON objects instead of a table.")
]
FieldsOption = Annotated[
    str | None,
    typer.Option(
        "--fields",
        metavar="F1,F2",
        help="With --json (implied): keep only these comma-separated fields.",
    ),
]

YesOption = Annotated[
    bool,
    typer.Option("-y", "--yes", help="Do not ask for confirmation (required without a terminal)."),
]


@dataclass(frozen=True)
class Column:
    """One column: its header and the (dotted) key it shows, or a function of the object.

    ``truncate``: in a terminal's table this column gives way when the rows are too wide, cut
    short with "…" on one line (a title); the others then keep their width. Never in JSON/TSV.
    """

    header: str
    key: str
    get: Callable[[dict[str, Any]], Any] | None = None
    truncate: bool = False

    def value(self, obj: dict[str, Any]) -> Any:
        if self.get is not None:
            return self.get(obj)
        return pick(obj, self.key)


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
    return plain(value)


class Output:
    """One command's output mode, bound to its streams."""

    def __init__(self, streams: Streams, as_json: bool = False, fields: str | None = None) -> None:
        self.streams = streams
        self.fields = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        self.as_json = as_json or self.fields is not None

    def select(self, obj: Any) -> Any:
        """Only the ``--fields`` of an object (all of it without them)."""
        if self.fields is None or not isinstance(obj, dict):
            return obj
        missing = [f for f in self.fields if f not in obj]
        if missing:
            raise CliError(
                f"unknown field {', '.join(missing)}; available: {', '.join(sorted(obj))}",
                ExitCode.USAGE,
            )
        return {f: obj[f] for f in self.fields}

    def json(self, data: Any) -> None:
        """Pretty JSON with a trailing newline; the same shape whatever stdout is."""
        self.streams.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def items(self, rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> None:
        if self.as_json:
            self.json([self.select(row) for row in rows])
            return
        if not self.streams.out_tty:
            for row in rows:
                self.streams.write("\t".join(plain(c.value(row)) for c in columns) + "\n")
            return
        if not rows:
            self.streams.message("nothing to show")
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold", pad_edge=False)
        shrinks = any(c.truncate for c in columns)
        for column in columns:
            # Only the truncating column may shrink; its cells stay one line, cut with "…".
            table.add_column(column.header.upper(), no_wrap=shrinks and not column.truncate)
        for row in rows:
            table.add_row(
                *(
                    Text(human(c.value(row), c.key), no_wrap=True, overflow="ellipsis")
                    if c.truncate
                    else human(c.value(row), c.key)
                    for c in columns
                )
            )
        self.streams.console().print(table)

    def item(self, obj: dict[str, Any], columns: Sequence[Column], body: str | None = None) -> None:
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
