"""``codality login | logout | auth status``.

Against the local server signing in needs no typing (the CLI reads the setup code and outbox
itself); against a remote one ``login`` asks for the e-mail and the code it sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import JsonOption

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import SignedIn

auth_app = typer.Typer(help="Who you are signed in as, and where the session is kept.")

EmailOption = Annotated[
    str | None, typer.Option("--email", help="Sign in as this e-mail (local: default git's).")
]


def login(
    ctx: typer.Context,
    email: EmailOption = None,
    code: Annotated[
        str | None, typer.Option("--code", help="The code from the e-mail (remote; else asked).")
    ] = None,
) -> None:
    """Sign in and keep the session (keyring, else a 0600 file)."""
    cli = CliContext.of(ctx)
    settings = cli.settings

    async def sign_in(api: ApiClient) -> SignedIn:
        if settings.is_local:
            return await cli.local_login(api, email)
        address = email or _ask(cli, "E-mail")
        await api.auth.request_otp(address)
        cli.streams.message(f"a sign-in code was sent to {address} (if it has an account)")
        return await api.auth.verify_otp(address, code or _ask(cli, "Code"))

    result = cli.run(sign_in, signed_in=False)
    cli.credentials.set(settings.target_key, str(result["token"]))
    user = result["user"]
    cli.streams.message(
        f"signed in to {settings.target_key} as {user.get('name') or ''} <{user['email']}>;"
        f" session kept in {cli.credentials.describe()}"
    )
    if settings.env_token:
        cli.streams.message("note: CODALITY_TOKEN is set and overrides the stored session")


def _ask(cli: CliContext, label: str) -> str:
    if not cli.streams.interactive:
        raise CliError(f"{label.lower()} needed: pass --{label.lower()}", ExitCode.USAGE)
    return str(typer.prompt(label, err=True)).strip()


def logout(ctx: typer.Context) -> None:
    """End the session on the server and forget it here."""
    cli = CliContext.of(ctx)
    token = cli.credentials.get(cli.settings.target_key)
    if token and not cli.settings.env_token:

        async def end(api: ApiClient) -> None:
            api.token = token
            from ..api import AuthRequired

            try:
                await api.auth.logout()
            except AuthRequired:
                return  # already over on the server

        cli.run(end, signed_in=False)
    cli.credentials.delete(cli.settings.target_key)
    cli.streams.message(f"signed out of {cli.settings.target_key}")


@auth_app.command("status")
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Who you are, on which server, and which store holds the session."""
    cli = CliContext.of(ctx)

    async def who(api: ApiClient) -> dict[str, Any]:
        return {"server": api.base_url, "user": await api.auth.me()}

    view = cli.run(who)
    view["store"] = cli.credentials.describe()
    if as_json:
        cli.output(True).json(view)
        return
    user = view["user"]
    cli.streams.write(
        f"signed in to {view['server']} as {user.get('name') or ''} <{user['email']}>"
        f" ({user.get('role')})\nsession kept in {view['store']}\n"
    )


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.add_typer(auth_app, name="auth")
