"""The output options every list and show command takes, as typer declares them.

Kept apart from ``output`` so that rendering loads no CLI framework (``fast_path`` uses it).
"""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON objects instead of a table.")
]
FieldsOption = Annotated[
    str | None,
    typer.Option(
        "--fields",
        metavar="F1,F2",
        help="With --json (implied): keep only these comma-separated fields.",
    ),
]

YesOption = Annotated[
    bool,
    typer.Option("-y", "--yes", help="Do not ask for confirmation (required without a terminal)."),
]
