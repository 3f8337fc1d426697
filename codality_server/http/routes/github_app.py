"""The GitHub App: the manifest flow, installation, status, repositories and project links."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codality_server.http.keys import SERVICES, USER

from ..middlewares import session_user
from ..responses import json_created, json_ok
from ..route import Route
from ..schema import Body, Query
from ..validation import parse_body, parse_query
from ..views import array_of, ref

Name = Field(default=None, min_length=1, max_length=100)


class ManifestRequest(Body):
    organization: str | None = Field(default=None, min_length=1, max_length=39)
    name: str | None = Name


class StateQuery(Query):
    state: str = Field(min_length=1, max_length=200)


class CallbackQuery(StateQuery):
    code: str = Field(min_length=1, max_length=200)


class SetupQuery(Query):
    installation_id: str = Field(min_length=1, max_length=30)
    setup_action: str | None = Field(default=None, max_length=30)
    state: str | None = Field(default=None, max_length=200)


class RepoCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    private: bool = True
    description: str = Field(default="", max_length=350)
    organization: str | None = Field(default=None, min_length=1, max_length=39)


class DetectRemote(Body):
    project: str | None = Field(default=None, min_length=1, max_length=100)
    path: str | None = Field(default=None, min_length=1, max_length=4096)
    url: str | None = Field(default=None, min_length=1, max_length=4096)


class LinkRequest(Body):
    owner: str | None = Field(default=None, min_length=1, max_length=39)
    repo: str | None = Field(default=None, min_length=1, max_length=100)


class EventsQuery(Query):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=2**62)


def _server_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def manifest(request: web.Request) -> web.Response:
    body = await parse_body(request, ManifestRequest)
    started = await request.app[SERVICES].github.start_manifest(
        _server_url(request), body.organization, body.name
    )
    return json_created(started)


async def manifest_form(request: web.Request) -> web.Response:
    query = parse_query(request, StateQuery)
    page = request.app[SERVICES].github.manifest_form(query.state)
    return web.Response(
        text=page,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


async def callback(request: web.Request) -> web.StreamResponse:
    query = parse_query(request, CallbackQuery)
    install_url = await request.app[SERVICES].github.finish_manifest(query.code, query.state)
    raise web.HTTPFound(install_url)


async def setup(request: web.Request) -> web.Response:
    """GitHub's redirect after an installation: public, since the browser that follows it has no
    session; the service wants the install link's state or an admin's session."""
    query = parse_query(request, SetupQuery)
    user = await session_user(request)
    return json_ok(
        await request.app[SERVICES].github.record_installation(
            query.installation_id, query.state, user is not None and user.is_admin
        )
    )


async def status(request: web.Request) -> web.Response:
    github = request.app[SERVICES].github
    return json_ok(await github.status(_server_url(request), request[USER].is_admin))


async def list_repos(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].github.repos())


async def create_repo(request: web.Request) -> web.Response:
    body = await parse_body(request, RepoCreate)
    created = await request.app[SERVICES].github.create_repo(
        body.name, body.private, body.description, body.organization
    )
    return json_created(created)


async def detect_remote(request: web.Request) -> web.Response:
    body = await parse_body(request, DetectRemote)
    found = await request.app[SERVICES].github.detect_remote(body.project, body.path, body.url)
    return json_ok(found)


async def link(request: web.Request) -> web.Response:
    body = await parse_body(request, LinkRequest)
    project = await request.app[SERVICES].github.link(
        request.match_info["slug"], body.owner, body.repo
    )
    return json_ok(project.view())


async def unlink(request: web.Request) -> web.Response:
    await parse_body(request, Body)
    project = await request.app[SERVICES].github.unlink(request.match_info["slug"])
    return json_ok(project.view())


async def events(request: web.Request) -> web.Response:
    query = parse_query(request, EventsQuery)
    found = await request.app[SERVICES].webhooks.events(None, query.limit, query.offset)
    return json_ok(found)


async def project_events(request: web.Request) -> web.Response:
    query = parse_query(request, EventsQuery)
    found = await request.app[SERVICES].webhooks.events(
        request.match_info["slug"], query.limit, query.offset
    )
    return json_ok(found)


_APP = "/api/github/app"
ROUTES = [
    Route(
        "POST",
        f"{_APP}/manifest",
        manifest,
        "Generate GitHub App manifest + redirect URL",
        "admin",
        body=ManifestRequest,
        tag="github",
        status=201,
        returns=ref("ManifestStarted"),
    ),
    Route(
        "GET",
        f"{_APP}/manifest/form",
        manifest_form,
        "A page that posts the manifest to GitHub (needs a live state)",
        "public",
        query=StateQuery,
        tag="github",
        media_types=("text/html",),
    ),
    Route(
        "GET",
        f"{_APP}/callback",
        callback,
        "Exchange manifest code for App credentials (public)",
        "public",
        query=CallbackQuery,
        tag="github",
        status=302,
    ),
    Route(
        "GET",
        f"{_APP}/setup",
        setup,
        "Post-installation redirect (public)",
        "public",
        query=SetupQuery,
        tag="github",
        returns=ref("Installed"),
    ),
    Route(
        "GET",
        f"{_APP}/status",
        status,
        "Connection health check",
        tag="github",
        returns=ref("GithubStatus"),
    ),
    Route(
        "GET",
        f"{_APP}/repos",
        list_repos,
        "List installation repositories",
        tag="github",
        returns=array_of("Repository"),
    ),
    Route(
        "POST",
        f"{_APP}/repos",
        create_repo,
        "Create a new repository via App",
        "admin",
        body=RepoCreate,
        tag="github",
        status=201,
        returns=ref("Repository"),
    ),
    Route(
        "POST",
        "/api/github/detect-remote",
        detect_remote,
        "Auto-detect GitHub owner/repo from git remote",
        body=DetectRemote,
        tag="github",
        returns=ref("Remote"),
    ),
    Route(
        "GET",
        "/api/github/webhooks/events",
        events,
        "List recent webhook events",
        query=EventsQuery,
        tag="github",
        returns=array_of("WebhookDelivery"),
    ),
    Route(
        "GET",
        "/api/projects/{slug}/github/webhooks/events",
        project_events,
        "List the project's recent webhook events",
        query=EventsQuery,
        tag="github",
        returns=array_of("WebhookDelivery"),
    ),
    Route(
        "POST",
        "/api/projects/{slug}/github/link",
        link,
        "Link project to GitHub repo",
        body=LinkRequest,
        tag="github",
        returns=ref("Project"),
    ),
    Route(
        "POST",
        "/api/projects/{slug}/github/unlink",
        unlink,
        "Remove GitHub link",
        tag="github",
        returns=ref("Project"),
    ),
]
