"""Discovery streaming latency: the model's first token to the first ``discover:delta`` on the wire.

Three processes, as in real use: the scripted model (``--serve-model``, standing in for the
Messages API), the server (``python -m codality_server``) and this viewer. The model stamps when
it wrote the first text delta of each answer; the viewer, subscribed to the project's SSE
channel, stamps when the first ``discover:delta`` of the reply arrives. The gap is everything on
the way: the SDK's parsing (the platform's model client), the reply listener (which publishes
before it stores), the bus, the SSE frame and the viewer's read. ``CLOCK_MONOTONIC`` is one clock
for every process on the machine. Goal (issue 14): p99 ≤ 5 ms.
Run: ``.venv/bin/python bench/discover_first_delta.py [--replies N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ANSWER = {"blocks": [{"type": "text", "text": "A short answer about the code, in a few words."}]}


def serve_model(replies: int) -> None:
    """The model process: prints its URL; a line on stdin makes it print the stamps and exit."""
    from serving import serve

    from codality_server.scripted.server import REQUESTS, create_app

    async def main() -> None:
        app = create_app([ANSWER] * replies)
        runner, url = await serve(app)
        print(url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        print(json.dumps([entry.get("first_delta_at") for entry in app[REQUESTS]]), flush=True)
        await runner.cleanup()

    asyncio.run(main())


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    data_dir.mkdir(mode=0o700)
    server = subprocess.Popen(
        [sys.executable, "-m", "codality_server", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            url = str(json.loads((data_dir / "server.json").read_text())["url"])
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    server.kill()
    raise SystemExit("the server did not start")


def watch(
    url: str, headers: dict[str, str], channel: str
) -> tuple[dict[int, float], threading.Event]:
    """The viewer's SSE stream, on a thread: when each reply's first delta arrived."""
    arrivals: dict[int, float] = {}
    connected = threading.Event()

    def listen() -> None:
        client = httpx.Client(base_url=url, headers=headers, timeout=None)
        with client, client.stream("GET", "/api/events", params={"channel": channel}) as stream:
            for line in stream.iter_lines():
                now = time.monotonic()
                if line == ": connected":
                    connected.set()
                elif line.startswith("data: ") and '"discover:delta"' in line:
                    data = json.loads(line.removeprefix("data: "))["data"]
                    arrivals.setdefault(data["message_id"], now)

    threading.Thread(target=listen, daemon=True).start()
    return arrivals, connected


def measure(replies: int, root: Path) -> list[float]:
    model = subprocess.Popen(
        [sys.executable, __file__, "--serve-model", "--replies", str(replies)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert model.stdin is not None and model.stdout is not None
    model_url = model.stdout.readline().strip()
    server, url = start_server(root / "data")
    try:
        code = (root / "data" / "setup-code").read_text().strip()
        signed = httpx.post(f"{url}/api/setup/verify", json={"code": code, "email": "b@x.io"})
        headers = {"Authorization": f"Bearer {signed.json()['token']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
            env = {"ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": model_url}
            api.put("/api/settings/env", json=env).raise_for_status()
            body = {"mode": "existing", "path": str(root / "repo")}
            project = api.post("/api/projects", json=body).json()
            base = f"/api/projects/{project['slug']}/discover/conversations"
            conversation = api.post(base, json={"title": "bench"}).json()
            messages = f"{base}/{conversation['id']}/messages"
            arrivals, connected = watch(url, headers, f"project:{project['id']}")
            connected.wait(10)
            reply_ids = []
            for _ in range(replies):
                reply = api.post(messages, json={"content": "q"}, params={"wait": "true"})
                reply_ids.append(reply.json()["id"])
                while reply_ids[-1] not in arrivals:
                    time.sleep(0.001)
        model.stdin.write("stamps\n")
        model.stdin.flush()
        stamps = json.loads(model.stdout.readline())
    finally:
        server.terminate()
        server.wait(10)
        model.kill()
    return [(arrivals[r] - s) * 1000 for r, s in zip(reply_ids, stamps, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--serve-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_model:
        serve_model(args.replies)
        return
    from serving import make_repo

    with tempfile.TemporaryDirectory(prefix="codality-bench-discover-") as folder:
        root = Path(folder)
        make_repo(root / "repo", {"app.py": "def greet(name):\n    return 'hello ' + name\n"})
        gaps = sorted(measure(args.replies, root))
    p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
    print(
        f"first discover:delta after the model's first token, {len(gaps)} replies:"
        f" median {statistics.median(gaps):.2f} ms, p99 {p99:.2f} ms, max {gaps[-1]:.2f} ms"
        f" (goal p99 ≤ 5 ms)"
    )


if __name__ == "__main__":
    main()
