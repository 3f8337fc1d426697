"""Command-line grammar through the real entry point: global options anywhere, server addresses,
usage errors in one line, server messages in CLI words, exit codes (issue 15, items 4 and 9)."""

from __future__ import annotations

import json
import socket
import subprocess
from typing import Any

import pytest

from tests.cli.conftest import Cli, codality


def closed_port_url() -> str:
    """A loopback address nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run(cli: Cli, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``codality ARGS`` in a subprocess, signed in to the test server by token."""
    return codality(*args, env={"CODALITY_TOKEN": cli.token or "", **env})


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


def test_global_options_after_the_noun_and_the_verb(cli: Cli, project: dict[str, Any]) -> None:
    slug = project["slug"]
    created = run(cli, "ticket", "create", "Anywhere", "-p", slug, "--server", cli.server.url)
    assert created.returncode == 0, created.stderr
    for args in (
        ("ticket", "list", "-p", slug, "--server", cli.server.url, "--json"),
        ("ticket", "-p", slug, "list", "--json", f"--server={cli.server.url}"),
        ("--server", cli.server.url, "ticket", "list", f"--project={slug}", "--json"),
    ):
        listed = run(cli, *args)
        assert listed.returncode == 0, (args, listed.stderr)
        assert [t["title"] for t in json.loads(listed.stdout)] == ["Anywhere"], args
    # A value of the command's own option is never taken for a global option.
    described = run(
        cli, "ticket", "create", "T", "--description", "-p", "-p", slug, "--server", cli.server.url
    )
    assert described.returncode == 0, described.stderr
    shown = run(cli, "--server", cli.server.url, "-p", slug, "ticket", "show", "2", "--json")
    assert json.loads(shown.stdout)["description"] == "-p"


@pytest.mark.parametrize("address", ["foo", "ftp://example.com", "http://", "http://h:99999"])
def test_a_server_address_is_checked(address: str) -> None:
    given = codality("--server", address, "project", "list")
    assert given.returncode == 2
    assert lines(given.stderr) == [
        f"error: --server: {address.rstrip('/')!r} is not a server address; give one like"
        " https://codality.example.com or http://127.0.0.1:7420"
    ]
    from_env = codality("project", "list", env={"CODALITY_URL": address})
    assert from_env.returncode == 2 and from_env.stderr.startswith("error: CODALITY_URL: ")


def test_an_unreachable_server_is_exit_5_not_a_sign_in() -> None:
    url = closed_port_url()
    for args in (("ticket", "list", "--server", url), ("--server", url, "auth", "status")):
        result = codality(*args)
        assert result.returncode == 5, (args, result.stderr)
        assert lines(result.stderr) == [
            f"error: server unreachable: cannot reach the server at {url}"
            " ([Errno 111] Connection refused)"
        ]
        assert "signed in" not in result.stderr


@pytest.mark.parametrize(
    ("args", "first", "hint"),
    [
        (
            ("ticket", "discar"),
            "error: no such command 'discar'. Did you mean 'discard'?",
            "ticket",
        ),
        (("ticket", "show"), "error: missing argument 'number'.", "ticket show"),
        (("ticket", "list", "-x"), "error: no such option: -x", "ticket list"),
        (
            ("ticket", "list", "--limit", "-3"),
            "error: invalid value for '--limit': -3 is too small: at least 1",
            "ticket list",
        ),
        (
            ("ticket", "show", "abc"),
            "error: invalid value for 'number': 'abc' is not a whole number",
            "ticket show",
        ),
    ],
)
def test_usage_errors_are_one_line_and_a_hint(
    cli: Cli, args: tuple[str, ...], first: str, hint: str
) -> None:
    result = run(cli, "--server", cli.server.url, *args)
    assert result.returncode == 2
    assert lines(result.stderr) == [first, f"hint: see `codality {hint} --help`"]
    assert result.stdout == ""


