"""Streaming chat over a WebSocket: the routes of the WebSocket API, and the stream job.

API Gateway invokes this function (Lambda proxy integrations) for `$connect` (checks
the Origin), `$disconnect` (forgets the connection's answer count) and every message
(`chat`, `$default`): a `chat` frame is validated with the same code as POST /chat,
counted against MAX_ANSWERS_PER_CONNECTION, then handed to an asynchronous invocation of
this same function (`{"streamJob": {...}}`, streaming/job.py) and the route returns at
once; problems found at the route are posted to the client as `error` frames.
The contract is docs/streaming.md; settings are read at cold start (core/settings.py).
"""

import base64
import json
import logging
import os
import re
import time
from typing import Any

from streaming import job as stream_job
from core.aws_clients import aws_client
from streaming.connections import answer_counts
from core.contract import CONNECTION_LIMIT, UNAUTHORIZED, ChatError, ChatRequest, parse_request
from core.failures import StartFailed, describe, to_chat_error
from streaming.frames import ClientGone, FramePoster, PostFailed, management_client
from identity.allowance import DailyAllowance, Reservation
from identity.claims import Caller
from identity.settings import identity_at_cold_start
from identity.tickets import SUBPROTOCOL, Tickets, ticket_from_protocols
from core.logs import log
from observability.metrics import emit_outcome
from core.settings import load_at_cold_start, load_stream_settings, normalize_origin
from conversations.settings import conversations_at_cold_start
from conversations.store import ConversationStore

SETTINGS, CONFIG_PROBLEM = load_at_cold_start(load_stream_settings)
IDENTITY, IDENTITY_PROBLEM = identity_at_cold_start()
COUNTS = answer_counts(SETTINGS) if SETTINGS else None
TICKETS = Tickets(IDENTITY.tickets_table, IDENTITY.ticket_ttl) if IDENTITY and IDENTITY.tickets_table else None
ALLOWANCE = (DailyAllowance(IDENTITY.usage_table, IDENTITY.daily_answers)
             if IDENTITY and IDENTITY.usage_table else None)
CONVERSATIONS, CONVERSATIONS_PROBLEM = conversations_at_cold_start()
STORE = ConversationStore(CONVERSATIONS) if CONVERSATIONS else None  # None: conversations off
SIGNED_OUT = "your sign-in has expired; sign in again"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def lambda_client() -> Any:
    # No retry: an invoke retried after a read timeout may already have been queued, and
    # the same answer would then stream twice. A failed hand-off is an error frame the
    # user can retry.
    return aws_client("lambda", connect_timeout=2, read_timeout=5, max_attempts=1)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "streamJob" in event:
        if SETTINGS is None or CONVERSATIONS_PROBLEM:
            log.error("stream job not run: the function is misconfigured", extra={
                "requestId": getattr(context, "aws_request_id", None),
                "problem": CONFIG_PROBLEM or CONVERSATIONS_PROBLEM})
        else:
            job = event["streamJob"]
            reservation = Reservation.from_dict(job.get("reservation") if isinstance(job, dict) else None)
            refund = (lambda: ALLOWANCE.refund(reservation)) if ALLOWANCE and reservation else None
            stream_job.run(job, context, SETTINGS, refund, STORE)
        return {"statusCode": 200}
    route_context = event.get("requestContext") if isinstance(event, dict) else None
    if not isinstance(route_context, dict) or not route_context.get("connectionId"):
        log.error("not a WebSocket event", extra={"requestId": getattr(context, "aws_request_id", None)})
        return {"statusCode": 400}
    route, connection_id = route_context.get("routeKey"), str(route_context["connectionId"])
    if route == "$connect":
        return _connect(event, connection_id)
    if route == "$disconnect":
        if COUNTS is not None:
            COUNTS.forget(connection_id)
        log.info("stream disconnect", extra={"connectionId": connection_id})
        return {"statusCode": 200}
    _message(event, connection_id, context)
    return {"statusCode": 200}


