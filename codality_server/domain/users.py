"""Users and roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


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
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role.value,
            "git_identity": {"name": git_name, "email": git_email},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
