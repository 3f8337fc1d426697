"""People by name: ``me``, an e-mail, a display name or an id → a user id, for every command that
takes a person (``ticket assign``, ``--assignee``, ``user role``).

One request (``/api/people``, readable by every user) answers all of them; the first line of an
error says which people there are, so a typo is fixed without another command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import CliError, ExitCode

if TYPE_CHECKING:
    from .api import ApiClient
    from .api.models import Person


def _label(person: Person) -> str:
    return f"{person['name']} <{person['email']}>"


def match_person(people: Sequence[Person], who: str) -> Person:
    """The one person ``who`` names: an id, an e-mail, a name, or the start of one name.

    Nobody → exit 3; several (two people with one name) → exit 2, naming them.
    """
    wanted = who.strip()
    folded = wanted.casefold()
    if wanted.isdigit():
        found = [p for p in people if p["id"] == int(wanted)]
    elif "@" in wanted:
        found = [p for p in people if p["email"].casefold() == folded]
    else:
        found = [p for p in people if p["name"].casefold() == folded]
        if not found:
            found = [p for p in people if p["name"].casefold().startswith(folded)]
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(_label(p) for p in found)
        raise CliError(
            f"{who!r} could be {names}; say which with an e-mail or an id", ExitCode.USAGE
        )
    known = ", ".join(_label(p) for p in people) or "nobody yet"
    raise CliError(f"no one called {who!r} (people: {known})", ExitCode.NOT_FOUND)


async def person_id(api: ApiClient, who: str) -> int:
    """``me``, an id, an e-mail or a name → that user's id."""
    if who.strip().casefold() == "me":
        return (await api.me.show())["id"]
    return match_person(await api.users.people(), who)["id"]


def assignee_label(ticket: Mapping[str, Any]) -> str | None:
    """Who a ticket is assigned to, for people: a name, ``agent``, or None."""
    assignee = ticket.get("assignee")
    if assignee is None or assignee == "agent":
        return assignee
    return str(ticket.get("assignee_name") or f"user {assignee}")
