"""``codality ticket diff | review | reviews | merge | discard | merge-diff`` on the real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codality_server.http.keys import SERVICES
from tests.cli.conftest import Cli
from tests.conftest import attach_work, git
from tests.fakes.anthropic_server import FakeAnthropic, text, tool


@pytest.fixture
def ticket(cli: Cli, project: dict[str, Any], git_repo: Path, tmp_path: Path) -> dict[str, Any]:
    """Ticket #1 with a worktree (git CLI): one commit and one uncommitted file."""
    created = cli(
        "-p", project["slug"], "ticket", "create", "Friendlier greeting", "-d", "", "--json"
    )
    assert created.exit_code == 0, created.stderr
    ticket = dict(created.json())
    attach_work(cli.server, ticket, git_repo, tmp_path / "wt", "codality/1-friendlier-greeting")
    return ticket


def test_diff_is_plain_when_piped_and_coloured_on_a_terminal(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    p = ("-p", project["slug"])
    piped = cli(*p, "ticket", "diff", "1")
    assert piped.exit_code == 0, piped.stderr
    assert "+uncommitted notes" in piped.stdout and "\x1b[" not in piped.stdout
    assert "too large" not in piped.stderr  # every file shown: nothing to say
    committed = cli(*p, "ticket", "diff", "1", "--committed")
    assert "notes.md" not in committed.stdout and "hi {name}!" in committed.stdout

    coloured = cli(*p, "ticket", "diff", "1", tty=True)
    assert "\x1b[32m+uncommitted notes\x1b[0m" in coloured.stdout

    stat = cli(*p, "ticket", "diff", "1", "--stat")
    assert stat.stdout.splitlines() == [
        "notes.md\tadded\t1\t0\tfalse",
        "src/app.py\tmodified\t1\t1\tfalse",
    ]
    assert "2 file(s) changed, 2 insertion(s)(+), 1 deletion(s)(-)" in stat.stderr
    as_json = cli(*p, "ticket", "diff", "1", "--stat", "--json").json()
    assert as_json["files_changed"] == 2


def test_diff_names_the_files_too_large_to_show_and_stat_counts_them(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any], tmp_path: Path
) -> None:
    """The agent committed 4.6 MB of lines: ``ticket diff`` shows the other files and says in
    words which one it left out, with its counts; ``--stat`` counts every file as git does."""
    worktree = tmp_path / "wt"  # the ticket fixture's
    (worktree / "huge.txt").write_text("".join(f"line {i}\n" for i in range(400_000)))
    git(worktree, "add", "huge.txt")
    git(worktree, "commit", "-q", "-m", "a huge file")
    p = ("-p", project["slug"])

    shown = cli(*p, "ticket", "diff", "1")
    assert shown.exit_code == 0, shown.stderr
    assert "+uncommitted notes" in shown.stdout and "hi {name}!" in shown.stdout
    assert "huge.txt" not in shown.stdout
    assert shown.stderr.splitlines()[-2:] == [
        "1 file is too large to show here (its changes are counted, not shown):",
        "  huge.txt (added, +400000 -0): its diff is larger than the 1.0 MB shown of one file",
    ]
    stat = cli(*p, "ticket", "diff", "1", "--stat")
    assert stat.stdout.splitlines() == [
        "huge.txt\tadded\t400000\t0\tfalse",
        "notes.md\tadded\t1\t0\tfalse",
        "src/app.py\tmodified\t1\t1\tfalse",
    ]
    assert "3 file(s) changed, 400002 insertion(s)(+), 1 deletion(s)(-)" in stat.stderr
    as_json = cli(*p, "ticket", "diff", "1", "--json").json()
    assert [f["path"] for f in as_json["not_shown"]] == ["huge.txt"]

    assert cli(*p, "ticket", "merge", "1", "--yes").exit_code == 0
    kept = cli(*p, "ticket", "merge-diff", "1")
    assert "+uncommitted notes" in kept.stdout and "huge.txt" not in kept.stdout
    assert "  huge.txt (added, +400000 -0): its diff is larger than" in kept.stderr
    merged_stat = cli(*p, "ticket", "merge-diff", "1", "--stat")
    assert "huge.txt\tadded\t400000\t0\tfalse" in merged_stat.stdout.splitlines()


