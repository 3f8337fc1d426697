"""kill -9 of the server while a discovery reply streams, then a restart: what was shown stays,
and the reply is marked as cut off."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.agent.test_crash_recovery import spawn, wait_until
from tests.fakes.anthropic_server import FakeAnthropic, text

LONG = "The greeter module builds the greeting. " * 60


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


def test_kill_9_mid_reply_keeps_what_was_shown_and_marks_it_interrupted(
    tmp_path: Path, git_repo: Path, fake: FakeAnthropic
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    fake.script(text(LONG, delay_s=0.02), text("Picking up again."))
    process, url = spawn(data_dir)
    try:
        code = (data_dir / "setup-code").read_text().strip()
        token = httpx.post(
            f"{url}/api/setup/verify", json={"code": code, "email": "a@example.com"}
        ).json()["token"]
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url}
        assert api.put("/api/settings/env", json=env).status_code == 200
        slug = api.post("/api/projects", json={"mode": "existing", "path": str(git_repo)}).json()[
            "slug"
        ]
        base = f"/api/projects/{slug}/discover/conversations"
        conversation = api.post(base, json={"title": "Crash"}).json()
        path = f"{base}/{conversation['id']}"
        sent = api.post(f"{path}/messages", json={"content": "Explain it all"})
        assert sent.status_code == 202

        def shown_text() -> str:
            messages = api.get(path).json()["messages"]
            return str(messages[-1]["content"]) if len(messages) == 2 else ""

        wait_until(lambda: len(shown_text()) > 200)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    process, url = spawn(data_dir)
    try:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        shown = api.get(path).json()
        assert shown["streaming"] is False
        user, reply = shown["messages"]
        assert user["content"] == "Explain it all"
        assert reply["status"] == "interrupted" and "server stopped" in reply["error"]
        assert len(reply["content"]) > 200 and LONG.startswith(reply["content"])
        # The conversation goes on; the model is told the last reply was cut off.
        again = api.post(
            f"{path}/messages", json={"content": "Go on"}, params={"wait": "true"}, timeout=30
        )
        assert again.json()["content"] == "Picking up again."
        context = fake.requests[-1]["messages"]
        assert "cut off" in context[1]["content"][-1]["text"]
    finally:
        process.terminate()
        process.wait(10)
