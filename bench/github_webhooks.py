"""Webhook receive → 2xx latency at a steady 50 deliveries/s, and the GitHub library's import cost
when GitHub is not configured.

The server runs as its own process (``python -m codality_server``) so the load generator's event
loop does not share its time. Deliveries are signed ``check_run``, ``pull_request`` and ``push``
events of about 6 KB, sent on an open-loop schedule (each at its planned time, whether or not the
earlier ones were answered); one in twenty repeats an earlier delivery id (the skipped path).
Goal: p99 ≤ 20 ms (the work happens after the answer).

    .venv/bin/python bench/github_webhooks.py [--rate 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving import setup_token

from tests.conftest import spawn_server

SECRET = "bench-webhook-secret"


def payload(i: int) -> tuple[str, dict[str, object]]:
    repo = {
        "full_name": "acme/widgets",
        "name": "widgets",
        "owner": {"login": "acme"},
        "default_branch": "main",
        "private": True,
        "description": "x" * 400,
    }
    sha = hashlib.sha1(str(i).encode()).hexdigest()
    kind = ("check_run", "pull_request", "push")[i % 3]
    body: dict[str, object] = {
        "repository": repo,
        "sender": {"login": "octocat"},
        "installation": {"id": 1},
    }
    if kind == "check_run":
        body.update(
            action="completed",
            check_run={
                "id": i,
                "name": "test",
                "head_sha": sha,
                "status": "completed",
                "conclusion": "failure",
                "app": {"slug": "github-actions"},
                "output": {"title": "1 failed", "summary": "tests failed\n" * 100},
            },
        )
    elif kind == "pull_request":
        body.update(
            action="synchronize",
            number=i,
            pull_request={
                "number": i,
                "state": "open",
                "head": {"ref": f"b{i}", "sha": sha},
                "base": {"ref": "main"},
                "body": "b" * 3000,
            },
        )
    else:
        body.update(
            ref="refs/heads/feature",
            before="0" * 40,
            after=sha,
            commits=[{"id": sha, "message": "m" * 200}] * 10,
        )
    return kind, body


async def load(url: str, rate: float, seconds: float) -> list[float]:
    total = int(rate * seconds)
    latencies: list[float] = []
    failures: list[str] = []
    sent: list[tuple[str, str, bytes]] = []

    async def one(client: httpx.AsyncClient, i: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        if i % 20 == 19 and sent:
            event, delivery, body = sent[i // 2]
        else:
            event, data = payload(i)
            delivery, body = f"bench-{i}", json.dumps(data).encode()
            sent.append((event, delivery, body))
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        }
        start = time.perf_counter()
        response = await client.post("/api/github/webhooks", content=body, headers=headers)
        latencies.append(time.perf_counter() - start)
        if response.status_code != 200:
            failures.append(f"{response.status_code}: {response.text[:200]}")

    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        # Warm up the connection pool and the server's first-use paths.
        for i in range(10):
            await one(client, 100_000 + i, time.perf_counter())
        latencies.clear()
        begin = time.perf_counter() + 0.1
        await asyncio.gather(*(one(client, i, begin + i / rate) for i in range(total)))
    if failures:
        raise SystemExit(f"{len(failures)} deliveries failed, e.g. {failures[0]}")
    return latencies


def import_cost() -> str:
    probe = (
        "import sys, tempfile; from pathlib import Path\n"
        "from codality_server.app import create_app\n"
        "from codality_server.settings import ServerSettings\n"
        "create_app(ServerSettings(data_dir=Path(tempfile.mkdtemp()), port=0))\n"
        "print(','.join(m for m in ('gidgethub', 'jwt') if m in sys.modules) or 'none')\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    timing = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.perf_counter()\n"
            "import gidgethub.httpx, gidgethub.apps, gidgethub.sansio\n"
            "print(f'{(time.perf_counter() - t) * 1000:.1f}')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return (
        f"GitHub modules loaded without GitHub configured: {loaded} (0 ms); "
        f"loading them once configured: {timing} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir(mode=0o700)
        os.environ.setdefault("CODALITY_NO_KEYRING", "1")
        proc, url = spawn_server(data_dir)
        try:
            token = setup_token(url, data_dir)
            env = httpx.put(
                f"{url}/api/settings/env",
                json={"GITHUB_WEBHOOK_SECRET": SECRET},
                headers={"Authorization": f"Bearer {token}"},
            )
            env.raise_for_status()
            latencies = asyncio.run(load(url, args.rate, args.seconds))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
    ms = sorted(x * 1000 for x in latencies)
    p = statistics.quantiles(ms, n=100)
    print(
        f"{len(ms)} deliveries at {args.rate:g}/s: p50 {p[49]:.1f} ms, p95 {p[94]:.1f} ms,"
        f" p99 {p[98]:.1f} ms, max {ms[-1]:.1f} ms (goal p99 ≤ 20 ms)"
    )
    print(import_cost())


if __name__ == "__main__":
    main()
