"""Tickets as gh users type them: create flags, open-by-default lists, people by name, verbs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningServer, assert_error

from .conftest import Cli


def test_create_takes_gh_flags_and_prints_the_number_when_piped(
    cli: Cli, project: dict[str, Any], tmp_path: Path
) -> None:
    p = ("-p", project["slug"])
    piped = cli(*p, "ticket", "create", "-t", "Flagged", "-b", "Body text", "--kind", "bug")
    assert piped.exit_code == 0, piped.stderr
    assert piped.stdout == "1\n" and "created ticket #1: Flagged" in piped.stderr

    body = tmp_path / "body.md"
    body.write_text("# From a file\n")
    from_file = cli(*p, "ticket", "new", "--title", "Filed", "--body-file", str(body), "--json")
    assert from_file.json()["description"] == "# From a file\n"
    from_stdin = cli(
        *p, "ticket", "create", "Piped body", "--body-file", "-", "--json", input="from stdin\n"
    )
    assert from_stdin.json()["description"] == "from stdin"
    mine = cli(*p, "ticket", "create", "Mine", "-d", "", "--assignee", "me", "--json")
    me = cli("me", "show", "--json").json()
    assert mine.json()["assignee"] == me["id"]
    assert mine.json()["assignee_name"] == me["name"]

    # On a terminal a missing title is asked for; without one (or without a terminal) exit 2.
    asked = cli(*p, "ticket", "create", "-b", "x", tty=True, input="Prompted title\n")
    assert asked.exit_code == 0, asked.stderr
    assert "Title" in asked.stderr and "created ticket #5: Prompted title" in asked.stderr
    untitled = cli(*p, "ticket", "create", "-b", "x")
    assert untitled.exit_code == 2 and "--title" in untitled.stderr
    twice = cli(*p, "ticket", "create", "A", "-t", "B", "-b", "x")
    assert twice.exit_code == 2
    both = cli(*p, "ticket", "create", "A", "-b", "x", "--body-file", str(body))
    assert both.exit_code == 2 and "not both" in both.stderr


def test_multi_line_titles_are_refused_by_the_cli_and_the_server(
    cli: Cli, server: RunningServer, project: dict[str, Any]
) -> None:
    p = ("-p", project["slug"])
    for args in (("create", "Two\nlines", "-b", "x"), ("edit", "1", "--title", "Two\nlines")):
        refused = cli(*p, "ticket", *args)
        assert refused.exit_code == 2 and "one line" in refused.stderr, args
    assert cli(*p, "ticket", "list", "--state", "all", "--json").json() == []
    headers = {"Authorization": f"Bearer {cli.token}"}
    url = f"{server.url}/api/projects/{project['slug']}/tickets"
    response = httpx.post(url, json={"title": "Two\nlines"}, headers=headers)
    assert "one line" in assert_error(response, 400)["message"]


def file_tickets(cli: Cli, slug: str, *titles: str) -> None:
    for title in titles:
        assert cli("-p", slug, "ticket", "create", title, "-d", "").exit_code == 0


def test_list_shows_open_tickets_sorted_searched_and_truncated(
    cli: Cli, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    p = ("-p", slug)
    long_title = "Migrate the billing exports to the new warehouse " + "and more " * 10
    file_tickets(cli, slug, "Fix login", "Old chore", long_title.strip())
    assert cli(*p, "ticket", "edit", "3", "--priority", "urgent").exit_code == 0
    assert cli(*p, "ticket", "close", "2").exit_code == 0

    def numbers(*args: str) -> list[int]:
        listed = cli(*p, "ticket", "list", *args, "--json")
        assert listed.exit_code == 0, listed.stderr
        return [t["number"] for t in listed.json()]

    assert numbers() == [1, 3]
    assert numbers("--state", "closed") == [2]
    assert numbers("--state", "all") == [1, 2, 3]
    assert numbers("--state", "all", "--order", "desc") == [3, 2, 1]
    assert numbers("--sort", "priority") == [3, 1]
    assert numbers("--state", "all", "--sort", "status") == [1, 3, 2]  # backlog before done
    assert numbers("--state", "all", "--sort", "updated") == [2, 3, 1]  # last changed first
    assert numbers("--search", "warehouse") == [3]
    assert numbers("-S", "chore") == [] and numbers("-S", "chore", "--state", "all") == [2]
    assert numbers("-s", "done") == [2]
    assert cli(*p, "ticket", "ls", "-s", "done", "--state", "open").exit_code == 2

    # On a terminal a long title is cut to the width with "…"; JSON and TSV keep it whole.
    table = cli(*p, "ticket", "list", tty=True, env={"COLUMNS": "100"})
    rows = re.sub(r"\x1b\[[0-9;]*m", "", table.stdout).splitlines()
    assert len(rows) == 3 and all(len(row.rstrip()) <= 100 for row in rows)
    assert "Migrate the bil" in rows[2] and "…" in rows[2], rows
    assert long_title.strip() in cli(*p, "ticket", "list").stdout
    empty = cli(*p, "ticket", "list", "-S", "nothing-like-this", tty=True)
    assert empty.stdout == "" and "--state all" in empty.stderr


def test_people_by_name_in_assign_lists_and_user_commands(
    cli: Cli, server: RunningServer, project: dict[str, Any]
) -> None:
    from tests.conftest import latest_outbox_code

    slug = project["slug"]
    p = ("-p", slug)
    for email, name in (
        ("dana@example.com", "Dana Scully"),
        ("sam.one@example.com", "Sam"),
        ("sam.two@example.com", "Sam"),
    ):
        assert cli("user", "invite", email, "--name", name).exit_code == 0
    file_tickets(cli, slug, "One", "Two")

    by_name = cli(*p, "ticket", "assign", "1", "dana scully", "--json")
    assert by_name.exit_code == 0, by_name.stderr
    dana = by_name.json()["assignee"]
    assert by_name.json()["assignee_name"] == "Dana Scully"
    said = cli(*p, "ticket", "assign", "2", "DANA@example.com")
    assert said.exit_code == 0 and "assigned to Dana Scully" in said.stderr
    assert cli(*p, "ticket", "assign", "2", "agent", "--json").json()["assignee"] == "agent"

    # The assignee column shows names, in a table and piped.
    rows = [line.split("\t") for line in cli(*p, "ticket", "list").stdout.splitlines()]
    assert [row[5] for row in rows] == ["Dana Scully", "agent"]
    assert "Dana Scully" in cli(*p, "ticket", "show", "1", tty=True).stdout
    listed = cli(*p, "ticket", "list", "--assignee", "Dana", "--json").json()
    assert [t["number"] for t in listed] == [1] and listed[0]["assignee"] == dana

    ambiguous = cli(*p, "ticket", "assign", "1", "sam")
    assert ambiguous.exit_code == 2
    assert "sam.one@example.com" in ambiguous.stderr and "sam.two@example.com" in ambiguous.stderr
    unknown = cli(*p, "ticket", "assign", "1", "Mulder")
    assert unknown.exit_code == 3 and "no one called 'Mulder'" in unknown.stderr
    assert cli(*p, "ticket", "list", "--assignee", "99").exit_code == 3
    assert cli(*p, "ticket", "assign", "1", "none", "--json").json()["assignee"] is None
    promoted = cli("user", "role", "Dana Scully", "admin", "--json")
    assert promoted.exit_code == 0 and promoted.json()["role"] == "admin"

    # A member (who may not list users) assigns by name too.
    httpx.post(f"{server.url}/api/auth/request-otp", json={"email": "sam.one@example.com"})
    code = latest_outbox_code(server.data_dir)
    signed = httpx.post(
        f"{server.url}/api/auth/verify-otp", json={"email": "sam.one@example.com", "code": code}
    )
    member = Cli(server, str(signed.json()["token"]))
    assert member("user", "list").exit_code != 0
    by_member = member(*p, "ticket", "assign", "1", "Dana Scully", "--json")
    assert by_member.exit_code == 0 and by_member.json()["assignee"] == dana
    own = member(*p, "ticket", "assign", "2", "me", "--json")
    assert own.json()["assignee_name"] == "Sam"


def test_verbs_people_type(cli: Cli, project: dict[str, Any]) -> None:
    p = ("-p", project["slug"])
    made = cli(*p, "ticket", "new", "Typed verbs", "-b", "body")
    assert made.stdout == "1\n"
    assert cli(*p, "ticket", "view", "1", "--json").json()["title"] == "Typed verbs"
    assert cli(*p, "ticket", "ls").stdout.startswith("1\tTyped verbs\t")

    status = cli(*p, "ticket", "status", "1")
    assert status.exit_code == 0 and "status:\tbacklog" in status.stdout.splitlines()
    assert cli(*p, "ticket", "status", "1", "--json").json()["status"] == "backlog"

    closed = cli(*p, "ticket", "close", "1")
    assert closed.exit_code == 0 and "closed ticket #1 (done)" in closed.stderr
    again = cli(*p, "ticket", "close", "1")
    assert again.exit_code == 0 and "already done" in again.stderr
    cancelled = cli(*p, "ticket", "close", "1", "--cancel", "--json")
    assert cancelled.json()["status"] == "cancelled"
    reopened = cli(*p, "ticket", "reopen", "1", "--json")
    assert reopened.json()["status"] == "backlog"
    assert "already backlog" in cli(*p, "ticket", "reopen", "1").stderr
    runs = cli(*p, "ticket", "runs", "1")
    assert runs.exit_code == 0 and "agent not running" in runs.stderr
