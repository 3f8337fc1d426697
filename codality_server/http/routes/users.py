"""User management (admin only): list, invite, change role, remove; and ``/api/people``, the
names and e-mails everyone may read, so members can assign tickets to people by name."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codality_server.domain.users import Role
from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok, no_content
from ..route import Route
from ..schema import Blank, Body, DisplayName, Email, stated
from ..validation import parse_body, path_int
from ..views import array_of, ref


class UserInvite(Body):
    email: Email
    name: str | None = Field(
        None,
        description="blank or null: from the e-mail",
        json_schema_extra=stated(DisplayName, Blank, None),
    )
    role: Role = Field(default=Role.MEMBER, strict=False)


class RoleChange(Body):
    role: Role = Field(strict=False)


async def list_users(request: web.Request) -> web.Response:
    users = await request.app[SERVICES].users.list()
    return json_ok([user.view() for user in users])


async def list_people(request: web.Request) -> web.Response:
    users = await request.app[SERVICES].users.list()
    return json_ok([user.person() for user in users])


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
    Route(
        "GET",
        "/api/people",
        list_people,
        "Everyone who can sign in: id, name and e-mail (ext; any signed-in user)",
        returns=array_of("Person"),
    ),
    Route("GET", "/api/users", list_users, "Every user", "admin", returns=array_of("User")),
    Route(
        "POST",
        "/api/users",
        invite_user,
        "Invite a user",
        "admin",
        UserInvite,
        status=201,
        returns=ref("User"),
    ),
    Route(
        "PATCH",
        "/api/users/{id}/role",
        change_role,
        "Change a user's role",
        "admin",
        RoleChange,
        returns=ref("User"),
    ),
    Route("DELETE", "/api/users/{id}", remove_user, "Remove a user", "admin", status=204),
]
