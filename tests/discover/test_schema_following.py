"""Discovery with a model that fills the proposal tools from the schemas it is sent.

The scripted model builds each tool input from the request's ``input_schema`` (the script gives
only some values; everything else required comes from the schema) and refuses a script value the
schema does not allow. So these proposals are what a real model following the schemas sends:
if the schemas lose a property (as ``title`` once was), the model can't propose it and the test
fails.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.discover.test_conversations import decide, new_conversation
from tests.discover.test_replies import send
from tests.fakes.anthropic_server import FakeAnthropic, text, tool


async def test_proposals_filled_from_the_schemas_are_confirmed_with_their_titles(
    agent_api: httpx.AsyncClient, project: dict[str, Any], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        tool(
            "propose_tickets",
            say="Two steps.",
            tickets=[
                {"title": "Greet in French"},
                {"title": "Document greet()", "depends_on": [1]},
            ],
        ),
        tool("propose_plan", body="# Languages\n\nFrench first, then Spanish."),
        tool("propose_tickets"),  # everything from the schema
        text("Confirm what you want."),
    )
    conversation = await new_conversation(agent_api, project, "Languages")
    reply = (await send(agent_api, project, conversation, "What next?", wait=True)).json()
    assert reply["status"] == "complete", reply["error"]
    sent = [call["input"] for call in reply["tool_calls"]]
    assert sent[1]["title"] and sent[2]["tickets"][0]["title"]  # the model filled the titles in
    tickets, plan, filled = reply["actions"]
    assert [a["status"] for a in reply["actions"]] == ["pending"] * 3

    made = (await decide(agent_api, project, conversation, tickets, decision="confirm")).json()
    assert [(t["number"], t["title"]) for t in made["result"]["tickets"]] == [
        (1, "Greet in French"),
        (2, "Document greet()"),
    ]
    confirmed = await decide(agent_api, project, conversation, plan, decision="confirm")
    assert confirmed.status_code == 200, confirmed.text
    plans = (await agent_api.get(f"/api/projects/{project['slug']}/plans")).json()
    assert [p["title"] for p in plans] == [sent[1]["title"]]
    made = (await decide(agent_api, project, conversation, filled, decision="confirm")).json()
    [ticket] = made["result"]["tickets"]
    assert ticket["title"] == sent[2]["tickets"][0]["title"]

    # A ticket's title can be proposed as a change.
    fake_anthropic.script(
        tool("propose_ticket_update", number=1, title="Greet in French and Spanish"), text("Ok.")
    )
    reply = (await send(agent_api, project, conversation, "Rename #1", wait=True)).json()
    [update] = reply["actions"]
    decided = await decide(agent_api, project, conversation, update, decision="confirm")
    assert decided.status_code == 200, decided.text
    ticket_one = (await agent_api.get(f"/api/projects/{project['slug']}/tickets/1")).json()
    assert ticket_one["title"] == "Greet in French and Spanish"
