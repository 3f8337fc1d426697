"""``codality settings …``: the server's settings and environment values (admin only)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption
from ..output import Column, plain

if TYPE_CHECKING:
    from ..api import ApiClient

app = typer.Typer(help="Server settings and environment (admin only).", no_args_is_help=True)

SETTING_COLUMNS = [Column("key", "key"), Column("value", "value")]
ENV_COLUMNS = [
    Column("name", "name"),
    Column("set", "set"),
    Column("secret", "secret"),
    Column("value", "value"),
]
SOURCE_COLUMN = Column("source", "source")
RESTART_WAIT_S = 30.0


def parse_value(text: str) -> Any:
    """``3`` → 3, ``true`` → True, ``null`` → None, ``{"a": 1}`` → a dict; other text stays text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _show_mapping(
    cli: CliContext, mapping: dict[str, Any], as_json: bool, fields: str | None
) -> None:
    """Settings as ``key value`` rows; ``--json`` gives the object itself."""
    out = cli.output(as_json, fields)
    if out.as_json:
        out.json(out.select(mapping))
    else:
        rows = [{"key": key, "value": value} for key, value in mapping.items()]
        out.items(rows, SETTING_COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Argument(help="Only this setting (its JSON value).")] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Show the settings."""
    cli = CliContext.of(ctx)
    values = cli.run(lambda api: api.settings.get_all())
    if key is None:
        _show_mapping(cli, values, as_json, fields)
        return
    if key not in values:
        raise CliError(
            f"no setting {key!r}; known: {', '.join(sorted(values))}", ExitCode.NOT_FOUND
        )
    value = values[key]
    if as_json or isinstance(value, dict | list):
        cli.output(True).json(value)
    else:
        cli.streams.write(plain(value) + "\n")


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Setting name, e.g. model or max_concurrent_agents.")],
    value: Annotated[str, typer.Argument(help="New value; JSON is parsed (3, true, null, {…}).")],
    as_json: JsonOption = False,
) -> None:
    """Change one setting."""
    cli = CliContext.of(ctx)
    updated = cli.run(lambda api: api.settings.update({key: parse_value(value)}))
    cli.output(as_json).done(f"{key} = {json.dumps(updated.get(key, parse_value(value)))}", updated)


@app.command("defaults")
def defaults(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """Show the default value of every setting."""
    cli = CliContext.of(ctx)
    _show_mapping(cli, cli.run(lambda api: api.settings.defaults()), as_json, fields)


@app.command("env")
def env(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """Show the server's environment values (secrets masked) and where each one comes from."""
    cli = CliContext.of(ctx)
    rows = cli.run(lambda api: api.settings.env())
    cli.output(as_json, fields).items(rows, env_columns(rows))


def env_columns(rows: list[dict[str, Any]]) -> list[Column]:
    """The env table's columns, with SOURCE (store or environment) when the server says it."""
    return [*ENV_COLUMNS, SOURCE_COLUMN] if any("source" in row for row in rows) else ENV_COLUMNS


@app.command("env-set")
def env_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="e.g. ANTHROPIC_API_KEY, SMTP_HOST.")],
    value: Annotated[
        str | None, typer.Argument(help="The value; '-' reads stdin; omitted: asked, hidden.")
    ] = None,
    unset: Annotated[bool, typer.Option("--unset", help="Remove the value.")] = False,
) -> None:
    """Set (or --unset) one environment value of the server."""
    cli = CliContext.of(ctx)
    if unset:
        new: str | None = None
    elif value == "-":
        new = typer.get_text_stream("stdin").read().strip()
    elif value is not None:
        new = value
    elif cli.streams.interactive:
        new = str(typer.prompt(name, hide_input=True, err=True))
    else:
        raise CliError(f"give the value of {name}, or '-' to read it from stdin", ExitCode.USAGE)

    async def set_value(api: ApiClient) -> list[dict[str, Any]]:
        before = [] if new is None else await api.settings.env()
        await api.settings.set_env({name: new})
        return before

    listed = cli.run(set_value)
    cli.streams.message(f"{name} {'removed' if new is None else 'set'}")
    if new is not None and name not in {str(row["name"]) for row in listed}:
        cli.streams.message(unread_warning(name, [str(row["name"]) for row in listed]))


def unread_warning(name: str, listed: list[str]) -> str:
    """What to say of a name the server does not read: the listing before the change holds
    every name it reads (set or not) and the ones stored already, so a name missing from it is
    read by nothing (a typo, most often)."""
    import difflib

    close = difflib.get_close_matches(name, listed, n=1)
    guess = f"; did you mean {close[0]}?" if close else ""
    return (
        f"warning: the server reads no value named {name}{guess}"
        " (`codality settings env` lists the names it reads)"
    )


def wait_until_back(url: str, timeout: float = RESTART_WAIT_S) -> None:
    """After a restart request: wait for the server to go away (briefly) and answer again."""
    from ..local_server import probe

    deadline = time.monotonic() + timeout
    gone_by = time.monotonic() + 2.0
    while time.monotonic() < gone_by and probe(url, 0.5) is not None:
        time.sleep(0.05)
    while time.monotonic() < deadline:
        if probe(url, 0.5) is not None:
            return
        time.sleep(0.1)
    raise CliError(
        f"the server at {url} did not come back within {timeout:.0f} s", ExitCode.UNREACHABLE
    )


@app.command("restart")
def restart(ctx: typer.Context) -> None:
    """Restart the server (to apply environment changes) and wait until it answers again."""
    cli = CliContext.of(ctx)

    async def restart_(api: ApiClient) -> str:
        await api.settings.restart()
        return api.base_url

    url = cli.run(restart_)
    with cli.streams.spinner("waiting for the server to restart…"):
        wait_until_back(url)
    cli.streams.message("restarted")