def test_server_messages_speak_cli(cli: Cli, project: dict[str, Any], tmp_path: Any) -> None:
    url, slug = cli.server.url, project["slug"]
    plain = tmp_path / "plain"
    plain.mkdir()
    not_repo = run(cli, "--server", url, "project", "create", "--path", str(plain))
    assert not_repo.returncode == 2
    assert lines(not_repo.stderr) == [
        f"error: {plain} is not a git repository; pass --init to run git init there"
    ]
    folder = run(cli, "--server", url, "-p", slug, "project", "cat", "src")
    assert folder.returncode == 2
    assert lines(folder.stderr) == [
        "error: 'src' is a dir, not a file; list a folder with `codality project browse PATH`"
    ]
    empty = run(cli, "--server", url, "-p", slug, "ticket", "create", "")
    assert empty.returncode == 2
    assert lines(empty.stderr) == ["error: the title must not be empty"]
    unknown = run(cli, "--server", url, "settings", "set", "no_such_thing", "1")
    assert unknown.returncode == 2
    assert lines(unknown.stderr) == [
        "error: unknown setting 'no_such_thing'; `codality settings defaults` lists them"
    ]
    nobody = run(cli, "--server", url, "user", "role", "nobody@example.com", "admin")
    assert nobody.returncode == 3
    for result in (not_repo, folder, empty, unknown, nobody):
        assert "/api/" not in result.stderr and "init: true" not in result.stderr


def test_tui_off_a_terminal_is_a_usage_error(cli: Cli, project: dict[str, Any]) -> None:
    result = run(cli, "tui", "-p", project["slug"], "--server", cli.server.url)
    assert result.returncode == 2
    assert lines(result.stderr) == [
        "error: the board needs a terminal (stdin, stdout and stderr); scripts use"
        " `codality ticket list` and the other commands"
    ]
    assert result.stdout == ""  # no screen drawn into a pipe


def test_api_checks_the_method_before_sending(cli: Cli) -> None:
    result = run(cli, "--server", cli.server.url, "api", "FETCH", "/projects")
    assert result.returncode == 2
    assert lines(result.stderr) == [
        "error: METHOD 'FETCH': give one of GET, POST, PUT, PATCH, DELETE"
    ]
    assert run(cli, "--server", cli.server.url, "api", "get", "/projects").returncode == 0


def test_env_set_warns_about_a_name_nothing_reads(cli: Cli) -> None:
    url = cli.server.url
    typo = run(cli, "--server", url, "settings", "env-set", "ANTHROPIC_API_KY", "sk-x")
    assert typo.returncode == 0
    assert lines(typo.stderr) == [
        "ANTHROPIC_API_KY set",
        "warning: the server reads no value named ANTHROPIC_API_KY; did you mean"
        " ANTHROPIC_API_KEY? (`codality settings env` lists the names it reads)",
    ]
    known = run(cli, "--server", url, "settings", "env-set", "SMTP_HOST", "mail.example.com")
    assert known.returncode == 0 and lines(known.stderr) == ["SMTP_HOST set"]
    removed = run(cli, "--server", url, "settings", "env-set", "ANTHROPIC_API_KY", "--unset")
    assert lines(removed.stderr) == ["ANTHROPIC_API_KY removed"]


def test_events_take_a_ticket_number(cli: Cli, project: dict[str, Any], tmp_path: Any) -> None:
    url, slug = cli.server.url, project["slug"]
    other = run(
        cli, "--server", url, "project", "create", "--new", "--name", "Other",
        "--path", str(tmp_path / "other"), "--json",
    )  # fmt: skip
    assert other.returncode == 0, other.stderr
    other_slug = json.loads(other.stdout)["slug"]
    assert (
        run(cli, "--server", url, "-p", other_slug, "ticket", "create", "Elsewhere").returncode == 0
    )
    assert run(cli, "--server", url, "-p", slug, "ticket", "create", "Here").returncode == 0
    here = json.loads(run(cli, "--server", url, "-p", slug, "ticket", "show", "1", "--json").stdout)
    assert here["id"] != 1  # the number and the id differ, so the test tells them apart
    streamed = run(
        cli, "--server", url, "-p", slug, "events", "-c", "ticket:1", "--last-event-id", "0",
        "-n", "1",
    )  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr
    event = json.loads(streamed.stdout)
    assert event["channel"] == f"ticket:{here['id']}" and event["data"]["title"] == "Here"
    by_slug = run(
        cli, "--server", url, "events", "-c", f"project:{other_slug}", "--last-event-id", "0",
        "-n", "1",
    )  # fmt: skip
    assert json.loads(by_slug.stdout)["data"]["title"] == "Elsewhere"
    missing = run(cli, "--server", url, "-p", slug, "events", "-c", "ticket:99")
    assert missing.returncode == 3
    assert lines(missing.stderr) == [f"error: project '{slug}' has no ticket #99"]
    bad = run(cli, "--server", url, "events", "-c", "ticket:abc")
    assert bad.returncode == 2 and "ticket:NUMBER" in bad.stderr
