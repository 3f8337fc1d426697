"""A lost server: the banner shows on whatever screen is open, and the board catches up after."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

from codality_cli.api import ApiClient
from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from tests.conftest import bearer_client, create_project, create_ticket, sign_in, spawn_server

from .conftest import SIZE, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def numbers(app: CodalityApp, status: str) -> list[int]:
    board = app.screen
    assert isinstance(board, BoardScreen)
    return [int(t["number"]) for t in board.state.column_tickets(status)]


async def test_banner_while_the_server_is_gone_then_reconnect_and_catch_up(
    tmp_path: Path, git_repo: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    port = free_port()
    proc, url = spawn_server(data_dir, port)
    try:
        token = sign_in(SimpleNamespace(url=url, data_dir=data_dir))  # type: ignore[arg-type]
        async with bearer_client(url, token) as api:
            slug = (await create_project(api, git_repo))["slug"]
            await create_ticket(api, slug, title="Before")

            app = CodalityApp(ApiClient(url, token), slug)
            async with app.run_test(size=SIZE) as pilot:
                await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
                await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
                banner = app.screen.query_one(ConnectionBanner)
                assert not banner.has_class("-lost")

                proc.terminate()
                proc.wait(10)
                await wait_until(pilot, lambda: not app.connected)
                await wait_until(pilot, lambda: banner.has_class("-lost"))

                proc, _ = spawn_server(data_dir, port)
                # Created before the board is back: the reload on reconnecting picks it up.
                await api.post(f"/api/projects/{slug}/tickets", json={"title": "While away"})
                await wait_until(pilot, lambda: app.connected, 20)
                await wait_until(pilot, lambda: not banner.has_class("-lost"))
                await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 2])

                # And the live stream is back.
                await api.post(f"/api/projects/{slug}/tickets", json={"title": "After"})
                await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 2, 3])
    finally:
        proc.kill()
        proc.wait(10)
