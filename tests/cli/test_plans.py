"""``codality plan …`` against the real server: writing, editing, showing, approving, deleting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli, codality, fake_editor
from tests.fakes.anthropic_server import FakeAnthropic, text, tool, unchecked

DRAFTS = [
    {"title": "Schema for tags", "kind": "task"},
    {"title": "Tag API", "kind": "feature", "priority": "high", "depends_on": [1]},
]


def test_create_from_stdin_list_show_and_edit(
    cli: Cli, project: dict[str, Any], tmp_path: Path
) -> None:
    slug = project["slug"]
    made = cli("-p", slug, "plan", "create", "Tags", "--body", "-", input="# Tags\n\nLabels.\n")
    assert made.exit_code == 0, made.stderr
    assert made.stdout == "" and "created plan 1 (Tags)" in made.stderr
    untitled = cli("-p", slug, "plan", "create", "-b", "", "--json")
    assert untitled.json()["title"] == ""

    listed = cli("-p", slug, "plan", "list")
    assert [line.split("\t")[:4] for line in listed.stdout.splitlines()] == [
        ["2", "", "draft", "0"],
        ["1", "Tags", "draft", "0"],
    ]

    drafts_file = tmp_path / "drafts.json"
    drafts_file.write_text(json.dumps(DRAFTS))
    edited = cli("-p", slug, "plan", "edit", "1", "--drafts", str(drafts_file), "--json")
    assert edited.exit_code == 0, edited.stderr
    assert [d["depends_on"] for d in edited.json()["drafts"]] == [[], [1]]
    retitled = cli("-p", slug, "plan", "edit", "1", "--title", "Tagging")
    assert retitled.exit_code == 0 and "updated plan 1" in retitled.stderr

    shown = cli("-p", slug, "plan", "show", "1").stdout
    fields, body, drafts = shown.split("--\n")
    assert "title:\tTagging" in fields.splitlines() and "drafts:\t2" in fields.splitlines()
    assert body == "# Tags\n\nLabels.\n"
    assert drafts.splitlines() == [
        "1\tSchema for tags\ttask\tmedium\t\t",
        "2\tTag API\tfeature\thigh\t1\t",
    ]
    as_json = cli("-p", slug, "plan", "show", "1", "--json", "--fields", "id,status")
    assert as_json.json() == {"id": 1, "status": "draft"}


def test_editor_on_a_terminal_and_usage_errors_without_one(
    cli: Cli, project: dict[str, Any], tmp_path: Path
) -> None:
    slug = project["slug"]
    env = {"EDITOR": fake_editor(tmp_path, "# From the editor\n"), "VISUAL": ""}
    made = cli("-p", slug, "plan", "create", "Edited", "--json", tty=True, env=env)
    assert made.exit_code == 0, made.stderr
    assert made.json()["body"] == "# From the editor"
    again = cli("-p", slug, "plan", "edit", "1", "--json", tty=True, env=env)
    assert again.json()["body"].startswith("# From the editor\n# From the editor")

    nothing = cli("-p", slug, "plan", "edit", "1")
    assert nothing.exit_code == 2 and "--title, --body or --drafts" in nothing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refused = cli("-p", slug, "plan", "edit", "1", "--drafts", str(bad))
    assert refused.exit_code == 2 and "not valid JSON" in refused.stderr
    bad.write_text(json.dumps([{"title": "A", "depends_on": [3]}]))
    refused = cli("-p", slug, "plan", "edit", "1", "--drafts", str(bad))
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: drafts[0].depends_on: no draft has order 3")
    assert cli("-p", slug, "plan", "show", "7").exit_code == 3


def test_approve_confirms_prints_the_tickets_and_refuses_twice(
    cli: Cli, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    made = cli("-p", slug, "plan", "create", "Tags", "-b", "x", "--drafts", "-", "--json",
               input=json.dumps({"drafts": DRAFTS}))  # fmt: skip
    assert made.exit_code == 0, made.stderr

    piped = cli("-p", slug, "plan", "approve", "1")
    assert piped.exit_code == 2 and "pass --yes" in piped.stderr
    declined = cli("-p", slug, "plan", "approve", "1", tty=True, input="n\n")
    assert declined.exit_code == 1
    assert "Create 2 tickets from plan 1 (Tags)?" in declined.stderr
    assert cli("-p", slug, "ticket", "list").stdout == ""

    approved = cli("-p", slug, "plan", "approve", "1", tty=True, input="y\n")
    assert approved.exit_code == 0, approved.stderr
    assert "approved plan 1 (Tags): 2 tickets created" in approved.stderr
    assert "Schema for tags" in approved.stdout and "Tag API" in approved.stdout
    shown = cli("-p", slug, "ticket", "show", "2").stdout.splitlines()
    assert "depends on:\t#1" in shown

    twice = cli("-p", slug, "plan", "approve", "1", "--yes")
    assert twice.exit_code == 6 and "already approved" in twice.stderr
    assert cli("-p", slug, "plan", "show", "1", "--json").json()["status"] == "approved"


def test_approve_with_yes_prints_json_and_delete_confirms(
    cli: Cli, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    cli("-p", slug, "plan", "create", "Tags", "-b", "", "--drafts", "-", input=json.dumps(DRAFTS))
    approved = cli("-p", slug, "plan", "approve", "1", "--yes", "--json")
    assert [t["number"] for t in approved.json()] == [1, 2]
    tsv = cli("-p", slug, "plan", "approve", "1", "--yes")
    assert tsv.exit_code == 6

    assert cli("-p", slug, "plan", "delete", "1").exit_code == 2
    kept = cli("-p", slug, "plan", "delete", "1", tty=True, input="n\n")
    assert kept.exit_code == 1 and "Delete plan 1 (Tags)?" in kept.stderr
    deleted = cli("-p", slug, "plan", "delete", "1", "--yes")
    assert deleted.exit_code == 0 and "deleted plan 1 (Tags)" in deleted.stderr
    assert cli("-p", slug, "plan", "list", "--json").json() == []
    assert len(cli("-p", slug, "ticket", "list", "--json").json()) == 2  # the tickets stay


def test_check_and_extract_with_the_model(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    slug = project["slug"]
    made = cli("-p", slug, "plan", "create", "Tags", "-b", "# Tags\n\nLabels for tickets.")
    assert made.exit_code == 0, made.stderr
    verdict: dict[str, Any] = {
        "ready": False,
        "explanation": "Storage is open.",
        "missing": ["a schema", "UI"],
    }
    fake.script(tool("report_readiness", **verdict))
    checked = cli("-p", slug, "plan", "check", "1")
    assert checked.exit_code == 1, checked.stderr  # not ready: scripts can tell
    assert checked.stdout.splitlines() == [
        "not ready: Storage is open.",
        "  missing: a schema",
        "  missing: UI",
    ]
    fake.script(tool("report_readiness", **verdict))
    env = {"CODALITY_TOKEN": str(cli.token)}
    real = codality("--server", cli.server.url, "-p", slug, "plan", "check", "1", "--json", env=env)
    assert real.returncode == 1 and json.loads(real.stdout)["ready"] is False, real.stderr
    fake.script(tool("report_readiness", **{**verdict, "ready": True, "missing": []}))
    ready = codality("--server", cli.server.url, "-p", slug, "plan", "check", "1", env=env)
    assert ready.returncode == 0 and ready.stdout.startswith("ready"), ready.stderr

    drafts = [
        {"title": "Tags table", "kind": "task"},
        {"title": "Tag API", "kind": "epic", "depends_on": [1]},
    ]
    fake.script(unchecked(text(f"```json\n{json.dumps(drafts)}\n```")))  # text, not the tool
    extracted = cli("-p", slug, "plan", "extract", "1")
    assert extracted.exit_code == 0, extracted.stderr
    assert extracted.stdout.splitlines() == [
        "1\tTags table\ttask\tmedium\t\t",
        "2\tTag API\ttask\tmedium\t1\t",
    ]
    assert "repaired: draft 2 (Tag API): kind 'epic' → task" in extracted.stderr
    assert "codality plan approve 1" in extracted.stderr

    fake.script(unchecked(text("no idea")))
    broken = cli("-p", slug, "plan", "extract", "1")
    assert broken.exit_code == 1 and "nothing was stored" in broken.stderr
    assert broken.stderr.count("\n") == 1  # one readable line
    approved = cli("-p", slug, "plan", "approve", "1", "--yes", "--json")
    assert [t["title"] for t in approved.json()] == ["Tags table", "Tag API"]


def test_check_without_a_key_names_it(cli: Cli, project: dict[str, Any]) -> None:
    cli("-p", project["slug"], "plan", "create", "Tags", "-b", "x")
    missing = cli("-p", project["slug"], "plan", "check", "1")
    assert missing.exit_code == 1 and "ANTHROPIC_API_KEY" in missing.stderr


def test_suggest_streams_then_walks_the_suggestions(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    slug = project["slug"]
    body = "# Greetings\n\nChange the greeting.\n\n## Tests\n\nTBD\n"
    cli("-p", slug, "plan", "create", "Greetings", "-b", body)
    first = {"passage": "TBD", "text": "Test `greet` in tests/.", "why": "There is no test."}
    second = {"passage": "", "text": "## Out of scope\n\nTranslations.", "why": "Say what not."}
    answer = f"Done.\n```json\n{json.dumps([first, second])}\n```"
    fake.script(tool("read_file", say="Reading the greeter.", path="src/app.py"), text(answer))
    piped = cli("-p", slug, "plan", "suggest", "1")
    assert piped.exit_code == 0, piped.stderr
    assert "Reading the greeter." in piped.stderr and "▸ read_file src/app.py" in piped.stderr
    assert piped.stdout.splitlines() == [
        "1\tThere is no test.\tTBD\tTest `greet` in tests/.",
        "2\tSay what not.\t\t## Out of scope  Translations.",
    ]

    fake.script(text(answer))
    as_json = cli("-p", slug, "plan", "suggest", "1", "--json")
    assert as_json.json() == [first, second] and "Done." not in as_json.stderr

    fake.script(text(answer))
    walked = cli("--no-color", "-p", slug, "plan", "suggest", "1", tty=True, input="a\ns\n")
    assert walked.exit_code == 0, walked.stderr
    assert "Suggestion 1/2: There is no test." in walked.stderr
    assert "- TBD" in walked.stderr and "+ Test `greet` in tests/." in walked.stderr
    assert "accepted 1 of 2 suggestions" in walked.stderr
    saved = cli("-p", slug, "plan", "show", "1", "--json").json()["body"]
    assert saved == body.replace("TBD", "Test `greet` in tests/.")


def test_suggest_never_prints_the_answers_json(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    """Through a real ``codality`` process: the model's prose and tool lines are shown, its
    answer's JSON (fenced or bare) and a tool call's JSON input are not; the suggestions are."""
    slug = project["slug"]
    cli("-p", slug, "plan", "create", "Greetings", "-b", "# Greetings\n\n## Tests\n\nTBD\n")
    first = {"passage": "TBD", "text": "Test `greet` in tests/.", "why": "There is no test."}
    fenced = f"Two things.\n```json\n{json.dumps([first], indent=2)}\n```\nThat is all."
    bare = f"One thing:\n{json.dumps({'suggestions': [first]})}"
    search: dict[str, Any] = {"filter": {"status": ["open"]}, "sort": "number"}
    env = {"CODALITY_TOKEN": str(cli.token)}
    for answer, prose in ((fenced, ["Two things.", "That is all."]), (bare, ["One thing:"])):
        fake.script(
            unchecked(tool("search_tickets", say="Looking at the tickets.", **search)),
            tool("read_file", say="Reading the greeter.", path="src/app.py"),
            text(answer),
        )
        run = codality("--server", cli.server.url, "-p", slug, "plan", "suggest", "1", env=env)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "1\tThere is no test.\tTBD\tTest `greet` in tests/.\n"
        assert run.stderr.splitlines() == [
            "Looking at the tickets.",
            "▸ search_tickets filter=… sort=number",
            "Reading the greeter.",
            "▸ read_file src/app.py",
            *prose,
        ]
