"""``codality user …``: who may sign in, and as what (admin only)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from ..context import CliContext
from ..options import FieldsOption, JsonOption, YesOption
from ..output import Column

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import User

app = typer.Typer(help="Users and their roles (admin only).", no_args_is_help=True)


class Role(StrEnum):
    admin = "admin"
    member = "member"


USER_COLUMNS = [
    Column("id", "id"),
    Column("email", "email"),
    Column("name", "name"),
    Column("role", "role"),
    Column("created", "created_at"),
]
WhoArgument = Annotated[str, typer.Argument(help="'me', an e-mail, a name or a user id.")]


async def user_id(api: ApiClient, who: str) -> int:
    """A user id from ``me``, an id, an e-mail or a name (unknown: exit 3)."""
    from ..people import person_id

    return await person_id(api, who)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """List users."""
    cli = CliContext.of(ctx)
    cli.output(as_json, fields).items(cli.run(lambda api: api.users.list()), USER_COLUMNS)


@app.command("invite")
def invite(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Their e-mail address (they sign in with it).")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    role: Annotated[Role, typer.Option("--role", help="Role.")] = Role.member,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Let someone sign in."""
    cli = CliContext.of(ctx)
    user = cli.run(lambda api: api.users.invite(email, name, role.value))
    cli.output(as_json, fields).done(f"invited {user['email']} as {user['role']}", user)


@app.command("role")
def role(
    ctx: typer.Context,
    who: WhoArgument,
    new_role: Annotated[Role, typer.Argument(metavar="ROLE", help="admin or member.")],
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Change a user's role."""
    cli = CliContext.of(ctx)

    async def change(api: ApiClient) -> User:
        return await api.users.set_role(await user_id(api, who), new_role.value)

    user = cli.run(change)
    cli.output(as_json, fields).done(f"{user['email']} is now {user['role']}", user)


@app.command("remove")
def remove(
    ctx: typer.Context,
    who: WhoArgument,
    yes: YesOption = False,
) -> None:
    """Remove a user and end their sessions (their tickets and comments stay)."""
    cli = CliContext.of(ctx)
    cli.confirm(f"Remove {who}?", yes, "remove a user")

    async def remove_(api: ApiClient) -> None:
        await api.users.remove(await user_id(api, who))

    cli.run(remove_)
    cli.streams.message(f"removed {who}")
