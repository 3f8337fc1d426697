"""Git over the network, bounded in time: every fetch, push and clone the server makes.

A remote that accepts a connection and then says nothing must not hold a request, a repository
lock or a worker thread for ever. Each call runs on a thread of its own that the caller stops
waiting for at its deadline (``with_deadline``); over HTTP(S) every read from the remote also
times out (``transport``), so an abandoned thread ends soon after its caller gave up. Any
failure of the remote — refused, unauthorised, timed out, cut off mid-pack — is a
``RemoteError`` whose text never holds a token (``scrub``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from dulwich.client import HTTPUnauthorized, default_urllib3_manager
from dulwich.config import Config
from dulwich.porcelain import DivergedBranches

T = TypeVar("T")

TOKEN_USER = "x-access-token"


class RemoteError(Exception):
    """A push, fetch or clone that failed; the message never holds a token."""


def scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def failure(exc: BaseException, errors: io.BytesIO, token: str | None = None) -> RemoteError:
    """``exc`` (whatever dulwich, urllib3 or the OS raised) as one readable line."""
    detail = errors.getvalue().decode(errors="replace").strip()
    if isinstance(exc, HTTPUnauthorized):
        what = "the remote refused the credentials (HTTP 401)"
    elif _timed_out(exc):
        what = "the remote did not answer in time (the git_timeout_s setting)"
    elif isinstance(exc, DivergedBranches):
        what = "the remote branch has commits this repository lacks; bring them in, then push"
    else:
        what = f"{type(exc).__name__}: {exc}"
    text = what + (f" ({detail})" if detail else "")
    return RemoteError(scrub(text, token))


def _timed_out(exc: BaseException) -> bool:
    """Whether a read from the remote waited past its timeout, however deep dulwich and urllib3
    wrapped the socket's ``TimeoutError``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def transport(url: str, config: Config | None, timeout: float) -> dict[str, Any]:
    """Keyword arguments for dulwich's porcelain so each HTTP(S) read waits ``timeout`` at most
    (other transports ignore them; the deadline still bounds them)."""
    return {"pool_manager": default_urllib3_manager(config, base_url=url, timeout=timeout)}


async def with_deadline(
    call: Callable[[], T],
    timeout: float,
    what: str,
    undo: Callable[[T], None] | None = None,
) -> T:
    """``call()`` on a thread of its own; RemoteError when it has not returned after ``timeout``
    seconds. The thread is let go (a daemon whose reads time out on their own); should it still
    succeed, ``undo`` takes back what it made, since nobody was told of it."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[T] = loop.create_future()
    # An answer nobody awaits any more is never logged as an unretrieved exception.
    answer.add_done_callback(lambda done: done.cancelled() or done.exception())
    handover = threading.Lock()
    state = {"delivered": False, "given_up": False}

    def settle(result: T | None, error: BaseException | None) -> None:
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # handed to the waiting coroutine, never lost
            result, error = None, exc
        with handover:
            late = state["given_up"]
            if not late:
                state["delivered"] = True
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                    loop.call_soon_threadsafe(settle, result, error)
        if late and error is None and undo is not None:
            undo(result)  # type: ignore[arg-type]

    def give_up() -> bool:
        with handover:
            state["given_up"] = not state["delivered"]
            return state["given_up"]

    threading.Thread(target=work, name=f"git {what}", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(answer), timeout)
    except asyncio.CancelledError:
        give_up()
        raise
    except TimeoutError:
        if not give_up():
            return await answer  # the answer was on its way as the deadline passed
        raise RemoteError(
            f"{what} timed out: the remote did not finish within {timeout:g} s"
            " (the git_timeout_s setting)"
        ) from None
