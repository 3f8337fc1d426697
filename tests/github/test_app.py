"""The GitHub App: manifest round trip, installation, status, tokens, repositories, links."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import RunningServer, assert_error, create_project, git
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import OWNER, connect, linked_project, point_at
from tests.server.accounts import member_client


async def test_manifest_round_trip_stores_secrets_and_never_shows_them(
    api: httpx.AsyncClient, fake_github: FakeGitHub
) -> None:
    status = await connect(api, fake_github)
    app = next(iter(fake_github.apps.values()))
    assert status["configured"] is True
    assert status["app"]["id"] == str(app.id) and status["app"]["client_id"] == app.client_id
    assert status["private_key"] is True and status["webhook_secret"] is True
    assert status["installation"]["account"] == OWNER
    assert status["check"] == {"ok": True, "error": None}
    # The manifest asked for docs §8.1's permissions and pointed the webhook at us.
    assert app.manifest["default_permissions"]["checks"] == "write"
    assert app.manifest["default_permissions"]["issues"] == "read"
    assert app.hook_url.endswith("/api/github/webhooks")
    env = (await api.get("/api/settings/env")).json()
    shown = {row["name"]: row for row in env}
    assert shown["GITHUB_PRIVATE_KEY"]["set"] and shown["GITHUB_PRIVATE_KEY"]["secret"]
    for secret in (app.pem, app.webhook_secret, app.client_secret):
        assert secret not in str(env) and secret not in str(status)


async def test_callback_refuses_an_unknown_state_and_setup_an_unknown_installation(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, fake_github: FakeGitHub
) -> None:
    await point_at(api, fake_github)
    assert_error(await anon.get("/api/github/app/callback?code=x&state=nope"), 400)
    assert_error(await anon.get("/api/github/app/manifest/form?state=nope"), 400)
    assert_error(await api.get("/api/github/app/setup?installation_id=5"), 409)
    await connect(api, fake_github)
    assert_error(await api.get("/api/github/app/setup?installation_id=999999"), 404)
    assert_error(await anon.post("/api/github/app/manifest", json={}), 401)


async def test_setup_switches_the_installation_only_for_an_admin_or_the_install_link(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, fake_github: FakeGitHub
) -> None:
    """The setup redirect is public (the browser has no session): without the state of an
    install link an admin was given, nobody can point the server at another installation."""
    await connect(api, fake_github)  # a browser without a session, holding the link's state
    app = next(iter(fake_github.apps.values()))
    theirs = fake_github.install(app.id, "mallory")
    setup = f"/api/github/app/setup?installation_id={theirs.id}&setup_action=install"
    assert_error(await anon.get(setup), 401)
    assert_error(await anon.get(setup + "&state=guessed"), 401)
    status = (await api.get("/api/github/app/status")).json()
    assert status["installation"]["account"] == OWNER
    # Another App's installation, or one GitHub does not know, is not the App's to use.
    other = fake_github.create_app(app.manifest, "someone")
    foreign = fake_github.install(other.id, "someone")
    assert_error(await api.get(f"/api/github/app/setup?installation_id={foreign.id}"), 404)
    assert_error(await api.get("/api/github/app/setup?installation_id=424242"), 404)
    # The same installation switch, asked by the admin: the installation itself was fine.
    switched = await api.get(setup)
    assert switched.status_code == 200, switched.text
    assert switched.json()["account"] == "mallory"


async def test_an_install_link_works_once_and_only_when_an_admin_was_given_it(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, fake_github: FakeGitHub, server: RunningServer
) -> None:
    await connect(api, fake_github)
    await api.put("/api/settings/env", json={"GITHUB_INSTALLATION_ID": None})
    link = (await api.get("/api/github/app/status")).json()["install_url"]
    state = link.split("state=", 1)[1]
    app = next(iter(fake_github.apps.values()))
    again = fake_github.install(app.id, OWNER)
    setup = f"/api/github/app/setup?installation_id={again.id}&state={state}"
    assert (await anon.get(setup)).status_code == 200
    assert_error(await anon.get(setup), 401)
    async with member_client(server, api) as member:
        shown = (await member.get("/api/github/app/status")).json()
        assert shown["install_url"] and "state=" not in shown["install_url"]
        assert_error(await member.get(setup.replace(state, "")), 401)


async def test_status_before_connecting(api: httpx.AsyncClient) -> None:
    status = (await api.get("/api/github/app/status")).json()
    assert status["configured"] is False and status["installation"] is None
    assert status["check"] == {"ok": None, "error": None}
    assert status["api_url"] == "https://api.github.com"
    assert_error(await api.get("/api/github/app/repos"), 409)


async def test_installation_tokens_are_cached_until_shortly_before_they_expire(
    server: RunningServer, api: httpx.AsyncClient, fake_github: FakeGitHub
) -> None:
    await connect(api, fake_github)
    fake_github.create_repo(OWNER, "one")
    fake_github.token_lifetime_s = 100  # inside the refresh margin: every use fetches anew
    for _ in range(2):
        assert (await api.get("/api/github/app/repos")).status_code == 200
    assert len(fake_github.issued_tokens) == 2
    fake_github.token_lifetime_s = 3600
    for _ in range(3):
        repos = await api.get("/api/github/app/repos")
        assert [r["full_name"] for r in repos.json()] == [f"{OWNER}/one"]
    assert len(fake_github.issued_tokens) == 3


async def test_create_repo_and_detect_remote_forms(
    api: httpx.AsyncClient, fake_github: FakeGitHub, git_repo: Path
) -> None:
    await connect(api, fake_github)
    created = await api.post("/api/github/app/repos", json={"name": "fresh", "private": True})
    assert created.status_code == 201, created.text
    assert created.json()["full_name"] == f"{OWNER}/fresh"
    assert_error(await api.post("/api/github/app/repos", json={"name": "fresh"}), 409)
    assert_error(await api.post("/api/github/app/repos", json={"name": "bad name"}), 400)

    for url in (
        "https://github.com/acme/widgets.git",
        "https://user:pw@github.com/acme/widgets",
        "git@github.com:acme/widgets.git",
        "ssh://git@github.com/acme/widgets.git",
    ):
        found = await api.post("/api/github/detect-remote", json={"url": url})
        assert found.status_code == 200, (url, found.text)
        body = found.json()
        assert (body["owner"], body["repo"], body["host"]) == ("acme", "widgets", "github.com")
        assert "pw" not in body["url"]
    assert_error(await api.post("/api/github/detect-remote", json={"url": "nope"}), 400)
    assert_error(await api.post("/api/github/detect-remote", json={}), 400)

    project = await create_project(api, git_repo)
    assert_error(
        await api.post("/api/github/detect-remote", json={"project": project["slug"]}), 404
    )
    git(git_repo, "remote", "add", "origin", f"{fake_github.web_url}/acme/widgets.git")
    found = (await api.post("/api/github/detect-remote", json={"path": str(git_repo)})).json()
    assert found["full_name"] == "acme/widgets" and found["matches_github"] is True


async def test_link_unlink_and_the_protected_setting(
    api: httpx.AsyncClient, fake_github: FakeGitHub, git_repo: Path, tmp_path: Path
) -> None:
    await connect(api, fake_github)
    project = await create_project(api, git_repo)
    slug = project["slug"]
    refused = await api.put(f"/api/projects/{slug}", json={"protected_main": True})
    assert_error(refused, 409)
    assert_error(
        await api.post(f"/api/projects/{slug}/github/link", json={"owner": OWNER, "repo": "nope"}),
        400,
    )
    linked = await linked_project(api, fake_github, _copy(git_repo, tmp_path / "two"), "widgets")
    assert linked["github"] == {"owner": OWNER, "repo": "widgets"}
    slug = linked["slug"]
    protected = await api.put(f"/api/projects/{slug}", json={"protected_main": True})
    assert protected.status_code == 200 and protected.json()["protected_main"] is True
    unlinked = (await api.post(f"/api/projects/{slug}/github/unlink")).json()
    assert unlinked["github"] is None and unlinked["protected_main"] is False


def _copy(repo: Path, to: Path) -> Path:
    git(repo.parent, "clone", "-q", str(repo), str(to))
    git(to, "remote", "remove", "origin")
    return to
