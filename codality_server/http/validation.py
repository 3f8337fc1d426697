"""Request parsing that turns every malformed input into a 400 naming the field."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.web import RequestPayloadError
from pydantic import BaseModel, ValidationError

from codality_server.domain.errors import InvalidInput, PayloadTooLarge
from codality_server.http.keys import BODY, BODY_ALLOWANCE
from codality_server.services.auth import EMAIL_PATTERN

MIB = 1024 * 1024

M = TypeVar("M", bound=BaseModel)


def _describe(exc: ValidationError, where: str) -> InvalidInput:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or where
    message = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    elif first.get("type") == "string_pattern_mismatch":
        # pydantic would quote the whole regular expression
        is_email = first.get("ctx", {}).get("pattern") == EMAIL_PATTERN
        message = "is not an e-mail address" if is_email else "is not in the expected form"
    return InvalidInput(f"{field}: {message}", field=field)


# Deeper than any body the API takes; far below where the parser or pydantic would recurse out.
MAX_JSON_DEPTH = 64
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def too_large(limit: int) -> PayloadTooLarge:
    size = f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit} bytes"
    return PayloadTooLarge(f"request body is larger than {size}")


async def read_body(
    request: web.Request, on_piece: Callable[[bytes], object] | None = None
) -> bytes:
    """The whole body, however many segments or chunks it arrives in, up to the route's limit
    (``Route.body_limit``, which the guard makes the request's ``client_max_size``), drawn on the
    server's body budget (a 503 when it is spent; ``body_budget.py``).

    A declared length is taken from the budget before a byte is read; a chunked body piece by
    piece. ``on_piece`` sees each piece as it arrives (a signature computed while the body
    streams). The body is kept on the request, so the guard and the handler that parses it read
    it once between them; the bytes are exactly those received.
    """
    if BODY in request:
        return request[BODY]
    length = request.content_length
    limit = request.client_max_size
    if length is not None and length > limit:
        raise too_large(limit)
    allowance = request[BODY_ALLOWANCE]
    if length:
        allowance.take(length)
    pieces: list[bytes] = []
    size = 0
    try:
        async for piece in request.content.iter_any():
            size += len(piece)
            if size > limit:
                raise too_large(limit)
            if length is None:
                allowance.take(len(piece))
            if on_piece is not None:
                on_piece(piece)
            pieces.append(piece)
    except RequestPayloadError:
        raise InvalidInput("the request body could not be read to its end", field="body") from None
    body = request[BODY] = b"".join(pieces)
    return body


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; an empty body is ``{}``."""
    raw = await read_body(request)
    if not raw.strip():
        return {}
    return parse_json(raw)


def _finite(text: str) -> float | int:
    """A JSON number with a fraction or exponent; integral ones (``600.0``, ``1e3``) are integers,
    as JSON Schema counts them, so an integer field takes them."""
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    if value.is_integer() and abs(value) <= 2**63:
        return int(value)
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: no NaN/Infinity, numbers in range, text that is valid Unicode, bounded depth.

    Each of those would otherwise pass ``json.loads`` (or blow its stack) and fail later, deep in a
    handler or while encoding the response, as a 500.
    """
    try:
        text = raw.decode("utf-8")  # RFC 8259: JSON between systems is UTF-8
    except UnicodeDecodeError:
        raise InvalidInput("body is not valid UTF-8", field="body") from None
    try:
        data = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            field="body",
        ) from None
    except ValueError:  # NaN/Infinity, a float out of range, an integer past 4,300 digits
        raise InvalidInput(
            "body has a number JSON cannot carry (NaN, Infinity, or too many digits)", field="body"
        ) from None
    surrogates = _LONE_SURROGATE_ESCAPE.search(text) is not None
    if surrogates or text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        _check_tree(data, surrogates)
    return data


def _too_deep() -> InvalidInput:
    return InvalidInput(f"body is nested more than {MAX_JSON_DEPTH} levels deep", field="body")


def _check_tree(data: Any, surrogates: bool) -> None:
    """Refuse nesting past ``MAX_JSON_DEPTH`` and text with lone surrogates (escaped
    ``\\ud800`` without its pair), which SQLite and every response would fail to encode."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if surrogates and not is_unicode_text(node):
                raise InvalidInput(
                    "body has text with a lone surrogate (\\ud800-\\udfff escape without its pair)",
                    field="body",
                )
        elif isinstance(node, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep()
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def is_unicode_text(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8 (no lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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


PATH_INT_MAX = 2**62


def is_path_int(name: str) -> bool:
    """Path placeholders read with ``path_int``: ``{number}``, ``{id}`` and ``{…_id}``."""
    return name in ("number", "id") or name.endswith("_id")


def path_param_schema(name: str) -> dict[str, Any]:
    """What a path placeholder takes, as the OpenAPI document states it."""
    if is_path_int(name):
        return {"type": "integer", "minimum": 1, "maximum": PATH_INT_MAX}
    if name == "path":
        return {"type": "string"}
    return {"type": "string", "minLength": 1}


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}", field=name) from None
    if value < 1 or value > PATH_INT_MAX:
        raise InvalidInput(f"{name} must be a positive integer", field=name)
    return value
