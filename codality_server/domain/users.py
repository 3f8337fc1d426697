"""Users and roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .shapes import Shape


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class GitIdentityView(Shape):
    """The name and e-mail of the commits made for a user."""

    name: str
    email: str


class UserView(Shape):
    """A user as the API answers it (``/api/users``, ``/api/auth/me``)."""

    id: int
    email: str
    name: str
    role: Role
    git_identity: GitIdentityView
    created_at: str
    updated_at: str


class Person(Shape):
    """Who someone is, as every signed-in user may read it (``/api/people``, a comment's author)."""

    id: int
    name: str
    email: str


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    git_name: str | None
    git_email: str | None
    created_at: str
    updated_at: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def git_identity(self) -> tuple[str, str]:
        """(name, e-mail) for commits made for this user; defaults to display name and e-mail."""
        name = self.git_name or self.name or self.email.split("@")[0]
        return name, self.git_email or self.email

    def view(self) -> dict[str, Any]:
        git_name, git_email = self.git_identity
        return UserView(
            id=self.id,
            email=self.email,
            name=self.name,
            role=self.role,
            git_identity=GitIdentityView(name=git_name, email=git_email),
            created_at=self.created_at,
            updated_at=self.updated_at,
        ).model_dump(mode="json")

    def person(self) -> dict[str, Any]:
        return Person(id=self.id, name=self.name, email=self.email).model_dump(mode="json")
