"""Cross-cutting request handling: the error envelope and authentication.

This is the only place that maps domain errors to HTTP statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from urllib.parse import urlsplit

from aiohttp import web

from codality_server.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    UpstreamFailed,
)
from codality_server.domain.users import User
from codality_server.http.keys import (
    BODY_ALLOWANCE,
    BODY_BUDGET,
    ROUTE_ROWS,
    SERVICES,
    SESSION_TOKEN,
    SETTINGS,
    USER,
)

from .responses import error_body
from .route import Handler, Route
from .validation import is_unicode_text, read_body

log = logging.getLogger("codality.http")

STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    RateLimited: 429,
    UpstreamFailed: 502,
    Unavailable: 503,
}
SESSION_COOKIE = "codality_session"
_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def domain_error_response(error: DomainError) -> web.Response:
    extra: dict[str, object] = {}
    headers: dict[str, str] = {}
    if isinstance(error, InvalidInput) and error.field:
        extra["field"] = error.field
    if isinstance(error, Conflict) and error.details:
        extra.update(error.details)
    if isinstance(error, RateLimited | Unavailable) and error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return web.json_response(
        error_body(error.code, error.message, **extra),
        status=_status_for(error),
        headers=headers,
    )


@web.middleware
async def error_envelope(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every failure, from every route, answers ``{"error": {"code", "message"}}``."""
    try:
        return await handler(request)
    except DomainError as exc:
        return domain_error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, HTTPStatus(exc.status).phrase.lower().replace(" ", "_"))
        message = exc.reason
        if exc.status == 404:
            message = f"no route for {request.method} {request.path}"
        elif exc.status == 405:
            message = f"{request.method} is not allowed on {request.path}"
        elif exc.status == 413:
            message = "request body is larger than 1 MiB"
        elif exc.status == 415:
            message = "the body must be JSON, sent as Content-Type: application/json"
        headers = {"Allow": await _allowed(request)} if exc.status == 405 else {}
        return web.json_response(error_body(code, message), status=exc.status, headers=headers)
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response(
            error_body("internal", "internal server error; see the server log"), status=500
        )


async def _allowed(request: web.Request) -> str:
    """The methods of the path the request names: those of the first route pattern it matches
    (the router tries them in order), not of every pattern it could match (``…/tickets/search``
    also fits ``…/tickets/{number}``, whose methods it does not have)."""
    canonical, methods = None, set()
    for resource in request.app.router.resources():
        _, allowed = await resource.resolve(request)
        if allowed and canonical in (None, resource.canonical):
            canonical = resource.canonical
            methods |= allowed
    return ", ".join(sorted(methods))


_SAFE = {"GET", "HEAD", "OPTIONS"}
JSON_TYPE = "application/json"


@web.middleware
async def request_guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse, before any route runs, what no route can take: NUL bytes in the path or query,
    header values that are not UTF-8, compressed bodies, bodies over the route's limit or past the
    server's body budget (read whole, so a route that never reads its body still answers 413) and
    writes whose body is not JSON. A route that reads its own body (webhooks) checks those two
    itself, after what it must check first."""
    _check_target(request)
    row = request.app[ROUTE_ROWS].get(request.match_info.route)
    if row is not None and row.body_limit != request.client_max_size:
        request = request.clone(client_max_size=row.body_limit)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(
            f"compressed request bodies ({encoding}) are not accepted; send plain JSON"
        )
    allowance = request[BODY_ALLOWANCE] = request.app[BODY_BUDGET].allowance()
    try:
        if row is None or not row.reads_own_body:
            body = await read_body(request) if request.body_exists else b""
            if request.method not in _SAFE and (body or "Content-Type" in request.headers):
                require_json(request)
        return await handler(request)
    finally:
        allowance.close()


def require_json(request: web.Request) -> None:
    if request.content_type != JSON_TYPE:
        raise UnsupportedMediaType(
            f"the body must be JSON, sent as Content-Type: {JSON_TYPE}"
            f" (got {_quoted(request.headers.get('Content-Type', 'none'))})"
        )


def _quoted(value: str) -> str:
    """A header value safe to repeat in a message: short, printable."""
    value = "".join(ch if ch.isprintable() and ch.isascii() else "?" for ch in value[:60])
    return repr(value)


def _check_target(request: web.Request) -> None:
    if "\x00" in request.path:
        raise InvalidInput("the path has a NUL character", field="path")
    for key, value in request.query.items():
        if "\x00" in key or "\x00" in value:
            field = "query" if "\x00" in key else key
            raise InvalidInput(f"{field}: must not contain a NUL character", field=field)
    for name, value in request.headers.items():
        # aiohttp keeps bytes that are not UTF-8 as lone surrogates, which fail later wherever
        # the value is encoded again (a token hashed, an address logged).
        if not is_unicode_text(value):
            raise InvalidInput(f"the {_quoted(name)} header is not valid UTF-8", field=name)


def _token_of(request: web.Request) -> tuple[str | None, bool]:
    """(token, came_from_cookie)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None, False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie or None), True


_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _origin_allowed(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True
    host = urlsplit(origin).hostname or ""
    if host in _LOOPBACK:
        return True
    app_url = request.app[SETTINGS].app_url
    if app_url:
        wanted = urlsplit(app_url)
        got = urlsplit(origin)
        return (got.scheme, got.netloc) == (wanted.scheme, wanted.netloc)
    return False


async def session_user(request: web.Request) -> User | None:
    """Who sent a request to a public route, if it carries a live session (bearer or cookie)."""
    token, _ = _token_of(request)
    return await request.app[SERVICES].auth.authenticate(token) if token else None


def guarded(route: Route) -> Handler:
    """Wrap a route's handler with the authentication and role checks its ``access`` asks for."""
    if route.access == "public":
        return route.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        token, from_cookie = _token_of(request)
        if token is None:
            raise Unauthorized("sign in first: no session")
        user = await request.app[SERVICES].auth.authenticate(token)
        if user is None:
            raise Unauthorized("the session has expired or was ended; sign in again")
        if from_cookie and request.method not in _SAFE:
            if not _origin_allowed(request):
                raise Forbidden("cross-origin request refused")
            if "Origin" in request.headers:
                # A browser page: only a JSON content type makes it ask first (CORS preflight,
                # which this server never grants), so another local port cannot post a form,
                # text/plain or an empty body with the user's cookie.
                require_json(request)
        if route.access == "admin" and not user.is_admin:
            raise Forbidden("only an admin may do this")
        request[USER] = user
        request[SESSION_TOKEN] = token
        return await route.handler(request)

    return handler
