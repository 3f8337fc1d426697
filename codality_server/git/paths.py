"""Paths from clients and from the model never leave the repository they name.

Two forms are checked here: filesystem paths under a root folder (a repository or a worktree),
joined with ``safe_join``, and paths inside a git tree at some ref, split by ``path_segments``.
Both refuse the same inputs — ``..`` segments, absolute paths, NUL bytes and backslashes — so a
path accepted by one is accepted by the other. ``safe_join`` also resolves symlinks on disk, since
a link committed into a repository may point anywhere.
"""

from __future__ import annotations

from pathlib import Path

from codality_server.domain.errors import InvalidInput


def path_segments(relative: str, field: str = "path") -> list[str]:
    """The non-empty segments of a client-supplied relative path; ``.`` and ``//`` are dropped.

    Backslashes are refused rather than treated as separators: on POSIX they are legal in file
    names, so ``..\\..\\etc`` would otherwise mean different things to different layers.
    """
    if "\x00" in relative:
        raise InvalidInput(f"{field}: a path may not contain a NUL byte", field=field)
    if "\\" in relative:
        raise InvalidInput(f"{field}: use '/' as the separator, not '\\'", field=field)
    if relative.startswith("/"):
        raise InvalidInput(
            f"{field}: {relative!r} is absolute; give a path relative to the repository",
            field=field,
        )
    segments = [part for part in relative.split("/") if part not in ("", ".")]
    if ".." in segments:
        raise InvalidInput(f"{field}: '..' may not appear in a path", field=field)
    return segments


def safe_join(root: Path, relative: str, field: str = "path") -> Path:
    """``root / relative``, refused when it could reach anything outside ``root``.

    The result keeps ``root``'s own spelling (so ``relative_to(root)`` works for callers), but it
    is checked after resolving every symlink on the way, including a final one; a path that does
    not exist yet is allowed as long as its existing part stays inside.
    """
    segments = path_segments(relative, field)
    joined = root.joinpath(*segments)
    real_root = root.resolve()
    if not joined.resolve().is_relative_to(real_root):
        raise InvalidInput(
            f"{field}: {relative!r} leads outside the repository through a symbolic link",
            field=field,
        )
    return joined
