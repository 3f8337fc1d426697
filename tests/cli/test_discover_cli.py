"""``codality discover …`` against the real server: conversations and deciding proposals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli
from tests.discover.test_conversations import propose


def conversation_of(cli: Cli, project: dict[str, Any], title: str = "") -> dict[str, Any]:
    made = cli("-p", project["slug"], "discover", "new", title, "--json")
    assert made.exit_code == 0, made.stderr
    return dict(made.json())


def test_new_list_show_rename_delete(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    made = cli("-p", slug, "discover", "new", "Auth ideas")
    assert made.exit_code == 0, made.stderr
    conversation_id = made.stdout.strip()
    assert "created conversation" in made.stderr
    listed = cli("-p", slug, "discover", "list")
    assert listed.stdout.split("\t")[:2] == [conversation_id, "Auth ideas"]

    renamed = cli("-p", slug, "discover", "rename", conversation_id, "SSO")
    assert renamed.exit_code == 0 and "'SSO'" in renamed.stderr
    shown = cli("-p", slug, "discover", "show", conversation_id, "--json")
    assert shown.json()["title"] == "SSO" and shown.json()["messages"] == []

    refused = cli("-p", slug, "discover", "delete", conversation_id)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    deleted = cli("-p", slug, "discover", "delete", conversation_id, "--yes")
    assert deleted.exit_code == 0
    missing = cli("-p", slug, "discover", "show", conversation_id)
    assert missing.exit_code == 3
    assert missing.stderr.startswith("error: ") and "/api/" not in missing.stderr


def test_confirm_with_edits_and_reject(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    conversation = conversation_of(cli, project)
    drafts = {"tickets": [{"title": "Add SSO"}, {"title": "Docs", "depends_on": [1]}]}
    action = propose(cli.server, project, conversation, "propose_tickets", drafts)
    shown = cli("-p", slug, "discover", "show", str(conversation["id"]))
    assert f"proposal {action['id']} · 2 tickets" in shown.stderr
    assert "2. [task/medium] Docs (after 1)" in shown.stderr

    bad = cli(
        "-p",
        slug,
        "discover",
        "confirm",
        str(conversation["id"]),
        str(action["id"]),
        "--edits",
        "{not json",
    )
    assert bad.exit_code == 2 and "--edits" in bad.stderr
    invalid = cli(
        "-p",
        slug,
        "discover",
        "confirm",
        str(conversation["id"]),
        str(action["id"]),
        "--edits",
        '{"tickets": []}',
    )
    assert invalid.exit_code == 2 and "tickets" in invalid.stderr

    edits = '{"tickets": [{"title": "Add SSO login"}, {"title": "Docs", "depends_on": [1]}]}'
    confirmed = cli(
        "-p",
        slug,
        "discover",
        "confirm",
        str(conversation["id"]),
        str(action["id"]),
        "--edits",
        edits,
    )
    assert confirmed.exit_code == 0, confirmed.stderr
    assert "created tickets #1, #2" in confirmed.stderr
    listed = cli("-p", slug, "ticket", "list", "--json").json()
    assert [(t["title"], t["depends_on"]) for t in listed] == [("Add SSO login", []), ("Docs", [1])]
    twice = cli("-p", slug, "discover", "confirm", str(conversation["id"]), str(action["id"]))
    assert twice.exit_code == 6 and "already confirmed" in twice.stderr

    other = propose(
        cli.server,
        project,
        conversation,
        "propose_ticket_update",
        {"number": 1, "priority": "urgent"},
    )
    rejected = cli(
        "-p", slug, "discover", "reject", str(conversation["id"]), str(other["id"]), "--json"
    )
    assert rejected.exit_code == 0 and rejected.json()["status"] == "rejected"
    shown = cli("-p", slug, "discover", "show", str(conversation["id"]))
    assert "confirmed: created tickets #1, #2" in shown.stderr
    assert "rejected" in shown.stderr


def test_confirm_edit_opens_the_editor(cli: Cli, project: dict[str, Any], tmp_path: Path) -> None:
    slug = project["slug"]
    assert cli("-p", slug, "ticket", "create", "Old", "-d", "").exit_code == 0
    conversation = conversation_of(cli, project)
    change = {"number": 1, "title": "Proposed"}
    action = propose(cli.server, project, conversation, "propose_ticket_update", change)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/Proposed/Edited by hand/' \"$1\"\n")
    editor.chmod(0o755)
    args = ("-p", slug, "discover", "confirm", str(conversation["id"]), str(action["id"]))
    piped = cli(*args, "--edit")
    assert piped.exit_code == 2 and "--edits" in piped.stderr
    edited = cli(*args, "--edit", tty=True, env={"EDITOR": str(editor), "VISUAL": ""})
    assert edited.exit_code == 0, edited.stderr
    assert "updated ticket #1" in edited.stderr
    assert cli("-p", slug, "ticket", "show", "1", "--json").json()["title"] == "Edited by hand"
