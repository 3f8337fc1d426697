"""Ticket search over 100,000 tickets: p50 through the server's search beside raw sqlite3.

Goal (issue 2): the server's search p50 ≤ 1.5 × the same query on raw ``sqlite3``. The database is
built once through the real migrations (FTS5 table, triggers and configured rank) and filled with
synthetic tickets whose words follow a Zipf-like distribution, so some terms are frequent and most
are rare, as in real trackers. Three timings per query:

- ``raw``: the same SQL and parameters on a plain ``sqlite3`` connection;
- ``db``: ``db.tickets.search_tickets`` through aiosqlite (what the service awaits);
- ``http``: ``GET /api/projects/{slug}/tickets/search`` on a running server, end to end.

    python bench/fts_search.py [--tickets 100000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

QUERIES = ["crash", "migr*", "database timeout", "login", "memory leak", "zebrafish", "c++ AND"]


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    """Random words in Zipf order, with real tracker words placed from frequent to rare."""
    common = [
        "error",
        "user",
        "page",
        "login",
        "crash",
        "database",
        "timeout",
        "slow",
        "cache",
        "migration",
        "memory",
        "leak",
        "export",
        "session",
        "token",
        "button",
    ]
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]
    for index, word in enumerate(common):
        words.insert(min(len(words), 3 * 2**index), word)
    return words


def sentence(rng: random.Random, words: list[str], n: int, weights: list[float]) -> str:
    return " ".join(rng.choices(words, weights=weights, k=n))


async def build(path: Path, count: int) -> tuple[int, str]:
    from codality_server.db.database import Database
    from codality_server.db.migrate import migrate

    db = Database(path)
    await db.open()
    await migrate(db)
    await db.close()
    rng = random.Random(7)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    now = "2026-11-28T00:00:00.000Z"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO projects(id, slug, name, path, default_branch, created_at, updated_at)"
            " VALUES (1, 'bench', 'bench', '/nonexistent', 'main', ?, ?)",
            (now, now),
        )
        rows = (
            (
                1,
                i + 1,
                sentence(rng, words, rng.randint(4, 10), weights),
                sentence(rng, words, rng.randint(30, 120), weights),
                now,
                now,
            )
            for i in range(count)
        )
        conn.executemany(
            "INSERT INTO tickets(project_id, number, title, description, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("INSERT INTO ticket_search(ticket_search) VALUES ('optimize')")
    return 1, "bench"


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure(path: Path, runs: int) -> list[dict[str, object]]:
    from codality_server.db import tickets as db_tickets
    from codality_server.db.database import Database
    from codality_server.domain.tickets import search_expression

    db = Database(path)
    await db.open()
    raw = sqlite3.connect(path)
    results = []
    try:
        for query in QUERIES:
            expression = search_expression(query)
            db_times, raw_times = [], []
            hits = 0
            for _ in range(runs):  # interleaved, so neither side gets the warmer cache
                start = time.perf_counter()
                found = await db_tickets.search_tickets(db.reader, 1, expression, 20)
                db_times.append(time.perf_counter() - start)
                hits = len(found)
                start = time.perf_counter()
                raw.execute(db_tickets.SEARCH_SQL, (expression, 1, 20)).fetchall()
                raw_times.append(time.perf_counter() - start)
            results.append(
                {
                    "query": query,
                    "hits": hits,
                    "raw_p50_ms": round(p50(raw_times), 3),
                    "db_p50_ms": round(p50(db_times), 3),
                    "ratio": round(p50(db_times) / p50(raw_times), 2),
                }
            )
    finally:
        raw.close()
        await db.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="codality-fts-")) / "codality.db"
    start = time.perf_counter()
    asyncio.run(build(path, args.tickets))
    print(f"built {args.tickets} tickets in {time.perf_counter() - start:.1f} s")
    results = asyncio.run(measure(path, args.runs))
    print(json.dumps(results, indent=2))
    worst = max(float(str(r["ratio"])) for r in results)
    print(
        f"goal db p50 <= 1.5 x raw sqlite3 on every query: {'meets' if worst <= 1.5 else 'misses'}"
        f" (worst {worst}x)"
    )


if __name__ == "__main__":
    main()
