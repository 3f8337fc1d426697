"""Every tool schema the product sends a model, and the scripted model that follows them.

A model fills what a tool's ``input_schema`` shows: a schema that requires a property it never
defines (as ``propose_tickets`` once required a ``title`` it had dropped) can't be followed. Each
schema must be valid JSON Schema and define everything it requires. The scripted model builds
its inputs from these schemas and checks them with its own small checker; here that checker is
held to the real validator (jsonschema_rs), both on what it builds and on what it refuses.
"""

from __future__ import annotations

from typing import Any

import anthropic
import jsonschema_rs
import pytest

from codality_server.agent.tools import ALL_TOOLS
from codality_server.domain.discover import PROPOSAL_TOOLS
from codality_server.domain.planning import ANSWER_TOOLS
from codality_server.domain.tool_schema import input_schema
from codality_server.scripted.tool_input import SchemaProblem, build, problems
from tests.fakes.anthropic_server import FakeAnthropic, schema_problems, tool


def product_tools() -> list[dict[str, Any]]:
    """Every tool definition the server sends: the agents' tools (ticket, planner, discovery
    and feedback sessions pick from these), discovery's proposal tools, and the answer tools of
    one-shot structured answers (titles, readiness, ticket drafts)."""
    return [
        *(t.spec() for t in ALL_TOOLS),
        *(t.spec() for t in ANSWER_TOOLS),
        *(
            {"name": name, "input_schema": input_schema(spec.schema)}
            for name, spec in PROPOSAL_TOOLS.items()
        ),
    ]


TOOLS = {spec["name"]: spec for spec in product_tools()}


def test_the_walk_covers_every_kind_of_tool() -> None:
    assert {"bash", "read_file", "propose_tickets", "give_title", "propose_drafts"} <= set(TOOLS)
    assert len(TOOLS) == len(product_tools())  # no two tools share a name


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_each_schema_is_valid_and_defines_what_it_requires(name: str) -> None:
    schema = TOOLS[name]["input_schema"]
    assert schema_problems(schema) == []
    assert schema["type"] == "object"


def test_the_schema_check_finds_an_undefined_requirement_and_an_invalid_schema() -> None:
    dropped = {"type": "object", "properties": {}, "required": ["title"]}
    assert schema_problems(
        {"type": "object", "properties": {"tickets": {"type": "array", "items": dropped}}}
    ) == ["input_schema.properties.tickets.items: requires 'title' but never defines it"]
    assert "invalid" in schema_problems({"type": "objekt"})[0]


def test_a_proposed_title_is_a_property_of_the_schema() -> None:
    ticket = TOOLS["propose_tickets"]["input_schema"]["properties"]["tickets"]["items"]
    assert ticket["properties"]["title"]["type"] == "string"
    assert "title" in TOOLS["propose_plan"]["input_schema"]["properties"]
    assert "title" in TOOLS["propose_ticket_update"]["input_schema"]["properties"]
    assert "title" not in TOOLS["propose_tickets"]["input_schema"]  # pydantic's annotation is gone


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_what_the_scripted_model_builds_is_valid_for_the_real_validator(name: str) -> None:
    schema = TOOLS[name]["input_schema"]
    built = build(schema, {}, name)
    assert set(schema.get("required", [])) <= set(built)
    jsonschema_rs.validate(schema, built)


def _breakages(schema: dict[str, Any], valid: dict[str, Any]) -> list[dict[str, Any]]:
    """Inputs that break ``schema`` in the ways a careless script would: an unknown field, a
    value of the wrong type, and (last, which ``build`` fills in) a required field left out."""
    broken: list[dict[str, Any]] = [{**valid, "no_such_field": 1}]
    for name in schema.get("required", []):
        broken.append({**valid, name: 7 if isinstance(valid[name], str) else "seven"})
    return broken


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_the_scripted_checker_refuses_what_the_real_validator_refuses(name: str) -> None:
    schema = TOOLS[name]["input_schema"]
    valid = build(schema, {}, name)
    for value in _breakages(schema, valid):
        assert not jsonschema_rs.is_valid(schema, value)  # the control: it is really broken
        assert problems(schema, value), value
        with pytest.raises(SchemaProblem):
            build(schema, value, name)
    for required in schema.get("required", []):
        missing = {k: v for k, v in valid.items() if k != required}
        assert not jsonschema_rs.is_valid(schema, missing)
        assert problems(schema, missing) == [f"input: {required!r} is required"]


def test_script_values_are_kept_and_checked_inside_lists_and_choices() -> None:
    queue = TOOLS["propose_queue"]["input_schema"]
    built = build(queue, {"items": [{"ticket": 3}, {"title": "Add farewell()"}]}, "propose_queue")
    assert built["items"] == [{"ticket": 3}, {"title": "Add farewell()"}]
    assert built["name"]  # required, not given: filled from the schema
    jsonschema_rs.validate(queue, built)
    with pytest.raises(SchemaProblem, match="matches no choice"):
        build(queue, {"items": [{"ticket": 0}]}, "propose_queue")
    tickets = TOOLS["propose_tickets"]["input_schema"]
    with pytest.raises(SchemaProblem, match=r"tickets\[0\].kind"):
        build(tickets, {"tickets": [{"title": "A", "kind": "epic"}]}, "propose_tickets")


def test_a_schema_keyword_the_checker_does_not_know_is_a_problem() -> None:
    with pytest.raises(SchemaProblem, match="can't check"):
        build({"type": "object", "oneOf": [{"required": ["a"]}]}, {}, "odd")


def _ask(fake: FakeAnthropic, tools: list[dict[str, Any]], **extra: Any) -> anthropic.Anthropic:
    client = anthropic.Anthropic(api_key="sk-test", base_url=fake.url, max_retries=0)
    with client.messages.stream(
        model="m",
        max_tokens=10,
        messages=[{"role": "user", "content": "go"}],
        tools=tools,  # type: ignore[arg-type]
        **extra,
    ) as stream:
        stream.get_final_message()
    return client


def test_the_fake_model_refuses_a_turn_that_does_not_follow_its_request() -> None:
    fake = FakeAnthropic().start()
    try:
        offered = [TOOLS["read_file"]]
        fake.script(tool("bash", command="ls"))
        with pytest.raises(anthropic.BadRequestError, match="bash: not among"):
            _ask(fake, offered)
        fake.script(tool("read_file", path=3))
        with pytest.raises(anthropic.BadRequestError, match="is not of type string"):
            _ask(fake, offered)
        fake.script({"blocks": [{"type": "text", "text": "I won't."}]})
        with pytest.raises(anthropic.BadRequestError, match="forces the tool read_file"):
            _ask(fake, offered, tool_choice={"type": "tool", "name": "read_file"})
        undefined = {"type": "object", "properties": {}, "required": ["title"]}
        with pytest.raises(anthropic.BadRequestError, match="requires 'title' but never"):
            _ask(fake, [{"name": "t", "input_schema": undefined}])
        assert len(fake.problems) == 4
        fake.problems.clear()  # expected: stop() fails a test on any left
        fake.script(tool("read_file"))  # the control: a turn that follows its request
        message = _ask(fake, offered, tool_choice={"type": "tool", "name": "read_file"})
        assert message is not None and fake.problems == []
        assert fake.requests[-1]["tool_choice"] == {"type": "tool", "name": "read_file"}
    finally:
        fake.stop()
