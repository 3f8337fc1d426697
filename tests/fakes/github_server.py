"""A fake GitHub for tests: a real HTTP API, real git over smart HTTP, real signed webhooks.

Two aiohttp servers on loopback ports, like github.com and api.github.com:

* ``api_url`` — the REST subset Codality uses: manifest conversion, the App (RS256 JWTs checked
  against the App's public key), installation tokens (issued, expiring, checked on every call),
  repositories, pulls (listed by state, head and base; head and base must be branches, and an
  open one's base can change), merges (refused like GitHub: not mergeable, head moved, required
  checks),
  reviews, issue and review comments, check runs and their annotations.
* ``web_url`` — the browser steps of the manifest flow and the installation, and git's smart
  HTTP served by the real ``git http-backend`` (pushes and fetches need an installation token as
  the Basic password).

State changes send webhooks to the App's hook URL, signed with its secret, one at a time in order
(``wait_deliveries`` waits for them). Test-side helpers play the humans and the CI: ``ci``,
``comment``, ``review``, ``merge_pull``, ``close_pull``, ``push_commit``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

from aiohttp import ClientSession, web

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CI_APP = {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _git(cwd: Path, *args: str, input: bytes | None = None, check: bool = True) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    result = subprocess.run(
        ["git", *args], cwd=cwd, input=input, capture_output=True, env=env, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout.decode().strip()


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"message": message, "documentation_url": "https://docs.github.com/rest"}, status=status
    )


def _invalid(field_name: str) -> web.Response:
    """GitHub's 422 for a pull request naming a branch the repository does not have."""
    return web.json_response(
        {
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "field": field_name, "code": "invalid"}],
        },
        status=422,
    )


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: str
    client_id: str
    client_secret: str
    webhook_secret: str
    pem: str
    public_pem: str
    hook_url: str
    redirect_url: str
    setup_url: str
    manifest: dict[str, Any]

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "owner": {"login": self.owner, "type": "User"},
            "permissions": self.manifest.get("default_permissions", {}),
            "events": self.manifest.get("default_events", []),
        }


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    account_type: str = "User"


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    path: Path
    default_branch: str = "main"
    private: bool = True
    #: Logins with write access besides the owner (GitHub's COLLABORATOR association).
    collaborators: set[str] = field(default_factory=set)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    head_sha: str
    base: str
    author: str
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    created_at: str = field(default_factory=_now)
    closed_at: str | None = None


@dataclass
class CheckRun:
    id: int
    repo: str
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    app: dict[str, Any]
    title: str = ""
    summary: str = ""
    text: str = ""
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Delivery:
    id: str
    event: str
    payload: dict[str, Any]
    body: bytes
    signature: str
    status: int | None = None
    answer: str = ""


