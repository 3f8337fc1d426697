"""Projects and read-only views of their repositories (files, tree levels, raw blobs)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok
from ..route import Route
from ..schema import Body, Query
from ..validation import parse_body, parse_query
from ..views import array_of, ref

MAX_PATH = 4096


class ProjectCreate(Body):
    mode: Literal["existing", "clone", "new"]
    name: str | None = Field(default=None, max_length=1000)
    path: str | None = Field(default=None, max_length=MAX_PATH)
    url: str | None = Field(default=None, max_length=MAX_PATH)
    init: bool = False


class ProjectUpdate(Body):
    name: str | None = Field(default=None, max_length=1000)
    default_branch: str | None = Field(default=None, max_length=255)
    protected_main: bool | None = None


class RefQuery(Query):
    ref: str | None = Field(default=None, max_length=255)


class FilesQuery(RefQuery):
    glob: str | None = Field(default=None, max_length=MAX_PATH)


class BrowseQuery(RefQuery):
    path: str = Field(default="", max_length=MAX_PATH)


async def list_projects(request: web.Request) -> web.Response:
    projects = await request.app[SERVICES].projects.list()
    return json_ok([project.view() for project in projects])


async def create_project(request: web.Request) -> web.Response:
    body = await parse_body(request, ProjectCreate)
    project = await request.app[SERVICES].projects.create(
        request[USER], body.mode, name=body.name, path=body.path, url=body.url, init=body.init
    )
    return json_created(project.view())


async def get_project(request: web.Request) -> web.Response:
    project = await request.app[SERVICES].projects.get(request.match_info["slug"])
    return json_ok(project.view())


async def update_project(request: web.Request) -> web.Response:
    body = await parse_body(request, ProjectUpdate)
    project = await request.app[SERVICES].projects.update(
        request.match_info["slug"],
        name=body.name,
        default_branch=body.default_branch,
        protected_main=body.protected_main,
    )
    return json_ok(project.view())


async def list_files(request: web.Request) -> web.Response:
    query = parse_query(request, FilesQuery)
    listing = await request.app[SERVICES].projects.files(
        request.match_info["slug"], query.ref, query.glob
    )
    return json_ok(listing)


async def browse(request: web.Request) -> web.Response:
    query = parse_query(request, BrowseQuery)
    level = await request.app[SERVICES].projects.browse(
        request.match_info["slug"], query.path, query.ref
    )
    return json_ok(level)


async def blob(request: web.Request) -> web.Response:
    """Raw bytes; ``nosniff`` so a browser never renders repository content as HTML."""
    query = parse_query(request, RefQuery)
    content = await request.app[SERVICES].projects.blob(
        request.match_info["slug"], request.match_info["path"], query.ref
    )
    binary = content.is_binary
    return web.Response(
        body=content.data,
        content_type="application/octet-stream" if binary else "text/plain",
        charset=None if binary else "utf-8",
        headers={
            "X-Codality-Binary": "1" if binary else "0",
            "X-Codality-Commit": content.commit,
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES = [
    Route("GET", "/api/projects", list_projects, "List all projects", returns=array_of("Project")),
    Route(
        "POST",
        "/api/projects",
        create_project,
        "Create a project",
        body=ProjectCreate,
        status=201,
        returns=ref("Project"),
    ),
    Route(
        "GET", "/api/projects/{slug}", get_project, "Get project details", returns=ref("Project")
    ),
    Route(
        "PUT",
        "/api/projects/{slug}",
        update_project,
        "Update project",
        body=ProjectUpdate,
        returns=ref("Project"),
    ),
    Route(
        "GET",
        "/api/projects/{slug}/files",
        list_files,
        "List project files",
        query=FilesQuery,
        returns=ref("FileList"),
    ),
    Route(
        "GET",
        "/api/projects/{slug}/browse",
        browse,
        "Browse repository tree",
        query=BrowseQuery,
        returns=ref("Listing"),
    ),
    Route(
        "GET",
        "/api/projects/{slug}/blob/{path:.*}",
        blob,
        "Get file contents (text as text/plain, anything else as bytes)",
        query=RefQuery,
        media_types=("text/plain", "application/octet-stream"),
    ),
]