def _header(event: dict[str, Any], name: str) -> str | None:
    """A request header, whatever the case of its name (single- or multi-value form)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name and isinstance(value, str):
            return value
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == name and isinstance(values, list) and values:
            return str(values[0])
    return None


def _connect(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    """Only pages of ALLOWED_ORIGINS may connect (stops cross-site WebSocket hijacking)."""
    if SETTINGS is None or CONVERSATIONS_PROBLEM:
        log.error("stream connect refused: the function is misconfigured", extra={
            "connectionId": connection_id, "problem": CONFIG_PROBLEM or CONVERSATIONS_PROBLEM})
        return {"statusCode": 500}
    origin = _header(event, "origin")
    allowed = origin is not None and normalize_origin(origin) in SETTINGS.allowed_origins
    if not allowed or IDENTITY is None or not IDENTITY.signed_in:
        if allowed and IDENTITY is None:
            log.error("stream connect refused: the function is misconfigured", extra={
                "connectionId": connection_id, "problem": IDENTITY_PROBLEM})
            return {"statusCode": 500}
        log.log(logging.INFO if allowed else logging.WARNING,
                "stream connect" if allowed else "stream connect refused",
                extra={"connectionId": connection_id, "origin": origin})
        return {"statusCode": 200 if allowed else 403}
    return _connect_signed_in(event, connection_id, origin)


def _connect_signed_in(event: dict[str, Any], connection_id: str, origin: str | None) -> dict[str, Any]:
    """The ticket (a subprotocol, never in the URL) names the caller, once; its value is never logged."""
    fields: dict[str, Any] = {"connectionId": connection_id, "origin": origin}
    if TICKETS is None or COUNTS is None:
        log.error("stream connect refused: no ticket table", extra=fields)
        return {"statusCode": 500}
    ticket = ticket_from_protocols(_header(event, "sec-websocket-protocol"))
    try:
        caller = TICKETS.consume(ticket)
        if caller is not None:
            COUNTS.remember(connection_id, caller)
    except Exception as error:
        log.error("stream connect failed", extra={**fields, "cause": describe(error)})
        return {"statusCode": 500}
    if caller is None:
        log.warning("stream connect refused: no valid ticket",
                    extra={**fields, "ticket": "malformed or missing" if ticket is None else "unknown, used or expired"})
        return {"statusCode": 401}
    log.info("stream connect", extra={**fields, "userId": caller.user_id})
    # The browser offered "falcon-chat" with the ticket and requires one offer back.
    return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": SUBPROTOCOL}}


def _message(event: dict[str, Any], connection_id: str, context: Any) -> None:
    request_id = getattr(context, "aws_request_id", None)
    endpoint = SETTINGS.connections_endpoint if SETTINGS else os.environ.get("CONNECTIONS_ENDPOINT", "")
    poster = FramePoster(endpoint, connection_id, None, request_id)
    fields: dict[str, Any] = {"requestId": request_id, "connectionId": connection_id}
    try:
        frame = _read_frame(event)
        poster.answer_id = fields["id"] = _readable_id(frame.get("id"))
        if SETTINGS is None or COUNTS is None or CONVERSATIONS_PROBLEM:
            raise ChatError(500, f"the function is misconfigured: {CONFIG_PROBLEM or CONVERSATIONS_PROBLEM}")
        if frame.get("action") != "chat":
            raise ChatError(400, 'action must be "chat"')
        if poster.answer_id is None:
            raise ChatError(400, "id must be 1 to 64 letters, digits, _ or -")
        request = parse_request(frame, SETTINGS.chat, saved=STORE is not None)  # as POST /chat
        caller = _signed_in_caller(connection_id, poster, fields)
        try:
            count = COUNTS.count_answer(connection_id, SETTINGS.max_answers)
        except Exception as error:
            raise StartFailed("count", error) from error
        if count is None:
            raise ChatError(429, f"too many answers on this connection (at most {SETTINGS.max_answers})",
                            CONNECTION_LIMIT)
        reservation = ALLOWANCE.reserve(caller) if caller is not None and ALLOWANCE is not None else None
        try:
            _start_job(context, connection_id, poster.answer_id, request, reservation, caller)
        except Exception:
            if reservation is not None and ALLOWANCE is not None:
                ALLOWANCE.refund(reservation)
            raise
        log.info("stream accepted", extra={**fields, "answers": count, "text_chars": len(request.text),
                                           "history_turns": len(request.history)})
    except SignedOut:
        log.warning("stream refused: sign-in expired", extra={**fields, "status": 401})
        try:
            poster.error(ChatError(401, SIGNED_OUT, UNAUTHORIZED))
        except (ClientGone, PostFailed):
            log.warning("error frame not delivered", extra=fields)
        _close(endpoint, connection_id, fields)
    except Exception as error:
        chat_error = to_chat_error(error)
        level = logging.WARNING if chat_error.status in (400, 429) else logging.ERROR
        log.log(level, "stream rejected", exc_info=chat_error.status == 500 and error is not chat_error,
                extra={**fields, "status": chat_error.status, "reason": chat_error.reason, "error": chat_error.message,
                       "cause": describe(error)})
        emit_outcome(chat_error.status, function_name=getattr(context, "function_name", None),
                     reason=chat_error.reason)
        if not endpoint:
            return
        try:
            poster.error(chat_error)
        except (ClientGone, PostFailed):
            log.warning("error frame not delivered", extra=fields)


class SignedOut(Exception):
    """The connection's sign-in has expired (or was never known): 401, then the socket closes."""


