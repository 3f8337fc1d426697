"""Which paths of a work tree may have changed while an agent ran, told by the kernel (inotify),
so the end-of-run commit looks at those paths alone instead of every file (git's fsmonitor idea).

A watch vouches for nothing it could have missed. It is trusted only from the moment every
folder is watched: changes before that are found by one stat comparison with the index
(``worktree_status``) started after the last watch was added, run while the agent already works.
From then on the kernel names every create, write, attribute change, delete and rename in a
watched folder; a new folder is watched (and walked) as soon as its creation is read, and the
folder itself is counted as changed, so what was written in it before its watch is covered.

It gives up, and the commit then compares every file as before, when it cannot be sure: the
kernel's queue overflowed, a watch could not be added (the user's inotify limit), the work tree
holds more folders than ``MAX_FOLDERS`` or more changed paths than ``MAX_CHANGED``, or the work
tree itself was moved or deleted. Giving up closes the inotify descriptor at once, so a hostile
agent creating folders without end takes no more than ``MAX_FOLDERS`` of the user's watches.

What the kernel does not report: writes through a shared ``mmap`` of a file opened and closed
before (the commit takes those up the next time the file is written or a run starts), and writes
through a second hard link to a file (the commit gives up on a changed file with more than one
link). A folder swapped for a link while it is walked may put a watch outside the work tree;
its events only add names to check, which are read through ``Workdir`` like any other.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

MAX_FOLDERS = 65_536
"""Watches one work tree may take (each holds about 1 KiB of kernel memory and counts against
the user's ``fs.inotify.max_user_watches``)."""

MAX_CHANGED = 10_000
"""Changed paths one watch keeps; past it a full comparison is as cheap as the list."""

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000
_IN_ISDIR = 0x40000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
    | _IN_DONT_FOLLOW
)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
_READ_SIZE = 1 << 16


class _Inotify:
    """The three inotify calls, through the C library."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._add.restype = ctypes.c_int
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = [ctypes.c_int, ctypes.c_int]
        self.fd = self._checked(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))

    @staticmethod
    def _checked(result: int) -> int:
        if result < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return result

    def add(self, path: bytes) -> int:
        return self._checked(self._add(self.fd, path, _MASK))

    def remove(self, wd: int) -> None:
        self._rm(self.fd, wd)  # EINVAL when the kernel already dropped it: nothing to do

    def close(self) -> None:
        os.close(self.fd)


class ChangeWatch:
    """Collects the paths (relative, bytes; a folder stands for everything in it) of a work tree
    that changed since the last ``take``. Built by ``ChangeWatch.start``; ``close`` it after."""

    def __init__(self, root: Path) -> None:
        self.root = os.fsencode(root)
        self._inotify: _Inotify | None = _Inotify()
        self._folders: dict[int, bytes] = {}  # watch descriptor → folder ("" = the root)
        self._changed: set[bytes] = set()
        self._gave_up: str | None = None
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC)
        self._pump = threading.Thread(target=self._run, name="change-watch", daemon=True)

    @classmethod
    def start(cls, root: Path, changed_before: Callable[[], list[bytes]]) -> ChangeWatch | None:
        """Watch every folder under ``root``, then add what ``changed_before`` names (a stat
        comparison with the index, run once every folder is watched). None where inotify is
        missing (not Linux)."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            watch = cls(root)
        except (OSError, AttributeError):
            return None
        watch._pump.start()
        with watch._lock:
            watch._watch_tree(b"")
        try:
            earlier = changed_before()
        except Exception:
            watch.close()
            raise
        with watch._lock:
            for path in earlier:
                watch._mark(path)
        return watch

    @property
    def gave_up(self) -> str | None:
        """Why the watch can no longer vouch for what changed (None while it can)."""
        return self._gave_up

    def take(self) -> set[bytes] | None:
        """The paths changed since the watch began or the last ``take`` (the kernel's queue read
        to its end first: every change made before this call is in it); None when the watch gave
        up and every file must be compared."""
        with self._lock:
            self._drain()
            if self._gave_up is not None:
                return None
            taken, self._changed = self._changed, set()
            return taken

    def close(self) -> None:
        with self._lock:
            self._release()
        os.write(self._wake_write, b"x")
        if self._pump.is_alive() and self._pump is not threading.current_thread():
            self._pump.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        """Read events as they come, so the kernel's queue (16,384 events) rarely overflows."""
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        with self._lock:
            if self._inotify is None:
                return
            poller.register(self._inotify.fd, select.POLLIN)
        while True:
            ready = [fd for fd, _ in poller.poll()]
            if self._wake_read in ready:
                return
            with self._lock:
                self._drain()
                if self._inotify is None:
                    return

    def _give_up(self, why: str) -> None:
        if self._gave_up is None:
            self._gave_up = why
        self._changed.clear()
        self._release()

    def _release(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
            self._folders.clear()

    def _drain(self) -> None:
        while self._inotify is not None:
            try:
                data = os.read(self._inotify.fd, _READ_SIZE)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = _EVENT.unpack_from(data, offset)
                start = offset + _EVENT.size
                name = data[start : start + size].rstrip(b"\0")
                offset = start + size
                self._event(wd, mask, name)
                if self._inotify is None:
                    return

    def _event(self, wd: int, mask: int, name: bytes) -> None:
        if mask & _IN_Q_OVERFLOW:
            return self._give_up("the kernel's event queue overflowed")
        folder = self._folders.get(wd)
        if folder is None:
            return
        if mask & _IN_IGNORED:
            del self._folders[wd]
            if folder == b"":
                self._give_up("the work tree itself was removed")
            return
        if not name:
            if folder == b"" and mask & (_IN_DELETE_SELF | _IN_MOVE_SELF):
                self._give_up("the work tree itself was moved or removed")
            return  # the folder's parent names it
        path = folder + b"/" + name if folder else name
        if path == b".git":
            return  # the worktree's pointer to its git dir, never committed
        if mask & _IN_ISDIR:
            if mask & _IN_MOVED_FROM:
                self._forget(path)
            if mask & (_IN_CREATE | _IN_MOVED_TO):
                self._watch_tree(path)
        self._mark(path)

    def _mark(self, path: bytes) -> None:
        if self._gave_up is not None:
            return
        self._changed.add(path)
        if len(self._changed) > MAX_CHANGED:
            self._give_up(f"more than {MAX_CHANGED:,} paths changed")

    def _forget(self, path: bytes) -> None:
        """Stop watching a folder moved away (its watches would follow it elsewhere)."""
        assert self._inotify is not None
        below = path + b"/"
        for wd, folder in list(self._folders.items()):
            if folder == path or folder.startswith(below):
                self._inotify.remove(wd)
                del self._folders[wd]

    def _watch_tree(self, top: bytes) -> None:
        """Watch ``top`` and every folder below it (links are not followed)."""
        pending = [top]
        while pending and self._inotify is not None:
            folder = pending.pop()
            full = self.root + b"/" + folder if folder else self.root
            try:
                wd = self._inotify.add(full)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES):
                    continue  # gone or replaced meanwhile: its parent's event names it
                return self._give_up(f"no more inotify watches ({exc.strerror})")
            self._folders[wd] = folder
            if len(self._folders) > MAX_FOLDERS:
                return self._give_up(f"more than {MAX_FOLDERS:,} folders to watch")
            try:
                with os.scandir(full) as listing:
                    for item in listing:
                        name = os.fsencode(item.name)
                        if folder == b"" and name == b".git":
                            continue
                        if item.is_dir(follow_symlinks=False):
                            pending.append(folder + b"/" + name if folder else name)
            except OSError:
                continue
