"""``codality github …``: connect the GitHub App, see its status, list or create repositories,
link the current project, and read the webhook log."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption
from ..output import Column

if TYPE_CHECKING:
    from ..api import ApiClient

app = typer.Typer(
    help="GitHub: the App connection, repositories, project links, webhooks.",
    no_args_is_help=True,
)

REPO_COLUMNS = [
    Column("repository", "full_name"),
    Column("private", "private"),
    Column("branch", "default_branch"),
    Column("url", "url"),
]
EVENT_COLUMNS = [
    Column("id", "id"),
    Column("received", "received_at"),
    Column(
        "event", "event", lambda e: f"{e['event']}.{e['action']}" if e.get("action") else e["event"]
    ),
    Column("repository", "repository"),
    Column("status", "status"),
    Column("result", "result"),
    Column("delivery", "delivery_id"),
]
POLL_S = 1.0


def _mark(value: bool) -> str:
    return "✓ configured" if value else "✗ missing"


def status_lines(status: dict[str, Any]) -> list[str]:
    """The docs §8.1 status panel as lines of text."""
    app_ = status.get("app") or {}
    installation = status.get("installation")
    check = status.get("check") or {}
    lines = [
        f"App:            {app_.get('slug') or '-'} (id {app_.get('id') or '-'})",
        f"Client ID:      {app_.get('client_id') or '-'}",
        f"Private key:    {_mark(bool(status.get('private_key')))}",
        f"Webhook secret: {_mark(bool(status.get('webhook_secret')))}",
        "Installation:   "
        + (
            f"✓ installed (id {installation['id']}, {installation.get('account') or '?'})"
            if installation
            else "⚠ not installed"
            + (f" — install at {status['install_url']}" if status.get("install_url") else "")
        ),
        f"Webhook URL:    {status.get('webhook_url')}",
        f"GitHub:         {status.get('web_url')} (API {status.get('api_url')})",
    ]
    if check.get("ok") is False:
        lines.append(f"Check:          ✗ {check.get('error')}")
    elif check.get("ok"):
        lines.append("Check:          ✓ GitHub accepts the App's key")
    return lines


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The App's connection: ids, ✓/✗ for its secrets, the installation."""
    cli = CliContext.of(ctx)
    found = cli.run(lambda api: api.github.status())
    if as_json:
        cli.output(True).json(found)
        return
    cli.streams.write("\n".join(status_lines(found)) + "\n")


def _open(cli: CliContext, url: str, what: str) -> None:
    """Open ``url`` in the browser; without one, the user opens the printed URL."""
    import webbrowser

    cli.streams.message(f"{what}: {url}")
    try:
        opened = webbrowser.open(url)
    except Exception:
        opened = False
    if not opened:
        cli.streams.message("(no browser here: open that URL yourself)")


def _wait(cli: CliContext, done: Any, timeout: float, waiting_for: str) -> dict[str, Any]:
    """Poll the status until ``done(status)``; a timeout is an error naming what was missing."""
    deadline = time.monotonic() + timeout
    with cli.streams.spinner(f"waiting for {waiting_for}…"):
        while True:
            found = cli.run(lambda api: api.github.status())
            if done(found):
                return found
            if time.monotonic() > deadline:
                raise CliError(
                    f"timed out waiting for {waiting_for}; run `codality github connect` again"
                    " or check `codality github status`"
                )
            time.sleep(POLL_S)


@app.command("connect")
def connect(
    ctx: typer.Context,
    organization: Annotated[
        str | None, typer.Option("--org", help="Create the App under this organisation.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The App's name.")] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for each browser step.")
    ] = 600.0,
    as_json: JsonOption = False,
) -> None:
    """Create the GitHub App from a manifest in the browser, then install it (waits for both)."""
    cli = CliContext.of(ctx)
    current = cli.run(lambda api: api.github.status())
    if not current.get("configured"):
        started = cli.run(lambda api: api.github.manifest(organization, name))
        _open(cli, started["url"], "Create the GitHub App")
        current = _wait(cli, lambda s: s.get("configured"), timeout, "the App to be created")
        cli.streams.message(f"App {current['app'].get('slug')} created")
    if not current.get("installation"):
        _open(cli, current["install_url"], "Install the App on your repositories")
        current = _wait(cli, lambda s: s.get("installation"), timeout, "the App to be installed")
    account = current["installation"].get("account")
    cli.output(as_json).done(
        f"GitHub connected: App {current['app'].get('slug')} installed on {account}", current
    )


