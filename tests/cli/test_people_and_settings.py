"""Users, profile and settings through the CLI."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli


def test_user_invite_role_remove(cli: Cli) -> None:
    invited = cli("user", "invite", "dev@example.com", "--name", "Dev", "--json")
    assert invited.exit_code == 0, invited.stderr
    assert (invited.json()["email"], invited.json()["role"]) == ("dev@example.com", "member")
    emails = [line.split("\t")[1] for line in cli("user", "list").stdout.splitlines()]
    assert emails == ["admin@example.com", "dev@example.com"]
    promoted = cli("user", "role", "dev@example.com", "admin", "--json")
    assert promoted.json()["role"] == "admin"
    unconfirmed = cli("user", "remove", "dev@example.com")
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.stderr
    assert cli("user", "remove", "dev@example.com", "--yes").exit_code == 0
    assert len(cli("user", "list", "--json").json()) == 1
    assert cli("user", "role", "nobody@example.com", "admin").exit_code == 3


def test_me_profile_git_identity_and_ssh_key(cli: Cli) -> None:
    me = cli("me", "show", "--json").json()
    assert me["email"] == "admin@example.com"
    assert cli("me", "name", "Ada", "--json").json()["name"] == "Ada"
    identity = cli("me", "git-identity", "--name", "Ada L", "--email", "ada@example.com", "--json")
    assert identity.json()["git_identity"] == {"name": "Ada L", "email": "ada@example.com"}
    piped = cli("me", "show").stdout.splitlines()
    assert "git email:\tada@example.com" in piped
    assert cli("me", "ssh-key").exit_code == 3
    made = cli("me", "ssh-key", "--generate")
    assert made.exit_code == 0 and made.stdout.startswith("ssh-ed25519 ")
    assert "fingerprint: SHA256:" in made.stderr
    # Replacing the key asks first; a script says --yes.
    again = cli("me", "ssh-key", "--generate")
    assert again.exit_code == 2 and "--yes" in again.stderr
    assert cli("me", "ssh-key").stdout == made.stdout
    declined = cli("me", "ssh-key", "--generate", tty=True, input="n\n")
    assert declined.exit_code != 0 and cli("me", "ssh-key").stdout == made.stdout
    replaced = cli("me", "ssh-key", "--generate", "--yes")
    assert replaced.exit_code == 0 and replaced.stdout != made.stdout


def test_settings_show_set_defaults_env(cli: Cli) -> None:
    assert cli("settings", "show", "max_concurrent_agents").stdout == "3\n"
    changed = cli("settings", "set", "max_concurrent_agents", "5", "--json")
    assert changed.exit_code == 0, changed.stderr
    assert changed.json()["max_concurrent_agents"] == 5
    assert cli("settings", "show", "--json", "--fields", "max_concurrent_agents").json() == {
        "max_concurrent_agents": 5
    }
    assert cli("settings", "defaults", "--json").json()["max_concurrent_agents"] == 3
    bad = cli("settings", "set", "max_concurrent_agents", '"many"')
    assert bad.exit_code == 2 and bad.stderr.startswith("error: ")
    assert cli("settings", "show", "no_such_thing").exit_code == 3

    assert cli("settings", "env-set", "ANTHROPIC_API_KEY", "sk-test-1234567890").exit_code == 0
    listing = cli("settings", "env", "--json").json()
    key = next(row for row in listing if row["name"] == "ANTHROPIC_API_KEY")
    assert key["set"] and key["secret"] and "1234567890" not in json.dumps(key)
    assert cli("settings", "env-set", "ANTHROPIC_API_KEY", "--unset").exit_code == 0
    assert not next(
        r for r in cli("settings", "env", "--json").json() if r["name"] == "ANTHROPIC_API_KEY"
    )["set"]


def test_env_shows_where_each_value_comes_from_when_the_server_says() -> None:
    from codality_cli.commands.settings import env_columns
    from codality_cli.output import Output
    from codality_cli.streams import Streams

    rows = [
        {"name": "ANTHROPIC_API_KEY", "set": True, "secret": True, "value": "…", "source": "store"},
        {"name": "ANTHROPIC_BASE_URL", "set": True, "secret": False, "value": "http://x"},
    ]
    rows[1]["source"] = "environment"
    table = Streams.for_test(tty=True, no_color=True)
    Output(table).items(rows, env_columns(rows))
    header = table.out.getvalue().splitlines()[0].split()  # type: ignore[attr-defined]
    assert header == ["NAME", "SET", "SECRET", "VALUE", "SOURCE"]
    piped = Streams.for_test()
    Output(piped).items(rows, env_columns(rows))
    lines = piped.out.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [line.split("\t")[-1] for line in lines] == ["store", "environment"]
    # An older server says nothing about sources: no empty column.
    older = [{k: v for k, v in row.items() if k != "source"} for row in rows]
    assert [c.header for c in env_columns(older)] == ["name", "set", "secret", "value"]


def test_env_says_which_values_come_from_the_servers_environment(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://model.example")  # the server's process env
    assert cli("settings", "env-set", "ANTHROPIC_API_KEY", "sk-test-1234567890").exit_code == 0
    rows = {
        line.split("\t")[0]: line.split("\t") for line in cli("settings", "env").stdout.splitlines()
    }
    assert rows["ANTHROPIC_API_KEY"][-1] == "store"
    assert rows["ANTHROPIC_BASE_URL"][-2:] == ["http://model.example", "environment"]
    table = cli("settings", "env", tty=True).stdout
    assert "SOURCE" in table.splitlines()[0]
