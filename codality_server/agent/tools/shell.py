"""``bash``: one shell command in the worktree, inside the session's sandbox."""

from __future__ import annotations

from pydantic import Field

from codality_server.agent.sandbox import run_command

from .base import Tool, ToolContext, ToolError, ToolInput

OUTPUT_LIMIT = 30 * 1024


class BashInput(ToolInput):
    command: str = Field(min_length=1, description="shell command, run with /bin/sh -c")
    timeout_s: float | None = Field(
        None,
        gt=0,
        description="seconds before the command is killed (default and maximum: "
        "the bash_timeout_s setting)",
    )


async def bash(ctx: ToolContext, args: BashInput) -> str:
    timeout = min(args.timeout_s or ctx.bash_timeout_s, ctx.bash_timeout_s)
    result = await run_command(
        ctx.need_sandbox(), args.command, ctx.worktree, timeout, OUTPUT_LIMIT
    )
    if result.timed_out:
        raise ToolError(f"{result.output}\n[killed after {timeout:g} s]".lstrip())
    if result.exit_code != 0:
        raise ToolError(f"{result.output}\n[exit code {result.exit_code}]".lstrip())
    return result.output or "(no output)"


TOOLS = [
    Tool(
        "bash",
        "Run a shell command in the repository (builds, tests; git status, diff and log: the "
        "server commits your work). Output is capped at 30 KB, "
        "keeping its head and tail. Commands time out (60 s by default), so avoid anything "
        "interactive or long-running in the foreground.",
        BashInput,
        bash,
    )
]