def test_review_verbs_and_listing(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    p = ("-p", project["slug"])
    assert cli(*p, "settings", "set", "feedback_on_review", "false").exit_code == 0
    commented = cli(
        *p, "ticket", "review", "1", "--comment", "-m", "Nice.", "--line", "src/app.py:2:Why the !?"
    )
    assert commented.exit_code == 0, commented.stderr
    asked = cli(*p, "ticket", "review", "1", "--request-changes", "-m", "Keep hello.")
    assert asked.exit_code == 0, asked.stderr
    assert "the agent was not started: feedback_on_review is off" in asked.stderr

    listed = cli(*p, "ticket", "reviews", "1", "--json")
    states = [(r["state"], len(r["comments"])) for r in listed.json()]
    assert states == [("commented", 1), ("changes_requested", 0)]
    authors = [row.split("\t")[2] for row in cli(*p, "ticket", "reviews", "1").stdout.splitlines()]
    assert authors == ["Admin", "Admin"]  # names, not ids

    outside = cli(*p, "ticket", "review", "1", "--comment", "--line", "src/app.py:99:far away")
    assert outside.exit_code == 2 and "outside the diff" in outside.stderr
    malformed = cli(*p, "ticket", "review", "1", "--comment", "--line", "src/app.py:two:x")
    assert malformed.exit_code == 2
    neither = cli(*p, "ticket", "review", "1", "-m", "hm")
    assert neither.exit_code == 2 and "exactly one of" in neither.stderr


def test_refused_merge_lists_conflicts_and_exits_6(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any], git_repo: Path
) -> None:
    (git_repo / "src" / "app.py").write_text("def greet(name):\n    return 'mine'\n")
    result = cli("-p", project["slug"], "ticket", "merge", "1", "--yes")
    assert result.exit_code == 6
    assert "merge refused:" in result.stderr and "\n  src/app.py" in result.stderr
    assert (git_repo / "src" / "app.py").read_text() == "def greet(name):\n    return 'mine'\n"


def test_squash_merge_then_merge_diff(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any], git_repo: Path
) -> None:
    p = ("-p", project["slug"])
    merged = cli(*p, "ticket", "merge", "1", "--squash", "--yes")
    assert merged.exit_code == 0, merged.stderr
    assert "merged #1 (squash" in merged.stderr and "2 file(s), +2 -1" in merged.stderr
    assert (git_repo / "notes.md").read_text() == "uncommitted notes\n"

    kept = cli(*p, "ticket", "merge-diff", "1")
    assert "+uncommitted notes" in kept.stdout
    assert cli(*p, "ticket", "diff", "1", "--merged").stdout == kept.stdout
    stat = cli(*p, "ticket", "merge-diff", "1", "--stat", "--json").json()
    assert stat["files_changed"] == 2
    gone = cli(*p, "ticket", "diff", "1")
    assert gone.exit_code == 3


