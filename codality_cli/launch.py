"""The ``codality`` console script.

``codality --help`` is the command people run first and most; importing the CLI framework to
print it costs ~60 ms, so the root help page is served from ``help.txt``, which
``scripts/gen_docs.py`` renders from the real command tree and ``tests/cli/test_docs.py`` keeps
identical to what the framework prints. The read commands run from ``fast_path`` without the
framework too, as does ``--version``; everything else goes to ``main.run``.
"""

from __future__ import annotations

import os
import sys

HELP_WIDTH = 80


def _wide_enough() -> bool:
    """The pre-rendered page is 80 columns wide; narrower terminals get the framework's."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns >= HELP_WIDTH
    except (OSError, ValueError):
        return True  # not a terminal: the framework would also use 80 columns


def run() -> None:
    if sys.argv[1:] == ["--version"]:  # what the framework prints, without loading it
        from . import __version__

        sys.stdout.write(f"codality {__version__}\n")
        return
    if sys.argv[1:] in (["--help"], ["-h"]) and _wide_enough():
        page = os.path.join(os.path.dirname(__file__), "help.txt")
        with open(page, encoding="utf-8") as handle:
            sys.stdout.write(handle.read())
        return
    from .fast_path import run as run_read

    if run_read(sys.argv[1:]):
        return
    from .main import run as run_cli

    run_cli()
