"""The GitHub App connection, installation tokens, repositories and project links (docs §8.1).

The App's credentials live in the env store (secrets never leave the server); the manifest flow
writes them there. Every call to GitHub goes through ``api()``, which hands out the cached
installation token, and every GitHub event goes out through ``publish`` (the one place to switch
when events become typed).
"""

from __future__ import annotations

import asyncio
import html
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codality_server.db import projects as db_projects
from codality_server.domain import github as gh
from codality_server.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unavailable,
)
from codality_server.domain.events import Payload, project_channel, ticket_channel
from codality_server.domain.projects import Project
from codality_server.git import remote
from codality_server.git.repository import redact_url
from codality_server.github.client import GitHubClient, GitHubError

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .projects import ProjectService
    from .settings import SettingsService

STATE_TTL_S = 3600.0
#: Install links outstanding at once (the CLI polls the status panel while it waits).
MAX_INSTALL_STATES = 100
DEFAULT_APP_NAME = "Codality"


def unavailable(exc: GitHubError, doing: str) -> Unavailable | Conflict | NotFound:
    """A GitHub failure as a domain error: unreachable → 503, missing → 404, refused → 409."""
    if exc.status == 404:
        return NotFound(f"GitHub: {doing}: not found ({exc.message})")
    if exc.status in (0, 401, 500, 502, 503, 504):
        return Unavailable(f"GitHub: {doing} failed: {exc.message}")
    return Conflict(
        f"GitHub refused to {doing}: {exc.message}",
        {"reason": "github_refused", "github_status": exc.status},
    )


