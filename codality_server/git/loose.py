"""A big loose blob's size and lines, read as it inflates: never whole in the server's memory.

dulwich reads an object whole, and a loose one twice over for a moment (inflated, then sliced
past its header), so a 500 MB file the agent committed would cost the server a gigabyte just to
be told it is too large to show. A loose object is one zlib stream of ``blob <size>\\0`` and the
content: its size is in the first bytes, its lines are counted a piece at a time.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dulwich.object_store import BaseObjectStore, DiskObjectStore, OverlayObjectStore
from dulwich.objects import ObjectID, valid_hexsha
from dulwich.patch import FIRST_FEW_BYTES, is_binary

_PIECE = 1 << 20
_HEADER_MAX = 64  # "blob " and a size in decimal, then NUL
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class Counted:
    """What a diff needs of a blob it will not show: its lines, and whether it is binary."""

    lines: int  # a last line without a newline counts, as git counts it
    head: bytes  # the first bytes, all ``is_binary`` looks at

    @property
    def binary(self) -> bool:
        return is_binary(self.head)


def loose_path(store: BaseObjectStore, sha: ObjectID) -> Path | None:
    """The file of ``sha`` as a loose object in the store's (or an overlaid) repository, or
    None: packed, only in memory, or no object id at all."""
    stores = store.bases if isinstance(store, OverlayObjectStore) else [store]
    if not valid_hexsha(sha):
        return None
    name = sha.decode("ascii")
    for each in stores:
        if isinstance(each, DiskObjectStore):
            path = Path(os.fspath(each.path)) / name[:2] / name[2:]
            if os.path.lexists(path):
                return path
    return None


def blob_size(path: Path) -> int | None:
    """The size its header gives a loose blob; None if it is no readable loose blob."""
    opened = _open(path)
    if opened is None:
        return None
    with opened as handle:
        found = _header(_inflated(handle))
    return None if found is None else found[0]


def count_lines(path: Path) -> Counted | None:
    """A loose blob's lines, counted as it inflates (a piece of 1 MiB at a time); None if it is
    no readable loose blob."""
    opened = _open(path)
    if opened is None:
        return None
    with opened as handle:
        pieces = _inflated(handle)
        found = _header(pieces)
        if found is None:
            return None
        size, first = found
        head, lines, last, seen = b"", 0, b"\n", 0
        for piece in _chain(first, pieces):
            piece = piece[: size - seen]
            if not piece:
                break
            seen += len(piece)
            if len(head) < FIRST_FEW_BYTES:
                head += piece[: FIRST_FEW_BYTES - len(head)]
            lines += piece.count(b"\n")
            last = piece[-1:]
    return Counted(lines + (0 if last == b"\n" else 1), head)


def _open(path: Path) -> BinaryIO | None:
    try:
        fd = os.open(path, _FLAGS)
    except OSError:
        return None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        return None
    return handle


def _inflated(handle: BinaryIO) -> Iterator[bytes]:
    """The object's inflated bytes in pieces of at most 1 MiB (a zlib bomb is read as slowly as
    any other stream); stops quietly where the stream is corrupt."""
    inflate = zlib.decompressobj()
    try:
        while data := handle.read(_PIECE):
            while data:
                piece = inflate.decompress(data, _PIECE)
                if piece:
                    yield piece
                data = inflate.unconsumed_tail
            if inflate.eof:
                return
    except zlib.error:
        return


def _header(pieces: Iterator[bytes]) -> tuple[int, bytes] | None:
    """The size a ``blob <size>\\0`` header gives and the content bytes read with it."""
    start = b""
    for piece in pieces:
        start += piece
        if b"\0" in start or len(start) > _HEADER_MAX:
            break
    header, nul, rest = start.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not nul or kind != b"blob" or not size.isdigit():
        return None
    return int(size), rest


def _chain(first: bytes, pieces: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from pieces
