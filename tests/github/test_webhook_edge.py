"""The webhook receiver is reachable by anyone: what strangers can send it, over raw sockets.

A signature header that cannot be one is refused before the body is read; the signature is
computed while the body arrives (in any number of pieces); every body draws on the server's
body budget, so many large wrong-signature bodies at once are refused with 503 instead of being
held; a signed body that is no event is a failed delivery in the log, never a 500; clients
hanging up mid-body cost the log one line, not a traceback each. The memory and log figures are
measured on a real server process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from codality_server.settings import ServerSettings
from tests.conftest import RunningServer, spawn_server
from tests.server.rawhttp import RawResponse, chunked, raw_request, request_head

SECRET = "webhook-secret-for-tests"
HOOK = "/api/github/webhooks"
MB = 1_000_000


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hook_head(length: int | None, signature: str, **extra: str) -> bytes:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": signature,
        **extra,
    }
    if length is None:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(length)
    return request_head("POST", HOOK, headers)


async def raw(url: str, parts: list[bytes], pause: float = 0.2) -> RawResponse:
    return await asyncio.to_thread(raw_request, url, parts, pause)


@pytest.fixture
def server_settings(data_dir: Path) -> ServerSettings:
    """A body budget of 3 MB, so a few small bodies pass it."""
    return ServerSettings(data_dir=data_dir, port=0, keyring=False, body_budget_bytes=3 * MB)


@pytest.fixture
async def hooked(server: RunningServer, api: httpx.AsyncClient) -> RunningServer:
    """The server with a webhook secret set."""
    stored = await api.put("/api/settings/env", json={"GITHUB_WEBHOOK_SECRET": SECRET})
    assert stored.status_code == 200, stored.text
    return server


async def deliveries(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await api.get("/api/github/webhooks/events?limit=500")).json())


async def test_a_signed_body_in_pieces_is_verified_as_it_arrives(
    hooked: RunningServer, api: httpx.AsyncClient
) -> None:
    body = json.dumps({"zen": "Anything added dilutes everything else.", "hook_id": 7}).encode()
    # Content-Length, the body in three TCP segments.
    head = hook_head(len(body), sign(body), **{"X-GitHub-Delivery": "pieces-1"})
    sent = await raw(hooked.url, [head + body[:5], body[5:20], body[20:]])
    assert sent.status == 200, sent.body
    # Chunked, each chunk its own segment.
    head = hook_head(None, sign(body), **{"X-GitHub-Delivery": "pieces-2"})
    first, *rest = chunked(body[:3], body[3:30], body[30:])
    sent = await raw(hooked.url, [head + first, *rest], pause=0.1)
    assert sent.status == 200, sent.body
    # The same pieces with one byte changed in the last: the signature no longer matches.
    tampered = body[:-2] + b" }"
    head = hook_head(len(body), sign(body), **{"X-GitHub-Delivery": "pieces-3"})
    refused = await raw(hooked.url, [head + tampered[:5], tampered[5:20], tampered[20:]])
    assert refused.status == 403, refused.body
    logged = {row["delivery_id"] for row in await deliveries(api)}
    assert {"pieces-1", "pieces-2"} <= logged and "pieces-3" not in logged


@pytest.mark.parametrize(
    "signature",
    [
        "sha256=é",
        "sha256=" + "é" * 64,
        "sha256=" + "g" * 64,
        "sha256=" + "0" * 63,
        "sha256=" + "0" * 65,
        "sha256=sha256=" + "0" * 64,
        "sha1=" + "0" * 40,
        "md5=abc",
        "=",
    ],
)
async def test_a_signature_header_that_cannot_be_one_is_403(
    hooked: RunningServer, signature: str
) -> None:
    body = b"{}"
    head = hook_head(len(body), "PLACEHOLDER").replace(b"PLACEHOLDER", signature.encode())
    response = await raw(hooked.url, [head + body])
    assert response.status == 403, (signature, response.status, response.body)
    assert response.json()["error"]["code"] == "forbidden"


async def test_a_second_signature_header_is_403(hooked: RunningServer) -> None:
    """Two signatures, the good one first: a proxy on the way might have used either."""
    body = b"{}"
    head = hook_head(len(body), sign(body))
    twice = head.replace(
        b"\r\n\r\n", f"\r\nX-Hub-Signature-256: sha256={'0' * 64}\r\n\r\n".encode()
    )
    response = await raw(hooked.url, [twice + body])
    assert response.status == 403, response.body
    assert "more than once" in response.json()["error"]["message"]
    assert (await raw(hooked.url, [head + body])).status == 200


async def test_header_bytes_that_are_not_utf8_are_400_and_a_good_signature_passes(
    hooked: RunningServer,
) -> None:
    body = b"{}"
    head = hook_head(len(body), "PLACEHOLDER").replace(b"PLACEHOLDER", b"sha256=\xff\xfe")
    garbled = await raw(hooked.url, [head + body])
    assert garbled.status == 400, garbled.body
    good = await raw(hooked.url, [hook_head(len(body), sign(body)) + body])
    assert good.status == 200, good.body


async def test_the_signature_is_checked_before_the_content_type(hooked: RunningServer) -> None:
    body = b"{}"
    plain = {"Content-Type": "text/plain"}
    unsigned = await raw(hooked.url, [hook_head(len(body), sign(body, "other"), **plain) + body])
    assert unsigned.status == 403, unsigned.body
    signed = await raw(hooked.url, [hook_head(len(body), sign(body), **plain) + body])
    assert signed.status == 415, signed.body
    assert signed.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}", "nested too deeply"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"action": "opened",', "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
    ids=["1000-levels", "100000-open", "cut-short", "array", "latin-1"],
)
async def test_a_signed_body_that_is_no_event_is_a_failed_delivery(
    hooked: RunningServer, api: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    delivery = f"bad-{hashlib.sha1(body).hexdigest()[:8]}"
    head = hook_head(len(body), sign(body), **{"X-GitHub-Delivery": delivery})
    response = await raw(hooked.url, [head + body])
    assert response.status == 400, response.body
    assert reason in response.json()["error"]["message"]
    row = next(r for r in await deliveries(api) if r["delivery_id"] == delivery)
    assert row["status"] == "failed" and reason in row["result"]
    server_log = hooked.data_dir / "logs" / "server.log"
    if server_log.exists():
        assert "Traceback" not in server_log.read_text()


async def test_bodies_past_the_budget_are_503_and_the_budget_comes_back(
    hooked: RunningServer,
) -> None:
    """Two bodies that together pass the budget (3 MB here): the second is refused before it is
    read; once the first is answered its share is free again."""
    big = b'{"pad": "' + b"a" * (2 * MB) + b'"}'
    where = urlsplit(hooked.url)
    # The first body: headers and half of it, then it waits, holding its share.
    with socket.create_connection((where.hostname, where.port), timeout=30) as holder:
        holder.sendall(hook_head(len(big), sign(big)) + big[:MB])
        await asyncio.sleep(0.5)
        second = await raw(hooked.url, [hook_head(len(big), sign(big)) + big])
        assert second.status == 503, second.body
        assert second.json()["error"]["code"] == "unavailable"
        assert second.headers.get("retry-after") == "5"
        holder.sendall(big[MB:])
        answer = holder.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    third = await raw(hooked.url, [hook_head(len(big), sign(big)) + big])
    assert third.status == 200, third.body
    # A chunked body has no length to take up front: it is refused once it passes the budget
    # (4 MB against 3), though each piece is small and the whole is under the route's 25 MiB.
    pieces = [big[i : i + MB // 2] for i in range(0, len(big), MB // 2)]
    head = hook_head(None, sign(big + big))
    over = await raw(hooked.url, [head, *chunked(*pieces, *pieces)], pause=0.01)
    assert over.status == 503, over.body


# --- against a real server process: memory and log size ---------------------------------------


@pytest.fixture
def process(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, str, Path]]:
    """A ``python -m codality_server`` process with a webhook secret: (pid, url, its log)."""
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("CODALITY_NO_KEYRING", "1")
    proc, url = spawn_server(data_dir)
    try:
        yield proc.pid, url, data_dir / "logs" / "server.log"
    finally:
        proc.terminate()
        proc.wait(15)


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def send_wrong_signature(url: str, size: int) -> bytes:
    """A ``size``-byte body with a wrong signature, sent whole; the status line answered."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=120) as sock:
        sock.sendall(hook_head(size, "sha256=" + "0" * 64))
        piece = b"a" * (1 << 20)
        sent = 0
        try:
            while sent < size:
                sent += sock.send(piece[: size - sent])
        except OSError:
            pass  # the server answered early and closed; its answer is still there to read
        return sock.recv(200).split(b"\r\n", 1)[0]


