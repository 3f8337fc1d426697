"""The signed-in user's profile: display name, git identity, SSH key."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok
from ..route import Route
from ..schema import Blank, Body, DisplayName, Email, stated
from ..validation import parse_body
from ..views import ref


class ProfileChange(Body):
    name: DisplayName


class GitIdentity(Body):
    name: str | None = Field(
        None,
        description="blank or null: the display name",
        json_schema_extra=stated(DisplayName, Blank, None),
    )
    email: str | None = Field(
        None,
        description="blank or null: the account's e-mail",
        json_schema_extra=stated(Email, Blank, None),
    )


async def update_profile(request: web.Request) -> web.Response:
    body = await parse_body(request, ProfileChange)
    user = await request.app[SERVICES].profile.rename(request[USER], body.name)
    return json_ok(user.view())


async def update_git_identity(request: web.Request) -> web.Response:
    body = await parse_body(request, GitIdentity)
    profile = request.app[SERVICES].profile
    user = await profile.set_git_identity(request[USER], body.name, body.email)
    return json_ok(user.view())


async def get_ssh_key(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].profile.ssh_key(request[USER]))


async def generate_ssh_key(request: web.Request) -> web.Response:
    return json_created(await request.app[SERVICES].profile.generate_ssh_key(request[USER]))


ROUTES = [
    Route(
        "PUT",
        "/api/me/profile",
        update_profile,
        "Change your display name",
        body=ProfileChange,
        returns=ref("User"),
    ),
    Route(
        "PUT",
        "/api/me/git-identity",
        update_git_identity,
        "Set the name and e-mail of your commits; null or empty resets to the defaults",
        body=GitIdentity,
        returns=ref("User"),
    ),
    Route(
        "GET",
        "/api/me/ssh-key",
        get_ssh_key,
        "Your SSH public key and fingerprint",
        returns=ref("SshKey"),
    ),
    Route(
        "POST",
        "/api/me/ssh-key",
        generate_ssh_key,
        "Generate a new ED25519 key pair (the private half stays on the server)",
        status=201,
        returns=ref("SshKey"),
    ),
]
