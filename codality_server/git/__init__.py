"""dulwich behind our own small API: repositories, worktrees, diffs, merges and safe paths.

Everything here is synchronous; services call it through ``asyncio.to_thread``.
"""
