"""``codality pr …``: a ticket's GitHub pull request — open it, read its live status (checks
✓/✗/● and the review state), its comments, push new work to it, merge it on GitHub (exit 6 when
GitHub refuses, with GitHub's reason)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption
from ..output import Column
from ..states import state_words

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import PullRequestMerged

app = typer.Typer(help="Pull requests: a ticket's PR on GitHub.", no_args_is_help=True)

NumberArgument = Annotated[int, typer.Argument(help="The ticket's number.", min=1)]
MARKS = {"passed": "✓", "failed": "✗", "pending": "●"}


def checks_text(pr: dict[str, Any]) -> str:
    counts = pr.get("checks") or {}
    return " ".join(f"{MARKS[k]}{counts.get(k, 0)}" for k in ("passed", "failed", "pending"))


PR_COLUMNS = [
    Column("ticket", "ticket_number"),
    Column("pr", "number"),
    Column("state", "state"),
    Column("checks", "checks", checks_text),
    Column("review", "review_state"),
    Column("branch", "head_branch"),
    Column("title", "title"),
]
PR_FIELDS = [
    *PR_COLUMNS,
    Column("url", "url"),
    Column("head", "head_sha"),
    Column("base", "base_branch"),
    Column("auto-fix tries", "auto_retry_count"),
    Column("updated", "updated_at"),
]
COMMENT_COLUMNS = [
    Column("kind", "kind"),
    Column("author", "author"),
    Column("created", "created_at"),
    Column("where", "path", lambda c: f"{c['path']}:{c['line']}" if c.get("path") else None),
    Column("body", "body", lambda c: (c.get("body") or "").strip().replace("\n", " ")),
]


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """The project's pull requests."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.pull_requests.list(slug))
    cli.output(as_json, fields).items(found, PR_COLUMNS)


@app.command("create")
def create(
    ctx: typer.Context,
    number: NumberArgument,
    title: Annotated[
        str | None, typer.Option("--title", help="Default: the ticket's title and number.")
    ] = None,
    body: Annotated[
        str | None, typer.Option("--body", help="Default: the ticket's description.")
    ] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Open it as a draft.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Push the ticket's branch and open its pull request.

    A ticket stacked on another's unmerged work opens it on that ticket's branch (which needs
    its own pull request first), so it shows only its own work; it targets the default branch
    once that one merges."""
    cli = CliContext.of(ctx)
    pr = cli.run_in_project(
        lambda api, slug: api.pull_requests.create(slug, number, title, body, draft)
    )
    into = f"#{pr['number']} for #{number} into {pr['base_branch']}"
    cli.output(as_json).done(f"opened pull request {into}: {pr['url']}", pr)


@app.command("show")
def show(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """The ticket's pull request as Codality last saw it."""
    cli = CliContext.of(ctx)
    pr = cli.run_in_project(lambda api, slug: api.pull_requests.get(slug, number))
    cli.output(as_json, fields).item(pr, PR_FIELDS)


@app.command("status")
def status(ctx: typer.Context, number: NumberArgument, as_json: JsonOption = False) -> None:
    """Live from GitHub: every check of the head (✓ passed, ✗ failed, ● pending) and the review."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.pull_requests.status(slug, number))
    if as_json:
        cli.output(True).json(found)
        return
    pr = found["pull_request"]
    counts = found["counts"]
    lines = [
        f"PR #{pr['number']} {pr['state']}: {pr['title']}",
        f"  {pr['url']}",
        f"checks: ✓ {counts['passed']} passed, ✗ {counts['failed']} failed,"
        f" ● {counts['pending']} pending",
    ]
    for check in found["checks"]:
        title = f" — {check['title']}" if check.get("title") else ""
        lines.append(f"  {MARKS[check['outcome']]} {check['name']}{title}")
    lines.append(f"review: {state_words(found['review_state'])}")
    if found.get("mergeable") is False:
        lines.append("mergeable: no (conflicts with the base branch)")
    cli.streams.write("\n".join(lines) + "\n")


@app.command("comments")
def comments(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """The PR's conversation, synced from GitHub: comments, reviews and inline comments."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.pull_requests.comments(slug, number))
    cli.output(as_json, fields).items(found, COMMENT_COLUMNS)


@app.command("update")
def update(ctx: typer.Context, number: NumberArgument, as_json: JsonOption = False) -> None:
    """Push the ticket's branch again (new work or a rebase); the PR gets the new head."""
    cli = CliContext.of(ctx)
    pr = cli.run_in_project(lambda api, slug: api.pull_requests.update(slug, number))
    cli.output(as_json).done(f"pushed {pr['head_sha'][:10]} to pull request #{pr['number']}", pr)


@app.command("merge")
def merge(
    ctx: typer.Context,
    number: NumberArgument,
    method: Annotated[
        str | None,
        typer.Option(
            "--method", help="merge, squash or rebase (default: the merge_strategy setting)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Merge the pull request on GitHub; the ticket is done (exit 6 when GitHub refuses)."""
    from ..api import ApiError

    if method is not None and method not in ("merge", "squash", "rebase"):
        raise CliError(f"--method must be merge, squash or rebase, not {method!r}", ExitCode.USAGE)
    cli = CliContext.of(ctx)

    async def call(api: ApiClient, slug: str) -> PullRequestMerged:
        try:
            return await api.pull_requests.merge(slug, number, method)
        except ApiError as exc:
            if exc.status == 409:
                raise CliError(f"merge refused: {exc.message}", ExitCode.CONFLICT) from exc
            raise

    result = cli.run_in_project(call)
    cli.output(as_json).done(
        f"merged pull request #{result['pull_request']['number']} ({result['method']},"
        f" {(result['sha'] or '')[:10]}); ticket #{number} is done",
        result,
    )
