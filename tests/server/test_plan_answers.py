"""Reading the model's answers about a plan: JSON found, suggestions checked, drafts repaired."""

from __future__ import annotations

import json

import pytest

from codality_server.domain.planning import (
    UnusableAnswer,
    answer_value,
    changes_since,
    json_in,
    read_drafts,
    read_readiness,
    read_suggestions,
    read_title,
)

BODY = "# Tags\n\nLet people label tickets.\n\n## Storage\n\nTBD\n"


def test_json_is_found_in_fences_or_prose() -> None:
    assert json_in('Sure:\n```json\n[{"a": 1}]\n```\nDone.') == [{"a": 1}]
    assert json_in('first ```\n{"x": 1}\n``` then ```json\n{"x": 2}\n```') == {"x": 2}
    assert json_in('The verdict is {"ready": true} as you see.') == {"ready": True}
    assert json_in('[not json] but {"ok": 1}') == {"ok": 1}
    with pytest.raises(UnusableAnswer, match="no JSON"):
        json_in("I could not decide.")


def test_changes_since_is_a_diff_or_nothing() -> None:
    assert changes_since(None, BODY) == ""
    assert changes_since(BODY, BODY) == ""
    diff = changes_since(BODY, BODY.replace("TBD", "A tags table."))
    assert "-TBD" in diff and "+A tags table." in diff


def test_suggestions_must_apply_to_the_plan() -> None:
    answer = json.dumps(
        [
            {"passage": "TBD", "text": "A `tags` table (id, name).", "why": "Be concrete."},
            {"passage": "not in the plan", "text": "x", "why": "stale"},
            {"passage": "", "text": "## Out of scope\n\nColours.", "why": "Say what is not done."},
            {"passage": "TBD", "text": "   "},
            "junk",
        ]
    )
    found = read_suggestions(json_in(answer), BODY)
    assert [s.passage for s in found] == ["TBD", ""]
    assert found[0].why == "Be concrete."
    assert read_suggestions({"suggestions": []}, BODY) == ()
    with pytest.raises(UnusableAnswer):
        read_suggestions({"advice": "none"}, BODY)


def test_readiness_needs_a_yes_or_no() -> None:
    verdict = read_readiness(
        json_in('{"ready": false, "explanation": "Storage is open.", "missing": ["schema", ""]}'),
        "t",
    )
    assert (verdict.ready, verdict.explanation, verdict.missing) == (
        False,
        "Storage is open.",
        ("schema",),
    )
    assert read_readiness({"ready": True, "explanation": "Fine"}, "t").missing == ()
    with pytest.raises(UnusableAnswer, match="ready"):
        read_readiness({"ready": "maybe"}, "t")


def test_drafts_are_repaired_and_every_repair_is_reported() -> None:
    answer = json.dumps(
        {
            "drafts": [
                {"title": "Schema", "description": "Tables.", "kind": "Refactor", "priority": "P1"},
                {"title": "API", "kind": "epic", "priority": "whenever", "depends_on": ["Schema"]},
                {"title": "UI", "kind": "feature", "depends_on": [2, "#1", 3, 9, "Nope"]},
            ]
        }
    )
    extraction = read_drafts(json_in(answer))
    drafts = extraction.drafts
    assert [(d.order, d.title, d.kind.value, d.priority.value) for d in drafts] == [
        (1, "Schema", "chore", "high"),
        (2, "API", "task", "medium"),
        (3, "UI", "feature", "medium"),
    ]
    assert [d.depends_on for d in drafts] == [(), (1,), (1, 2)]
    assert extraction.repairs == (
        "draft 2 (API): kind 'epic' → task",
        "draft 2 (API): priority 'whenever' → medium",
        "draft 3 (UI): dropped dependency 3 (not an earlier draft)",
        "draft 3 (UI): dropped dependency 9 (an unknown draft)",
        "draft 3 (UI): dropped dependency 'Nope' (an unknown draft)",
    )


@pytest.mark.parametrize(
    "answer,problem",
    [
        ("no drafts today", "no JSON"),
        ('{"drafts": "many"}', "not a JSON list"),
        ("[]", "no ticket drafts"),
        ('[{"title": "A"}, {"description": "no title"}]', "draft 2 has no title"),
        ('[{"title": "A"}, 7]', "draft 2 is not an object"),
        (json.dumps([{"title": "A", "description": "x" * 200_000}]), "description"),
    ],
)
def test_drafts_that_cannot_be_repaired_are_refused(answer: str, problem: str) -> None:
    with pytest.raises(UnusableAnswer, match=problem):
        read_drafts(answer_value(None, answer))


def test_an_answer_tools_input_is_read_before_any_text() -> None:
    given = {"tickets": [{"title": "Schema"}, {"title": "API", "depends_on": [1]}]}
    extraction = read_drafts(answer_value(given, "ignored: [1, 2]"))
    assert [(d.title, d.depends_on) for d in extraction.drafts] == [("Schema", ()), ("API", (1,))]
    assert answer_value(None, '```json\n{"ready": true}\n```') == {"ready": True}


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"title": "Tags for tickets"}\n```',
        '{"title": "Tags for tickets."}',
        'Sure! Here it is:\n```json\n{"title": "Tags for tickets"}\n```',
        "```\nTags for tickets\n```",
        '"Tags for tickets."',
        "Title: **Tags for tickets**",
        "\n  Tags   for tickets\nbecause the plan is about tags",
    ],
)
def test_a_title_is_read_from_fenced_json_plain_json_or_prose(text: str) -> None:
    assert read_title(None, text) == "Tags for tickets"


def test_a_title_from_the_tool_wins_and_nothing_usable_is_empty() -> None:
    assert read_title({"title": " Tags\nfor tickets "}, "```json\n{}\n```") == "Tags for tickets"
    assert read_title(None, '```json\n{"name": "x"}\n```') == ""
    assert read_title({"title": 7}, "Prose title") == ""
    assert read_title(None, "x" * 300) == "x" * 200
