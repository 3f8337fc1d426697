"""File tools: read, write, edit and list, every path confined to the worktree by ``safe_join``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from codality_server.git.paths import safe_join

from .base import Tool, ToolContext, ToolError, ToolInput, in_thread, relative

READ_LIMIT = 50 * 1024
HIDDEN = frozenset({".git"})


def resolve(ctx: ToolContext, path: str) -> Path:
    """The worktree path for ``path``; ``..``, absolute paths and symlinks out are refused."""
    return safe_join(ctx.worktree, path or ".")


def read_text(path: Path) -> str:
    """A text file's content; binary files are refused rather than dumped on the model."""
    if not path.is_file():
        raise ToolError(f"{path.name}: no such file")
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise ToolError(f"{path.name} is a binary file ({len(data)} bytes)")
    return data.decode("utf-8", "replace")


class ReadFileInput(ToolInput):
    path: str = Field(description="file path relative to the repository root")
    start_line: int | None = Field(None, ge=1, description="first line to return (1-based)")
    end_line: int | None = Field(None, ge=1, description="last line to return (inclusive)")


@in_thread
def read_file(ctx: ToolContext, args: ReadFileInput) -> str:
    text = read_text(resolve(ctx, args.path))
    if args.start_line or args.end_line:
        lines = text.splitlines(keepends=True)
        start = (args.start_line or 1) - 1
        end = args.end_line or len(lines)
        if start >= len(lines):
            raise ToolError(f"{args.path} has only {len(lines)} lines")
        text = "".join(lines[start:end])
    data = text.encode()
    if len(data) <= READ_LIMIT:
        return text
    kept = data[:READ_LIMIT].decode("utf-8", "ignore")
    shown = kept.count("\n")
    return (
        f"{kept}\n[truncated at {READ_LIMIT // 1024} KB after about {shown} lines of "
        f"{len(data)} bytes; read further with start_line/end_line]"
    )


class WriteFileInput(ToolInput):
    path: str = Field(description="file path relative to the repository root")
    content: str = Field(description="the whole new content of the file")


@in_thread
def write_file(ctx: ToolContext, args: WriteFileInput) -> str:
    target = resolve(ctx, args.path)
    if target.is_dir():
        raise ToolError(f"{args.path} is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Re-check after creating parents: nothing on the way may have become a link out.
    target = resolve(ctx, args.path)
    target.write_text(args.content, encoding="utf-8")
    return f"wrote {len(args.content.encode())} bytes to {relative(ctx, target)}"


class EditFileInput(ToolInput):
    path: str = Field(description="file path relative to the repository root")
    old_text: str = Field(min_length=1, description="exact text to replace; must occur once")
    new_text: str = Field(description="replacement text")


@in_thread
def edit_file(ctx: ToolContext, args: EditFileInput) -> str:
    target = resolve(ctx, args.path)
    text = read_text(target)
    count = text.count(args.old_text)
    if count != 1:
        where = "not found" if count == 0 else f"found {count} times"
        raise ToolError(f"old_text {where} in {args.path}; it must match exactly once")
    target.write_text(text.replace(args.old_text, args.new_text, 1), encoding="utf-8")
    return f"edited {relative(ctx, target)}"


class ListDirectoryInput(ToolInput):
    path: str = Field(".", description="directory relative to the repository root")


@in_thread
def list_directory(ctx: ToolContext, args: ListDirectoryInput) -> str:
    folder = resolve(ctx, args.path)
    if not folder.is_dir():
        raise ToolError(f"{args.path}: no such directory")
    lines = []
    for entry in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name)):
        if entry.name in HIDDEN:
            continue
        if entry.is_symlink():
            lines.append(f"{entry.name} -> (link)")
        elif entry.is_dir():
            lines.append(f"{entry.name}/")
        else:
            lines.append(f"{entry.name}  {entry.stat().st_size} B")
    return "\n".join(lines) or "(empty directory)"


TOOLS = [
    Tool(
        "read_file",
        "Read a text file of the repository (at most 50 KB; use line ranges for more).",
        ReadFileInput,
        read_file,
    ),
    Tool(
        "write_file",
        "Create or overwrite a file with the given content; missing folders are created.",
        WriteFileInput,
        write_file,
    ),
    Tool(
        "edit_file",
        "Replace one exact occurrence of old_text with new_text in a file (old_text must occur "
        "exactly once). Prefer this over write_file for small changes.",
        EditFileInput,
        edit_file,
    ),
    Tool(
        "list_directory",
        "List a directory of the repository: sub-folders first, then files with their sizes.",
        ListDirectoryInput,
        list_directory,
    ),
]
