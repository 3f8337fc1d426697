"""What the model says about a plan, read strictly: titles, suggestions, readiness and drafts.

A one-shot answer (a title, a readiness verdict, ticket drafts) is asked for through a tool the
request forces the model to call (``AnswerTool``), so it arrives as that tool's input. An
Anthropic-compatible endpoint may ignore ``tool_choice`` and answer in text instead: then the
JSON in the text is read (fenced or bare), and a title may be plain prose (``read_title``).
Suggestions come as the last text of a session and are read the same way.

An answer is never trusted as is: a suggestion must point at a passage that is really in the
plan, a readiness verdict must be a yes or no, and extracted drafts go through the same rules as
drafts a person writes (``order_drafts``). What can be repaired is, and each repair is reported
(an unknown kind or priority becomes the default; a dependency on an unknown or later draft is
dropped); what can't (no JSON, a draft without a title) is refused with ``UnusableAnswer`` and
nothing is stored.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import InvalidInput
from .plans import MAX_DRAFTS, DraftInput, Readiness, Suggestion, TicketDraft, order_drafts
from .tickets import Kind, Priority
from .tool_schema import input_schema

MAX_SUGGESTIONS = 20
CHANGES_MAX_CHARS = 20_000
KIND_SYNONYMS = {
    "enhancement": Kind.FEATURE,
    "story": Kind.FEATURE,
    "user story": Kind.FEATURE,
    "improvement": Kind.FEATURE,
    "fix": Kind.BUG,
    "defect": Kind.BUG,
    "bugfix": Kind.BUG,
    "maintenance": Kind.CHORE,
    "refactor": Kind.CHORE,
    "refactoring": Kind.CHORE,
    "docs": Kind.CHORE,
    "documentation": Kind.CHORE,
    "test": Kind.TASK,
    "tests": Kind.TASK,
    "spike": Kind.TASK,
}
PRIORITY_SYNONYMS = {
    "critical": Priority.URGENT,
    "highest": Priority.URGENT,
    "blocker": Priority.URGENT,
    "p0": Priority.URGENT,
    "p1": Priority.HIGH,
    "p2": Priority.MEDIUM,
    "normal": Priority.MEDIUM,
    "p3": Priority.LOW,
    "lowest": Priority.LOW,
    "minor": Priority.LOW,
}
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n?```", re.DOTALL)


TITLE_MAX_CHARS = 200


class UnusableAnswer(Exception):
    """The model's answer can't be used even after repairs; the message says what was wrong."""


# --- answers through a tool ----------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")  # the schema says so, so the model sends no more


class TitleAnswer(_Answer):
    title: str = Field(description="at most 8 words, no quotes, no full stop")


class ReadinessAnswer(_Answer):
    ready: bool = Field(description="whether the plan can be split into tickets now")
    explanation: str = Field(description="one or two sentences")
    missing: list[str] = Field(
        default_factory=list, description="what is missing, one short item each; empty if ready"
    )


class DraftAnswer(_Answer):
    title: str = Field(description="short, imperative")
    description: str = Field(
        default="", description="self-contained markdown: what to do, where, how to check it"
    )
    kind: Kind = Kind.TASK
    priority: Priority = Priority.MEDIUM
    depends_on: list[int] = Field(
        default_factory=list, description="the numbers of earlier tickets this one needs"
    )


class DraftsAnswer(_Answer):
    tickets: list[DraftAnswer] = Field(
        min_length=1, description="in implementation order; the first is ticket 1"
    )


@dataclass(frozen=True)
class AnswerTool:
    """A tool the model is made to call (``tool_choice``) to give a structured answer."""

    name: str
    description: str
    schema: type[BaseModel]

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": input_schema(self.schema),
        }

    def choice(self) -> dict[str, str]:
        return {"type": "tool", "name": self.name}


TITLE_TOOL = AnswerTool("give_title", "Give the title you chose.", TitleAnswer)
READINESS_TOOL = AnswerTool(
    "report_readiness", "Report whether the plan is ready to be split.", ReadinessAnswer
)
DRAFTS_TOOL = AnswerTool("propose_drafts", "Give the plan's tickets, in order.", DraftsAnswer)
ANSWER_TOOLS = (TITLE_TOOL, READINESS_TOOL, DRAFTS_TOOL)


def answer_value(tool_input: Any, text: str) -> Any:
    """What the model answered: its answer tool's input, else the JSON in its text."""
    return tool_input if tool_input is not None else json_in(text)