class GitHubService(Service):
    """Connection state, the API client and the links between projects and repositories."""

    def __init__(self, core: Core, *, settings: SettingsService, projects: ProjectService) -> None:
        super().__init__(core)
        self.settings = settings
        self.projects = projects
        self._client: GitHubClient | None = None
        self._states: dict[str, _Pending] = {}
        self._install_states: dict[str, float] = {}

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()

    # --- configuration and events -----------------------------------------------------------

    async def app_config(self) -> gh.GitHubConfig:
        return gh.GitHubConfig.from_env(await self.settings.env_values())

    def client(self, config: gh.GitHubConfig) -> GitHubClient:
        if self._client is None or self._client.api_url != config.api_url:
            old, self._client = self._client, GitHubClient(config.api_url)
            if old is not None:
                asyncio.get_running_loop().create_task(old.close())
        return self._client

    def publish(self, payload: Payload, project_id: int | None, ticket_id: int | None) -> None:
        """Every GitHub-related event, on the ticket's and the project's channels (those the
        catalogue names for its type)."""
        channels = []
        if ticket_id is not None:
            channels.append(ticket_channel(ticket_id))
        if project_id is not None:
            channels.append(project_channel(project_id))
        self.bus.publish(payload, channels)

    async def api(self) -> tuple[GitHubClient, str]:
        """The client and a valid installation token; 409 until the App is installed."""
        config = await self.app_config()
        if not config.has_app:
            raise Conflict(
                "GitHub is not connected; run `codality github connect`",
                {"reason": "github_not_connected"},
            )
        if not config.installation_id:
            raise Conflict(
                f"the GitHub App is not installed yet; install it at {config.install_url}",
                {"reason": "github_not_installed"},
            )
        client = self.client(config)
        assert config.app_id and config.private_key
        try:
            token = await client.installation_token(
                config.app_id, config.private_key, config.installation_id
            )
        except GitHubError as exc:
            raise unavailable(exc, "issue an installation token") from None
        return client, token

    # --- the manifest flow ------------------------------------------------------------------

    def app_url(self, env: dict[str, str], fallback: str) -> str:
        return (env.get("APP_URL") or self.config.app_url or fallback).rstrip("/")

    async def start_manifest(
        self, server_url: str, organization: str | None, name: str | None
    ) -> dict[str, Any]:
        """A state token and the manifest; the answer's ``url`` is a page that posts it."""
        env = await self.settings.env_values()
        config = gh.GitHubConfig.from_env(env)
        app_url = self.app_url(env, server_url)
        if organization is not None:
            gh.check_repo_name(organization, "x")
        now = time.monotonic()
        self._states = {s: p for s, p in self._states.items() if p.expires > now}
        state = secrets.token_urlsafe(24)
        body = gh.manifest(app_url, (name or "").strip() or DEFAULT_APP_NAME)
        post_url = gh.manifest_post_url(config.web_url, organization, state)
        self._states[state] = _Pending(now + STATE_TTL_S, post_url, body)
        return {
            "url": f"{app_url}/api/github/app/manifest/form?state={state}",
            "post_url": post_url,
            "manifest": body,
            "state": state,
            "webhook_url": body["hook_attributes"]["url"],
        }

    def _pending(self, state: str, consume: bool) -> _Pending:
        pending = self._states.get(state)
        if pending is None or pending.expires < time.monotonic():
            raise InvalidInput(
                "state: unknown or expired; start again with `codality github connect`",
                field="state",
            )
        if consume:
            del self._states[state]
        return pending

    def manifest_form(self, state: str) -> str:
        """An HTML page that posts the manifest to GitHub (GitHub takes it only as a POST)."""
        pending = self._pending(state, consume=False)
        action = html.escape(pending.post_url, quote=True)
        value = html.escape(json.dumps(pending.manifest), quote=True)
        return (
            "<!doctype html><meta charset=utf-8><title>Connect Codality to GitHub</title>"
            f'<form id=f method=post action="{action}">'
            f'<input type=hidden name=manifest value="{value}">'
            "<p>Continue to GitHub to create the Codality App.</p>"
            "<button type=submit>Create the GitHub App</button></form>"
            "<script>document.getElementById('f').submit()</script>"
        )

    async def finish_manifest(self, code: str, state: str) -> str:
        """Exchange the code for the App's credentials, store them; returns the install URL."""
        self._pending(state, consume=True)
        if not code.strip() or len(code) > 200:
            raise InvalidInput("code: missing or malformed", field="code")
        config = await self.app_config()
        try:
            app = await self.client(config).convert_manifest(code.strip())
        except GitHubError as exc:
            raise unavailable(exc, "convert the App manifest") from None
        try:
            values = {
                gh.ENV_APP_ID: str(app["id"]),
                gh.ENV_APP_SLUG: str(app["slug"]),
                gh.ENV_CLIENT_ID: str(app["client_id"]),
                gh.ENV_CLIENT_SECRET: str(app["client_secret"]),
                gh.ENV_PRIVATE_KEY: str(app["pem"]),
                gh.ENV_WEBHOOK_SECRET: str(app["webhook_secret"]),
                gh.ENV_INSTALLATION_ID: None,
                gh.ENV_INSTALLATION_ACCOUNT: None,
            }
        except (KeyError, TypeError):
            raise Unavailable(
                "GitHub's manifest conversion answer lacks the App's credentials"
            ) from None
        await self.settings.update_env(values)
        self.client(config).tokens.clear()
        updated = await self.app_config()
        return self._install_link(updated.install_url) or config.web_url

    def _install_link(self, install_url: str | None) -> str | None:
        """The install page with a ``state`` GitHub hands back to the setup redirect: how the
        browser, which has no session, shows that an admin sent it. Only links given to an admin
        (the manifest's callback, the status panel) carry one."""
        if install_url is None:
            return None
        now = time.monotonic()
        live = {s: t for s, t in self._install_states.items() if t > now}
        self._install_states = dict(list(live.items())[-MAX_INSTALL_STATES + 1 :])
        state = secrets.token_urlsafe(24)
        self._install_states[state] = now + STATE_TTL_S
        return f"{install_url}?state={state}"

    async def record_installation(
        self, installation_id: str, state: str | None, vouched: bool
    ) -> dict[str, Any]:
        """Keep the App's installation. ``vouched``: an admin's session or a signed webhook;
        otherwise a browser's post-installation redirect holding the ``state`` of an install link
        an admin was given. The installation must be one the App's own JWT can see (GitHub
        answers 404 for any other)."""
        expires = self._install_states.pop(state, 0.0) if state else 0.0
        if not vouched and expires < time.monotonic():
            raise Unauthorized(
                "this installation was not started from Codality: install the App through"
                " `codality github connect` (or call this signed in as an admin)"
            )
        if not installation_id.isdigit():
            raise InvalidInput("installation_id: must be a number", field="installation_id")
        config = await self.app_config()
        if not config.has_app:
            raise Conflict("no GitHub App is connected; run `codality github connect` first")
        assert config.app_id and config.private_key
        try:
            found = await self.client(config).installation(
                config.app_id, config.private_key, installation_id
            )
        except GitHubError as exc:
            raise unavailable(exc, f"look up installation {installation_id}") from None
        account = str((found.get("account") or {}).get("login") or "")
        await self.settings.update_env(
            {gh.ENV_INSTALLATION_ID: installation_id, gh.ENV_INSTALLATION_ACCOUNT: account or None}
        )
        return {"installed": True, "installation_id": installation_id, "account": account}

    async def forget_installation(self, installation_id: str) -> bool:
        """An ``installation`` deleted webhook for ours: stop using it."""
        config = await self.app_config()
        if config.installation_id != installation_id:
            return False
        await self.settings.update_env(
            {gh.ENV_INSTALLATION_ID: None, gh.ENV_INSTALLATION_ACCOUNT: None}
        )
        self.client(config).tokens.clear()
        return True

    async def status(self, server_url: str, admin: bool) -> dict[str, Any]:
        """The status panel, plus a live check that the App's key signs what GitHub accepts; an
        admin's install link carries the state that lets the installation be recorded."""
        env = await self.settings.env_values()
        config = gh.GitHubConfig.from_env(env)
        install_url = config.install_url
        if admin and not config.installed:
            install_url = self._install_link(install_url)
        check = gh.AppCheck(ok=None, error=None)
        if config.has_app:
            assert config.app_id and config.private_key
            try:
                await self.client(config).app_info(config.app_id, config.private_key)
                check = gh.AppCheck(ok=True, error=None)
            except GitHubError as exc:
                check = gh.AppCheck(ok=False, error=exc.message)
        webhook_url = f"{self.app_url(env, server_url)}/api/github/webhooks"
        return config.status_view(webhook_url, check, install_url)

    # --- repositories --------------------------------------------------------------------------

    async def repos(self) -> list[dict[str, Any]]:
        client, token = await self.api()
        try:
            found = await client.all("/installation/repositories", token, key="repositories")
        except GitHubError as exc:
            raise unavailable(exc, "list the installation's repositories") from None
        return [repo_view(r) for r in found]

    async def create_repo(
        self, name: str, private: bool, description: str, organization: str | None
    ) -> dict[str, Any]:
        gh.check_repo_name(organization or "x", name)
        client, token = await self.api()
        config = await self.app_config()
        owner = organization or config.installation_account
        body = {"name": name, "private": private, "description": description, "auto_init": True}
        path = f"/orgs/{owner}/repos" if organization else "/user/repos"
        try:
            created = await client.post(path, token, body)
        except GitHubError as exc:
            raise unavailable(exc, f"create the repository {name}") from None
        return repo_view(created)

    async def detect_remote(
        self, slug: str | None, path: str | None, url: str | None
    ) -> dict[str, Any]:
        """owner/repo of a project's (or a folder's) ``origin``, or of a URL given outright."""
        if sum(x is not None for x in (slug, path, url)) != 1:
            raise InvalidInput("give exactly one of project, path, url", field="body")
        source = url
        if source is None:
            folder = Path((await self.projects.get(slug)).path) if slug else Path(path or "")
            if not folder.is_absolute() or not folder.is_dir():
                raise InvalidInput(f"path: {folder} is not a folder", field="path")
            try:
                source = await asyncio.to_thread(remote.origin_url, folder)
            except Exception:
                raise InvalidInput(
                    f"path: {folder} is not a git repository", field="path"
                ) from None
            if source is None:
                raise NotFound(f"{folder} has no `origin` remote")
        found = gh.parse_remote(source)
        config = await self.app_config()
        from urllib.parse import urlsplit

        return {
            "owner": found.owner,
            "repo": found.repo,
            "full_name": found.full_name,
            "host": found.host,
            "matches_github": found.host == (urlsplit(config.web_url).hostname or "").lower(),
            "url": redact_url(source),
        }

    async def link(self, slug: str, owner: str | None, repo: str | None) -> Project:
        """Link the project to ``owner/repo`` (default: its ``origin``), which the installation
        must be able to see."""
        project = await self.projects.get(slug)
        elsewhere = None
        if owner is None and repo is None:
            owner, repo, elsewhere = await self._origin_repo(slug)
        if owner is None or repo is None:
            raise InvalidInput("give both owner and repo, or neither to use origin", field="repo")
        owner, repo = gh.check_repo_name(owner, repo)
        client, token = await self.api()
        try:
            info = await client.get(f"/repos/{owner}/{repo}", token)
        except GitHubError as exc:
            if exc.status == 404 and elsewhere:
                raise InvalidInput(elsewhere) from None
            if exc.status == 404:
                raise InvalidInput(
                    f"repository: the App's installation cannot see {owner}/{repo}; add it to"
                    " the installation on GitHub",
                    field="repository",
                ) from None
            raise unavailable(exc, f"read {owner}/{repo}") from None
        owner = str((info.get("owner") or {}).get("login") or owner)
        repo = str(info.get("name") or repo)
        return await self._set_link(project, owner, repo)

    async def _origin_repo(self, slug: str) -> tuple[str, str, str | None]:
        """OWNER/REPO of the project's ``origin``, and what to say if GitHub does not know it
        because the remote is on another host (an ssh alias for GitHub still works). Without a
        usable ``origin`` the error says to name the repository: the one next command."""
        by_name = "name the GitHub repository: `codality github link OWNER/REPO`"
        try:
            found = await self.detect_remote(slug, None, None)
        except NotFound:
            raise InvalidInput(f"the project has no `origin` remote; {by_name}") from None
        except InvalidInput:
            raise InvalidInput(
                f"the project's `origin` does not name a GitHub repository; {by_name}"
            ) from None
        return (
            str(found["owner"]),
            str(found["repo"]),
            None
            if found["matches_github"]
            else (f"the project's `origin` is on {found['host']}, not GitHub; {by_name}"),
        )

    async def unlink(self, slug: str) -> Project:
        """Remove the link; protected mode goes off with it (it needs the link)."""
        project = await self.projects.get(slug)
        return await self._set_link(project, None, None)

    async def _set_link(self, project: Project, owner: str | None, repo: str | None) -> Project:
        fields: dict[str, object] = {"github_owner": owner, "github_repo": repo}
        if owner is None:
            fields["protected_main"] = False
        async with self.db.transaction() as conn:
            updated = await db_projects.update_project(conn, project.id, now_iso(), **fields)
        if updated is None:
            raise NotFound(f"no project with slug {project.slug!r}")
        return updated

    async def project_for_repo(self, full_name: str) -> Project | None:
        """The project linked to ``owner/repo`` (names compare case-insensitively)."""
        owner, _, repo = full_name.partition("/")
        return await db_projects.project_by_github(self.db.reader, owner, repo)


@dataclass(frozen=True)
class _Pending:
    """A manifest flow under way: until when its state is good, and what the browser posts."""

    expires: float
    post_url: str
    manifest: dict[str, Any]


def repo_view(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data.get("id"),
        "full_name": data.get("full_name"),
        "owner": (data.get("owner") or {}).get("login"),
        "name": data.get("name"),
        "private": bool(data.get("private")),
        "default_branch": data.get("default_branch"),
        "url": data.get("html_url"),
        "clone_url": data.get("clone_url"),
        "description": data.get("description") or "",
    }
