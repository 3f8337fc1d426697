"""Projects and their repository contents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .resource import Resource, rows, segment

if TYPE_CHECKING:
    from .models import FileList, Listing, Project


class ProjectsApi(Resource):
    async def list(self) -> list[Project]:
        return rows(await self.t.get("/api/projects"))

    async def create(self, fields: dict[str, Any]) -> Project:
        """``fields``: ``mode`` (existing|clone|new), ``path``, ``url``, ``name``, ``init``."""
        result: Project = await self.t.post("/api/projects", fields)
        return result

    async def get(self, slug: str) -> Project:
        result: Project = await self.t.get(f"/api/projects/{segment(slug)}")
        return result

    async def update(self, slug: str, fields: dict[str, Any]) -> Project:
        result: Project = await self.t.put(f"/api/projects/{segment(slug)}", fields)
        return result

    async def files(self, slug: str, ref: str | None = None, glob: str | None = None) -> FileList:
        """``{"ref", "commit", "files": [path, …]}``: tracked files at a ref."""
        params = {"ref": ref, "glob": glob}
        result: FileList = await self.t.get(f"/api/projects/{segment(slug)}/files", params)
        return result

    async def browse(self, slug: str, path: str | None = None, ref: str | None = None) -> Listing:
        """``{"ref", "commit", "path", "entries": [{name, path, type, size}, …]}``: one level."""
        params = {"path": path, "ref": ref}
        result: Listing = await self.t.get(f"/api/projects/{segment(slug)}/browse", params)
        return result

    async def blob(self, slug: str, path: str, ref: str | None = None) -> tuple[bytes, str]:
        """A file's raw bytes and content type; each path part is escaped, ``/`` kept."""
        quoted = "/".join(segment(part) for part in path.split("/"))
        return await self.t.get_bytes(f"/api/projects/{segment(slug)}/blob/{quoted}", {"ref": ref})