def test_many_large_wrong_signature_bodies_at_once_keep_memory_bounded(
    process: tuple[int, str, Path],
) -> None:
    """30 clients send 20 MB each at once (600 MB). Held whole, that took the server past
    500 MB; within the 64 MiB budget the server's peak grows by a fraction of it."""
    pid, url, _ = process
    before = peak_rss_kb(pid)
    answers: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: answers.append(send_wrong_signature(url, 20 * MB)))
        for _ in range(30)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    counts = Counter(answers)
    assert set(counts) <= {b"HTTP/1.1 403 Forbidden", b"HTTP/1.1 503 Service Unavailable"}, counts
    assert counts[b"HTTP/1.1 503 Service Unavailable"] >= 20, counts
    assert counts[b"HTTP/1.1 403 Forbidden"] >= 1, counts
    grown_mb = (peak_rss_kb(pid) - before) / 1024
    assert grown_mb < 200, f"peak RSS grew by {grown_mb:.0f} MB"


def test_clients_hanging_up_mid_body_cost_the_log_one_line(
    process: tuple[int, str, Path],
) -> None:
    """200 requests broken off mid-body: one log line in all (a traceback each was 326 KB)."""
    _, url, server_log = process
    where = urlsplit(url)
    before = server_log.stat().st_size
    for index in range(200):
        with socket.create_connection((where.hostname, where.port)) as sock:
            sock.sendall(hook_head(100_000, "sha256=" + "0" * 64) + b"{" * 1000)
            if index % 50 == 0:
                time.sleep(0.2)  # let the server reach the body before this one hangs up
    # The server is still fine, and has noticed.
    alive = httpx.get(f"{url}/healthz", timeout=10)
    assert alive.status_code == 200
    deadline = time.monotonic() + 10
    while server_log.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.1)
    added = server_log.read_bytes()[before:]
    assert b"broken off by the client" in added, added[:2000]
    assert b"Traceback" not in added
    assert len(added) < 1000, len(added)
