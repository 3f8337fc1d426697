"""Discovery endpoints: conversations, their messages, and deciding the actions they propose."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from codality_server.domain.discover import CONVERSATION_TITLE_MAX, MESSAGE_MAX_BYTES
from codality_server.http.keys import SERVICES, USER

from ..responses import json_accepted, json_created, json_ok, no_content
from ..route import Route
from ..schema import Body, Query
from ..validation import parse_body, parse_query, path_int
from ..views import array_of, ref


class ConversationCreate(Body):
    title: str = Field("", max_length=CONVERSATION_TITLE_MAX)


class ConversationUpdate(Body):
    title: str = Field(min_length=1, max_length=CONVERSATION_TITLE_MAX)


class MessageCreate(Body):
    content: str = Field(min_length=1, max_length=MESSAGE_MAX_BYTES)


class MessageQuery(Query):
    wait: bool = Field(False, description="answer with the finished reply instead of at once")


class Decision(Body):
    decision: Literal["confirm", "reject"]
    edits: dict[str, Any] | None = Field(
        None, description="fields of the proposal to replace before it is carried out"
    )


def _slug(request: web.Request) -> str:
    return request.match_info["slug"]


def _id(request: web.Request) -> int:
    return path_int(request, "id")


async def list_conversations(request: web.Request) -> web.Response:
    found = await request.app[SERVICES].discover.list(_slug(request))
    return json_ok([c.view() for c in found])


async def create_conversation(request: web.Request) -> web.Response:
    body = await parse_body(request, ConversationCreate)
    made = await request.app[SERVICES].discover.create(_slug(request), request[USER], body.title)
    return json_created(made.with_messages([], streaming=False))


async def show_conversation(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].discover.show(_slug(request), _id(request)))


async def update_conversation(request: web.Request) -> web.Response:
    body = await parse_body(request, ConversationUpdate)
    renamed = await request.app[SERVICES].discover.rename(_slug(request), _id(request), body.title)
    return json_ok(renamed.view())


async def delete_conversation(request: web.Request) -> web.Response:
    await request.app[SERVICES].discover.delete(_slug(request), _id(request))
    return no_content()


async def send_message(request: web.Request) -> web.Response:
    query = parse_query(request, MessageQuery)
    body = await parse_body(request, MessageCreate)
    agent = request.app[SERVICES].discover_agent
    slug, conversation_id = _slug(request), _id(request)
    sent = await agent.send(slug, conversation_id, request[USER], body.content)
    if not query.wait:
        return json_accepted(sent.model_dump(mode="json"))
    reply = await agent.wait(conversation_id, sent.session_id, sent.reply_id)
    return json_ok(reply.view())


async def cancel_reply(request: web.Request) -> web.Response:
    cancelled = await request.app[SERVICES].discover_agent.cancel(_slug(request), _id(request))
    return json_ok(cancelled.model_dump(mode="json"))


async def decide_action(request: web.Request) -> web.Response:
    body = await parse_body(request, Decision)
    action = await request.app[SERVICES].discover.decide(
        _slug(request),
        _id(request),
        path_int(request, "action_id"),
        request[USER],
        body.decision,
        body.edits,
    )
    return json_ok(action.view())


_CONVERSATIONS = "/api/projects/{slug}/discover/conversations"
_CONVERSATION = _CONVERSATIONS + "/{id}"

ROUTES = [
    Route(
        "GET",
        _CONVERSATIONS,
        list_conversations,
        "List discovery conversations, most recently active first",
        tag="discover",
        returns=array_of("Conversation"),
    ),
    Route(
        "POST",
        _CONVERSATIONS,
        create_conversation,
        "Create a new conversation",
        body=ConversationCreate,
        tag="discover",
        status=201,
        returns=ref("ConversationWithMessages"),
    ),
    Route(
        "GET",
        _CONVERSATION,
        show_conversation,
        "Get conversation with messages (blocks, tool calls, actions)",
        tag="discover",
        returns=ref("ConversationWithMessages"),
    ),
    Route(
        "PUT",
        _CONVERSATION,
        update_conversation,
        "Update conversation title",
        body=ConversationUpdate,
        tag="discover",
        returns=ref("Conversation"),
    ),
    Route(
        "DELETE",
        _CONVERSATION,
        delete_conversation,
        "Delete conversation",
        tag="discover",
        status=204,
    ),
    Route(
        "POST",
        _CONVERSATION + "/messages",
        send_message,
        "Send a message (answers 202 with its id; the reply streams as discover:* events;"
        " ?wait=true answers with the finished reply)",
        body=MessageCreate,
        query=MessageQuery,
        tag="discover",
        status=202,
        other_statuses=(200,),
        returns=ref("MessageSent"),
        other_returns={200: ref("Message")},
    ),
    Route(
        "POST",
        _CONVERSATION + "/cancel",
        cancel_reply,
        "Cancel the reply being written (ext)",
        tag="discover",
        returns=ref("ReplyCancelled"),
    ),
    Route(
        "POST",
        _CONVERSATION + "/actions/{action_id}",
        decide_action,
        "Confirm (carry out, with optional edits) or reject a pending action",
        body=Decision,
        tag="discover",
        returns=ref("Action"),
    ),
]
