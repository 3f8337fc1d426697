"""The CLI's typed models: generated from the current OpenAPI document, as the server answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from codality_cli.api import models
from codality_server.http.openapi import build_openapi
from codality_server.http.routes import all_routes
from tests.conftest import RunningServer, attach_work, create_ticket

ROOT = Path(__file__).resolve().parent.parent
ENTITIES = [
    "Ticket",
    "SessionView",
    "AgentStatus",
    "PlanView",
    "QueueView",
    "Comment",
    "Review",
    "PullRequest",
    "Project",
    "User",
    "Conversation",
]


def test_the_clis_models_are_generated_from_the_current_document() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_models.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, f"run `.venv/bin/python scripts/gen_models.py`: {check.stdout}"


def test_every_entity_has_the_documents_properties_and_required_ones() -> None:
    schemas = build_openapi(all_routes())["components"]["schemas"]
    for name in ENTITIES:
        typed = getattr(models, name)
        schema = schemas[name]
        assert list(typed.__annotations__) == list(schema["properties"]), name
        assert typed.__required_keys__ == frozenset(schema.get("required", [])), name


def keys_fit(model: Any, answer: dict[str, Any]) -> None:
    """The answer carries every key the model requires, and no key it does not know."""
    assert model.__required_keys__ <= set(answer), sorted(model.__required_keys__ - set(answer))
    assert set(answer) <= set(model.__annotations__), sorted(
        set(answer) - set(model.__annotations__)
    )


async def test_real_answers_have_the_models_keys(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    ticket = await create_ticket(api, slug, description="d")
    comment = await api.post(
        f"/api/projects/{slug}/tickets/{ticket['number']}/comments", json={"body": "hi"}
    )
    answers = {
        models.Project: (await api.get(f"/api/projects/{slug}")).json(),
        models.Ticket: (await api.get(f"/api/projects/{slug}/tickets/{ticket['number']}")).json(),
        models.Comment: comment.json(),
        models.User: (await api.get("/api/auth/me")).json(),
        models.AgentStatus: (
            await api.get(f"/api/projects/{slug}/tickets/{ticket['number']}/agent/status")
        ).json(),
    }
    for model, answer in answers.items():
        keys_fit(model, answer)


async def test_a_review_asking_for_changes_answers_what_became_of_its_feedback(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
) -> None:
    """``changes_requested`` adds ``feedback`` (the agent started on it, or why not): the
    document said ``Review``, which has no such property."""
    ticket = await create_ticket(api, project["slug"])
    attach_work(server, ticket, git_repo, tmp_path / "wt", "codality/1-work")
    url = f"/api/projects/{project['slug']}/tickets/{ticket['number']}/reviews"
    asked = await api.post(url, json={"state": "changes_requested", "body": "Shorter, please."})
    approved = await api.post(url, json={"state": "approved"})

    assert asked.status_code == approved.status_code == 201, asked.text
    keys_fit(models.ReviewSubmitted, asked.json())
    keys_fit(models.ReviewFeedback, asked.json()["feedback"])
    assert asked.json()["feedback"]["started"] is False  # no API key: the reason says why
    assert asked.json()["feedback"]["reason"]
    keys_fit(models.ReviewSubmitted, approved.json())
    assert "feedback" not in approved.json()
