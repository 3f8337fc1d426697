"""The HTTP edge against hostile and unusual input: bodies read whole, sizes capped everywhere,
JSON only, and never a 500 (or an echo of the input) from anything a client can send."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, assert_error, create_ticket
from tests.server.rawhttp import chunked, raw_request, request_head

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
OTP = "/api/auth/request-otp"


def _otp_body(size: int) -> bytes:
    """A valid request-otp body padded with whitespace to exactly ``size`` bytes."""
    body = json.dumps({"email": "nobody@example.com"}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def _raw(server: RunningServer, parts: list[bytes], pause: float = 0.3) -> Any:
    return await asyncio.to_thread(raw_request, server.url, parts, pause)


# --- item 1: bodies read whole --------------------------------------------------------------


async def test_a_body_in_two_tcp_segments_is_read_whole(server: RunningServer) -> None:
    body = json.dumps({"email": "nobody@example.com"}).encode()
    head = request_head("POST", OTP, {**JSON, "Content-Length": str(len(body))})
    response = await _raw(server, [head + body[:9], body[9:]])
    assert response.status == 200, response.body
    assert response.json()["ok"] is True


async def test_a_chunked_body_in_several_segments_is_read_whole(server: RunningServer) -> None:
    body = json.dumps({"email": "nobody@example.com"}).encode()
    head = request_head("POST", OTP, {**JSON, "Transfer-Encoding": "chunked"})
    first, *rest = chunked(body[:5], body[5:14], body[14:])
    response = await _raw(server, [head + first, *rest], pause=0.15)
    assert response.status == 200, response.body


async def test_expect_100_continue_then_the_body(server: RunningServer) -> None:
    body = json.dumps({"email": "nobody@example.com"}).encode()
    head = request_head(
        "POST", OTP, {**JSON, "Content-Length": str(len(body)), "Expect": "100-continue"}
    )
    # curl's way: headers, a wait for "100 Continue", then the body.
    response = await _raw(server, [head, body])
    assert response.status == 200, response.body


async def test_a_90_kb_body_arrives_whole(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    description = "0123456789abcdef" * (90 * 1024 // 16)
    body = json.dumps({"title": "big", "description": description}).encode()
    head = request_head(
        "POST",
        f"/api/projects/{project['slug']}/tickets",
        {**JSON, "Content-Length": str(len(body)), "Authorization": api.headers["Authorization"]},
    )
    # Sent as three writes, as a real network delivers a body this size.
    response = await _raw(server, [head + body[:1000], body[1000:50_000], body[50_000:]], 0.1)
    assert response.status == 201, response.body
    ticket = await api.get(f"/api/projects/{project['slug']}/tickets/{response.json()['number']}")
    assert ticket.json()["description"] == description


async def test_exactly_one_mib_is_accepted_one_byte_more_is_413(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    ok = await anon.post(OTP, content=_otp_body(MIB), headers=JSON)
    assert ok.status_code == 200, ok.text
    assert_error(await anon.post(OTP, content=_otp_body(MIB + 1), headers=JSON), 413)
    # Without a Content-Length (chunked), the limit holds while reading.
    head = request_head("POST", OTP, {**JSON, "Transfer-Encoding": "chunked"})
    big = _otp_body(MIB + 1)
    response = await _raw(server, [head, *chunked(big[: MIB // 2], big[MIB // 2 :])], 0.05)
    assert response.status == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("method", "path", "authenticated"),
    [
        ("POST", "/api/auth/logout", True),  # reads no body
        ("GET", "/healthz", False),
        ("POST", "/api/settings/restart", True),
    ],
)
async def test_oversized_bodies_are_413_on_routes_that_never_read_them(
    server: RunningServer, api: httpx.AsyncClient, method: str, path: str, authenticated: bool
) -> None:
    headers = {**JSON, "Transfer-Encoding": "chunked"}
    if authenticated:
        headers["Authorization"] = api.headers["Authorization"]
    big = b" " * (MIB + 10)
    response = await _raw(server, [request_head(method, path, headers), *chunked(big)], 0.05)
    assert response.status == 413, response.body
    assert response.json()["error"]["code"] == "payload_too_large"
    # and the session survived: the logout never ran
    assert (await api.get("/api/auth/me")).status_code == 200


# --- item 6: no 500 from input ----------------------------------------------------------------

# Each replaces one string field's JSON value in an otherwise valid body.
HOSTILE_VALUES: list[tuple[str, bytes, dict[str, str], int]] = [
    ("1,000-deep array", b"[" * 1000 + b"]" * 1000, JSON, 400),
    ("1,000-deep object", b'{"a":' * 1000 + b"1" + b"}" * 1000, JSON, 400),
    ("65-deep object", b'{"a":' * 65 + b"1" + b"}" * 65, JSON, 400),
    ("lone surrogate", b'"a\\ud800b"', JSON, 400),
    ("lone low surrogate", b'"\\udfff"', JSON, 400),
    ("5,000-digit integer", b"7" * 5000, JSON, 400),
    ("NaN", b"NaN", JSON, 400),
    ("1e999", b"1e999", JSON, 400),
    ("not UTF-8", b'"\xff\xfe"', JSON, 400),
    ("gzip header, plain body", b'"x"', {**JSON, "Content-Encoding": "gzip"}, 415),
    ("br body", b'"x"', {**JSON, "Content-Encoding": "br"}, 415),
    ("zstd body", b'"x"', {**JSON, "Content-Encoding": "zstd"}, 415),
    ("deflate body", b'"x"', {**JSON, "Content-Encoding": "deflate"}, 415),
]


def _with_value(template: dict[str, str], field: str, value: bytes) -> bytes:
    """``template`` as JSON with ``field``'s value replaced by the raw bytes ``value``."""
    marker = "@@VALUE@@"
    text = json.dumps({**template, field: marker}).encode()
    return text.replace(f'"{marker}"'.encode(), value)


