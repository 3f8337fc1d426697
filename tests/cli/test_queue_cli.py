"""``codality queue …`` against a real server: make, show, edit and delete queues."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli, codality
from tests.fakes.anthropic_server import FakeAnthropic, text, tool


def file_tickets(cli: Cli, slug: str, count: int) -> None:
    for number in range(1, count + 1):
        made = cli("-p", slug, "ticket", "create", f"Ticket {number}", "-d", "")
        assert made.exit_code == 0, made.stderr


def test_create_list_show_and_edit_a_queue(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    file_tickets(cli, slug, 4)
    made = cli("-p", slug, "queue", "create", "Night run", "3", "1", "2", "-d", "Overnight")
    assert made.exit_code == 0, made.stderr
    assert "created queue 1 'Night run': #3 #1 #2" in made.stderr
    assert "codality queue start 1" in made.stderr
    assert made.stdout == ""

    listed = cli("-p", slug, "queue", "list")
    assert listed.stdout.splitlines()[0].split("\t")[:5] == [
        "1",
        "Night run",
        "pending",
        "0/3 done",
        "#3 #1 #2",
    ]
    shown = cli("-p", slug, "queue", "show", "night RUN", "--json")
    assert shown.exit_code == 0, shown.stderr
    queue = shown.json()
    assert [item["ticket"] for item in queue["items"]] == [3, 1, 2]
    assert queue["description"] == "Overnight"
    plain = cli("-p", slug, "queue", "show", "1").stdout
    assert "status:\tpending" in plain and "--\nOvernight" in plain
    assert "3\tTicket 3\tpending" in plain

    edited = cli(
        "-p", slug, "queue", "edit", "1", "--add", "4", "--remove", "1", "--name", "Later",
        "--merge-each", "--max-parallel", "2", "--json",
    )  # fmt: skip
    assert edited.exit_code == 0, edited.stderr
    body = edited.json()
    assert [item["ticket"] for item in body["items"]] == [3, 2, 4]
    assert (body["name"], body["merge_each"], body["max_parallel"]) == ("Later", True, 2)
    reordered = cli("-p", slug, "queue", "edit", "Later", "4", "3", "2", "--json").json()
    assert [item["ticket"] for item in reordered["items"]] == [4, 3, 2]
    nothing = cli("-p", slug, "queue", "edit", "Later")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr


def test_errors_name_the_ticket_or_queue(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    file_tickets(cli, slug, 2)
    unknown = cli("-p", slug, "queue", "create", "Q", "1", "7")
    assert unknown.exit_code == 3
    assert unknown.stderr.strip().splitlines() == [f"error: project '{slug}' has no ticket #7"]
    twice = cli("-p", slug, "queue", "create", "Q", "2", "2")
    assert twice.exit_code == 2 and "#2 is listed twice" in twice.stderr
    missing = cli("-p", slug, "queue", "show", "Nightly")
    assert missing.exit_code == 3 and "no queue 'Nightly'" in missing.stderr
    assert cli("-p", slug, "queue", "show", "42").exit_code == 3
    for _ in range(2):
        assert cli("-p", slug, "queue", "create", "Same", "1").exit_code == 0
    ambiguous = cli("-p", slug, "queue", "show", "same")
    assert ambiguous.exit_code == 2 and "ids 1, 2" in ambiguous.stderr


def test_delete_confirms_on_a_terminal_and_takes_yes(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    file_tickets(cli, slug, 1)
    assert cli("-p", slug, "queue", "create", "Q", "1").exit_code == 0
    refused = cli("-p", slug, "queue", "delete", "Q")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    kept = cli("-p", slug, "queue", "delete", "Q", tty=True, input="n\n")
    assert kept.exit_code == 1 and "Delete queue Q?" in kept.stderr
    assert cli("-p", slug, "queue", "list", "--json").json() != []
    gone = cli("-p", slug, "queue", "delete", "Q", tty=True, input="y\n")
    assert gone.exit_code == 0 and "deleted queue 1 'Q'" in gone.stderr
    assert cli("-p", slug, "queue", "list", "--json").json() == []
    assert cli("-p", slug, "queue", "create", "R", "1").exit_code == 0
    assert cli("-p", slug, "queue", "delete", "R", "--yes").exit_code == 0


def test_start_follow_streams_each_ticket_in_turn_and_exits_0(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    slug = project["slug"]
    file_tickets(cli, slug, 2)
    fake.script(
        tool("list_directory", say="Looking around.", path="."),
        text("Alpha done."),
        text("Beta done."),
    )
    assert cli("-p", slug, "queue", "create", "Night run", "1", "2").exit_code == 0
    run = cli("-p", slug, "queue", "start", "Night run", "--follow", "--no-thinking")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "Looking around.\nAlpha done.\nBeta done.\n"
    err = run.stderr
    assert err.index("══ #1 Ticket 1 · 1 of 2") < err.index("▸ list_directory")
    assert err.index("▸ list_directory") < err.index("══ #2 Ticket 2 · 2 of 2")
    assert err.count("── completed") == 2
    assert err.rstrip().endswith("queue 1 'Night run' completed: 2/2 done")

    # Following again is refused: a completed queue must be released first (exit 6).
    again = cli("-p", slug, "queue", "start", "1", "--follow")
    assert again.exit_code == 6 and "release it" in again.stderr
    released = cli("-p", slug, "queue", "release", "1")
    assert released.exit_code == 0
    assert "queue 1 'Night run' pending: 2/2 done" in released.stderr


def test_a_paused_queue_exits_7_and_cancel_and_release_work(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    slug = project["slug"]
    file_tickets(cli, slug, 3)
    broken = {"status": 400, "error_type": "invalid_request_error", "message": "no good"}
    fake.script(text("First."), broken)
    assert cli("-p", slug, "queue", "create", "Q", "1", "2", "3").exit_code == 0
    run = cli("-p", slug, "queue", "start", "Q", "--follow")
    assert run.exit_code == 7, run.stderr
    assert run.stdout == "First.\n"
    assert "── failed" in run.stderr
    assert "queue 1 'Q' paused: 1/3 done, 1 failed — #2 failed:" in run.stderr

    fake.script(tool("bash", command="sleep 30"))
    assert cli("-p", slug, "queue", "release", "Q").exit_code == 0
    started = cli("-p", slug, "queue", "start", "Q", "--json")
    assert started.exit_code == 0, started.stderr
    assert [i["status"] for i in started.json()["items"]] == ["done", "running", "pending"]
    shown = cli("-p", slug, "queue", "show", "Q").stdout
    assert "status:\trunning" in shown
    refused = cli("-p", slug, "queue", "cancel", "Q")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    cancelled = cli("-p", slug, "queue", "cancel", "Q", "--yes")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert "queue 1 'Q' cancelled: 1/3 done — cancelled by a user" in cancelled.stderr  # no failure
    shown = codality(
        "--server", cli.server.url, "-p", slug, "queue", "show", "Q",
        env={"CODALITY_TOKEN": str(cli.token)},
    ).stdout  # fmt: skip
    assert "progress:\t1/3 done\n" in shown
    assert "\n2\tTicket 2\tpending\t" in shown and "stopped: the queue was cancelled" in shown
    assert cli("-p", slug, "queue", "cancel", "Q", "--yes").exit_code == 6
    assert cli("-p", slug, "queue", "release", "Q", "--json").json()["status"] == "pending"
