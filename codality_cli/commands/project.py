"""``codality project …``: register repositories, look at their files, pick the current one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption
from ..output import Column

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Project

app = typer.Typer(help="Projects: the git repositories Codality works on.", no_args_is_help=True)

PROJECT_COLUMNS = [
    Column("slug", "slug"),
    Column("name", "name"),
    Column("branch", "default_branch"),
    Column("path", "path"),
    Column(
        "github", "github", lambda p: "/".join(p["github"].values()) if p.get("github") else None
    ),
]
PROJECT_FIELDS = [
    *PROJECT_COLUMNS,
    Column("protected main", "protected_main"),
    Column("created", "created_at"),
]
ENTRY_COLUMNS = [Column("name", "name"), Column("type", "type"), Column("size", "size")]

SlugArgument = Annotated[
    str | None,
    typer.Argument(help="Project slug (default: the current project).", show_default=False),
]
RefOption = Annotated[
    str | None, typer.Option("--ref", help="Branch, tag or commit (default branch).")
]


async def _slug(cli: CliContext, api: ApiClient, slug: str | None) -> str:
    return slug or await cli.project(api)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """List projects."""
    cli = CliContext.of(ctx)
    out = cli.output(as_json, fields)
    projects = cli.run(lambda api: api.projects.list())
    cli.settings.remember_projects(projects)  # fresh paths for finding the cwd's project
    out.items(projects, PROJECT_COLUMNS)


@app.command("create")
def create(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Option("--path", help="The repository (existing), or where to put it.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (slug made from it).")
    ] = None,
    clone: Annotated[
        str | None, typer.Option("--clone", metavar="URL", help="Clone this URL.")
    ] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Start a new repository (init + README).")
    ] = False,
    init: Annotated[
        bool, typer.Option("--init", help="`git init` a plain folder at --path.")
    ] = False,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Register a repository: `--path .` (existing), `--clone URL` or `--new --name NAME`."""
    cli = CliContext.of(ctx)
    body: dict[str, Any] = {"name": name}
    if path is not None:
        body["path"] = str(path.expanduser().resolve())
    if clone:
        body.update(mode="clone", url=clone)
    elif new:
        if not name:
            raise CliError("--new needs --name", ExitCode.USAGE)
        body["mode"] = "new"
    else:
        if path is None:
            raise CliError("say which repository: --path DIR, --clone URL or --new", ExitCode.USAGE)
        body.update(mode="existing", init=init)
    fields_ = {k: v for k, v in body.items() if v is not None and v is not False}
    with cli.streams.spinner("creating the project…"):
        created = cli.run(lambda api: api.projects.create(fields_))
    cli.settings.forget_projects()  # it may hold the cwd now
    cli.output(as_json, fields).done(
        f"created project {created['slug']} at {created['path']}", created
    )


@app.command("show")
def show(
    ctx: typer.Context,
    slug: SlugArgument = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Show a project."""
    cli = CliContext.of(ctx)

    async def get(api: ApiClient) -> Project:
        return await api.projects.get(await _slug(cli, api, slug))

    cli.output(as_json, fields).item(cli.run(get), PROJECT_FIELDS)


@app.command("edit")
def edit(
    ctx: typer.Context,
    slug: SlugArgument = None,
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    default_branch: Annotated[
        str | None, typer.Option("--default-branch", help="Branch to merge into.")
    ] = None,
    protected_main: Annotated[
        bool | None,
        typer.Option(
            "--protected-main/--no-protected-main", help="Work through GitHub pull requests."
        ),
    ] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Change a project's name, default branch or protection."""
    cli = CliContext.of(ctx)
    changes = {
        k: v
        for k, v in {
            "name": name,
            "default_branch": default_branch,
            "protected_main": protected_main,
        }.items()
        if v is not None
    }
    if not changes:
        raise CliError(
            "nothing to change: pass --name, --default-branch or --protected-main", ExitCode.USAGE
        )

    async def update(api: ApiClient) -> Project:
        return await api.projects.update(await _slug(cli, api, slug), changes)

    updated = cli.run(update)
    cli.output(as_json, fields).done(f"updated project {updated['slug']}", updated)


@app.command("files")
def files(
    ctx: typer.Context,
    ref: RefOption = None,
    glob: Annotated[
        str | None, typer.Option("--glob", help="Only paths matching, e.g. '*.py'.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the tracked files of the current project."""
    cli = CliContext.of(ctx)
    listing = cli.run_in_project(lambda api, slug: api.projects.files(slug, ref, glob))
    if as_json:
        cli.output(True).json(listing)
        return
    cli.streams.write("".join(f"{path}\n" for path in listing["files"]))


@app.command("browse")
def browse(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Folder inside the repository.")] = "",
    ref: RefOption = None,
    as_json: JsonOption = False,
) -> None:
    """List one folder of the current project's repository."""
    cli = CliContext.of(ctx)
    level = cli.run_in_project(lambda api, slug: api.projects.browse(slug, path or None, ref))
    if as_json:
        cli.output(True).json(level)
        return
    cli.output().items(level["entries"], ENTRY_COLUMNS)


@app.command("cat")
def cat(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="File inside the repository.")],
    ref: RefOption = None,
) -> None:
    """Print a file of the current project's repository (raw bytes)."""
    cli = CliContext.of(ctx)
    content, content_type = cli.run_in_project(lambda api, slug: api.projects.blob(slug, path, ref))
    is_text = content_type.startswith("text/") or "json" in content_type or not content_type
    if cli.streams.out_tty and not is_text:
        raise CliError(f"{path} is binary ({content_type}); redirect the output to a file")
    buffer = getattr(cli.streams.out, "buffer", None)
    if buffer is not None:
        cli.streams.out.flush()
        buffer.write(content)
        buffer.flush()
    else:
        cli.streams.write(content.decode("utf-8", errors="replace"))


@app.command("use")
def use(ctx: typer.Context, slug: Annotated[str, typer.Argument(help="Project slug.")]) -> None:
    """Make a project the default outside its repository (remembered per server)."""
    cli = CliContext.of(ctx)
    project = cli.run(lambda api: api.projects.get(slug))
    cli.settings.choose_project(str(project["slug"]))
    cli.streams.message(f"using project {project['slug']} by default")