@pytest.mark.parametrize(
    ("name", "value", "headers", "status"), HOSTILE_VALUES, ids=[h[0] for h in HOSTILE_VALUES]
)
async def test_hostile_bodies_are_4xx_on_public_and_signed_in_routes(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    name: str,
    value: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    auth = {"Authorization": api.headers["Authorization"]}
    tickets = f"/api/projects/{project['slug']}/tickets"
    targets: list[tuple[str, str, dict[str, str], dict[str, str], str]] = [
        ("POST", OTP, {}, {"email": "nobody@example.com"}, "email"),
        ("POST", "/api/setup/verify", {}, {"code": "ABCDEFGH", "email": "a@b.org"}, "name"),
        ("POST", tickets, auth, {}, "title"),
        ("PUT", "/api/settings", auth, {}, "model"),
        ("PUT", "/api/settings/env", auth, {}, "SMTP_HOST"),
        ("PUT", "/api/me/profile", auth, {}, "name"),
    ]
    for method, path, who, template, field in targets:
        body = _with_value(template, field, value)
        response = await api.request(method, path, content=body, headers={**headers, **who})
        error = assert_error(response, status)
        assert "7777777" not in error["message"], error
    # nothing was created or changed along the way, and every listing still answers
    assert (await api.get(tickets)).json() == []
    assert (await api.get("/api/settings")).json() == (
        await api.get("/api/settings/defaults")
    ).json()
    assert (await api.get("/api/settings/env")).status_code == 200
    assert (await api.get("/api/auth/me")).json()["name"] == "Admin"


async def test_a_nul_in_a_search_or_path_is_400(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="findable")
    search = f"/api/projects/{slug}/tickets/search"
    assert_error(await api.get(search, params={"q": "a\x00b"}), 400, "invalid_input")
    assert_error(await api.get(f"/api/projects/{slug}%00/tickets"), 400, "invalid_input")
    found = await api.get(search, params={"q": "findable"})
    assert found.status_code == 200 and found.json()


async def test_header_bytes_that_are_not_utf8_are_400(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    for header in (b"Authorization: Bearer \xff\xfe", b"Cookie: codality_session=\xe9t\xe9"):
        head = b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        response = await _raw(server, [head + header + b"\r\n\r\n"])
        assert response.status == 400, response.body
        assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /" + b"a" * 20_000 + b"<script> HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"b" * 20_000 + b"<script>\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header<script>: y\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01<script>\r\n\r\n",
        b"G<script>T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    ],
    ids=[
        "long request line",
        "long header",
        "bad header name",
        "control byte",
        "bad method",
        "two lengths",
    ],
)
async def test_malformed_http_answers_the_envelope_without_echo_or_traceback(
    server: RunningServer, caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await _raw(server, [request_bytes])
    assert response.status == 400
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == "bad_request"
    assert b"script" not in response.body and b"aaaa" not in response.body
    assert not [record for record in caplog.records if record.exc_info], caplog.text
    assert "script" not in caplog.text


# --- item 7: JSON only, and the Origin check ---------------------------------------------------


async def test_writes_must_be_json(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    tickets = f"/api/projects/{project['slug']}/tickets"
    body = json.dumps({"title": "sneaky"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        error = assert_error(
            await api.post(tickets, content=body, headers={"Content-Type": content_type}), 415
        )
        assert error["code"] == "unsupported_media_type"
    assert_error(await api.post(tickets, content=body), 415)  # a body with no type at all
    assert_error(await api.post(tickets, data={"title": "form"}), 415)
    assert (await api.get(tickets)).json() == []
    # JSON with a charset parameter is JSON
    ok = await api.post(
        tickets, content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 201, ok.text


async def test_cookie_writes_from_another_local_port_create_nothing(
    server: RunningServer, admin_token: str, project: dict[str, Any]
) -> None:
    tickets = f"/api/projects/{project['slug']}/tickets"
    body = json.dumps({"title": "from evil.localhost"})
    async with httpx.AsyncClient(
        base_url=server.url, cookies={"codality_session": admin_token}
    ) as browser:
        other_port = {"Origin": "http://localhost:3000"}
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            assert_error(
                await browser.post(
                    tickets, content=body, headers={**other_port, "Content-Type": content_type}
                ),
                415,
            )
        # A no-cors fetch with no body and no type: refused too, so the session survives.
        assert_error(await browser.post("/api/auth/logout", headers=other_port), 415)
        assert (await browser.get("/api/auth/me")).status_code == 200
        assert (await browser.get(tickets)).json() == []
        # With application/json a browser must ask first (a CORS preflight this server never
        # grants); a client that sends it anyway is not a page riding on the cookie.
        made = await browser.post(tickets, content=body, headers={**other_port, **JSON})
        assert made.status_code == 201, made.text
        assert_error(
            await browser.post(
                tickets, content=body, headers={"Origin": "https://evil.example", **JSON}
            ),
            403,
        )
