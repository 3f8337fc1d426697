"""``codality ticket diff | review | reviews | merge | push | discard | merge-diff | checkout``.

Diffs go to stdout: coloured and through ``$PAGER`` when stdout is the terminal, plain when
piped. A refused merge prints its reason and the conflicting files and exits 6 (conflict).
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption, YesOption
from ..output import Column
from ..views import reviews as views
from ..views.reviews import explained, no_work, show_patch, show_stats
from .ticket import NumberArgument, ticket_app

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Merged, Ticket

REVIEW_COLUMNS = [
    Column("id", "id"),
    Column("state", "state"),
    Column("author", "user_name", lambda r: r.get("user_name") or r.get("user_id")),
    Column("comments", "comments", lambda r: len(r.get("comments") or [])),
    Column("created", "created_at"),
    Column("body", "body", lambda r: (r.get("body") or "").strip().split("\n")[0]),
]
StatOption = Annotated[bool, typer.Option("--stat", help="Files changed with +/- counts.")]


@ticket_app.command("diff")
def diff(
    ctx: typer.Context,
    number: NumberArgument,
    stat: StatOption = False,
    merged: Annotated[
        bool, typer.Option("--merged", help="The diff captured when the ticket was merged.")
    ] = False,
    committed: Annotated[
        bool, typer.Option("--committed", help="Leave uncommitted worktree changes out.")
    ] = False,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """The ticket's changes against its merge base with the default branch (--merged: the diff
    its merge brought in)."""
    if merged:
        merge_diff(ctx, number, stat, as_json, fields)
        return
    views.diff(CliContext.of(ctx), number, stat, committed, as_json, fields)


@ticket_app.command("merge-diff")
def merge_diff(
    ctx: typer.Context,
    number: NumberArgument,
    stat: StatOption = False,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """The diff the ticket's merge brought into the default branch (kept after cleanup)."""
    cli = CliContext.of(ctx)
    if stat:
        stats = cli.run_in_project(lambda api, slug: api.reviews.merge_diff_stats(slug, number))
        show_stats(cli, stats, as_json, fields)
        return
    found = cli.run_in_project(lambda api, slug: api.reviews.merge_diff(slug, number))
    if as_json or fields:
        cli.output(True, fields).json(found)
    else:
        show_patch(cli.streams, found)


def parse_line_comment(raw: str) -> dict[str, Any]:
    """``PATH:LINE:TEXT`` → ``{path, line, body}``."""
    path, _, rest = raw.partition(":")
    line, _, body = rest.partition(":")
    if not path or not line.isdigit() or not body.strip():
        raise typer.BadParameter(f"{raw!r} is not PATH:LINE:TEXT", param_hint="--line")
    return {"path": path, "line": int(line), "body": body}


