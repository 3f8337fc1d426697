"""Request parsing that turns every malformed input into a 400 naming the field."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from codality_server.domain.errors import InvalidInput, PayloadTooLarge

M = TypeVar("M", bound=BaseModel)


def _describe(exc: ValidationError, where: str) -> InvalidInput:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or where
    message = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    return InvalidInput(f"{field}: {message}", field=field)


MAX_BODY_BYTES = 1024 * 1024


async def read_json(request: web.Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request body as JSON; an empty body is ``{}``."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", field="body") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, "body") from None


def parse_query(request: web.Request, model: type[M], repeated: tuple[str, ...] = ()) -> M:
    """Query parameters into ``model``; names in ``repeated`` collect every value as a list."""
    data: dict[str, Any] = {}
    for key in request.query:
        if key in repeated:
            data[key] = request.query.getall(key)
        else:
            data[key] = request.query[key]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, "query") from None


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}", field=name) from None
    if value < 1 or value > 2**62:
        raise InvalidInput(f"{name} must be a positive integer", field=name)
    return value
