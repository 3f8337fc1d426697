"""``codality completion bash|zsh|fish``: print the shell completion script."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(
    ctx: typer.Context, shell: Annotated[Shell, typer.Argument(help="Your shell.")]
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    For example: codality completion bash > ~/.local/share/bash-completion/completions/codality
    """
    from ..context import full_app
    from ..docs import command_tree
    from ..docs import completion as script

    typer.echo(script(shell.value, command_tree(full_app(ctx))), nl=False)


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
