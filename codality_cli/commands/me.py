"""``codality me …``: your profile, the git identity your commits carry, your SSH key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption, YesOption
from ..output import Column

if TYPE_CHECKING:
    from ..api import ApiClient

app = typer.Typer(help="Your profile, git identity and SSH key.", no_args_is_help=True)

ME_FIELDS = [
    Column("id", "id"),
    Column("email", "email"),
    Column("name", "name"),
    Column("role", "role"),
    Column("git name", "git_identity.name"),
    Column("git email", "git_identity.email"),
]


@app.command("show")
def show(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """Show who you are signed in as."""
    cli = CliContext.of(ctx)
    cli.output(as_json, fields).item(cli.run(lambda api: api.me.show()), ME_FIELDS)


@app.command("name")
def name(
    ctx: typer.Context,
    new_name: Annotated[str, typer.Argument(metavar="NAME", help="Your display name.")],
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Change your display name."""
    cli = CliContext.of(ctx)
    user = cli.run(lambda api: api.me.set_name(new_name))
    cli.output(as_json, fields).done(f"your name is now {user.get('name')}", user)


@app.command("git-identity")
def git_identity(
    ctx: typer.Context,
    git_name: Annotated[str, typer.Option("--name", help="Author name for your commits.")],
    git_email: Annotated[str, typer.Option("--email", help="Author e-mail for your commits.")],
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Set the name and e-mail the agent's commits carry for you."""
    cli = CliContext.of(ctx)
    user = cli.run(lambda api: api.me.set_git_identity(git_name, git_email))
    cli.output(as_json, fields).done(f"commits will be authored by {git_name} <{git_email}>", user)


async def has_ssh_key(api: ApiClient) -> bool:
    from ..api import ApiError

    try:
        return bool((await api.me.ssh_key()).get("public_key"))
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise


@app.command("ssh-key")
def ssh_key(
    ctx: typer.Context,
    generate: Annotated[
        bool, typer.Option("--generate", help="Make a new ED25519 key pair (replaces the old one).")
    ] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Print your SSH public key (for pushes over SSH); --generate makes one.

    Replacing a key asks first (--yes without a terminal): wherever the old public key was
    added, pushes stop working until the new one is.
    """
    cli = CliContext.of(ctx)
    if generate and not yes and cli.run(has_ssh_key):
        cli.confirm(
            "Replace your SSH key? Pushes with the old one stop working until the new public"
            " key is added where the old one was.",
            yes,
            "replace your SSH key",
        )
    key = cli.run(lambda api: api.me.generate_ssh_key() if generate else api.me.ssh_key())
    out = cli.output(as_json, fields)
    if out.as_json:
        out.json(out.select(key) if isinstance(key, dict) else key)
        return
    public = key.get("public_key") if isinstance(key, dict) else None
    if not public:
        raise CliError(
            "no SSH key yet; make one with `codality me ssh-key --generate`", ExitCode.NOT_FOUND
        )
    cli.streams.write(f"{public}\n")
    if key.get("fingerprint"):
        cli.streams.message(f"fingerprint: {key['fingerprint']}")
