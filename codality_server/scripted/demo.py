"""What ``codality demo`` plays: the fast model finds the plan ready, the model splits it into two
ticket drafts, then the two agent sessions run one after another through a work queue: fix a
small bug in the sample ``greeter`` repo, then add a ``farewell`` beside ``greet``.

The sample repository is made by ``codality_cli/commands/demo.py``; the tool inputs below match
its files. Frames are paced a little so the run reads like a live one.
"""

from __future__ import annotations

from .server import Turn

PACE_S = 0.015


def _turn(*blocks: dict[str, object]) -> Turn:
    return {"blocks": list(blocks), "delay_s": PACE_S}


def _say(text: str) -> dict[str, object]:
    return {"type": "text", "text": text}


def _use(name: str, **tool_input: object) -> dict[str, object]:
    return {"type": "tool_use", "name": name, "input": tool_input}


DEMO_DRAFTS = [
    {
        "title": "Greet people with an exclamation mark",
        "description": '`greet("Ada")` should return `"Hello, Ada!"`, not `"Hello, Ada"`;'
        " update its test.",
        "kind": "bug",
        "priority": "high",
        "depends_on": [],
    },
    {
        "title": "Say goodbye too",
        "description": 'Add `farewell(name)` next to `greet`: `farewell("Ada")` is'
        ' `"Goodbye, Ada!"`, with a test.',
        "kind": "feature",
        "priority": "medium",
        "depends_on": [1],
    },
]
READINESS = {
    "ready": True,
    "explanation": "It says what changes in greeter and how the tests show it.",
    "missing": [],
}

DEMO_SCRIPT: list[Turn] = [
    _turn(_use("report_readiness", **READINESS)),
    _turn(_use("propose_drafts", tickets=DEMO_DRAFTS)),
    _turn(
        {
            "type": "thinking",
            "thinking": "The ticket asks for an exclamation mark after the name. I should find "
            "where greetings are built and check how it is tested.",
        },
        _say("I'll start by looking at what is in the repository.\n"),
        _use("list_directory", path="."),
    ),
    _turn(_say("Let me read the greeter and its test.\n"), _use("read_file", path="greeter.py")),
    _turn(_use("read_file", path="test_greeter.py")),
    _turn(
        _say("The greeting is built in `greet`. I'll add the exclamation mark there.\n"),
        _use(
            "edit_file",
            path="greeter.py",
            old_text='return "Hello, " + name',
            new_text='return f"Hello, {name}!"',
        ),
    ),
    _turn(
        _say("And update the test to expect it.\n"),
        _use(
            "edit_file",
            path="test_greeter.py",
            old_text='"Hello, Ada")',
            new_text='"Hello, Ada!")',
        ),
    ),
    _turn(_say("Now the tests.\n"), _use("bash", command="python3 -m unittest -v 2>&1")),
    _turn(
        _say(
            'Greetings now end with an exclamation mark: `greet("Ada")` returns '
            '`"Hello, Ada!"`. I updated `test_greeter.py` to match and the tests pass.'
        )
    ),
    # The second ticket depends on the first, so its branch is stacked on the first one's:
    # ``greet`` already ends with the exclamation mark there.
    _turn(
        _say("I'll add `farewell` right after `greet`.\n"),
        _use(
            "edit_file",
            path="greeter.py",
            old_text='    return f"Hello, {name}!"\n',
            new_text='    return f"Hello, {name}!"\n\n\ndef farewell(name):\n'
            '    """Say goodbye to someone by name."""\n    return f"Goodbye, {name}!"\n',
        ),
    ),
    _turn(
        _say("And a test for it.\n"),
        _use(
            "write_file",
            path="test_greeter.py",
            content="import unittest\n\nfrom greeter import farewell, greet\n\n\n"
            "class GreetTest(unittest.TestCase):\n"
            "    def test_greet(self):\n"
            '        self.assertEqual(greet("Ada"), "Hello, Ada!")\n\n'
            "    def test_farewell(self):\n"
            '        self.assertEqual(farewell("Ada"), "Goodbye, Ada!")\n',
        ),
    ),
    _turn(_use("bash", command="python3 -m unittest -v 2>&1")),
    _turn(
        _say(
            'Added `farewell(name)`: `farewell("Ada")` returns `"Goodbye, Ada!"`, with a test;'
            " the tests pass."
        )
    ),
]


# The discovery conversation ``codality demo --discover`` plays: the model looks at the sample
# repository, then proposes tickets and a work queue for the user to confirm.
DISCOVER_SCRIPT: list[Turn] = [
    _turn(
        _say("Let me look at the project first.\n"),
        _use("list_directory", path="."),
    ),
    _turn(_use("read_file", path="greeter.py")),
    _turn(
        _say(
            "greeter is one function, `greet(name)`, with one test. Two small improvements"
            " stand out: greeting in other languages, and documenting the function.\n"
        ),
        _use(
            "propose_tickets",
            tickets=[
                {
                    "title": "Greet in other languages",
                    "description": "`greet(name, language='en')` with French and Spanish.",
                    "kind": "feature",
                    "priority": "medium",
                },
                {
                    "title": "Document greet() in the README",
                    "description": "Show the languages `greet` supports.",
                    "kind": "chore",
                    "priority": "low",
                    "depends_on": [1],
                },
            ],
            rationale="The README should describe the languages once they exist.",
        ),
    ),
    _turn(
        _say("For the agents to work through in order, a queue of two follow-ups:\n"),
        {
            "type": "tool_use",
            "name": "propose_queue",
            "input": {
                "name": "Farewells",
                "description": "Say goodbye as well as hello.",
                "items": [
                    {"title": "Add farewell(name)", "kind": "feature"},
                    {"title": "Test farewell()", "kind": "chore"},
                ],
            },
        },
    ),
    _turn(_say("Confirm what you want and the agents can start on it.")),
]
