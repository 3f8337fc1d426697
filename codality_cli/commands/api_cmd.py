"""``codality api METHOD PATH``: any endpoint, signed in, like ``gh api``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode, exit_code_for_status
from .settings import parse_value

if TYPE_CHECKING:
    from ..api import ApiClient


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def fields_body(pairs: list[str]) -> dict[str, Any]:
    """``["title=Fix it", "priority=1"]`` → ``{"title": "Fix it", "priority": 1}`` (JSON-typed)."""
    body: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--field wants key=value, not {pair!r}", ExitCode.USAGE)
        body[key] = parse_value(value)
    return body


def api(
    ctx: typer.Context,
    method: Annotated[str, typer.Argument(help="GET, POST, PUT, PATCH or DELETE.")],
    path: Annotated[
        str, typer.Argument(help="e.g. /api/projects (the /api prefix may be left out).")
    ],
    field: Annotated[
        list[str] | None,
        typer.Option("-F", "--field", help="key=value; JSON values are typed. GET: query string."),
    ] = None,
) -> None:
    """Call any endpoint and print the JSON answer (errors too, then exit non-zero)."""
    cli = CliContext.of(ctx)
    verb = method.upper()
    if verb not in METHODS:
        raise CliError(f"METHOD {method!r}: give one of {', '.join(METHODS)}", ExitCode.USAGE)
    if not path.startswith("/"):
        path = "/" + path
    if not path.startswith(("/api/", "/healthz")):
        path = "/api" + path
    body = fields_body(field or [])

    async def call(api: ApiClient) -> tuple[int, Any]:
        if verb in ("GET", "DELETE"):
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
            response = await api.transport.send(verb, path, params=params)
        else:
            response = await api.transport.send(verb, path, json=body)
        try:
            return response.status_code, response.json() if response.content else None
        except ValueError:
            return response.status_code, response.text

    status, answer = cli.run(call)
    if answer is not None:
        out = cli.output(True)
        if isinstance(answer, str):
            cli.streams.write(answer + ("" if answer.endswith("\n") else "\n"))
        else:
            out.json(answer)
    if status >= 400:
        message = answer.get("error", {}).get("message") if isinstance(answer, dict) else None
        raise CliError(message or f"HTTP {status}", exit_code_for_status(status))


def register(app: typer.Typer) -> None:
    app.command("api")(api)
