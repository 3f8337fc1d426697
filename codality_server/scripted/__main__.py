"""``python -m codality_server.scripted --port 0 --script demo``: serve a script; prints the URL."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from .server import Turn, serve_forever


def named_script(name: str) -> list[Turn]:
    if name == "demo":
        from .demo import DEMO_SCRIPT

        return DEMO_SCRIPT
    if name == "discover":
        from .demo import DISCOVER_SCRIPT

        return DISCOVER_SCRIPT
    raise SystemExit(f"unknown script {name!r}; known: demo, discover")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted Anthropic Messages endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", default="demo", help="a named script or a JSON file")
    args = parser.parse_args(argv)
    if args.script.endswith(".json"):
        with open(args.script, encoding="utf-8") as handle:
            turns = json.load(handle)
    else:
        turns = named_script(args.script)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(args.host, args.port, turns))


main()
