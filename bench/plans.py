"""Plans: the time the server takes to approve a 50-draft plan, and extraction's own overhead.

Approval creates every draft as a ticket (with the full-text index), records the dependencies and
marks the plan approved, in one transaction. Each round approves a fresh plan of ``--drafts``
drafts (each depending on the one or two before it) in a project that already holds the tickets of
the earlier rounds. Reported: the ``POST …/approve`` round trip on loopback (the client runs in the
server's loop, so this is the server's time plus a little client work) and, separately, the time
spent inside the service call. Goal (issue 12): ≤ 100 ms server time.

Extraction: ``POST …/ai/extract-tickets`` against the scripted model (in-process, on the same
loop), whose endpoint stamps when each request arrived and when its answer was complete; the
overhead is the round trip minus that model time: building the prompt, the SDK's request and
stream handling, reading and repairing the ``--extract-drafts`` drafts, storing them and
publishing. Goal: ≤ 20 ms.
Run: ``.venv/bin/python bench/plans.py [--rounds N] [--drafts N] [--extract-drafts N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from serving import agent_bench, make_repo, serve


def drafts(count: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Step {n}: a piece of the plan",
            "description": f"Do part {n} of the work.\n\n" + "Details. " * 40,
            "kind": ("task", "feature", "chore", "bug")[n % 4],
            "priority": ("low", "medium", "high")[n % 3],
            "depends_on": [m for m in (n - 1, n - 2) if m >= 1],
        }
        for n in range(1, count + 1)
    ]


def summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    return (
        f"{name}: median {statistics.median(values):.1f} ms  "
        f"p95 {values[int(len(values) * 0.95)]:.1f} ms  max {values[-1]:.1f} ms"
    )


async def measure(rounds: int, count: int, root: Path) -> tuple[list[float], list[float]]:
    from codality_server.app import create_app
    from codality_server.http.keys import SERVICES
    from codality_server.settings import ServerSettings

    app = create_app(ServerSettings(data_dir=root / "data", port=0))
    runner, url = await serve(app)
    http_ms: list[float] = []
    service_ms: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            code = (root / "data" / "setup-code").read_text().strip()
            signed = await api.post("/api/setup/verify", json={"code": code, "email": "b@x.io"})
            api.headers["Authorization"] = f"Bearer {signed.json()['token']}"
            made = await api.post(
                "/api/projects", json={"mode": "existing", "path": str(root / "repo")}
            )
            slug = made.json()["slug"]
            plans = app[SERVICES].plans
            for round_ in range(rounds):
                for via_http in (True, False):
                    plan = await api.post(
                        f"/api/projects/{slug}/plans",
                        json={"title": f"Plan {round_}", "drafts": drafts(count)},
                    )
                    plan_id = plan.json()["id"]
                    started = time.perf_counter()
                    if via_http:
                        answer = await api.post(f"/api/projects/{slug}/plans/{plan_id}/approve")
                        assert answer.status_code == 200, answer.text
                        assert len(answer.json()) == count
                    else:
                        tickets = await plans.approve(slug, plan_id, None)
                        assert len(tickets) == count
                    elapsed = (time.perf_counter() - started) * 1000
                    (http_ms if via_http else service_ms).append(elapsed)
    finally:
        await runner.cleanup()
    return http_ms, service_ms


def extract_answer(count: int) -> dict[str, object]:
    """The model's drafts, through the forced ``propose_drafts`` answer tool."""
    tickets = [
        {
            "title": f"Step {n}",
            "description": f"Do part {n}.\n\n" + "Details. " * 30,
            "kind": ("task", "feature", "chore")[n % 3],
            "priority": ("high", "medium", "low")[n % 3],
            "depends_on": [m for m in (n - 1,) if m >= 1],
        }
        for n in range(1, count + 1)
    ]
    return {"type": "tool_use", "name": "propose_drafts", "input": {"tickets": tickets}}


async def measure_extract(rounds: int, count: int, root: Path) -> tuple[float, list[float]]:
    """The first call's overhead (it imports the SDK and makes the server's shared SDK client),
    then each later round's."""
    from codality_server.scripted.server import REQUESTS

    answer = {"blocks": [extract_answer(count)]}
    overheads: list[float] = []
    async with agent_bench([answer] * (rounds + 1), root / "repo", root / "extract-data") as (
        api,
        slug,
        model,
    ):
        body = "# Plan\n\n" + "A paragraph of design. " * 200
        made = await api.post(f"/api/projects/{slug}/plans", json={"title": "P", "body": body})
        url = f"/api/projects/{slug}/plans/{made.json()['id']}/ai/extract-tickets"
        for _ in range(rounds + 1):
            started = time.monotonic()
            reply = await api.post(url)
            finished = time.monotonic()
            assert reply.status_code == 200, reply.text
            assert len(reply.json()["drafts"]) == count
            call = model[REQUESTS][-1]
            model_s = call["answered_at"] - call["received_at"]
            overheads.append((finished - started - model_s) * 1000)
    return overheads[0], overheads[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--drafts", type=int, default=50)
    parser.add_argument("--extract-drafts", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codality-bench-plans-") as folder:
        root = Path(folder)
        make_repo(root / "repo", {"README.md": "# bench\n"})
        http_ms, service_ms = asyncio.run(measure(args.rounds, args.drafts, root))
        first_ms, extract_ms = asyncio.run(measure_extract(args.rounds, args.extract_drafts, root))
    print(f"approve of a {args.drafts}-draft plan, {args.rounds} rounds each")
    print(summary("  POST …/approve round trip", http_ms))
    print(summary("  inside the service       ", service_ms))
    median = statistics.median(http_ms)
    print(f"goal ≤ 100 ms server time: {'met' if median <= 100 else 'NOT met'} (median round trip)")
    print(f"extract of {args.extract_drafts} drafts, {args.rounds} rounds after a first call")
    print(f"  first call's overhead (imports the SDK, makes its client): {first_ms:.1f} ms")
    print(summary("  overhead beyond model time", extract_ms))
    median = statistics.median(extract_ms)
    print(f"goal ≤ 20 ms overhead: {'met' if median <= 20 else 'NOT met'} (median)")


if __name__ == "__main__":
    main()
