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

    Project slugs, ticket numbers and setting names are completed from the server when it is
    up and you are signed in. To install (or use the copies pip put under share/):

    \b
    bash: codality completion bash > ~/.local/share/bash-completion/completions/codality
    zsh:  codality completion zsh > ~/.zfunc/_codality  (with fpath+=~/.zfunc)
    fish: codality completion fish > ~/.config/fish/completions/codality.fish
    """
    from ..context import full_app
    from ..docs import command_tree
    from ..docs import completion as script

    typer.echo(script(shell.value, command_tree(full_app(ctx))), nl=False)


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
