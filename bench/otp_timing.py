"""request-otp timing: a user's address against an unknown one, over HTTP to the real server.

Account discovery by timing needs the two answers to take measurably different times. Both paths
now do the same work (hash, store, compose, write or open the mail; only the last step differs),
so their medians should differ by no more than two halves of the *same* population do (the noise
line). Requests alternate known/unknown after a warm-up; the rate-limit rows are cleared between
requests, outside the timed part, so every request is a full one. No SMTP: the outbox (the local
default), where the gap was 5.3 ms vs 2.4 ms before.

    python bench/otp_timing.py [--requests 600]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from serving import serve

from codality_server.app import create_app
from codality_server.settings import ServerSettings

KNOWN = "known@example.com"
# One address each, asked for as often: the same history (each request retires the last code).
UNKNOWN = "nobody@example.com"


async def measure(requests: int, warmup: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir(mode=0o700)
        runner, url = await serve(create_app(ServerSettings(data_dir=data_dir, port=0)))
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                code = (data_dir / "setup-code").read_text().strip()
                made = await client.post("/api/setup/verify", json={"code": code, "email": KNOWN})
                made.raise_for_status()
                db = sqlite3.connect(data_dir / "codality.db")
                for index in range(warmup + requests):
                    kind = "known" if index % 2 == 0 else "unknown"
                    email = KNOWN if kind == "known" else UNKNOWN
                    db.execute("DELETE FROM otp_requests")
                    db.commit()
                    started = time.perf_counter()
                    response = await client.post("/api/auth/request-otp", json={"email": email})
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    if index >= warmup:
                        times[kind].append(elapsed * 1000)
                db.close()
        finally:
            await runner.cleanup()
    return times


def _line(label: str, values: list[float]) -> str:
    quantiles = statistics.quantiles(values, n=10)
    return (
        f"{label:<22} n={len(values):<4} median {statistics.median(values):6.2f} ms"
        f"   p10 {quantiles[0]:6.2f}   p90 {quantiles[-1]:6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=40)
    args = parser.parse_args()
    gaps, drifts = [], []
    for round_ in range(1, args.rounds + 1):
        times = asyncio.run(measure(args.requests, args.warmup))
        known, unknown = times["known"], times["unknown"]
        print(f"round {round_}")
        print("  " + _line("known address", known))
        print("  " + _line("unknown address", unknown))
        gaps.append(statistics.median(known) - statistics.median(unknown))
        drifts.append(statistics.median(known) + statistics.median(unknown))
    # Noise: how far the same measurement moves between rounds of this very run.
    spread = (max(drifts) - min(drifts)) / 2
    print(
        f"median gap known-unknown per round: {', '.join(f'{g:+.2f}' for g in gaps)} ms;"
        f" round-to-round spread of the medians {spread:.2f} ms"
    )


if __name__ == "__main__":
    main()
