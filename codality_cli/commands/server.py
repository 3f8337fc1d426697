"""``codality server …``: the embedded server of the data dir — run, start, stop, status, logs."""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import JsonOption

app = typer.Typer(help="Run and manage the local server of the data dir.", no_args_is_help=True)

HostOption = Annotated[
    str, typer.Option("--host", help="Address to listen on (loopback by default).")
]
PortOption = Annotated[
    int | None,
    typer.Option(
        "--port",
        help="Port (default: the last one, else 7420, else a free one); 0 picks a free one.",
    ),
]


def _local(ctx: typer.Context) -> CliContext:
    cli = CliContext.of(ctx)
    if not cli.settings.is_local:
        raise CliError("`codality server` manages the local server; drop --server / CODALITY_URL")
    return cli


@app.command("run")
def run_(ctx: typer.Context, host: HostOption = "127.0.0.1", port: PortOption = None) -> None:
    """Run the server in the foreground (Ctrl-C stops it)."""
    from .. import local_server

    cli = _local(ctx)
    os.execv(sys.executable, local_server.server_argv(cli.settings.data_dir, host, port))


@app.command("start")
def start(ctx: typer.Context, host: HostOption = "127.0.0.1", port: PortOption = None) -> None:
    """Start the server in the background (commands do this by themselves when needed)."""
    from .. import local_server

    cli = _local(ctx)
    running = local_server.find_running(cli.settings.data_dir)
    if running is not None:
        cli.streams.message(f"already running at {running.url} (pid {running.pid})")
        return
    with cli.streams.spinner("starting the local server…"):
        info = local_server.start(cli.settings.data_dir, host, port)
    cli.streams.message(f"started at {info.url} (pid {info.pid})")


@app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the server gracefully (running agent sessions are marked interrupted)."""
    from .. import local_server

    cli = _local(ctx)
    with cli.streams.spinner("stopping the local server…"):
        stopped = local_server.stop(cli.settings.data_dir)
    cli.streams.message("stopped" if stopped else "not running")


@app.command("restart")
def restart(ctx: typer.Context) -> None:
    """Stop the server if it runs, then start it again (on the same port)."""
    from .. import local_server

    cli = _local(ctx)
    with cli.streams.spinner("restarting the local server…"):
        local_server.stop(cli.settings.data_dir)
        info = local_server.start(cli.settings.data_dir)
    cli.streams.message(f"started at {info.url} (pid {info.pid})")


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Whether the server runs, where, and its log file; exit code 5 when it does not run."""
    from .. import local_server

    cli = _local(ctx)
    data_dir = cli.settings.data_dir
    info = local_server.find_running(data_dir)
    view = {
        "running": info is not None,
        "url": info.url if info else None,
        "pid": info.pid if info else None,
        "version": info.version if info else None,
        "setup_required": info.setup_required if info else None,
        "data_dir": str(data_dir),
        "log": str(local_server.log_path(data_dir)),
    }
    if as_json:
        cli.output(True).json(view)
    elif info is not None:
        cli.streams.write(f"running at {info.url} (pid {info.pid}, version {info.version})\n")
        cli.streams.write(f"data dir: {data_dir}\nlog: {view['log']}\n")
    else:
        cli.streams.write(f"not running (data dir: {data_dir})\n")
    if info is None:
        raise typer.Exit(ExitCode.UNREACHABLE)


@app.command("logs")
def logs(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines to show first.")] = 50,
) -> None:
    """Print the end of the server log (``<data dir>/logs/server.log``)."""
    from .. import local_server

    cli = _local(ctx)
    path = local_server.log_path(cli.settings.data_dir)
    if not path.exists():
        raise CliError(f"no log yet at {path}", ExitCode.NOT_FOUND)
    handle = path.open("r", encoding="utf-8", errors="replace")
    try:
        tail = handle.readlines()[-lines:] if lines > 0 else []
        cli.streams.write("".join(tail))
        while follow:
            line = handle.readline()
            if line:
                cli.streams.write(line)
                continue
            if path.exists() and path.stat().st_ino != os.fstat(handle.fileno()).st_ino:
                handle.close()  # rotated: continue with the new file from its top
                handle = path.open("r", encoding="utf-8", errors="replace")
                continue
            time.sleep(0.2)
    finally:
        handle.close()
