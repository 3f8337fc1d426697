"""One key map for the whole app: a key that merges on one screen means nothing else elsewhere."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from typing import Any

from textual.binding import Binding
from textual.screen import Screen

import codality_cli.tui.screens as screens_package


def screen_bindings() -> dict[str, set[tuple[str, str]]]:
    """key → {(screen, action)} over every screen the app has."""
    for module in pkgutil.iter_modules(screens_package.__path__):
        importlib.import_module(f"{screens_package.__name__}.{module.name}")
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    pending: list[type[Any]] = list(Screen.__subclasses__())
    while pending:
        screen = pending.pop()
        pending.extend(screen.__subclasses__())
        if not screen.__module__.startswith("codality_cli."):
            continue
        for binding in screen.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding):
                for key in binding.key.split(","):
                    found[key.strip()].add((screen.__name__, binding.action))
    return found


def test_a_merge_key_means_merge_on_every_screen_that_binds_it() -> None:
    bindings = screen_bindings()
    merge_keys = {key for key, uses in bindings.items() if any(a == "merge" for _, a in uses)}
    assert merge_keys == {"M"}
    for key in merge_keys:
        assert {action for _, action in bindings[key]} == {"merge"}, bindings[key]
    # Lower-case m is "message agent" on the ticket screen and merge nowhere.
    assert {action for _, action in bindings["m"]} == {"focus_message"}
