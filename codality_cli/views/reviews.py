"""A ticket's diff: ``ticket diff [--stat]``, and why a ticket has none (``no_work``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from ..errors import CliError, ExitCode, exit_code_for_status
from ..output import Column

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Diff, MergeDiff, NotShownFile, Stats
    from ..context import CliContext
    from ..streams import Streams

STAT_COLUMNS = [
    Column("path", "path"),
    Column("status", "status"),
    Column("+", "insertions"),
    Column("-", "deletions"),
    Column("binary", "binary"),
]
T = TypeVar("T")
ProjectCall = Callable[["ApiClient", str], Awaitable[T]]
_COLOURS = (("diff --git", "1"), ("@@", "36"), ("+++", "1"), ("---", "1"), ("+", "32"), ("-", "31"))


def colourise(patch: str) -> str:
    """ANSI colours per line, as ``git diff`` shows them on a terminal."""
    lines = []
    for line in patch.splitlines(keepends=True):
        code = next((c for prefix, c in _COLOURS if line.startswith(prefix)), None)
        lines.append(f"\x1b[{code}m{line.rstrip(chr(10))}\x1b[0m\n" if code else line)
    return "".join(lines)


def show_patch(streams: Streams, found: Diff | MergeDiff) -> None:
    """Plain when piped; on the real terminal coloured and paged with ``$PAGER``. The files too
    large to show are then named on stderr, with their counts and why."""
    patch, not_shown = found["diff"], found.get("not_shown", [])
    if not patch and not not_shown:
        streams.message("no changes")
        return
    if patch:
        _page(streams, patch)
    if not_shown:
        streams.message(not_shown_note(not_shown))


def not_shown_note(files: Sequence[NotShownFile]) -> str:
    """The files a diff names without their changes, in words (the counts of each are right)."""
    many = len(files) > 1
    lines = [
        f"{len(files)} {'files are' if many else 'file is'} too large to show here"
        f" ({'their' if many else 'its'} changes are counted, not shown):"
    ]
    for file in files:
        lines.append(
            f"  {file['path']} ({file['status']}, +{file['insertions']} -{file['deletions']}):"
            f" {file['message']}"
        )
    return "\n".join(lines)


def _page(streams: Streams, patch: str) -> None:
    text = colourise(patch) if streams.color else patch
    pager = os.environ.get("PAGER", "less -FRX")
    if streams.out_tty and streams.out is sys.stdout and pager.strip():
        import shlex
        import subprocess

        try:
            subprocess.run(shlex.split(pager), input=text, text=True, check=False)
            return
        except OSError:
            pass  # no such pager: print instead
    streams.write(text)


def show_stats(cli: CliContext, stats: Stats, as_json: bool, fields: str | None) -> None:
    if as_json or fields:
        cli.output(True, fields).json(stats)
        return
    cli.output(False).items(stats["files"], STAT_COLUMNS)
    cli.streams.message(
        f"{stats['files_changed']} file(s) changed, {stats['insertions']} insertion(s)(+),"
        f" {stats['deletions']} deletion(s)(-)"
    )


async def no_work(api: ApiClient, slug: str, number: int, code: ExitCode) -> CliError:
    """Why a ticket has no branch to diff or act on, as the command to run next.

    Merged: its diff is kept (``--merged``); discarded: the agent can start afresh; else the
    agent never ran.
    """
    from ..ticket_work import work_outcome

    status = await api.agent.status(slug, number)
    outcome = await work_outcome(api, slug, number, status["sessions"])
    if outcome is None:
        message = (
            f"ticket #{number} has no work yet; start the agent with"
            f" `codality ticket start {number}`"
        )
    elif outcome == "discarded":
        message = (
            f"the work on ticket #{number} was discarded (its tip is kept under"
            f" refs/codality/discarded/); start afresh with `codality ticket start {number}`"
        )
    else:
        message = (
            f"the work on ticket #{number} was {outcome} — see"
            f" `codality ticket diff {number} --merged`"
        )
    return CliError(message, code)


def explained(call: ProjectCall[T], number: int) -> ProjectCall[T]:
    """``call`` for a ticket's branch; without one (404, or 409 ``no_work``) the error says
    what became of the work (``no_work``)."""
    from ..api import ApiError

    async def wrapped(api: ApiClient, slug: str) -> T:
        try:
            return await call(api, slug)
        except ApiError as exc:
            branchless = exc.status == 404 and "no branch" in exc.message
            if branchless or exc.details.get("reason") == "no_work":
                code = exit_code_for_status(exc.status)
                raise await no_work(api, slug, number, code) from exc
            raise

    return wrapped


def diff(
    cli: CliContext, number: int, stat: bool, committed: bool, as_json: bool, fields: str | None
) -> None:
    """``ticket diff``: the patch (or ``--stat``) against the merge base with the default branch."""
    if stat:
        stats = cli.run_in_project(
            explained(lambda api, slug: api.reviews.diff_stats(slug, number, committed), number)
        )
        show_stats(cli, stats, as_json, fields)
        return
    found = cli.run_in_project(
        explained(lambda api, slug: api.reviews.diff(slug, number, committed), number)
    )
    if as_json or fields:
        cli.output(True, fields).json(found)
    else:
        show_patch(cli.streams, found)
