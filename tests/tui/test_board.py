"""The board against a real server: columns, cards, live updates, keys, the new-ticket form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from textual.widgets import Input, TextArea
from textual.widgets._footer import FooterKey

from codality_cli.api import ApiClient
from codality_cli.tui.app import CodalityApp
from codality_cli.tui.board_state import BoardState, matches, neighbour_status
from codality_cli.tui.screens.assign import AssignScreen
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.confirm import ConfirmScreen
from codality_cli.tui.screens.new_ticket import NewTicketScreen
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.widgets.status_column import StatusColumn
from tests.conftest import RunningServer, create_ticket, git
from tests.fakes.anthropic_server import FakeAnthropic
from tests.server.accounts import add_user, otp_token

from .conftest import FAREWELL_RUN, SIZE, notifications, wait_for_screen, wait_until
from .test_agent_flow import farewell_app, run_to_review


def column(app: CodalityApp, status: str) -> StatusColumn:
    return app.screen.query_one(f"#column-{status}", StatusColumn)


def numbers(app: CodalityApp, status: str) -> list[int]:
    return column(app, status).numbers


async def test_board_shows_tickets_by_status_and_follows_live_changes(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Fix the login bug", kind="bug", priority="urgent")
    await create_ticket(api, slug, title="Write docs", status="inbox")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        assert numbers(app, "inbox") == [2]
        assert isinstance(app.screen, BoardScreen)
        # Created and moved elsewhere (another client): the board follows the one SSE stream.
        await create_ticket(api, slug, title="Added elsewhere")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 3])
        moved = await api.patch(f"/api/projects/{slug}/tickets/1/status", json={"status": "done"})
        assert moved.status_code == 200, moved.text
        await wait_until(pilot, lambda: numbers(app, "done") == [1])
        assert numbers(app, "backlog") == [3]


async def test_keys_move_between_columns_and_cards(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    for title in ("One", "Two"):
        await create_ticket(api, slug, title=title)
    await create_ticket(api, slug, title="Three", status="inbox")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 2])
        board = app.screen
        assert isinstance(board, BoardScreen)
        assert board.current_column is column(app, "backlog")
        await pilot.press("j")
        assert board.current_ticket == 2
        await pilot.press("k")
        assert board.current_ticket == 1
        await pilot.press("h")
        assert board.current_column is column(app, "inbox")
        assert board.current_ticket == 3
        await pilot.press("right", "l")
        assert board.current_column is column(app, "in_progress")
        await pilot.press("left", "left")
        assert board.current_column is column(app, "inbox")


async def test_new_ticket_form_is_centred_and_enter_moves_to_the_description(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    app = make_app(slug)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("n")
        form = await wait_for_screen(pilot, app, NewTicketScreen)
        dialog = form.query_one(".dialog").region
        assert dialog.width <= 80 and dialog.height <= 24
        assert abs(dialog.x - (80 - dialog.right)) <= 1  # as much room left as right
        assert abs(dialog.y - (24 - dialog.bottom)) <= 1
        await pilot.press(*"Crash on empty input")
        await pilot.press("enter")  # not sent yet: on to the description
        assert isinstance(app.focused, TextArea) and app.focused.id == "description"
        await pilot.press(*"Steps", "enter", *"two")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        board = app.screen
        assert isinstance(board, BoardScreen)
        assert board.current_ticket == 1
    stored = (await api.get(f"/api/projects/{slug}/tickets/1")).json()
    assert stored["title"] == "Crash on empty input"
    assert stored["description"] == "Steps\ntwo"
    assert stored["kind"] == "task" and stored["status"] == "backlog"


async def test_edit_changes_only_what_was_edited(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Tpyo in the title", kind="bug", description="Keep me")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        await pilot.press("e")
        form = await wait_for_screen(pilot, app, NewTicketScreen)
        title = form.query_one("#title", Input)
        assert title.value == "Tpyo in the title"
        title.value = "Typo in the title"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Typo" in column(app, "backlog").card_text(1))
        await pilot.press("e", "ctrl+s")  # nothing changed: nothing sent, and said so
        await wait_until(
            pilot, lambda: ("information", "Nothing changed on #1.") in notifications(app)
        )
    stored = (await api.get(f"/api/projects/{slug}/tickets/1")).json()
    assert (stored["title"], stored["kind"], stored["description"]) == (
        "Typo in the title",
        "bug",
        "Keep me",
    )


async def test_only_the_focused_column_shows_its_selected_card(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="In the backlog")
    await create_ticket(api, slug, title="In the inbox", status="inbox")
    await create_ticket(api, slug, title="Done already", status="done")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "done") == [3])
        backlog, inbox, done = (column(app, s) for s in ("backlog", "inbox", "done"))
        cursor = backlog.get_component_rich_style("status-column--cursor").bgcolor
        assert cursor is not None

        def lit(which: StatusColumn) -> bool:
            """Whether the top card's first line is drawn in the cursor's colour."""
            return any(seg.style and seg.style.bgcolor == cursor for seg in which.render_line(0))

        assert app.focused is backlog and backlog.highlighted == 0 and inbox.highlighted == 0
        assert [lit(c) for c in (backlog, inbox, done)] == [True, False, False]
        await pilot.press("h")
        assert [lit(c) for c in (backlog, inbox, done)] == [False, True, False]


async def test_filter_enter_lands_on_the_first_match_and_escape_clears_it(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Write docs")
    await create_ticket(api, slug, title="Fix the login bug", kind="bug", status="in_review")
    await create_ticket(api, slug, title="Login page copy", status="done")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        board = app.screen
        assert isinstance(board, BoardScreen)
        await pilot.press("slash", *"login")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [])
        assert numbers(app, "in_review") == [2] and numbers(app, "done") == [3]
        await pilot.press("enter")
        await wait_until(pilot, lambda: board.current_ticket == 2)
        assert board.current_column is column(app, "in_review")
        await pilot.press("escape")  # the filter is applied and closed: escape clears it
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        assert board.state.needle == ""
        # Escape while typing clears too, and puts the cursor back where it was.
        await pilot.press("h", "slash", *"docs", "escape")
        await wait_until(pilot, lambda: numbers(app, "done") == [3])
        assert board.current_column is column(app, "in_progress")


async def test_q_quits_from_the_board(
    project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    app = make_app(project["slug"], follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("q")
        await wait_until(pilot, lambda: app._exit)


async def test_cards_move_between_columns_and_the_cursor_follows(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Moving card")
    await create_ticket(api, slug, title="Stays")

    async def status() -> str:
        return str((await api.get(f"/api/projects/{slug}/tickets/1")).json()["status"])

    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 2])
        board = app.screen
        assert isinstance(board, BoardScreen)
        await pilot.press("greater_than_sign")
        await wait_until(pilot, lambda: numbers(app, "in_progress") == [1])
        assert board.current_column is column(app, "in_progress") and board.current_ticket == 1
        assert await status() == "in_progress"
        await pilot.press("less_than_sign", "less_than_sign")
        await wait_until(pilot, lambda: numbers(app, "inbox") == [1])
        assert await status() == "inbox"
        await pilot.press("less_than_sign")  # already in the first column
        await wait_until(
            pilot,
            lambda: ("information", "#1 is already in the first column.") in notifications(app),
        )
        await pilot.press("5")
        await wait_until(pilot, lambda: numbers(app, "done") == [1])
        assert board.current_ticket == 1 and await status() == "done"
        await pilot.press("6")  # cancelled, with its column hidden: the card leaves the board
        await wait_until(pilot, lambda: numbers(app, "done") == [])
        assert await status() == "cancelled"


async def test_assign_to_me_or_to_a_person_picked_by_name(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Needs an owner")
    invited = await api.post("/api/users", json={"email": "ada@example.com", "name": "Ada Byron"})
    assert invited.status_code == 201, invited.text
    ada, me = invited.json()["id"], (await api.get("/api/auth/me")).json()["id"]

    async def assignee() -> Any:
        return (await api.get(f"/api/projects/{slug}/tickets/1")).json()["assignee"]

    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        await pilot.press("a")
        picker = await wait_for_screen(pilot, app, AssignScreen)
        await pilot.press(*"byron", "enter")
        await wait_until(pilot, lambda: app.screen is not picker)
        await wait_until(
            pilot, lambda: ("information", "Assigned #1 to Ada Byron") in notifications(app)
        )
        assert await assignee() == ada
        assert "@Ada Byron" in column(app, "backlog").card_text(1)
        await pilot.press("i")  # to me, in one key
        await wait_until(pilot, lambda: len(notifications(app)) == 2)
        assert await assignee() == me
        await pilot.press("a")
        await wait_for_screen(pilot, app, AssignScreen)
        await pilot.press(*"nobody", "enter")
        await wait_until(pilot, lambda: len(notifications(app)) == 3)
        assert await assignee() is None


async def test_a_member_assigns_a_colleague_by_name(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    """Listing users is for admins; the picker reads the people list any member may."""
    slug = project["slug"]
    await create_ticket(api, slug, title="For a colleague")
    invited = await api.post("/api/users", json={"email": "ada@example.com", "name": "Ada Byron"})
    assert invited.status_code == 201, invited.text
    await add_user(api, "member@example.com")
    token = await otp_token(server, "member@example.com")
    app = CodalityApp(ApiClient(server.url, token), slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        await pilot.press("a")
        picker = await wait_for_screen(pilot, app, AssignScreen)
        await pilot.press(*"byron", "enter")
        await wait_until(pilot, lambda: app.screen is not picker)
        await wait_until(
            pilot, lambda: ("information", "Assigned #1 to Ada Byron") in notifications(app)
        )
    shown = (await api.get(f"/api/projects/{slug}/tickets/1")).json()
    assert shown["assignee"] == invited.json()["id"]


async def test_cancelled_column_appears_on_toggle(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Dropped idea", status="cancelled")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        assert not app.screen.query("#column-cancelled")
        await pilot.press("C")
        await wait_until(pilot, lambda: bool(app.screen.query("#column-cancelled")))
        await wait_until(pilot, lambda: numbers(app, "cancelled") == [1])
        await pilot.press("C")
        await wait_until(pilot, lambda: not app.screen.query("#column-cancelled"))


async def test_help_lists_the_board_keys_and_the_palette_runs_actions(
    project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    from codality_cli.tui.screens.help import HelpScreen
    from codality_cli.tui.screens.new_ticket import NewTicketScreen

    app = make_app(project["slug"], follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("question_mark")
        help_screen = await wait_for_screen(pilot, app, HelpScreen)
        described = dict((desc, keys) for keys, desc in help_screen.rows)
        assert described["New ticket"] == "n"
        assert described["Start the agent"] == "s"
        assert described["Filter"] == "/"
        assert ("q", "Quit") in help_screen.rows and ("ctrl+q", "Quit") in help_screen.rows
        assert described["Command line"] == ":"
        assert described["Move card right"] == ">" and described["Move to in review"] == "4"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        # The palette: each of our actions once, none of Textual's own commands or cursor keys.
        names = [command.title for command in app.get_system_commands(app.screen)]
        assert len(names) == len(set(names)), names
        assert not {"Theme", "Screenshot", "Maximize", "Next card", "Down", "Focus Next"} & set(
            names
        )
        for action in ("Switch project", "Approve", "Merge", "Discard", "Assign to me", "Quit"):
            assert action in names
        await pilot.press("ctrl+p")
        await pilot.press(*"New ticket")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NewTicketScreen))


async def test_approve_merge_and_discard_from_the_board_each_ask_first(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    # Ticket #1 gets the farewell edit; #2 a second run of the same edit, to be discarded.
    app = await farewell_app(agent_api, fake_anthropic, slug, make_app, *FAREWELL_RUN)
    await create_ticket(agent_api, slug, title="Another go")
    async with app.run_test(size=SIZE) as pilot:
        await run_to_review(pilot, app, agent_api, slug)
        board = app.screen
        assert isinstance(board, BoardScreen)
        await pilot.press("M")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("n")  # declined: nothing merged
        await wait_until(pilot, lambda: app.screen is board)
        assert (await agent_api.get(f"/api/projects/{slug}/tickets/1")).json()["branch"]
        await pilot.press("A", "y")
        await wait_until(pilot, lambda: any("Approved #1" in m for _, m in notifications(app)))
        reviews = (await agent_api.get(f"/api/projects/{slug}/tickets/1/reviews")).json()
        assert [r["state"] for r in reviews] == ["approved"]
        git(git_repo, "init", "-q", "--bare", str(git_repo.parent / "origin.git"))
        git(git_repo, "remote", "add", "origin", str(git_repo.parent / "origin.git"))
        await pilot.press("M")
        asked = await wait_for_screen(pilot, app, ConfirmScreen)
        assert "into main, then push main to origin?" in asked.question
        await pilot.press("y")
        await wait_until(pilot, lambda: board.state.tickets[1].get("status") == "done", 20)
        assert git(git_repo.parent / "origin.git", "rev-parse", "main") == git(
            git_repo, "rev-parse", "main"
        )
        await wait_until(
            pilot, lambda: any("pushed main to origin" in m for _, m in notifications(app))
        )
        assert "goodbye" in git(git_repo, "show", "main:src/app.py")
        assert board.current_ticket == 1  # the cursor followed the card to done
        # #2: run it, then discard its work after saying yes.
        board.focus_ticket(2)
        await pilot.press("s")
        await wait_until(pilot, lambda: board.state.tickets[2].get("status") == "in_review", 30)
        await wait_until(pilot, lambda: board.state.tickets[2].get("agent_status") == "completed")
        board.focus_ticket(2)
        await pilot.press("D")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: any("Discarded" in m for _, m in notifications(app)))
        stored = (await agent_api.get(f"/api/projects/{slug}/tickets/2")).json()
        assert stored["branch"] is None


async def test_readable_at_80x24_titles_with_counts_footer_whole_two_line_cards(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="A title far too long for a column a fifth of 80 wide")
    await create_ticket(api, slug, title="Second", status="in_progress")
    app = make_app(slug, follow=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: numbers(app, "in_progress") == [2])
        titles = [c.border_title for c in app.screen.query(StatusColumn)]
        assert titles == ["0 Inbox", "1 Backlog", "1 In progress", "0 In review", "0 Done"]

        def keys() -> list[FooterKey]:
            return list(app.screen.query(FooterKey))

        # Every footer key laid out whole on the screen (a key that does not fit gets no room).
        await wait_until(pilot, lambda: len(keys()) > 5 and all(k.region.width for k in keys()))
        assert {k.key for k in keys()} >= {"n", "slash", "colon", "q", "question_mark", "ctrl+p"}
        assert all(key.region.right <= 80 for key in keys())
        backlog = column(app, "backlog")
        first, second, gap = (backlog.render_line(y).text for y in range(3))
        assert first.rstrip().endswith("…") and "#1 A title" in first  # cut, not wrapped
        assert "task ·" in second and gap.strip() == ""
    app = make_app(slug, follow=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: numbers(app, "in_progress") == [2])
        titles = [c.border_title for c in app.screen.query(StatusColumn)]
        assert titles[:3] == ["0 Inbox", "1 Backlog", "1 In progress"]

        def to_the_cards() -> bool:  # the columns holding cards get the width, once laid out
            widths = [c.region.width for c in app.screen.query(StatusColumn)]
            return min(widths[1], widths[2]) > 2 * max(widths[0], *widths[3:])

        await wait_until(pilot, to_the_cards)


async def test_a_click_selects_a_card_and_a_double_click_opens_it(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    for title in ("One", "Two"):
        await create_ticket(api, slug, title=title, status="inbox")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "inbox") == [1, 2])
        board = app.screen
        assert isinstance(board, BoardScreen)
        inbox = column(app, "inbox")
        await pilot.click(inbox, offset=(4, 4))  # the second card's first line (border, card, gap)
        assert board.current_column is inbox and board.current_ticket == 2
        await pilot.click(inbox, offset=(4, 1), times=2)
        ticket = await wait_for_screen(pilot, app, TicketScreen)
        assert ticket.number == 1


def test_filter_words_match_number_title_kind_priority_and_assignee() -> None:
    ticket = {"number": 7, "title": "Login page", "kind": "bug", "priority": "high"}
    ada = {**ticket, "assignee": 3, "assignee_name": "Ada Byron"}
    assert matches(ticket, "#7 LOGIN bug") and not matches(ticket, "login docs")
    assert matches(ada, "@ada") and matches(ada, "byron high") and not matches(ticket, "@ada")
    assert matches({**ticket, "assignee": "agent"}, "@agent")
    assert neighbour_status("backlog", 1, False) == "in_progress"
    assert neighbour_status("done", 1, False) is None
    assert neighbour_status("done", 1, True) == "cancelled"
    assert neighbour_status("inbox", -1, True) is None


def test_a_reload_keeps_what_the_stream_changed_while_it_was_fetched() -> None:
    state = BoardState(project_id=1)
    state.load([{"id": 1, "number": 1, "project_id": 1, "status": "backlog"}])
    state.begin_load()  # the reload after a reconnect asks for a snapshot…
    state.upsert({"id": 2, "number": 2, "project_id": 1, "status": "backlog"})  # …events come…
    state.upsert({"id": 1, "number": 1, "project_id": 1, "status": "done"})
    state.load([{"id": 1, "number": 1, "project_id": 1, "status": "backlog"}])  # …it answers
    assert [t["number"] for t in state.column_tickets("done")] == [1]
    assert [t["number"] for t in state.column_tickets("backlog")] == [2]
    state.load([])  # a later snapshot is taken whole
    assert state.tickets == {}


async def test_the_board_opens_on_a_card_and_gives_the_width_to_columns_with_cards(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    long_title = "Checkout page shows the wrong total today"  # 41 characters (cut at 20 before)
    await create_ticket(api, slug, title=long_title, status="in_review")
    await create_ticket(api, slug, title="Second in review", status="in_review")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "in_review") == [1, 2])
        board = app.screen
        assert isinstance(board, BoardScreen)
        # The only cards are in review: that is where the cursor starts, so j and enter work.
        await wait_until(pilot, lambda: board.current_ticket == 1)
        assert board.current_column is column(app, "in_review")

        def widths() -> dict[str, int]:
            return {c.status: c.region.width for c in board.columns}

        await wait_until(pilot, lambda: widths()["in_review"] >= 3 * widths()["backlog"])
        assert sum(widths().values()) == SIZE[0]  # was 24 each
        assert long_title in column(app, "in_review").render_line(0).text  # not cut
        titles = [c.border_title for c in board.columns]
        assert titles == ["0 Inbox", "0 Backlog", "0 In progress", "2 In review", "0 Done"]
        await pilot.press("j", "enter")
        ticket = await wait_for_screen(pilot, app, TicketScreen)
        assert ticket.number == 2


def test_a_card_names_how_its_run_ended_in_the_apis_word() -> None:
    from codality_cli.output import human
    from codality_cli.tui.widgets.ticket_card import render_card

    ticket = {"number": 3, "title": "Flaky", "kind": "bug", "priority": "high"}
    for status, word in (
        ("interrupted", "interrupted"),  # the server restarted under it: not the agent failing
        ("timed_out", "timed out"),
        ("failed", "failed"),
    ):
        badge = render_card({**ticket, "agent_status": status}).plain.splitlines()[1]
        assert badge.startswith(f" {word} "), badge
        assert human(status, "agent_status") == word  # as `ticket status` and `ticket runs` say
    assert "failed" not in render_card({**ticket, "agent_status": "interrupted"}).plain
