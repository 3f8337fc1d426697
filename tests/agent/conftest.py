"""Agent helpers: the ticket the scripted model works on, waiting for sessions, blocks and
events, and the sandboxes (the fake model and ``agent_api`` fixtures live in
``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.agent.landlock import abi_version
from codality_server.agent.sandbox import SandboxKind, bubblewrap_problem, landlock_problem
from codality_server.domain.sessions import TokenCounts
from tests.conftest import create_ticket

# ``.ci/run`` sets CODALITY_CI=1: there bubblewrap must be installed and must work.
IN_CI = os.environ.get("CODALITY_CI") == "1"


@pytest.fixture
async def bubblewrap() -> None:
    """For tests of bubblewrap: skipped only where bwrap is not installed and this is not CI; a
    bwrap that is installed but cannot run (or is missing in CI) fails the test."""
    if shutil.which("bwrap") is None and not IN_CI:
        pytest.skip("bubblewrap is not installed")
    problem = await bubblewrap_problem(network=False)
    assert problem is None, problem


@pytest.fixture
async def landlock() -> int:
    """For tests of Landlock: skipped on kernels without it; one that has it must work. Returns
    the kernel's Landlock ABI version."""
    abi = abi_version()
    if abi < 4:
        pytest.skip(f"the sandbox needs Landlock ABI 4 (this kernel: {abi})")
    problem = await landlock_problem(network=True)
    assert problem is None, problem
    return abi


@pytest.fixture
def broken_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``bwrap`` first on PATH that fails the way it does in a container without user
    namespaces."""
    folder = tmp_path / "broken-bin"
    folder.mkdir()
    fake = folder / "bwrap"
    complaint = "bwrap: No permissions to creating new namespace"
    fake.write_text(f"#!/bin/sh\necho '{complaint}' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return fake


def billed(usages: list[dict[str, int]]) -> TokenCounts:
    """The tokens of the Messages API's ``usage`` reports, added up as the session counts them."""
    total = TokenCounts()
    for usage in usages:
        total += TokenCounts(
            usage["input_tokens"],
            usage["cache_creation_input_tokens"],
            usage["cache_read_input_tokens"],
            usage["output_tokens"],
        )
    return total


TERMINAL = {"completed", "failed", "stopped", "timed_out", "interrupted"}


async def new_ticket(api: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    """The ticket the scripted agent runs work on (title and description overridable)."""
    defaults = {"title": "Add a farewell function", "description": "We need `farewell(name)`."}
    return await create_ticket(api, slug, **{**defaults, **fields})


def agent_url(project: dict[str, Any], ticket: dict[str, Any], verb: str) -> str:
    return f"/api/projects/{project['slug']}/tickets/{ticket['number']}/agent/{verb}"


async def wait_for_end(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any], timeout: float = 30
) -> dict[str, Any]:
    """Poll the status until the latest session has ended; returns that session."""
    async with asyncio.timeout(timeout):
        while True:
            status = (await api.get(agent_url(project, ticket, "status"))).json()
            if not status["running"] and status["session"]["status"] in TERMINAL:
                return dict(status["session"])
            await asyncio.sleep(0.05)


async def wait_for_block(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
    session_id: int,
    kind: str,
    timeout: float = 20,
) -> dict[str, Any]:
    """Poll the stored transcript until a block of ``kind`` appears."""
    url = agent_url(project, ticket, f"sessions/{session_id}")
    async with asyncio.timeout(timeout):
        while True:
            blocks = (await api.get(url)).json()["transcript"]
            found = [b for b in blocks if b["kind"] == kind]
            if found:
                return dict(found[-1])
            await asyncio.sleep(0.05)


async def replay_events(
    api: httpx.AsyncClient, ticket: dict[str, Any], until: str = "agent:stopped"
) -> list[dict[str, Any]]:
    """The ticket channel's events from the start of the server's replay ring, over the real SSE
    endpoint, up to and including the first ``until`` event."""
    return await channel_events(api, f"ticket:{ticket['id']}", until=until)


async def project_events(
    api: httpx.AsyncClient, project: dict[str, Any], after: int = 0, until: str = "queue:completed"
) -> list[dict[str, Any]]:
    """The project channel's events after id ``after``, up to and including the first ``until``."""
    return await channel_events(api, f"project:{project['id']}", after, until)


async def channel_events(
    api: httpx.AsyncClient, channel: str, after: int = 0, until: str = "agent:stopped"
) -> list[dict[str, Any]]:
    """One channel's events after id ``after`` (0: the whole replay ring), over the real SSE
    endpoint, up to and including the first ``until`` event."""
    from httpx_sse import aconnect_sse

    seen: list[dict[str, Any]] = []
    params = {"channel": channel}
    async with (
        asyncio.timeout(20),
        aconnect_sse(
            api, "GET", "/api/events", params=params, headers={"Last-Event-ID": str(after)}
        ) as source,
    ):
        async for sse in source.aiter_sse():
            if not sse.data:
                continue
            frame = sse.json()
            seen.append({"id": int(sse.id), "type": frame["type"], "data": frame["data"]})
            if frame["type"] == until:
                return seen
    raise AssertionError(f"the stream ended before {until}")


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A folder outside ``/tmp``: the sandbox's private ``/tmp`` hides pytest's ``tmp_path``
    whatever the code does, so secrets that must be shown hidden *by the code* live here."""
    folder = Path(tempfile.mkdtemp(prefix="codality-test-", dir="/var/tmp")).resolve()
    assert not folder.is_relative_to("/tmp"), folder
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["bubblewrap", "landlock"])
def confined(request: pytest.FixtureRequest) -> SandboxKind:
    """Each real sandbox in turn, skipped or failed by its own fixture's rules."""
    kind: SandboxKind = request.param
    request.getfixturevalue(kind)
    return kind
