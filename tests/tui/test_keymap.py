"""One key map for the whole app: a key that merges on one screen means nothing else elsewhere."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from typing import Any

from textual.binding import Binding
from textual.screen import Screen

import codality_cli.tui.screens as screens_package


def all_screens() -> list[type[Any]]:
    """Every screen class of ours."""
    for module in pkgutil.iter_modules(screens_package.__path__):
        importlib.import_module(f"{screens_package.__name__}.{module.name}")
    found: list[type[Any]] = []
    pending: list[type[Any]] = list(Screen.__subclasses__())
    while pending:
        screen = pending.pop()
        pending.extend(screen.__subclasses__())
        if screen.__module__.startswith("codality_cli."):
            found.append(screen)
    return found


def screen_bindings() -> dict[str, set[tuple[str, str]]]:
    """key → {(screen, action)} over every screen the app has."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for screen in all_screens():
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


def test_every_key_of_every_screen_names_an_action_that_exists() -> None:
    """A typo in a binding's action would make its key (and palette entry) do nothing."""
    from codality_cli.tui.app import CodalityApp

    for key, uses in screen_bindings().items():
        for screen_name, action in uses:
            screen = next(s for s in all_screens() if s.__name__ == screen_name)
            target, _, name = action.rpartition(".")
            owner = CodalityApp if target == "app" else screen
            method = name.split("(")[0]
            assert hasattr(owner, f"action_{method}"), (key, screen_name, action)


def test_board_keys_people_expect() -> None:
    """lazygit/k9s habits on the board: q quits, escape clears the filter, : is the command line,
    < and > move a card, 1–6 send it to a column in board order."""
    from codality_cli.tui.board_state import STATUSES

    board = {
        key: action
        for key, uses in screen_bindings().items()
        for s, action in uses
        if s == "BoardScreen"
    }
    assert board["q"] == "app.quit" and board["escape"] == "clear_filter"
    assert board["colon"] == "app.command_line"
    assert (board["less_than_sign"], board["greater_than_sign"]) == ("shift(-1)", "shift(1)")
    assert [board[str(n)] for n in range(1, 7)] == [f"move_to('{s}')" for s in STATUSES]