def _signed_in_caller(connection_id: str, poster: FramePoster, fields: dict[str, Any]) -> Caller | None:
    if IDENTITY is None or not IDENTITY.signed_in or COUNTS is None:
        return None
    try:
        caller = COUNTS.caller(connection_id)
    except Exception as error:
        raise StartFailed("caller", error) from error
    if caller is not None:
        fields["userId"] = caller.user_id
    if caller is None or (caller.token_expires_at is not None and caller.token_expires_at <= time.time()):
        raise SignedOut()
    return caller


def _close(endpoint: str, connection_id: str, fields: dict[str, Any]) -> None:
    """Closes the connection (DELETE @connections): the page reconnects with a fresh ticket."""
    try:
        management_client(endpoint).delete_connection(ConnectionId=connection_id)
    except Exception as error:
        log.warning("connection not closed", extra={**fields, "cause": describe(error)})


def _read_frame(event: dict[str, Any]) -> dict[str, Any]:
    body = event.get("body")
    try:
        if event.get("isBase64Encoded") and isinstance(body, str):
            body = base64.b64decode(body).decode()
        frame = json.loads(body) if isinstance(body, str) else None
    except ValueError:  # bad base64, UTF-8 or JSON
        frame = None
    if not isinstance(frame, dict):
        raise ChatError(400, "the message must be a JSON object")
    return frame


def _readable_id(value: Any) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _start_job(context: Any, connection_id: str, answer_id: str, request: ChatRequest,
               reservation: Reservation | None = None, caller: Caller | None = None) -> None:
    job: dict[str, Any] = {"streamJob": {
        "connectionId": connection_id, "id": answer_id, "text": request.text,
        "history": [{"role": t.role, "content": t.content} for t in request.history],
        "acceptedAt": int(time.time() * 1000)}}
    if reservation is not None:
        job["streamJob"]["reservation"] = reservation.as_dict()
    if STORE is not None and caller is not None:
        # The job saves the answer in the caller's conversation: it carries whose it is (the
        # connection's verified caller, never the frame) and which one.
        job["streamJob"].update(caller={"user_id": caller.user_id}, conversationId=request.conversation_id,
                                retry=request.retry)
    try:
        lambda_client().invoke(FunctionName=context.invoked_function_arn, InvocationType="Event",
                               Payload=json.dumps(job, ensure_ascii=False).encode())
    except Exception as error:
        raise StartFailed("invoke", error) from error
