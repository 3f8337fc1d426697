"""The board against a real server: columns, cards, live updates, keys, the new-ticket form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.widgets.status_column import StatusColumn

from .conftest import SIZE, add_ticket, wait_until


def column(app: CodalityApp, status: str) -> StatusColumn:
    return app.screen.query_one(f"#column-{status}", StatusColumn)


def numbers(app: CodalityApp, status: str) -> list[int]:
    return [int(str(o.id)) for o in column(app, status).options]


async def test_board_shows_tickets_by_status_and_follows_live_changes(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await add_ticket(api, slug, title="Fix the login bug", kind="bug", priority="urgent")
    await add_ticket(api, slug, title="Write docs", status="inbox")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        assert numbers(app, "inbox") == [2]
        assert isinstance(app.screen, BoardScreen)
        # Created and moved elsewhere (another client): the board follows the one SSE stream.
        await add_ticket(api, slug, title="Added elsewhere")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 3])
        moved = await api.patch(f"/api/projects/{slug}/tickets/1/status", json={"status": "done"})
        assert moved.status_code == 200, moved.text
        await wait_until(pilot, lambda: numbers(app, "done") == [1])
        assert numbers(app, "backlog") == [3]
