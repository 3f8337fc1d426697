"""Response helpers so every handler answers JSON the same way."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from codality_server.db.database import MISSING
from codality_server.http.keys import SERVICES

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


async def json_cached(request: web.Request, build: Callable[[], Awaitable[Any]]) -> web.Response:
    """JSON for a read that depends only on its URL and the database, encoded once per version.

    Lists that terminals and boards poll are asked for far more often than anything changes; the
    encoded body is reused until the next committed write (``Database.cached``). Errors raised by
    ``build`` propagate and are never cached.
    """

    async def encode() -> bytes:
        return _dumps(await build()).encode()

    key = ("http", request.method, request.path_qs)
    db = request.app[SERVICES].core.db
    body = db.peek(key)
    if body is MISSING:
        body = await db.cached(key, encode)
    return web.Response(body=body, headers=JSON_HEADERS)


def json_created(data: Any) -> web.Response:
    return json_ok(data, status=201)


def json_accepted(data: Any) -> web.Response:
    return json_ok(data, status=202)


def no_content() -> web.Response:
    return web.Response(status=204)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    error.update(extra)
    return {"error": error}
