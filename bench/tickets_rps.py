"""``GET /api/projects/{slug}/tickets`` requests/s beside a bare aiohttp hello-world, same run.

Goal (issue 2): the ticket list reaches at least 60 % of hello-world's requests/s. Both servers run
as real processes on loopback and are loaded by ``wrk`` (Debian package) with the same settings;
without wrk, a Python client does the loading and the note says so.

    python bench/tickets_rps.py [--seconds 5] [--tickets 50]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serving import setup_token

HELLO = r"""
import sys
from aiohttp import web
async def hello(request):
    return web.json_response({"hello": "world"})
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, headers: dict[str, str] | None = None) -> None:
    for _ in range(200):
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def load(url: str, seconds: float, token: str | None) -> float:
    """Requests per second that ``url`` sustains."""
    if shutil.which("wrk"):
        cmd = ["wrk", "-t2", "-c32", f"-d{int(seconds)}s", url]
        if token:
            cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert match, out
        if "Non-2xx" in out:
            raise SystemExit(f"errors while loading {url}:\n{out}")
        return float(match.group(1))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    count, end = 0, time.perf_counter() + seconds
    with httpx.Client(headers=headers) as client:
        while time.perf_counter() < end:
            client.get(url).raise_for_status()
            count += 1
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--tickets", type=int, default=50)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="codality-bench-"))
    repo = work / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=B", "-c", "user.email=b@x", "commit", "-qm", "init"],
        cwd=repo,
        check=True,
    )
    data = work / "data"
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codality_server",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--log-level",
            "WARNING",
        ],
        stderr=subprocess.DEVNULL,
    )
    hello_port = free_port()
    hello = subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port)])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        wait_http(f"http://127.0.0.1:{hello_port}/")
        token = setup_token(base, data)
        auth = {"Authorization": f"Bearer {token}"}
        project = httpx.post(
            f"{base}/api/projects", json={"mode": "existing", "path": str(repo)}, headers=auth
        ).json()
        for i in range(args.tickets):
            httpx.post(
                f"{base}/api/projects/{project['slug']}/tickets",
                json={"title": f"Ticket {i}", "description": "words " * 20},
                headers=auth,
            ).raise_for_status()
        tickets_url = f"{base}/api/projects/{project['slug']}/tickets"
        load(tickets_url, 1, token)  # warm up
        hello_rps = load(f"http://127.0.0.1:{hello_port}/", args.seconds, None)
        tickets_rps = load(tickets_url, args.seconds, token)
    finally:
        server.send_signal(signal.SIGTERM)
        hello.send_signal(signal.SIGINT)
        server.wait(10)
        hello.wait(10)
    ratio = tickets_rps / hello_rps
    print(
        json.dumps(
            {
                "loader": "wrk" if shutil.which("wrk") else "python",
                "tickets_in_list": args.tickets,
                "hello_world_rps": round(hello_rps),
                "tickets_rps": round(tickets_rps),
                "ratio": round(ratio, 3),
            },
            indent=2,
        )
    )
    print(f"goal >= 60 % of hello-world: {'meets' if ratio >= 0.6 else 'misses'}")


if __name__ == "__main__":
    main()
