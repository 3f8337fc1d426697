"""JSON Schemas of what the routes answer, for the OpenAPI document (``Route.returns``).

Most come from pydantic models: the domain's shapes (``TicketView``, which ``Ticket.view()``
builds and the ticket events carry; the sessions, plans and queues of the event catalogue) and the
answer models below. Shapes refuse unknown fields, so their schemas do too
(``additionalProperties: false``); ``Answer`` models let views grow. The rest are still written
by hand. ``tests/server/test_answers_match_openapi.py`` validates real answers against the
document, and the schemathesis run (``tests/server/test_schemathesis.py``) checks it too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from codality_server.domain.discover import (
    ActionView,
    ConversationView,
    ConversationWithMessages,
    MessageSent,
    MessageView,
    ReplyCancelled,
    ToolCallView,
)
from codality_server.domain.github import (
    GithubStatus,
    PullRequestCommentView,
    PullRequestMerged,
    PullRequestStatusView,
    PullRequestView,
    WebhookDelivery,
)
from codality_server.domain.plans import PlanDraftView, PlanView, ReadinessView, SuggestionView
from codality_server.domain.projects import ProjectView
from codality_server.domain.pushes import PushView
from codality_server.domain.queues import QueueView
from codality_server.domain.reviews import ReviewView
from codality_server.domain.sessions import AgentStatus, SessionView, SessionWithTranscript
from codality_server.domain.settings import Settings
from codality_server.domain.tickets import CommentView, SearchHitView, TicketView
from codality_server.domain.users import Person, UserView

Schema = dict[str, Any]

_STR: Schema = {"type": "string"}
_BOOL: Schema = {"type": "boolean"}
_STR_OR_NULL: Schema = {"type": ["string", "null"]}


def _obj(**properties: Schema) -> Schema:
    return {"type": "object", "required": list(properties), "properties": properties}


def ref(name: str) -> Schema:
    assert name in SCHEMAS, name
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> Schema:
    return {"type": "array", "items": ref(name)}


_SETTINGS = Settings.model_json_schema(ref_template="#/components/schemas/{model}")

#: Component name → schema; ``build_openapi`` adds them all to the document.
SCHEMAS: dict[str, Schema] = {
    **_SETTINGS.pop("$defs", {}),
    "Settings": _SETTINGS,
    "Ok": {**_obj(ok={"const": True}), "properties": {"ok": {"const": True}, "message": _STR}},
    "SetupStatus": _obj(setup_required=_BOOL),
    "Health": _obj(status={"const": "ok"}, version=_STR, setup_required=_BOOL),
    "EnvEntry": _obj(
        name=_STR,
        set=_BOOL,
        secret=_BOOL,
        value=_STR_OR_NULL,
        source={"enum": ["store", "environment", None]},
    ),
    "Restarting": _obj(restarting={"const": True}),
    "OpenAPI": _obj(openapi=_STR, info={"type": "object"}, paths={"type": "object"}),
}


# --- answers described by pydantic models -------------------------------------------------------
# Shapes the event catalogue already defines (sessions, plans, queues) are reused as they are; the
# rest are the answers' own models. Every one is checked against real answers by
# ``tests/server/test_answers_match_openapi.py``.


class Answer(BaseModel):
    """An answer's shape for the document; views may grow properties (extra keys are allowed)."""


class SignedIn(Answer):
    user: UserView
    token: str


class SshKey(Answer):
    public_key: str
    fingerprint: str
    created_at: str


class FileList(Answer):
    ref: str
    commit: str
    files: list[str]


class Entry(Answer):
    name: str
    path: str
    type: str
    size: int | None


class Listing(Answer):
    ref: str
    commit: str
    path: str
    entries: list[Entry]


class Delivered(Answer):
    delivered: bool
    mode: Literal["steer", "queue"]
    session_id: int


class FileStat(Answer):
    path: str
    status: str
    binary: bool
    insertions: int
    deletions: int


class Stats(Answer):
    files_changed: int
    insertions: int
    deletions: int
    files: list[FileStat]


class NotShownFile(FileStat):
    """A file whose patch text a diff leaves out, being too large to show; its counts are right.

    ``reason``: ``file_too_large`` (this file's patch alone passes the limit on one file) or
    ``diff_too_large`` (the files before it took all a diff shows); ``message`` says it in words.
    """

    reason: Literal["file_too_large", "diff_too_large"]
    message: str


class Diff(Answer):
    base: str
    head: str
    uncommitted: bool
    diff: str
    #: Files changed whose patch text ``diff`` leaves out (too large), in path order.
    not_shown: list[NotShownFile]


