"""Setup, OTP login, sessions, logout — over HTTP against the real server."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import RunningServer, assert_error, bearer_client, latest_outbox_code, sign_in


async def test_setup_status_then_verify_creates_admin(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    assert (await anon.get("/api/setup/status")).json() == {"setup_required": True}
    code_file = server.data_dir / "setup-code"
    assert code_file.stat().st_mode & 0o777 == 0o600
    code = code_file.read_text().strip()
    assert len(code) == 8
    assert_error(
        await anon.post("/api/setup/verify", json={"code": "WRONGONE", "email": "a@b.c"}), 401
    )
    ok = await anon.post("/api/setup/verify", json={"code": code, "email": "a@b.c", "name": "A"})
    assert ok.status_code == 201
    assert ok.json()["user"]["role"] == "admin"
    cookie = ok.headers["set-cookie"]
    assert "codality_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert not code_file.exists()
    assert (await anon.get("/api/setup/status")).json() == {"setup_required": False}
    assert_error(await anon.post("/api/setup/verify", json={"code": code, "email": "x@y.z"}), 409)


async def test_seed_curl_flow_with_cookie_jar(server: RunningServer) -> None:
    sign_in(server, "owner@example.com")
    async with httpx.AsyncClient(base_url=server.url) as jar:
        assert_error(await jar.get("/api/projects"), 401, "unauthorized")
        sent = await jar.post("/api/auth/request-otp", json={"email": "owner@example.com"})
        assert sent.status_code == 200
        code = latest_outbox_code(server.data_dir)
        verified = await jar.post(
            "/api/auth/verify-otp", json={"email": "owner@example.com", "code": code}
        )
        assert verified.status_code == 200
        assert jar.cookies.get("codality_session")
        me = await jar.get("/api/auth/me")
        assert me.json()["email"] == "owner@example.com"
        # a code works once
        again = await jar.post(
            "/api/auth/verify-otp", json={"email": "owner@example.com", "code": code}
        )
        assert_error(again, 401)
        assert (await jar.post("/api/auth/logout")).status_code == 200
        assert_error(await jar.get("/api/auth/me"), 401)


async def test_unknown_email_gets_the_same_answer_and_no_mail(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    sign_in(server, "owner@example.com")
    known = await anon.post("/api/auth/request-otp", json={"email": "owner@example.com"})
    unknown = await anon.post("/api/auth/request-otp", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    outbox = list((server.data_dir / "outbox").iterdir())
    assert len(outbox) == 1 and "owner" in outbox[0].name
    assert outbox[0].stat().st_mode & 0o777 == 0o600


async def test_five_wrong_tries_invalidate_the_code(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    sign_in(server, "owner@example.com")
    await anon.post("/api/auth/request-otp", json={"email": "owner@example.com"})
    code = latest_outbox_code(server.data_dir)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert_error(
            await anon.post(
                "/api/auth/verify-otp", json={"email": "owner@example.com", "code": wrong}
            ),
            401,
        )
    right = await anon.post(
        "/api/auth/verify-otp", json={"email": "owner@example.com", "code": code}
    )
    assert_error(right, 401)


async def test_rate_limit_per_email(server: RunningServer, anon: httpx.AsyncClient) -> None:
    sign_in(server, "owner@example.com")
    for _ in range(5):
        ok = await anon.post("/api/auth/request-otp", json={"email": "owner@example.com"})
        assert ok.status_code == 200
    limited = await anon.post("/api/auth/request-otp", json={"email": "owner@example.com"})
    assert_error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60 + 1


async def test_cross_origin_cookie_request_refused(server: RunningServer) -> None:
    token = sign_in(server)
    async with httpx.AsyncClient(base_url=server.url, cookies={"codality_session": token}) as c:
        evil = await c.post("/api/auth/logout", headers={"Origin": "https://evil.example"})
        assert_error(evil, 403)
        local = await c.post(
            "/api/auth/logout", json={}, headers={"Origin": "http://localhost:3000"}
        )
        assert local.status_code == 200


async def test_bad_bodies_are_400_with_field(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    err = assert_error(await anon.post("/api/auth/request-otp", json={"mail": "x"}), 400)
    assert "email" in err["message"] or "mail" in err["message"]
    json_type = {"Content-Type": "application/json"}
    assert_error(await anon.post("/api/auth/request-otp", content=b"{nope", headers=json_type), 400)
    assert_error(await anon.post("/api/auth/request-otp", content=b"{nope"), 415)
    assert_error(await anon.post("/api/auth/request-otp", json={"email": 5}), 400)
    assert_error(await anon.post("/api/auth/request-otp", json={"email": "not-an-address"}), 400)
    assert_error(await anon.get("/api/nothing-here"), 404, "not_found")
    assert_error(await anon.delete("/healthz"), 405)
    assert_error(await anon.post("/api/auth/request-otp", content=b"x" * (1024 * 1024 + 10)), 413)


async def test_codes_go_out_over_smtp_when_it_is_configured(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    from tests.fakes.smtp_server import FakeSmtp

    token = sign_in(server, "owner@example.com")
    smtp = FakeSmtp().start()
    try:
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_FROM": "ci@example.org"}
        configured = await anon.put(
            "/api/settings/env", json=env, headers={"Authorization": f"Bearer {token}"}
        )
        assert configured.status_code == 200, configured.text
        sent = await anon.post("/api/auth/request-otp", json={"email": "owner@example.com"})
        assert sent.status_code == 200
        # Over SMTP the message goes out after the answer (the session is open by then).
        deadline = time.monotonic() + 10
        while not smtp.deliveries and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        smtp.stop()
    [delivery] = smtp.deliveries
    assert delivery.recipients == ["owner@example.com"]
    assert delivery.message["From"] == "ci@example.org"
    code = delivery.message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert not list((server.data_dir / "outbox").iterdir())  # nothing written to the outbox
    signed_in = await anon.post(
        "/api/auth/verify-otp",
        json={"email": "owner@example.com", "code": code.split("code is ")[1][:6]},
    )
    assert signed_in.status_code == 200


async def test_sessions_slide_forward_when_used(server: RunningServer) -> None:
    import sqlite3
    from datetime import UTC, datetime, timedelta

    token = sign_in(server)
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    with sqlite3.connect(server.data_dir / "codality.db") as db:
        db.execute("UPDATE auth_sessions SET expires_at = ?", (soon,))
    async with bearer_client(server.url, token) as client:
        assert (await client.get("/api/auth/me")).status_code == 200
    with sqlite3.connect(server.data_dir / "codality.db") as db:
        [(expires,)] = db.execute("SELECT expires_at FROM auth_sessions").fetchall()
    left = datetime.fromisoformat(expires.replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(days=29) < left <= timedelta(days=30)


async def test_an_expired_session_is_refused(server: RunningServer) -> None:
    import sqlite3

    token = sign_in(server)
    with sqlite3.connect(server.data_dir / "codality.db") as db:
        db.execute("UPDATE auth_sessions SET expires_at = '2020-01-01T00:00:00.000Z'")
    async with bearer_client(server.url, token) as client:
        assert_error(await client.get("/api/auth/me"), 401)


async def test_five_wrong_setup_codes_replace_the_code(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    code_file = server.data_dir / "setup-code"
    first = code_file.read_text().strip()
    guess = {"code": "WRONGONE", "email": "a@b.org"}  # O is not in the alphabet: never a code
    for left in (4, 3, 2, 1):
        error = assert_error(await anon.post("/api/setup/verify", json=guess), 401)
        assert f"{left} tries left" in error["message"]
    error = assert_error(await anon.post("/api/setup/verify", json=guess), 401)
    assert "replaced" in error["message"] and str(code_file) in error["message"]
    second = code_file.read_text().strip()
    assert second != first and len(second) == 8
    assert code_file.stat().st_mode & 0o777 == 0o600
    # the old code is spent; the new one works, with a fresh count of tries
    assert_error(await anon.post("/api/setup/verify", json={**guess, "code": first}), 401)
    made = await anon.post("/api/setup/verify", json={**guess, "code": second})
    assert made.status_code == 201, made.text
