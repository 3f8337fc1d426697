"""The ``:`` command line (k9s habits): what the user may type, and what it means.

Plain Python, so the grammar is tested without a screen; the app turns a ``Command`` into
navigation. Names may be shortened to any unique prefix (``:pl`` is ``:plans``).
"""

from __future__ import annotations

from dataclasses import dataclass

# name → (what it does, the argument it takes or "")
COMMANDS: dict[str, tuple[str, str]] = {
    "tickets": ("the ticket board", ""),
    "plans": ("the project's plans", ""),
    "queues": ("the project's work queues", ""),
    "discover": ("the discovery chat", ""),
    "project": ("switch to another project (a list without a name)", "NAME"),
    "open": ("open a ticket", "NUMBER"),
    "new": ("a new ticket", ""),
    "filter": ("show only the cards with these words", "WORDS"),
    "cancelled": ("show or hide the cancelled column", ""),
    "help": ("the keys of this screen", ""),
    "quit": ("leave Codality", ""),
}
ALIASES = {"q": "quit", "q!": "quit", "board": "tickets", "chat": "discover", "p": "project"}
NEEDS_ARGUMENT = frozenset({"open"})


class CommandError(ValueError):
    """A line that names no command, or lacks what the command needs; the message says which."""


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""


def parse(line: str) -> Command:
    """``:plans``, ``project shop``, ``:12`` (open #12), ``q``… → a ``Command``."""
    text = line.strip().removeprefix(":").strip()
    if not text:
        raise CommandError("Type a command, e.g. :tickets, :plans, :project NAME, :q")
    word, _, argument = text.partition(" ")
    word, argument = word.lower(), argument.strip()
    if word.lstrip("#").isdigit():
        return Command("open", word.lstrip("#"))
    name = ALIASES.get(word) or _complete(word)
    if name in NEEDS_ARGUMENT and not argument:
        raise CommandError(f":{name} needs {COMMANDS[name][1].lower()}, e.g. :{name} 12")
    if name == "open":
        number = argument.lstrip("#")
        if not number.isdigit() or int(number) < 1:
            raise CommandError(f":open takes a ticket number, not {argument!r}")
        argument = number
    return Command(name, argument)


def _complete(word: str) -> str:
    if word in COMMANDS:
        return word
    found = [name for name in COMMANDS if name.startswith(word)]
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandError(f":{word} could be {', '.join(':' + n for n in found)}")
    raise CommandError(f"Unknown command :{word} — try :help for the list")


def suggestions() -> list[str]:
    """What the command line completes as you type (tab or → accepts)."""
    return [f"{name} " if argument else name for name, (_, argument) in COMMANDS.items()]


def summary() -> list[tuple[str, str]]:
    """(usage, what it does) for each command, for help."""
    return [(f":{name} {argument}".strip(), doing) for name, (doing, argument) in COMMANDS.items()]
