"""User management by admins (product.md §2): invite, change role, remove.

The lock-out guards are checked inside the write transaction, so two admins demoting each other at
the same moment can't leave the server without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codality_server.db import users as db_users
from codality_server.db.database import Connection
from codality_server.domain.errors import Conflict, Forbidden, NotFound
from codality_server.domain.users import Role, User

from .base import Core, Service, now_iso
from .profile import clean_email, clean_name

if TYPE_CHECKING:
    from .profile import ProfileService


class UserService(Service):
    """Admin-only use cases over the users table; the routes enforce the admin role."""

    def __init__(self, core: Core, *, profile: ProfileService) -> None:
        super().__init__(core)
        self.profile = profile

    async def list(self) -> list[User]:
        return await db_users.list_users(self.db.reader)

    async def invite(self, email: str, name: str | None, role: Role) -> User:
        """Add a user who can then sign in with an e-mailed code; a taken e-mail is a conflict."""
        email = clean_email(email)
        display = clean_name(name, "name") if name and name.strip() else email.split("@")[0]
        async with self.db.transaction() as conn:
            if await db_users.user_by_email(conn, email) is not None:
                raise Conflict(f"a user with the e-mail {email} already exists")
            return await db_users.insert_user(conn, email, display, role, now_iso())

    async def set_role(self, actor: User, user_id: int, role: Role) -> User:
        if user_id == actor.id and role is not Role.ADMIN:
            raise Forbidden("you can't demote yourself; ask another admin to do it")
        async with self.db.transaction() as conn:
            target = await self._existing(conn, user_id)
            if target.role is Role.ADMIN and role is not Role.ADMIN:
                await self._keep_an_admin(conn, "demoted")
            updated = await db_users.update_user(conn, user_id, now_iso(), role=role.value)
        assert updated is not None  # it exists: we hold the only write connection
        return updated

    async def remove(self, actor: User, user_id: int) -> None:
        """Delete the user; their sessions end (FK cascade), their tickets and comments stay."""
        if user_id == actor.id:
            raise Forbidden("you can't remove yourself; ask another admin to do it")
        async with self.db.transaction() as conn:
            target = await self._existing(conn, user_id)
            if target.role is Role.ADMIN:
                await self._keep_an_admin(conn, "removed")
            await db_users.delete_user(conn, user_id)
        self.profile.forget_ssh_key(user_id)

    @staticmethod
    async def _existing(conn: Connection, user_id: int) -> User:
        user = await db_users.get_user(conn, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return user

    @staticmethod
    async def _keep_an_admin(conn: Connection, change: str) -> None:
        if await db_users.count_admins(conn) <= 1:
            raise Conflict(f"the last admin can't be {change}; make another user admin first")
