"""User management by admins — over HTTP against the real server (product.md §2)."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import httpx
import pytest

from codality_server.domain.errors import Conflict
from codality_server.domain.users import Role
from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, assert_error, bearer_client
from tests.server.accounts import add_user, member_client, otp_token


async def test_invite_and_list_users(api: httpx.AsyncClient) -> None:
    me = (await api.get("/api/auth/me")).json()
    assert [u["email"] for u in (await api.get("/api/users")).json()] == [me["email"]]

    invited = await api.post("/api/users", json={"email": "Dev@Example.COM"})
    assert invited.status_code == 201, invited.text
    dev = invited.json()
    assert dev["email"] == "Dev@example.com"
    assert dev["role"] == "member" and dev["name"] == "Dev"
    assert dev["git_identity"] == {"name": "Dev", "email": "Dev@example.com"}
    lead = await add_user(api, "lead@example.com", role="admin")
    assert lead["role"] == "admin"
    named = (
        await api.post("/api/users", json={"email": "q@example.com", "name": " Quinn "})
    ).json()
    assert named["name"] == "Quinn"

    listed = (await api.get("/api/users")).json()
    assert [u["email"] for u in listed] == [
        me["email"], "Dev@example.com", "lead@example.com", "q@example.com",
    ]  # fmt: skip
    assert listed[1] == dev


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "dev@example.com"}, 409, None),
        ({"email": "DEV@EXAMPLE.com"}, 409, None),
        ({"email": "not-an-address"}, 400, "email"),
        ({"email": "a<b>@example.com"}, 400, "email"),
        ({"email": 7}, 400, "email"),
        ({}, 400, "email"),
        ({"email": "x@example.com", "role": "owner"}, 400, "role"),
        ({"email": "x@example.com", "name": "<script>"}, 400, "name"),
        ({"email": "x@example.com", "name": "x" * 101}, 400, "name"),
        ({"email": "x@example.com", "team": "a"}, 400, "team"),
    ],
)
async def test_bad_invites(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, field: str | None
) -> None:
    await add_user(api, "dev@example.com")
    error = assert_error(await api.post("/api/users", json=body), status)
    if field is not None:
        assert error["field"] == field
    else:
        assert error["code"] == "conflict" and "already exists" in error["message"]
    assert len((await api.get("/api/users")).json()) == 2


async def test_change_role_and_its_guards(server: RunningServer, api: httpx.AsyncClient) -> None:
    me = (await api.get("/api/auth/me")).json()
    dev = await add_user(api, "dev@example.com")
    dev_token = await otp_token(server, "dev@example.com")
    async with bearer_client(server.url, dev_token) as dev_client:
        assert_error(await dev_client.get("/api/users"), 403)
        promoted = await api.patch(f"/api/users/{dev['id']}/role", json={"role": "admin"})
        assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
        assert (await dev_client.get("/api/users")).status_code == 200

        own = assert_error(
            await api.patch(f"/api/users/{me['id']}/role", json={"role": "member"}), 403
        )
        assert "yourself" in own["message"]
        assert (
            await api.patch(f"/api/users/{me['id']}/role", json={"role": "admin"})
        ).status_code == 200

        demoted = await api.patch(f"/api/users/{dev['id']}/role", json={"role": "member"})
        assert demoted.json()["role"] == "member"
        assert_error(await dev_client.get("/api/users"), 403)

    assert_error(await api.patch("/api/users/999/role", json={"role": "admin"}), 404, "not_found")
    assert_error(await api.patch("/api/users/abc/role", json={"role": "admin"}), 400)
    assert_error(await api.patch(f"/api/users/{dev['id']}/role", json={"role": "root"}), 400)
    assert_error(await api.patch(f"/api/users/{dev['id']}/role", json={}), 400)


async def test_the_last_admin_stays(server: RunningServer, api: httpx.AsyncClient) -> None:
    admin = (await api.get("/api/auth/me")).json()
    await add_user(api, "dev@example.com")
    services = server.app[SERVICES]
    dev = server.call(services.auth.authenticate(await otp_token(server, "dev@example.com")))
    # Reachable only when the actor is not the admin in question: the service guards it anyway.
    with pytest.raises(Conflict, match="last admin"):
        server.call(services.users.set_role(dev, admin["id"], Role.MEMBER))
    with pytest.raises(Conflict, match="last admin"):
        server.call(services.users.remove(dev, admin["id"]))
    assert (await api.get("/api/auth/me")).json()["role"] == "admin"


async def test_two_admins_demoting_each_other_leave_one(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    me = (await api.get("/api/auth/me")).json()
    other = await add_user(api, "other@example.com", role="admin")
    async with bearer_client(
        server.url, await otp_token(server, "other@example.com")
    ) as other_client:
        results = await asyncio.gather(
            api.patch(f"/api/users/{other['id']}/role", json={"role": "member"}),
            other_client.patch(f"/api/users/{me['id']}/role", json={"role": "member"}),
        )
    statuses = sorted(r.status_code for r in results)
    assert statuses[0] == 200 and statuses[1] in (403, 409), [r.text for r in results]
    roles = [u["role"] for u in (await api.get("/api/users")).json()]
    assert roles.count("admin") == 1


async def test_removing_a_user_ends_sessions_and_keeps_their_work(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    me = (await api.get("/api/auth/me")).json()
    dev = await add_user(api, "dev@example.com")
    token = await otp_token(server, "dev@example.com")
    async with bearer_client(server.url, token) as dev_client:
        assert (await dev_client.post("/api/me/ssh-key")).status_code == 201
        key_files = sorted(p.name for p in (server.data_dir / "keys").iterdir())
        assert key_files == [f"user-{dev['id']}_ed25519", f"user-{dev['id']}_ed25519.pub"]
        with sqlite3.connect(server.data_dir / "codality.db") as db:
            db.execute(
                "INSERT INTO projects(id, slug, name, path, default_branch, created_at, updated_at)"
                " VALUES (1, 'p', 'P', '/nonexistent/p', 'main', 't', 't')"
            )
            db.execute(
                "INSERT INTO tickets(id, project_id, number, title, created_by, created_at,"
                " updated_at) VALUES (1, 1, 1, 'Fix it', ?, 't', 't')",
                (dev["id"],),
            )
            db.execute(
                "INSERT INTO comments(ticket_id, author_id, body, created_at)"
                " VALUES (1, ?, 'hi', 't')",
                (dev["id"],),
            )

        assert_error(await api.delete(f"/api/users/{me['id']}"), 403, "forbidden")
        removed = await api.delete(f"/api/users/{dev['id']}")
        assert removed.status_code == 204
        assert_error(await dev_client.get("/api/auth/me"), 401)

    assert [u["id"] for u in (await api.get("/api/users")).json()] == [me["id"]]
    with sqlite3.connect(server.data_dir / "codality.db") as db:
        assert db.execute("SELECT title, created_by FROM tickets").fetchall() == [("Fix it", None)]
        assert db.execute("SELECT body, author_id FROM comments").fetchall() == [("hi", None)]
        assert db.execute(
            "SELECT count(*) FROM auth_sessions WHERE user_id = ?", (dev["id"],)
        ).fetchone() == (0,)
    assert list((server.data_dir / "keys").iterdir()) == []
    assert_error(await api.delete(f"/api/users/{dev['id']}"), 404, "not_found")
    assert_error(await api.delete("/api/users/0"), 400)


async def test_members_get_403_on_user_management(
    server: RunningServer, api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    admin_id = (await api.get("/api/auth/me")).json()["id"]
    calls = [
        ("GET", "/api/users", None),
        ("POST", "/api/users", {"email": "x@example.com"}),
        ("PATCH", f"/api/users/{admin_id}/role", {"role": "member"}),
        ("DELETE", f"/api/users/{admin_id}", None),
    ]
    async with member_client(server, api) as member:
        for method, path, body in calls:
            assert_error(await member.request(method, path, json=body), 403, "forbidden")
            assert_error(await anon.request(method, path, json=body), 401, "unauthorized")
    users = (await api.get("/api/users")).json()
    assert [u["role"] for u in users] == ["admin", "member"]
