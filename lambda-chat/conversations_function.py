"""Saved conversations API: list, read, rename, delete and export the caller's conversations.

API Gateway (REST, Cognito authorizer) invokes this function through Lambda **proxy**
integrations, so the event is the whole request (`httpMethod`, `resource`, `pathParameters`,
`queryStringParameters`, `body`) and the function answers status, headers and body itself.
The caller is `requestContext.authorizer.claims.sub`, which API Gateway sets from the
verified ID token (a client cannot write it); every key is built from it (conversations/keys.py).

    GET    /conversations?limit=&cursor=          the caller's conversations, newest first
    DELETE /conversations                         all of them (202 when it must go on)
    GET    /conversations/{id}?limit=&cursor=     one, with a page of its messages
    PATCH  /conversations/{id}   {"title": ...}   rename
    DELETE /conversations/{id}                    delete (202 when it must go on)
    GET    /conversations/{id}/export             Markdown

Failures become `{"message", "reason"}` JSON answers in one place (`_failure`), with
contract/error-reasons.json's reasons. Logs carry ids, counts and statuses, never titles
or message text. docs/conversations.md is the contract.
"""

import base64
import json
import logging
import re
import time
from typing import Any, Callable

from core.contract import ChatError
from core.failures import describe, is_throttling
from core.logs import log, ms_since
from conversations.deletion import Deleter
from conversations.keys import UserKeys, keys_for
from conversations.routes import Routes, json_answer
from conversations.settings import conversations_at_cold_start
from conversations.store import ConversationStore
from identity.claims import caller_from_claims

SETTINGS, CONFIG_PROBLEM = conversations_at_cold_start()
if SETTINGS is None and CONFIG_PROBLEM is None:
    CONFIG_PROBLEM = "CONVERSATIONS_TABLE must be set (the conversations table's name)"
ROUTES = Routes(ConversationStore(SETTINGS), Deleter(SETTINGS)) if SETTINGS else None
_PATH = re.compile(r"/conversations(?:/([^/]+)(/export)?)?/?")

Handler = Callable[[Routes, UserKeys, str | None, dict[str, str], Any], dict[str, Any]]
# (method, route) -> handler; route is API Gateway's resource path.
HANDLERS: dict[tuple[str, str], Handler] = {
    ("GET", "/conversations"): lambda r, k, _id, q, _b: r.list(k, q),
    ("DELETE", "/conversations"): lambda r, k, _id, _q, _b: r.delete_all(k),
    ("GET", "/conversations/{id}"): lambda r, k, cid, q, _b: r.get(k, cid or "", q),
    ("PATCH", "/conversations/{id}"): lambda r, k, cid, _q, body: r.rename(k, cid or "", body()),
    ("DELETE", "/conversations/{id}"): lambda r, k, cid, _q, _b: r.delete(k, cid or ""),
    ("GET", "/conversations/{id}/export"): lambda r, k, cid, _q, _b: r.export(k, cid or ""),
}


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    fields: dict[str, Any] = {"requestId": getattr(context, "aws_request_id", None)}
    try:
        if ROUTES is None:
            raise ChatError(500, f"the function is misconfigured: {CONFIG_PROBLEM}")
        if not isinstance(event, dict):
            raise ChatError(500, "the function is misconfigured: not an API Gateway proxy event")
        method, route, conversation_id = _route(event)
        fields.update(method=method, route=route, conversationId=conversation_id)
        claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims")
        caller = caller_from_claims(claims, admin_group="")
        fields["userId"] = caller.user_id
        handler = HANDLERS.get((method, route))
        if handler is None:
            raise ChatError(400, f"{method} {route} is not a route of this API")
        answer = handler(ROUTES, keys_for(caller), conversation_id,
                         event.get("queryStringParameters") or {}, lambda: _body(event))
        log.info("conversations answered", extra={**fields, "status": answer["statusCode"],
                                                  "elapsed_ms": ms_since(started)})
        return answer
    except Exception as error:
        return _failure(error, fields, started)


def _route(event: dict[str, Any]) -> tuple[str, str, str | None]:
    """(method, resource path, conversation id) of a proxy event; `path` when `resource` is absent."""
    method = str(event.get("httpMethod") or "").upper()
    resource = event.get("resource")
    conversation_id = (event.get("pathParameters") or {}).get("id")
    if isinstance(resource, str) and resource in {r for _, r in HANDLERS}:
        return method, resource, conversation_id
    found = _PATH.fullmatch(str(event.get("path") or ""))
    if not found:
        raise ChatError(400, f"{method} {event.get('path')} is not a route of this API")
    if found.group(1) is None:
        return method, "/conversations", None
    return method, "/conversations/{id}" + ("/export" if found.group(2) else ""), found.group(1)


def _body(event: dict[str, Any]) -> Any:
    body = event.get("body")
    try:
        if event.get("isBase64Encoded") and isinstance(body, str):
            body = base64.b64decode(body).decode()
        return json.loads(body) if isinstance(body, str) else None
    except ValueError:  # bad base64, UTF-8 or JSON
        return None


def _failure(error: Exception, fields: dict[str, Any], started: float) -> dict[str, Any]:
    """The one place a failure becomes an answer: `{"message", "reason"}` with its status."""
    if isinstance(error, ChatError):
        answer = error
    elif is_throttling(error):
        answer = ChatError(429, "the conversation store is busy, please try again shortly", "busy")
    else:
        answer = ChatError(500, "internal error")
    level = logging.WARNING if answer.status < 500 else logging.ERROR
    log.log(level, "conversations failed", exc_info=answer.status == 500 and error is not answer,
            extra={**fields, "status": answer.status, "reason": answer.reason, "error": answer.message,
                   "cause": describe(error), "elapsed_ms": ms_since(started)})
    return json_answer(answer.status, {"message": answer.message, "reason": answer.reason})
