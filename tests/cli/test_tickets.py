"""Projects and tickets through the CLI against a real server: output modes and exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli


def test_project_create_list_show(cli: Cli, project: dict[str, Any], git_repo: Path) -> None:
    assert project["path"] == str(git_repo.resolve())
    assert project["default_branch"] == "main"
    listed = cli("project", "list")
    assert listed.exit_code == 0
    # Piped: one tab-separated row, no decoration, nothing but data on stdout.
    assert listed.stdout.splitlines() == [
        f"{project['slug']}\t{project['name']}\tmain\t{project['path']}\t"
    ]
    shown = cli("project", "show", project["slug"], "--json", "--fields", "slug,default_branch")
    assert shown.json() == {"slug": project["slug"], "default_branch": "main"}


def test_ticket_lifecycle_and_json_shapes(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    created = cli(
        "-p",
        slug,
        "ticket",
        "create",
        "Fix pagination",
        "-d",
        "Off by one.",
        "--kind",
        "bug",
        "--json",
    )
    assert created.exit_code == 0, created.stderr
    ticket = created.json()
    assert (ticket["number"], ticket["kind"], ticket["status"]) == (1, "bug", "backlog")
    assert cli("-p", slug, "ticket", "create", "Second", "-d", "").exit_code == 0

    listed = cli("-p", slug, "ticket", "list", "--json")
    assert [t["title"] for t in listed.json()] == ["Fix pagination", "Second"]
    assert set(listed.json()[0]) >= {
        "id",
        "number",
        "title",
        "status",
        "agent_status",
        "pull_request",
    }

    tsv = cli("-p", slug, "ticket", "list", "--kind", "bug").stdout.splitlines()
    assert len(tsv) == 1 and tsv[0].split("\t")[:5] == [
        "1",
        "Fix pagination",
        "bug",
        "medium",
        "backlog",
    ]

    moved = cli("-p", slug, "ticket", "status", "1", "in_review", "--json")
    assert moved.json()["status"] == "in_review"
    edited = cli(
        "-p", slug, "ticket", "edit", "1", "--title", "Fix paging", "--priority", "high", "--json"
    )
    assert (edited.json()["title"], edited.json()["priority"]) == ("Fix paging", "high")
    assigned = cli("-p", slug, "ticket", "assign", "1", "agent", "--json")
    assert assigned.json()["assignee"] == "agent"
    mine = cli("-p", slug, "ticket", "assign", "2", "me")
    assert mine.exit_code == 0 and "assigned" in mine.stderr and mine.stdout == ""

    shown = cli("-p", slug, "ticket", "show", "1")
    assert "title:\tFix paging" in shown.stdout.splitlines()
    assert shown.stdout.rstrip().endswith("Off by one.")

    commented = cli("-p", slug, "ticket", "comment", "1", "Looks like the cursor.")
    assert commented.exit_code == 0
    comments = cli("-p", slug, "ticket", "comments", "1", "--json").json()
    assert [c["body"] for c in comments] == ["Looks like the cursor."]

    found = cli("-p", slug, "ticket", "search", "cursor", "--json").json()
    assert [hit["number"] for hit in found] == [1]
    assert cli(
        "-p", slug, "ticket", "list", "-s", "in_review", "--json", "--fields", "number"
    ).json() == [{"number": 1}]


def test_show_names_the_tickets_a_ticket_depends_on(cli: Cli, project: dict[str, Any]) -> None:
    from codality_server.db.dependencies import add_dependencies
    from codality_server.http.keys import SERVICES

    slug = project["slug"]
    ids = [cli("-p", slug, "ticket", "create", t, "-d", "", "--json").json()["id"] for t in "abc"]

    async def record() -> None:
        async with cli.server.app[SERVICES].core.db.transaction() as conn:
            await add_dependencies(conn, ids[2], [ids[1], ids[0]])

    cli.server.call(record())
    shown = cli("-p", slug, "ticket", "show", "3")
    assert "depends on:\t#1, #2" in shown.stdout.splitlines()
    assert cli("-p", slug, "ticket", "show", "3", "--json").json()["depends_on"] == [1, 2]
    assert "depends on:\t" in cli("-p", slug, "ticket", "show", "1").stdout.splitlines()


def test_terminal_gets_a_table(cli: Cli, project: dict[str, Any]) -> None:
    cli("-p", project["slug"], "ticket", "create", "Table me", "-d", "x")
    shown = cli("--no-color", "-p", project["slug"], "ticket", "list", tty=True)
    assert shown.exit_code == 0, shown
    header = shown.stdout.splitlines()[0].split()
    assert header[:4] == ["#", "TITLE", "KIND", "PRIORITY"]
    assert "\t" not in shown.stdout and "\x1b[" not in shown.stdout


def test_project_detected_from_a_subdirectory(
    cli: Cli, project: dict[str, Any], git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo / "src")
    created = cli("ticket", "create", "From the repo", "-d", "", "--json")
    assert created.exit_code == 0, created.stderr
    assert created.json()["project_id"] == project["id"]


def test_project_use_and_the_missing_project_error(
    cli: Cli, project: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    missing = cli("ticket", "list")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: which project?") and project["slug"] in missing.stderr
    assert cli("project", "use", project["slug"]).exit_code == 0
    assert cli("ticket", "list", "--json").json() == []


def test_repository_views(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    files = cli("-p", slug, "project", "files").stdout.splitlines()
    assert files == ["README.md", "src/app.py", "src/util.py"]
    entries = cli("-p", slug, "project", "browse", "src", "--json").json()["entries"]
    assert sorted(e["name"] for e in entries) == ["app.py", "util.py"]
    assert cli("-p", slug, "project", "cat", "src/util.py").stdout == "VALUE = 1\n"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("ticket", "show", "99"), 3),  # not found
        (("ticket", "status", "1", "nowhere"), 2),  # usage: not a status
        (("project", "create", "--path", "/"), 2),  # bad input (400)
    ],
)
def test_exit_codes(cli: Cli, project: dict[str, Any], args: tuple[str, ...], code: int) -> None:
    result = cli("-p", project["slug"], *args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_conflict_auth_and_unreachable_exit_codes(
    cli: Cli, project: dict[str, Any], git_repo: Path
) -> None:
    again = cli("project", "create", "--path", str(git_repo))
    assert again.exit_code == 6 and again.stderr.startswith("error: ")
    bad_token = cli("project", "list", env={"CODALITY_TOKEN": "not-a-session"})
    assert bad_token.exit_code == 4 and "codality login" in bad_token.stderr
    unreachable = cli("--server", "http://127.0.0.1:9", "project", "list", server=False)
    assert unreachable.exit_code == 5 and "cannot reach the server" in unreachable.stderr


def test_ticket_status_says_each_state_in_the_boards_words(
    cli: Cli, project: dict[str, Any]
) -> None:
    """A person reads one word per state: ``ticket status`` on a terminal and its messages say
    what the board's column says (``in review``, ``In review``); scripts keep the API's value."""
    from codality_cli.tui.board_state import CANCELLED, COLUMNS

    slug = project["slug"]
    cli("-p", slug, "ticket", "create", "Words", "-d", "x")
    for status, title in (*COLUMNS, CANCELLED):
        moved = cli("-p", slug, "ticket", "status", "1", status)
        assert moved.exit_code == 0, moved.stderr
        assert moved.stderr == f"ticket #1 is now {title.lower()}\n"
        shown = cli("--no-color", "-p", slug, "ticket", "status", "1", tty=True).stdout
        assert f"status  {title.lower()}" in [line.rstrip() for line in shown.splitlines()]
        assert f"status:\t{status}\n" in cli("-p", slug, "ticket", "status", "1").stdout
    assert [title for _, title in COLUMNS][2:4] == ["In progress", "In review"]
    again = cli("-p", slug, "ticket", "close", "1", "--cancel")
    assert again.stderr == "ticket #1 is already cancelled\n"
    cli("-p", slug, "ticket", "status", "1", "in_review")
    listed = cli("--no-color", "-p", slug, "ticket", "list", tty=True).stdout.splitlines()
    assert listed[1].split()[:5] == ["1", "Words", "task", "medium", "in"]  # in review
    assert "in_review" not in "".join(listed)
