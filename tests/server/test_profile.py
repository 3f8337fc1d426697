"""The signed-in user's profile: name, git identity, SSH key — over HTTP (product.md §2)."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, assert_error
from tests.server.accounts import member_client

SSH_KEYGEN = shutil.which("ssh-keygen")


async def test_rename(api: httpx.AsyncClient) -> None:
    renamed = await api.put("/api/me/profile", json={"name": "  Ada Lovelace "})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Ada Lovelace"
    me = (await api.get("/api/auth/me")).json()
    assert me["name"] == "Ada Lovelace"
    # the git identity defaults follow the display name
    assert me["git_identity"] == {"name": "Ada Lovelace", "email": "admin@example.com"}


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "   "}, {"name": None}, {"name": 3}, {"name": "x" * 101},
     {"name": "a\nb"}, {"name": "<x>"}, {"name": "A", "email": "a@b.c"}],
)  # fmt: skip
async def test_bad_names_are_400(api: httpx.AsyncClient, body: dict[str, Any]) -> None:
    error = assert_error(await api.put("/api/me/profile", json=body), 400, "invalid_input")
    assert error["field"] in ("name", "email")
    assert (await api.get("/api/auth/me")).json()["name"] == "Admin"


async def test_git_identity_set_and_reset(api: httpx.AsyncClient) -> None:
    default = {"name": "Admin", "email": "admin@example.com"}
    assert (await api.get("/api/auth/me")).json()["git_identity"] == default

    changed = await api.put(
        "/api/me/git-identity", json={"name": "Ada L.", "email": "ada@Work.Example"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["git_identity"] == {"name": "Ada L.", "email": "ada@work.example"}
    assert (await api.get("/api/auth/me")).json()["git_identity"]["name"] == "Ada L."

    only_email = await api.put("/api/me/git-identity", json={"name": "", "email": "a@b.example"})
    assert only_email.json()["git_identity"] == {"name": "Admin", "email": "a@b.example"}
    reset = await api.put("/api/me/git-identity", json={"name": None, "email": None})
    assert reset.json()["git_identity"] == default
    assert (await api.put("/api/me/git-identity", json={})).json()["git_identity"] == default


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"email": "a b@example.com"}, "email"),
        ({"email": "a@example.com>\nX"}, "email"),
        ({"name": "Eve <eve@evil>"}, "name"),
        ({"name": 5}, "name"),
        ({"user": "x"}, "user"),
    ],
)
async def test_bad_git_identities_are_400(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    error = assert_error(await api.put("/api/me/git-identity", json=body), 400)
    assert error["field"] == field
    assert (await api.get("/api/auth/me")).json()["git_identity"]["name"] == "Admin"


async def test_ssh_key_pair(server: RunningServer, api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/api/me/ssh-key"), 404, "not_found")

    made = await api.post("/api/me/ssh-key")
    assert made.status_code == 201, made.text
    key = made.json()
    assert set(key) == {"public_key", "fingerprint", "created_at"}
    assert re.fullmatch(
        r"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ admin@example\.com", key["public_key"]
    )
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", key["fingerprint"])
    assert (await api.get("/api/me/ssh-key")).json() == key

    admin_id = (await api.get("/api/auth/me")).json()["id"]
    private = server.data_dir / "keys" / f"user-{admin_id}_ed25519"
    public = private.with_name(private.name + ".pub")
    assert private.stat().st_mode & 0o777 == 0o600
    secret = private.read_text()
    assert secret.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert public.read_text().strip() == key["public_key"]
    body = secret.splitlines()[1]
    assert body not in made.text and body not in (await api.get("/api/me/ssh-key")).text

    if SSH_KEYGEN:
        listed = subprocess.run(
            [SSH_KEYGEN, "-l", "-f", str(public)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert listed[1] == key["fingerprint"] and listed[-1] == "(ED25519)"
        derived = subprocess.run(
            [SSH_KEYGEN, "-y", "-f", str(private)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert derived[:2] == key["public_key"].split()[:2]

    again = (await api.post("/api/me/ssh-key")).json()
    assert again["public_key"] != key["public_key"]
    assert again["fingerprint"] != key["fingerprint"]
    assert public.read_text().strip() == again["public_key"]


async def test_each_user_has_their_own_profile(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    admin_key = (await api.post("/api/me/ssh-key")).json()
    async with member_client(server, api, "dev@example.com") as member:
        assert_error(await member.get("/api/me/ssh-key"), 404)
        own = (await member.post("/api/me/ssh-key")).json()
        assert own["public_key"].endswith(" dev@example.com") and own != admin_key
        renamed = (await member.put("/api/me/profile", json={"name": "Dev"})).json()
        assert renamed["email"] == "dev@example.com" and renamed["role"] == "member"
    assert (await api.get("/api/me/ssh-key")).json() == admin_key
    assert (await api.get("/api/auth/me")).json()["name"] == "Admin"
    assert len(list((server.data_dir / "keys").iterdir())) == 4


async def test_profile_needs_a_session(anon: httpx.AsyncClient) -> None:
    for method, path in [
        ("PUT", "/api/me/profile"),
        ("PUT", "/api/me/git-identity"),
        ("GET", "/api/me/ssh-key"),
        ("POST", "/api/me/ssh-key"),
    ]:
        assert_error(await anon.request(method, path, json={"name": "x"}), 401, "unauthorized")