def test_discard_keeps_the_work(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any], git_repo: Path
) -> None:
    result = cli("-p", project["slug"], "ticket", "discard", "1", "--cancel", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    body = result.json()
    assert body["ticket"]["status"] == "cancelled"
    assert git(git_repo, "show", f"{body['kept_ref']}:notes.md") == "uncommitted notes\n"


@pytest.mark.parametrize("verb", ["merge", "discard"])
def test_merge_and_discard_ask_first_and_scripts_must_say_yes(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any], git_repo: Path, verb: str
) -> None:
    p = ("-p", project["slug"])
    branch = ticket_branch(cli, p)
    unconfirmed = cli(*p, "ticket", verb, "1")
    assert unconfirmed.exit_code == 2
    assert unconfirmed.stderr.count("\n") == 1 and "--yes" in unconfirmed.stderr
    declined = cli(*p, "ticket", verb, "1", tty=True, input="n\n")
    assert declined.exit_code == 1 and "#1" in declined.stderr
    assert git(git_repo, "branch", "--list", branch).strip(), "declining changed nothing"
    assert cli(*p, "ticket", "show", "1", "--json").json()["branch"] == branch

    accepted = cli(*p, "ticket", verb, "1", tty=True, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert git(git_repo, "branch", "--list", branch).strip() == ""
    status = cli(*p, "ticket", "show", "1", "--json").json()["status"]
    assert status == ("done" if verb == "merge" else "backlog")


def ticket_branch(cli: Cli, p: tuple[str, str]) -> str:
    branch = cli(*p, "ticket", "show", "1", "--json").json()["branch"]
    assert branch
    return str(branch)


def test_review_of_a_ticket_without_work_is_refused(cli: Cli, project: dict[str, Any]) -> None:
    p = ("-p", project["slug"])
    assert cli(*p, "ticket", "create", "Idle", "-d", "").exit_code == 0
    approved = cli(*p, "ticket", "review", "1", "--approve")
    assert approved.exit_code == 6, approved.stderr
    assert "has no work yet" in approved.stderr and "ticket start 1" in approved.stderr
    assert cli(*p, "ticket", "reviews", "1", "--json").json() == []


def test_merging_a_branch_without_changes_needs_force(
    cli: Cli, project: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    p = ("-p", project["slug"])
    created = cli(*p, "ticket", "create", "Nothing yet", "-d", "", "--json").json()
    assert cli(*p, "ticket", "status", "1", "in_review").exit_code == 0
    branch = "codality/1-nothing-yet"
    worktree = tmp_path / "wt-empty"
    git(git_repo, "worktree", "add", "-q", "-b", branch, str(worktree), "main")
    cli.server.call(
        cli.server.app[SERVICES].tickets.set_worktree(created["id"], branch, str(worktree))
    )
    main_before = git(git_repo, "rev-parse", "main")

    warned = cli(*p, "ticket", "merge", "1", "--yes")
    assert warned.exit_code == 6, warned.stderr
    assert "no changes" in warned.stderr and "--force" in warned.stderr
    shown = cli(*p, "ticket", "show", "1", "--json").json()
    assert (shown["status"], shown["branch"]) == ("in_review", branch)
    assert git(git_repo, "rev-parse", "main") == main_before

    forced = cli(*p, "ticket", "merge", "1", "--yes", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert cli(*p, "ticket", "show", "1", "--json").json()["status"] == "done"


def test_diff_after_merge_or_discard_says_what_happened(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic, git_repo: Path
) -> None:
    p = ("-p", project["slug"])
    for title in ("Merged one", "Discarded one", "Never started"):
        assert cli(*p, "ticket", "create", title, "-d", "").exit_code == 0
    write = {"path": "added.txt", "content": "added\n"}
    fake.script(tool("write_file", **write), text("Wrote it."))
    assert cli(*p, "ticket", "start", "1").exit_code == 0
    fake.script(tool("write_file", **write), text("Wrote it again."))
    assert cli(*p, "ticket", "start", "2").exit_code == 0
    assert cli(*p, "ticket", "merge", "1", "--yes").exit_code == 0
    assert cli(*p, "ticket", "discard", "2", "--yes").exit_code == 0

    sha = cli(*p, "ticket", "merge-diff", "1", "--json").json()["merged_sha"]
    merged = cli(*p, "ticket", "diff", "1")
    assert merged.exit_code == 3 and "start the agent" not in merged.stderr
    assert f"merged in {sha[:10]} — see `codality ticket diff 1 --merged`" in merged.stderr
    assert "+added" in cli(*p, "ticket", "diff", "1", "--merged").stdout
    assert "--merged" in cli(*p, "ticket", "diff", "1", "--stat").stderr
    again = cli(*p, "ticket", "review", "1", "--approve")
    assert again.exit_code == 6 and f"merged in {sha[:10]}" in again.stderr

    discarded = cli(*p, "ticket", "diff", "2")
    assert discarded.exit_code == 3 and "was discarded" in discarded.stderr
    assert "`codality ticket start 2`" in discarded.stderr
    assert "was discarded" in cli(*p, "ticket", "merge", "2", "--yes").stderr

    never = cli(*p, "ticket", "diff", "3")
    assert never.exit_code == 3 and "has no work yet" in never.stderr


def test_checkout_makes_a_local_branch_beside_the_agents_worktree(
    cli: Cli,
    project: dict[str, Any],
    fake: FakeAnthropic,
    git_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = ("-p", project["slug"])
    assert cli(*p, "ticket", "create", "Add a file", "-d", "").exit_code == 0
    fake.script(tool("write_file", path="added.txt", content="one\n"), text("Added."))
    assert cli(*p, "ticket", "start", "1").exit_code == 0
    agent_branch = cli(*p, "ticket", "show", "1", "--json").json()["branch"]
    monkeypatch.chdir(git_repo / "src")

    first = cli(*p, "ticket", "checkout", "1")
    assert first.exit_code == 0, first.stderr
    assert "switched to codality/ticket-1" in first.stderr
    assert git(git_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "codality/ticket-1"
    assert git(git_repo, "rev-parse", "HEAD") == git(git_repo, "rev-parse", agent_branch)
    assert (git_repo / "added.txt").read_text() == "one\n"
    # The agent's branch is still checked out in its own worktree, untouched.
    assert f"[{agent_branch}]" in git(git_repo, "worktree", "list")

    # A later run moves the local branch forward; a local commit of one's own is kept…
    fake.script(tool("write_file", path="added.txt", content="two\n"), text("Changed."))
    assert cli(*p, "ticket", "start", "1").exit_code == 0
    assert cli(*p, "ticket", "checkout", "1").exit_code == 0
    assert (git_repo / "added.txt").read_text() == "two\n"
    (git_repo / "mine.txt").write_text("mine\n")
    git(git_repo, "add", "mine.txt")
    git(git_repo, "commit", "-q", "-m", "my own")
    kept = cli(*p, "ticket", "checkout", "1")
    assert kept.exit_code == 6 and "--force" in kept.stderr
    assert (git_repo / "mine.txt").exists()
    # …unless --force resets it; --branch picks another name.
    assert cli(*p, "ticket", "checkout", "1", "--force").exit_code == 0
    assert not (git_repo / "mine.txt").exists()
    assert cli(*p, "ticket", "checkout", "1", "--branch", "try-it").exit_code == 0
    assert git(git_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "try-it"
    clash = cli(*p, "ticket", "checkout", "1", "--branch", agent_branch)
    assert clash.exit_code == 2 and "agent's branch" in clash.stderr

    assert cli(*p, "ticket", "create", "Idle", "-d", "").exit_code == 0
    idle = cli(*p, "ticket", "checkout", "2")
    assert idle.exit_code == 3 and "has no work yet" in idle.stderr


def test_merge_says_it_pushes_and_no_push_keeps_it_local_until_ticket_push(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    p = ("-p", project["slug"])
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(git_repo), str(origin))
    git(git_repo, "remote", "add", "origin", str(origin))
    before = git(origin, "rev-parse", "main")

    helped = " ".join(cli(*p, "ticket", "merge", "--help").stdout.split())
    assert (
        "then push that branch to origin" in helped and "--no-push Keep the merge local" in helped
    )
    asked = cli(*p, "ticket", "merge", "1", tty=True, input="n\n")
    assert "Merge #1 (Friendlier greeting) into main, then push main to origin?" in asked.stderr
    assert asked.exit_code == 1 and git(origin, "rev-parse", "main") == before

    local = cli(*p, "ticket", "merge", "1", "--no-push", tty=True, input="y\n")
    assert "into main? It is not pushed (push off for this merge)." in local.stderr
    assert local.exit_code == 0, local.stderr
    assert "not pushed (push off for this merge); push it with `codality ticket push 1`" in (
        local.stderr
    )
    assert git(origin, "rev-parse", "main") == before != git(git_repo, "rev-parse", "main")
    shown = cli(*p, "ticket", "show", "1", "--json").json()
    assert (shown["status"], shown["push"]["pushed"]) == ("done", False)

    pushed = cli(*p, "ticket", "push", "1")
    assert pushed.exit_code == 0, pushed.stderr
    assert "#1: pushed main to origin" in pushed.stderr
    assert git(origin, "rev-parse", "main") == git(git_repo, "rev-parse", "main")
    again = cli(*p, "ticket", "push", "1")
    assert again.exit_code == 6 and "on origin already" in again.stderr


def test_ticket_push_that_fails_says_why_and_exits_1(
    cli: Cli, project: dict[str, Any], ticket: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    p = ("-p", project["slug"])
    git(git_repo, "remote", "add", "origin", str(tmp_path / "no-such-origin.git"))
    merged = cli(*p, "ticket", "merge", "1", "--yes")
    assert merged.exit_code == 0, merged.stderr
    assert "; not pushed (" in merged.stderr and "`codality ticket push 1`" in merged.stderr
    retried = cli(*p, "ticket", "push", "1")
    assert retried.exit_code == 1 and retried.stderr.count("\n") == 1
    assert retried.stderr.startswith("error: #1: not pushed (")


def test_a_stacked_ticket_says_so_and_its_merge_lists_the_stack(
    cli: Cli, fake: FakeAnthropic, project: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    p = ("-p", project["slug"])
    drafts = tmp_path / "drafts.json"
    drafts.write_text(
        json.dumps([{"title": "Base step"}, {"title": "Top step", "depends_on": [1]}])
    )
    made = cli(*p, "plan", "create", "Two steps", "-b", "", "--drafts", str(drafts), "--json")
    assert made.exit_code == 0, made.stderr
    assert cli(*p, "plan", "approve", str(made.json()["id"]), "--yes").exit_code == 0
    fake.script(tool("write_file", path="base.txt", content="base\n"), text("Base."))
    assert cli(*p, "ticket", "start", "1").exit_code == 0
    fake.script(tool("write_file", path="top.txt", content="top\n"), text("Top."))
    assert cli(*p, "ticket", "start", "2").exit_code == 0

    shown = cli(*p, "ticket", "show", "2").stdout
    assert "stacked on:\t#1, whose unmerged work its branch started from" in shown
    assert cli(*p, "ticket", "diff", "2", "--stat").stdout.split("\t")[0] == "top.txt"
    asked = cli(*p, "ticket", "merge", "2", tty=True, input="y\n")
    assert asked.exit_code == 0, asked.stderr
    assert (
        "Merge these 2 tickets into main, in this order:\n  #1 Base step\n  #2 Top step\n"
        "They are not pushed (the repository has no origin remote). Merge them?"
    ) in asked.stderr
    # The line after the merge names the whole stack (it said "merged #2"), with #2's own stats.
    assert "merged #1 and #2 (" in asked.stderr and "#2's own 1 file(s), +1 -0" in asked.stderr
    assert git(git_repo, "show", "main:base.txt") == "base\n"
    assert git(git_repo, "show", "main:top.txt") == "top\n"
    assert cli(*p, "ticket", "show", "1", "--json").json()["status"] == "done"
