"""``codality __complete KIND``: the words shell completion offers that only the server knows
(``candidates.py`` finds them; ``fast_path`` usually runs it before typer is even loaded)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..candidates import print_candidates
from ..context import CliContext


def complete(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="projects, tickets, settings or env.")],
) -> None:
    """Print completion candidates, one ``word<TAB>description`` a line (none on any failure)."""
    print_candidates(CliContext.of(ctx), kind)


def register(app: typer.Typer) -> None:
    app.command("__complete", hidden=True)(complete)
