"""What a ``Route`` row declares is what the server does: its body limit, public access, and the
exact bytes of the body for a handler that checks a signature over them.

A small app of real rows behind the real middlewares, on a loopback port, spoken to over HTTP
(the webhook route that needs 25 MiB and the raw bytes arrives with the GitHub work).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from codality_server.http.middlewares import error_envelope, request_guard
from codality_server.http.route import MAX_BODY_BYTES, Route
from codality_server.http.routes import setup_routes
from codality_server.http.validation import read_body, read_json
from tests.conftest import assert_error

MIB = 1024 * 1024


async def digest(request: web.Request) -> web.Response:
    body = await read_body(request)
    return web.json_response({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})


async def parsed(request: web.Request) -> web.Response:
    data = await read_json(request)
    return web.json_response({"keys": sorted(data)})


async def ignores_body(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


ROUTES = [
    Route("POST", "/hook", digest, "raw", "public", body_limit=25 * MIB),
    Route("POST", "/json", parsed, "json", "public"),
    Route("POST", "/ignore", ignores_body, "no body read", "public"),
    Route("POST", "/private", ignores_body, "needs a session"),
]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = web.Application(
        middlewares=[error_envelope, request_guard], client_max_size=MAX_BODY_BYTES
    )
    setup_routes(app, ROUTES)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        json = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=url, timeout=60, headers=json) as http:
            yield http
    finally:
        await runner.cleanup()


def chunked(body: bytes, size: int = 64 * 1024) -> Any:
    """The body as a chunked upload (no Content-Length), in many pieces."""

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return pieces()


async def test_a_raw_body_route_gets_the_exact_bytes_up_to_its_own_limit(
    client: httpx.AsyncClient,
) -> None:
    body = bytes(range(256)) * (20 * MIB // 256)  # 20 MiB, far above the default limit
    for content in (body, chunked(body)):
        answer = await client.post("/hook", content=content)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    too_big = b"x" * (25 * MIB + 1)
    assert_error(await client.post("/hook", content=too_big), 413, "payload_too_large")
    assert_error(await client.post("/hook", content=chunked(too_big)), 413, "payload_too_large")


async def test_the_default_limit_holds_whether_or_not_the_handler_reads(
    client: httpx.AsyncClient,
) -> None:
    exactly = b'{"a": "' + b"x" * (MAX_BODY_BYTES - 9) + b'"}'
    assert len(exactly) == MAX_BODY_BYTES
    answer = await client.post("/json", content=exactly)
    assert answer.status_code == 200 and answer.json() == {"keys": ["a"]}
    over = exactly + b" "
    assert_error(await client.post("/json", content=over), 413)
    assert_error(await client.post("/json", content=chunked(over, 1000)), 413)
    assert_error(await client.post("/ignore", content=over), 413)


async def test_access_comes_from_the_row(client: httpx.AsyncClient) -> None:
    assert (await client.post("/ignore")).status_code == 200
    assert_error(await client.post("/private"), 401, "unauthorized")
