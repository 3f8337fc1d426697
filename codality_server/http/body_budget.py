"""How many request-body bytes the server holds at once, across every request.

Bodies are read before anyone is known: the guard reads them before authentication, and a
webhook's signature is known good only at its last byte. Each route caps its own body (1 MiB,
25 MiB for webhooks), but 60 strangers sending 25 MiB each would still hold 1.5 GB. Every body
therefore draws on one shared budget while it is read and until its request is answered; a body
that does not fit is refused with a 503 before (or as soon as) it would, not read into memory.
"""

from __future__ import annotations

from codality_server.domain.errors import Unavailable

RETRY_AFTER_S = 5


class BodyBudget:
    """The shared count of body bytes held; one per app."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0

    def allowance(self) -> BodyAllowance:
        return BodyAllowance(self)


class BodyAllowance:
    """One request's share of the budget: taken as its body is read, given back when it is
    answered (``close``), however it ends."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.taken = 0

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes, or refuse the request with a 503."""
        budget = self._budget
        if budget.held + size > budget.capacity:
            raise Unavailable(
                "the server is receiving too many request bodies at once; try again shortly",
                retry_after=RETRY_AFTER_S,
            )
        budget.held += size
        self.taken += size

    def close(self) -> None:
        self._budget.held -= self.taken
        self.taken = 0
