"""Response helpers so every handler answers JSON the same way."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


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
