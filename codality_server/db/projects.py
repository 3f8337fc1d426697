"""Project rows."""

from __future__ import annotations

from codality_server.domain.projects import Project

from .database import Connection, Row, fetchall, fetchone

_COLUMNS = (
    "id, slug, name, path, default_branch, protected_main, github_owner, github_repo,"
    " created_at, updated_at"
)
_UPDATABLE = {"name", "default_branch", "protected_main", "github_owner", "github_repo"}


def _project(row: Row) -> Project:
    return Project(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        path=row["path"],
        default_branch=row["default_branch"],
        protected_main=bool(row["protected_main"]),
        github_owner=row["github_owner"],
        github_repo=row["github_repo"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def list_projects(conn: Connection) -> list[Project]:
    rows = await fetchall(conn, f"SELECT {_COLUMNS} FROM projects ORDER BY name COLLATE NOCASE, id")
    return [_project(row) for row in rows]


async def project_by_slug(conn: Connection, slug: str) -> Project | None:
    row = await fetchone(conn, f"SELECT {_COLUMNS} FROM projects WHERE slug = ?", (slug,))
    return _project(row) if row else None


async def project_by_id(conn: Connection, project_id: int) -> Project | None:
    row = await fetchone(conn, f"SELECT {_COLUMNS} FROM projects WHERE id = ?", (project_id,))
    return _project(row) if row else None


async def project_by_github(conn: Connection, owner: str, repo: str) -> Project | None:
    """The project linked to ``owner/repo``; GitHub compares these names case-insensitively."""
    row = await fetchone(
        conn,
        f"SELECT {_COLUMNS} FROM projects WHERE github_owner = ? COLLATE NOCASE"
        " AND github_repo = ? COLLATE NOCASE ORDER BY id LIMIT 1",
        (owner, repo),
    )
    return _project(row) if row else None


async def project_by_path(conn: Connection, path: str) -> Project | None:
    row = await fetchone(conn, f"SELECT {_COLUMNS} FROM projects WHERE path = ?", (path,))
    return _project(row) if row else None


async def insert_project(
    conn: Connection, slug: str, name: str, path: str, default_branch: str, now: str
) -> Project:
    row = await fetchone(
        conn,
        "INSERT INTO projects(slug, name, path, default_branch, created_at, updated_at)"
        f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
        (slug, name, path, default_branch, now, now),
    )
    assert row is not None
    return _project(row)


async def update_project(
    conn: Connection, project_id: int, now: str, **fields: object
) -> Project | None:
    """Set some of ``name``, ``default_branch``, ``protected_main``, ``github_owner/_repo``."""
    assert set(fields) <= _UPDATABLE, f"unexpected fields {set(fields) - _UPDATABLE}"
    assignments = "".join(f"{name} = ?, " for name in fields)
    row = await fetchone(
        conn,
        f"UPDATE projects SET {assignments}updated_at = ? WHERE id = ? RETURNING {_COLUMNS}",
        (*fields.values(), now, project_id),
    )
    return _project(row) if row else None
