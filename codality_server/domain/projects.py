"""Projects: a git repository the user works on with Codality."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .shapes import Shape

_SLUG_BAD = re.compile(r"[^a-z0-9]+")


def slugify(name: str, max_len: int = 48) -> str:
    """``My Repo!`` → ``my-repo``; the result matches ``[a-z0-9-]`` and is never empty."""
    slug = _SLUG_BAD.sub("-", name.lower()).strip("-")[:max_len].strip("-")
    return slug or "project"


class GithubLink(Shape):
    """The GitHub repository a project is linked to."""

    owner: str
    repo: str


class ProjectView(Shape):
    """A project as the API answers it."""

    id: int
    slug: str
    name: str
    path: str
    default_branch: str
    protected_main: bool
    github: GithubLink | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Project:
    id: int
    slug: str
    name: str
    path: str
    default_branch: str
    protected_main: bool
    github_owner: str | None
    github_repo: str | None
    created_at: str
    updated_at: str

    def view(self) -> dict[str, Any]:
        github = (
            GithubLink(owner=self.github_owner, repo=self.github_repo)
            if self.github_owner and self.github_repo
            else None
        )
        return ProjectView(
            id=self.id,
            slug=self.slug,
            name=self.name,
            path=self.path,
            default_branch=self.default_branch,
            protected_main=self.protected_main,
            github=github,
            created_at=self.created_at,
            updated_at=self.updated_at,
        ).model_dump(mode="json")