class DiffStats(Stats):
    base: str
    head: str
    uncommitted: bool


class MergeDiff(Answer):
    ticket_id: int
    strategy: str
    merged_sha: str
    diff: str
    not_shown: list[NotShownFile]
    created_at: str


class MergeDiffStats(Stats):
    merged_sha: str


class MergeTicket(Answer):
    number: int
    title: str
    branch: str | None


class PushPlan(Answer):
    will_push: bool
    remote: str
    reason: str | None


class MergePlan(Answer):
    target: str
    tickets: list[MergeTicket]
    push: PushPlan


class MergeResult(Answer):
    strategy: str
    kind: str
    before: str | None
    after: str
    checkouts_updated: list[str]


class MergedStep(Answer):
    """One ticket of the stack a merge brought in, bottom first."""

    number: int
    kind: str
    after: str


class Merged(Answer):
    ticket: TicketView
    merge: MergeResult
    stats: MergeDiffStats
    push: PushView
    merged: list[MergedStep]


class ReviewFeedback(Answer):
    """What a ``changes_requested`` review did: the agent started on it, or why not."""

    started: bool
    session: SessionView | None = None
    reason: str | None = None


class ReviewSubmitted(ReviewView):
    """A review as submitted: ``changes_requested`` also says whether the agent took it up."""

    feedback: ReviewFeedback | None = None


class Pushed(Answer):
    ticket: TicketView
    push: PushView


class Discarded(Answer):
    ticket: TicketView
    kept_ref: str | None
    kept_sha: str | None
    pull_request_closed: int | None


class Extracted(Answer):
    drafts: list[PlanDraftView]
    repairs: list[str]
    plan: PlanView


class Repository(Answer):
    id: int | None
    full_name: str | None
    owner: str | None
    name: str | None
    private: bool
    default_branch: str | None
    url: str | None
    clone_url: str | None
    description: str


class ManifestStarted(Answer):
    url: str
    post_url: str
    manifest: dict[str, Any]
    state: str
    webhook_url: str


class Installed(Answer):
    installed: bool
    installation_id: int | str
    account: str | None


class Remote(Answer):
    owner: str
    repo: str
    full_name: str
    host: str
    matches_github: bool
    url: str


class WebhookAnswer(Answer):
    ok: bool
    id: int
    status: str
    zen: str | None = None


#: Components named otherwise than their model.
_NAMED: dict[str, type[BaseModel]] = {
    "PullRequest": PullRequestView,
    "PullRequestStatus": PullRequestStatusView,
    "PullRequestComment": PullRequestCommentView,
    "Conversation": ConversationView,
    "Message": MessageView,
    "Action": ActionView,
    "ToolCall": ToolCallView,
    "User": UserView,
    "Project": ProjectView,
    "Ticket": TicketView,
    "SearchHit": SearchHitView,
    "Comment": CommentView,
    "Review": ReviewView,
}
_MODELS: list[type[BaseModel]] = [
    Person,
    SessionView,
    AgentStatus,
    PlanView,
    QueueView,
    ReadinessView,
    SuggestionView,
    *Answer.__subclasses__(),
    SessionWithTranscript,
    ReviewSubmitted,
    DiffStats,
    MergeDiffStats,
    NotShownFile,
    PullRequestMerged,
    WebhookDelivery,
    GithubStatus,
    ConversationWithMessages,
    MessageSent,
    ReplyCancelled,
]


def _renamed(schema: Any, names: dict[str, str]) -> Any:
    """``schema`` with its references to a renamed model pointing at the component's name."""
    if isinstance(schema, list):
        return [_renamed(item, names) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in names:
        return {**schema, "$ref": f"#/components/schemas/{names[ref.rsplit('/', 1)[-1]]}"}
    return {key: _renamed(value, names) for key, value in schema.items()}


def _model_schemas() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {}
    named = [*_NAMED.items(), *((model.__name__, model) for model in _MODELS)]
    for component, model in named:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, found in [*schema.pop("$defs", {}).items(), (component, schema)]:
            known = schemas.get(name, SCHEMAS.get(name))
            assert known in (None, found), f"two shapes are called {name}"
            schemas[name] = found
    # A model inside another is a ``$def`` under its class name: it is the named component.
    names = {model.__name__: component for component, model in _NAMED.items()}
    return {name: _renamed(schema, names) for name, schema in schemas.items() if name not in names}


SCHEMAS.update(_model_schemas())
