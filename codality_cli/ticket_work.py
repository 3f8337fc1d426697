"""What became of a ticket's work once its branch is gone: merged, discarded, or none yet.

Shared by ``ticket diff`` (and the review verbs) and the TUI's review and ticket screens, so the
terminal and the board tell the same story.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .api.errors import ApiError, ServerUnavailable

if TYPE_CHECKING:
    from .api import ApiClient
    from .api.models import Merged, MergeDiff, MergePlan, PushView, SessionView


async def merged_diff(api: ApiClient, slug: str, number: int) -> MergeDiff | None:
    """The diff kept when the ticket's work was merged, or None if it never was."""
    try:
        return await api.reviews.merge_diff(slug, number)
    except (ApiError, ServerUnavailable):
        return None


def outcome_of(merged: MergeDiff | None, sessions: Sequence[SessionView]) -> str | None:
    """For a ticket without a branch: "merged in abc1234", "discarded", or None (no work yet).

    A branch goes only when its work is merged (the merge diff is kept) or discarded; a merge
    older than the latest run means that run's work went the other way.
    """
    latest = sessions[0]["started_at"] if sessions else ""
    if merged is not None and merged["created_at"] >= latest:
        return f"merged in {merged['merged_sha'][:10]}"
    return "discarded" if sessions else None


async def work_outcome(
    api: ApiClient, slug: str, number: int, sessions: Sequence[SessionView]
) -> str | None:
    """``outcome_of`` a ticket whose branch is gone, read from the server."""
    return outcome_of(await merged_diff(api, slug, number), sessions)


MERGE_AFTERMATH = "Worktrees and branches are removed and the tickets move to done."


def merge_question(plan: MergePlan) -> str:
    """The question before a merge, on the terminal and on the board alike: what it merges (in
    order), into which branch, and whether it then pushes to origin — and if not, why not."""
    target, tickets, push = plan["target"], plan["tickets"], plan["push"]
    pushes = f"push {target} to {push['remote']}"
    if len(tickets) == 1:
        what = f"Merge #{tickets[0]['number']} ({tickets[0]['title']}) into {target}"
        if push["will_push"]:
            return f"{what}, then {pushes}?"
        return f"{what}? It is not pushed ({push['reason']})."
    listing = "".join(f"\n  #{t['number']} {t['title']}" for t in tickets)
    what = f"Merge these {len(tickets)} tickets into {target}, in this order:{listing}\n"
    if push["will_push"]:
        return f"{what}then {pushes}?"
    return f"{what}They are not pushed ({push['reason']}). Merge them?"


def merged_names(result: Merged) -> str:
    """``#1 and #2``: the tickets a merge brought in (a stack, bottom first)."""
    names = [f"#{m['number']}" for m in result["merged"]]
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


def push_outcome(number: int, report: PushView) -> str:
    """What a merge (or a push again) did about origin, in one clause."""
    where = f"{report['branch']} to {report['remote']}"
    if report["pushed"]:
        return f"pushed {where}"
    retry = report["retry"]
    again = f"; push it with `{retry['command']}`" if retry else ""
    return f"not pushed ({report['detail'] or report['state']}){again}"