class FakeGitHub:
    """Both servers, with their state, on one event loop in a daemon thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.api_url = ""
        self.web_url = ""
        self.token_lifetime_s = 3600
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, tuple[int, float]] = {}
        self.issued_tokens: list[str] = []
        self.repos: dict[str, Repo] = {}
        self.pulls: dict[str, dict[int, Pull]] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.comments: dict[str, dict[int, list[dict[str, Any]]]] = {}
        self.reviews: dict[str, dict[int, list[dict[str, Any]]]] = {}
        self.review_comments: dict[str, dict[int, list[dict[str, Any]]]] = {}
        self.required_checks: dict[str, list[str]] = {}
        self.deliveries: list[Delivery] = []
        self.calls: list[tuple[str, str]] = []
        self._codes: dict[str, App] = {}
        self._ids = itertools.count(1000)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []
        self._outbox: asyncio.Queue[Delivery] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._session: ClientSession | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        self.run(self._serve())
        return self

    def stop(self) -> None:
        async def down() -> None:
            if self._sender is not None:
                self._sender.cancel()
            if self._session is not None:
                await self._session.close()
            for runner in self._runners:
                await runner.cleanup()

        self.run(down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the fake's loop from the test's thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)  # type: ignore[arg-type]

    async def _serve(self) -> None:
        api = web.Application(middlewares=[self._record])
        api.router.add_routes(self._api_routes())
        web_app = web.Application(client_max_size=64 * 1024 * 1024)
        web_app.router.add_routes(self._web_routes())
        urls = []
        for app in (api, web_app):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            urls.append(f"http://127.0.0.1:{port}")
            self._runners.append(runner)
        self.api_url, self.web_url = urls
        self._outbox = asyncio.Queue()
        self._session = ClientSession()
        self._sender = asyncio.create_task(self._send_loop())

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        return await handler(request)

    # --- auth -----------------------------------------------------------------------------

    def _jwt_app(self, request: web.Request) -> App | None:
        import jwt

        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        try:
            claims = jwt.decode(value, options={"verify_signature": False})
            app = self.apps.get(int(claims["iss"]))
            if app is None:
                return None
            jwt.decode(value, app.public_pem, algorithms=["RS256"], leeway=60)
        except Exception:
            return None
        return app

    def _token_installation(self, value: str) -> Installation | None:
        found = self.tokens.get(value)
        if found is None or found[1] < time.time():
            return None
        return self.installations.get(found[0])

    def _installation(self, request: web.Request) -> Installation | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        return self._token_installation(value.strip())

    def _repo_for(self, request: web.Request) -> tuple[Installation, Repo] | web.Response:
        installation = self._installation(request)
        if installation is None:
            return _error(401, "Bad credentials")
        full = f"{request.match_info['owner']}/{request.match_info['repo']}".lower()
        repo = self.repos.get(full)
        if repo is None or repo.owner.lower() != installation.account.lower():
            return _error(404, "Not Found")
        return installation, repo

    def _bot(self, installation: Installation) -> dict[str, Any]:
        app = self.apps[installation.app_id]
        return {"login": f"{app.slug}[bot]", "type": "Bot"}

    # --- REST routes ----------------------------------------------------------------------

    def _api_routes(self) -> list[web.RouteDef]:
        repo = "/repos/{owner}/{repo}"
        return [
            web.post("/app-manifests/{code}/conversions", self._conversion),
            web.get("/app", self._app),
            web.get("/app/installations/{id}", self._get_installation),
            web.post("/app/installations/{id}/access_tokens", self._access_token),
            web.get("/installation/repositories", self._installation_repos),
            web.post("/user/repos", self._create_repo),
            web.post("/orgs/{org}/repos", self._create_repo),
            web.get(repo, self._get_repo),
            web.get(f"{repo}/pulls", self._list_pulls),
            web.post(f"{repo}/pulls", self._create_pull),
            web.get(f"{repo}/pulls/{{number}}", self._get_pull),
            web.patch(f"{repo}/pulls/{{number}}", self._patch_pull),
            web.put(f"{repo}/pulls/{{number}}/merge", self._merge),
            web.get(f"{repo}/pulls/{{number}}/reviews", self._list_reviews),
            web.get(f"{repo}/pulls/{{number}}/comments", self._list_review_comments),
            web.get(f"{repo}/issues/{{number}}/comments", self._list_comments),
            web.post(f"{repo}/issues/{{number}}/comments", self._create_comment),
            web.post(f"{repo}/check-runs", self._create_check_run),
            web.patch(f"{repo}/check-runs/{{id}}", self._update_check_run),
            web.get(f"{repo}/check-runs/{{id}}/annotations", self._annotations),
            web.get(f"{repo}/commits/{{sha}}/check-runs", self._commit_check_runs),
        ]

    async def _conversion(self, request: web.Request) -> web.Response:
        app = self._codes.pop(request.match_info["code"], None)
        if app is None:
            return _error(404, "Not Found")
        return web.json_response(
            {
                **app.view(),
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "webhook_secret": app.webhook_secret,
                "pem": app.pem,
                "html_url": f"{self.web_url}/apps/{app.slug}",
            },
            status=201,
        )

    async def _app(self, request: web.Request) -> web.Response:
        app = self._jwt_app(request)
        if app is None:
            return _error(401, "A JSON web token could not be decoded")
        return web.json_response(app.view())

    async def _get_installation(self, request: web.Request) -> web.Response:
        app = self._jwt_app(request)
        if app is None:
            return _error(401, "A JSON web token could not be decoded")
        found = self.installations.get(int(request.match_info["id"]))
        if found is None or found.app_id != app.id:
            return _error(404, "Not Found")
        return web.json_response(self._installation_view(found))

    def _installation_view(self, installation: Installation) -> dict[str, Any]:
        return {
            "id": installation.id,
            "app_id": installation.app_id,
            "account": {"login": installation.account, "type": installation.account_type},
            "repository_selection": "all",
        }

    async def _access_token(self, request: web.Request) -> web.Response:
        app = self._jwt_app(request)
        if app is None:
            return _error(401, "A JSON web token could not be decoded")
        found = self.installations.get(int(request.match_info["id"]))
        if found is None or found.app_id != app.id:
            return _error(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        expires = time.time() + self.token_lifetime_s
        self.tokens[token] = (found.id, expires)
        self.issued_tokens.append(token)
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response({"token": token, "expires_at": stamp}, status=201)

    def repo_view(self, repo: Repo) -> dict[str, Any]:
        return {
            "id": repo.id,
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {"login": repo.owner, "type": "User"},
            "private": repo.private,
            "default_branch": repo.default_branch,
            "html_url": f"{self.web_url}/{repo.full_name}",
            "clone_url": f"{self.web_url}/{repo.full_name}.git",
            "description": "",
        }

    async def _installation_repos(self, request: web.Request) -> web.Response:
        installation = self._installation(request)
        if installation is None:
            return _error(401, "Bad credentials")
        found = [
            self.repo_view(r)
            for r in self.repos.values()
            if r.owner.lower() == installation.account.lower()
        ]
        return web.json_response({"total_count": len(found), "repositories": found})

    async def _create_repo(self, request: web.Request) -> web.Response:
        installation = self._installation(request)
        if installation is None:
            return _error(401, "Bad credentials")
        body = await request.json()
        owner = request.match_info.get("org") or installation.account
        if owner.lower() != installation.account.lower():
            return _error(404, "Not Found")
        if f"{owner}/{body['name']}".lower() in self.repos:
            return web.json_response(
                {
                    "message": "Repository creation failed.",
                    "errors": [
                        {
                            "resource": "Repository",
                            "code": "custom",
                            "field": "name",
                            "message": "name already exists on this account",
                        }
                    ],
                },
                status=422,
            )
        repo = self.create_repo(owner, body["name"], private=bool(body.get("private", True)))
        return web.json_response(self.repo_view(repo), status=201)

    async def _get_repo(self, request: web.Request) -> web.Response:
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response(self.repo_view(found[1]))

    def pull_view(self, repo: Repo, pull: Pull) -> dict[str, Any]:
        mergeable = None
        if pull.state == "open":
            mergeable = self._merge_tree(repo, pull.base, pull.head_sha) is not None
        return {
            "id": pull.number + 10_000,
            "number": pull.number,
            "html_url": f"{self.web_url}/{repo.full_name}/pull/{pull.number}",
            "state": pull.state,
            "title": pull.title,
            "body": pull.body,
            "draft": pull.draft,
            "user": {"login": pull.author},
            "author_association": self.association(repo, pull.author),
            "head": {"ref": pull.head, "sha": pull.head_sha, "repo": self.repo_view(repo)},
            "base": {
                "ref": pull.base,
                "sha": self._ref(repo, pull.base),
                "repo": self.repo_view(repo),
            },
            "merged": pull.merged,
            "merged_at": pull.closed_at if pull.merged else None,
            "merge_commit_sha": pull.merge_commit_sha,
            "mergeable": mergeable,
            "mergeable_state": "clean" if mergeable else ("dirty" if mergeable is False else None),
            "created_at": pull.created_at,
            "closed_at": pull.closed_at,
        }

    def _pull_for(self, request: web.Request) -> tuple[Installation, Repo, Pull] | web.Response:
        """The caller's installation, the repository and the pull request the path names, or
        the error GitHub answers (401, 404)."""
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        installation, repo = found
        try:
            number = int(request.match_info["number"])
        except ValueError:
            number = 0
        pull = self.pulls.get(repo.full_name.lower(), {}).get(number)
        if pull is None:
            return _error(404, "Not Found")
        return installation, repo, pull

    async def _list_pulls(self, request: web.Request) -> web.Response:
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        _, repo = found
        state = request.query.get("state", "open")
        head = request.query.get("head")
        base = request.query.get("base")
        pulls = [
            p
            for p in self.pulls.get(repo.full_name.lower(), {}).values()
            if (state == "all" or p.state == state)
            and (head is None or head == f"{repo.owner}:{p.head}")
            and (base is None or base == p.base)
        ]
        return web.json_response([self.pull_view(repo, p) for p in pulls])

    async def _create_pull(self, request: web.Request) -> web.Response:
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        installation, repo = found
        body = await request.json()
        head = str(body.get("head", "")).split(":")[-1]
        base = str(body.get("base") or "")
        sha = self._ref(repo, head)
        if sha is None:
            return _invalid("head")
        if self._ref(repo, base) is None:
            return _invalid("base")
        open_same = [
            p
            for p in self.pulls.get(repo.full_name.lower(), {}).values()
            if p.head == head and p.state == "open"
        ]
        if open_same:
            return web.json_response(
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {repo.owner}:{head}.",
                        }
                    ],
                },
                status=422,
            )
        pulls = self.pulls.setdefault(repo.full_name.lower(), {})
        pull = Pull(
            number=len(pulls) + 1,
            title=str(body.get("title") or head),
            body=str(body.get("body") or ""),
            head=head,
            head_sha=sha,
            base=base,
            author=self._bot(installation)["login"],
            draft=bool(body.get("draft")),
        )
        pulls[pull.number] = pull
        self._send(
            "pull_request",
            repo,
            {"action": "opened", "number": pull.number, "pull_request": self.pull_view(repo, pull)},
        )
        return web.json_response(self.pull_view(repo, pull), status=201)

    async def _get_pull(self, request: web.Request) -> web.Response:
        found = self._pull_for(request)
        if isinstance(found, web.Response):
            return found
        _, repo, pull = found
        return web.json_response(self.pull_view(repo, pull))

    async def _patch_pull(self, request: web.Request) -> web.Response:
        found = self._pull_for(request)
        if isinstance(found, web.Response):
            return found
        installation, repo, pull = found
        body = await request.json()
        if "base" in body:
            base = str(body["base"])
            if pull.state != "open":
                return _error(422, "Cannot change the base branch of a closed pull request.")
            if self._ref(repo, base) is None:
                return _invalid("base")
            changed, pull.base = pull.base, base
            if changed != base:
                self._send(
                    "pull_request",
                    repo,
                    {
                        "action": "edited",
                        "number": pull.number,
                        "changes": {"base": {"ref": {"from": changed}}},
                        "pull_request": self.pull_view(repo, pull),
                        "sender": self._bot(installation),
                    },
                )
        if "title" in body:
            pull.title = str(body["title"])
        if body.get("state") == "closed" and pull.state == "open":
            self._close(repo, pull, self._bot(installation)["login"])
        return web.json_response(self.pull_view(repo, pull))

    async def _merge(self, request: web.Request) -> web.Response:
        found = self._pull_for(request)
        if isinstance(found, web.Response):
            return found
        installation, repo, pull = found
        body = await request.json() if request.can_read_body else {}
        refused = self._refusal(repo, pull, body.get("sha"))
        if refused is not None:
            return _error(*refused)
        method = str(body.get("merge_method") or "merge")
        sha = self._do_merge(repo, pull, method, self._bot(installation)["login"])
        return web.json_response(
            {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
        )

    def _refusal(self, repo: Repo, pull: Pull, sha: str | None) -> tuple[int, str] | None:
        if pull.state != "open":
            return 405, "Pull Request is not mergeable"
        if sha and sha != pull.head_sha:
            return 409, "Head branch was modified. Review and try the merge again."
        for name in self.required_checks.get(repo.full_name.lower(), []):
            runs = [
                r
                for r in self.check_runs.values()
                if r.repo == repo.full_name.lower()
                and r.head_sha == pull.head_sha
                and r.name == name
            ]
            latest = max(runs, key=lambda r: r.id) if runs else None
            if latest is None or latest.status != "completed":
                return 405, f'Required status check "{name}" is expected.'
            if latest.conclusion != "success":
                return 405, f'Required status check "{name}" is failing.'
        if self._merge_tree(repo, pull.base, pull.head_sha) is None:
            return 405, "Pull Request is not mergeable"
        return None

    async def _list_reviews(self, request: web.Request) -> web.Response:
        return await self._list(request, self.reviews)

    async def _list_review_comments(self, request: web.Request) -> web.Response:
        return await self._list(request, self.review_comments)

    async def _list_comments(self, request: web.Request) -> web.Response:
        return await self._list(request, self.comments)

    async def _list(
        self, request: web.Request, store: dict[str, dict[int, list[dict[str, Any]]]]
    ) -> web.Response:
        found = self._pull_for(request)
        if isinstance(found, web.Response):
            return found
        _, repo, pull = found
        return web.json_response(store.get(repo.full_name.lower(), {}).get(pull.number, []))

    async def _create_comment(self, request: web.Request) -> web.Response:
        found = self._pull_for(request)
        if isinstance(found, web.Response):
            return found
        installation, repo, pull = found
        body = await request.json()
        comment = self._add_comment(repo, pull, self._bot(installation)["login"], body["body"])
        return web.json_response(comment, status=201)

    async def _create_check_run(self, request: web.Request) -> web.Response:
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        installation, repo = found
        body = await request.json()
        app = self.apps[installation.app_id]
        output = body.get("output") or {}
        run = self._add_check_run(
            repo,
            str(body["head_sha"]),
            str(body["name"]),
            str(body.get("status") or "queued"),
            body.get("conclusion"),
            {"id": app.id, "slug": app.slug, "name": app.name},
            str(output.get("title") or ""),
            str(output.get("summary") or ""),
            str(output.get("text") or ""),
            list(output.get("annotations") or []),
        )
        return web.json_response(self.check_run_view(run), status=201)

    async def _update_check_run(self, request: web.Request) -> web.Response:
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        run = self.check_runs.get(int(request.match_info["id"]))
        if run is None:
            return _error(404, "Not Found")
        body = await request.json()
        run.status = str(
            body.get("status") or ("completed" if body.get("conclusion") else run.status)
        )
        run.conclusion = body.get("conclusion", run.conclusion)
        self._send(
            "check_run",
            found[1],
            {
                "action": "completed" if run.status == "completed" else "created",
                "check_run": self.check_run_view(run),
            },
        )
        return web.json_response(self.check_run_view(run))

    async def _annotations(self, request: web.Request) -> web.Response:
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        run = self.check_runs.get(int(request.match_info["id"]))
        if run is None:
            return _error(404, "Not Found")
        return web.json_response(run.annotations)

    async def _commit_check_runs(self, request: web.Request) -> web.Response:
        found = self._repo_for(request)
        if isinstance(found, web.Response):
            return found
        sha = request.match_info["sha"]
        runs = [
            self.check_run_view(r)
            for r in self.check_runs.values()
            if r.repo == found[1].full_name.lower() and r.head_sha == sha
        ]
        return web.json_response({"total_count": len(runs), "check_runs": runs})

    def check_run_view(self, run: CheckRun) -> dict[str, Any]:
        repo = self.repos[run.repo]
        return {
            "id": run.id,
            "name": run.name,
            "head_sha": run.head_sha,
            "status": run.status,
            "conclusion": run.conclusion,
            "app": run.app,
            "details_url": f"{self.web_url}/{repo.full_name}/runs/{run.id}",
            "html_url": f"{self.web_url}/{repo.full_name}/runs/{run.id}",
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": run.text,
                "annotations_count": len(run.annotations),
            },
        }

    # --- the web host: browser steps and git ---------------------------------------------------

    def _web_routes(self) -> list[web.RouteDef]:
        return [
            web.post("/settings/apps/new", self._new_app),
            web.post("/organizations/{org}/settings/apps/new", self._new_app),
            web.get("/apps/{slug}/installations/new", self._install_page),
            web.route("*", "/{owner}/{repo}.git/{rest:.*}", self._git_http),
        ]

    async def _new_app(self, request: web.Request) -> web.StreamResponse:
        """GitHub's page that takes a posted manifest: the user confirms, the App exists."""
        form = await request.post()
        manifest = json.loads(str(form["manifest"]))
        owner = request.match_info.get("org") or request.query.get("as", "octocat")
        app = self.create_app(manifest, owner)
        code = secrets.token_hex(10)
        self._codes[code] = app
        query = urlencode({"code": code, "state": request.query.get("state", "")})
        raise web.HTTPFound(f"{manifest['redirect_url']}?{query}")

    async def _install_page(self, request: web.Request) -> web.StreamResponse:
        app = next((a for a in self.apps.values() if a.slug == request.match_info["slug"]), None)
        if app is None:
            return _error(404, "Not Found")
        installation = self.install(app.id, request.query.get("account", "acme"))
        back = {"installation_id": installation.id, "setup_action": "install"}
        if "state" in request.query:  # GitHub hands the install link's state to the setup URL
            back["state"] = request.query["state"]
        query = urlencode(back)
        raise web.HTTPFound(f"{app.setup_url}?{query}")

    async def _git_http(self, request: web.Request) -> web.StreamResponse:
        """Smart HTTP through the real ``git http-backend`` (CGI); pushes send webhooks."""
        repo = self.repos.get(f"{request.match_info['owner']}/{request.match_info['repo']}".lower())
        denied = web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="GitHub"'})
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return denied
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        installation = self._token_installation(password)
        if (
            installation is None
            or repo is None
            or repo.owner.lower() != installation.account.lower()
        ):
            return denied
        body = await request.read()
        pushing = request.match_info["rest"] == "git-receive-pack"
        before = self._refs(repo) if pushing else {}
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(self.root / "repos"),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.owner}/{repo.name}.git/{request.match_info['rest']}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user or "x-access-token",
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        if request.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        if not payload and b"\n\n" in out:
            head, _, payload = out.partition(b"\n\n")
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode().splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers[name.strip()] = value.strip()
        if pushing:
            self._after_push(repo, before, self._bot(installation))
        return web.Response(status=status, body=payload, headers=headers)

    # --- git in the bare repositories ----------------------------------------------------------

    def _refs(self, repo: Repo) -> dict[str, str]:
        out = _git(repo.path, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def _ref(self, repo: Repo, branch: str) -> str | None:
        return self._refs(repo).get(f"refs/heads/{branch}")

    def _merge_tree(self, repo: Repo, base: str, head_sha: str) -> str | None:
        """The merged tree, or None when the head does not merge cleanly into ``base``."""
        result = subprocess.run(
            ["git", "merge-tree", "--write-tree", f"refs/heads/{base}", head_sha],
            cwd=repo.path,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.split()[0] if result.returncode == 0 else None

    def _after_push(self, repo: Repo, before: dict[str, str], sender: dict[str, Any]) -> None:
        after = self._refs(repo)
        for ref in sorted(set(before) | set(after)):
            old, new = before.get(ref), after.get(ref)
            if old == new:
                continue
            self._send(
                "push",
                repo,
                {
                    "ref": ref,
                    "before": old or "0" * 40,
                    "after": new or "0" * 40,
                    "created": old is None,
                    "deleted": new is None,
                    "forced": True,
                    "pusher": {"name": sender["login"]},
                    "sender": sender,
                },
            )
            branch = ref.removeprefix("refs/heads/")
            for pull in self.pulls.get(repo.full_name.lower(), {}).values():
                if pull.state == "open" and pull.head == branch and new:
                    pull.head_sha = new
                    self._send(
                        "pull_request",
                        repo,
                        {
                            "action": "synchronize",
                            "number": pull.number,
                            "pull_request": self.pull_view(repo, pull),
                            "sender": sender,
                        },
                    )

    def _do_merge(self, repo: Repo, pull: Pull, method: str, by: str) -> str:
        tree = self._merge_tree(repo, pull.base, pull.head_sha)
        assert tree is not None
        base_sha = self._ref(repo, pull.base)
        assert base_sha is not None
        parents = ["-p", base_sha] + (
            [] if method in ("squash", "rebase") else ["-p", pull.head_sha]
        )
        message = f"{pull.title} (#{pull.number})"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": by,
            "GIT_AUTHOR_EMAIL": f"{by}@users.noreply",
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
        }
        sha = subprocess.run(
            ["git", "commit-tree", tree, *parents, "-m", message],
            cwd=repo.path,
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.strip()
        before = self._refs(repo)
        _git(repo.path, "update-ref", f"refs/heads/{pull.base}", sha, base_sha)
        pull.state, pull.merged, pull.merge_commit_sha, pull.closed_at = "closed", True, sha, _now()
        sender = {"login": by}
        self._send(
            "pull_request",
            repo,
            {
                "action": "closed",
                "number": pull.number,
                "pull_request": self.pull_view(repo, pull),
                "sender": sender,
            },
        )
        self._after_push(repo, before, sender)
        return sha

    def _close(self, repo: Repo, pull: Pull, by: str) -> None:
        pull.state, pull.closed_at = "closed", _now()
        self._send(
            "pull_request",
            repo,
            {
                "action": "closed",
                "number": pull.number,
                "pull_request": self.pull_view(repo, pull),
                "sender": {"login": by},
            },
        )

    # --- webhooks -------------------------------------------------------------------------

    def _send(self, event: str, repo: Repo | None, payload: dict[str, Any]) -> None:
        """Queue one delivery per App installed on the repository's account."""
        for installation in self.installations.values():
            if repo is not None and installation.account.lower() != repo.owner.lower():
                continue
            app = self.apps[installation.app_id]
            data = dict(payload)
            if repo is not None:
                data["repository"] = self.repo_view(repo)
            data["installation"] = {"id": installation.id}
            data.setdefault("sender", {"login": "octocat"})
            self.deliver(app, event, data)

    def deliver(
        self,
        app: App,
        event: str,
        payload: dict[str, Any],
        signature: str | None = None,
        delivery_id: str | None = None,
    ) -> Delivery:
        body = json.dumps(payload).encode()
        digest = hmac.new(app.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        delivery = Delivery(
            delivery_id or str(uuid.uuid4()),
            event,
            payload,
            body,
            f"sha256={digest}" if signature is None else signature,
        )
        self.deliveries.append(delivery)
        assert self._outbox is not None
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, delivery)
        return delivery

    async def _send_loop(self) -> None:
        assert self._outbox is not None and self._session is not None
        while True:
            delivery = await self._outbox.get()
            try:
                await self._post(delivery)
            finally:
                self._outbox.task_done()

    async def _post(self, delivery: Delivery) -> None:
        assert self._session is not None
        app = next(iter(self.apps.values()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fake",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.id,
        }
        if delivery.signature:
            headers["X-Hub-Signature-256"] = delivery.signature
        try:
            async with self._session.post(app.hook_url, data=delivery.body, headers=headers) as r:
                delivery.status, delivery.answer = r.status, await r.text()
        except Exception as exc:  # the server under test is down: GitHub logs and moves on
            delivery.status, delivery.answer = 0, repr(exc)

    def wait_deliveries(self) -> list[Delivery]:
        """Block until every queued webhook has been answered; returns all deliveries."""

        async def drained() -> None:
            assert self._outbox is not None
            await self._outbox.join()

        self.run(drained())
        return self.deliveries

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Send the same delivery again (same ``X-GitHub-Delivery``), like GitHub's button."""
        app = next(iter(self.apps.values()))
        return self.deliver(app, delivery.event, delivery.payload, delivery_id=delivery.id)

    # --- test-side set-up and actors (call from the test thread) -----------------------------

    def create_app(self, manifest: dict[str, Any], owner: str = "octocat") -> App:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        app_id = next(self._ids)
        name = str(manifest.get("name") or "app")
        app = App(
            id=app_id,
            slug=f"{name.lower().replace(' ', '-')}-{app_id}",
            name=name,
            owner=owner,
            client_id=f"Iv1.{secrets.token_hex(8)}",
            client_secret=secrets.token_hex(20),
            webhook_secret=secrets.token_hex(20),
            pem=pem,
            public_pem=public,
            hook_url=str((manifest.get("hook_attributes") or {}).get("url") or ""),
            redirect_url=str(manifest.get("redirect_url") or ""),
            setup_url=str(manifest.get("setup_url") or ""),
            manifest=manifest,
        )
        self.apps[app_id] = app
        return app

    def install(self, app_id: int, account: str) -> Installation:
        installation = Installation(next(self._ids), app_id, account)
        self.installations[installation.id] = installation
        return installation

    def create_repo(
        self,
        owner: str,
        name: str,
        source: Path | None = None,
        private: bool = True,
        collaborators: tuple[str, ...] = (),
    ) -> Repo:
        """A bare repository (a clone of ``source``, else one with a README on main); the
        ``collaborators`` have write access to it."""
        path = self.root / "repos" / owner / f"{name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            _git(self.root, "clone", "-q", "--bare", str(source), str(path))
        else:
            _git(self.root, "init", "-q", "--bare", "-b", "main", str(path))
            work = self.root / "seed" / f"{owner}-{name}"
            _git(self.root, "init", "-q", "-b", "main", str(work))
            (work / "README.md").write_text(f"# {name}\n")
            _git(work, "add", "-A")
            _git(work, "commit", "-q", "-m", "Initial commit")
            _git(work, "push", "-q", str(path), "main")
            shutil.rmtree(work)
        _git(path, "config", "http.receivepack", "true")
        repo = Repo(next(self._ids), owner, name, path, private=private)
        repo.collaborators = {login.lower() for login in collaborators}
        self.repos[repo.full_name.lower()] = repo
        return repo

    def association(self, repo: Repo, login: str) -> str:
        """``author_association`` as GitHub sends it with a comment, review or pull request:
        the repository's owner, a collaborator, an author of a merged pull request, of an
        unmerged one only, or nobody in particular."""
        if login.lower() == repo.owner.lower():
            return "OWNER"
        if login.lower() in repo.collaborators:
            return "COLLABORATOR"
        pulls = self.pulls.get(repo.full_name.lower(), {}).values()
        theirs = [pull for pull in pulls if pull.author.lower() == login.lower()]
        if any(pull.merged for pull in theirs):
            return "CONTRIBUTOR"
        return "FIRST_TIME_CONTRIBUTOR" if theirs else "NONE"

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name.lower()]

    def pull(self, full_name: str, number: int) -> Pull:
        return self.pulls[full_name.lower()][number]

    def _add_check_run(
        self,
        repo: Repo,
        sha: str,
        name: str,
        status: str,
        conclusion: str | None,
        app: dict[str, Any],
        title: str = "",
        summary: str = "",
        text: str = "",
        annotations: list[dict[str, Any]] | None = None,
    ) -> CheckRun:
        run = CheckRun(
            next(self._ids),
            repo.full_name.lower(),
            sha,
            name,
            status,
            conclusion,
            app,
            title,
            summary,
            text,
            annotations or [],
        )
        self.check_runs[run.id] = run
        self._send("check_run", repo, {"action": "created", "check_run": self.check_run_view(run)})
        if status == "completed":
            self._send(
                "check_run", repo, {"action": "completed", "check_run": self.check_run_view(run)}
            )
        return run

    def ci(
        self,
        full_name: str,
        sha: str,
        name: str,
        conclusion: str | None = None,
        summary: str = "",
        text: str = "",
        annotations: list[dict[str, Any]] | None = None,
    ) -> CheckRun:
        """The repository's CI reports a check run (``conclusion`` None: still running)."""

        async def add() -> CheckRun:
            return self._add_check_run(
                self.repo(full_name),
                sha,
                name,
                "completed" if conclusion else "in_progress",
                conclusion,
                dict(CI_APP),
                f"{name}: {conclusion or 'running'}",
                summary,
                text,
                annotations,
            )

        return self.run(add())

    def ci_finish(self, run: CheckRun, conclusion: str) -> None:
        async def finish() -> None:
            run.status, run.conclusion = "completed", conclusion
            repo = self.repos[run.repo]
            self._send(
                "check_run", repo, {"action": "completed", "check_run": self.check_run_view(run)}
            )

        self.run(finish())

    def _add_comment(self, repo: Repo, pull: Pull, login: str, body: str) -> dict[str, Any]:
        comment = {
            "id": next(self._ids),
            "body": body,
            "user": {"login": login},
            "author_association": self.association(repo, login),
            "created_at": _now(),
            "html_url": f"{self.web_url}/{repo.full_name}/pull/{pull.number}#comment",
        }
        self.comments.setdefault(repo.full_name.lower(), {}).setdefault(pull.number, []).append(
            comment
        )
        self._send(
            "issue_comment",
            repo,
            {
                "action": "created",
                "comment": comment,
                "issue": {"number": pull.number, "pull_request": {"url": "…"}},
                "sender": {"login": login},
            },
        )
        return comment

    def comment(self, full_name: str, number: int, login: str, body: str) -> dict[str, Any]:
        async def add() -> dict[str, Any]:
            repo = self.repo(full_name)
            return self._add_comment(repo, self.pull(full_name, number), login, body)

        return self.run(add())

    def bot_comments(self, full_name: str, number: int) -> list[str]:
        return [
            c["body"]
            for c in self.comments.get(full_name.lower(), {}).get(number, [])
            if c["user"]["login"].endswith("[bot]")
        ]

    def review(
        self,
        full_name: str,
        number: int,
        login: str,
        state: str,
        body: str = "",
        inline: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        async def add() -> dict[str, Any]:
            repo = self.repo(full_name)
            pull = self.pull(full_name, number)
            review = {
                "id": next(self._ids),
                "user": {"login": login},
                "author_association": self.association(repo, login),
                "body": body,
                "state": state.upper(),
                "submitted_at": _now(),
                "commit_id": pull.head_sha,
                "html_url": f"{self.web_url}/{repo.full_name}/pull/{number}#review",
            }
            self.reviews.setdefault(repo.full_name.lower(), {}).setdefault(number, []).append(
                review
            )
            for item in inline or []:
                self.review_comments.setdefault(repo.full_name.lower(), {}).setdefault(
                    number, []
                ).append(
                    {
                        "id": next(self._ids),
                        "user": {"login": login},
                        "author_association": self.association(repo, login),
                        "body": item["body"],
                        "path": item["path"],
                        "line": item["line"],
                        "created_at": _now(),
                        "pull_request_review_id": review["id"],
                    }
                )
            self._send(
                "pull_request_review",
                repo,
                {
                    "action": "submitted",
                    "review": review,
                    "pull_request": self.pull_view(repo, pull),
                    "sender": {"login": login},
                },
            )
            return review

        return self.run(add())

    def merge_pull(
        self, full_name: str, number: int, by: str = "octocat", method: str = "merge"
    ) -> str:
        """A person merges on GitHub."""

        async def merge() -> str:
            repo, pull = self.repo(full_name), self.pull(full_name, number)
            refused = self._refusal(repo, pull, None)
            assert refused is None, refused
            return self._do_merge(repo, pull, method, by)

        return self.run(merge())

    def close_pull(self, full_name: str, number: int, by: str = "octocat") -> None:
        async def close() -> None:
            self._close(self.repo(full_name), self.pull(full_name, number), by)

        self.run(close())

    def push_commit(
        self, full_name: str, branch: str, files: dict[str, str], message: str = "direct push"
    ) -> str:
        """Someone pushes a commit straight to ``branch``; returns its sha."""

        async def push() -> str:
            repo = self.repo(full_name)
            work = self.root / "work" / uuid.uuid4().hex
            _git(self.root, "clone", "-q", "-b", branch, str(repo.path), str(work))
            for name, text in files.items():
                target = work / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            _git(work, "add", "-A")
            _git(
                work,
                "-c",
                "user.name=Octo Cat",
                "-c",
                "user.email=octo@example.com",
                "commit",
                "-q",
                "-m",
                message,
            )
            before = self._refs(repo)
            _git(work, "push", "-q", "origin", branch)
            shutil.rmtree(work)
            self._after_push(repo, before, {"login": "octocat"})
            return self._refs(repo)[f"refs/heads/{branch}"]

        return self.run(push())

    def query(self, url: str) -> dict[str, list[str]]:
        return parse_qs(url.split("?", 1)[1] if "?" in url else "")
