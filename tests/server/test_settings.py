"""Settings, env values and restart — over HTTP against the real server (product.md §9)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, assert_error, spawn_server
from tests.server.accounts import member_client

CONTRACT_KEYS = {
    "model", "fast_model", "temperature", "max_tokens", "agent_timeout_s", "bash_timeout_s",
    "max_concurrent_agents", "sandbox", "sandbox_network", "sandbox_hidden_paths",
    "sandbox_host_ports",
    "merge_strategy", "push_after_merge", "feedback_on_review", "ci_max_retries",
    "github_trusted_associations", "git_timeout_s", "prompts", "priorities", "kinds", "prices",
    "context_windows", "max_turns_per_run", "max_cost_per_run_usd", "max_cost_per_queue_usd",
    "max_turns_per_queue",
    "max_file_mb",
}  # fmt: skip
ADMIN_ROUTES = [
    ("GET", "/api/settings"),
    ("PUT", "/api/settings"),
    ("GET", "/api/settings/defaults"),
    ("GET", "/api/settings/env"),
    ("PUT", "/api/settings/env"),
    ("POST", "/api/settings/restart"),
]
API_KEY = "sk-ant-api03-SECRETSECRETSECRET-0123456789-wxyz"


async def test_settings_start_at_the_documented_defaults(api: httpx.AsyncClient) -> None:
    current = (await api.get("/api/settings")).json()
    defaults = (await api.get("/api/settings/defaults")).json()
    assert current == defaults
    assert set(defaults) == CONTRACT_KEYS
    assert defaults["model"] == "claude-sonnet-4-6"
    assert defaults["fast_model"] == "claude-haiku-4-5"
    assert defaults["temperature"] is None
    assert (defaults["max_tokens"], defaults["agent_timeout_s"], defaults["bash_timeout_s"]) == (
        16000, 600, 60,
    )  # fmt: skip
    assert defaults["sandbox"] == "auto" and defaults["merge_strategy"] == "merge"
    assert defaults["push_after_merge"] is True and defaults["git_timeout_s"] == 30
    assert defaults["max_file_mb"] == 10
    assert set(defaults["prompts"]) == {
        "base_identity",
        "approach",
        "tool_availability",
        "git_workflow",
    }
    assert all(text.strip() for text in defaults["prompts"].values())
    # The tools themselves are listed from the session's toolbox, never by hand here.
    for tool in ("bash", "read_file", "write_file", "edit_file", "grep", "memory", "get_ticket"):
        assert f"`{tool}`" not in defaults["prompts"]["tool_availability"]
    efforts = {p: v["reasoning_effort"] for p, v in defaults["priorities"].items()}
    assert efforts == {"urgent": "low", "high": "medium", "medium": "medium", "low": "high"}
    kind_efforts = {k: v["reasoning_effort"] for k, v in defaults["kinds"].items()}
    assert kind_efforts == {"bug": "high", "feature": None, "task": None, "chore": None}
    assert defaults["prices"]["claude-sonnet-4-6"]["input_per_mtok"] > 0


async def test_a_partial_put_changes_only_what_it_names(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    defaults = (await api.get("/api/settings/defaults")).json()
    change = {
        "model": "claude-opus-4-5",
        "temperature": 0.4,
        "sandbox_network": False,
        "sandbox_hidden_paths": ["~/.config/acme", "/srv/keys"],
        "sandbox_host_ports": [5432],
        "prompts": {"approach": "Run `make check` before every commit."},
        "priorities": {"urgent": {"temperature": 0.1}},
        "kinds": {"chore": {"reasoning_effort": "low"}},
        "prices": {
            "claude-opus-4-1": None,
            "local-model": {"input_per_mtok": 0, "output_per_mtok": 0},
        },
    }
    updated = await api.put("/api/settings", json=change)
    assert updated.status_code == 200, updated.text
    current = (await api.get("/api/settings")).json()
    assert current == updated.json()
    assert current["model"] == "claude-opus-4-5" and current["temperature"] == 0.4
    assert current["sandbox_network"] is False
    assert current["sandbox_hidden_paths"] == ["~/.config/acme", "/srv/keys"]
    assert current["sandbox_host_ports"] == [5432]
    assert current["max_tokens"] == defaults["max_tokens"]
    assert current["prompts"]["approach"] == "Run `make check` before every commit."
    assert current["prompts"]["base_identity"] == defaults["prompts"]["base_identity"]
    assert current["priorities"]["urgent"] == {
        **defaults["priorities"]["urgent"],
        "temperature": 0.1,
    }
    assert current["priorities"]["low"] == defaults["priorities"]["low"]
    assert current["kinds"]["chore"]["reasoning_effort"] == "low"
    assert "claude-opus-4-1" not in current["prices"]
    # cache prices left out follow the input price (1.25x to write, 0.1x to read)
    assert current["prices"]["local-model"] == dict.fromkeys(
        ("input_per_mtok", "output_per_mtok", "cache_write_per_mtok", "cache_read_per_mtok"), 0.0
    )
    assert defaults["prices"]["claude-sonnet-4-6"] == {
        "input_per_mtok": 3.0,
        "output_per_mtok": 15.0,
        "cache_write_per_mtok": 3.75,
        "cache_read_per_mtok": 0.3,
    }
    # the defaults themselves never move, and the server's own reads see the change
    assert (await api.get("/api/settings/defaults")).json() == defaults
    service = server.app[SERVICES].settings
    assert server.call(service.current()).model == "claude-opus-4-5"
    assert server.call(service.get_all())["prompts"]["approach"].startswith("Run `make check`")
    # an empty change is valid and changes nothing
    assert (await api.put("/api/settings", json={})).json() == current


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"modle": "x"}, "modle"),
        ({"model": 5}, "model"),
        ({"model": ""}, "model"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": "16000"}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 2.5}, "temperature"),
        ({"sandbox": "docker"}, "sandbox"),
        ({"sandbox_network": "yes"}, "sandbox_network"),
        ({"sandbox_hidden_paths": ["relative/secrets"]}, "sandbox_hidden_paths.0"),
        ({"sandbox_hidden_paths": "~/.secrets"}, "sandbox_hidden_paths"),
        ({"sandbox_host_ports": [0]}, "sandbox_host_ports.0"),
        ({"sandbox_host_ports": ["5432"]}, "sandbox_host_ports.0"),
        ({"merge_strategy": "rebase"}, "merge_strategy"),
        ({"prompts": "be nice"}, "prompts"),
        ({"prompts": {"persona": "x"}}, "prompts.persona"),
        ({"prompts": {"approach": 7}}, "prompts.approach"),
        ({"priorities": {"critical": {"label": "C"}}}, "priorities.critical"),
        (
            {"priorities": {"urgent": {"reasoning_effort": "max"}}},
            "priorities.urgent.reasoning_effort",
        ),
        ({"priorities": {"urgent": None}}, "priorities.urgent"),
        ({"kinds": {"bug": {"label": ""}}}, "kinds.bug.label"),
        ({"kinds": {"task": {"temperature": -1}}}, "kinds.task.temperature"),
        ({"prices": {"new-model": {"input_per_mtok": 1}}}, "prices.new-model.output_per_mtok"),
        (
            {"prices": {"m": {"input_per_mtok": -1, "output_per_mtok": 1}}},
            "prices.m.input_per_mtok",
        ),
        ({"prices": []}, "prices"),
    ],
)
async def test_bad_settings_are_400_naming_the_key(
    api: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    before = (await api.get("/api/settings")).json()
    # a valid key next to the bad one is not applied either
    error = assert_error(await api.put("/api/settings", json={"fast_model": "x", **change}), 400)
    assert error["field"] == field
    assert error["message"].startswith(f"{field}:")
    assert (await api.get("/api/settings")).json() == before


async def test_settings_bodies_that_are_not_objects(api: httpx.AsyncClient) -> None:
    assert_error(await api.put("/api/settings", json=[1, 2]), 400, "invalid_input")
    assert_error(
        await api.put(
            "/api/settings", content=b"{model", headers={"Content-Type": "application/json"}
        ),
        400,
        "invalid_input",
    )
    assert_error(await api.put("/api/settings/env", json="ANTHROPIC_API_KEY"), 400)


async def test_stored_values_this_version_cannot_read_fall_back_to_defaults(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    await api.put("/api/settings", json={"model": "claude-opus-4-5"})
    with sqlite3.connect(server.data_dir / "codality.db") as db:
        db.executemany(
            "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, 't')",
            [("max_tokens", '"lots"'), ("retired_setting", "1")],
        )
    current = (await api.get("/api/settings")).json()
    assert current["max_tokens"] == 16000 and "retired_setting" not in current
    assert current["model"] == "claude-opus-4-5"
    # and the next change stores a readable value again
    await api.put("/api/settings", json={"max_tokens": 8000})
    assert (await api.get("/api/settings")).json()["max_tokens"] == 8000


async def test_members_and_strangers_are_refused(
    server: RunningServer, api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    async with member_client(server, api) as member:
        for method, path in ADMIN_ROUTES:
            body: dict[str, Any] | None = {} if method != "GET" else None
            assert_error(await member.request(method, path, json=body), 403, "forbidden")
            assert_error(await anon.request(method, path, json=body), 401, "unauthorized")
    assert (await api.get("/api/settings")).json() == (
        await api.get("/api/settings/defaults")
    ).json()


async def test_env_values_are_stored_privately_and_shown_masked(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    listing = (await api.get("/api/settings/env")).json()
    by_name = {row["name"]: row for row in listing}
    assert by_name["ANTHROPIC_API_KEY"] == {
        "name": "ANTHROPIC_API_KEY", "set": False, "secret": True, "value": None, "source": None,
    }  # fmt: skip
    assert by_name["SMTP_HOST"]["secret"] is False

    change = {
        "ANTHROPIC_API_KEY": API_KEY,
        "SMTP_HOST": "smtp.example.com",
        "SMTP_PASSWORD": "hunter2",
        "DEPLOY_TOKEN": "tok-9f8e7d6c5b4a39281706",
    }
    updated = await api.put("/api/settings/env", json=change)
    assert updated.status_code == 200, updated.text
    shown = await api.get("/api/settings/env")
    for response in (updated, shown):
        for secret in (API_KEY, "hunter2", "tok-9f8e7d6c5b4a39281706", "SECRETSECRET"):
            assert secret not in response.text
        rows = {row["name"]: row for row in response.json()}
        assert rows["ANTHROPIC_API_KEY"] == {
            "name": "ANTHROPIC_API_KEY", "set": True, "secret": True, "value": "••••yz",
            "source": "store",
        }  # fmt: skip
        assert rows["SMTP_PASSWORD"]["value"] == "••••"
        assert rows["DEPLOY_TOKEN"]["secret"] is True and rows["DEPLOY_TOKEN"]["set"] is True
        assert rows["SMTP_HOST"]["value"] == "smtp.example.com"

    env_file = server.data_dir / "env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    real = server.call(server.app[SERVICES].settings.env_values())
    assert real["ANTHROPIC_API_KEY"] == API_KEY and real["SMTP_PASSWORD"] == "hunter2"

    # null and "" unset
    cleared = await api.put("/api/settings/env", json={"SMTP_PASSWORD": None, "DEPLOY_TOKEN": ""})
    rows = {row["name"]: row for row in cleared.json()}
    assert rows["SMTP_PASSWORD"]["set"] is False and rows["SMTP_PASSWORD"]["value"] is None
    assert "DEPLOY_TOKEN" not in rows  # not a known name, and no longer stored
    assert "hunter2" not in env_file.read_text()
    assert env_file.stat().st_mode & 0o777 == 0o600


async def test_every_value_is_masked_unless_its_name_is_known_to_be_public(
    api: httpx.AsyncClient,
) -> None:
    change = {
        "DATABASE_URL": "postgres://app:pa55word@db.internal/prod",
        "MY_SERVICE_PWD": "correct-horse-battery-staple",
        "SOME_SETTING": "not obviously secret, masked all the same",
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": "https://proxy-user:proxy-pass@llm.example.org/v1",
        "APP_URL": "https://codality.example.org",
        "SMTP_PORT": "465",
        "SMTP_TLS": "tls",
        "SMTP_USER": "AKIAIOSFODNN7EXAMPLE",
    }
    response = await api.put("/api/settings/env", json=change)
    assert response.status_code == 200, response.text
    rows = {row["name"]: row for row in response.json()}
    for name in (
        "DATABASE_URL",
        "MY_SERVICE_PWD",
        "SOME_SETTING",
        "ANTHROPIC_API_KEY",
        "SMTP_USER",
    ):
        assert rows[name]["secret"] is True, name
        shown = rows[name]["value"]
        # a fixed mask and at most the last two characters: never 4+4 of a secret
        assert shown.startswith("••••") and len(shown) <= 6, (name, shown)
        assert change[name].endswith(shown[4:]), (name, shown)
    for secret in ("pa55word", "app:", "horse", "obviously", API_KEY[:8], "AKIA", "proxy-pass"):
        assert secret not in response.text
    assert rows["ANTHROPIC_BASE_URL"]["secret"] is False
    assert rows["ANTHROPIC_BASE_URL"]["value"] == "https://proxy-user:••••@llm.example.org/v1"
    assert rows["APP_URL"]["value"] == "https://codality.example.org"
    assert (rows["SMTP_PORT"]["value"], rows["SMTP_TLS"]["value"]) == ("465", "tls")


async def test_a_value_that_is_not_valid_unicode_never_breaks_the_listing(
    server: RunningServer, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lone surrogate in a stored value (saved before bodies were checked, or by the keyring)
    or in the process environment (bytes it could not decode) shows as ``?``; saving one is a
    400."""
    settings = server.app[SERVICES].settings
    server.call(asyncio.to_thread(settings.secrets.update, {"SMTP_FROM": "bad\udc80ly@x.org"}))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://proxy\udcff.example")
    listing = await api.get("/api/settings/env")
    assert listing.status_code == 200, listing.text
    rows = {row["name"]: row for row in listing.json()}
    assert rows["SMTP_FROM"]["value"] == "bad?ly@x.org"
    assert rows["ANTHROPIC_BASE_URL"]["value"] == "http://proxy?.example"
    refused = await api.put(
        "/api/settings/env",
        content=b'{"SMTP_HOST": "a\\ud800b"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(refused, 400, "invalid_input")
    assert (await api.get("/api/settings/env")).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"anthropic_api_key": "x"}, "anthropic_api_key"),
        ({"1PASSWORD": "x"}, "1PASSWORD"),
        ({"SMTP-HOST": "x"}, "SMTP-HOST"),
        ({"": "x"}, ""),
        ({"SMTP_PORT": 587}, "SMTP_PORT"),
        ({"SMTP_HOST": "a\x00b"}, "SMTP_HOST"),
        ({"SMTP_HOST": "x" * (64 * 1024 + 1)}, "SMTP_HOST"),
    ],
)
async def test_bad_env_changes_are_400_naming_the_name(
    server: RunningServer, api: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    error = assert_error(await api.put("/api/settings/env", json=change), 400, "invalid_input")
    assert error.get("field", "") == field
    assert not (server.data_dir / "env").exists()


async def test_restart_of_an_embedded_server_is_unavailable(api: httpx.AsyncClient) -> None:
    error = assert_error(await api.post("/api/settings/restart"), 503, "unavailable")
    assert "restart" in error["message"]


def _listening_lines(log: Path) -> list[str]:
    return re.findall(r"listening on (\S+)", log.read_text())


def test_restart_comes_back_on_the_same_address(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, url = spawn_server(data)
    try:
        code = (data / "setup-code").read_text().strip()
        signed = httpx.post(
            f"{url}/api/setup/verify", json={"code": code, "email": "a@example.com"}
        )
        token = signed.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        first_start = json.loads((data / "server.json").read_text())
        assert _listening_lines(data / "logs" / "server.log") == [url]

        accepted = httpx.post(f"{url}/api/settings/restart", headers=headers)
        assert accepted.status_code == 202 and accepted.json() == {"restarting": True}

        deadline = time.monotonic() + 10
        while len(_listening_lines(data / "logs" / "server.log")) < 2:
            assert time.monotonic() < deadline, "the server did not start again"
            assert proc.poll() is None, "the server exited instead of restarting"
            time.sleep(0.05)
        assert _listening_lines(data / "logs" / "server.log") == [url, url]
        assert "shutting down" in (data / "logs" / "server.log").read_text()
        health = httpx.get(f"{url}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["setup_required"] is False
        # the new process image took over the same pid (exec) and the same port
        again = json.loads((data / "server.json").read_text())
        assert again == first_start
        # sessions live in the database, so the signed-in client carries on
        assert httpx.get(f"{url}/api/auth/me", headers=headers).json()["email"] == "a@example.com"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
