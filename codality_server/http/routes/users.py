"""User management (admin only): list, invite, change role, remove."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codality_server.domain.users import Role
from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok, no_content
from ..route import Route
from ..schema import Body
from ..validation import parse_body, path_int


class UserInvite(Body):
    email: str
    name: str | None = None
    role: Role = Field(default=Role.MEMBER, strict=False)


class RoleChange(Body):
    role: Role = Field(strict=False)


async def list_users(request: web.Request) -> web.Response:
    users = await request.app[SERVICES].users.list()
    return json_ok([user.view() for user in users])


async def invite_user(request: web.Request) -> web.Response:
    body = await parse_body(request, UserInvite)
    user = await request.app[SERVICES].users.invite(body.email, body.name, body.role)
    return json_created(user.view())


async def change_role(request: web.Request) -> web.Response:
    body = await parse_body(request, RoleChange)
    users = request.app[SERVICES].users
    user = await users.set_role(request[USER], path_int(request, "id"), body.role)
    return json_ok(user.view())


async def remove_user(request: web.Request) -> web.Response:
    await request.app[SERVICES].users.remove(request[USER], path_int(request, "id"))
    return no_content()


ROUTES = [
    Route("GET", "/api/users", list_users, "Every user", "admin"),
    Route("POST", "/api/users", invite_user, "Invite a user", "admin", UserInvite),
    Route(
        "PATCH", "/api/users/{id}/role", change_role, "Change a user's role", "admin", RoleChange
    ),
    Route("DELETE", "/api/users/{id}", remove_user, "Remove a user", "admin"),
]
