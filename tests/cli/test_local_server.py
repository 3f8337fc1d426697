"""The zero-touch path: a fresh data dir, a server the CLI starts by itself, automatic sign-in."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli.conftest import codality
from tests.conftest import git


def test_newcomer_flow_starts_the_server_and_signs_in(local_data_dir: Path, git_repo: Path) -> None:
    data = ["--data-dir", str(local_data_dir)]
    stopped = codality(*data, "server", "status")
    assert stopped.returncode == 5 and "not running" in stopped.stdout

    created = codality(*data, "project", "create", "--path", ".", "--json", cwd=git_repo)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["path"] == str(git_repo.resolve())
    assert "Traceback" not in created.stderr

    ticket = codality(*data, "ticket", "create", "First ticket", "-d", "text", cwd=git_repo / "src")
    assert ticket.returncode == 0, ticket.stderr
    listed = codality(*data, "ticket", "list", "--json", cwd=git_repo)
    assert [t["title"] for t in json.loads(listed.stdout)] == ["First ticket"]

    # The first user is the git identity, made admin by the setup code the CLI read itself.
    status = codality(*data, "auth", "status", "--json")
    view = json.loads(status.stdout)
    assert view["user"]["email"] == git(git_repo, "config", "user.email").strip()
    assert view["user"]["role"] == "admin"
    store = Path(os.environ["XDG_CONFIG_HOME"]) / "codality" / "credentials.json"
    assert view["store"] == f"{store} (plaintext, 0600)"
    assert store.stat().st_mode & 0o777 == 0o600

    running = json.loads(codality(*data, "server", "status", "--json").stdout)
    assert running["running"] is True
    assert running["pid"] == json.loads((local_data_dir / "server.json").read_text())["pid"]
    assert (local_data_dir / "logs" / "server.log").read_text()

    # A logout ends the session; the next command signs in again by itself (OTP from the outbox).
    assert codality(*data, "logout").returncode == 0
    again = codality(*data, "me", "show", "--json")
    assert again.returncode == 0, again.stderr
    assert list((local_data_dir / "outbox").iterdir())

    assert codality(*data, "server", "stop").returncode == 0
    assert codality(*data, "server", "status").returncode == 5
    assert not (local_data_dir / "server.json").exists()


def test_a_server_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    # A data dir that is a file: the server dies at once; the CLI says where to look.
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    result = codality("--data-dir", str(blocked / "data"), "ticket", "list")
    assert result.returncode in (1, 5)
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
