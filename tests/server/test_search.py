"""Full-text ticket search over HTTP: ranking, comments, snippets, prefixes and hostile input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import assert_error, create_project, create_ticket
from tests.server.repos import make_repo


async def search(api: httpx.AsyncClient, slug: str, q: str, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(f"/api/projects/{slug}/tickets/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_a_title_hit_ranks_above_a_description_hit(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Tidy the docs", description="The cache is mentioned.")
    await create_ticket(api, slug, title="Cache invalidation", description="Stale reads.")
    await create_ticket(api, slug, title="Unrelated", description="Nothing to see.")
    hits = await search(api, slug, "cache")
    assert [hit["number"] for hit in hits] == [2, 1]
    assert hits[0]["rank"] < hits[1]["rank"]
    assert hits[0]["title"] == "Cache invalidation"
    assert "[Cache]" in hits[0]["snippet"]
    assert "[cache]" in hits[1]["snippet"]
    assert hits[0]["kind"] == "task" and "status" in hits[0]


async def test_comments_are_searched_and_reindexed_on_each_comment(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Login page", description="Slow.")
    assert await search(api, slug, "segfault") == []
    posted = await api.post(
        f"/api/projects/{slug}/tickets/1/comments", json={"body": "Also a segfault on Safari."}
    )
    assert posted.status_code == 201
    hits = await search(api, slug, "segfault")
    assert [hit["number"] for hit in hits] == [1]
    assert "[segfault]" in hits[0]["snippet"]
    # an edit of the ticket keeps its comments in the index
    await api.put(f"/api/projects/{slug}/tickets/1", json={"title": "Sign-in page"})
    assert [h["number"] for h in await search(api, slug, "segfault")] == [1]
    assert [h["number"] for h in await search(api, slug, "sign")] == [1]
    assert await search(api, slug, "login") == []


async def test_prefix_search_and_all_words_required(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Database migration fails")
    await create_ticket(api, slug, title="Migrate the logger")
    await create_ticket(api, slug, title="Database timeout")
    assert sorted(h["number"] for h in await search(api, slug, "migr*")) == [1, 2]
    assert [h["number"] for h in await search(api, slug, "database migr*")] == [1]
    assert await search(api, slug, "migr") == []
    assert len(await search(api, slug, "database", limit=1)) == 1


async def test_search_stays_inside_the_project(
    api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> None:
    other = await create_project(api, make_repo(tmp_path / "other"))
    await create_ticket(api, project["slug"], title="Quartz widget")
    await create_ticket(api, other["slug"], title="Quartz gadget")
    hits = await search(api, project["slug"], "quartz")
    assert [(h["project_id"], h["title"]) for h in hits] == [(project["id"], "Quartz widget")]


@pytest.mark.parametrize(
    "q",
    [
        "foo AND",
        "c++",
        '"',
        '""',
        "NEAR(",
        "NEAR(a b",
        "OR",
        "-x",
        "title:foo",
        "^start",
        "(a OR b",
        "it's",
        "a\\b",
        "emoji 🚀",
        "x" * 2000,
        "*foo",
        "a*b*",
    ],
)
async def test_hostile_queries_are_searched_as_text(
    api: httpx.AsyncClient, project: dict[str, Any], q: str
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Support c++ and foo", description='say "hi" NEAR here')
    response = await api.get(f"/api/projects/{slug}/tickets/search", params={"q": q})
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


async def test_operator_words_match_as_plain_words(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Support c++ AND rust")
    await create_ticket(api, slug, title="Support rust")
    assert [h["number"] for h in await search(api, slug, "c++")] == [1]
    assert [h["number"] for h in await search(api, slug, "support AND")] == [1]


@pytest.mark.parametrize(
    "params,field",
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "**"}, "q"),
        ({}, "q"),
        ({"q": "x", "limit": "0"}, "limit"),
        ({"q": "x", "limit": "101"}, "limit"),
        ({"q": "x", "limit": "lots"}, "limit"),
    ],
)
async def test_empty_queries_and_bad_limits_are_400(
    api: httpx.AsyncClient, project: dict[str, Any], params: dict[str, str], field: str
) -> None:
    response = await api.get(f"/api/projects/{project['slug']}/tickets/search", params=params)
    assert assert_error(response, 400, "invalid_input")["field"] == field


async def test_unknown_project_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/projects/nope/tickets/search", params={"q": "x"})
    assert_error(response, 404, "not_found")