@app.command("repos")
def repos(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """Repositories the App's installation can reach."""
    cli = CliContext.of(ctx)
    cli.output(as_json, fields).items(cli.run(lambda api: api.github.repos()), REPO_COLUMNS)


@app.command("create-repo")
def create_repo(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new repository's name.")],
    public: Annotated[bool, typer.Option("--public", help="Public (default: private).")] = False,
    description: Annotated[str, typer.Option("--description", "-d", help="A description.")] = "",
    organization: Annotated[
        str | None, typer.Option("--org", help="Create it in this organisation.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a repository on GitHub through the App."""
    cli = CliContext.of(ctx)
    created = cli.run(
        lambda api: api.github.create_repo(name, not public, description, organization)
    )
    cli.output(as_json).done(f"created {created['full_name']} ({created.get('url')})", created)


@app.command("detect-remote")
def detect_remote(
    ctx: typer.Context,
    path: Annotated[
        str | None, typer.Option("--path", help="A repository folder (default: the project).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="A remote URL to read.")] = None,
    as_json: JsonOption = False,
) -> None:
    """OWNER/REPO from the project's `origin` (https or ssh), a folder's, or a URL."""
    cli = CliContext.of(ctx)
    if path is not None and url is not None:
        raise CliError("give --path or --url, not both", ExitCode.USAGE)

    async def call(api: ApiClient) -> dict[str, Any]:
        if path is not None or url is not None:
            return await api.github.detect_remote(path=path, url=url)
        return await api.github.detect_remote(project=await cli.project(api))

    found = cli.run(call)
    if as_json:
        cli.output(True).json(found)
        return
    note = "" if found.get("matches_github") else f" (host {found['host']}, not the GitHub set up)"
    cli.streams.write(f"{found['full_name']}{note}\n")


@app.command("link")
def link(
    ctx: typer.Context,
    repository: Annotated[
        str | None,
        typer.Argument(help="OWNER/REPO (default: the project's origin).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Link the current project to a GitHub repository the App can reach."""
    owner = repo = None
    if repository is not None:
        owner, _, repo = repository.partition("/")
        if not owner or not repo:
            raise CliError(f"{repository!r} is not OWNER/REPO", ExitCode.USAGE)
    cli = CliContext.of(ctx)
    project = cli.run_in_project(lambda api, slug: api.github.link(slug, owner, repo))
    github = project.get("github") or {}
    cli.output(as_json).done(
        f"linked {project['slug']} to {github.get('owner')}/{github.get('repo')}", project
    )


@app.command("unlink")
def unlink(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove the project's GitHub link (protected mode goes off with it)."""
    cli = CliContext.of(ctx)
    if not yes:
        if not cli.streams.interactive:
            raise CliError("pass --yes to unlink without a terminal", ExitCode.USAGE)
        typer.confirm(
            "Unlink the project from GitHub (and turn protected mode off)?", abort=True, err=True
        )
    project = cli.run_in_project(lambda api, slug: api.github.unlink(slug))
    cli.output(as_json).done(f"unlinked {project['slug']} from GitHub", project)


@app.command("events")
def events(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="How many.")] = 50,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Recent webhook deliveries, newest first (with -p/--project: that project's)."""
    cli = CliContext.of(ctx)
    slug = cli.settings.project
    found = cli.run(lambda api: api.github.events(slug, limit))
    cli.output(as_json, fields).items(found, EVENT_COLUMNS)