@ticket_app.command("review")
def review(
    ctx: typer.Context,
    number: NumberArgument,
    approve: Annotated[bool, typer.Option("--approve", help="Approve the work.")] = False,
    request_changes: Annotated[
        bool,
        typer.Option("--request-changes", help="Ask for changes (starts the agent on them)."),
    ] = False,
    comment: Annotated[bool, typer.Option("--comment", help="Comment only.")] = False,
    message: Annotated[str, typer.Option("-m", "--message", help="The review's body.")] = "",
    lines: Annotated[
        list[str] | None,
        typer.Option("--line", help="An inline comment PATH:LINE:TEXT (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Review the ticket's diff: --approve, --request-changes or --comment."""
    chosen = [
        s
        for s, on in (
            ("approved", approve),
            ("changes_requested", request_changes),
            ("commented", comment),
        )
        if on
    ]
    if len(chosen) != 1:
        raise CliError(
            "give exactly one of --approve, --request-changes, --comment", ExitCode.USAGE
        )
    comments = [parse_line_comment(raw) for raw in lines or []]
    cli = CliContext.of(ctx)
    saved = cli.run_in_project(
        explained(
            lambda api, slug: api.reviews.create(slug, number, chosen[0], message, comments),
            number,
        )
    )
    feedback = saved.get("feedback")
    note = ""
    if feedback and feedback["started"] and (session := feedback.get("session")):
        note = f"; the agent is working on it (session {session['id']})"
    elif feedback:
        note = f"; the agent was not started: {feedback.get('reason')}"
    cli.output(as_json).done(f"review {saved['id']} ({saved['state']}) on #{number}{note}", saved)


@ticket_app.command("reviews")
def reviews(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """The ticket's reviews, oldest first."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.reviews.list(slug, number))
    cli.output(as_json, fields).items(found, REVIEW_COLUMNS)


def refused(exc: Any, action: str) -> CliError:
    """A 409 as one message naming the reason and every conflicting file (exit 6)."""
    paths = exc.details.get("conflicts") or []
    listing = "".join(f"\n  {path}" for path in paths)
    hint = "; pass --force to merge it anyway" if exc.details.get("reason") == "no_changes" else ""
    return CliError(f"{action} refused: {exc.message}{hint}{listing}", ExitCode.CONFLICT)


@ticket_app.command("merge")
def merge(
    ctx: typer.Context,
    number: NumberArgument,
    squash: Annotated[bool, typer.Option("--squash", help="One commit instead of a merge.")] = (
        False
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Merge even when the branch changes nothing.")
    ] = False,
    no_push: Annotated[
        bool,
        typer.Option("--no-push", help="Keep the merge local: do not push to origin afterwards."),
    ] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Merge the ticket's work into the default branch, then push that branch to origin.

    The push happens when the push_after_merge setting is on (the default) and the repository
    has an origin; --no-push keeps this merge local. The question before the merge says which.
    A push that fails leaves the merge done; `codality ticket push N` tries again. Exit 6 when
    the merge is refused.
    """
    from ..api import ApiError
    from ..ticket_work import merge_question, merged_names, push_outcome

    cli = CliContext.of(ctx)
    if not yes:
        plan = cli.run_in_project(
            explained(lambda api, slug: api.worktrees.merge_plan(slug, number, not no_push), number)
        )
        cli.confirm(merge_question(plan), yes, "merge")

    async def call(api: ApiClient, slug: str) -> Merged:
        try:
            return await api.worktrees.merge(
                slug, number, "squash" if squash else None, force, not no_push
            )
        except ApiError as exc:
            if exc.status == 409 and exc.details.get("reason") != "no_work":
                raise refused(exc, "merge") from exc
            raise

    result = cli.run_in_project(explained(call, number))
    done = result["merge"]
    stats = result["stats"]
    changed = f"{stats['files_changed']} file(s), +{stats['insertions']} -{stats['deletions']}"
    if len(result["merged"]) > 1:  # a stack: the stats are the top ticket's own work
        changed = f"#{number}'s own {changed}"
    cli.output(as_json).done(
        f"merged {merged_names(result)} ({done['kind']}, {done['after'][:10]}): {changed}; "
        + push_outcome(number, result["push"]),
        result,
    )


@ticket_app.command("push")
def push(ctx: typer.Context, number: NumberArgument, as_json: JsonOption = False) -> None:
    """Push the default branch a merged ticket went into to origin again (after its push
    failed, timed out or was left out with --no-push)."""
    from ..ticket_work import push_outcome

    cli = CliContext.of(ctx)
    result = cli.run_in_project(lambda api, slug: api.worktrees.push(slug, number))
    report = result["push"]
    line = f"#{number}: " + push_outcome(number, report)
    if not report["pushed"]:
        raise CliError(line, ExitCode.ERROR)
    cli.output(as_json).done(line, result)


@ticket_app.command("discard")
def discard(
    ctx: typer.Context,
    number: NumberArgument,
    cancel: Annotated[
        bool, typer.Option("--cancel", help="Move the ticket to cancelled, not backlog.")
    ] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Remove the ticket's worktree and branch; the work stays under refs/codality/discarded/."""
    cli = CliContext.of(ctx)
    cli.confirm(
        f"Discard the work on #{number}? Its worktree and branch are removed"
        " (the branch tip is kept under refs/codality/discarded/).",
        yes,
        "discard",
    )
    result = cli.run_in_project(
        explained(lambda api, slug: api.worktrees.discard(slug, number, cancel), number)
    )
    kept = f"{result['kept_ref']} ({(result['kept_sha'] or '')[:10]})"
    cli.output(as_json).done(f"discarded #{number}; the work is kept at {kept}", result)


def _git(repo: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=False)


def _git_failure(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return lines[0] if lines else f"git exited with status {result.returncode}"


def local_repository() -> str:
    """The top of the git repository holding the current directory (exit 2 outside one)."""
    found = _git(".", "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise CliError(
            "not in a git repository; run `codality ticket checkout` inside the project's",
            ExitCode.USAGE,
        )
    return found.stdout.strip()


@ticket_app.command("checkout")
def checkout(
    ctx: typer.Context,
    number: NumberArgument,
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="The local branch to use (default: codality/ticket-N)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Reset the local branch even if it has its own commits.")
    ] = False,
) -> None:
    """Check out the agent's work on a ticket in a local branch of your own.

    The agent's branch stays checked out in its worktree (git allows a branch in one worktree
    only), so your copy is a branch of its own, created or fast-forwarded to the agent's last
    commit. Uncommitted changes in the agent's worktree are not part of it.
    """
    cli = CliContext.of(ctx)

    async def find(api: ApiClient, slug: str) -> Ticket:
        ticket = await api.tickets.get(slug, number)
        if not ticket.get("branch"):
            raise await no_work(api, slug, number, ExitCode.NOT_FOUND)
        return ticket

    ticket = cli.run_in_project(find)
    repo = local_repository()
    agent_branch = str(ticket["branch"])
    if ticket.get("worktree_path") and os.path.realpath(repo) == os.path.realpath(
        str(ticket["worktree_path"])
    ):
        raise CliError(
            "this is the agent's own worktree; run `codality ticket checkout` in your checkout",
            ExitCode.USAGE,
        )
    tip = _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{agent_branch}^{{commit}}")
    if tip.returncode != 0:
        raise CliError(
            f"the ticket's branch {agent_branch} is not in {repo}; run this inside the"
            " project's repository on the server's machine",
            ExitCode.NOT_FOUND,
        )
    sha = tip.stdout.strip()
    local = branch or f"codality/ticket-{number}"
    if local == agent_branch:
        raise CliError(
            f"{agent_branch} is the agent's branch (checked out in its worktree); pick another"
            " --branch",
            ExitCode.USAGE,
        )
    mine = _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{local}")
    if mine.returncode == 0 and not force:
        behind = _git(repo, "merge-base", "--is-ancestor", mine.stdout.strip(), sha)
        if behind.returncode != 0:
            raise CliError(
                f"{local} has commits that are not in the agent's work; pass --force to reset"
                " it to the agent's last commit",
                ExitCode.CONFLICT,
            )
    switched = _git(repo, "checkout", "-q", "-B", local, sha)
    if switched.returncode != 0:
        raise CliError(f"cannot check out {local}: {_git_failure(switched)}", ExitCode.CONFLICT)
    cli.streams.message(
        f"switched to {local} at {sha[:10]} (the agent's work on #{number}, {agent_branch})"
    )
