"""The ``git`` executable for the heavy plumbing on big repositories, run so that nothing the
agent wrote steers it.

Where ``git`` is installed it makes worktrees, stages and commits the agent's work: in C, with
its own stat cache, 5–20x faster than the same steps in Python (``bench/big_repo.py``). dulwich
stays the library and the fallback. Every call names the git dir, the common dir and the work
tree explicitly (``GIT_DIR``, ``GIT_COMMON_DIR``, ``GIT_WORK_TREE``: no ``.git`` file,
``commondir`` file or ``core.worktree`` is read), reads no system or user config, runs no hook
and no fsmonitor, and uses no external diff or textconv program; the repository's own config
(the user's) still applies, as it would to the user's git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from codality_server.domain.errors import Conflict

_NEUTRAL = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.untrackedCache=false",
    f"core.excludesFile={os.devnull}",
    f"core.attributesFile={os.devnull}",
    "core.quotePath=false",
    "diff.external=",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.renames=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "safe.directory=*",
)


LOCAL_TIMEOUT_S = 120.0
"""How long one local git command may take; past it git is assumed stuck (a FIFO named
``.gitignore`` blocks it for ever) and the caller falls back to dulwich."""


class GitStuck(Exception):
    """A local git command ran past ``LOCAL_TIMEOUT_S`` and was killed."""


def git_path() -> str | None:
    """The ``git`` executable, or None where it is not installed (then dulwich does the work)."""
    if os.environ.get("CODALITY_NO_GIT_CLI"):
        return None
    return shutil.which("git")


def run_git(
    args: Sequence[str],
    *,
    git_dir: Path,
    work_tree: Path | None = None,
    common_dir: Path | None = None,
    index_file: Path | None = None,
    stdin: bytes | None = None,
    extra_env: dict[str, str] | None = None,
) -> bytes:
    """Run ``git args`` on exactly the directories given; its stdout, Conflict with git's own
    words when it fails, GitStuck when it hangs."""
    executable = git_path()
    if executable is None:
        raise RuntimeError("git is not installed")
    env = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
    env |= {
        "GIT_DIR": str(git_dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_OPTIONAL_LOCKS": "0",
        "LC_ALL": "C",
    }
    if work_tree is not None:
        env["GIT_WORK_TREE"] = str(work_tree)
    if common_dir is not None:
        env["GIT_COMMON_DIR"] = str(common_dir)
    if index_file is not None:
        env["GIT_INDEX_FILE"] = str(index_file)
    env |= extra_env or {}
    command = [executable]
    for setting in _NEUTRAL:
        command += ["-c", setting]
    try:
        done = subprocess.run(
            [*command, *args],
            input=stdin,
            capture_output=True,
            env=env,
            cwd=work_tree or git_dir,
            check=False,
            timeout=LOCAL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise GitStuck(f"git {args[0]} took longer than {LOCAL_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        words = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Conflict(f"git {args[0]} failed: {words[-1] if words else done.returncode}")
    return done.stdout
