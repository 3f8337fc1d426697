"""The signed-in user's own profile: display name, git identity and SSH key (product.md §2).

The SSH key pair lives in ``<data>/keys/user-{id}_ed25519`` (private, 0600, OpenSSH format) and
``….pub``; the private half is for the server's own git pushes and never leaves the data dir.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codality_server.db import users as db_users
from codality_server.domain.errors import InvalidInput, NotFound
from codality_server.domain.users import User
from codality_server.secrets_store import write_private

from .auth import normalise_email
from .base import Core, Service, now_iso

NAME_MAX_CHARS = 100


def clean_name(name: str, field: str) -> str:
    """A display or git name: trimmed, 1–100 printable characters, no ``<``/``>`` (git's ident
    delimiters, which would corrupt a commit's author line)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX_CHARS:
        raise InvalidInput(f"{field}: must be 1 to {NAME_MAX_CHARS} characters", field=field)
    if any(ch in "<>" or unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(f"{field}: must not contain <, > or control characters", field=field)
    return name


def clean_email(email: str) -> str:
    """An e-mail address as stored: normalised, no control characters or ident delimiters."""
    if any(ch in "<>" or unicodedata.category(ch).startswith("C") for ch in email):
        raise InvalidInput(f"email: {email!r} is not an e-mail address", field="email")
    return normalise_email(email)


def fingerprint(public_line: str) -> str:
    """``SHA256:…`` as ``ssh-keygen -l`` prints it: unpadded base64 of the key blob's hash."""
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _generate_pair(private_path: Path, public_path: Path, comment: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    write_private(private_path, private)
    write_private(public_path, f"{public} {comment}\n")
    os.chmod(public_path, 0o644)


def _describe_key(public_path: Path) -> dict[str, Any] | None:
    try:
        line = public_path.read_text("utf-8").strip()
        written = public_path.stat().st_mtime
    except FileNotFoundError:
        return None
    created = datetime.fromtimestamp(written, UTC).isoformat(timespec="milliseconds")
    return {
        "public_key": line,
        "fingerprint": fingerprint(line),
        "created_at": created.replace("+00:00", "Z"),
    }


class ProfileService(Service):
    """Changes a user makes to their own account."""

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._key_lock = asyncio.Lock()

    async def _update(self, user: User, **fields: str | None) -> User:
        async with self.db.transaction() as conn:
            updated = await db_users.update_user(conn, user.id, now_iso(), **fields)
        if updated is None:
            raise NotFound("this user no longer exists")
        return updated

    async def rename(self, user: User, name: str) -> User:
        return await self._update(user, name=clean_name(name, "name"))

    async def set_git_identity(self, user: User, name: str | None, email: str | None) -> User:
        """Set the name and e-mail used for this user's commits; empty or null resets either to
        the default (display name, account e-mail)."""
        git_name = clean_name(name, "name") if name and name.strip() else None
        git_email = clean_email(email) if email and email.strip() else None
        return await self._update(user, git_name=git_name, git_email=git_email)

    # --- SSH key ---------------------------------------------------------------------------------

    def ssh_key_path(self, user_id: int) -> Path:
        """The private half of the user's key pair (for ``GIT_SSH_COMMAND``); may not exist yet."""
        return self.config.keys_dir / f"user-{user_id}_ed25519"

    def _public_path(self, user_id: int) -> Path:
        return self.ssh_key_path(user_id).with_name(f"user-{user_id}_ed25519.pub")

    async def ssh_key(self, user: User) -> dict[str, Any]:
        """The public key, its fingerprint and when it was made; NotFound before the first one."""
        found = await asyncio.to_thread(_describe_key, self._public_path(user.id))
        if found is None:
            raise NotFound("no SSH key yet; generate one with POST /api/me/ssh-key")
        return found

    async def generate_ssh_key(self, user: User) -> dict[str, Any]:
        """A new ED25519 pair replacing any earlier one; the comment is the user's e-mail."""
        public = self._public_path(user.id)
        comment = "".join(user.email.split())
        async with self._key_lock:
            await asyncio.to_thread(_generate_pair, self.ssh_key_path(user.id), public, comment)
        return await self.ssh_key(user)

    def forget_ssh_key(self, user_id: int) -> None:
        """Delete a removed user's key pair, so a later user who gets the same id can't use it."""
        self.ssh_key_path(user_id).unlink(missing_ok=True)
        self._public_path(user_id).unlink(missing_ok=True)
