"""`codality api`, `codality events`, the editor path and credential stores."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, fake_editor


def test_api_command_calls_any_endpoint(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    made = cli("api", "POST", f"/projects/{slug}/tickets", "-F", "title=Raw", "-F", "kind=bug")
    assert made.exit_code == 0, made.stderr
    assert made.json()["title"] == "Raw"
    listed = cli("api", "GET", f"/api/projects/{slug}/tickets", "-F", "kind=bug")
    assert [t["title"] for t in listed.json()] == ["Raw"]
    missing = cli("api", "GET", f"/projects/{slug}/tickets/42")
    assert missing.exit_code == 3
    assert missing.json()["error"]["code"] == "not_found"


def test_events_replay_as_json_lines(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    cli("-p", slug, "ticket", "create", "Evented", "-d", "")
    channel = f"project:{project['id']}"
    streamed = cli("events", "--channel", channel, "--last-event-id", "0", "--count", "1")
    assert streamed.exit_code == 0, streamed.stderr
    (line,) = streamed.stdout.splitlines()
    event = json.loads(line)
    assert event["channel"] == channel and event["type"].startswith("ticket:")
    assert event["data"]["title"] == "Evented" and isinstance(event["id"], int)
    bad = cli("events", "--channel", "nonsense")
    assert bad.exit_code == 2 and "channel" in bad.stderr


def test_ticket_create_opens_the_editor_on_a_terminal(
    cli: Cli, project: dict[str, Any], tmp_path: Path
) -> None:
    editor = fake_editor(tmp_path, "## Steps\n\nClick twice.")
    env = {"EDITOR": editor, "VISUAL": ""}
    made = cli("-p", project["slug"], "ticket", "create", "Edited", "--json", tty=True, env=env)
    assert made.exit_code == 0, made.stderr
    assert made.json()["description"] == "## Steps\n\nClick twice."
    # Piped, nobody is there to edit: the description stays empty and no editor runs.
    piped = cli("-p", project["slug"], "ticket", "create", "Piped", "--json", env=env)
    assert piped.json()["description"] == ""


def test_token_env_overrides_and_unsafe_file_is_refused(
    cli: Cli, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    status = cli("auth", "status", "--json").json()
    assert status["store"] == "the CODALITY_TOKEN environment variable"
    assert status["user"]["email"] == "admin@example.com"

    # Without the variable, a remote server needs `login`: exit code 4.
    no_token = Cli(cli.server, None)
    assert no_token("project", "list").exit_code == 4

    store = Path(os.environ["XDG_CONFIG_HOME"]) / "codality" / "credentials.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text("{}")
    store.chmod(0o644)
    refused = no_token("project", "list")
    assert refused.exit_code == 4 and "can be read by other users" in refused.stderr
    store.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert no_token("project", "list").exit_code == 4  # readable now, but still no session
