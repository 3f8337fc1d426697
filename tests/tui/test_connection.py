"""A lost server: the banner shows on whatever screen is open, and the board catches up after;
a local server that died comes back (wherever it can) and the board finds it; a form being
filled in meanwhile keeps what was typed."""

from __future__ import annotations

import os
import signal
import socket
from functools import partial
from pathlib import Path
from types import SimpleNamespace

from textual.widgets import Input

from codality_cli import local_server
from codality_cli.api import ApiClient
from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.new_ticket import NewTicketScreen
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from tests.conftest import bearer_client, create_project, create_ticket, sign_in, spawn_server

from .conftest import SIZE, notifications, wait_for_screen, wait_until


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


async def test_a_local_server_killed_comes_back_elsewhere_and_the_board_and_its_form_carry_on(
    tmp_path: Path, git_repo: Path
) -> None:
    data_dir = tmp_path / "data"
    info = local_server.start(data_dir, port=0)
    stranger = socket.socket()
    try:
        token = sign_in(SimpleNamespace(url=info.url, data_dir=data_dir))  # type: ignore[arg-type]
        async with bearer_client(info.url, token) as api:
            slug = (await create_project(api, git_repo))["slug"]
            await create_ticket(api, slug, title="Before")
        locate = partial(local_server.locate, data_dir)
        app = CodalityApp(ApiClient(info.url, token, locate=locate), slug)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
            await wait_until(pilot, lambda: numbers_on_board(app) == [1])
            await pilot.press("n")
            form = await wait_for_screen(pilot, app, NewTicketScreen)
            await pilot.press(*"Typed before the crash")

            os.kill(info.pid, signal.SIGKILL)
            await wait_until(pilot, lambda: not local_server.lock_held(data_dir))
            # Its port is taken meanwhile: the server the app starts again listens elsewhere.
            stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stranger.bind(("127.0.0.1", int(info.url.rsplit(":", 1)[1])))
            stranger.listen()
            await wait_until(pilot, lambda: not app.connected)
            assert app.board is not None
            banner = app.board.query_one(ConnectionBanner)  # seen behind the form
            assert banner.has_class("-lost")
            await wait_until(pilot, lambda: app.connected, 30)
            assert not banner.has_class("-lost")
            moved = local_server.find_running(data_dir)
            assert moved is not None and moved.url != info.url and moved.pid != info.pid
            assert app.api.base_url == moved.url

            assert app.screen is form  # still open, with what was typed
            assert form.query_one("#title", Input).value == "Typed before the crash"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
            await wait_until(pilot, lambda: numbers_on_board(app) == [1, 2])

            # The live stream is back too: a ticket made elsewhere shows up.
            async with bearer_client(moved.url, token) as api:
                await create_ticket(api, slug, title="From elsewhere")
            await wait_until(pilot, lambda: numbers_on_board(app) == [1, 2, 3])
    finally:
        stranger.close()
        local_server.stop(data_dir)


def failed(app: CodalityApp, doing: str) -> bool:
    """Whether an error notification says ``doing`` failed."""
    return any(severity == "error" and doing in m for severity, m in notifications(app))


def numbers_on_board(app: CodalityApp) -> list[int]:
    return numbers(app, "backlog") if isinstance(app.screen, BoardScreen) else []


async def test_a_ticket_sent_while_the_server_is_away_stays_in_its_form_until_it_is_saved(
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
        app = CodalityApp(ApiClient(url, token), slug)  # a remote server: nothing to restart
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
            await pilot.press("n")
            form = await wait_for_screen(pilot, app, NewTicketScreen)
            await pilot.press(*"Worth keeping", "enter", *"Steps to reproduce")
            proc.terminate()
            proc.wait(10)

            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: failed(app, "Creating a ticket failed"))
            assert app.screen is form
            assert form.query_one("#title", Input).value == "Worth keeping"

            proc, _ = spawn_server(data_dir, port)
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
            await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        async with bearer_client(url, token) as api:
            stored = (await api.get(f"/api/projects/{slug}/tickets/1")).json()
        assert (stored["title"], stored["description"]) == ("Worth keeping", "Steps to reproduce")
    finally:
        proc.kill()
        proc.wait(10)


async def test_a_comment_that_could_not_be_posted_goes_back_into_its_input(
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
            await create_ticket(api, slug, title="Talk about me")
        app = CodalityApp(ApiClient(url, token), slug)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: numbers_on_board(app) == [1])
            await pilot.press("enter")
            ticket = await wait_for_screen(pilot, app, TicketScreen)
            field = ticket.query_one("#comment-input", Input)
            field.focus()
            proc.terminate()
            proc.wait(10)

            await pilot.press(*"Seen on Firefox too", "enter")
            await wait_until(pilot, lambda: failed(app, "Posting the comment failed"))
            await wait_until(pilot, lambda: field.value == "Seen on Firefox too")

            proc, _ = spawn_server(data_dir, port)
            field.focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: field.value == "")
        async with bearer_client(url, token) as api:
            comments = (await api.get(f"/api/projects/{slug}/tickets/1/comments")).json()
        assert [c["body"] for c in comments] == ["Seen on Firefox too"]
    finally:
        proc.kill()
        proc.wait(10)
