"""``python -m codality_server``: run the local server for one data dir.

One server per data dir is enforced with ``flock`` on ``server.lock`` (not by reading
``server.json``, which a crashed server leaves behind). ``server.json`` is written once the socket
listens, so ``--port 0`` callers learn the real port from it; ``last-port`` keeps that port after
the server stops, so the next start can come back where its clients look.

``--port`` may be given several times: the first one free is taken (0: any). Binding is the test
of "free" — with ``SO_REUSEADDR``, as asyncio sets it, so the sockets a killed server left in
``TIME_WAIT`` do not keep its successor off its port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path
from typing import IO

from aiohttp import web

from codality_server import __version__
from codality_server.app import create_app
from codality_server.http.keys import SERVICES
from codality_server.http.serving import ApiRunner
from codality_server.secrets_store import write_private
from codality_server.settings import DEFAULT_PORT, ServerSettings, default_data_dir

log = logging.getLogger("codality.server")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="codality_server", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        action="append",
        help=f"port to listen on (default {DEFAULT_PORT}; 0: any free one); when repeated, the"
        " first one free",
    )
    parser.add_argument("--log-level", default=os.environ.get("CODALITY_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def acquire_lock(path: Path) -> IO[str]:
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        sys.stderr.write(
            f"codality_server: another server already runs for {path.parent}"
            " (see server.json there); stop it first with `codality server stop`\n"
        )
        raise SystemExit(1) from None
    return handle


def _configure_logging(settings: ServerSettings, level: str) -> None:
    handler = logging.handlers.RotatingFileHandler(
        settings.logs_dir / "server.log", maxBytes=5_000_000, backupCount=3
    )
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if sys.stderr.isatty():
        # In a terminal (`codality server run`) the log shows there too; a detached server's
        # stderr already goes to server.log, which would then hold every line twice.
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(fmt)
        root.addHandler(console)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def listen(runner: web.BaseRunner, host: str, ports: list[int]) -> web.TCPSite:
    """A site on the first of ``ports`` that is free; the last one's error when none is."""
    for port in ports[:-1]:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await site.stop()  # registered with the runner even though it never listened
            if exc.errno != errno.EADDRINUSE:
                raise
            log.info("port %d is taken; trying the next one", port)
        else:
            return site
    site = web.TCPSite(runner, host, ports[-1])
    await site.start()
    return site


async def serve(settings: ServerSettings, ports: list[int]) -> bool:
    """Serve until SIGTERM/SIGINT or a restart request; True when a restart was asked for."""
    app = create_app(settings)
    runner = ApiRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    port = (await listen(runner, settings.host, ports)).port  # the real one, also for 0
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    url = f"http://{host}:{port}"
    write_private(
        settings.server_json,
        json.dumps({"url": url, "pid": os.getpid(), "version": __version__, "port": port}),
    )
    write_private(settings.last_port_path, f"{port}\n")
    log.info(
        "codality server %s listening on %s (data dir %s)", __version__, url, settings.data_dir
    )
    if settings.host not in LOOPBACK:
        log.warning(
            "listening on %s, not loopback: anyone who can reach it can try to sign in", url
        )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    services = app[SERVICES]
    services.restarter.requested = stop
    await stop.wait()
    log.info("shutting down")
    restart = services.restarter.pending
    await runner.cleanup()
    with contextlib.suppress(OSError):
        current = json.loads(settings.server_json.read_text())
        if current.get("pid") == os.getpid() and not restart:
            settings.server_json.unlink()
    return restart


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = (args.data_dir or default_data_dir()).expanduser().resolve()
    ports: list[int] = args.port or [DEFAULT_PORT]
    settings = ServerSettings.from_env(data_dir, args.host, ports[0])
    settings.prepare_dirs()
    lock = acquire_lock(settings.lock_path)
    _configure_logging(settings, args.log_level)
    restart = asyncio.run(serve(settings, ports))
    if restart:
        # Same address again: the port the clients know stays valid.
        port = json.loads(settings.server_json.read_text())["port"]
        lock.close()
        argv_again = [
            sys.executable,
            "-m",
            "codality_server",
            "--data-dir",
            str(data_dir),
            "--host",
            args.host,
            "--port",
            str(port),
            "--log-level",
            args.log_level,
        ]
        os.execv(sys.executable, argv_again)


if __name__ == "__main__":
    main()