def json_in(text: str) -> Any:
    """The JSON value in a model answer: the last fenced block, else the first parsable value."""
    fenced = _FENCE.findall(text)
    candidates = [*reversed(fenced), text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        candidate = candidate.strip()
        for start, char in enumerate(candidate):
            if char in "[{":
                try:
                    value, _ = decoder.raw_decode(candidate, start)
                except ValueError:
                    continue
                return value
    raise UnusableAnswer("the answer holds no JSON")


def changes_since(previous: str | None, current: str) -> str:
    """A unified diff of the body since the last suggestions ('' when unchanged or first time)."""
    if previous is None or previous == current:
        return ""
    diff = difflib.unified_diff(
        previous.splitlines(), current.splitlines(), "before", "now", lineterm="", n=2
    )
    text = "\n".join(diff)
    if len(text) > CHANGES_MAX_CHARS:
        text = text[:CHANGES_MAX_CHARS] + "\n… (diff cut)"
    return text


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def read_suggestions(value: Any, body: str) -> tuple[Suggestion, ...]:
    """Suggestions from the model's answer, keeping only those that can be applied to ``body``.

    Each needs a proposed ``text``; its ``passage`` must occur in the body verbatim (an empty
    passage means "add at the end"). Suggestions that fail either are left out.
    """
    if isinstance(value, dict) and isinstance(value.get("suggestions"), list):
        value = value["suggestions"]
    if not isinstance(value, list):
        raise UnusableAnswer("the suggestions are not a JSON list")
    found: list[Suggestion] = []
    for item in value:
        if not isinstance(item, dict):
            continue
        passage = item.get("passage", "")
        passage = passage if isinstance(passage, str) else ""
        text = item.get("text", "")
        if not isinstance(text, str) or not text.strip():
            continue
        if passage.strip() and passage not in body:
            continue
        found.append(Suggestion(passage, text, _text(item, "why")))
    return tuple(found[:MAX_SUGGESTIONS])


def read_readiness(value: Any, checked_at: str) -> Readiness:
    """The fast model's verdict: ``{"ready": bool, "explanation": str, "missing": [str]}``."""
    if not isinstance(value, dict) or not isinstance(value.get("ready"), bool):
        raise UnusableAnswer('the verdict has no true/false "ready"')
    missing = value.get("missing") or []
    if not isinstance(missing, list):
        missing = [missing]
    return Readiness(
        ready=value["ready"],
        explanation=_text(value, "explanation"),
        missing=tuple(str(m).strip() for m in missing if str(m).strip()),
        checked_at=checked_at,
    )


@dataclass(frozen=True)
class Extraction:
    """Drafts made sound, and what had to be repaired to get there (one sentence each)."""

    drafts: tuple[TicketDraft, ...]
    repairs: tuple[str, ...]


def _choice(raw: Any, enum: type[Kind] | type[Priority], synonyms: dict[str, Any]) -> Any:
    word = raw.strip().lower() if isinstance(raw, str) else ""
    if word in {member.value for member in enum}:
        return enum(word)
    return synonyms.get(word)


def read_drafts(value: Any) -> Extraction:
    """Ordered ticket drafts from the model's answer (``{"tickets": [...]}`` or a bare list),
    repaired where possible.

    The model numbers drafts from 1 in implementation order; ``depends_on`` may name an earlier
    draft by number or by exact title.
    """
    if isinstance(value, dict):
        value = next(
            (value[k] for k in ("tickets", "drafts") if isinstance(value.get(k), list)), value
        )
    if not isinstance(value, list):
        raise UnusableAnswer("the ticket drafts are not a JSON list")
    if not value:
        raise UnusableAnswer("the model proposed no ticket drafts")
    repairs: list[str] = []
    if len(value) > MAX_DRAFTS:
        repairs.append(f"kept the first {MAX_DRAFTS} of {len(value)} drafts")
        value = value[:MAX_DRAFTS]
    titles: dict[str, int] = {}
    for position, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise UnusableAnswer(f"draft {position} is not an object")
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            raise UnusableAnswer(f"draft {position} has no title")
        titles.setdefault(title.strip().lower(), position)
    inputs = []
    for position, item in enumerate(value, start=1):
        title = str(item["title"]).strip()
        kind = _choice(item.get("kind", Kind.TASK.value), Kind, KIND_SYNONYMS)
        if kind is None:
            repairs.append(f"draft {position} ({title}): kind {item.get('kind')!r} → task")
            kind = Kind.TASK
        priority = _choice(item.get("priority", Priority.MEDIUM.value), Priority, PRIORITY_SYNONYMS)
        if priority is None:
            shown = item.get("priority")
            repairs.append(f"draft {position} ({title}): priority {shown!r} → medium")
            priority = Priority.MEDIUM
        depends_on = []
        raw_depends = item.get("depends_on") or []
        for other in raw_depends if isinstance(raw_depends, list) else [raw_depends]:
            number = _draft_number(other, titles, len(value))
            if number is None or number >= position:
                why = "an unknown draft" if number is None else "not an earlier draft"
                repairs.append(f"draft {position} ({title}): dropped dependency {other!r} ({why})")
                continue
            depends_on.append(number)
        description = item.get("description", "")
        inputs.append(
            DraftInput(
                title=title[:500],
                description=description if isinstance(description, str) else str(description),
                kind=kind.value,
                priority=priority.value,
                order=position,
                depends_on=depends_on,
            )
        )
    try:
        drafts = order_drafts(inputs)
    except InvalidInput as exc:  # e.g. a description over the size limit
        raise UnusableAnswer(exc.message) from exc
    return Extraction(drafts, tuple(repairs))


def _draft_number(reference: Any, titles: dict[str, int], count: int) -> int | None:
    """The draft a dependency names (by number, ``#number`` or exact title), None if none."""
    number: int | None = None
    if isinstance(reference, int) and not isinstance(reference, bool):
        number = reference
    elif isinstance(reference, str):
        text = reference.strip().lstrip("#")
        number = int(text) if text.isdigit() else titles.get(reference.strip().lower())
    return number if number is not None and 1 <= number <= count else None


# --- what the model is asked -------------------------------------------------------------------

SUGGEST_SYSTEM = """\
You review a plan: a markdown design document for work on the project {project}. Your tools read \
the project's code on its default branch ({branch}), read-only, and its tickets; use them so that \
what you suggest fits the real code (name the files, functions and tickets involved).

Suggest what would make the plan better before it is split into tickets: missing steps or \
considerations, structure, technical detail, risks, what is out of scope. Leave what is fine \
alone, don't repeat earlier suggestions the author ignored, and suggest at most 8 changes.

Answer with only a JSON list in a ```json block, one object per suggestion:
- "passage": the exact text of the plan the suggestion replaces, copied verbatim (a line or a \
paragraph), or "" to add the text at the end;
- "text": the new markdown text;
- "why": one sentence.
An empty list means the plan needs nothing."""

READINESS_SYSTEM = """\
You judge whether a plan (a markdown design document) is detailed enough to be split into \
tickets. Be lenient: a plan with substantive content about what to build and roughly how passes. \
It is not ready only when essential information is missing, such as what the goal is or what \
has to change.

Answer with the report_readiness tool: "ready" (true or false), "explanation" (one or two \
sentences) and "missing" (what is missing, one short item each; empty when ready)."""

EXTRACT_SYSTEM = """\
You split a plan (a markdown design document) into tickets an AI coding agent will work on one \
at a time, in implementation order: earlier tickets first, each small enough for one focused \
change and useful on its own.

Answer with the propose_drafts tool: "tickets", one object per ticket, in order (the first is \
ticket 1):
- "title": short, imperative;
- "description": self-contained markdown: what to do, where, and how to check it is done;
- "kind": one of bug, feature, task, chore;
- "priority": one of urgent, high, medium, low;
- "depends_on": the numbers of earlier tickets this one needs (may be empty)."""

TITLE_PROMPT = (
    "Give a short title (at most 8 words, no quotes, no full stop) for this plan, with the"
    " give_title tool:\n\n{body}"
)
PLAN_PROMPT_MAX_CHARS = 60_000


def plan_document(title: str, body: str) -> str:
    """The plan as the model reads it (cut when it is huge)."""
    text = f"# {title}\n\n{body}" if title else body
    if len(text) > PLAN_PROMPT_MAX_CHARS:
        text = text[:PLAN_PROMPT_MAX_CHARS] + "\n… (the rest of the plan is cut)"
    return text


def suggest_prompt(title: str, body: str, changes: str, previous: tuple[Suggestion, ...]) -> str:
    """The first message of a suggestion round: the plan, what changed, what was suggested."""
    parts = [f"The plan:\n\n<plan>\n{plan_document(title, body)}\n</plan>"]
    if changes:
        parts.append(f"What changed since your last suggestions:\n\n```diff\n{changes}\n```")
    if previous:
        shown = json.dumps([s.view() for s in previous], ensure_ascii=False, indent=1)
        parts.append(f"Your last suggestions (some may be applied above):\n\n{shown}")
    parts.append("Read what you need in the code, then answer with your suggestions.")
    return "\n\n".join(parts)


def readiness_prompt(title: str, body: str) -> str:
    document = plan_document(title, body)
    return f"Is this plan ready to be split into tickets?\n\n<plan>\n{document}\n</plan>"


def extract_prompt(title: str, body: str) -> str:
    return f"Split this plan into tickets.\n\n<plan>\n{plan_document(title, body)}\n</plan>"


def read_title(tool_input: Any, text: str) -> str:
    """A title from the model's answer: its answer tool's ``title``, else the ``title`` of JSON
    in its text (fenced or bare), else its first line of prose; '' when there is none."""
    value = tool_input
    if value is None:
        try:
            value = json_in(text)
        except UnusableAnswer:
            value = None
    if isinstance(value, dict):
        title = value.get("title")
        return _one_line(title) if isinstance(title, str) else ""
    prose = next((line for line in text.splitlines() if line.strip() and not _fence(line)), "")
    return _one_line(re.sub(r"^\s*title\s*:", "", prose, flags=re.IGNORECASE))


def _fence(line: str) -> bool:
    return line.strip().startswith(("```", "~~~"))


def _one_line(text: str) -> str:
    """A title as stored: one line, no quotes, markup or full stop, at most 200 characters."""
    line = text.strip().strip("\"'`*#").strip().rstrip(".")
    return " ".join(line.split())[:TITLE_MAX_CHARS]
