"""Sign-in mail over SMTP: TLS before any password, a prompt 503 when the server cannot be used,
and the same work (and answer) whether or not the address belongs to a user."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codality_server.settings import ServerSettings
from tests.conftest import RunningServer, assert_error, sign_in
from tests.fakes.smtp_server import FakeSmtp

OWNER = "owner@example.com"


@pytest.fixture
def server_settings(data_dir: Path) -> ServerSettings:
    return ServerSettings(data_dir=data_dir, port=0, heartbeat_s=0.5, smtp_timeout_s=0.5)


def _configure(server: RunningServer, token: str, env: dict[str, str]) -> None:
    response = httpx.put(
        f"{server.url}/api/settings/env", json=env, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text


def _wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    fake = FakeSmtp(auth=True).start()
    try:
        yield fake
    finally:
        fake.stop()


async def test_a_password_is_never_sent_without_starttls(
    server: RunningServer, anon: httpx.AsyncClient, smtp: FakeSmtp
) -> None:
    token = sign_in(server, OWNER)
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_USER": "mailer"}
    _configure(server, token, {**env, "SMTP_PASSWORD": "hunter2"})
    for email in (OWNER, "nobody@example.com"):
        error = assert_error(await anon.post("/api/auth/request-otp", json={"email": email}), 503)
        assert "STARTTLS" in error["message"] and "SMTP_TLS=off" in error["message"]
        assert "hunter2" not in error["message"]
    assert smtp.logins == [] and smtp.deliveries == []


async def test_smtp_tls_off_sends_the_password_because_it_was_asked_to(
    server: RunningServer, anon: httpx.AsyncClient, smtp: FakeSmtp
) -> None:
    token = sign_in(server, OWNER)
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_TLS": "off"}
    _configure(server, token, {**env, "SMTP_USER": "mailer", "SMTP_PASSWORD": "hunter2"})
    sent = await anon.post("/api/auth/request-otp", json={"email": OWNER})
    assert sent.status_code == 200, sent.text
    _wait_for(lambda: smtp.deliveries)
    assert smtp.logins == [("mailer", "hunter2")]
    assert [d.recipients for d in smtp.deliveries] == [[OWNER]]


@pytest.mark.parametrize("unreachable", ["silent", "closed"])
async def test_an_unusable_mail_server_is_a_prompt_503_for_every_address(
    server: RunningServer, anon: httpx.AsyncClient, unreachable: str
) -> None:
    token = sign_in(server, OWNER)
    silent = FakeSmtp(silent=True).start()
    if unreachable == "silent":
        port = silent.port
    else:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    try:
        _configure(server, token, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)})
        answers = []
        for email in (OWNER, "nobody@example.com"):
            response = await anon.post("/api/auth/request-otp", json={"email": email})
            answers.append(assert_error(response, 503, "unavailable"))
        assert answers[0] == answers[1]
        assert f"127.0.0.1:{port}" in answers[0]["message"]
    finally:
        silent.stop()


async def test_known_and_unknown_addresses_do_the_same_mail_work(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    token = sign_in(server, OWNER)
    smtp = FakeSmtp().start()
    try:
        _configure(server, token, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)})
        known = await anon.post("/api/auth/request-otp", json={"email": OWNER})
        unknown = await anon.post("/api/auth/request-otp", json={"email": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 200
        assert known.json() == unknown.json()
        _wait_for(lambda: smtp.deliveries and smtp.sessions == 2)
        # both opened a session with the mail server; only the user's got a message
        assert smtp.sessions == 2
        assert [d.recipients for d in smtp.deliveries] == [[OWNER]]
    finally:
        smtp.stop()


@pytest.mark.parametrize(
    ("env", "named"), [({"SMTP_TLS": "maybe"}, "SMTP_TLS"), ({"SMTP_PORT": "smtp"}, "SMTP_PORT")]
)
async def test_bad_smtp_settings_are_a_503_naming_them(
    server: RunningServer, anon: httpx.AsyncClient, env: dict[str, str], named: str
) -> None:
    token = sign_in(server, OWNER)
    _configure(server, token, {"SMTP_HOST": "127.0.0.1", **env})
    error = assert_error(await anon.post("/api/auth/request-otp", json={"email": OWNER}), 503)
    assert named in error["message"]
